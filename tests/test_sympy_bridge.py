"""Tests of matident.sympy_bridge: term trees <-> SymPy matrix expressions."""
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from sympy import (Determinant, DiagMatrix, DiagonalOf, HadamardPower, HadamardProduct, Identity,
                   ImmutableMatrix, Inverse, KroneckerProduct, MatMul, MatPow, MatrixSymbol,
                   OneMatrix, Trace, ZeroMatrix)
from sympy.matrices.expressions.matexpr import MatrixElement

from matident import expr as E
from matident import sympy_bridge
from matident.errors import MatidentError, ParseError
from matident.evaluate import evaluate
from matident.functions import FUNCTIONS
from matident.parse import parse_expr
from matident.printing import to_text
from matident.shapes import Decl, Prod, dim_size, infer
from matident.sympy_bridge import (Adjugate, DiagVec, Elementwise, Entry, LogDet,
                                   MatrixExponential, MatrixSquareRoot, Norm,
                                   PseudoInverse, SumEntries, Vec, WITHOUT_SYMPY_FORM, from_sympy,
                                   sigmoid, to_sympy)

n = sympy.Symbol("n", integer=True, positive=True)
m = sympy.Symbol("m", integer=True, positive=True)
A, B, X, Y = (MatrixSymbol(name, n, n) for name in "ABXY")
x, y = MatrixSymbol("x", n, 1), MatrixSymbol("y", n, 1)
alpha = sympy.Symbol("alpha", real=True)
beta = sympy.Symbol("beta", real=True)
# the declarations behind the SymPy objects above
DECLS = {"A": "matrix n n", "B": "matrix n n", "X": "matrix n n", "Y": "matrix n n",
         "x": "vector n", "y": "vector n"}


def typed(text, symbols=None):
    return infer(parse_expr(text), symbols, implicit=True)


def convert(text):
    t = typed(text, DECLS)
    return to_sympy(t.expr, t.symbols)


def sample(symbols, seed=0):
    """Values for declared symbols: positive entries, square matrices well conditioned."""
    rng = np.random.default_rng(seed)
    names = sorted({f for d in symbols.values() for dim in d.shape
                    for f in (dim.factors if isinstance(dim, Prod) else (dim,)) if isinstance(f, str)})
    sizes = {name: 2 + i % 3 for i, name in enumerate(names)}
    values = {}
    for name, d in sorted(symbols.items()):
        if d.kind == "scalar":
            values[name] = np.array([[2.0 if "integer" in d.words else rng.uniform(0.5, 1.5)]])
            continue
        r, c = dim_size(d.rows, sizes), dim_size(d.cols, sizes)
        value = rng.uniform(0.1, 1.0, (r, c))
        values[name] = value + r * np.eye(r) if r == c and r > 1 else value
    return values, sizes


# -- round trips -----------------------------------------------------------

SCALAR_K = {"k": "scalar integer"}

