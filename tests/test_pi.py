"""The constant pi: parsed as a reserved bare name, a scalar, printed as ``pi`` and ``\\pi``,
evaluated as the nearest float, refused as a symbol name, and checked by the verifier."""
import math

import numpy as np
import pytest

import matident
from matident import expr as E
from matident.errors import DeclarationError, ParseError
from matident.evaluate import evaluate
from matident.parse import parse_expr
from matident.printing import to_latex, to_text
from matident.shapes import infer, parse_decl


@pytest.mark.parametrize("text", [
    "pi", "cos(pi)", "2 * pi * x", "sin(k * pi / 2) * Q", "(2 * pi) ** (-1 / 2)", "pi ** 2 * X",
    "exp(-pi * x.T @ x)", "cos(2 * pi * (t @ t.T) / n)", "x / pi", "-pi",
])
def test_text_round_trip(text):
    tree = parse_expr(text)
    assert "pi()" not in to_text(tree)
    assert parse_expr(to_text(tree)) == tree


def test_pi_is_a_node_of_its_own_not_a_symbol():
    tree = parse_expr("2 * pi")
    assert E.call("pi") in tuple(tree.walk())
    assert tree.symbols() == []


@pytest.mark.parametrize("text, latex", [
    ("pi", r"\pi"),
    ("2 * pi * x", r"2 \pi x"),
    ("cos(k * pi / 2)", r"\cos\left(\frac{\pi k}{2}\right)"),
    ("pi ** 2", r"\pi^{2}"),
])
def test_latex(text, latex):
    assert to_latex(parse_expr(text)) == latex


def test_pi_is_a_scalar():
    typed = infer(parse_expr("pi * X"), {"X": parse_decl("matrix m n")})
    assert typed.shape == ("m", "n")
    assert infer(parse_expr("pi"), {}).shape == (1, 1)
    assert infer(parse_expr("pi + x.T @ x"), {"x": parse_decl("vector n")}).shape == (1, 1)


@pytest.mark.parametrize("text, value", [
    ("cos(pi)", -1.0), ("sin(pi / 2)", 1.0), ("pi", math.pi), ("cos(2 * pi / 3)", -0.5),
    ("pi ** 2 / 6", math.pi ** 2 / 6),
])
def test_evaluation(text, value):
    out = evaluate(infer(parse_expr(text), {}).expr, {}, {})
    assert out.shape == (1, 1)
    assert abs(out[0, 0] - value) <= 4e-16 * max(1.0, abs(value))


def test_cos_pi_times_a_matrix_is_its_negative():
    X = np.arange(6.0).reshape(2, 3)
    out = evaluate(infer(parse_expr("cos(pi) * X"), {"X": parse_decl("matrix m n")}).expr,
                   {"X": X}, {"m": 2, "n": 3})
    np.testing.assert_allclose(out, -X, rtol=0, atol=1e-15)


@pytest.mark.parametrize("symbols, message", [
    ({"pi": "scalar"}, "MI010 'pi' cannot be declared: it is always the constant pi "
                       "(hint: give your symbol another name, e.g. pi_0 or PI)"),
    ({"pi": "matrix n n"}, "MI010 'pi' cannot be declared: it is always the constant pi "
                           "(hint: give your symbol another name, e.g. pi_0 or PI)"),
])
def test_a_symbol_named_pi_is_refused(symbols, message):
    for call in (lambda: matident.parse("x.T @ x", symbols=symbols),
                 lambda: matident.lookup("x.T @ x", symbols=symbols)):
        with pytest.raises(DeclarationError) as info:
            call()
        assert str(info.value) == message


def test_names_close_to_pi_are_ordinary_symbols():
    assert parse_expr("pi_0 * PI * Pi").symbols() == ["PI", "Pi", "pi_0"]


