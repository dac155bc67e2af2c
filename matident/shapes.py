"""Symbol declarations and shape inference.

A declaration is the mini-language used in YAML records, the API and the CLI::

    "scalar"                "scalar positive"
    "vector n"              (a column, n x 1)
    "matrix m n"            "matrix n n symmetric invertible"
    "spd n"                 shorthand for "matrix n n spd" (likewise symmetric,
                            orthogonal, diagonal, square, invertible, lower,
                            upper, skew, psd, toeplitz)

Dimension names are symbolic (two different names are two different sizes);
integers are allowed.  Shape inference unifies dimensions across an
expression; symbols that are not declared get a shape from their name when
``implicit=True`` (uppercase: matrix, one lowercase Latin letter with optional
digits: column vector, a Greek name: scalar).
"""
from __future__ import annotations

import difflib
import functools
import itertools
import re
from dataclasses import dataclass

from . import expr as E
from .errors import DeclarationError, ParseError, ShapeError
from .expr import broadcast_reference, to_text
from .functions import FUNCTIONS

# structure word -> the words it implies
STRUCTURES = {
    "square": {"square"},
    "symmetric": {"square", "symmetric"},
    "spd": {"square", "symmetric", "spd", "psd", "invertible"},
    "psd": {"square", "symmetric", "psd"},
    "orthogonal": {"square", "orthogonal", "invertible"},
    "permutation": {"square", "permutation", "orthogonal", "invertible"},
    "diagonal": {"square", "diagonal", "symmetric"},
    "invertible": {"square", "invertible"},
    "lower": {"square", "lower"},
    "upper": {"square", "upper"},
    "skew": {"square", "skew"},
    "toeplitz": {"square", "toeplitz"},
    "tall": {"tall"},
    "wide": {"wide"},
    "full-rank": {"full-rank"},
    "unit": {"unit", "nonzero"},
    "positive": {"positive"},
    "nonzero": {"nonzero"},
    "integer": {"integer"},
}
SCALAR_WORDS = {"positive", "nonzero", "integer"}
VECTOR_WORDS = {"positive", "nonzero", "unit"}
CONFLICTS = [("symmetric", "skew"), ("spd", "skew"), ("lower", "upper"), ("tall", "wide")]
#: the words a Toeplitz matrix may be declared with (the verifier draws these combinations)
TOEPLITZ_WORDS = {"toeplitz", "square", "symmetric", "spd", "invertible"}
#: words that relate a matrix's dimensions: rows >= columns (tall) or rows <= columns (wide)
RELATION_WORDS = {"tall", "wide"}

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eps", "zeta", "eta", "theta",
         "iota", "kappa", "lam", "lamda", "mu", "nu", "xi", "omicron", "rho", "sigma",
         "tau", "upsilon", "phi", "chi", "psi", "omega"}

_DIM = re.compile(r"([a-z][a-z0-9_]*|[1-9][0-9]{0,3})\Z")


@dataclass(frozen=True)
class Prod:
    """A product of dimensions (from ``kron`` and ``vec``)."""
    factors: tuple

    def __str__(self):
        return "*".join(str(f) for f in self.factors)


@dataclass(frozen=True)
class Sum:
    """A sum of dimensions (the size of a block matrix: m + n)."""
    terms: tuple

    def __str__(self):
        return "+".join(f"({t})" if isinstance(t, Prod) else str(t) for t in self.terms)


def dim_sum(terms):
    """The normal form of a sum of dimensions: nested sums flattened, numbers added up, the
    other terms sorted; a single term is itself."""
    flat, const = [], 0
    for t in terms:
        for u in (t.terms if isinstance(t, Sum) else (t,)):
            if isinstance(u, int):
                const += u
            else:
                flat.append(u)
    flat.sort(key=str)
    if const:
        flat.append(const)
    if not flat:
        return 0
    return flat[0] if len(flat) == 1 else Sum(tuple(flat))


@functools.lru_cache(maxsize=None)
def _implied(words):
    """The structure words ``words`` imply (memoised: matching asks for them constantly)."""
    out = set()
    for w in words:
        out |= STRUCTURES[w]
    return frozenset(out)


@dataclass(frozen=True)
class Decl:
    """A symbol's declaration: kind, dimensions and structure words."""
    kind: str                 # "scalar" | "vector" | "matrix"
    rows: object = 1
    cols: object = 1
    words: tuple = ()         # structure words as written (sorted, no duplicates)

    @property
    def shape(self):
        return (self.rows, self.cols)

    @property
    def structure(self):
        """The declared words together with everything they imply."""
        return _implied(tuple(self.words))

    def has(self, word):
        """Whether the declaration establishes ``word``: a square matrix is tall and wide, an
        invertible one has full rank."""
        if word in self.structure:
            return True
        if word in RELATION_WORDS:
            return self.kind != "scalar" and (self.rows == self.cols or "square" in self.structure
                                              or (word == "tall" and self.cols == 1))
        return word == "full-rank" and "invertible" in self.structure

    def relations(self):
        """The dimension relations the declaration states, as (larger, smaller) pairs."""
        if "tall" in self.words:
            return ((self.rows, self.cols),)
        if "wide" in self.words:
            return ((self.cols, self.rows),)
        return ()

    def __str__(self):
        if self.kind == "scalar":
            head = "scalar"
        elif self.kind == "vector":
            head = f"vector {self.rows}"
        else:
            head = f"matrix {self.rows} {self.cols}"
        return " ".join([head, *self.words])