ROUND_TRIPS = [
    ("tr(A @ X @ B)", None),
    ("logdet(X)", None),
    ("log(x.T @ A @ x)", None),
    ("y / (x.T @ x)", None),
    ("X @ X", None),
    ("sigmoid(a.T @ x) * a", None),
    ("norm(A @ X - B) ** 2", None),
    ("kron(A, B)", None),
    ("unvec(vec(A @ X), B)", {"A": "matrix m n", "X": "matrix n p", "B": "matrix m p"}),
    ("unvec(v, X)", {"v": "vector m*n", "X": "matrix m n"}),
    ("vec(A @ X @ B)", None),
    ("diag(x) @ y", None),
    ("exp(x) / sum(exp(x))", None),
    ("adj(X)", None),
    ("det(expm(A + B)) * tr(logm(X @ X.T + I))", None),
    ("sqrtm(X @ X.T + I) @ expm(-A)", None),
    ("cosm(A) @ sinm(B) + cos(X) * sin(Y)", None),
    ("cos(k * pi / 2) * X + sin(2 * pi * alpha) * I", SCALAR_K),
    ("(2 * pi) ** (-1 / 2) * exp(-(x.T @ x) / 2)", None),
    ("pinv(A)", None),
    ("matpow(X, k)", SCALAR_K),
    ("inv(A + U @ C @ V)", None),
    ("alpha * X + beta * I", None),
    ("det(X)", None),
    ("X.T", None),
    ("A * B", None),
    ("X * X", None),
    ("X * X * X * Y", None),
    ("x.T @ x", None),
    ("(x.T @ x) * A", None),
    ("alpha ** 2 + beta ** (1 / 2)", None),
    ("sqrt(x) + sqrt(alpha) * y", None),
    ("tanh(X) + abs(X)", None),
    ("log(alpha) + exp(beta) - sigmoid(gamma)", None),
    ("diagvec(X) + x", None),
    ("kron(A, B) @ vec(X)", None),
    ("norm(x)", None),
    ("sum(X * Y)", None),
    ("2 * X - 0.5 * Y", None),
    ("1.5e0 * X", None),
    ("inv(X).T", None),
    ("matpow(X, 3) @ inv(X)", None),
    ("x.T @ A @ x + alpha", None),
    ("tr(X) * inv(X).T", None),
    ("det(X) ** -1", None),
    ("logdet(A.T @ A)", None),
    ("exp(-alpha * x.T @ x)", None),
    ("kron(kron(A, B), C)", None),
    ("vec(X).T @ vec(X)", None),
    ("X @ inv(X) + A", None),
    ("tr(sigmoid(X))", None),
    ("log(det(X))", None),
    ("x * y + z", None),
    ("(alpha + beta) * x", None),
    ("-X", None),
    ("pinv(A) @ A", None),
    ("adj(X) @ X", None),
    ("diag(exp(x))", None),
    ("tr(alpha * beta)", None),
    ("log(x.T @ x).T + alpha", None),
    ("x.T @ y @ z.T", None),
    ("alpha @ x.T", None),
    ("(x.T @ x) * (y.T @ y)", None),
    ("2 * (A + B)", None),
    ("exp(1) * X", None),
    ("A @ x + b", {"A": "matrix m n", "x": "vector n", "b": "vector m"}),
    ("logdet(S) + tr(inv(S) @ W)", {"S": "spd n", "W": "matrix n n"}),
    ("matpow(X, -2) @ X", None),
    ("lam * norm(w) ** 2 + sum(log(1 + exp(-w)))", None),
    ("hpow(X, 3) + hpow(x.T @ x, alpha) * ones(X)", None),
    ("hpow(X, -1 / 2) * hpow(X, beta)", None),
    ("ones(x).T @ y + sum(X) + tr(ones(X).T @ X)", None),
    ("ones(A) @ B", {"A": "matrix n m", "B": "matrix m p"}),
    ("X * ones(X) + ones(alpha) * Y", None),
    # SymPy distributes numbers over sums and combines ones(1, n) ones(n, 1) into n
    ("-2 * (X - W @ H) @ H.T", None),
    ("-2 * (alpha - x.T @ b) * b", None),
    ("(a @ b.T - b @ a.T) / 2", None),
    ("I - ones(u) @ ones(u).T / (ones(u).T @ ones(u))", None),
    # the vec-Jacobian pieces: a commutation matrix, an identity sized by an expression
    ("kron(eye(X.T), A) @ commutation(X) + kron(B, A) @ kron(eye(X.T), eye(X))", {"X": "matrix m n", "A": "matrix p m",
                                                              "B": "matrix n n"}),
]


def test_round_trip_list_covers_every_function():
    used = {node.op for text, symbols in ROUND_TRIPS for node in parse_expr(text).walk()}
    assert set(FUNCTIONS) - WITHOUT_SYMPY_FORM <= used
    assert {E.NUM, E.SYM, E.IDENT, E.MATMUL, E.MUL, E.ADD, E.POW, E.TRANSPOSE} <= used
    assert len(ROUND_TRIPS) >= 40


