"""Toeplitz structure (Cookbook eqs 143-144): the declaration, the verifier's draws, directions and
projection, the functions toeplitz_mean / toeplitz_sum, structure inference, lookup and derive.
Values are judged against a second implementation written here with explicit loops over the
diagonals and entry by entry."""
import importlib

import numpy as np
import pytest

import matident
from matident.errors import DeclarationError, ParseError, ShapeError
from matident.evaluate import evaluate
from matident.parse import parse_expr
from matident.printing import to_latex, to_text
from matident.shapes import infer, parse_decl
from matident.sympy_bridge import to_sympy

V = importlib.import_module("matident.verify")


def diagonals(a, reduce):
    """Each diagonal of the square ``a`` replaced by ``reduce`` of it (a loop, not the library's
    bincount)."""
    n = a.shape[0]
    out = np.empty_like(a, dtype=float)
    for k in range(1 - n, n):
        value = reduce(np.array([a[i, i + k] for i in range(n) if 0 <= i + k < n]))
        for i in range(n):
            if 0 <= i + k < n:
                out[i, i + k] = value
    return out


def mean(a):
    return diagonals(a, np.mean)


def total(a):
    return diagonals(a, np.sum)


def toeplitz(column, row=None):
    """The Toeplitz matrix with this first column and first row (scipy.linalg.toeplitz's
    convention; the row's first entry is ignored)."""
    row = column if row is None else row
    n = len(column)
    return np.array([[column[i - j] if i >= j else row[j - i] for j in range(n)] for i in range(n)])


def is_toeplitz(m):
    return np.allclose(m, toeplitz(m[:, 0], m[0, :]), rtol=0, atol=1e-12)


def random_toeplitz(rng, n, symmetric=False):
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    return toeplitz(c) if symmetric else toeplitz(c, r)


def run(text, values, symbols):
    typed = infer(parse_expr(text), {k: parse_decl(v) for k, v in symbols.items()})
    sizes = {"n": next(iter(values.values())).shape[0]}
    return evaluate(typed.expr, values, sizes)


# -- declarations -----------------------------------------------------------------

@pytest.mark.parametrize("text, structure", [
    ("matrix n n toeplitz", {"square", "toeplitz"}),
    ("toeplitz n", {"square", "toeplitz"}),
    ("matrix n n toeplitz symmetric", {"square", "toeplitz", "symmetric"}),
    ("toeplitz n spd", {"square", "toeplitz", "symmetric", "spd", "psd", "invertible"}),
])
def test_declarations(text, structure):
    assert parse_decl(text).structure == structure


@pytest.mark.parametrize("text, message", [
    ("matrix m n toeplitz", "MI010 'matrix m n toeplitz' declares a square structure on a mxn matrix "
                            "(hint: use the same dimension twice, e.g. 'matrix m m ...')"),
    ("matrix n n toeplitz lower", "MI010 'matrix n n toeplitz lower': 'toeplitz' does not combine with "
                                  "'lower' (hint: a Toeplitz matrix may also be declared invertible, spd, "
                                  "square, symmetric)"),
    ("toeplitz n diagonal", "'toeplitz' does not combine with 'diagonal'"),
    ("toeplitz n psd", "'toeplitz' does not combine with 'psd'"),
    ("vector n toeplitz", "structure word 'toeplitz' does not apply to a vector"),
    ("matrix n n toplitz", "did you mean 'toeplitz'?"),
])
def test_bad_declarations_are_one_line_errors(text, message):
    with pytest.raises(DeclarationError) as info:
        parse_decl(text)
    assert message in str(info.value) and "\n" not in str(info.value)


# -- the verifier's draws, directions and projection ---------------------------------

