"""The safe parser of the expression language.

Text is checked character by character, then parsed with Python's own parser
(``ast.parse(..., mode="eval")``) and turned into a term tree over a strict
whitelist of node types.  Nothing is ever evaluated: no ``eval``, ``exec`` or
``sympify``.  Limits on length, nesting and size keep hostile input fast.

Grammar (see the docs' "Expression language" page)::

    A @ B      matrix product            A * B    Hadamard product / scalar multiple
    x / s      division by a scalar      + - unary -, numbers, ( )
    A.T        transpose                 s ** t   power of scalars only
    f(...)     a function of matident.functions.FUNCTIONS
    I          identity matrix of conforming size
"""
from __future__ import annotations

import ast
import re
from fractions import Fraction

from . import expr as E
from .errors import ParseError
from .functions import FUNCTIONS

MAX_LENGTH = 10_000      # characters
MAX_DEPTH = 64           # nesting of operations and parentheses
MAX_NODES = 2_000        # nodes of the term tree
MAX_DIGITS = 30          # digits of a numeric literal

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
RESERVED = set(FUNCTIONS) | {"I"}

_BINOPS = {ast.MatMult: "@", ast.Mult: "*", ast.Add: "+", ast.Sub: "-",
           ast.Div: "/", ast.Pow: "**"}

_DESCRIBE = {
    ast.Subscript: ("subscripts", "write the whole matrix; entries are not part of the language"),
    ast.Lambda: ("lambdas", None),
    ast.ListComp: ("comprehensions", None), ast.SetComp: ("comprehensions", None),
    ast.DictComp: ("comprehensions", None), ast.GeneratorExp: ("comprehensions", None),
    ast.JoinedStr: ("f-strings", None), ast.FormattedValue: ("f-strings", None),
    ast.Compare: ("comparisons", "state identities as lhs and rhs instead"),
    ast.BoolOp: ("boolean operators", None), ast.IfExp: ("conditional expressions", None),
    ast.List: ("lists", None), ast.Tuple: ("tuples", None), ast.Dict: ("dicts", None),
    ast.Set: ("sets", None), ast.Starred: ("starred arguments", None),
    ast.NamedExpr: ("assignments", None), ast.Await: ("await", None),
    ast.Slice: ("slices", None),
}