def parse_decl(text):
    """Parse a declaration such as ``"matrix n n spd"`` into a :class:`Decl`."""
    if isinstance(text, Decl):
        return text
    if not isinstance(text, str):
        raise DeclarationError(f"a declaration must be text such as 'matrix n n', got {text!r}")
    if len(text) > 200:
        raise DeclarationError("declaration is too long (more than 200 characters)",
                               hint="a declaration is a few words, e.g. 'matrix n n spd'")
    tokens = text.split()
    if not tokens:
        raise DeclarationError("empty declaration", hint="write 'scalar', 'vector n' or 'matrix m n'")
    head, rest = tokens[0], tokens[1:]

    def dims(count):
        if len(rest) < count:
            raise DeclarationError(f"'{head}' needs {count} dimension{'s' if count > 1 else ''} in {text!r}",
                                   hint=f"write e.g. '{head} " + " ".join("nm"[:count]) + "'")
        out = []
        for tok in rest[:count]:
            factors = tok.split("*")
            if len(factors) > 3 or any(not _DIM.match(f) or f in STRUCTURES for f in factors):
                raise DeclarationError(f"{tok!r} is not a dimension in {text!r}",
                                       hint="dimensions are lowercase names (n, m, k), integers 1-9999 "
                                            "or products of them such as m*n")
            dims_ = [int(f) if f.isdigit() else f for f in factors]
            numeric = 1
            for f in dims_:
                numeric *= f if isinstance(f, int) else 1
            if numeric > 9999:
                raise DeclarationError(f"dimension {tok} is {numeric:,} in {text!r}; at most 9999",
                                       hint="use a dimension name such as n for a size nobody fixes")
            out.append(dims_[0] if len(dims_) == 1 else _Dims()._normal(dims_))
        return out

    if head == "scalar":
        kind, rows, cols, words = "scalar", 1, 1, rest
        allowed = SCALAR_WORDS
    elif head == "vector":
        (rows,) = dims(1)
        kind, cols, words, allowed = "vector", 1, rest[1:], VECTOR_WORDS
    elif head == "matrix":
        rows, cols = dims(2)
        kind, words, allowed = "matrix", rest[2:], set(STRUCTURES) - {"integer", "unit"}
    elif head in STRUCTURES and "square" in STRUCTURES[head]:
        (rows,) = dims(1)
        kind, cols, words, allowed = "matrix", rows, [head, *rest[1:]], \
            set(STRUCTURES) - {"integer", "unit", "tall", "wide", "full-rank"}
    else:
        raise DeclarationError(f"unknown declaration {text!r}",
                               hint="start with scalar, vector, matrix or a shorthand such as 'spd n'")
    for w in words:
        if w not in STRUCTURES:
            close = difflib.get_close_matches(w, list(STRUCTURES), n=1)
            raise DeclarationError(f"unknown structure word {w!r} in {text!r}",
                                   hint=(f"did you mean '{close[0]}'? " if close else "")
                                   + "known words: " + ", ".join(sorted(STRUCTURES)))
        if w not in allowed:
            raise DeclarationError(f"structure word {w!r} does not apply to a {kind} in {text!r}",
                                   hint="a square matrix is tall and wide; for full rank write 'invertible'"
                                   if w in RELATION_WORDS | {"full-rank"} else None)
    decl = Decl(kind, rows, cols, tuple(sorted(set(words))))
    if "square" in decl.structure and rows != cols:
        raise DeclarationError(f"{text!r} declares a square structure on a {rows}x{cols} matrix",
                               hint=f"use the same dimension twice, e.g. 'matrix {rows} {rows} ...'")
    for a, b in CONFLICTS:
        if a in decl.structure and b in decl.structure:
            raise DeclarationError(f"{text!r} is both {a} and {b}",
                                   hint="a matrix both tall and wide is square: write 'matrix n n'"
                                   if {a, b} == RELATION_WORDS else f"keep one of {a} and {b}")
    if "toeplitz" in decl.words and not set(decl.words) <= TOEPLITZ_WORDS:
        other = sorted(set(decl.words) - TOEPLITZ_WORDS)[0]
        raise DeclarationError(f"{text!r}: 'toeplitz' does not combine with '{other}'",
                               hint="a Toeplitz matrix may also be declared "
                                    + ", ".join(sorted(TOEPLITZ_WORDS - {"toeplitz"})))
    _check_relations(text, decl)
    return decl


