"""Hostile text is refused with a MatidentError, quickly, and nothing is executed.

Each case names the error code it must give.  Every case is run through the
term-tree parser with shape inference (``parse_expr`` + ``infer``) and through
the public ``matident.parse`` (which also converts to SymPy).
"""
from __future__ import annotations

import time

import pytest

import matident
from matident.errors import MatidentError
from matident.parse import MAX_DEPTH, MAX_DIGITS, MAX_LENGTH, MAX_NODES, parse_expr
from matident.shapes import infer

SECOND = 1.0

HOSTILE = {
    "import-call": ("__import__('os').system('x')", "MI002"),
    "builtin-call": ("open('/etc/passwd')", "MI003"),
    "eval-call": ("eval('1')", "MI003"),
    "dunder-attribute": ("A.__class__", "MI002"),
    "dunder-chain": ("A.__class__.__mro__", "MI002"),
    "dunder-name": ("__builtins__", "MI006"),
    "list-comprehension": ("[x for x in A]", "MI002"),
    "generator": ("sum(x for x in A)", "MI002"),
    "dict-comprehension": ("{k: k for k in A}", "MI002"),
    "lambda": ("(lambda: 0)()", "MI002"),
    "f-string": ("f'{A}'", "MI002"),
    "subscript": ("A[0]", "MI002"),
    "slice": ("A[0:2]", "MI002"),
    "walrus": ("(A := B)", "MI002"),
    "string-literal": ("'A'", "MI002"),
    "bytes-literal": ("b'A'", "MI002"),
    "complex-literal": ("1j", "MI002"),
    "boolean-literal": ("True", "MI002"),
    "statement": ("import os", "MI001"),
    "two-statements": ("A; B", "MI001"),
    "nested-parentheses-10000": ("(" * 10_000 + "A" + ")" * 10_000, "MI005"),
    "nested-parentheses-65": ("(" * (MAX_DEPTH + 1) + "A" + ")" * (MAX_DEPTH + 1), "MI005"),
    "nested-calls": ("tr(" * 70 + "A" + ")" * 70, "MI005"),
    "unary-minus-9000": ("-" * 9_000 + "A", "MI005"),
    "transpose-3000": ("A" + ".T" * 3_000, "MI005"),
    "power-tower": ("10**10**10**10", "MI011"),
    "power-tower-scalar": ("alpha ** 10**10**10", "MI011"),
    "huge-power": ("9 ** 999999", "MI011"),
    "product-20000": (" @ ".join(["A"] * 20_000), "MI005"),
    "sum-1500": (" + ".join(["A"] * 1_500), "MI005"),
    "long-name": ("A" * (MAX_LENGTH + 1), "MI005"),
    "long-number": ("9" * (MAX_DIGITS + 1), "MI011"),
    "hex-number": ("0x" + "f" * 200, "MI011"),
    "overflowing-float": ("1e999", "MI011"),
    "overflowing-product": ("1e300 * 1e300 * A", "MI011"),
    "overflowing-int-product": ("*".join(["9" * 30] * 11) + " * 1e0", "MI011"),
    "underflowing-float": ("1e-400 * A", "MI011"),
    "division-by-zero": ("A / 0", "MI011"),
    "nul-byte": ("A\x00 @ B", "MI006"),
    "escape-character": ("A\x1b[31m", "MI006"),
    "delete-character": ("A\x7f", "MI006"),
    "unicode-greek-alpha": ("\u03b1 * A", "MI006"),
    "unicode-cyrillic-a": ("\u0410 @ B", "MI006"),
    "unicode-zero-width-space": ("A\u200b@ B", "MI006"),
    "unicode-fullwidth-plus": ("A \uff0b B", "MI006"),
    "unicode-surrogate": ("A\ud800", "MI006"),
    "unknown-function": ("foo(A)", "MI003"),
    "unknown-function-trace": ("trace(A)", "MI003"),
    "wrong-arity": ("tr(A, B)", "MI004"),
    "wrong-arity-kron": ("kron(A)", "MI004"),
    "keyword-argument": ("tr(A=1)", "MI004"),
    "bare-function": ("tr", "MI004"),
    "shape-mismatch-product": ("A @ x", "MI008"),
    "shape-mismatch-sum": ("x + y", "MI008"),
    "shape-mismatch-late-sum": ("A @ B + A", "MI008"),
    "shape-mismatch-hadamard": ("A * B", "MI008"),
    "shape-mismatch-trace": ("tr(A)", "MI008"),
    "shape-mismatch-inverse": ("inv(x @ y.T)", "MI008"),
    "scalar-to-a-matrix-power": ("2 ** A", "MI009"),
    "undeclared-shape": ("xy @ A", "MI007"),
    "empty": ("", "MI001"),
    "blank": ("  \t ", "MI001"),
    "unbalanced": ("tr(A @ B", "MI001"),
}


