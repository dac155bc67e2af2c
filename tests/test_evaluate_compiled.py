"""The verifier's evaluation shortcuts give the values of a plain walk of the tree, bit for bit.

``evaluate`` runs each tree compiled into closures, and ``along`` evaluates the parts of a tree
that a finite difference does not move only once.  Both are judged here against a reference
written independently: a recursive walk that applies each node's numpy function to its
children's values, on every side of every record of the catalogue, at a drawn instance.
"""
from fractions import Fraction

import numpy as np
import pytest

from matident import expr as E
from matident.catalogue import catalogue
from matident.evaluate import EvaluationError, along, evaluate
from matident.functions import FUNCTIONS
from matident.shapes import dim_size
from matident.verify import draw_sizes, draw_value

RECORDS = list(catalogue())


def reference(e, values, sizes):
    """A plain recursive walk (no compilation, no shortcuts)."""
    op = e.op
    if op == E.SYM:
        return values[e.value]
    if op == E.NUM:
        return np.array([[float(e.value)]]) if not isinstance(e.value, Fraction) else \
            np.array([[e.value.numerator / e.value.denominator]])
    if op == E.IDENT:
        return np.eye(dim_size(e.value, sizes))
    if op in ("expect", "block"):
        return None                     # their own traversal: not compared here
    args = [reference(a, values, sizes) for a in e.args]
    if any(a is None for a in args):
        return None
    if op == E.MATMUL:
        out = args[0]
        for a in args[1:]:
            out = np.matmul(out, a)
        return out
    if op in (E.MUL, E.ADD):
        out = args[0]
        for a in args[1:]:
            out = np.multiply(out, a) if op == E.MUL else np.add(out, a)
        return out
    if op == E.POW:
        return np.array([[args[0][0, 0] ** args[1][0, 0]]])
    if op == E.TRANSPOSE:
        return np.transpose(args[0])
    return FUNCTIONS[op].numpy(*args)


def _instance(record, seed=0):
    rng = np.random.default_rng(seed)
    sizes = draw_sizes(record.symbols, rng)
    values = {n: draw_value(d, sizes, rng) for n, d in record.symbols.items()}
    for name, decl in record.symbols.items():          # differentials: dX has X's shape
        values.setdefault("d" + name, rng.standard_normal(values[name].shape))
    return values, sizes


def _sides(record):
    return [record.lhs_expr, record.rhs_expr]


def test_compiled_evaluation_and_along_match_a_plain_walk():
    compared = sum(_compare(record) for record in RECORDS)
    assert compared > 0.9 * 2 * len(RECORDS)     # nearly every side was compared


def _compare(record):
    """Compare evaluate and along with the reference on the sides of ``record``; how many."""
    try:
        values, sizes = _instance(record)
    except EvaluationError:
        return 0
    compared = 0
    with np.errstate(all="ignore"):
        for side in _sides(record):
            try:
                want = reference(side, values, sizes)
            except (np.linalg.LinAlgError, ValueError, KeyError):
                continue
            if want is None or not np.isfinite(want).all():
                continue
            try:
                got = evaluate(side, values, sizes)
            except EvaluationError:
                continue            # a conditioning check refused this instance (the walk has none)
            assert np.array_equal(got, want)
            for wrt in sorted(record.symbols):
                if record.symbols[wrt].kind == "scalar" and "integer" in record.symbols[wrt].structure:
                    continue
                moved = values[wrt] + 1e-3 * np.ones_like(values[wrt])
                new_values = {**values, wrt: moved}
                try:
                    want_moved = reference(side, new_values, sizes)
                except (np.linalg.LinAlgError, ValueError):
                    continue
                if not np.isfinite(want_moved).all():
                    continue
                try:
                    got = along(side, values, sizes, (wrt,))({wrt: moved})
                except EvaluationError:
                    continue            # a conditioning check refused the moved value
                assert np.array_equal(got, want_moved), (wrt, side)
            compared += 1
    return compared