def _check_relations(text, decl):
    """Refuse rank and dimension-relation words that cannot hold or say nothing."""
    square = decl.rows == decl.cols or "square" in decl.structure
    for word in sorted((RELATION_WORDS | {"full-rank"}) & set(decl.words)):
        if square:
            raise DeclarationError(f"{text!r}: '{word}' says nothing of a square matrix",
                                   hint="for a square matrix of full rank write 'invertible'"
                                   if word == "full-rank" else f"drop '{word}'")
    for big, small in decl.relations():
        if any(isinstance(d, Prod) for d in (big, small)):
            raise DeclarationError(f"{text!r}: 'tall' and 'wide' relate plain dimensions, "
                                   f"not products such as {big if isinstance(big, Prod) else small}",
                                   hint="name the product's size with its own dimension")
        if isinstance(big, int) and isinstance(small, int) and big < small:
            raise DeclarationError(f"{text!r} is {decl.rows}x{decl.cols}, not {'tall' if 'tall' in decl.words else 'wide'}",
                                   hint="a tall matrix has at least as many rows as columns, a wide one at most")


def implicit_decl(name):
    """The declaration an undeclared symbol gets from its name (dims unknown)."""
    if name in GREEK or name.rstrip("0123456789") in GREEK:
        return Decl("scalar")
    if name[0].isupper():
        return Decl("matrix", None, None)
    if re.fullmatch(r"[a-z][0-9]*", name):
        return Decl("vector", None, 1)
    raise ParseError(f"cannot tell the shape of undeclared symbol '{name}'", code="MI007",
                     hint=f"declare it, e.g. symbols={{'{name}': 'scalar'}} or --symbol {name}='vector n'")


def fmt_shape(shape):
    r, c = (f"({d})" if isinstance(d, (Prod, Sum)) else str(d) for d in shape)
    return f"{r}x{c}"


def is_scalar_shape(shape):
    return shape[0] == 1 and shape[1] == 1


# -- unification of dimensions --------------------------------------------

class _Dims:
    """Union-find over dimensions: ints, rigid names, flexible '?k' and products."""

    def __init__(self):
        self.parent = {}
        self.counter = 0

    def fresh(self):
        self.counter += 1
        return f"?{self.counter}"

    def find(self, d):
        if isinstance(d, Prod):
            return self._normal([self.find(f) for f in d.factors])
        if isinstance(d, Sum):
            return dim_sum([self.find(t) for t in d.terms])
        while isinstance(d, str) and d in self.parent:
            d = self.parent[d]
        return d

    def _normal(self, factors):
        flat, const = [], 1
        for f in factors:
            if isinstance(f, Prod):
                for g in f.factors:
                    if isinstance(g, int):
                        const *= g
                    else:
                        flat.append(g)
            elif isinstance(f, int):
                const *= f
            else:
                flat.append(f)
        if not flat:
            return const
        if const != 1:
            flat.append(const)
        if len(flat) == 1:
            return flat[0]
        return Prod(tuple(flat))

    def same(self, a, b):
        if isinstance(a, Prod) and isinstance(b, Prod):
            return sorted(map(str, a.factors)) == sorted(map(str, b.factors))
        if isinstance(a, Sum) and isinstance(b, Sum):
            return str(a) == str(b)
        return a == b

    def unify(self, a, b):
        a, b = self.find(a), self.find(b)
        if self.same(a, b):
            return True
        if isinstance(a, Prod) and isinstance(b, Prod) and len(a.factors) == len(b.factors):
            for order in (b.factors, tuple(reversed(b.factors))):
                pairs = list(zip(a.factors, order))
                if all(self.same(x, y) or _flexible(x) or _flexible(y) for x, y in pairs):
                    return all(self.unify(x, y) for x, y in pairs)
            return False
        if isinstance(a, Sum) and isinstance(b, Sum) and len(a.terms) == len(b.terms):
            pairs = list(zip(a.terms, b.terms))
            if all(self.same(x, y) or _flexible(x) or _flexible(y) for x, y in pairs):
                return all(self.unify(x, y) for x, y in pairs)
            return False
        for x, y in ((a, b), (b, a)):
            if isinstance(x, str) and x.startswith("?"):
                if isinstance(y, (Prod, Sum)) and x in (y.factors if isinstance(y, Prod) else y.terms):
                    return False
                self.parent[x] = y
                return True
        return False


def _flexible(d):
    return isinstance(d, str) and d.startswith("?")


