"""Issue 16: dimension relations and rank in declarations, matrix functions, unit vectors,
block matrices, expectations over Gaussians, and lookups of rewritten left-hand sides.

Judged by paths independent of the code under test: sizes are checked against the
declared relations directly, lookups against the records they must find, and every new
construct against a second evaluation (numpy/scipy-free series, explicit loops).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import matident
from matident.errors import DeclarationError
from matident.shapes import parse_decl

V = importlib.import_module("matident.verify")
WRONG = Path(__file__).parent / "fixtures" / "wrong"


# -- 1. dimension relations and rank -------------------------------------------------

@pytest.mark.parametrize("text, relations", [
    ("matrix m n tall", (("m", "n"),)),
    ("matrix m n wide full-rank", (("n", "m"),)),
    ("matrix 5 2 tall", ((5, 2),)),
    ("matrix m n full-rank", ()),
])
def test_relation_words_parse(text, relations):
    assert parse_decl(text).relations() == relations


@pytest.mark.parametrize("text, message", [
    ("matrix n n tall", "says nothing of a square matrix"),
    ("matrix n n full-rank", "says nothing of a square matrix"),
    ("matrix m n tall wide", "is both tall and wide"),
    ("matrix 2 5 tall", "is 2x5, not tall"),
    ("spd n full-rank", "does not apply"),
    ("vector n tall", "does not apply"),
    ("matrix m*n k tall", "relate plain dimensions"),
])
def test_relation_words_refused_with_a_reason(text, message):
    with pytest.raises(DeclarationError) as info:
        parse_decl(text)
    assert message in str(info.value) and "Traceback" not in str(info.value)


def test_square_matrix_is_tall_and_wide_and_invertible_is_full_rank():
    assert parse_decl("matrix n n").has("tall") and parse_decl("matrix n n").has("wide")
    assert parse_decl("matrix n n invertible").has("full-rank")
    assert not parse_decl("matrix m n").has("tall")
    assert not parse_decl("matrix m n tall").has("wide")


@pytest.mark.parametrize("decls", [
    {"X": "matrix m n tall", "Y": "matrix n k tall"},
    {"X": "matrix m n wide", "A": "matrix k m tall"},
    {"C": "matrix n r tall full-rank", "D": "matrix r m wide full-rank"},
    {"X": "matrix m 3 tall"},
])
def test_drawn_sizes_honour_the_relations_in_every_trial(decls):
    symbols = {k: parse_decl(v) for k, v in decls.items()}
    pairs = [p for d in symbols.values() for p in d.relations()]
    for seed in range(40):
        rng = np.random.default_rng(seed)
        sizes = V.draw_sizes(symbols, rng)
        reversed_ = V.honour_relations(V._reversed_order(sizes), symbols)
        for s in (sizes, reversed_):
            size = {**s}
            for big, small in pairs:
                b = size.get(big, big)
                c = size.get(small, small)
                assert b >= c, (decls, s)


@pytest.mark.parametrize("decls, groups", [
    ({"X": "matrix m n tall", "Y": "matrix n k tall"}, [({"m", "n", "k"}, None)]),
    ({"X": "matrix m n wide", "A": "matrix k p"}, [({"m", "n"}, None)]),
    ({"C": "matrix n r tall full-rank", "D": "matrix r m wide full-rank"}, [({"n", "r", "m"}, None)]),
    ({"X": "matrix m 3 tall", "Y": "matrix p q wide"}, [({"m"}, 3), ({"p", "q"}, None)]),
])
def test_every_third_trial_draws_tall_and_wide_matrices_square(decls, groups):
    symbols = {k: parse_decl(v) for k, v in decls.items()}
    for seed in range(40):
        square = V.draw_sizes(symbols, np.random.default_rng(seed), square=True)
        plain = V.draw_sizes(symbols, np.random.default_rng(seed))
        for names, size in groups:
            assert {square[d] for d in names} == ({size} if size else {square[min(names)]}), square
        free = set(plain) - set().union(*(names for names, _ in groups))
        assert {d: square[d] for d in free} == {d: plain[d] for d in free}   # same random numbers


def test_verifier_draws_the_square_case_of_tall_and_wide():
    """det(X X^+) = 0 holds for every strictly tall X and fails for a square one (X X^+ = I):
    the verifier must reject it, on a square draw, on every seed (likewise wide)."""
    wrong = matident.load(WRONG / "breadth.yaml", base=WRONG)
    for rid in ("wrong-projector-of-tall-matrix-is-singular", "wrong-projector-of-wide-matrix-is-singular"):
        for seed in range(10):
            result = V.check_record(wrong[rid], seed=seed)
            assert result.status == "failed", result.describe()
            assert result.sizes["m"] == result.sizes["n"], result.describe()
            assert V.check_record(wrong[rid], seed=seed, trials=V.SQUARE_EVERY - 1).ok   # strictly: true


def test_contradicting_relations_are_inconclusive_not_passed(write_yaml):
    path = write_yaml("""
