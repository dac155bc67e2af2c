"""Random well-typed expressions written as numpy users write them, each with its own numpy function.

The generator builds the text in matident's language and, beside it, a plain
numpy closure computing the same value, so that a derivative can be judged by
finite differences of a path that shares nothing with matident (no parser, no
shape inference, no evaluator).  Used by ``tests/test_derive_random.py`` (a
few hundred cases in CI) and ``benchmarks/derive_random.py`` (thousands).

Shapes: ``s`` a scalar, ``v`` a column of length n, ``M`` an n x n matrix.
The variable is ``x`` (a vector) or ``X`` (a matrix); the constants are
``A, C`` (n x n), ``a, b, y`` (vectors) and the scalar ``c``.  Only forms
defined everywhere are produced (logs of positive expressions, denominators
bounded away from zero), so every random instance is in the domain.
"""
from __future__ import annotations

import re

import numpy as np

SYMBOLS = {"A": "matrix n n", "C": "matrix n n", "a": "vector n", "b": "vector n",
           "y": "vector n", "c": "scalar"}


class Gen:
    """A random expression generator over one variable (``"x"`` or ``"X"``)."""

    def __init__(self, rng, wrt, depth=3):
        self.rng = rng
        self.wrt = wrt
        self.depth = depth

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    # each production returns (text, fn) with fn(env) -> 2-D array
    def scalar(self, d):
        if d <= 0:
            return self.pick([
                lambda: ("c", lambda e: e["c"]),
                lambda: self._reduce_vector(0),
                lambda: self._reduce_matrix(0),
            ])()
        r = self.pick([
            lambda: self._reduce_vector(d - 1),
            lambda: self._reduce_matrix(d - 1),
            lambda: self._scalar_binary(d - 1),
            lambda: self._scalar_unary(d - 1),
        ])
        return r()

    def _reduce_vector(self, d):
        (t, f) = self.vector(d)
        return self.pick([
            lambda: (f"a.T @ ({t})", lambda e: e["a"].T @ f(e)),
            lambda: (f"sum({t})", lambda e: np.sum(f(e), keepdims=True)),
            lambda: (f"norm({t})", lambda e: np.array([[np.linalg.norm(f(e))]])),
            lambda: (f"({t}).T @ A @ ({t})", lambda e: f(e).T @ e["A"] @ f(e)),
            lambda: (f"log(sum(exp({t})))", lambda e: np.log(np.sum(np.exp(f(e)), keepdims=True))),
            lambda: (f"y.T @ ({t})", lambda e: e["y"].T @ f(e)),
        ])()

    def _reduce_matrix(self, d):
        (t, f) = self.matrix(d)
        return self.pick([
            lambda: (f"tr({t})", lambda e: np.array([[np.trace(f(e))]])),
            lambda: (f"sum({t})", lambda e: np.sum(f(e), keepdims=True)),
            lambda: (f"norm({t})", lambda e: np.array([[np.linalg.norm(f(e))]])),
            lambda: (f"a.T @ ({t}) @ b", lambda e: e["a"].T @ f(e) @ e["b"]),
            lambda: (f"logdet(({t}).T @ ({t}) + I)",
                     lambda e: np.array([[np.linalg.slogdet(f(e).T @ f(e) + np.eye(len(f(e))))[1]]])),
            lambda: (f"tr(A @ ({t}))", lambda e: np.array([[np.trace(e["A"] @ f(e))]])),
        ])()

    def _scalar_binary(self, d):
        (t, f), (u, g) = self.scalar(d), self.scalar(d)
        return self.pick([
            lambda: (f"({t}) + ({u})", lambda e: f(e) + g(e)),
            lambda: (f"({t}) - ({u})", lambda e: f(e) - g(e)),
            lambda: (f"({t}) * ({u})", lambda e: f(e) * g(e)),
            lambda: (f"({t}) / (1 + ({u}) ** 2)", lambda e: f(e) / (1 + g(e) ** 2)),
        ])()

    def _scalar_unary(self, d):
        (t, f) = self.scalar(d)
        return self.pick([
            lambda: (f"log(1 + exp({t}))", lambda e: np.log1p(np.exp(f(e)))),
            lambda: (f"({t}) ** 2", lambda e: f(e) ** 2),
            lambda: (f"sqrt(1 + ({t}) ** 2)", lambda e: np.sqrt(1 + f(e) ** 2)),
            lambda: (f"tanh({t})", lambda e: np.tanh(f(e))),
            lambda: (f"-({t})", lambda e: -f(e)),
            lambda: (f"2 * ({t})", lambda e: 2 * f(e)),
        ])()

    def vector(self, d):
        leaves = [lambda: ("a", lambda e: e["a"]), lambda: ("b", lambda e: e["b"])]
        if self.wrt == "x":
            leaves += [lambda: ("x", lambda e: e["x"])] * 3
        else:
            leaves += [lambda: ("X @ a", lambda e: e["X"] @ e["a"]),
                       lambda: ("X.T @ b", lambda e: e["X"].T @ e["b"])]
        if d <= 0:
            return self.pick(leaves)()
        return self.pick([
            lambda: self.pick(leaves)(),
            lambda: self._vector_binary(d - 1),
            lambda: self._vector_unary(d - 1),
            lambda: self._vector_scaled(d - 1),
        ])()

    def _vector_binary(self, d):
        (t, f), (u, g) = self.vector(d), self.vector(d)
        return self.pick([
            lambda: (f"({t}) + ({u})", lambda e: f(e) + g(e)),
            lambda: (f"({t}) - ({u})", lambda e: f(e) - g(e)),
            lambda: (f"({t}) * ({u})", lambda e: f(e) * g(e)),
            lambda: (f"({t}) / (1 + ({u}) ** 2)", lambda e: f(e) / (1 + g(e) ** 2)),
        ])()

    def _vector_unary(self, d):
        (t, f) = self.vector(d)
        return self.pick([
            lambda: (f"A @ ({t})", lambda e: e["A"] @ f(e)),
            lambda: (f"exp({t}) / sum(exp({t}))", lambda e: np.exp(f(e)) / np.sum(np.exp(f(e)))),
            lambda: (f"sigmoid({t})", lambda e: 1 / (1 + np.exp(-f(e)))),
            lambda: (f"tanh({t})", lambda e: np.tanh(f(e))),
            lambda: (f"({t}) ** 2", lambda e: f(e) ** 2),
            lambda: (f"1 + ({t})", lambda e: 1 + f(e)),
            lambda: (f"c - ({t})", lambda e: e["c"] - f(e)),
            lambda: (f"log(1 + exp({t}))", lambda e: np.log1p(np.exp(f(e)))),
            lambda: (f"({t}) - log(sum(exp({t})))", lambda e: f(e) - np.log(np.sum(np.exp(f(e))))),
        ])()

    def _vector_scaled(self, d):
        (t, f), (u, g) = self.vector(d), self.scalar(d)
        return self.pick([
            lambda: (f"({u}) * ({t})", lambda e: g(e) * f(e)),
            lambda: (f"({t}) / (1 + ({u}) ** 2)", lambda e: f(e) / (1 + g(e) ** 2)),
            lambda: (f"({t}) * ({u})", lambda e: f(e) * g(e)),
            lambda: (f"({t}) / sum(exp({t}))", lambda e: f(e) / np.sum(np.exp(f(e)))),
        ])()

    def matrix(self, d):
        leaves = [lambda: ("A", lambda e: e["A"]), lambda: ("C", lambda e: e["C"])]
        if self.wrt == "X":
            leaves += [lambda: ("X", lambda e: e["X"])] * 3
        else:
            leaves += [lambda: ("x @ a.T", lambda e: e["x"] @ e["a"].T),
                       lambda: ("x @ x.T", lambda e: e["x"] @ e["x"].T)]
        if d <= 0:
            return self.pick(leaves)()
        (t, f) = self.matrix(d - 1)
        return self.pick([
            lambda: self.pick(leaves)(),
            lambda: (f"A @ ({t})", lambda e: e["A"] @ f(e)),
            lambda: (f"({t}) @ C", lambda e: f(e) @ e["C"]),
            lambda: (f"({t}).T", lambda e: f(e).T),
            lambda: (f"({t}) * ({t})", lambda e: f(e) * f(e)),
            lambda: (f"({t}) ** 2", lambda e: f(e) ** 2),
            lambda: (f"tanh({t})", lambda e: np.tanh(f(e))),
            lambda: (f"1 + ({t})", lambda e: 1 + f(e)),
            lambda: (lambda s: (f"({s[0]}) * ({t})", lambda e: s[1](e) * f(e)))(self.scalar(d - 1)),
            lambda: (f"({t}) + ({t}).T", lambda e: f(e) + f(e).T),
        ])()