class _Inference:
    def __init__(self, symbols, implicit):
        self.dims = _Dims()
        self.implicit = implicit
        # declarations given as text are parsed (so checked) at once, Decl objects taken when
        # used: the cost of an inference is that of the expression, not of the symbol table
        self.given = symbols or {}
        self.decls = {} if set(map(type, self.given.values())) <= {Decl} else \
            {name: parse_decl(d) for name, d in self.given.items() if type(d) is not Decl}
        self.used = {}
        self.shown = {}          # unknown dimension -> the name messages give it
        self.declared = set(symbols or ())
        self.inferred = {}       # undeclared symbol -> its dimensions left to inference

    def narrowed(self):
        """Refuse an undeclared symbol a dimension that inference alone fixed to 1.

        ``x @ x`` would make x a 1-vector and ``1 + A @ w`` (before broadcasting)
        a 1-row A: never silently; the user declares it if that is meant.
        """
        for name, dims in self.inferred.items():
            if not any(self.dims.find(d) == 1 for d in dims):
                continue
            decl = self.decls[name]
            fixed = " and ".join(f"1 {axis}" for axis, d in (("row", decl.rows), ("column", decl.cols))
                                 if d in dims and self.dims.find(d) == 1)
            if decl.kind == "vector":
                hint = (f"a one-letter lowercase name is a column vector: for its inner product write "
                        f"{name}.T @ {name}; if a 1-vector is meant, declare it: symbols={{'{name}': 'vector 1'}}"
                        f" or --symbol {name}='vector 1'")
            else:
                example = "matrix 1 n" if fixed.startswith("1 row") else "matrix m 1"
                hint = (f"declare its shape if that is meant, e.g. symbols={{'{name}': '{example}'}}; "
                        f"otherwise check transposes and @ versus *")
            raise ShapeError(f"the expression gives the undeclared {decl.kind} '{name}' {fixed}: "
                             f"inference alone never fixes a size to 1", code="MI008", hint=hint)

    def decl(self, name):
        """The declaration of ``name`` (None if it has none)."""
        out = self.decls.get(name)
        if out is None:
            out = self.given.get(name)
            if out is not None:
                self.decls[name] = out
        return out

    def symbol_shape(self, node):
        name = node.value
        if name in self.used:
            return self.used[name]
        decl = self.decl(name)
        if decl is None:
            if not self.implicit:
                raise ParseError(f"symbol '{name}' is not declared", code="MI007",
                                 hint=f"add '{name}' to symbols with a declaration such as 'matrix n n'")
            base = name[1:] if name.startswith("d") and len(name) > 1 else None
            if base and self.decl(base) is not None:
                decl = self.decl(base)
                decl = Decl(decl.kind, decl.rows, decl.cols, ())
            else:
                decl = implicit_decl(name)
            rows = self.dims.fresh() if decl.rows is None else decl.rows
            cols = self.dims.fresh() if decl.cols is None else decl.cols
            self.inferred[name] = [d for d in (rows, cols) if _flexible(d)]
            decl = Decl(decl.kind, rows, cols, decl.words)
            self.decls[name] = decl
        shape = (decl.rows, decl.cols)
        self.used[name] = shape
        return shape

    def resolved(self, shape):
        return (self.dims.find(shape[0]), self.dims.find(shape[1]))

    def show(self, shape):
        """A shape for a message: dimensions nobody named get readable names (n, m, ...), never
        the internal ones."""
        def name(d):
            if isinstance(d, Prod):
                return Prod(tuple(name(f) for f in d.factors))
            if isinstance(d, str) and d.startswith("?"):
                if d not in self.shown:
                    taken = {str(x) for decl in self.decls.values() for x in (decl.rows, decl.cols)}
                    taken |= set(self.shown.values()) | set(self.decls)
                    self.shown[d] = next(n for n in itertools.chain(_READABLE, (f"n{i}" for i in
                                                                                 itertools.count(1)))
                                         if n not in taken)
                return self.shown[d]
            return d
        return fmt_shape(tuple(name(d) for d in self.resolved(shape)))

    def scalar(self, shape):
        r, c = self.resolved(shape)
        return r == 1 and c == 1

    def no_broadcast(self, node, a, b, arg, what):
        """Refuse elementwise operands that only numpy's broadcasting would make conform: an
        axis of size 1 against one left to inference (x + y.T), which unification would
        silently fix to 1."""
        for x, y in zip(self.resolved(a), self.resolved(b)):
            if (x == 1 and _flexible(y)) or (y == 1 and _flexible(x)):
                verb, shown = self.described(arg, what)
                self.mismatch(node, f"{verb} {self.show(a)} {'by' if verb == 'cannot divide' else 'and'} "
                                    f"'{shown}' ({self.show(b)})", self.division_hint(arg) or self.broadcast_hint(a, b))

    def broadcast_hint(self, a, b):
        """The hint for shapes numpy would broadcast against each other (a row and a column, or a
        matrix and a row or column): matident broadcasts scalars only."""
        (r1, c1), (r2, c2) = self.resolved(a), self.resolved(b)
        if all(x == y or 1 in (x, y) or _flexible(x) or _flexible(y) for x, y in ((r1, r2), (c1, c2))):
            return ("numpy would broadcast these shapes against each other; matident broadcasts only "
                    "scalars: spread a column c over n columns as c @ ones(r) with a 1xn row r, "
                    "a row r over m rows as ones(c) @ r")
        return None

    def mismatch(self, node, message, hint=None):
        raise ShapeError(f"shape mismatch in '{_short(to_text(node))}': {message}", code="MI008",
                         hint=hint)

    def division_hint(self, arg):
        """The hint when ``arg`` is a divisor (``x / y`` is ``x * hpow(y, -1)``) that does not fit."""
        if not (arg.op == "hpow" and E.is_number(arg.args[1], -1)):
            return None
        divisor = arg.args[0]
        text = _short(to_text(divisor), 30)
        if divisor.op == E.SYM and divisor.value not in self.declared \
                and implicit_decl(divisor.value).kind == "vector":
            return (f"'{text}' is read as a column vector (a lowercase letter, optionally with digits, "
                    f"names a vector); declare it a scalar (--symbol {text}=scalar) or use a Greek name")
        if divisor.op == E.SYM and self.decls.get(divisor.value) is not None \
                and self.decls[divisor.value].kind == "vector":
            return f"'/' divides by a scalar or elementwise by an array of the same shape; '{text}' is a vector"
        return (f"there is no matrix division: write A @ inv({text}) (or inv({text}) @ A); '/' divides "
                "by a scalar or elementwise by an array of the same shape")

    def described(self, arg, what):
        """(verb, operand) for a message: a divisor ``hpow(y, -1)`` is shown as what the user wrote."""
        if arg.op == "hpow" and E.is_number(arg.args[1], -1):
            return "cannot divide", _short(to_text(arg.args[0]))
        return what, _short(to_text(arg))

    def walk(self, node):
        """Return (annotated node, shape)."""
        op = node.op
        if op == E.NUM:
            return node, (1, 1)
        if op == E.SYM:
            return node, self.symbol_shape(node)
        if op == E.IDENT:
            d = self.dims.fresh()
            return E.identity(d), (d, d)
        if op == "block":
            return self.block(node)
        kids = [self.walk(a) for a in node.args]
        args = [k[0] for k in kids]
        shapes = [k[1] for k in kids]
        if op == E.ADD and any(self.scalar(s) for s in shapes) and not all(self.scalar(s) for s in shapes):
            return self.broadcast_sum(node, args, shapes)
        if op == E.POW and not self.scalar(shapes[0]):
            # numpy's ** on an array is elementwise: X ** 2 is hpow(X, 2) (matpow is the matrix power)
            new = E.call("hpow", *args)
            return new, SHAPE_RULES["elementwise_power"](self, new, shapes)
        new = E.rebuild(node, args) if op not in (E.MATMUL, E.MUL, E.ADD) else E.Expr(op, args)
        return new, self.rule(node, op, args, shapes)

    def broadcast_sum(self, node, args, shapes):
        """A sum of arrays and scalars, as numpy broadcasts it: ``1 + exp(v)``.

        Each scalar term s becomes ``s * ones(R)`` with R the first array term,
        so that every term of a sum has one shape (what the rest of matident
        reads); the printer writes it back as ``s``.
        """
        arrays = [k for k, s in enumerate(shapes) if not self.scalar(s)]
        shape = self.rule(node, E.ADD, [args[k] for k in arrays], [shapes[k] for k in arrays])
        ones = E.call("ones", broadcast_reference([args[k] for k in arrays]) or args[arrays[0]])
        terms = [a if k in arrays else E.mul(a, ones) for k, a in enumerate(args)]
        return E.Expr(E.ADD, terms), shape

    def block(self, node):
        """``block``: heights agree along each block row, widths down each block column; a
        block written 0 takes the size its row and column give it."""
        rows, heights, widths = [], [], None
        for r, row in enumerate(node.args):
            cells, shapes = [], []
            for cell in row.args:
                new, shape = self.walk(cell)
                if cell.op == E.NUM and cell.value == 0:
                    shape = (self.dims.fresh(), self.dims.fresh())
                cells.append(new)
                shapes.append(shape)
            if widths is None:
                widths = [s[1] for s in shapes]
            zero = [c.op == E.NUM and c.value == 0 for c in row.args]
            if all(zero):
                raise ShapeError(f"block row {r + 1} has only zero blocks, so it has no height",
                                 code="MI008", hint="give one block of the row a size, or drop the row")
            for c, (shape, cell) in enumerate(zip(shapes, row.args)):
                if not self.dims.unify(shapes[0][0], shape[0]):
                    self.mismatch(node, f"the blocks of block row {r + 1} have different heights "
                                        f"({self.show(shapes[0])} and {self.show(shape)})",
                                  "the blocks of one row have as many rows each")
                if not self.dims.unify(widths[c], shape[1]):
                    self.mismatch(node, f"the blocks of block column {c + 1} have different widths "
                                        f"({self.show((1, widths[c]))[2:]} and {self.show(shape)})",
                                  "the blocks of one column have as many columns each")
            heights.append(shapes[0][0])
            rows.append(E.Expr(E.BLOCKROW, cells))
        for c in range(len(widths)):
            if all(row.args[c].op == E.NUM and row.args[c].value == 0 for row in node.args):
                raise ShapeError(f"block column {c + 1} has only zero blocks, so it has no width",
                                 code="MI008", hint="give one block of the column a size")
        return E.call("block", *rows), (dim_sum(heights), dim_sum(widths))

    def rule(self, node, op, args, shapes):
        if op == E.MATMUL:
            shape = shapes[0]
            for arg, s in zip(args[1:], shapes[1:]):
                if not self.dims.unify(shape[1], s[0]):
                    left = self.show(shape)
                    hint = "the columns of the left factor must match the rows of the right one; " \
                        "check transposes and declarations"
                    if self.scalar(shape) or self.scalar(s):
                        hint = "multiply by a scalar with *, not @"
                    self.mismatch(node, f"the left factor is {left} but '{_short(to_text(arg))}' "
                                        f"is {self.show(s)}", hint)
                shape = (shape[0], s[1])
            return shape
        if op == E.MUL:
            shape = (1, 1)
            for arg, s in zip(args, shapes):
                if self.scalar(s):
                    continue
                if self.scalar(shape):
                    shape = s
                    continue
                self.no_broadcast(node, shape, s, arg, "Hadamard product of")
                if not (self.dims.unify(shape[0], s[0]) and self.dims.unify(shape[1], s[1])):
                    verb, shown = self.described(arg, "Hadamard product of")
                    self.mismatch(node, f"{verb} {self.show(shape)} {'by' if verb == 'cannot divide' else 'and'} "
                                        f"'{shown}' ({self.show(s)})",
                                  self.division_hint(arg) or self.broadcast_hint(shape, s) or
                                  "* needs operands of the same shape or a scalar; use @ for the matrix product")
            return shape
        if op == E.ADD:
            shape = shapes[0]
            for arg, s in zip(args[1:], shapes[1:]):
                self.no_broadcast(node, shape, s, arg, "cannot add")
                if not (self.dims.unify(shape[0], s[0]) and self.dims.unify(shape[1], s[1])):
                    self.mismatch(node, f"cannot add {self.show(shape)} and '{_short(to_text(arg))}' "
                                        f"({self.show(s)})", self.broadcast_hint(shape, s) or
                                  "terms of a sum have one shape (or are scalars); "
                                  "check transposes and declarations")
            return shape
        if op == E.POW:       # the base is a scalar here (an array base is hpow, elementwise)
            if not self.scalar(shapes[1]):
                raise ShapeError(f"'**' raises to a scalar power but the exponent "
                                 f"'{_short(to_text(args[1]))}' is {self.show(shapes[1])}", code="MI009",
                                 hint="a matrix power is matpow(X, k) with a number k; an elementwise "
                                      "power of a scalar s is exp(log(s) * X)")
            return (1, 1)
        if op == E.TRANSPOSE:
            return (shapes[0][1], shapes[0][0])
        fn = FUNCTIONS[op]
        return SHAPE_RULES[fn.shape_rule](self, node, shapes)


