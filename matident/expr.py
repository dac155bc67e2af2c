"""The term tree: matident's own light, immutable expression representation.

Every part of matident (parser, shapes, verifier, matcher, derivation, printers)
works on these trees; SymPy is used only at the public boundary (see
:mod:`matident.sympy_bridge`).  Trees are hashable and compare structurally.

Node kinds (``Expr.op``):

===========  ======================================  =========================
op           meaning                                  ``args`` / ``value``
===========  ======================================  =========================
``sym``      a symbol ``A``, ``x``, ``alpha``, ``dX``  value = name
``num``      a number                                 value = int/Fraction/float
``I``        identity matrix                          value = its dimension or None
``@``        matrix product (n-ary, flattened)        args = factors
``*``        Hadamard product / scalar multiple       args = factors
``+``        sum (n-ary, flattened)                   args = terms
``**``       power of scalars                         args = (base, exponent)
``T``        transpose                                args = (a,)
name         a function from :data:`matident.functions.FUNCTIONS`
``blockrow`` a row of a ``block`` matrix              args = its blocks
===========  ======================================  =========================

Subtraction ``a - b`` is ``a + (-1) * b``; division ``a / s`` is
``a * s ** -1``.  Numeric factors of a ``*`` product are folded into one
leading coefficient.
"""
from __future__ import annotations

from fractions import Fraction

SYM, NUM, IDENT, MATMUL, MUL, ADD, POW, TRANSPOSE = "sym", "num", "I", "@", "*", "+", "**", "T"
BLOCKROW = "blockrow"    # one row of blocks: the arguments of a ``block`` node


class Expr:
    """An immutable node of the term tree."""

    __slots__ = ("op", "args", "value", "_hash")

    def __init__(self, op, args=(), value=None):
        args = tuple(args)
        _set_op(self, op)
        _set_args(self, args)
        _set_value(self, value)
        # from the children's stored hashes: no Python-level __hash__ call per child
        # (and _value_key inlined: this is the hottest constructor)
        _set_hash(self, hash((op, tuple([a._hash for a in args]),
                              (type(value).__name__, value) if type(value) in _NUMBER_TYPES else value)))

    def __setattr__(self, name, value):
        raise AttributeError("Expr is immutable")

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        if self is other:
            return True
        if not isinstance(other, Expr) or self._hash != other._hash:
            return False
        v, w = self.value, other.value       # as _value_key(v) == _value_key(w), without tuples
        return (self.op == other.op and type(v) is type(w) and (v is w or v == w)
                and self.args == other.args)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        from .printing import to_text
        return f"Expr({to_text(self)!r})"

    def __str__(self):
        from .printing import to_text
        return to_text(self)

    def __reduce__(self):
        return (Expr, (self.op, self.args, self.value))

    # -- convenience ---------------------------------------------------
    @property
    def name(self):
        """Symbol name (only for ``sym`` nodes)."""
        return self.value if self.op == SYM else None

    def walk(self):
        """Yield every node, parents before children (pre-order)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))

    def symbols(self):
        """Names of the symbols that occur in the tree (sorted)."""
        return sorted({n.value for n in self.walk() if n.op == SYM})

    def size(self):
        return sum(1 for _ in self.walk())

    def depth(self):
        best, stack = 0, [(self, 1)]
        while stack:
            node, d = stack.pop()
            best = max(best, d)
            stack.extend((a, d + 1) for a in node.args)
        return best

    def has(self, name):
        """True if symbol ``name`` occurs in the tree."""
        return any(n.op == SYM and n.value == name for n in self.walk())

    def replace(self, mapping):
        """Substitute symbols by name: ``mapping`` maps names to trees."""
        if self.op == SYM:
            return mapping.get(self.value, self)
        if not self.args:
            return self
        return rebuild(self, [a.replace(mapping) for a in self.args])


_NUMBER_TYPES = (int, float, Fraction)
_set_op, _set_args, _set_value, _set_hash = (Expr.__dict__[k].__set__ for k in ("op", "args", "value", "_hash"))


def _value_key(value):
    # 1, 1.0 and Fraction(1) are equal numbers but distinct literals; keep the
    # type so that printing round-trips exactly.  (A plain type test: this is
    # on the matcher's hot path.)
    if type(value) in _NUMBER_TYPES:
        return (type(value).__name__, value)
    return value


# -- constructors ---------------------------------------------------------

def sym(name):
    return Expr(SYM, (), name)


def num(value):
    if isinstance(value, Fraction) and value.denominator == 1:
        value = int(value)
    return Expr(NUM, (), value)


def identity(dim=None):
    return Expr(IDENT, (), dim)


def matmul(*factors):
    flat = []
    for f in factors:
        flat.extend(f.args if f.op == MATMUL else (f,))
    return flat[0] if len(flat) == 1 else Expr(MATMUL, flat)


def mul(*factors):
    """Product with ``*``; numeric factors are folded into one leading coefficient."""
    flat, coeff = [], 1
    for f in factors:
        for g in (f.args if f.op == MUL else (f,)):
            if g.op == NUM:
                coeff = coeff * g.value
            else:
                flat.append(g)
    if isinstance(coeff, Fraction) and coeff.denominator == 1:
        coeff = int(coeff)
    if not flat:
        return num(coeff)
    # divisors (s ** -1) go last, as printed: x / s * y and x * y / s are one tree
    flat = [f for f in flat if not _is_divisor(f)] + [f for f in flat if _is_divisor(f)]
    if coeff != 1 or (isinstance(coeff, float)):
        flat.insert(0, num(coeff))
    return flat[0] if len(flat) == 1 else Expr(MUL, flat)


def _is_divisor(f):
    return f.op == POW and f.args[1].op == NUM and f.args[1].value == -1


def add(*terms):
    flat = []
    for t in terms:
        flat.extend(t.args if t.op == ADD else (t,))
    return flat[0] if len(flat) == 1 else Expr(ADD, flat)


def neg(a):
    return mul(num(-1), a)


def sub(a, b):
    return add(a, neg(b))


def power(base, exponent):
    return Expr(POW, (base, exponent))


def div(a, s):
    if s.op == NUM and s.value != 0 and not isinstance(s.value, float):
        return mul(num(Fraction(1) / Fraction(s.value)), a)
    return mul(a, power(s, num(-1)))


def transpose(a):
    return Expr(TRANSPOSE, (a,))


def call(name, *args):
    return Expr(name, args)


def rebuild(node, args):
    """A node like ``node`` with new children, re-flattened where needed."""
    if node.op == MATMUL:
        return matmul(*args)
    if node.op == MUL:
        return mul(*args)
    if node.op == ADD:
        return add(*args)
    return Expr(node.op, args, node.value)


def is_number(e, value=None):
    return e.op == NUM and (value is None or e.value == value)
