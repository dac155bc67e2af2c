"""The expression language: grammar, declarations, shapes, printers."""
import pytest

from matident.errors import DeclarationError, MatidentError, ParseError, ShapeError
from matident.parse import parse_expr
from matident.printing import to_latex, to_text
from matident.shapes import infer, parse_decl

ROUND_TRIP = [
    "tr(A @ X @ B)", "-A @ B", "-(A @ B)", "x / (x.T @ x)", "2 * A @ x / (x.T @ A @ x)",
    "A - B + C", "-x.T @ A @ x + b.T @ x - c", "inv(X).T", "logdet(X)", "alpha ** -1",
    "3 * X / 2", "X / 2", "1e-3 * X", "kron(A, B)", "vec(A @ X @ B)", "(A @ B).T",
    "sigmoid(a.T @ x) * a", "norm(A @ X - B) ** 2", "-(x.T @ x) ** 2", "A * B * C",
    "(A + B) * C", "det(X) * inv(X).T", "matpow(X, k)", "hpow(X, 2) + ones(X)",
    "exp(x) / sum(exp(x))", "diag(x) @ y", "diagvec(X)", "adj(X) @ pinv(X)",
    "log(1 + exp(a.T @ x))", "sqrt(tanh(x) * abs(y))", "alpha * X + beta * I",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_text_round_trip(text):
    tree = parse_expr(text)
    assert parse_expr(to_text(tree)) == tree


def test_subtraction_and_division_are_canonical():
    assert parse_expr("A - B") == parse_expr("A + (-1) * B")
    assert parse_expr("X / 2") == parse_expr("0.5 * X")
    assert parse_expr("2 * 3 * X") == parse_expr("6 * X")


def test_matmul_is_associative_in_the_tree():
    assert parse_expr("(A @ B) @ C") == parse_expr("A @ (B @ C)")


@pytest.mark.parametrize("text, latex", [
    ("inv(X).T @ A", "X^{-T} A"),
    ("tr(A @ X @ B)", r"\operatorname{tr}\left(A X B\right)"),
    ("A * B", r"A \circ B"),
    ("kron(A, B)", r"A \otimes B"),
    ("x / (x.T @ x)", r"\frac{x}{x^{T} x}"),
    ("alpha * X", r"\alpha X"),
    ("lam * x1", r"\lambda x_{1}"),
    ("logdet(X)", r"\log\det\left(X\right)"),
])
def test_latex(text, latex):
    assert to_latex(parse_expr(text)) == latex


def test_shapes_are_inferred_from_names():
    typed = infer(parse_expr("x.T @ A @ x"), implicit=True)
    assert typed.shape == (1, 1)
    assert typed.symbols["x"].kind == "vector"
    assert typed.symbols["A"].shape == ("n", "n")
    assert infer(parse_expr("alpha * X"), implicit=True).symbols["alpha"].kind == "scalar"


def test_shape_mismatch_names_subexpression_and_shapes():
    with pytest.raises(ShapeError) as exc:
        infer(parse_expr("A @ x"), {"A": "matrix m n", "x": "vector m"})
    assert str(exc.value) == ("MI008 shape mismatch in 'A @ x': the left factor is mxn "
                              "but 'x' is mx1 (hint: the columns of the left factor must match "
                              "the rows of the right one; check transposes and declarations)")


def test_stars_on_an_array_are_elementwise_as_in_numpy():
    assert infer(parse_expr("X ** 2"), {"X": "square n"}).expr == parse_expr("hpow(X, 2)")
    assert infer(parse_expr("A / B"), {"A": "matrix m n", "B": "matrix m n"}).expr == \
        parse_expr("A * hpow(B, -1)")
    assert infer(parse_expr("1 / x"), {"x": "vector n"}).expr == parse_expr("hpow(x, -1)")


def test_a_scalar_to_a_matrix_power_suggests_matpow():
    with pytest.raises(ShapeError) as exc:
        infer(parse_expr("2 ** X"), {"X": "square n"})
    assert exc.value.code == "MI009"
    assert "matpow(X, k)" in str(exc.value)


@pytest.mark.parametrize("text, symbols, expected", [
    ("1 + exp(v)", None, "1 + exp(v)"),
    ("z - log(sum(exp(z)))", None, "z - log(sum(exp(z)))"),
    ("A @ w + c - y", {"c": "scalar"}, "A @ w + c - y"),
    ("(1 - t).T @ log(1 - p)", None, "(1 - t).T @ log(1 - p)"),
])
def test_scalars_broadcast_in_sums_and_print_back(text, symbols, expected):
    typed = infer(parse_expr(text), symbols, implicit=True)
    assert to_text(typed.expr) == expected
    assert "ones" in repr(typed.expr.args) or "ones" in str(typed.expr.walk) or any(
        n.op == "ones" for n in typed.expr.walk())
    again = infer(parse_expr(to_text(typed.expr)), symbols, implicit=True)
    assert again.expr == typed.expr


@pytest.mark.parametrize("text, fragment", [
    ("x + y.T", "numpy would broadcast"),
    ("X * y", "numpy would broadcast"),
    ("A @ x + y.T", "numpy would broadcast"),
])
def test_what_only_numpy_broadcasts_is_an_error_that_says_so(text, fragment):
    with pytest.raises(ShapeError) as exc:
        infer(parse_expr(text), None, implicit=True)
    assert fragment in str(exc.value)


@pytest.mark.parametrize("text, name", [
    ("x @ x", "x"),
    ("tr(x)", "x"),
    ("A @ x @ x", "A"),
])
def test_inference_never_fixes_a_dimension_of_an_undeclared_symbol_to_one(text, name):
    with pytest.raises(ShapeError) as exc:
        infer(parse_expr(text), None, implicit=True)
    assert f"'{name}'" in str(exc.value)


def test_a_declared_one_vector_is_allowed():
    typed = infer(parse_expr("x @ x"), {"x": "vector 1"}, implicit=True)
    assert typed.shape == (1, 1)


def test_logistic_loss_keeps_its_sample_dimension():
    typed = infer(parse_expr("sum(log(1 + exp(-y * (A @ w))))"), None, implicit=True)
    assert typed.symbols["A"].rows != 1 and typed.symbols["y"].rows == typed.symbols["A"].rows


def test_one_by_one_is_a_scalar():
    typed = infer(parse_expr("log(x.T @ A @ x) * y / (x.T @ x)"), implicit=True)
    assert typed.shape == (typed.symbols["y"].rows, 1)


def test_undeclared_symbol_in_records_mode():
    with pytest.raises(ParseError) as exc:
        infer(parse_expr("A @ B"), {"A": "matrix n n"})
    assert exc.value.code == "MI007"
    assert "'B' is not declared" in str(exc.value)


def test_unknown_function_suggests_a_name():
    with pytest.raises(ParseError) as exc:
        parse_expr("trace(X)")
    assert exc.value.code == "MI003"
    assert "(hint: write tr(X))" in str(exc.value)


def test_wrong_arity():
    with pytest.raises(ParseError, match="kron\\(\\) takes 2 arguments, got 1"):
        parse_expr("kron(A)")


@pytest.mark.parametrize("text, decl", [
    ("scalar", ("scalar", 1, 1, ())),
    ("vector n", ("vector", "n", 1, ())),
    ("matrix m n", ("matrix", "m", "n", ())),
    ("spd n", ("matrix", "n", "n", ("spd",))),
    ("matrix 3 3 symmetric invertible", ("matrix", 3, 3, ("invertible", "symmetric"))),
    ("scalar positive", ("scalar", 1, 1, ("positive",))),
])
def test_declarations(text, decl):
    d = parse_decl(text)
    assert (d.kind, d.rows, d.cols, d.words) == decl


def test_structure_implications():
    d = parse_decl("spd n")
    assert {"symmetric", "square", "invertible", "psd"} <= d.structure


@pytest.mark.parametrize("text, message", [
    ("matrix m n symmetric", "declares a square structure on a mxn matrix"),
    ("vector", "'vector' needs 1 dimension"),
    ("tensor n", "unknown declaration"),
    ("matrix n n shiny", "unknown structure word 'shiny'"),
    ("scalar symmetric", "does not apply to a scalar"),
    ("matrix n n symmetric skew", "both symmetric and skew"),
])
def test_bad_declarations(text, message):
    with pytest.raises(DeclarationError, match=message):
        parse_decl(text)


def test_errors_are_value_errors():
    assert issubclass(MatidentError, ValueError)
    for cls in (ParseError, ShapeError, DeclarationError):
        assert issubclass(cls, MatidentError)


@pytest.mark.parametrize("text, latex", [
    # a superscript on a group that already carries one is parenthesized (KaTeX refuses x^{+}^{T})
    ("pinv(B @ C).T", r"\left(\left(B C\right)^{+}\right)^{T}"),
    ("inv(sqrtm(M.T @ M))", r"\left(\left(M^{T} M\right)^{1/2}\right)^{-1}"),
    ("pinv((X @ Y).T)", r"\left(\left(X Y\right)^{T}\right)^{+}"),
    ("inv(A + B)", r"\left(A + B\right)^{-1}"),
    # a signed factor inside a product is parenthesized: juxtaposed it reads as a subtraction
    ("A @ (-x / y) @ B.T", r"A \left(-\frac{x}{y}\right) B^{T}"),
])
def test_latex_never_stacks_superscripts_or_hides_a_sign(text, latex):
    assert to_latex(parse_expr(text)) == latex


def test_the_catalogue_latex_has_no_double_superscript():
    """Every record's statement typesets: no '^{..}^' (KaTeX's 'Double superscript') and no '+ -'."""
    import re
    from matident.catalogue import catalogue
    bad = [(r.id, t) for r in catalogue() for t in [r.latex()]
           if re.search(r"\^\{[^{}]*\}\^", t) or "+ -" in t]
    assert not bad, bad[:2]