@pytest.mark.parametrize("text", ["toeplitz n", "matrix n n toeplitz symmetric", "toeplitz n spd"])
def test_draws_are_toeplitz_with_the_declared_structure(text):
    decl, rng = parse_decl(text), np.random.default_rng(5)
    seen = set()
    for trial in range(40):
        n = 2 + trial % 5
        m = V.draw_value(decl, {"n": n}, rng, trial % 3)
        assert m.shape == (n, n) and is_toeplitz(m) and V._well_conditioned(m)
        if "symmetric" in decl.structure:
            assert np.array_equal(m, m.T)
        if "spd" in decl.structure:
            assert np.linalg.eigvalsh(m).min() > 0
        seen.add(tuple(np.round(m[0, :2], 6)))
    assert len(seen) == 40                        # random diagonals, not one fixed matrix


def test_a_non_toeplitz_matrix_does_not_honour_the_word():
    m = toeplitz([1.0, 2.0, 3.0], [1.0, 4.0, 5.0])
    assert m[0, 2] == 5.0 and m[2, 0] == 3.0 and m[1, 2] == 4.0
    assert V.honours({"square", "toeplitz"}, m)
    m[2, 1] += 1e-6
    assert not V.honours({"square", "toeplitz"}, m)


@pytest.mark.parametrize("symmetric", [False, True])
def test_projection_is_idempotent_orthogonal_and_lands_in_the_structure(symmetric):
    structure = {"square", "toeplitz"} | ({"symmetric"} if symmetric else set())
    rng = np.random.default_rng(11)
    for n in range(1, 7):
        g = rng.standard_normal((n, n))
        p = V.project(structure, g)
        expected = mean((g + g.T) / 2) if symmetric else mean(g)
        np.testing.assert_allclose(p, expected, rtol=0, atol=1e-13)
        assert is_toeplitz(p) and (not symmetric or np.allclose(p, p.T, atol=1e-14))
        np.testing.assert_allclose(V.project(structure, p), p, rtol=0, atol=1e-13)
        for _ in range(5):                        # <G - P(G), V> = 0 for every V in the space
            v = random_toeplitz(rng, n, symmetric)
            assert abs(np.sum((g - p) * v)) <= 1e-12 * np.abs(g).sum() * np.abs(v).sum()


def test_directions_lie_in_the_structure_and_are_unit():
    rng = np.random.default_rng(2)
    for text in ("toeplitz n", "matrix n n toeplitz symmetric", "toeplitz n spd"):
        decl = parse_decl(text)
        v = V.draw_direction(decl, (5, 5), rng)
        assert is_toeplitz(v) and abs(np.linalg.norm(v) - 1) < 1e-12
        assert "symmetric" not in decl.structure or np.allclose(v, v.T)


# -- the functions ----------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_functions_against_loops(n):
    a = np.random.default_rng(n).standard_normal((n, n))
    symbols = {"A": "matrix n n"}
    np.testing.assert_allclose(run("toeplitz_mean(A)", {"A": a}, symbols), mean(a), rtol=0, atol=1e-14)
    np.testing.assert_allclose(run("toeplitz_sum(A)", {"A": a}, symbols), total(a), rtol=0, atol=1e-13)


def test_cookbook_alpha_is_toeplitz_sum_of_the_transpose():
    """alpha(A): main diagonal tr(A), entry (1, n) A_n1, entry (n, 1) A_1n (Cookbook 2.8.4)."""
    a = np.arange(1.0, 17.0).reshape(4, 4)
    alpha = run("toeplitz_sum(A.T)", {"A": a}, {"A": "matrix n n"})
    assert alpha[0, 0] == np.trace(a) and alpha[0, 3] == a[3, 0] and alpha[3, 0] == a[0, 3]
    assert alpha[0, 1] == a[1, 0] + a[2, 1] + a[3, 2]


def test_alpha_holds_the_partial_derivatives_by_the_diagonal_parameters():
    """d tr(A T) / d t_k for T = sum_k t_k S_k, by finite differences, is diagonal k of alpha(A)."""
    rng, n = np.random.default_rng(3), 5
    a = rng.standard_normal((n, n))
    alpha = total(a.T)
    for k in range(1 - n, n):
        s_k = np.eye(n, k=k)
        assert abs(np.trace(a @ s_k) - alpha[max(0, -k), max(0, k)]) < 1e-12