- id: contradicting-relations
  title: Relations that contradict each other
  kind: identity
  symbols: {X: matrix m n tall full-rank, Y: matrix m n wide full-rank}
  lhs: X + Y
  rhs: Y + X
  tags: [basic]
""")
    (record,) = matident.load(path)
    result = V.check_record(record)
    assert result.status == "inconclusive"
    assert "contradict" in result.message


def _ids(matches):
    return [m.identity.id for m in matches]


def test_lookup_logdet_gram_of_a_rectangular_matrix_finds_eq_55():
    matches = matident.lookup("logdet(W.T @ W)", wrt="W", symbols={"W": "matrix m n"})
    best = matches[0]
    assert best.identity.id == "logdet-xtx-derivative" and 55 in best.identity.cookbook
    assert set(best.conditions) == {"W is tall (m >= n)", "W is full-rank"}
    # declared tall and of full rank: no condition left
    matches = matident.lookup("logdet(W.T @ W)", wrt="W", symbols={"W": "matrix m n tall full-rank"})
    assert matches[0].identity.id == "logdet-xtx-derivative" and matches[0].conditions == ()


def test_lookup_det_xtdx_of_a_rectangular_x_with_a_general_d_finds_eq_54():
    matches = matident.lookup("det(X.T @ D @ X)", wrt="X", symbols={"X": "matrix m n", "D": "matrix m m"})
    found = {m.identity.id: m for m in matches}
    assert "det-xtax-derivative" in found                      # eq 54: any D
    assert not any("symmetric" in c for c in found["det-xtax-derivative"].conditions)
    assert "X is tall (m >= n)" in found["det-xtax-derivative"].conditions
    assert "D is symmetric" in found["det-xtax-symmetric-derivative"].conditions   # eq 53


def test_lookup_logdet_ztkz_of_a_square_z_needs_no_tallness():
    matches = matident.lookup("logdet(Z.T @ K @ Z)", wrt="Z", symbols={"Z": "matrix n n", "K": "spd n"})
    assert matches
    for m in matches:
        assert not any("tall" in c or "wide" in c for c in m.conditions), m
    best = {m.identity.id: m for m in matches}["logdet-xtax-spd-derivative"]
    assert best.conditions == ("Z is full-rank",)


def test_verifier_rejects_an_identity_that_needs_tallness_declared_wide():
    wrong = matident.load(WRONG / "breadth.yaml", base=WRONG)
    result = V.check_record(wrong["wrong-pinv-left-inverse-of-wide"])
    assert result.status == "failed"


# -- 3. unit vectors, single-entry matrices, zero right sides ----------------------------

def test_unit_vectors_are_drawn_distinct_then_equal():
    symbols = {n: parse_decl("vector n unit") for n in ("ei", "ej", "ek")}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        for trial, want_distinct in ((0, True), (1, False)):
            sizes = {"n": 5}
            values = {k: V.draw_value(d, sizes, rng, trial) for k, d in symbols.items()}
            V._coordinate_units(symbols, values, rng, trial)
            index = {k: int(np.argmax(v)) for k, v in values.items()}
            for v in values.values():
                assert v.shape == (5, 1) and v.sum() == 1.0 and np.count_nonzero(v) == 1
            assert (len(set(index.values())) == 3) == want_distinct


def test_unit_word_applies_to_vectors_only():
    assert parse_decl("vector n unit").has("unit")
    with pytest.raises(DeclarationError):
        parse_decl("matrix n n unit")


def test_zero_rhs_is_a_zero_matrix_and_a_nonzero_lhs_fails(write_yaml):
    path = write_yaml("""