def _short(text, limit=60):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _need_square(inf, node, shape):
    if not inf.dims.unify(shape[0], shape[1]):
        raise ShapeError(f"{node.op}() needs a square matrix but '{_short(to_text(node.args[0]))}' "
                         f"is {inf.show(shape)}", code="MI008",
                         hint="declare it square, e.g. 'matrix n n'")
    return shape[0]


def _need_scalar(inf, node, shape, what):
    if not inf.scalar(shape):
        if not (inf.dims.unify(shape[0], 1) and inf.dims.unify(shape[1], 1)):
            raise ShapeError(f"{node.op}() needs a scalar {what} but it is {inf.show(shape)}",
                             code="MI008", hint=f"write {node.op}(X, 2) with a number or a scalar")


def _rule_matpow(inf, node, shapes):
    n = _need_square(inf, node, shapes[0])
    _need_scalar(inf, node, shapes[1], "exponent")
    return (n, n)


def _rule_vector_to_diagonal(inf, node, shapes):
    r, c = shapes[0]
    if not inf.dims.unify(c, 1):
        raise ShapeError(f"diag() needs a column vector but its argument is {inf.show(shapes[0])}",
                         code="MI008", hint="for the diagonal of a matrix as a vector use diagvec(X)")
    return (r, r)


def _rule_diagonal_of(inf, node, shapes):
    n = _need_square(inf, node, shapes[0])
    return (n, 1)