def parse_expr(text):
    """Parse ``text`` into a term tree (:class:`matident.expr.Expr`).

    Raises :class:`ParseError` (with a column) on anything outside the grammar.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an expression as text, got {type(text).__name__}",
                         code="MI001")
    _check_characters(text)
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty expression", code="MI001",
                         hint="write an expression such as 'tr(A @ X)'")
    _check_nesting(text)
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) + (len(text) - len(text.lstrip()))
        raise ParseError(f"syntax error: {exc.msg}", code="MI001", column=col,
                         hint="check for unbalanced parentheses or a missing operator") from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError("expression is too deeply nested", code="MI005",
                         hint=f"nest at most {MAX_DEPTH} levels") from None
    builder = _Builder(text, offset=len(text) - len(text.lstrip()))
    return builder.build(tree.body, 1)


def _check_characters(text):
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is too long ({len(text):,} characters; the limit is {MAX_LENGTH:,})",
                         code="MI005", hint="split it into smaller expressions")
    for i, ch in enumerate(text):
        if ch in " \t\n\r":
            continue
        if ord(ch) < 32 or ord(ch) == 127:
            raise ParseError(f"control character {ch!r} at column {i + 1}", code="MI006", column=i + 1,
                             hint="remove it; expressions are plain ASCII text")
        if ord(ch) > 126:
            raise ParseError(f"non-ASCII character {ch!r} at column {i + 1}", code="MI006", column=i + 1,
                             hint="use ASCII only: write Greek letters as names (alpha, lam) "
                                  "and operators as @ * .T")


def _check_nesting(text):
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"expression is nested more than {MAX_DEPTH} levels deep",
                                 code="MI005", column=i + 1, hint="simplify the expression")
        elif ch == ")":
            depth -= 1


class _Builder:
    """Turns a whitelisted Python AST into a term tree, counting nodes."""

    def __init__(self, text, offset):
        self.text = text
        self.offset = offset
        self.nodes = 0

    def col(self, node):
        return getattr(node, "col_offset", 0) + 1 + self.offset

    def fail(self, node, message, code="MI002", hint=None):
        raise ParseError(message, code=code, column=self.col(node), hint=hint)

    def build(self, node, depth):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(node, f"expression has more than {MAX_NODES} parts", code="MI005",
                      hint="split it into smaller expressions")
        if depth > MAX_DEPTH:
            self.fail(node, f"expression is nested more than {MAX_DEPTH} levels deep", code="MI005",
                      hint="simplify the expression")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what, hint = _DESCRIBE.get(type(node), (f"'{type(node).__name__}' nodes", None))
            self.fail(node, f"{what} are not part of the expression language",
                      hint=hint or "use only + - * / @ ** .T, numbers, names and the documented functions")
        return method(node, depth + 1)

    def _BinOp(self, node, depth):
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.fail(node, f"operator '{type(node.op).__name__}' is not part of the expression language",
                      hint="use + - * / @ and ** (scalars only)")
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        if op == "@":
            return E.matmul(left, right)
        if op == "*":
            return E.mul(left, right)
        if op == "+":
            return E.add(left, right)
        if op == "-":
            return E.sub(left, right)
        if op == "/":
            return E.div(left, right)
        return E.power(left, right)

    def _UnaryOp(self, node, depth):
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return E.neg(operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        self.fail(node, f"operator '{type(node.op).__name__}' is not part of the expression language")

    def _Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(node, f"literal {value!r} is not a number",
                      hint="only numbers may appear as literals")
        segment = ast.get_source_segment(self.text.strip(), node) or repr(value)
        if sum(c.isdigit() for c in segment) > MAX_DIGITS:
            self.fail(node, f"number {segment[:20]}... has more than {MAX_DIGITS} digits", code="MI011")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                self.fail(node, f"number {segment} is not finite", code="MI011")
            if "e" not in segment.lower():
                value = Fraction(segment.replace("_", ""))
                return E.num(value)
        return E.num(value)

    def _Name(self, node, depth):
        name = node.id
        if not NAME.match(name):
            self.fail(node, f"invalid name {name!r}", code="MI006",
                      hint="names are letters, digits and underscores, starting with a letter")
        if name == "I":
            return E.identity()
        if name in FUNCTIONS:
            self.fail(node, f"function '{name}' used without arguments", code="MI004",
                      hint=f"write {name}(...)")
        if name in RESERVED:
            self.fail(node, f"'{name}' is reserved", code="MI002", hint="choose another symbol name")
        if name.startswith("__") or name.endswith("__"):
            self.fail(node, f"invalid name {name!r}", code="MI006")
        return E.sym(name)

    def _Attribute(self, node, depth):
        if node.attr != "T":
            self.fail(node, f"attribute '.{node.attr}' is not part of the expression language",
                      hint="the only attribute is .T (transpose)")
        return E.transpose(self.build(node.value, depth))

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            self.fail(node, "only named functions can be called",
                      hint="call one of: " + ", ".join(sorted(FUNCTIONS)))
        name = node.func.id
        if node.keywords:
            self.fail(node, f"{name}() takes no keyword arguments", code="MI004")
        fn = FUNCTIONS.get(name)
        if fn is None:
            close = _closest(name)
            self.fail(node, f"unknown function '{name}'", code="MI003",
                      hint=(f"did you mean '{close}'? " if close else "")
                      + "known functions: " + ", ".join(sorted(FUNCTIONS)))
        if len(node.args) != fn.arity:
            self.fail(node, f"{name}() takes {fn.arity} argument{'s' if fn.arity != 1 else ''}, "
                            f"got {len(node.args)}", code="MI004")
        return E.call(name, *(self.build(a, depth) for a in node.args))


def _closest(name):
    import difflib
    aliases = {"trace": "tr", "transpose": "T", "inverse": "inv", "determinant": "det",
               "ln": "log", "frobenius": "norm", "kronecker": "kron"}
    if name.lower() in aliases:
        return aliases[name.lower()]
    match = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    return match[0] if match else None