- id: projector-complement-vanishes
  title: A pseudo-inverse projector annihilates its complement
  kind: identity
  symbols: {A: matrix n m}
  lhs: A @ pinv(A) @ (I - A @ pinv(A))
  rhs: '0'
  tags: [pseudo-inverse]

- id: projector-does-not-vanish
  title: A projector is not zero
  kind: identity
  symbols: {A: matrix n m}
  lhs: A @ pinv(A) @ A @ pinv(A)
  rhs: '0'
  tags: [pseudo-inverse]
""")
    records = matident.load(path)
    assert V.check_record(records["projector-complement-vanishes"]).status == "passed"
    assert V.check_record(records["projector-does-not-vanish"]).status == "failed"


# -- 5. expectations over Gaussians ---------------------------------------------------------

def _tensor_hermite_expectation(f, mean, cov, points=4):
    """E[f(x)], x ~ N(mean, cov), by a tensor Gauss-Hermite grid: a second, independent rule
    (exact for degree <= 7 in each coordinate)."""
    import itertools
    z, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    root = np.linalg.cholesky(cov)
    total = 0.0
    for idx in itertools.product(range(points), repeat=mean.shape[0]):
        point = mean + root @ z[list(idx)].reshape(-1, 1)
        total = total + np.prod(w[list(idx)]) * f(point)
    return total


@pytest.mark.parametrize("text, numpy_f", [
    ("expect(A @ x + b, x, m, S)", lambda x, A, b: A @ x + b),                  # degree 1: the mean
    ("expect(A @ x @ x.T, x, m, S)", lambda x, A, b: A @ x @ x.T),              # degree 2: 2n points
    ("expect(x.T @ A @ x * (b.T @ x), x, m, S)", lambda x, A, b: (x.T @ A @ x) * (b.T @ x)),
    ("expect(x @ x.T @ A @ x @ x.T, x, m, S)", lambda x, A, b: x @ x.T @ A @ x @ x.T),
    ("expect(kron(x, x.T @ A @ x * x), x, m, S)", lambda x, A, b: np.kron(x, (x.T @ A @ x) * x)),
])
def test_expectation_agrees_with_a_tensor_gauss_hermite_rule(text, numpy_f):
    from matident.evaluate import evaluate
    from matident.parse import parse_expr
    from matident.shapes import infer
    decls = {"x": "vector n", "m": "vector n", "S": "spd n", "A": "matrix n n", "b": "vector n"}
    typed = infer(parse_expr(text), decls)
    rng = np.random.default_rng(3)
    for n in (1, 2, 3):
        A, b, m = rng.standard_normal((n, n)), rng.standard_normal((n, 1)), rng.standard_normal((n, 1))
        B = rng.standard_normal((n, n))
        S = B @ B.T + 0.5 * np.eye(n)
        got = evaluate(typed.expr, {"x": m, "m": m, "S": S, "A": A, "b": b}, {"n": n})
        want = _tensor_hermite_expectation(lambda x: numpy_f(x, A, b), m, S)
        assert np.allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("text, message", [
    ("expect(exp(x), x, m, S)", "not a polynomial"),
    ("expect((x.T @ x) ** 3, x, m, S)", "of degree 6"),
    ("expect(x, m + x, m, S)", "must be the name of the random vector"),
    ("expect(x, x, m, A)", None),      # a covariance that is not square-compatible is fine here
])
def test_expectation_refuses_what_it_cannot_compute_exactly(text, message):
    from matident.errors import MatidentError
    from matident.parse import parse_expr
    from matident.shapes import infer
    decls = {"x": "vector n", "m": "vector n", "S": "spd n", "A": "matrix n n"}
    if message is None:
        infer(parse_expr(text), decls)
        return
    with pytest.raises(MatidentError) as info:
        infer(parse_expr(text), decls)
    assert message in str(info.value)


def test_expectation_with_an_indefinite_covariance_is_redrawn_not_passed(write_yaml):
    path = write_yaml("""