def _rule_unvec(inf, node, shapes):
    (r, c), (m, n) = shapes
    if not (inf.dims.unify(c, 1) and inf.dims.unify(r, Prod((m, n)))):
        raise ShapeError(f"unvec() needs a column of length {inf.show((Prod((m, n)), 1))[:-2]} "
                         f"to fill a {inf.show((m, n))} matrix, got {inf.show((r, c))}", code="MI008")
    return (m, n)


def _rule_expectation(inf, node, shapes):
    from .expectation import MAX_DEGREE, degree
    f, x, _, _ = node.args
    (fr, fc), (xr, xc), (mr, mc), (sr, sc) = shapes
    if x.op != E.SYM:
        raise ShapeError(f"the second argument of expect() must be the name of the random vector, "
                         f"not '{_short(to_text(x))}'", code="MI008",
                         hint="write expect(f, x, m, S) with x a vector symbol")
    if not (inf.dims.unify(xc, 1) and inf.dims.unify(mc, 1) and inf.dims.unify(xr, mr)
            and inf.dims.unify(sr, xr) and inf.dims.unify(sc, xr)):
        raise ShapeError(f"expect() needs a vector x, a mean of its size and a square covariance; got "
                         f"x {inf.show(shapes[1])}, m {inf.show(shapes[2])}, S {inf.show(shapes[3])}",
                         code="MI008", hint="write expect(f, x, m, S) with x, m n x 1 and S n x n")
    d = degree(f, x.value)
    if d is None or d > MAX_DEGREE:
        raise ShapeError(f"expect() computes expectations of polynomials of degree at most {MAX_DEGREE} "
                         f"in {x.value}, but '{_short(to_text(f))}' is "
                         + ("not a polynomial" if d is None else f"of degree {d}") + f" in {x.value}",
                         code="MI008", hint="state moments of quadratic, cubic and quartic forms; "
                                            "other integrands are not supported")
    return (fr, fc)


