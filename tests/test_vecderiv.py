"""Jacobians of matrix-valued functions (vec F by vec X) and Hessians with respect to matrices.

Every case is checked here against central differences of vec F computed with
matident's numpy evaluator, independently of derive's own check; Hessians must
also be symmetric, and the printed result must parse back to the same matrix.
"""
import numpy as np
import pytest

import matident
from matident.derive import derive
from matident.errors import DeriveError
from matident.evaluate import EvaluationError, evaluate
from matident.parse import parse_expr
from matident.shapes import infer
from matident.verify import draw_sizes, draw_value

INV = {"X": "matrix n n invertible"}

# (expression, wrt, symbols, order, expected text or None, Cookbook equation or source)
CASES = [
    # matrix-valued functions: d vec(F) = J d vec(X)
    ("A @ X @ B", "X", None, 1, "kron(B.T, A)", "Cookbook eq 520"),
    ("A @ X", "X", None, 1, "kron(eye(X.T), A)", "Cookbook eq 520, B = I"),
    ("X @ B", "X", None, 1, "kron(B.T, eye(X))", "Cookbook eq 520, A = I"),
    ("A @ X @ x", "X", None, 1, "kron(x.T, A)", "Cookbook eq 520"),
    ("a.T @ X", "X", None, 1, "kron(eye(X.T), a.T)", "Cookbook eq 520"),
    ("X.T", "X", None, 1, "commutation(X)", "Magnus-Neudecker ch. 3.7"),
    ("vec(X)", "X", None, 1, "eye(vec(X))", "vec is linear"),
    ("inv(X)", "X", INV, 1, "-kron(inv(X.T), inv(X))", "Cookbook eqs 59 and 520"),
    ("inv(X) @ A", "X", INV, 1, "-kron(A.T @ inv(X.T), inv(X))", "Cookbook eqs 59 and 520"),
    ("X @ X", "X", None, 1, "kron(X.T, eye(X)) + kron(eye(X), X)", "Cookbook eq 520"),
    ("matpow(X, 3)", "X", None, 1, None, "Cookbook eq 520"),
    ("X.T @ A @ X", "X", None, 1, None, "Cookbook eq 520 and the commutation matrix"),
    ("X.T @ X", "X", None, 1, None, "Cookbook eq 520 and the commutation matrix"),
    ("X @ inv(A) @ X.T", "X", {"A": "spd n"}, 1, None, "Cookbook eq 520 and the commutation matrix"),
    ("X * X", "X", None, 1, "2 * diag(vec(X))", "Hadamard product"),
    ("exp(A @ X)", "X", None, 1, "diag(vec(exp(A @ X))) @ kron(eye(X.T), A)", "elementwise of A X"),
    ("sigmoid(A @ X)", "X", None, 1, None, "elementwise of A X"),
    ("log(X)", "X", {"X": "matrix m n positive"}, 1, None, "elementwise"),
    ("x @ x.T", "x", None, 1, "kron(x, eye(x)) + kron(eye(x), x)", "outer product"),
    ("det(X) * inv(X)", "X", INV, 1, None, "Cookbook eqs 49, 59 (the adjugate)"),
    ("inv(X.T @ X) @ X.T", "X", {"X": "matrix m n"}, 1, None, "pseudo-inverse of a tall X"),
    ("tr(X) * X", "X", None, 1, None, "a varying scalar times a matrix"),
    ("diag(x)", "x", None, 1, None, "diagonal matrix of a vector"),
    ("A @ diag(x) @ B", "x", None, 1, None, "Cookbook eq 520 and diag"),
    ("diagvec(X)", "X", None, 1, None, "diagonal of a matrix"),
    # Hessians with respect to vec X
    ("tr(X.T @ A @ X)", "X", None, 2, "kron(eye(X.T), A + A.T)", "Cookbook eq 111, then eq 520"),
    ("logdet(X)", "X", INV, 2, "-kron(inv(X), inv(X.T)) @ commutation(X)", "Cookbook eq 57, then 59"),
    ("logdet(X)", "X", {"X": "spd n"}, 2, "-kron(inv(X), inv(X))", "symmetric convention"),
    ("norm(A @ X - B) ** 2", "X", None, 2, "2 * kron(eye(X.T), A.T @ A)", "least squares"),
    ("tr(inv(X) @ A)", "X", INV, 2, None, "Cookbook eq 63, then 59"),
    ("a.T @ X @ X.T @ b", "X", None, 2, "kron(eye(X.T), a @ b.T + b @ a.T)", "Cookbook eq 77"),
    ("tr(X @ X)", "X", None, 2, "2 * commutation(X)", "Cookbook eq 101"),
    ("sum(exp(X))", "X", None, 2, "diag(vec(exp(X)))", "elementwise"),
    ("tr(A @ X @ B @ X.T)", "X", None, 2, "kron(B, A.T) + kron(B.T, A)", "Cookbook eq 116"),
    ("norm(X) ** 2", "X", None, 2, "2 * eye(vec(X))", "Cookbook eq 118"),
    ("tr(S @ X) - logdet(X)", "X", {"X": "spd n", "S": "symmetric n"}, 2, "kron(inv(X), inv(X))",
     "Gaussian log-likelihood"),
]
IDS = [f"{e} d{w} o{o}" for e, w, _, o, _, _ in CASES]


