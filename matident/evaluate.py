"""Numeric evaluation of term trees with numpy.

Every value is a 2-D float array; scalars are 1x1 arrays, which numpy's
broadcasting lets act as scalars in ``*`` and ``+``.  Identity nodes carry
their dimension (after :func:`matident.shapes.infer`), resolved through
``sizes``.  This is the verifier's hot path: no SymPy, no code generation.
"""
from __future__ import annotations

import operator
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
    if not np.isfinite(out).all():
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
    """The value of ``e`` (no finiteness check): the tree's compiled form, called."""
    run = _COMPILED.get(e)
    if run is None:
        if len(_COMPILED) >= MAX_COMPILED:
            _COMPILED.clear()
        run = _COMPILED[e] = _compile(e)
    return run(values, sizes)


# Compiled trees by tree (structural: equal trees share one).  Bounded: a session that
# evaluates many different trees starts over rather than growing without limit.
_COMPILED = {}
MAX_COMPILED = 4096
_SHARED = {}        # _shared(e) by tree for along(), bounded as _COMPILED


def _compile(e):
    """A function ``(values, sizes) -> array`` computing ``e`` as :func:`_apply` does node by
    node, with each node's operation looked up once instead of at every evaluation (the
    verifier evaluates one tree some forty times per record), and each sub-tree that occurs
    more than once computed once per evaluation: equal sub-trees have equal values, and
    the operations that produce the shared value are the ones each occurrence would repeat."""
    shared = _shared(e)
    body = _build(e, shared, {})
    if not shared:
        return lambda values, sizes: body(values, sizes, None)
    slots = len(shared)
    return lambda values, sizes: body(values, sizes, [None] * slots)


def _shared(e):
    """Slot numbers for the sub-trees of ``e`` (other than symbols, numbers and identities)
    that occur more than once; inside a repeated sub-tree only its own repetition counts."""
    counts = {}

    def count(t):
        if t in counts:
            counts[t] += 1
            return
        counts[t] = 1
        if t.op not in ("expect", "block"):       # evaluated by their own traversal
            for a in t.args:
                count(a)
    count(e)
    repeated = [t for t, n in counts.items() if n > 1 and t.op not in (E.SYM, E.NUM, E.IDENT)]
    return {t: i for i, t in enumerate(repeated)}


def _build(e, shared, built):
    """The compiled closure ``(values, sizes, cache)`` of ``e``: one per distinct sub-tree, a
    repeated one keeping its value in ``cache[slot]`` for the rest of the evaluation."""
    run = built.get(e)
    if run is not None:
        return run
    run = _build_node(e, shared, built)
    slot = shared.get(e)
    if slot is not None:
        compute = run

        def run(values, sizes, cache):
            out = cache[slot]
            if out is None:
                out = cache[slot] = compute(values, sizes, cache)
            return out
    built[e] = run
    return run


def _build_node(e, shared, built):
    op = e.op
    if op == E.SYM:
        name = e.value
        return lambda values, sizes, cache: values[name]
    if op == E.NUM:
        v = e.value
        x = float(v) if not isinstance(v, Fraction) else v.numerator / v.denominator
        return lambda values, sizes, cache: np.array([[x]])
    if op == E.IDENT:
        d = e.value
        return lambda values, sizes, cache: np.eye(dim_size(d, sizes))
    if op == "expect":
        return lambda values, sizes, cache: _expectation(e, values, sizes)
    if op == "block":
        return lambda values, sizes, cache: _block(e, values, sizes)
    parts = [_build(a, shared, built) for a in e.args]
    if len(parts) == 2 and op in _BINARY:
        p, q = parts
        binary = _BINARY[op]
        return lambda values, sizes, cache: binary(p(values, sizes, cache), q(values, sizes, cache))
    if op in _BINARY:
        first, rest, binary = parts[0], parts[1:], _BINARY[op]

        def chain(values, sizes, cache):
            out = first(values, sizes, cache)
            for p in rest:
                out = binary(out, p(values, sizes, cache))
            return out
        return chain
    if len(parts) == 1 and (op == E.TRANSPOSE or op in FUNCTIONS) and op not in _CHECKED:
        p = parts[0]
        unary = _transpose if op == E.TRANSPOSE else FUNCTIONS[op].numpy
        return lambda values, sizes, cache: unary(p(values, sizes, cache))
    return lambda values, sizes, cache: _apply(op, [p(values, sizes, cache) for p in parts])


def _transpose(a):
    return a.T


# Operations of two arguments that _apply computes as one numpy operator, and those it
# checks before computing (their conditioning); everything else goes through _apply.
_BINARY = {E.MATMUL: operator.matmul, E.MUL: operator.mul, E.ADD: operator.add}
_CHECKED = ("inv", "matpow", "pinv")


def _apply(op, args):
    """The value of an operation ``op`` on its evaluated arguments ``args``."""
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
    if op == "inv":
        return _inverse(args[0])
    if op == "matpow" and args[1][0, 0] < 0 and _condition(args[0]) > SINGULAR_COND:
        raise EvaluationError(f"{op}() of a near-singular matrix")
    if op == "pinv" and _pinv_condition(args[0]) > PINV_COND:
        raise EvaluationError("pinv() of an ill-conditioned matrix (its nonzero singular values "
                              "spread too far for a reliable pseudo-inverse)")
    return FUNCTIONS[op].numpy(*args)


