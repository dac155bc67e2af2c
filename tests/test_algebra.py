"""The one algebra (matident.normal) and derive's simplifier on top of it, judged outside matident.

Random numpy-style expressions (``tests/exprgen.py``, each with its own numpy
function) are put in normal form and simplified; both must keep the value the
numpy function computes, and both must be fixed points (a second pass changes
nothing).  The shared rules are also checked one by one on small cases.
"""
import numpy as np
import pytest

from matident import expr as E
from matident.evaluate import EvaluationError, evaluate
from matident.normal import Normalizer, collapse, flip, pull_scalars, scalar_runs, split_chain
from matident.parse import parse_expr
from matident.shapes import Decl, infer
from matident.simplify import Simplifier

from exprgen import SYMBOLS, draw_env, random_case
from test_derive_random import _sizes

CASES = 300


def _forms(text):
    typed = infer(parse_expr(text), SYMBOLS, implicit=True)
    norm, simp = Normalizer(typed.symbols), Simplifier(typed.symbols)
    return typed, norm, simp


@pytest.mark.parametrize("seed", range(CASES))
def test_normal_form_and_simplified_form_keep_the_value(seed):
    text, wrt, fn = random_case(seed)
    typed, norm, simp = _forms(text)
    normal, simplified = norm.normal(typed.expr), simp(typed.expr)
    assert norm.normal(normal) == normal, f"{text}: the normal form {E.to_text(normal)} is no fixed point"
    assert simp(simplified) == simplified, f"{text}: {E.to_text(simplified)} simplifies further"
    env = draw_env(np.random.default_rng(seed), 4, wrt)
    sizes = _sizes(typed.symbols)
    with np.errstate(all="ignore"):
        want = fn(env)
    if not np.all(np.isfinite(want)):
        return                                # outside a function's domain here
    for name, form in (("normal form", normal), ("simplified", simplified)):
        try:
            got = evaluate(form, env, sizes)
        except EvaluationError:
            continue
        assert np.allclose(got, want, rtol=1e-8, atol=1e-10 * (1 + np.abs(want).max())), \
            f"{text}: {name} {E.to_text(form)} = {got.ravel()[:3]}, numpy {want.ravel()[:3]}"


SYMS = {"A": Decl("matrix", "n", "n"), "B": Decl("matrix", "n", "n"), "x": Decl("vector", "n", 1),
        "y": Decl("vector", "n", 1), "s": Decl("scalar"), "K": Decl("matrix", "n", "n", ("skew",))}


def _typed(text):
    return infer(parse_expr(text), SYMS).expr


def test_scalar_runs_are_the_shortest_and_never_the_whole_product():
    norm = Normalizer(SYMS)
    mats = list(_typed("A @ x @ y.T @ x @ y.T @ B").args)
    rest, runs = scalar_runs(mats, norm.shape)
    assert [E.to_text(E.matmul(*r)) for r in runs] == ["y.T @ x"]
    assert [E.to_text(m) for m in rest] == ["A", "x", "y.T", "B"]
    whole = list(_typed("x.T @ y").args)
    assert scalar_runs(whole, norm.shape) == (whole, [])


def test_split_chain_pulls_scalars_out_of_products():
    norm = Normalizer(SYMS)
    scalars, mats, ident = split_chain(list(_typed("A @ (s * (A * B)) @ x").args), norm.is_scalar, norm.product)
    assert scalars == [E.sym("s")] and ident is None
    assert [E.to_text(m) for m in mats] == ["A", "A * B", "x"]


def test_the_other_orientation_of_a_1x1_product():
    norm = Normalizer(SYMS)
    c = _typed("x.T @ K @ y")                # x^T K y = -y^T K x: no product in the normal form
    assert flip(c, norm.transpose, lambda fs: norm.chain(fs, orient=False)) == c
    assert E.to_text(flip(c, norm.transpose, lambda fs: E.matmul(*fs))) == "y.T @ -K @ x"
    d = _typed("x.T @ A @ y")
    assert E.to_text(flip(d, norm.transpose, lambda fs: E.matmul(*fs))) == "y.T @ A.T @ x"


def test_collapse_and_linear_functions():
    simp = Simplifier(SYMS)
    s, x = E.sym("s"), E.sym("x")
    assert collapse("tr", [s], simp.scalar) == s
    assert collapse("inv", [E.call("inv", E.sym("A"))], simp.scalar) == E.sym("A")
    assert collapse("inv", [s], simp.scalar) == E.power(s, E.num(-1))
    assert collapse("hpow", [x, E.num(1)], simp.scalar) == x
    assert collapse("hpow", [x, E.num(2)], simp.scalar) is None
    pulled, inner = pull_scalars([_typed("s * (A * B)"), E.sym("B")], simp.scalar, simp.mul)
    assert pulled == [s] and [E.to_text(a) for a in inner] == ["A * B", "B"]