@pytest.mark.parametrize("text, symbols", ROUND_TRIPS, ids=[t for t, _ in ROUND_TRIPS])
def test_round_trip(text, symbols):
    t = typed(text, symbols)
    s = to_sympy(t.expr, t.symbols)
    back, decls = from_sympy(s)
    assert to_sympy(back, decls) == s
    # the declarations come back (without structure words, which SymPy cannot hold)
    for name, decl in decls.items():
        original = t.symbols[name]
        assert (decl.kind, decl.shape) == (original.kind, original.shape)
    # and the tree means the same: compare numerically
    values, sizes = sample(t.symbols)
    expected = evaluate(t.expr, values, sizes)
    got = evaluate(back, values, sizes)
    assert got.shape == expected.shape or got.size == expected.size == 1
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-8, atol=1e-10)


# -- to_sympy ---------------------------------------------------------------

def test_symbols_and_dimensions():
    t = typed("alpha * A @ x + k * b", {"A": "matrix m n", "x": "vector n", "b": "vector m",
                                        "alpha": "scalar positive", "k": "scalar integer"})
    s = to_sympy(t.expr, t.symbols)
    # m and n are the integer positive symbols defined above
    assert s.atoms(MatrixSymbol) == {MatrixSymbol("A", m, n), MatrixSymbol("x", n, 1),
                                     MatrixSymbol("b", m, 1)}
    scalars = {sym.name: sym for sym in s.free_symbols if isinstance(sym, sympy.Symbol)}
    assert set(scalars) == {"alpha", "k"}
    assert scalars["alpha"].is_positive and scalars["alpha"].is_real
    assert scalars["k"].is_integer and scalars["k"].is_positive is None


def test_product_dimensions():
    t = typed("kron(A, B) @ v", {"A": "matrix m n", "B": "matrix p q"})
    s = to_sympy(t.expr, t.symbols)
    p, q = (sympy.Symbol(d, integer=True, positive=True) for d in "pq")
    assert s.shape == (m * p, 1)
    assert MatrixSymbol("v", n * q, 1) in s.atoms(MatrixSymbol)


def test_declarations_may_be_text():
    assert to_sympy(parse_expr("tr(X)"), {"X": "matrix n n"}) == Trace(X)


def test_operators_become_sympy_classes():
    assert convert("tr(A @ X)") == Trace(A * X)
    assert convert("det(X)") == Determinant(X)
    assert convert("inv(X)") == Inverse(X)
    assert convert("X @ X") == MatPow(X, 2)
    assert convert("X.T @ A") == X.T * A
    assert convert("A + X") == A + X
    assert convert("A * X") == HadamardProduct(A, X)
    assert convert("X * X") == HadamardPower(X, 2)
    assert convert("hpow(X, alpha)") == HadamardPower(X, alpha)
    assert convert("hpow(alpha, 2)") == alpha ** 2
    assert convert("ones(A @ x)") == HadamardPower(A * x, 0)      # ones(M) keeps M: it reads back sized
    assert convert("ones(alpha)") == 1
    assert convert("alpha * X") == alpha * X
    assert convert("alpha * beta") == alpha * beta
    assert convert("kron(A, B)") == KroneckerProduct(A, B)
    assert convert("diag(x)") == DiagMatrix(x)
    assert convert("X + I") == X + Identity(n)
    assert convert("X - X") == ZeroMatrix(n, n)


def test_no_deep_rewriting():
    # SymPy's operators would call doit() and expand these
    assert convert("(A @ B).T") == sympy.Transpose(A * B)
    assert convert("tr(A + B)") == Trace(A + B)
    assert convert("det(A @ B)") == Determinant(A * B)


def test_functions_sympy_lacks():
    assert convert("logdet(X)") == LogDet(X)
    assert convert("adj(X)") == Adjugate(X)
    assert convert("pinv(A)") == PseudoInverse(A)
    assert convert("sum(X)") == SumEntries(X)
    assert convert("norm(X)") == Norm(X)
    assert convert("vec(X)") == Vec(X)
    assert convert("diagvec(X)") == DiagVec(X)
    assert convert("log(X)") == Elementwise("log", X)
    assert convert("sigmoid(alpha)") == sigmoid(alpha)