@pytest.mark.parametrize("text, fragment", [
    ("pi()", "'pi' is a constant, not a function (hint: write pi without parentheses)"),
    ("pi(x)", "'pi' is a constant, not a function (hint: write pi without parentheses, and * for a product)"),
    ("np.pi * x", "hint: write pi (a constant of the language)"),
    ("x / sin(pi)", "division by zero"),
    ("x / (1 + cos(pi))", "division by zero"),
    ("(pi - pi) ** -1", "division by zero"),
    ("pi ** 1000", "the power is not a number of at most 30 digits"),
])
def test_bad_uses_are_clear_errors(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_expr(text)
    assert fragment in str(info.value)


def test_a_nonzero_constant_with_pi_divides():
    assert to_text(parse_expr("x / sin(pi / 2)")) == "x / sin(pi / 2)"


def test_derivative_through_pi_is_checked():
    result = matident.derive("exp(-pi * x.T @ x)", "x", symbols={"x": "vector n"})
    assert str(result).splitlines()[-1] == "gradient: -2 * exp(-pi * (x.T @ x)) * pi * x"


@pytest.mark.parametrize("claim, verdict", [
    ("-2 * pi * exp(-pi * x.T @ x) * x", "RIGHT"),
    ("-pi * exp(-pi * x.T @ x) * x", "WRONG"),          # pi is a number to the checker, not a symbol
    ("-2 * exp(-pi * x.T @ x) * x", "WRONG"),
])
def test_claims_with_pi_are_judged_numerically(claim, verdict):
    report = str(matident.check("exp(-pi * x.T @ x)", "x", claim, symbols={"x": "vector n"}))
    assert f"verdict: {verdict}" in report


def test_the_docs_search_page_knows_every_reserved_name():
    """The search page canonicalises symbol names; a reserved name (pi, I, a function) must stay."""
    import re
    from pathlib import Path

    from matident.functions import FUNCTIONS
    js = (Path(__file__).resolve().parents[1] / "docs" / "_static" / "matident-search.js").read_text()
    listed = re.search(r"const FUNCTIONS = new Set\(\[(.*?)\]\)", js, re.S).group(1)
    typed = {name for name, fn in FUNCTIONS.items() if fn.written is None}   # norm2 is typed norm(X, 2)
    assert set(re.findall(r'"([^"]+)"', listed)) == typed | {"I", "inf"}


@pytest.mark.parametrize("text, wrt", [
    ("cos(pi) * X", None), ("pi", None), ("pi * I", None), ("tr(pi * X)", "X"),
    ("logdet(pi * X)", "X"), ("(2 * pi) ** (-1 / 2) * exp(-(x.T @ x) / 2)", "x"), ("kron(pi * A, X)", None),
])
def test_lookup_and_derive_take_pi_anywhere(text, wrt):
    """The normal form once indexed a constant's (absent) first argument: lookup raised IndexError."""
    list(matident.lookup(text, wrt))
    if wrt:
        assert "pi" in str(matident.derive(text, wrt)).splitlines()[-1]


def test_lookup_finds_the_cosine_form_of_the_ortho_skew_power():
    Q = "W @ kron(block([[0, -1], [1, 0]]), I) @ W.T"
    found = [m.identity.id for m in matident.lookup(f"matpow({Q}, k)",
                                                  symbols={"k": "scalar integer", "W": "orthogonal 2*m"})]
    assert found[0] == "ortho-skew-matrix-power-cosine-form"


def test_pi_is_known_to_be_positive():
    """inv(pi * Q) = adj(pi Q) / det(pi Q) needs pi Q invertible: true, since pi is positive."""
    first = list(matident.lookup("inv(pi * Q)", symbols={"Q": "orthogonal n"}))[0]
    assert first.identity.id == "inverse-via-adjugate" and not first.conditions


@pytest.mark.parametrize("rid", ["dft-twiddle-factor-half-period-real-representation",
                                 "ortho-sym-matrix-power-cosine-form"])
def test_a_record_with_pi_is_found_by_its_own_lhs(rid):
    """The index once left a bare constant out of a query's functions while the record's
    pattern required it, so no record with pi inside a function could be found."""
    record = matident.catalogue()[rid]
    symbols = {name: str(decl) for name, decl in record.symbols.items()}
    assert rid in [m.identity.id for m in matident.lookup(record.lhs_text, symbols=symbols)]
