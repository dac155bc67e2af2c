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
    pi         the constant pi (a function of no arguments, written bare)
"""
from __future__ import annotations

import ast
import cmath
import math
import re
import warnings
from fractions import Fraction

from . import expr as E
from .errors import ParseError
from .functions import FUNCTIONS, NORM_ORDS

MAX_LENGTH = 10_000      # characters
MAX_DEPTH = 64           # nesting of operations and parentheses
MAX_NODES = 2_000        # nodes of the term tree
MAX_BLOCKS = 16          # blocks of one block([[...]]) matrix
MAX_DIGITS = 30          # digits of a numeric literal

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
RESERVED = set(FUNCTIONS) | {"I"}
_CALLABLE = sorted(name for name, fn in FUNCTIONS.items()      # pi is not called, norm2 is written norm(X, 2)
                   if not fn.constant and fn.written is None)

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
    ast.Compare: ("comparisons", "state identities as lhs and rhs, and bounds as inequality records with a relation"),
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
        raise ParseError(f"expected an expression as text, got {text!r:.40}",
                         code="MI001")
    _check_characters(text)
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty expression", code="MI001",
                         hint="write an expression such as 'tr(A @ X)'")
    _check_nesting(text)
    _check_other_notations(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Python's own SyntaxWarnings ("1and x"): not ours to print
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) + (len(text) - len(text.lstrip()))
        _check_other_notations(text, slice(1, None))
        message, hint = _syntax_hint(stripped, exc)
        raise ParseError(message, code="MI001", column=col, hint=hint) from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError("expression is too deeply nested or has too many parts", code="MI005",
                         hint=f"nest at most {MAX_DEPTH} levels and use at most {MAX_NODES} parts") from None
    builder = _Builder(text, offset=len(text) - len(text.lstrip()))
    return builder.build(tree.body, 1)


# notations of other tools, recognised in the text before it is parsed: (pattern, message, hint)
_OTHER_NOTATIONS = [
    (re.compile(r"\bd\s*/\s*d\s*[A-Za-z]"), "'d/dX' is not part of an expression",
     "write the expression alone and name the variable: matident derive 'tr(A @ X)' --wrt X "
     "(or lookup ... --wrt X)"),
    (re.compile(r"\|\|"), "'||x||' is not part of the expression language",
     "write norm(x) for the 2-norm (Frobenius norm of a matrix), norm(x) ** 2 or x.T @ x for ||x||^2"),
    (re.compile(r"log\s*\|"), "'log|X|' is not part of the expression language",
     "write logdet(X) for log|X| (det(X) for |X|)"),
    (re.compile(r"\|"), "'|' is not part of the expression language",
     "write det(X) for |X|, abs(x) for entrywise absolute values, norm(x) for a norm"),
    (re.compile(r"(?:^|[(,\[=+\-*/@])\s*['\"]"), "quotes are not part of the expression language",
     "write names and numbers without quotes"),
    (re.compile(r"([A-Za-z0-9_]+|\))\s*'"), "{0}' (MATLAB's transpose) is not part of the expression language",
     "write {0}.T for the transpose"),
    (re.compile(r"['\"]"), "quotes are not part of the expression language",
     "write names and numbers without quotes; X.T is the transpose"),
]


def _check_other_notations(text, which=slice(0, 1)):
    """Refuse notations of other tools (``d/dX`` before parsing, since it may parse; the others
    when Python's parser fails) with what to write instead."""
    for pattern, message, hint in _OTHER_NOTATIONS[which]:
        m = pattern.search(text)
        if m:
            name = m.group(1) if pattern.groups else ""
            name = "(...)" if name == ")" else name
            raise ParseError(message.format(name), code="MI002", column=m.start() + 1,
                             hint=hint.format(name))


_JUXTAPOSED = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*|\))\s+([A-Za-z_][A-Za-z0-9_]*|\()")


def _syntax_hint(text, exc):
    """(message, hint) for a syntax error, naming the usual cause when it is recognisable."""
    msg = exc.msg.split(" (detected")[0]
    if re.search(r"\d[A-Za-z_]", text) and "decimal literal" in msg:
        return "a number directly followed by a name", "write 2 * x, not 2x"
    m = _JUXTAPOSED.search(text)
    if m and not re.fullmatch(r"and|or|not|in|is|if|else|for|lambda", m.group(2)):
        left, right = m.group(1), "(...)" if m.group(2) == "(" else m.group(2)
        if left in FUNCTIONS and not FUNCTIONS[left].constant:
            return f"{left} needs parentheses", f"write {left}({right})"
        return ("two operands without an operator between them",
                f"write {left} @ {right} for the matrix product ({left} * {right} for the elementwise "
                "one); a space does not multiply")
    return f"syntax error: {msg}", "check for unbalanced parentheses or a missing operator"


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
        if isinstance(node.op, ast.BitXor):
            self._caret(node)
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
        if op is None and isinstance(node.op, ast.BitXor):
            self._caret(node)
        if op is None:
            symbol = {ast.BitOr: "|", ast.BitAnd: "&", ast.LShift: "<<", ast.RShift: ">>",
                      ast.FloorDiv: "//", ast.Mod: "%"}.get(type(node.op), type(node.op).__name__)
            self.fail(node, f"operator '{symbol}' is not part of the expression language",
                      hint="use + - * / @ .T and ** (inv(X) for an inverse)")
        if op == "/" and _is_zero(right):
            self.fail(node, "division by zero", code="MI011", hint="divide by a nonzero number or a scalar")
        if op == "**":
            self._check_constant_power(node, left, right)
            return E.power(left, right)
        combine = {"@": E.matmul, "*": E.mul, "+": E.add, "-": E.sub, "/": E.div}[op]
        return self._folded(node, combine, left, right)

    def _caret(self, node):
        """``X^T``, ``X^-1``, ``X^{-1}``, ``x^2``: the caret of LaTeX and MATLAB."""
        left = node.left.right if isinstance(node.left, ast.BinOp) else node.left   # A @ X^T is (A @ X)^T
        base = ast.get_source_segment(self.text.strip(), left) or "X"
        right = node.right
        if isinstance(right, ast.Set) and len(right.elts) == 1:
            right = right.elts[0]
        if isinstance(right, ast.Name) and right.id in ("T", "H", "t", "top"):
            self.fail(node, f"'{base}^{right.id}' is not part of the expression language",
                      hint=f"write {base}.T for the transpose")
        if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub) \
                and isinstance(right.operand, ast.Constant) and right.operand.value == 1:
            self.fail(node, f"'{base}^-1' is not part of the expression language",
                      hint=f"write inv({base}) for the inverse (1 / s for a scalar s)")
        if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub) \
                and isinstance(right.operand, ast.Name) and right.operand.id == "T":
            self.fail(node, f"'{base}^-T' is not part of the expression language",
                      hint=f"write inv({base}).T")
        self.fail(node, "'^' is not a power in the expression language",
                  hint=f"write {base} ** k for a power of a scalar, matpow({base}, k) for a matrix power")

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
        if (E.is_number(base, 0) or _is_zero(base)) and exponent.op == E.NUM and exponent.value < 0:
            self.fail(node, "division by zero", code="MI011", hint="raise 0 to a positive power only")
        if E.is_number(exponent, -1):
            return
        hint = f"write a number of at most {MAX_DIGITS} digits instead"
        if any(n.op in FUNCTIONS and FUNCTIONS[n.op].constant for n in (*base.walk(), *exponent.walk())):
            value = _constant_value(E.power(base, exponent))     # pi ** 2 stays symbolic in SymPy
            if value is None or not cmath.isfinite(value) or not 10.0 ** -MAX_DIGITS <= abs(value) <= 10.0 ** MAX_DIGITS:
                self.fail(node, f"the power is not a number of at most {MAX_DIGITS} digits", code="MI011",
                          hint=hint)
            return
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
            self.fail(node, f"number {segment[:20]}... has more than {MAX_DIGITS} digits", code="MI011",
                      hint="write it in scientific notation, e.g. 1e40")
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
        if name in FUNCTIONS and FUNCTIONS[name].constant:
            return E.call(name)
        if name in FUNCTIONS:
            self.fail(node, f"function '{name}' used without arguments", code="MI004",
                      hint=f"write {name}(...)")
        if name in RESERVED:
            self.fail(node, f"'{name}' is reserved", code="MI002", hint="choose another symbol name")
        if name.startswith("__") or name.endswith("__"):
            self.fail(node, f"invalid name {name!r}", code="MI006")
        return E.sym(name)

    def _method_call(self, node):
        """``np.linalg.inv(X)``, ``np.trace(X)``, ``x.dot(y)``, ``X.transpose()``: say what to write."""
        func = node.func
        args = [ast.get_source_segment(self.text.strip(), a) or "X" for a in node.args]
        args += [ast.get_source_segment(self.text.strip(), k.value) or "ord" for k in node.keywords
                 if k.arg == "ord"]       # np.linalg.norm(x, ord=1)
        if isinstance(func, ast.Attribute):
            owner = ast.get_source_segment(self.text.strip(), func.value) or ""
            module = re.fullmatch(r"(np|numpy|jnp|torch|tf|scipy|sp|la|linalg|math|sympy)(\.[a-z_]+)*", owner)
            name = func.attr
            written = _written_as(name, args) if module else _written_as(name, [owner, *args])
            if written:
                what = f"{owner}.{name}(...)"
                self.fail(node, f"'{what}' is not part of the expression language",
                          hint=f"write {written}" + (" (drop the module prefix)" if module else ""))
        self.fail(node, "only the language's own functions can be called",
                  hint="call one of: " + ", ".join(_CALLABLE))

    def _Attribute(self, node, depth):
        if node.attr != "T":
            base = ast.get_source_segment(self.text.strip(), node.value) or "X"
            hint = {"I": f"write inv({base}) for the inverse", "pi": "write pi (a constant of the language)", "H": f"write {base}.T (matrices are real)",
                    "t": f"write {base}.T for the transpose"}.get(node.attr, "the only attribute is .T (transpose)")
            self.fail(node, f"attribute '.{node.attr}' is not part of the expression language", hint=hint)
        return E.transpose(self.build(node.value, depth))

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            self._method_call(node)
        name = node.func.id
        if node.keywords:
            order = next((k.value for k in node.keywords if k.arg == "ord"), None)
            written = ast.get_source_segment(self.text.strip(), order) if order is not None else None
            args = [ast.get_source_segment(self.text.strip(), a) or "X" for a in node.args]
            self.fail(node, f"{name}() takes no keyword arguments", code="MI004",
                      hint=f"write {name}({', '.join([*args, written])})" if written else None)
        fn = FUNCTIONS.get(name)
        if fn is None:
            args = [ast.get_source_segment(self.text.strip(), a) or "X" for a in node.args]
            written = _written_as(name, args)
            close = None if written else _closest(name)
            if not written and not close and (len(name) == 1 or name[0].isupper()):
                written = f"{name} @ ({', '.join(args)}) for a product: {name} is not a function"
            self.fail(node, f"unknown function '{name}'", code="MI003",
                      hint=f"write {written}" if written else (f"did you mean '{close}'? " if close else "")
                      + "known functions: " + ", ".join(_CALLABLE))
        if name == "block":
            return self._block(node, depth)
        if fn.written is not None:
            shown = [ast.get_source_segment(self.text.strip(), a) or "X" for a in node.args] or ["X"]
            self.fail(node, f"unknown function '{name}'", code="MI003",
                      hint="write " + fn.written.format(*shown, *["p"] * 2))
        if name == "norm" and len(node.args) == 2:
            return self._norm(node, depth)
        if name in ("max", "min") and len(node.args) == 2:
            self.fail(node, f"{name}() takes 1 argument (the {'largest' if name == 'max' else 'smallest'} "
                            "entry of one array), got 2", code="MI004",
                      hint=f"{name}(a, b) of two values is not in the language: state a bound on each "
                           f"as an inequality, or write (a + b {'+' if name == 'max' else '-'} abs(a - b)) / 2")
        if name == "norm" and len(node.args) != 1:
            self.fail(node, f"norm() takes 1 or 2 arguments, got {len(node.args)}", code="MI004",
                      hint="write norm(X) (Euclidean / Frobenius) or norm(X, ord) with ord 1, 2 or inf")
        if fn.constant:
            self.fail(node, f"'{name}' is a constant, not a function", code="MI004",
                      hint=f"write {name} without parentheses" + (", and * for a product" if node.args else ""))
        if len(node.args) != fn.arity:
            self.fail(node, f"{name}() takes {fn.arity} argument{'s' if fn.arity != 1 else ''}, "
                            f"got {len(node.args)}", code="MI004",
                      hint=f"write {name}({', '.join('XYZ'[:fn.arity]) if fn.arity <= 3 else '...'})")
        return E.call(name, *(self.build(a, depth) for a in node.args))


    def _norm(self, node, depth):
        """``norm(X, ord)``: numpy's ``np.linalg.norm`` with a literal ord (1, 2, inf; a whole
        number >= 3 for the p-norm of a vector)."""
        arg, order = node.args
        shown = ast.get_source_segment(self.text.strip(), arg) or "X"
        written = ast.get_source_segment(self.text.strip(), order) or "ord"
        if (isinstance(order, ast.Name) and order.id == "inf") or (
                isinstance(order, ast.Attribute) and order.attr == "inf" and isinstance(order.value, ast.Name)
                and order.value.id in ("np", "numpy", "math")):
            return E.call(NORM_ORDS["inf"], self.build(arg, depth))
        if isinstance(order, ast.Constant) and type(order.value) is int and order.value >= 1:
            if not _small_number(order.value):
                self.fail(order, f"norm order {written[:20]} is too large", code="MI011",
                          hint="write a whole number of at most 30 digits")
            if order.value in NORM_ORDS:
                return E.call(NORM_ORDS[order.value], self.build(arg, depth))
            return E.call("pnorm", self.build(arg, depth), E.num(order.value))
        hints = {"fro": f"norm({shown}) without an order is already the Frobenius norm",
                 "nuc": f"the nuclear norm is tr(sqrtm({shown}.T @ {shown})) (the Ky Fan norm)"}
        word = order.value if isinstance(order, ast.Constant) and isinstance(order.value, str) else None
        self.fail(order, f"norm() takes the order 1, 2, inf or a whole number >= 3 as a literal, not "
                         f"{written[:30]!s}", code="MI004",
                  hint=hints.get(word) or f"write norm({shown}, 1), norm({shown}, 2), norm({shown}, inf) "
                       f"or norm({shown}, 3); norm({shown}) without an order is the Euclidean norm of a "
                       "vector, the Frobenius norm of a matrix")

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