# declared shapes for the mismatch cases; other names get their implicit shape
SYMBOLS = {"A": "matrix n m", "B": "matrix m p", "x": "vector n", "y": "vector m"}


def _tree(text):
    return infer(parse_expr(text), SYMBOLS, implicit=True)


def _public(text):
    return matident.parse(text, SYMBOLS)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Import SymPy once so that the timings below measure parsing only."""
    matident.parse("tr(A @ B)")


def _refused(fn, text, code):
    start = time.perf_counter()
    with pytest.raises(MatidentError) as info:
        fn(text)
    elapsed = time.perf_counter() - start
    assert info.value.code == code, str(info.value)
    assert elapsed < SECOND, f"{elapsed:.2f} s"
    return info.value


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_tree_parser_refuses(case):
    text, code = HOSTILE[case]
    err = _refused(_tree, text, code)
    assert "\n" not in str(err)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_public_parse_refuses(case):
    text, code = HOSTILE[case]
    _refused(_public, text, code)


def test_nothing_is_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("__import__('os').system('touch pwned')", "open('pwned', 'w')",
                 "A.__class__.__init__.__globals__", "exec('open(1)')"):
        with pytest.raises(MatidentError):
            matident.parse(text)
    assert not list(tmp_path.iterdir())


def test_non_text_is_refused():
    for value in (None, 3, b"A", ["A"]):
        with pytest.raises(MatidentError) as info:
            parse_expr(value)
        assert info.value.code == "MI001"


# -- the documented limits, each at its edge ---------------------------------

def test_depth_limit_edge():
    ok = "(" * MAX_DEPTH + "A" + ")" * MAX_DEPTH
    assert parse_expr(ok) == parse_expr("A")
    err = _refused(_tree, "(" * (MAX_DEPTH + 1) + "A" + ")" * (MAX_DEPTH + 1), "MI005")
    assert err.message == f"expression is nested more than {MAX_DEPTH} levels deep"
    assert err.column == MAX_DEPTH + 1


def test_size_limit_edge():
    terms = (MAX_NODES + 1) // 2      # a sum of k names has 2k - 1 parts
    assert parse_expr(" + ".join(["A"] * terms)).size() == terms + 1
    err = _refused(parse_expr, " + ".join(["A"] * (terms + 1)), "MI005")
    assert err.message == f"expression has more than {MAX_NODES} parts"


def test_length_limit_edge():
    name = "A" * MAX_LENGTH
    assert parse_expr(name).name == name
    err = _refused(parse_expr, name + "B", "MI005")
    assert err.message == (f"expression is too long ({MAX_LENGTH + 1:,} characters; "
                           f"the limit is {MAX_LENGTH:,})")


def test_number_limit_edge():
    assert parse_expr("9" * MAX_DIGITS).value == int("9" * MAX_DIGITS)
    assert parse_expr(f"10**{MAX_DIGITS}").op == "**"
    _refused(parse_expr, f"10**{MAX_DIGITS + 1}", "MI011")


def test_long_flat_chains_are_not_nesting():
    """A sum of many terms is long, not deep: it parses flat (one node with many terms)."""
    for op in ("+", "-", "@", "*"):
        tree = parse_expr(f" {op} ".join(["A"] * (4 * MAX_DEPTH)))
        assert tree.depth() <= 3, op


def test_errors_carry_a_column():
    err = _refused(parse_expr, "A @ foo(B)", "MI003")
    assert err.column == 5
    err = _refused(parse_expr, "  A @ B.__dict__", "MI002")
    assert err.column == 7