def draw_env(rng, n, wrt):
    """Random values for every symbol, vectors as (n, 1) columns."""
    env = {name: rng.standard_normal((n, n)) for name in ("A", "C")}
    env.update({name: rng.standard_normal((n, 1)) for name in ("a", "b", "y")})
    env["c"] = rng.standard_normal((1, 1))
    env[wrt] = rng.standard_normal((n, 1) if wrt == "x" else (n, n))
    return env


def random_case(seed, depth=3):
    """(text, wrt, numpy function) for one seed: a scalar expression of x or X."""
    rng = np.random.default_rng(seed)
    wrt = "x" if rng.random() < 0.6 else "X"
    while True:                          # redrawn until the variable occurs
        text, fn = Gen(rng, wrt, depth).scalar(depth)
        if re.search(rf"\b{wrt}\b", text):
            return text, wrt, fn


def fd_gradient_error(fn, grad, env, wrt, rng):
    """Relative error of ``<grad, V>`` against central differences of fn along random V.

    Fourth-order differences at steps h and h/2 must agree (else h is halved,
    up to ten times): near a steep part of fn a fixed step would blame a right
    gradient.  Returns None when they never settle (the instance says nothing).
    """
    x0 = env[wrt]
    worst = 0.0
    for _ in range(2):
        v = rng.standard_normal(x0.shape)
        v /= np.linalg.norm(v)

        def f(t):
            return float(fn({**env, wrt: x0 + t * v})[0, 0])

        def central(h):
            return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h)
        pred = float(np.sum(grad * v))
        floor = 1e-6 * max(1.0, abs(f(0.0)))
        h = 1e-3 * max(1.0, float(np.linalg.norm(x0)))
        coarse = central(h)
        for _ in range(10):
            fine = central(h / 2)
            if abs(coarse - fine) <= 1e-8 * max(abs(fine), floor):
                break
            h, coarse = h / 2, fine
        else:
            return None
        worst = max(worst, abs(fine - pred) / max(abs(fine), abs(pred), floor))
    return worst