@pytest.mark.parametrize("text, fragment", [
    ("toeplitz_mean(x)", "square"),
    ("toeplitz_sum(B)", "square"),
])
def test_shapes_are_checked(text, fragment):
    with pytest.raises(ShapeError) as info:
        infer(parse_expr(text), {"x": parse_decl("vector n"), "B": parse_decl("matrix m n")})
    assert fragment in str(info.value)


def test_text_and_latex():
    tree = parse_expr("toeplitz_sum(A.T) + toeplitz_sum(A.T).T - toeplitz_sum(A.T) * I")
    assert parse_expr(to_text(tree)) == tree
    assert to_latex(parse_expr("toeplitz_mean(A.T)")) == r"\operatorname{toeplitz}_{\mathrm{mean}}\left(A^{T}\right)"


def test_no_sympy_form_and_a_clear_refusal():
    typed = infer(parse_expr("toeplitz_mean(A)"), {"A": parse_decl("matrix n n")})
    with pytest.raises(ParseError) as info:
        to_sympy(typed.expr, typed.symbols)
    assert "toeplitz_mean() has no SymPy form" in str(info.value)
    assert "Toeplitz" in info.value.hint


@pytest.mark.parametrize("name", ["toeplitz_mean", "toeplitz_sum"])
def test_reserved_names(name):
    with pytest.raises(ParseError):
        parse_expr(f"{name} + X")


# -- structure inference ------------------------------------------------------------

@pytest.mark.parametrize("text, holds", [
    ("T", True), ("T.T", True), ("T + 2 * T.T", True), ("T * S", True), ("I", True),
    ("toeplitz_mean(A @ T)", True), ("toeplitz_sum(A)", True),
    ("A", False), ("T @ T", False), ("A @ T", False), ("inv(T)", False),
])
def test_structure_inference(text, holds):
    from matident.simplify import Simplifier
    decls = {"T": parse_decl("toeplitz n"), "S": parse_decl("toeplitz n"), "A": parse_decl("matrix n n")}
    simp = Simplifier(decls)
    assert simp.holds("toeplitz", infer(parse_expr(text), decls).expr) is holds


# -- lookup and derive ---------------------------------------------------------------

TOEPLITZ = {"T": "matrix n n toeplitz", "A": "matrix n n", "B": "matrix n n"}
SYMMETRIC = {"T": "matrix n n toeplitz symmetric", "A": "matrix n n"}


def test_lookup_finds_the_cookbook_143_record():
    first = list(matident.lookup("tr(A @ T)", wrt="T", symbols=TOEPLITZ))[0]
    assert first.identity.id == "trace-at-toeplitz-derivative"
    assert to_text(first.result_tree) == "toeplitz_mean(A.T)"


@pytest.mark.parametrize("query, symbols", [
    ("tr(A @ T)", TOEPLITZ), ("tr(T @ A)", TOEPLITZ), ("tr(A @ T @ B)", TOEPLITZ),
    ("tr(A @ T)", SYMMETRIC), ("tr(T @ A)", SYMMETRIC),
])
def test_every_lookup_answer_is_the_projected_gradient(query, symbols):
    """A record of a general or symmetric variable answers for a Toeplitz one only projected:
    each unconditional answer is judged by the checker (finite differences along Toeplitz
    directions); a record of a structure T is not declared with answers only under a condition."""
    matches = list(matident.lookup(query, wrt="T", symbols=symbols))
    assert matches
    declared = parse_decl(symbols["T"]).structure
    for m in matches:
        if m.identity.kind != "derivative":
            continue
        words = m.identity.symbols[m.identity.wrt].structure - declared
        if words:
            assert any(c.startswith("T is ") for c in m.conditions), (m.identity.id, m.conditions)
            continue
        report = str(matident.check(query, "T", to_text(m.result_tree), symbols=symbols))
        assert "verdict: RIGHT" in report, (m.identity.id, to_text(m.result_tree), report)


