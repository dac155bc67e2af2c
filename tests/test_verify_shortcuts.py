"""The verifier's shortcuts give the verdicts of the long way: the inverse's conditioning guard
(a norm bound before any SVD)."""
import importlib

import numpy as np
import pytest

from matident.evaluate import SINGULAR_COND, EvaluationError, evaluate
from matident.parse import parse_expr
from matident.shapes import infer, parse_decl

EV = importlib.import_module("matident.evaluate")


def _with_condition(n, cond, rng):
    """A random n x n matrix whose singular values run from 1 to 1 / cond (0 for cond = inf)."""
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.geomspace(1.0, 1.0 / cond, n) if np.isfinite(cond) else np.r_[np.ones(n - 1), 0.0]
    return (u * s) @ v.T


def _the_long_way(m):
    """The guard as it was: the condition number by SVD, then numpy's inverse."""
    if np.linalg.cond(m) > SINGULAR_COND:
        raise EvaluationError("inv() of a near-singular matrix")
    return np.linalg.inv(m)


def _outcome(f, m):
    try:
        with np.errstate(all="ignore"):         # as under evaluate()
            return "value", f(m).tobytes()
    except (EvaluationError, np.linalg.LinAlgError) as exc:
        return type(exc).__name__, str(exc)


CONDITIONS = [1.0, 10.0, 1e3, 1e5, 2e5, 4.9e5, 5e5, 5.1e5, 9e5, 0.999e6, 1.001e6, 1.1e6, 3e6, 6e6, 1e8, 1e15,
              np.inf]


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_the_inverse_guard_agrees_with_the_svd_on_both_sides_of_the_limit(n):
    rng = np.random.default_rng(n)
    for cond in CONDITIONS:
        for scale in (1e-3, 1.0, 1e4):
            m = scale * _with_condition(n, cond, rng)
            assert _outcome(EV._inverse, m) == _outcome(_the_long_way, m), (n, cond, scale)


def test_the_inverse_guard_refuses_what_is_not_finite_and_exactly_singular_matrices():
    for m in (np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([[np.inf, 0.0], [0.0, 1.0]]),
              np.zeros((3, 3)), np.ones((4, 4))):
        assert _outcome(EV._inverse, m) == _outcome(_the_long_way, m)
    typed = infer(parse_expr("inv(X)"), {"X": parse_decl("matrix n n")})
    with pytest.raises(EvaluationError, match="near-singular"):
        evaluate(typed.expr, {"X": np.ones((3, 3))}, {"n": 3})
