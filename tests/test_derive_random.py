"""derive on random numpy-style expressions, judged by finite differences outside matident.

Each case comes with its own numpy function (``tests/exprgen.py``): the
gradient derive returns is compared with a fourth-order central difference of
that function, which shares no code with matident.  A returned result that
disagrees is a false result: there must be none.  derive may refuse (an
error naming what it cannot do), rarely.  ``benchmarks/derive_random.py``
runs the same at full size.
"""
import numpy as np
import pytest

import matident
from matident import expr as E
from matident.evaluate import EvaluationError, evaluate
from matident.shapes import Prod

from exprgen import SYMBOLS, draw_env, fd_gradient_error, random_case

CASES = 300             # in CI; the benchmark runs thousands
TOLERANCE = 1e-5        # settled fourth-order differences are good to about 1e-8


def _sizes(*symbol_tables):
    sizes = {}
    for table in symbol_tables:
        for decl in table.values():
            for dim in (decl.rows, decl.cols):
                for f in (dim.factors if isinstance(dim, Prod) else (dim,)):
                    if isinstance(f, str):
                        sizes.setdefault(f, 4)
    return sizes


def judge(seed):
    """("ok" | "refused" | "domain" | "unsettled" | "false", text, detail) for one random case."""
    text, wrt, fn = random_case(seed)
    try:
        d = matident.derive(text, wrt, symbols=SYMBOLS)
    except matident.MatidentError as exc:
        return "refused", text, str(exc)
    rng = np.random.default_rng(seed + 1_000_003)
    env = draw_env(rng, 4, wrt)
    sizes = _sizes(d.symbols)
    try:
        grad = evaluate(d.result_expr, env, sizes)
    except EvaluationError as exc:
        return "domain", text, str(exc)
    if grad.shape != env[wrt].shape:
        return "false", text, f"gradient {d.text} has shape {grad.shape}, the variable {env[wrt].shape}"
    err = fd_gradient_error(fn, grad, env, wrt, rng)
    if err is None:
        return "unsettled", text, "finite differences of the numpy function do not settle here"
    return ("false" if err > TOLERANCE else "ok"), text, f"{d.text} (error {err:.1e})"


@pytest.fixture(scope="module")
def outcomes():
    return [judge(seed) for seed in range(CASES)]


def test_no_false_result(outcomes):
    false = [(text, detail) for status, text, detail in outcomes if status == "false"]
    assert not false, f"{len(false)} false results, first: {false[0]}"


def test_few_refusals(outcomes):
    refused = [(text, detail) for status, text, detail in outcomes if status != "ok"]
    assert len(refused) < 0.03 * len(outcomes), refused[:5]


def test_the_generator_writes_what_numpy_users_write():
    texts = [random_case(seed)[0] for seed in range(CASES)]
    for fragment in ("1 + (", " ** 2", "exp(", "sum(exp(", " / "):
        assert any(fragment in t for t in texts), fragment


def test_the_judge_catches_a_false_gradient(monkeypatch):
    """The test can fail: a derive that returns a wrong gradient is caught as false."""
    real = matident.derive

    def wrong(text, wrt, **kwargs):
        d = real(text, wrt, **kwargs)
        d.result_expr = matident.expr.mul(matident.expr.num(2), d.result_expr)
        return d
    monkeypatch.setattr(matident, "derive", wrong)
    statuses = [judge(seed)[0] for seed in range(20)]
    assert statuses.count("false") >= 15


def test_the_public_sympy_result_reads_back_as_the_text():
    """format(d.result) parses back, with the derivation's declarations, to the value of d.text:
    ones and zeros keep their sizes, identities too."""
    from matident.parse import parse_expr
    from matident.shapes import infer
    checked = 0
    for seed in range(120):
        text, wrt, _ = random_case(seed)
        try:
            d = matident.derive(text, wrt, symbols=SYMBOLS)
        except matident.MatidentError:
            continue
        back = infer(parse_expr(matident.format(d.result)), d.symbols)
        ours = infer(parse_expr(d.text), d.symbols)
        rng = np.random.default_rng(seed)
        sizes = _sizes(d.symbols, back.symbols, ours.symbols)
        assert set(sizes) == set(_sizes(d.symbols)), f"{d.text}: a size the text leaves open"
        env = {n: rng.standard_normal((sizes.get(decl.rows, 1) if decl.rows != 1 else 1,
                                       sizes.get(decl.cols, 1) if decl.cols != 1 else 1))
               for n, decl in d.symbols.items()}
        a, b = evaluate(ours.expr, env, sizes), evaluate(back.expr, env, sizes)
        assert a.shape == b.shape == env[wrt].shape and np.allclose(a, b, rtol=1e-9, atol=1e-12), \
            (d.text, matident.format(d.result))
        checked += 1
    assert checked >= 100


def test_a_broadcast_scalar_of_a_result_prints_as_the_scalar():
    """Every ones(M) factor of a term of a result's sum is the sum's broadcast reference, so the
    text writes the scalar as numpy users do (``1 / (1 + s) - 2 * ...``), never as
    ``ones(<a whole other term>) / (1 + s)`` (seeds 93 and 385 printed that way)."""
    def stale(e):
        if e.op == E.ADD:
            ref = E.broadcast_reference(e.args)
            for t in e.args:
                for f in (t.args if t.op == E.MUL else [t]):
                    if f.op == "ones" and ref is not None and f.args[0] != ref:
                        yield E.to_text(f)
        for a in e.args:
            yield from stale(a)
    found = []
    for seed in [93, 385, *range(200)]:
        text, wrt, _ = random_case(seed)
        try:
            d = matident.derive(text, wrt, symbols=SYMBOLS)
        except matident.MatidentError:
            continue
        found += [(seed, f) for f in stale(d.result_expr)]
    assert not found, found[:3]
    d = matident.derive("sum(X) / (1 + (a.T @ X @ b) ** 2)", "X")
    assert not d.text.startswith("ones(") and d.check().ok


@pytest.mark.parametrize("text, wrt", [("x.T @ a - a.T @ x", "x"), ("tr(X - X.T)", "X")])
def test_a_zero_gradient_has_the_variables_shape(text, wrt):
    d = matident.derive(text, wrt)
    assert d.text == f"0 * ones({wrt})"
    assert matident.format(d.result) == f"0 * ones({wrt})"


@pytest.mark.parametrize("text", ["sqrt(1 + sum(x - x) ** 2)", "a.T @ (1 + x + a - x)"])
def test_a_constant_function_gets_a_checked_zero_gradient(text):
    """The finite differences of a constant are exactly 0 (no rounding to fear): checked, not refused."""
    d = matident.derive(text, "x")
    assert d.text == "0 * ones(x)" and d.check().ok