def test_along_moves_only_the_named_symbols():
    from matident.parse import parse_expr
    from matident.shapes import infer
    typed = infer(parse_expr("tr(inv(A) @ X @ B) + sum(X * X)"),
                  {"A": "matrix n n", "X": "matrix n n", "B": "matrix n n"})
    rng = np.random.default_rng(1)
    values = {n: rng.standard_normal((3, 3)) + 3 * np.eye(3) for n in "AXB"}
    f = along(typed.expr, values, {"n": 3}, ("X",))
    for _ in range(3):
        x = rng.standard_normal((3, 3))
        assert np.array_equal(f({"X": x}), evaluate(typed.expr, {**values, "X": x}, {"n": 3}))


def test_along_refuses_what_evaluate_refuses():
    from matident.parse import parse_expr
    from matident.shapes import infer
    typed = infer(parse_expr("tr(inv(X))"), {"X": "matrix n n"})
    f = along(typed.expr, {"X": np.eye(2)}, {"n": 2}, ("X",))
    with pytest.raises(EvaluationError):
        f({"X": np.zeros((2, 2))})
    with pytest.raises(EvaluationError):
        evaluate(typed.expr, {"X": np.zeros((2, 2))}, {"n": 2})


@pytest.mark.parametrize("m", [np.eye(3), np.zeros((2, 2)), np.array([[1.0, 2.0], [2.0, 4.0]]),
                               np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([[1e300, 0], [0, 1e-300]]),
                               np.random.default_rng(3).standard_normal((5, 5))])
def test_shortcut_condition_and_norm_are_numpys(m):
    from matident.evaluate import _condition
    from matident.verify import _norm
    def outcome(f):
        with np.errstate(all="ignore"):
            try:
                return f(m)
            except np.linalg.LinAlgError:
                return "LinAlgError"
    want, got = outcome(np.linalg.cond), outcome(_condition)
    assert want == got or (np.isnan(want) and np.isnan(got)), (want, got)
    with np.errstate(all="ignore"):
        assert np.array_equal(_norm(m), np.linalg.norm(m), equal_nan=True)


def test_directional_derivative_reuses_the_shared_points_and_equals_eight_evaluations():
    """The steps h and h/2 share the points x +- h v: six evaluations, the values of eight."""
    from matident.verify import FD_STEP, _norm, directional_derivative
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    calls = []

    def f(x):
        calls.append(x.copy())
        return np.linalg.inv(a + x) @ x

    x, v = rng.standard_normal((3, 3)) * 0.1, rng.standard_normal((3, 3))
    v /= np.linalg.norm(v)
    got = directional_derivative(f, x, v)
    assert len(calls) == 6
    h = FD_STEP * max(1.0, float(_norm(x))) / 2          # the fine step, computed the plain way
    g = lambda t: np.linalg.inv(a + (x + t * v)) @ (x + t * v)     # noqa: E731
    want = (8 * (g(h) - g(-h)) - (g(2 * h) - g(-2 * h))) / (12 * h)
    assert np.array_equal(got, want)


def test_a_repeated_sub_tree_is_computed_once_per_evaluation(monkeypatch):
    from matident import evaluate as ev
    from matident.parse import parse_expr
    from matident.shapes import infer
    typed = infer(parse_expr("tr(inv(X) @ A @ inv(X)) + sum(inv(X) * inv(X).T)"),
                  {"A": "matrix n n", "X": "matrix n n"})
    applied = []
    real = ev._apply
    monkeypatch.setattr(ev, "_apply", lambda op, args: (applied.append(op), real(op, args))[1])
    rng = np.random.default_rng(2)
    values = {"A": rng.standard_normal((3, 3)), "X": rng.standard_normal((3, 3)) + 3 * np.eye(3)}
    ev._COMPILED.clear()
    for _ in range(2):
        applied.clear()
        got = evaluate(typed.expr, values, {"n": 3})
        assert applied.count("inv") == 1
    with np.errstate(all="ignore"):
        assert np.array_equal(got, reference(typed.expr, values, {"n": 3}))
    moved = along(typed.expr, values, {"n": 3}, ("X",))
    applied.clear()
    x = values["X"] + 0.01
    assert np.array_equal(moved({"X": x}), reference(typed.expr, {**values, "X": x}, {"n": 3}))
    assert applied.count("inv") == 1