def test_scalar_functions_of_scalars():
    assert convert("log(alpha)") == sympy.log(alpha)
    assert convert("exp(alpha)") == sympy.exp(alpha)
    assert convert("sqrt(alpha)") == sympy.sqrt(alpha)
    assert convert("tanh(alpha)") == sympy.tanh(alpha)
    assert convert("abs(alpha)") == sympy.Abs(alpha)


def test_one_by_one_matrices_become_scalars_where_needed():
    quad = Entry(x.T * A * x, 0, 0)
    assert isinstance(quad, MatrixElement) and str(quad) == "(x.T*A*x)[0, 0]"
    assert convert("log(x.T @ A @ x)") == sympy.log(quad)
    assert convert("y / (x.T @ x)") == MatMul(1 / Entry(x.T * x, 0, 0), y)
    assert convert("(x.T @ A @ x) * A") == MatMul(quad, A)
    assert convert("(x.T @ A @ x) ** 2") == quad ** 2
    assert convert("x.T @ A @ x + 1") == quad + 1
    # a 1x1 matrix stays a matrix where nothing needs a scalar
    assert convert("x.T @ A @ x") == x.T * A * x
    assert convert("2 * x.T @ A @ x") == 2 * x.T * A * x


def test_entries_survive_sympy_arithmetic_and_doit():
    s = convert("y / (x.T @ A @ x) + log(x.T @ x) * x")
    for e in (2 * s, s.doit(), (s.T * x).doit()):
        assert not e.has(sympy.Sum)
        back, decls = from_sympy(e)
        assert to_sympy(back, decls) == e
    assert Entry(ImmutableMatrix([[alpha]]), 0, 0) == alpha
    # doit() keeps scalar factors outside the entry
    assert Entry(MatMul(alpha, x.T, x), 0, 0).doit() == alpha * Entry(x.T * x, 0, 0)
    assert Entry(MatMul(OneMatrix(1, n), OneMatrix(n, 1)), 0, 0).doit() == n


def test_scalars_become_matrices_where_sympy_needs_one():
    assert convert("tr(alpha)") == Trace(ImmutableMatrix([[alpha]]))


def test_elementwise_functions_are_not_sympy_matrix_functions():
    s = convert("exp(X)")
    assert isinstance(s, Elementwise) and s.shape == (n, n)
    assert not isinstance(s, sympy.exp)


def test_to_sympy_needs_declarations():
    with pytest.raises(ParseError) as info:
        to_sympy(parse_expr("tr(X)"), {})
    assert info.value.code == "MI007"
    with pytest.raises(MatidentError):
        to_sympy(parse_expr("tr(X)"), {"X": "matrix n"})


def test_to_sympy_needs_identity_dimensions():
    with pytest.raises(MatidentError):
        to_sympy(parse_expr("X + I"), {"X": Decl("matrix", "n", "n")})


def test_to_sympy_checks_shapes():
    with pytest.raises(MatidentError) as info:
        to_sympy(parse_expr("A + B"), {"A": "matrix n n", "B": "matrix m m"})
    assert info.value.code == "MI008"


# -- from_sympy -------------------------------------------------------------

def converts_to(e, text):
    """``from_sympy(e)`` is the tree of ``text`` (compared as printed: identities have no size)."""
    return to_text(from_sympy(e)[0]) == to_text(parse_expr(text))


def test_sympy_rewrites_are_understood():
    assert converts_to(X * X, "matpow(X, 2)")
    assert converts_to(X.I * X.I, "matpow(X, -2)")
    assert converts_to(2 * A * X, "2 * (A @ X)")
    assert converts_to(-X, "-X")
    assert converts_to(X / 2, "X / 2")
    assert converts_to(sympy.hadamard_product(X, X, Y), "hpow(X, 2) * Y")
    assert converts_to(HadamardPower(X, 3), "hpow(X, 3)")
    assert converts_to(HadamardPower(X, alpha), "hpow(X, alpha)")
    assert converts_to(X.T * X.I, "X.T @ inv(X)")
    assert converts_to(Trace(A * X) + Determinant(X), "det(X) + tr(A @ X)")
    assert converts_to(KroneckerProduct(A, B, X), "kron(kron(A, B), X)")
    assert converts_to(DiagonalOf(X), "diagvec(X)")
    assert converts_to(x.T * A * x, "x.T @ A @ x")
    assert converts_to(sympy.sqrt(alpha), "alpha ** (1 / 2)")
    assert converts_to(sympy.Float(0.25) * alpha, "0.25e0 * alpha")
    assert converts_to(sympy.E * alpha, "exp(1) * alpha")
    assert converts_to(sympy.pi * alpha, "pi * alpha")
    assert converts_to(sympy.cos(sympy.pi * alpha / 2), "cos(pi * alpha / 2)")
    assert converts_to(Identity(n) + X, "I + X")