def check_declared_names(symbols):
    """Refuse declarations that would be ignored or misread: ``I`` (always the identity), ``pi``
    (always the constant), a function's name, a name that is not a name, ``dX`` beside ``X`` (the differential of X)."""
    from .errors import DeclarationError
    if symbols is None:
        return
    if not isinstance(symbols, dict):
        raise DeclarationError(f"symbols must map names to declarations, got {symbols!r:.40}",
                               hint="e.g. symbols={'X': 'matrix n n', 'x': 'vector n'}")
    for name in symbols:
        if not isinstance(name, str) or not NAME.match(name) or name.startswith("__"):
            raise DeclarationError(f"{name!r} is not a symbol name",
                                   hint="names are letters, digits and underscores, starting with a letter")
        if name == "I":
            raise DeclarationError("'I' cannot be declared: it is always the identity matrix",
                                   hint="give your matrix another name, e.g. J")
        if name in FUNCTIONS and FUNCTIONS[name].constant:
            raise DeclarationError(f"'{name}' cannot be declared: it is always the constant {name}",
                                   hint=f"give your symbol another name, e.g. {name}_0 or {name.upper()}")
        if name in FUNCTIONS:
            what = FUNCTIONS[name].written
            raise DeclarationError(f"'{name}' cannot be declared: it is the function "
                                   + (what.format("X", "p") if what else f"{name}()"),
                                   hint="give your symbol another name")
        if name.startswith("d") and name[1:] in symbols:
            raise DeclarationError(f"'{name}' cannot be declared beside '{name[1:]}': it is read as the "
                                   f"differential of {name[1:]}", hint=f"rename one of them, e.g. D{name[1:]}")