@pytest.mark.parametrize("query, symbols, gradient", [
    ("tr(A @ T)", TOEPLITZ, "toeplitz_mean(A.T)"),
    ("tr(A @ T)", SYMMETRIC, "toeplitz_mean((A.T + A) / 2)"),
    ("logdet(T)", {"T": "toeplitz n spd"}, "toeplitz_mean(inv(T))"),
    ("tr(T @ T)", TOEPLITZ, "2 * T.T"),
    ("norm(T - toeplitz_sum(A)) ** 2", TOEPLITZ, "2 * T - 2 * toeplitz_sum(A)"),
    ("tr(A @ toeplitz_sum(X))", {"A": "matrix n n", "X": "matrix n n"}, "toeplitz_sum(A.T)"),
])
def test_derive_projects_onto_toeplitz_matrices(query, symbols, gradient):
    result = matident.derive(query, "T" if "T" in symbols else "X", symbols=symbols)
    assert str(result).splitlines()[-1] == f"gradient: {gradient}"


@pytest.mark.parametrize("claim, verdict", [
    ("toeplitz_mean(A.T)", "RIGHT"), ("A.T", "WRONG"), ("toeplitz_sum(A.T)", "WRONG"),
])
def test_claims_for_a_toeplitz_variable(claim, verdict):
    report = str(matident.check("tr(A @ T)", "T", claim, symbols=TOEPLITZ))
    assert f"verdict: {verdict}" in report


def test_generated_numpy_code_projects():
    derivation = matident.derive("tr(A @ T @ A)", "T", symbols=TOEPLITZ)
    namespace = {}
    exec(compile(derivation.code("numpy"), "<generated>", "exec"), namespace)  # our own generated code
    rng = np.random.default_rng(4)
    a, t = rng.standard_normal((4, 4)), random_toeplitz(rng, 4)
    value, gradient = namespace["value_and_grad"](A=a, T=t)
    assert abs(value - np.trace(a @ t @ a)) < 1e-12
    np.testing.assert_allclose(gradient, mean((a @ a).T), rtol=0, atol=1e-12)


def test_lookup_finds_the_cookbook_144_record_among_equal_answers():
    matches = list(matident.lookup("tr(A @ T)", wrt="T", symbols=SYMMETRIC))
    answers = {m.identity.id: to_text(m.result_tree) for m in matches if not m.conditions}
    assert answers["trace-at-symmetric-toeplitz-derivative"] == "toeplitz_mean(A + A.T) / 2"
    assert answers["trace-ax-symmetric-derivative"] == "toeplitz_mean(A + A.T) / 2"


def test_lookup_of_logdet_of_an_spd_toeplitz():
    """The spd record's inv(T), projected, and the Toeplitz record agree."""
    matches = list(matident.lookup("logdet(T)", wrt="T", symbols={"T": "toeplitz n spd"}))
    answers = {m.identity.id: to_text(m.result_tree) for m in matches if not m.conditions}
    assert answers["logdet-spd-toeplitz-derivative"] == answers["logdet-spd-derivative"] \
        == to_text(matches[0].result_tree) == "toeplitz_mean(inv(T))"


@pytest.mark.parametrize("query", ["tr(A @ T)", "x.T @ T @ y", "logdet(T)", "tr(inv(T) @ A)"])
def test_answers_under_the_condition_t_symmetric_are_the_symmetric_toeplitz_gradient(query):
    """A symmetric record answers for a (non-symmetric) Toeplitz T under 'T is symmetric': projected
    onto Toeplitz matrices, its answer must be the gradient among symmetric Toeplitz matrices."""
    symbols = {"T": "matrix n n toeplitz", "A": "matrix n n", "x": "vector n", "y": "vector n"}
    where = {**symbols, "T": "matrix n n toeplitz spd" if "inv" in query or "logdet" in query
             else "matrix n n toeplitz symmetric"}
    checked = 0
    for m in matident.lookup(query, wrt="T", symbols=symbols):
        if m.identity.kind == "derivative" and set(m.conditions) <= {"T is symmetric", "T is spd"} \
                and m.conditions:
            report = str(matident.check(query, "T", to_text(m.result_tree), symbols=where))
            assert "verdict: RIGHT" in report, (m.identity.id, to_text(m.result_tree), report)
            checked += 1
    assert checked