def test_pi_is_sympy_pi_both_ways():
    t = typed("cos(k * pi / 2) * X", {**DECLS, **SCALAR_K})
    k = sympy.Symbol("k", real=True, integer=True)
    assert to_sympy(t.expr, t.symbols) == sympy.cos(sympy.pi * k / 2) * X
    assert convert("cos(pi) * X") == -X and convert("sin(pi) * alpha") == 0     # exact in SymPy
    tree, decls = from_sympy(sympy.pi)
    assert (tree, decls) == (E.call("pi"), {}) and to_text(tree) == "pi"


def test_matrix_elements_of_one_by_one_matrices():
    assert converts_to(sympy.log(MatrixElement(x.T * A * x, 0, 0)), "log(x.T @ A @ x)")
    k = MatrixSymbol("k", 1, 1)
    tree, decls = from_sympy(MatPow(X, MatrixElement(k, 0, 0)))
    assert tree == parse_expr("matpow(X, k)")
    assert decls["k"] == Decl("vector", 1, 1)
    assert converts_to(ImmutableMatrix([[alpha]]), "alpha")
    assert converts_to(ZeroMatrix(1, 1), "0")
    assert converts_to(OneMatrix(1, 1), "1")
    assert converts_to(Identity(1) * alpha, "alpha")


def test_one_matrices():
    assert converts_to(OneMatrix(n, n), "ones(I)")
    # a symbol of the shape (or of the transposed shape) gives ones its sizes
    assert converts_to(OneMatrix(1, n) * x, "ones(x.T) @ x")
    C = MatrixSymbol("C", m, n)
    tree, decls = from_sympy(OneMatrix(n, m) * C)
    assert to_text(tree) == "ones(C.T) @ C"
    assert to_sympy(tree, decls) == HadamardPower(C.T, 0) * C
    # without one, identities of the sizes
    tree, _ = from_sympy(OneMatrix(n, m) * MatrixSymbol("D", m, m))
    assert to_text(tree) == to_text(parse_expr("ones(diagvec(I) @ diagvec(I).T) @ D"))


def test_ones_and_zeros_of_a_symbol_keep_it_both_ways():
    """ones(x) and 0 * ones(x) read back with x's sizes (not ones of an identity of unknown size)."""
    for text in ("ones(x)", "0 * ones(x)", "ones(A @ x)"):
        tree, _ = from_sympy(convert(text))
        assert to_text(tree) == text
    tree, _ = from_sympy(convert("2 + X"))          # typed as 2 * ones(X) + X, printed as written
    assert to_text(tree) in ("2 + X", "X + 2")
    assert converts_to(HadamardProduct(ZeroMatrix(n, 1), x, evaluate=False), "0 * ones(x)")


def test_dimensions_used_as_numbers():
    # SymPy turns ones(1, n) ones(n, 1) x.T x into n x.T x; n is the dimension of x
    e = MatMul(OneMatrix(1, n), OneMatrix(n, 1), x.T, x, evaluate=True)
    assert e == n * x.T * x
    tree, decls = from_sympy(e)
    assert to_text(tree) == to_text(parse_expr("tr(I) * (x.T @ x)"))
    assert to_sympy(tree, decls) == e


def test_scalar_functions_of_one_by_one_matrices():
    assert converts_to(sympy.log(x.T * x), "log(x.T @ x)")


