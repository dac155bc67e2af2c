"""The safe parser of the expression language.

Text is checked character by character, then parsed with Python's own parser
(``ast.parse(..., mode="eval")``) and turned into a term tree over a strict
whitelist of node types.  Nothing is ever evaluated: no ``eval``, ``exec`` or
``sympify``.  Limits on length, nesting and size keep hostile input fast, each
with error MI005; a number (a literal, numbers multiplied together, or a power
of two numbers, which SymPy would compute) has at most MAX_DIGITS digits
(MI011), and a division by the number 0 is refused (MI011).

Grammar (see the docs' "Expression language" page)::

    A @ B      matrix product            A * B    Hadamard product / scalar multiple
    x / s      division by a scalar      + - unary -, numbers, ( )
    A.T        transpose                 s ** t   power of scalars only
    f(...)     a function of matident.functions.FUNCTIONS
    I          identity matrix of conforming size
"""
from __future__ import annotations

import ast
import math
import re
import warnings
from fractions import Fraction

from . import expr as E
from .errors import ParseError
from .functions import FUNCTIONS

MAX_LENGTH = 10_000      # characters
MAX_DEPTH = 64           # nesting of operations and parentheses
MAX_NODES = 2_000        # nodes of the term tree
MAX_BLOCKS = 16          # blocks of one block([[...]]) matrix
MAX_DIGITS = 30          # digits of a numeric literal

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
RESERVED = set(FUNCTIONS) | {"I"}

_BINOPS = {ast.MatMult: "@", ast.Mult: "*", ast.Add: "+", ast.Sub: "-",
           ast.Div: "/", ast.Pow: "**"}

