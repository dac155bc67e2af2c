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
from matident.evaluate import EvaluationError, evaluate
from matident.shapes import Prod

from exprgen import SYMBOLS, draw_env, fd_gradient_error, random_case

CASES = 300             # in CI; the benchmark runs thousands
TOLERANCE = 1e-5        # settled fourth-order differences are good to about 1e-8


def judge(seed):
    """("ok" | "refused" | "domain" | "unsettled" | "false", text, detail) for one random case."""
    text, wrt, fn = random_case(seed)
    try:
        d = matident.derive(text, wrt, symbols=SYMBOLS)
    except matident.MatidentError as exc:
        return "refused", text, str(exc)
    rng = np.random.default_rng(seed + 1_000_003)
    env = draw_env(rng, 4, wrt)
    sizes = {}
    for decl in d.symbols.values():
        for dim in (decl.rows, decl.cols):
            for f in (dim.factors if isinstance(dim, Prod) else (dim,)):
                if isinstance(f, str):
                    sizes[f] = 4
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