def _rule_vector_p_norm(inf, node, shapes):
    (r, c), p = shapes
    if not inf.dims.unify(c, 1):
        raise ShapeError(f"norm(x, {to_text(node.args[1])}) is the p-norm of a column vector but "
                         f"'{_short(to_text(node.args[0]))}' is {inf.show((r, c))}", code="MI008",
                         hint="a matrix has the norms norm(X, 1), norm(X, 2), norm(X, inf) and norm(X)")
    return (1, 1)


def _rule_eigenvalues(inf, node, shapes):
    n = _need_square(inf, node, shapes[0])
    return (n, 1)


SHAPE_RULES = {
    "scalar_of_square": lambda inf, node, s: (_need_square(inf, node, s[0]), (1, 1))[1],
    "same_square": lambda inf, node, s: (lambda n: (n, n))(_need_square(inf, node, s[0])),
    "transposed": lambda inf, node, s: (s[0][1], s[0][0]),
    "matpow": _rule_matpow,
    "elementwise": lambda inf, node, s: s[0],
    "elementwise_power": lambda inf, node, s: (_need_scalar(inf, node, s[1], "exponent"), s[0])[1],
    "scalar_of_any": lambda inf, node, s: (1, 1),
    "constant": lambda inf, node, s: (1, 1),
    "vector_to_diagonal": _rule_vector_to_diagonal,
    "diagonal_of": _rule_diagonal_of,
    "kron": lambda inf, node, s: (Prod((s[0][0], s[1][0])), Prod((s[0][1], s[1][1]))),
    "vec": lambda inf, node, s: (Prod((s[0][0], s[0][1])), 1),
    "unvec": lambda inf, node, s: _rule_unvec(inf, node, s),
    "commutation": lambda inf, node, s: (Prod((s[0][0], s[0][1])), Prod((s[0][0], s[0][1]))),
    "identity_of_rows": lambda inf, node, s: (s[0][0], s[0][0]),
    "expectation": _rule_expectation,
    "vector_p_norm": _rule_vector_p_norm,
    "eigenvalues": _rule_eigenvalues,
}


@dataclass(frozen=True)
class Typed:
    """An expression whose shapes are known: identity sizes filled in."""
    expr: E.Expr
    shape: tuple
    symbols: dict            # name -> Decl, for every symbol of the expression


_READABLE = ["n", "m", "p", "q", "k", "r", "s", "t", "u", "v", "w"]


def infer(expr, symbols=None, *, implicit=False, shape=None):
    """Check the shapes of ``expr`` and return a :class:`Typed`.

    ``symbols`` maps names to declarations (text or :class:`Decl`).  With
    ``implicit=True`` undeclared symbols get a shape from their name.
    ``shape`` is an expected shape that fixes dimensions the expression leaves
    open (the size of a bare ``I``); a mismatch is left to the caller.
    Raises :class:`ShapeError` naming the sub-expression and both shapes.
    """
    inf = _Inference(symbols, implicit)
    annotated, shape_found = inf.walk(expr)
    inf.narrowed()
    if shape is not None:
        for found, wanted in zip(shape_found, shape):
            inf.dims.unify(found, wanted)
    shape = shape_found
    # Name the dimensions that stayed unknown, avoiding declared names.
    names, pool = {}, None

    def fresh():
        nonlocal pool
        if pool is None:                      # only when a dimension stayed unknown
            taken = {str(d) for n in inf.given for decl in (inf.decl(n),) for d in (decl.rows, decl.cols)}
            taken |= {str(d) for decl in inf.decls.values() for d in (decl.rows, decl.cols)}
            pool = itertools.chain((n for n in _READABLE if n not in taken),
                                   (f"n{i}" for i in itertools.count(1)))
        return next(pool)

    def final(d):
        d = inf.dims.find(d)
        if isinstance(d, Prod):
            return inf.dims._normal([final(f) for f in d.factors])
        if isinstance(d, Sum):
            return dim_sum([final(t) for t in d.terms])
        if isinstance(d, str) and d.startswith("?"):
            if d not in names:
                names[d] = fresh()
            return names[d]
        return d

    def fill(node):
        if node.op == E.IDENT:
            return E.identity(final(node.value))
        if not node.args:
            return node
        return E.Expr(node.op, [fill(a) for a in node.args], node.value)

    used = {}
    for name in inf.used:
        d = inf.decls[name]
        used[name] = Decl(d.kind if d.kind != "vector" or final(d.cols) == 1 else "matrix",
                          final(d.rows), final(d.cols), d.words)
        if used[name].kind == "matrix" and final(d.cols) == 1 and d.kind == "vector":
            used[name] = Decl("vector", final(d.rows), 1, d.words)
    return Typed(fill(annotated), (final(shape[0]), final(shape[1])), used)


def euclidean_vector_norms(typed):
    """``norm(v, 2)`` of a vector is its Euclidean norm ``norm(v)``: one form for one value.

    numpy users write both; the 2-norm of a matrix (its largest singular value) is not
    differentiable everywhere and derive refuses it, while the Euclidean norm of a vector
    is differentiable away from 0 and has its rules.  Returns ``typed`` rewritten.
    """
    if not any(n.op == "norm2" for n in typed.expr.walk()):
        return typed
    memo = {}

    def go(node):
        if not node.args:
            return node
        args = [go(a) for a in node.args]
        if node.op == "norm2" and 1 in shape_of(args[0], typed.symbols, memo):
            return E.call("norm", args[0])
        return node if all(a is b for a, b in zip(args, node.args)) else E.rebuild(node, args)

    return Typed(go(typed.expr), typed.shape, typed.symbols)