def along(e, values, sizes, moving):
    """``evaluate(e, {**values, **new}, sizes)`` as a function of ``new``, a dict of values for
    the symbols named in ``moving`` only (a finite difference moves one variable many times).

    The parts of ``e`` that contain none of those symbols are evaluated once, here, with
    ``values``, and a repeated part that moves is computed once per call: the same numpy
    operations on the same arrays as every call would repeat, so every result is the one
    :func:`evaluate` returns.  Raises :class:`EvaluationError` as :func:`evaluate` does.
    """
    moving = frozenset(moving)
    shared = _SHARED.get(e)
    if shared is None:          # a record's lhs moves once per trial: its repeated parts, once
        if len(_SHARED) >= MAX_COMPILED:
            _SHARED.clear()
        shared = _SHARED[e] = _shared(e)
    slots = len(shared)
    with np.errstate(all="ignore"):
        try:
            run = _specialise(e, values, sizes, moving, {}, shared, {})
        except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, ValueError) as exc:
            raise EvaluationError(str(exc)) from None

    def at(new):
        with np.errstate(all="ignore"):
            try:
                out = run(new, [None] * slots)
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, ValueError) as exc:
                raise EvaluationError(str(exc)) from None
        if not np.isfinite(out).all():
            raise EvaluationError("value is not finite (outside the domain of a function)")
        return out
    return at


def _names(e, memo):
    """The symbol names in ``e`` (memoised by node identity for one :func:`along`)."""
    key = id(e)
    if key not in memo:
        memo[key] = (frozenset((e.value,)) if e.op == E.SYM
                     else frozenset().union(*(_names(a, memo) for a in e.args)))
    return memo[key]


def _specialise(e, values, sizes, moving, memo, shared, built):
    """A function ``(new, cache)`` computing ``e``; see :func:`along` (``shared`` and
    ``built`` as in :func:`_build`)."""
    run = built.get(e)
    if run is not None:
        return run
    if not _names(e, memo) & moving:
        fixed = _eval(e, values, sizes)
        run = built[e] = lambda new, cache: fixed
        return run
    run = _specialise_node(e, values, sizes, moving, memo, shared, built)
    slot = shared.get(e)
    if slot is not None:
        compute = run

        def run(new, cache):
            out = cache[slot]
            if out is None:
                out = cache[slot] = compute(new, cache)
            return out
    built[e] = run
    return run


def _specialise_node(e, values, sizes, moving, memo, shared, built):
    op = e.op
    if op == E.SYM:
        name = e.value
        return lambda new, cache: new[name]
    if op in ("expect", "block"):       # their own traversal: evaluated whole at each call
        return lambda new, cache: _eval(e, {**values, **new}, sizes)
    parts = [_specialise(a, values, sizes, moving, memo, shared, built) for a in e.args]
    if len(parts) == 2 and op in _BINARY:
        p, q = parts
        binary = _BINARY[op]
        return lambda new, cache: binary(p(new, cache), q(new, cache))
    if op in _BINARY:
        first, rest, binary = parts[0], parts[1:], _BINARY[op]

        def chain(new, cache):
            out = first(new, cache)
            for p in rest:
                out = binary(out, p(new, cache))
            return out
        return chain
    if len(parts) == 1 and (op == E.TRANSPOSE or op in FUNCTIONS) and op not in _CHECKED:
        p = parts[0]
        unary = _transpose if op == E.TRANSPOSE else FUNCTIONS[op].numpy
        return lambda new, cache: unary(p(new, cache))
    return lambda new, cache: _apply(op, [p(new, cache) for p in parts])


def _inverse(m):
    """``np.linalg.inv(m)``, or EvaluationError if the condition number of m exceeds SINGULAR_COND.

    The condition number (2-norm) is at most ``|m|_F |inv(m)|_F``: when that product is below
    half the limit (rounding moves either by far less than a factor 2 at such condition numbers),
    m is clearly fine and no SVD is needed.  Otherwise (near the limit, singular, not finite)
    the SVD decides, as it did for every inverse (the same verdicts; about 0.6 % of the inverses
    of a catalogue run get here, and the others cost under half as much).
    """
    try:
        out = np.linalg.inv(m)
    except np.linalg.LinAlgError:
        out = None
    if out is not None and _frobenius(m) * _frobenius(out) <= SINGULAR_COND / 2:    # NaN: no
        return out
    if _condition(m) > SINGULAR_COND:
        raise EvaluationError("inv() of a near-singular matrix")
    return np.linalg.inv(m) if out is None else out


def _frobenius(m):
    v = m.ravel()
    return np.sqrt(v.dot(v))


def _condition(m):
    """np.linalg.cond(m) (2-norm) by the same operations, without its argument handling: a NaN
    ratio is inf unless m itself has a NaN (called under evaluate's np.errstate)."""
    s = np.linalg.svd(m, compute_uv=False)
    r = s[0] / s[-1]
    if r != r and not np.isnan(m).any():
        return np.inf
    return r


def _pinv_condition(m):
    """The ratio of the largest to the smallest singular value pinv does not treat as 0."""
    s = np.linalg.svd(m, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 1.0
    kept = s[s > pinv_cutoff(m) * s[0]]
    return float(kept[0] / kept[-1])