def _instance(d, seed):
    rng = np.random.default_rng(seed)
    symbols = {n: s for n, s in d.symbols.items() if n != f"d{d.wrt}"}
    for _ in range(30):
        sizes = draw_sizes(symbols, rng)
        try:
            values = {n: draw_value(s, sizes, rng) for n, s in symbols.items()}
            evaluate(d.expr, values, sizes)
            return values, sizes, rng
        except EvaluationError:
            continue
    raise AssertionError("no valid instance")


def _vec(a):
    return a.reshape(-1, 1, order="F")


def _fd_jacobian(f, x0, structure):
    """Column k: central difference of vec f along the k-th basis direction (symmetrised for symmetric X)."""
    h = 1e-5
    cols = []
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = 1.0
        v = e.reshape(x0.shape, order="F")
        if "symmetric" in structure:
            v = (v + v.T) / 2
        cols.append(_vec((f(x0 + h * v) - f(x0 - h * v)) / (2 * h))[:, 0])
    return np.array(cols).T


@pytest.mark.parametrize("expr, wrt, symbols, order, expected, source", CASES, ids=IDS)
def test_against_finite_differences_of_vec_f(expr, wrt, symbols, order, expected, source):
    d = derive(expr, wrt, symbols=symbols, order=order)
    assert d.what == ("hessian" if order == 2 else "jacobian")
    if expected is not None:
        assert d.text == expected
    of = d.expr if order == 1 else d.gradient_expr
    x = d.symbols[wrt]
    for seed in (0, 1):
        values, sizes, _ = _instance(d, seed)
        x0 = values[wrt]
        jac = evaluate(d.result_expr, values, sizes)
        fd = _fd_jacobian(lambda v: evaluate(of, {**values, wrt: v}, sizes), x0, x.structure)
        f0 = evaluate(of, values, sizes)
        assert jac.shape == (f0.size, x0.size)
        test = jac.copy()
        if "symmetric" in x.structure:           # J acts on symmetric directions (the convention)
            sym = np.array([_vec((e.reshape(x0.shape, order="F") + e.reshape(x0.shape, order="F").T) / 2)[:, 0]
                            for e in np.eye(x0.size)]).T
            test = jac @ sym
        err = np.linalg.norm(test - fd) / max(np.linalg.norm(fd), 1e-12)
        assert err < 1e-6, (source, err)
        if order == 2 and "symmetric" not in x.structure:
            assert np.allclose(jac, jac.T, atol=1e-9 * max(1.0, np.abs(jac).max())), "a Hessian is symmetric"
    assert d.check().ok