def shape_of(expr, symbols, memo=None):
    """Shape of a typed expression (identity sizes filled in) without checks.

    ``memo`` (a dict) keeps the shape of every sub-tree, for callers that ask
    about many trees sharing parts (a walk is then paid once per sub-tree).
    """
    if memo is None:
        return _shape_of(expr, symbols, None)
    out = memo.get(expr)
    if out is None:
        out = memo[expr] = _shape_of(expr, symbols, memo)
    return out


def sized_parts(trees, symbols):
    """One sub-tree of ``trees`` per distinct (is a symbol, shape), with that shape: the symbols
    first, then the other sub-trees, each the first in walk order (sub-trees whose shape cannot be
    computed are left out).

    What the verifier's size limits read (a value's entries depend only on its shape, and the
    first part of a shape is the one a message names); records keep theirs, computed once
    when the catalogue is built.
    """
    nodes = dict.fromkeys(node for tree in trees for node in tree.walk())   # each distinct one once
    memo, parts = {}, {}
    for node in sorted(nodes, key=lambda n: n.op != E.SYM):
        try:
            shape = shape_of(node, symbols, memo)
        except (KeyError, TypeError, AssertionError):
            continue
        parts.setdefault((node.op == E.SYM, shape), node)
    return tuple((node, shape) for (_, shape), node in parts.items())


def _shape_of(expr, symbols, memo):
    op = expr.op
    if op == E.NUM:
        return (1, 1)
    if op == E.SYM:
        d = symbols[expr.value]
        return (d.rows, d.cols)
    if op == E.IDENT:
        return (expr.value, expr.value)
    if op == "block":
        return _block_shape(expr, symbols)
    if op == E.BLOCKROW:        # a row alone: its blocks side by side (a bare 0 has no width)
        return (shape_of(expr.args[_sized(expr.args)], symbols, memo)[0],
                dim_sum([shape_of(c, symbols, memo)[1] for c in expr.args]))
    shapes = [shape_of(a, symbols, memo) for a in expr.args]
    if op == E.MATMUL:
        return (shapes[0][0], shapes[-1][1])
    if op in (E.MUL, E.ADD):
        for s in shapes:
            if not is_scalar_shape(s):
                return s
        return (1, 1)
    if op == E.POW:
        return (1, 1)
    if op == E.TRANSPOSE:
        return (shapes[0][1], shapes[0][0])
    rule = FUNCTIONS[op].shape_rule
    if rule in ("scalar_of_square", "scalar_of_any", "constant", "vector_p_norm"):
        return (1, 1)
    if rule == "eigenvalues":
        return (shapes[0][0], 1)
    if rule in ("same_square", "matpow"):
        return (shapes[0][0], shapes[0][0])
    if rule == "transposed":
        return (shapes[0][1], shapes[0][0])
    if rule in ("elementwise", "elementwise_power"):
        return shapes[0]
    if rule == "vector_to_diagonal":
        return (shapes[0][0], shapes[0][0])
    if rule == "diagonal_of":
        return (shapes[0][0], 1)
    if rule == "kron":
        return (_prod(shapes[0][0], shapes[1][0]), _prod(shapes[0][1], shapes[1][1]))
    if rule == "vec":
        return (_prod(*shapes[0]), 1)
    if rule == "unvec":
        return shapes[1]
    if rule == "commutation":
        return (_prod(*shapes[0]), _prod(*shapes[0]))
    if rule == "identity_of_rows":
        return (shapes[0][0], shapes[0][0])
    if rule == "expectation":
        return shapes[0]
    raise AssertionError(rule)


def _block_shape(expr, symbols):
    heights = [shape_of(row.args[_sized(row.args)], symbols)[0] for row in expr.args]
    widths = [shape_of(col[_sized(col)], symbols)[1]
              for col in (_column(expr, c) for c in range(len(expr.args[0].args)))]
    return (dim_sum(heights), dim_sum(widths))


def _sized(cells):
    """Index of the first block that is not a bare 0 (which takes its size from the others)."""
    return next(i for i, c in enumerate(cells) if not (c.op == E.NUM and c.value == 0))


def _column(block, c):
    return [row.args[c] for row in block.args]


def rename_dim(d, dims):
    """Dimension ``d`` with its names renamed by ``dims`` (name -> dimension)."""
    if isinstance(d, Prod):
        return Prod(tuple(rename_dim(f, dims) for f in d.factors))
    if isinstance(d, Sum):
        return dim_sum([rename_dim(t, dims) for t in d.terms])
    return dims.get(d, d) if isinstance(d, str) else d


def _prod(*dims):
    return _Dims()._normal(list(dims))


def dim_size(d, sizes):
    """Numeric size of a dimension given sizes of the named dimensions."""
    if isinstance(d, int):
        return d
    if isinstance(d, Prod):
        out = 1
        for f in d.factors:
            out *= dim_size(f, sizes)
        return out
    if isinstance(d, Sum):
        return sum(dim_size(t, sizes) for t in d.terms)
    return sizes[d]