def _is_zero(e):
    """True if ``e`` is a constant 0: exactly, or to rounding when it involves a named constant
    (``sin(pi)`` is 1.2e-16 in floating point, but a division by it is a division by zero)."""
    value = _constant_value(e)
    if value is None:
        return False
    if any(n.op in FUNCTIONS and FUNCTIONS[n.op].constant for n in e.walk()):
        return abs(value) < 1e-12
    return value == 0


def _constant_value(e):
    """The value of an expression of numbers only (``1 - 1``, ``log(1)``), or None."""
    import cmath
    if e.op == E.NUM:
        return complex(e.value)
    if any(n.op in (E.SYM, E.IDENT) for n in e.walk()):
        return None
    values = [_constant_value(a) for a in e.args]
    if any(v is None for v in values):
        return None
    functions = {"log": cmath.log, "exp": cmath.exp, "sqrt": cmath.sqrt, "abs": abs, "tanh": cmath.tanh,
                 "tr": lambda v: v, "det": lambda v: v, "sum": lambda v: v, "logdet": cmath.log,
                 "inv": lambda v: 1 / v, "norm": abs, "cos": cmath.cos, "sin": cmath.sin}
    if e.op in FUNCTIONS and FUNCTIONS[e.op].constant:
        return complex(FUNCTIONS[e.op].numpy()[0, 0])
    try:
        if e.op == E.ADD:
            return sum(values)
        if e.op == E.MUL:
            out = 1
            for v in values:
                out *= v
            return out
        if e.op == E.POW:
            return values[0] ** values[1]
        if e.op in functions and len(values) == 1:
            return complex(functions[e.op](values[0]))
    except (ArithmeticError, ValueError, OverflowError):
        return None
    return None


