"""Expectations over Gaussians, ``expect(f, x, m, S)`` = E[f(x)] for x ~ N(m, S).

The integrand ``f`` must be a polynomial of degree at most 5 in the bound vector
``x`` (quadratic, cubic and quartic forms, products of linear forms, ...).  Such an
expectation is computed *exactly* (up to rounding) by a cubature rule for the
standard Gaussian of degree 5 (Stroud's rule 5-2 for the Gaussian weight): with
``x = m + L z``, ``L L^T = S``,

    E[f(x)] = w0 f(m) + w1 sum_i f(m +- r L e_i) + w2 sum_{i<j} f(m + s L (+-e_i +- e_j))

with r = sqrt(n + 2), s = sqrt((n + 2) / 2), w0 = 2 / (n + 2),
w1 = (4 - n) / (2 (n + 2)^2), w2 = 1 / (n + 2)^2: 2 n^2 + 1 evaluations of ``f``,
exact for every polynomial of degree <= 5 in z.  The rule is independent of the
closed-form moments the records state, so a wrong moment formula fails.  The
degree is read from the tree (:func:`degree`); a non-polynomial integrand is refused
when the expression is checked, never approximated.  ``S`` may be singular (psd):
``L`` is its symmetric square root.
"""
from __future__ import annotations

import functools

import numpy as np

from . import expr as E

MAX_DEGREE = 5
#: functions whose value is a polynomial of the same degree in their (first) argument
_LINEAR = frozenset({"tr", "sum", "vec", "diagvec", "diag", "unvec", "block", "blockrow"})


def degree(e, x):
    """The polynomial degree of ``e`` in the symbol ``x`` (None if not a polynomial)."""
    op = e.op
    if op == E.SYM:
        return 1 if e.value == x else 0
    if op in (E.NUM, E.IDENT):
        return 0
    if not e.has(x):
        return 0
    kids = [degree(a, x) for a in e.args]
    if op in (E.MATMUL, E.MUL, "kron"):
        return None if None in kids else sum(kids)
    if op == E.ADD or op in _LINEAR or op == E.TRANSPOSE:
        return None if None in kids else max(kids)
    if op == E.POW:
        base, exp = e.args
        if kids[0] is not None and kids[1] == 0 and exp.op == E.NUM and exp.value == int(exp.value) \
                and exp.value >= 0:
            return kids[0] * int(exp.value)
        return None
    if op == "matpow":
        base, exp = e.args
        if kids[0] is not None and kids[1] == 0 and exp.op == E.NUM and exp.value == int(exp.value) \
                and exp.value >= 0:
            return kids[0] * int(exp.value)
        return None
    if op == "hpow":
        return degree(E.Expr(E.POW, e.args), x)
    return None


@functools.lru_cache(maxsize=None)
def _rule(n):
    """(points z as rows, weights) of the degree-5 rule for N(0, I_n)."""
    points, weights = [np.zeros(n)], [2.0 / (n + 2)]
    r, s = np.sqrt(n + 2.0), np.sqrt((n + 2.0) / 2)
    for i in range(n):
        for sign in (1.0, -1.0):
            p = np.zeros(n)
            p[i] = sign * r
            points.append(p)
            weights.append((4.0 - n) / (2 * (n + 2) ** 2))
    for i in range(n):
        for j in range(i + 1, n):
            for a in (1.0, -1.0):
                for b in (1.0, -1.0):
                    p = np.zeros(n)
                    p[i], p[j] = a * s, b * s
                    points.append(p)
                    weights.append(1.0 / (n + 2) ** 2)
    return np.array(points), np.array(weights)


class CovarianceError(ArithmeticError):
    """The covariance of an expectation is not symmetric positive semidefinite."""


def expectation(f, x, mean, cov, evaluate_at):
    """E[f(x)] for x ~ N(mean, cov); ``evaluate_at(value of x)`` evaluates ``f``."""
    scale = max(1.0, float(np.abs(cov).max()))
    if np.abs(cov - cov.T).max() > 1e-10 * scale:
        raise CovarianceError("the covariance of expect() is not symmetric")
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    if w.min() < -1e-10 * scale:
        raise CovarianceError("the covariance of expect() is not positive semidefinite")
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    points, weights = _rule(mean.shape[0])
    total = None
    for z, weight in zip(points, weights):
        value = weight * evaluate_at(mean + root @ z.reshape(-1, 1))
        total = value if total is None else total + value
    return total