@pytest.mark.parametrize("expr, wrt, symbols, order, expected, source", CASES, ids=IDS)
def test_printed_result_parses_back_to_the_same_matrix(expr, wrt, symbols, order, expected, source):
    d = derive(expr, wrt, symbols=symbols, order=order)
    decls = {n: s for n, s in d.symbols.items() if n != f"d{wrt}"}
    again = infer(parse_expr(d.text), decls).expr
    values, sizes, _ = _instance(d, 3)
    assert np.allclose(evaluate(again, values, sizes), evaluate(d.result_expr, values, sizes))


def test_at_least_25_cases():
    assert len(CASES) >= 25
    assert sum(1 for c in CASES if c[3] == 2) >= 10


@pytest.mark.parametrize("expr, wrt, symbols, order, expected, source",
                         [c for c in CASES if c[3] == 2], ids=[i for i, c in zip(IDS, CASES) if c[3] == 2])
def test_second_differential_is_the_hessian_bilinear_form(expr, wrt, symbols, order, expected, source):
    """d2f(V) = vec(V).T @ H @ vec(V) = the second directional derivative of f along V."""
    d = derive(expr, wrt, symbols=symbols, order=2)
    assert d.second_differential is not None and d.second_differential.has(f"d{wrt}")
    values, sizes, rng = _instance(d, 5)
    x0 = values[wrt]
    v = rng.standard_normal(x0.shape)
    if "symmetric" in d.symbols[wrt].structure:
        v = (v + v.T) / 2
    h = 1e-4
    f = [evaluate(d.expr, {**values, wrt: x0 + k * h * v}, sizes)[0, 0] for k in (-1, 0, 1)]
    fd = (f[0] - 2 * f[1] + f[2]) / h ** 2
    bilinear = evaluate(d.second_differential, {**values, f"d{wrt}": v}, sizes)[0, 0]
    hess = evaluate(d.result_expr, values, sizes)
    assert np.isclose(bilinear, (_vec(v).T @ hess @ _vec(v))[0, 0], rtol=1e-9)
    assert abs(bilinear - fd) <= 1e-4 * max(1.0, abs(fd))


def test_differential_is_exposed_and_linear_in_dx():
    d = derive("A @ X @ B", "X")
    assert str(d.differential) == "A @ dX @ B"
    assert str(derive("tr(A @ X)", "X").differential) == "tr(A @ dX)"
    assert str(derive("x.T @ x", "x").differential) == "2 * x.T @ dx" or derive("x.T @ x", "x").differential.has("dx")


def test_steps_cite_vec_records():
    d = derive("A @ X @ B", "X")
    cat = matident.catalogue()
    assert "vec-of-matrix-product" in [s.rule for s in d.steps]
    assert cat["vec-of-matrix-product"].cookbook == [520] or 520 in cat["vec-of-matrix-product"].cookbook
    assert "vec-of-transpose" in [s.rule for s in derive("X.T", "X").steps]


def test_no_vec_rule_is_a_clear_error():
    with pytest.raises(DeriveError, match="no vec rule"):
        derive("kron(X, B)", "X")


def test_language_pieces_evaluate():
    from matident.functions import FUNCTIONS
    m = np.arange(6.0).reshape(2, 3)
    k = FUNCTIONS["commutation"].numpy(m)
    assert np.array_equal(k @ _vec(m), _vec(m.T))
    assert np.array_equal(FUNCTIONS["eye"].numpy(m), np.eye(2))
    assert matident.latex("kron(eye(X.T), A) @ commutation(X)", {"X": "matrix m n", "A": "matrix p m"}) \
        == r"\left(\mathbf{I}_{X^{T}} \otimes A\right) \mathbf{K}_{X}"