# operators that chain left to right at one precedence level
_CHAINS = {ast.Add: "+", ast.Sub: "+", ast.MatMult: "*", ast.Mult: "*", ast.Div: "*"}

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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Python's own SyntaxWarnings ("1and x"): not ours to print
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) + (len(text) - len(text.lstrip()))
        raise ParseError(f"syntax error: {exc.msg}", code="MI001", column=col,
                         hint="check for unbalanced parentheses or a missing operator") from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError("expression is too deeply nested or has too many parts", code="MI005",
                         hint=f"nest at most {MAX_DEPTH} levels and use at most {MAX_NODES} parts") from None
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

    def count(self, node):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(node, f"expression has more than {MAX_NODES} parts", code="MI005",
                      hint="split it into smaller expressions")

    def build(self, node, depth):
        self.count(node)
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
        # A chain such as a + b - c + ... is a left-deep tree in Python's AST; it
        # is built in a loop at one depth (it is long, not nested).
        chain = [node]
        while (isinstance(chain[-1].left, ast.BinOp) and type(chain[-1].op) in _CHAINS
               and _CHAINS.get(type(chain[-1].left.op)) == _CHAINS[type(chain[-1].op)]):
            chain.append(chain[-1].left)
            self.count(chain[-1])
        out = self.build(chain[-1].left, depth)
        for link in reversed(chain):
            out = self._binop(link, out, self.build(link.right, depth))
        return out

    def _binop(self, node, left, right):
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.fail(node, f"operator '{type(node.op).__name__}' is not part of the expression language",
                      hint="use + - * / @ and ** (scalars only)")
        if op == "/" and E.is_number(right, 0):
            self.fail(node, "division by zero", code="MI011", hint="divide by a nonzero number or a scalar")
        if op == "**":
            self._check_constant_power(node, left, right)
            return E.power(left, right)
        combine = {"@": E.matmul, "*": E.mul, "+": E.add, "-": E.sub, "/": E.div}[op]
        return self._folded(node, combine, left, right)

    def _UnaryOp(self, node, depth):
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return self._folded(node, E.neg, operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        self.fail(node, f"operator '{type(node.op).__name__}' is not part of the expression language")

    def _folded(self, node, combine, *args):
        """``combine(*args)``; numbers it multiplies together obey the limits of a literal."""
        try:
            out = combine(*args)
        except OverflowError:
            out = E.num(float("inf"))
        coeff = out if out.op == E.NUM else out.args[0] if out.op == E.MUL else None
        if coeff is not None and coeff.op == E.NUM and not _small_number(coeff.value):
            self.fail(node, f"the product of the numbers here is not a finite number of at most "
                            f"{MAX_DIGITS} digits", code="MI011", hint="write the number itself")
        return out

    def _check_constant_power(self, node, base, exponent):
        """A power of constants is a number (SymPy computes it): keep it as small as a literal.

        A reciprocal ``c ** -1`` (how ``1 / c`` prints) is always fine.
        """
        if any(n.op == E.SYM for n in (*base.walk(), *exponent.walk())):
            return
        if E.is_number(base, 0) and exponent.op == E.NUM and exponent.value < 0:
            self.fail(node, "division by zero", code="MI011", hint="raise 0 to a positive power only")
        if E.is_number(exponent, -1):
            return
        hint = f"write a number of at most {MAX_DIGITS} digits instead"
        if base.op != E.NUM or exponent.op != E.NUM:
            self.fail(node, "a power of constants must be a number raised to a number", code="MI011",
                      hint=hint)
        b, x = float(base.value), float(exponent.value)
        if b != 0 and abs(x * math.log10(abs(b))) > MAX_DIGITS:
            self.fail(node, f"the power is not a number of at most {MAX_DIGITS} digits", code="MI011",
                      hint=hint)

    def _Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(node, f"literal {value!r} is not a number",
                      hint="only numbers may appear as literals")
        segment = ast.get_source_segment(self.text.strip(), node) or repr(value)
        if sum(c.isdigit() for c in segment) > MAX_DIGITS or (isinstance(value, int)
                                                               and not _small_number(value)):
            self.fail(node, f"number {segment[:20]}... has more than {MAX_DIGITS} digits", code="MI011")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                self.fail(node, f"number {segment} is not finite", code="MI011")
            if value == 0 and any(c in "123456789" for c in segment.lower().split("e")[0]):
                self.fail(node, f"number {segment} is too small (it would be read as 0)", code="MI011")
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
        if name == "block":
            return self._block(node, depth)
        if len(node.args) != fn.arity:
            self.fail(node, f"{name}() takes {fn.arity} argument{'s' if fn.arity != 1 else ''}, "
                            f"got {len(node.args)}", code="MI004")
        return E.call(name, *(self.build(a, depth) for a in node.args))


    def _block(self, node, depth):
        """``block([[A, B], [C, D]])``: a list of block rows, each a list of blocks."""
        hint = "write block([[A, B], [C, D]]): a list of rows, each a list of blocks, all rows as long"
        rows = node.args[0] if len(node.args) == 1 else None
        if not isinstance(rows, ast.List) or not rows.elts \
                or not all(isinstance(r, ast.List) and r.elts for r in rows.elts):
            self.fail(node, "block() takes one argument, a list of lists of blocks", code="MI004", hint=hint)
        width = len(rows.elts[0].elts)
        if any(len(r.elts) != width for r in rows.elts):
            self.fail(node, "the rows of block() have different numbers of blocks", code="MI004", hint=hint)
        if len(rows.elts) * width > MAX_BLOCKS:
            self.fail(node, f"block() has more than {MAX_BLOCKS} blocks", code="MI005",
                      hint="partition into at most 4 x 4 blocks")
        return E.call("block", *(E.Expr(E.BLOCKROW, [self.build(c, depth) for c in r.elts])
                                 for r in rows.elts))


def _small_number(value):
    """A finite number whose integer numerator and denominator have at most MAX_DIGITS digits."""
    if isinstance(value, float):
        return math.isfinite(value)
    value = Fraction(value)
    return max(abs(value.numerator), value.denominator) < 10 ** MAX_DIGITS


def _closest(name):
    import difflib
    aliases = {"trace": "tr", "transpose": "T", "inverse": "inv", "determinant": "det",
               "ln": "log", "frobenius": "norm", "kronecker": "kron"}
    if name.lower() in aliases:
        return aliases[name.lower()]
    match = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    return match[0] if match else None