- id: expectation-with-general-covariance
  title: An expectation whose covariance is not a covariance
  kind: identity
  symbols: {x: vector n, m: vector n, A: matrix n n}
  lhs: expect(x @ x.T, x, m, A)
  rhs: A + m @ m.T
  tags: [expectation]
""")
    (record,) = matident.load(path)
    result = V.check_record(record)
    assert result.status == "inconclusive" and "covariance" in result.message


# -- 4. block matrices ------------------------------------------------------------------

def test_block_matrix_parses_infers_prints_and_round_trips():
    from matident.parse import parse_expr
    from matident.printing import to_latex, to_text
    from matident.shapes import Sum, infer
    decls = {"A": "matrix m m", "B": "matrix m n", "C": "matrix n m", "D": "matrix n n"}
    typed = infer(parse_expr("inv(block([[A, B], [C, D]])) @ block([[A, 0], [0, D]])"), decls)
    assert typed.shape == (Sum(("m", "n")), Sum(("m", "n")))
    text = to_text(typed.expr)
    assert text == "inv(block([[A, B], [C, D]])) @ block([[A, 0], [0, D]])"
    assert infer(parse_expr(text), decls).expr == typed.expr
    assert r"\begin{bmatrix} A & B \\ C & D \end{bmatrix}" in to_latex(typed.expr)


def test_block_matrix_evaluates_like_numpy_block():
    from matident.evaluate import evaluate
    from matident.parse import parse_expr
    from matident.shapes import infer
    decls = {"A": "matrix m m", "B": "matrix m n", "C": "matrix n m", "D": "matrix n n"}
    rng = np.random.default_rng(0)
    v = {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((3, 2)),
         "C": rng.standard_normal((2, 3)), "D": rng.standard_normal((2, 2))}
    full = infer(parse_expr("block([[A, B], [C, D]])"), decls)
    assert np.array_equal(evaluate(full.expr, v, {"m": 3, "n": 2}),
                          np.vstack([np.hstack([v["A"], v["B"]]), np.hstack([v["C"], v["D"]])]))
    diag = infer(parse_expr("block([[A, 0], [0, D]])"), decls)
    out = evaluate(diag.expr, v, {"m": 3, "n": 2})
    assert out.shape == (5, 5) and not out[:3, 3:].any() and not out[3:, :3].any()


@pytest.mark.parametrize("text, message", [
    ("block([[A, B], [B, D]])", "block column 1"),
    ("block([[A, C], [C, D]])", "block row 1"),
    ("block([[0, 0], [C, D]])", "only zero blocks"),
    ("block([[A, B], [C]])", "different numbers of blocks"),
    ("block(A, B)", "a list of lists of blocks"),
    ("block([A, B])", "a list of lists of blocks"),
])
def test_block_matrix_shape_errors_name_the_problem(text, message):
    from matident.errors import MatidentError
    from matident.parse import parse_expr
    from matident.shapes import infer
    decls = {"A": "matrix m m", "B": "matrix m n", "C": "matrix n m", "D": "matrix n n"}
    with pytest.raises(MatidentError) as info:
        infer(parse_expr(text), decls)
    assert message in str(info.value)


def test_lookup_of_a_block_determinant_finds_the_schur_complement_forms():
    matches = matident.lookup("det(block([[P, Q], [R, T]]))",
                              symbols={"P": "matrix k k", "Q": "matrix k l", "R": "matrix l k",
                                       "T": "matrix l l"})
    ids = [m.identity.id for m in matches]
    assert "block-determinant-schur-complement-of-a11" in ids


# -- 6. lookup of rewritten left-hand sides ----------------------------------------------

def test_lookup_sum_of_hadamard_product_finds_the_trace_form_and_its_gradient():
    matches = matident.lookup("sum(A * B)", wrt="A", symbols={"A": "matrix m n", "B": "matrix m n"})
    ids = [m.identity.id for m in matches]
    assert ids[0] == "sum-hadamard-ax-derivative"
    assert "sum-of-hadamard-product-is-trace" in ids
    rewrite = next(m for m in matches if m.identity.id == "sum-of-hadamard-product-is-trace")
    assert rewrite.conditions == ()


@pytest.mark.parametrize("query", ["tr(X @ X @ X)", "tr(matpow(X, 3))"])
def test_lookup_cube_as_product_or_power_finds_eq_121(query):
    matches = matident.lookup(query, wrt="X", symbols={"X": "matrix n n"})
    best = matches[0]
    assert 121 in best.identity.cookbook and best.conditions == ()


def test_lookup_det_xtgx_with_a_nonsymmetric_g_offers_forms_without_symmetry():
    matches = matident.lookup("det(X.T @ G @ X)", wrt="X", symbols={"X": "matrix n n", "G": "matrix n n"})
    found = {m.identity.id: m for m in matches}
    assert found["det-xtax-square-derivative"].conditions == ("X is invertible",)     # eq 52
    assert "G is symmetric" in found["det-xtax-symmetric-derivative"].conditions     # eq 53


def test_lookup_of_an_expectation_binds_the_random_vector_only_to_itself():
    decls = {"y": "vector k", "mu": "vector k", "C": "spd k", "Q": "matrix k k"}
    matches = matident.lookup("expect(y.T @ Q @ y, y, mu, C)", symbols=decls)
    whole = [m for m in matches if "expect" in str(m).split("=")[0]]
    assert whole and whole[0].identity.id == "expectation-of-quadratic-form"
    # a linear-form record must not bind its coefficient to Q @ y (which contains y)
    assert not any(m.identity.id == "mean-of-weighted-sum" for m in whole)


@pytest.mark.parametrize("query, record", [
    ("kron(Z, Z @ B)", "differential-kronecker-product"),
    ("Z * (A @ Z)", "differential-hadamard-product"),
    ("kron(Z, inv(Z))", "differential-kronecker-product"),
    ("kron(Z @ B, Z)", "differential-kronecker-product"),
])
def test_lookup_product_rule_with_a_factor_that_depends_on_the_variable(query, record):
    """The product rule binds a factor to an expression of Z; its differential is the
    catalogue's (a lookup of it), and the result agrees with finite differences."""
    from matident.evaluate import evaluate
    decls = {"Z": "matrix n n invertible", "A": "matrix n n", "B": "matrix n n"}
    matches = matident.lookup(query, wrt="Z", symbols=decls)
    best = next(m for m in matches if m.whole and m.identity.kind == "differential")
    assert best.identity.id == record and best.conditions == ()
    from matident.parse import parse_expr
    from matident.shapes import infer
    lhs = infer(parse_expr(query), decls).expr
    rng = np.random.default_rng(7)
    n = 3
    values = {"Z": rng.standard_normal((n, n)) + 3 * np.eye(n), "A": rng.standard_normal((n, n)),
              "B": rng.standard_normal((n, n))}
    direction = rng.standard_normal((n, n))
    fd = V.directional_derivative(lambda z: evaluate(lhs, {**values, "Z": z}, {"n": n}),
                                  values["Z"], direction)
    got = evaluate(best.result_tree, {**values, "dZ": direction}, {"n": n})
    assert np.allclose(got, fd, rtol=1e-6, atol=1e-8)