def test_declarations_are_recovered():
    k = sympy.Symbol("k", integer=True, positive=True)
    beta = sympy.Symbol("beta", nonzero=True)
    C = MatrixSymbol("C", m, n)
    v = MatrixSymbol("v", m * n, 1)
    _, decls = from_sympy(k * beta * alpha * C * x)
    assert decls == {"k": Decl("scalar", 1, 1, ("integer", "positive")),
                     "beta": Decl("scalar", 1, 1, ("nonzero",)),
                     "alpha": Decl("scalar"),
                     "C": Decl("matrix", "m", "n"),
                     "x": Decl("vector", "n", 1)}
    _, decls = from_sympy(MatrixSymbol("D", 3, 3) * MatrixSymbol("b", 3, 1))
    assert decls == {"D": Decl("matrix", 3, 3), "b": Decl("vector", 3, 1)}
    _, decls = from_sympy(v.T * Vec(C))
    assert decls["v"] == Decl("vector", Prod(("m", "n")), 1)
    _, decls = from_sympy(Vec(X).T * MatrixSymbol("w", n ** 2, 1))
    assert decls["w"] == Decl("vector", Prod(("n", "n")), 1)


def test_numbers():
    assert from_sympy(sympy.Rational(3, 4))[0] == E.num(Fraction(3, 4))
    assert from_sympy(sympy.Integer(-2))[0] == E.num(-2)
    assert from_sympy(sympy.Float(1.25))[0] == E.num(1.25)


def test_own_classes_convert_back():
    for cls, name in [(LogDet, "logdet"), (Adjugate, "adj"), (PseudoInverse, "pinv"),
                      (SumEntries, "sum"), (Norm, "norm"), (Vec, "vec"), (DiagVec, "diagvec")]:
        assert converts_to(cls(X), f"{name}(X)")
    for name in ("log", "exp", "sqrt", "tanh", "sigmoid", "abs", "cos", "sin"):
        assert converts_to(Elementwise(name, X), f"{name}(X)")
    assert converts_to(sigmoid(alpha), "sigmoid(alpha)")


UNSUPPORTED = [
    sympy.tan(alpha),
    sympy.Integral(alpha, alpha),
    sympy.Sum(alpha, (alpha, 1, 3)),
    sympy.Derivative(sigmoid(alpha), alpha),
    sympy.Function("f")(alpha),
    sympy.Eq(alpha, 1),
    sympy.Piecewise((alpha, alpha > 0), (0, True)),
    sympy.Tuple(alpha),
    sympy.I, sympy.oo, sympy.zoo, sympy.nan, sympy.EulerGamma, sympy.GoldenRatio,
    sympy.tan(MatrixElement(x.T * x, 0, 0)),
    sympy.sin(X),
    sympy.log(X),                      # SymPy's matrix logarithm, not elementwise
    sympy.exp(X),
    sympy.Abs(X),
    sympy.Adjoint(X),                  # conjugate transpose, not the adjugate
    ImmutableMatrix([[1, 2], [3, 4]]),
    MatrixElement(X, 0, 1),
    MatPow(X, sympy.Rational(1, 2)),
    HadamardPower(X, Y),
    sympy.Symbol("z", imaginary=True),
    sympy.Wild("w"),
    sympy.Dummy("q"),
    MatrixSymbol("tr", n, n),
    MatrixSymbol("A", n, 0),
    MatrixSymbol("B", sympy.Symbol("N"), 2),
    (x.T * x) * sympy.Symbol("x"),     # one name, two declarations
    DiagMatrix(x.T),                   # diag of a row vector
    sympy.Matrix([[1]]),               # mutable matrices are not SymPy expressions
    "x + 1", None, 3,
]


@pytest.mark.parametrize("obj", UNSUPPORTED, ids=[str(u)[:30] for u in UNSUPPORTED])
def test_unsupported_objects_raise_matident_errors(obj):
    with pytest.raises(MatidentError):
        from_sympy(obj)


def deeply_nested(levels):
    e = X
    for _ in range(levels):
        e = sympy.Transpose(e)
    return e