def _small_number(value):
    """A finite number whose integer numerator and denominator have at most MAX_DIGITS digits."""
    if isinstance(value, float):
        return math.isfinite(value)
    value = Fraction(value)
    return max(abs(value.numerator), value.denominator) < 10 ** MAX_DIGITS


_MODULE_PREFIX = re.compile(r"\b(?:np|numpy|jnp|torch|scipy|math)(?:\.linalg)?\.(?=[a-z])")


def _written_as(name, args):
    """How the language writes function ``name`` of other tools applied to ``args``, or None."""
    args = [_MODULE_PREFIX.sub("", a) for a in args]
    a = args[0] if args else "X"
    b = args[1] if len(args) > 1 else "y"
    if name in FUNCTIONS and name.islower():
        return f"{name}({', '.join(args)})"
    table = {
        "trace": f"tr({a})", "Tr": f"tr({a})", "Trace": f"tr({a})", "TR": f"tr({a})",
        "transpose": f"{a}.T", "Transpose": f"{a}.T", "t": f"{a}.T",
        "inverse": f"inv({a})", "Inv": f"inv({a})", "Inverse": f"inv({a})",
        "Det": f"det({a})", "determinant": f"det({a})", "slogdet": f"logdet({a})",
        "log_det": f"logdet({a})", "logdet": f"logdet({a})", "ln": f"log({a})",
        "dot": f"{a}.T @ {b} for two vectors, {a} @ {b} for a matrix and a vector",
        "matmul": f"{a} @ {b}", "multiply": f"{a} * {b}", "inner": f"{a}.T @ {b}",
        "outer": f"{a} @ {b}.T", "kronecker": f"kron({a}, {b})", "diagonal": f"diagvec({a})",
        "amax": f"max({a})", "amin": f"min({a})", "absolute": f"abs({a})", "fabs": f"abs({a})",
        "pinverse": f"pinv({a})", "frobenius": f"norm({a})", "exp": f"exp({a})", "sigmoid": f"sigmoid({a})",
    }
    return table.get(name) or table.get(name.lower())


def _closest(name):
    import difflib
    aliases = {"trace": "tr", "transpose": "T", "inverse": "inv", "determinant": "det",
               "ln": "log", "frobenius": "norm", "kronecker": "kron"}
    if name.lower() in aliases:
        return aliases[name.lower()]
    match = difflib.get_close_matches(name, _CALLABLE, n=1)
    return match[0] if match else None
