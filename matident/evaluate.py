"""Numeric evaluation of term trees with numpy.

Every value is a 2-D float array; scalars are 1x1 arrays, which numpy's
broadcasting lets act as scalars in ``*`` and ``+``.  Identity nodes carry
their dimension (after :func:`matident.shapes.infer`), resolved through
``sizes``.  This is the verifier's hot path: no SymPy, no code generation.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import expr as E
from .expectation import CovarianceError, expectation
from .functions import FUNCTIONS, pinv_cutoff
from .shapes import dim_size


# An inverse of a matrix with a larger condition number is treated as singular:
# its rounding errors (about cond * 1e-16) would reach the identity tolerance.
SINGULAR_COND = 1e6
# A pseudo-inverse's rounding errors grow as the square of the condition number of its
# nonzero singular values (about cond^2 * 1e-16): above this it is treated as unreliable.
# Singular values below numpy's rank tolerance are zero, so rank-deficient matrices
# drawn on purpose are still pseudo-inverted.
PINV_COND = 1e3


class EvaluationError(ArithmeticError):
    """A value outside a function's domain (log of a negative, singular inverse…)."""


def evaluate(e, values, sizes):
    """Evaluate tree ``e`` with symbol ``values`` (name -> 2-D array) and ``sizes``.

    Raises :class:`EvaluationError` when the result is not finite (the
    verifier then redraws the instance).
    """
    with np.errstate(all="ignore"):
        try:
            out = _eval(e, values, sizes)
        except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, ValueError) as exc:
            raise EvaluationError(str(exc)) from None
    if not np.all(np.isfinite(out)):
        raise EvaluationError("value is not finite (outside the domain of a function)")
    return out


def _expectation(e, values, sizes):
    """expect(f, x, m, S): f evaluated at the cubature points of N(m, S) (see matident.expectation)."""
    f, x, mean, cov = e.args
    name = x.value

    def at(point):
        return _eval(f, {**values, name: point}, sizes)

    try:
        return expectation(f, name, _eval(mean, values, sizes), _eval(cov, values, sizes), at)
    except CovarianceError as exc:
        raise EvaluationError(str(exc)) from None


def _block(e, values, sizes):
    """np.block of the evaluated blocks; a block written 0 is zeros of its row's height and
    its column's width (read from the other blocks)."""
    cells = [[None if c.op == E.NUM and c.value == 0 else _eval(c, values, sizes) for c in row.args]
             for row in e.args]
    heights = [next(c.shape[0] for c in row if c is not None) for row in cells]
    widths = [next(row[j].shape[1] for row in cells if row[j] is not None) for j in range(len(cells[0]))]
    return np.block([[np.zeros((h, w)) if c is None else c for c, w in zip(row, widths)]
                     for row, h in zip(cells, heights)])


def _eval(e, values, sizes):
    op = e.op
    if op == E.SYM:
        return values[e.value]
    if op == E.NUM:
        v = e.value
        return np.array([[float(v) if not isinstance(v, Fraction) else v.numerator / v.denominator]])
    if op == E.IDENT:
        return np.eye(dim_size(e.value, sizes))
    if op == "expect":
        return _expectation(e, values, sizes)
    if op == "block":
        return _block(e, values, sizes)
    args = [_eval(a, values, sizes) for a in e.args]
    if op == E.MATMUL:
        out = args[0]
        for a in args[1:]:
            out = out @ a
        return out
    if op == E.MUL:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if op == E.ADD:
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if op == E.POW:
        base, exp = args[0][0, 0], args[1][0, 0]
        if base < 0 and exp != np.round(exp):
            return np.array([[np.nan]])
        if base == 0 and exp < 0:
            return np.array([[np.nan]])
        return np.array([[base ** exp]])
    if op == E.TRANSPOSE:
        return args[0].T
    if (op == "inv" or (op == "matpow" and args[1][0, 0] < 0)) and \
            np.linalg.cond(args[0]) > SINGULAR_COND:
        raise EvaluationError(f"{op}() of a near-singular matrix")
    if op == "pinv" and _pinv_condition(args[0]) > PINV_COND:
        raise EvaluationError("pinv() of an ill-conditioned matrix (its nonzero singular values "
                              "spread too far for a reliable pseudo-inverse)")
    return FUNCTIONS[op].numpy(*args)


def _pinv_condition(m):
    """The ratio of the largest to the smallest singular value pinv does not treat as 0."""
    s = np.linalg.svd(m, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 1.0
    kept = s[s > pinv_cutoff(m) * s[0]]
    return float(kept[0] / kept[-1])