@pytest.mark.parametrize("build", [
    lambda: sympy.Add(*sympy.symbols("a0:3000")),
    lambda: deeply_nested(5000),
    lambda: sympy.Tuple(deeply_nested(5000)),      # printing it for the message recurses
    lambda: MatrixElement(deeply_nested(5000), 0, 0),
    lambda: KroneckerProduct(*(MatrixSymbol(f"A{i}", 2, 2) for i in range(300))),
], ids=["wide", "deep", "deep-unsupported", "deep-entry", "long-kron"])
def test_size_limits(build):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)      # SymPy itself recurses while building some of these
    try:
        obj = build()
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(ParseError) as info:
        from_sympy(obj)
    assert info.value.code == "MI005"


def test_unsupported_objects_are_parse_errors_mi002():
    for obj in (sympy.tan(alpha), sympy.Integral(alpha, alpha), sympy.log(X), "x + 1"):
        with pytest.raises(ParseError) as info:
            from_sympy(obj)
        assert info.value.code == "MI002"


# -- the SymPy classes ----------------------------------------------------

def test_shapes_of_own_classes():
    C = MatrixSymbol("C", m, n)
    assert PseudoInverse(C).shape == (n, m)
    assert Vec(C).shape == (m * n, 1)
    assert DiagVec(X).shape == (n, 1)
    assert Adjugate(X).shape == (n, n)
    assert Elementwise("tanh", C).shape == (m, n)
    assert LogDet(X).is_commutative and not LogDet(X).is_Matrix


def test_own_classes_do_not_evaluate():
    one = Identity(n)
    for e in (LogDet(one), Adjugate(one), PseudoInverse(one), SumEntries(one), Norm(one),
              Vec(one), DiagVec(one), Elementwise("exp", ZeroMatrix(n, n)), sigmoid(0)):
        assert e.doit() == e
        assert type(e.doit()) is type(e)


def test_own_classes_check_their_arguments():
    with pytest.raises(MatidentError):
        LogDet(alpha)
    with pytest.raises(MatidentError):
        Adjugate(MatrixSymbol("C", 2, 3))
    with pytest.raises(MatidentError):
        Elementwise("tan", X)


def test_printing():
    C = MatrixSymbol("C", m, n)
    assert str(LogDet(X)) == "logdet(X)"
    assert sympy.latex(LogDet(X)) == r"\log\det\left(X\right)"
    assert sympy.latex(Adjugate(X)) == r"\operatorname{adj}\left(X\right)"
    assert sympy.latex(PseudoInverse(C)) == "C^{+}"
    assert sympy.latex(PseudoInverse(A * C.T)) == r"\left(A C^{T}\right)^{+}"
    assert sympy.latex(Vec(X)) == r"\operatorname{vec}\left(X\right)"
    assert sympy.latex(MatrixSquareRoot(A * X)) == r"\left(A X\right)^{1/2}"
    assert sympy.latex(MatrixExponential(X)) == "e^{X}"
    assert sympy.latex(Norm(x)) == r"\left\lVert x \right\rVert"
    assert sympy.latex(sigmoid(alpha)) == r"\sigma\left(\alpha\right)"
    assert sympy.latex(sigmoid(alpha) ** 2) == r"\left(\sigma\left(\alpha\right)\right)^{2}"
    assert str(sigmoid(alpha)) == "sigmoid(alpha)"
    assert str(Elementwise("exp", X)) == "exp(X)"
    assert str(DiagVec(X) + x) == "diagvec(X) + x"


def test_sigmoid_derivative_and_rewrite():
    t = sympy.Symbol("t", real=True)
    s = sigmoid(t)
    assert sympy.diff(s, t) == s * (1 - s)
    assert sympy.simplify(s.rewrite(sympy.exp) - 1 / (1 + sympy.exp(-t))) == 0


def test_no_sympify_eval_or_exec():
    source = Path(sympy_bridge.__file__).read_text()
    for word in ("sympify(", "eval(", "exec(", "parse_expr("):
        assert word not in source


def test_expectation_has_no_sympy_form_and_says_so():
    t = typed("expect(x.T @ A @ x, x, y, B @ B.T)", DECLS)
    with pytest.raises(ParseError) as info:
        to_sympy(t.expr, t.symbols)
    assert "expect() has no SymPy form" in str(info.value)
