"""The term tree: matident's own light, immutable expression representation, and its text.

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
             (``pi``: a constant, with no arguments)  args = its arguments
``blockrow`` a row of a ``block`` matrix              args = its blocks
===========  ======================================  =========================

Subtraction ``a - b`` is ``a + (-1) * b``; division ``a / s`` is
``a * s ** -1``.  Numeric factors of a ``*`` product are folded into one
leading coefficient.

:func:`to_text` writes a tree in the expression language (the text parses
back to an equal tree); it lives here, below everything else, so that
every module can print a tree without importing the printers
(:mod:`matident.printing` adds LaTeX, which needs shapes).
"""
from __future__ import annotations

from fractions import Fraction

#: functions written as another function's call (functions.Function.written): norm2 -> norm(X, 2)
WRITTEN = {"norm1": "norm({0}, 1)", "norm2": "norm({0}, 2)", "norminf": "norm({0}, inf)",
           "pnorm": "norm({0}, {1})"}

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
        return f"Expr({to_text(self)!r})"

    def __str__(self):
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
    coeff, flat = fold_numbers(factors)
    if not flat:
        return num(coeff)
    # divisors (s ** -1) go last, as printed: x / s * y and x * y / s are one tree
    flat = [f for f in flat if not _is_divisor(f)] + [f for f in flat if _is_divisor(f)]
    if coeff != 1 or (isinstance(coeff, float)):
        flat.insert(0, num(coeff))
    return flat[0] if len(flat) == 1 else Expr(MUL, flat)


def fold_numbers(factors):
    """(product of the numbers, the other factors) of the ``*`` product of ``factors``, nested
    products flattened: the one folding of coefficients, for every form."""
    coeff, rest = 1, []
    for f in factors:
        for g in (f.args if f.op == MUL else (f,)):
            if g.op == NUM:
                coeff = coeff * g.value
            else:
                rest.append(g)
    return coeff, rest


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


# -- the text form -------------------------------------------------------

# precedence levels (higher binds tighter), as in Python's grammar
P_ADD, P_MUL, P_UNARY, P_POW, P_ATOM = 10, 20, 30, 40, 50


# -- text ---------------------------------------------------------------

def to_text(e):
    return _text(e)[0]


def _num_text(v):
    if isinstance(v, Fraction):
        return (f"{v.numerator} / {v.denominator}", P_MUL) if v >= 0 else \
               (f"-{-v.numerator} / {v.denominator}", P_MUL)
    if isinstance(v, float):
        text = repr(v)
        if "e" not in text and "n" not in text:
            text += "e0"          # keep it a float literal: plain decimals parse exactly
    else:
        text = str(v)
    return (text, P_UNARY if text.startswith("-") else P_ATOM)


def _wrap(pair, level):
    text, prec = pair
    return f"({text})" if prec < level else text


def _split_mul(e):
    """(coefficient, numerator factors, denominator factors) of a * product."""
    coeff, num, den = 1, [], []
    for f in e.args if e.op == MUL else (e,):
        if f.op == NUM:
            coeff = f.value
        elif f.op == POW and f.args[1].op == NUM and f.args[1].value == -1:
            den.append(f.args[0])
        else:
            num.append(f)
    return coeff, num, den


def _text(e):
    op = e.op
    if op == NUM:
        return _num_text(e.value)
    if op == SYM:
        return (e.value, P_ATOM)
    if op == IDENT:
        return ("I", P_ATOM)
    if op == TRANSPOSE:
        return (_wrap(_text(e.args[0]), P_ATOM) + ".T", P_ATOM)
    if op == ADD:
        parts = []
        for i, t in enumerate(_broadcast_terms(e.args)):
            negative, body = _negated(t)
            if i == 0:
                parts.append(_wrap(_text(t), P_ADD + 1) if not negative else _wrap(_text(t), P_ADD))
            elif negative:
                parts.append(" - " + _wrap(_text(body), P_ADD + 1))
            else:
                parts.append(" + " + _wrap(_text(t), P_ADD + 1))
        return ("".join(parts), P_ADD)
    if op == MATMUL:
        first = _wrap(_text(e.args[0]), P_MUL)
        rest = [_wrap(_text(a), P_MUL + 1) for a in e.args[1:]]
        if e.args[0].op == MUL and _split_mul(e.args[0])[2]:
            first = f"({_text(e.args[0])[0]})"
        return (" @ ".join([first, *rest]), P_MUL)
    if op == MUL:
        return _mul_text(e)
    if op == POW:
        base, exp = e.args
        return (_wrap(_text(base), P_POW + 1) + " ** " + _wrap(_text(exp), P_UNARY), P_POW)
    if op == "block":
        rows = ("[" + ", ".join(_text(c)[0] for c in row.args) + "]" for row in e.args)
        return ("block([" + ", ".join(rows) + "])", P_ATOM)
    if not e.args:              # a named constant (a function of no arguments): pi
        return (op, P_ATOM)
    if op in WRITTEN:           # norm2(A) is written norm(A, 2)
        return (WRITTEN[op].format(*(_text(a)[0] for a in e.args)), P_ATOM)
    return (f"{op}(" + ", ".join(_text(a)[0] for a in e.args) + ")", P_ATOM)


def _has_ones(t):
    return t.op == "ones" or (t.op == MUL and any(f.op == "ones" for f in t.args))


def broadcast_reference(terms):
    """The term a scalar of a sum broadcasts to: the first term that is no multiple of ``ones``."""
    return next((t for t in terms if not _has_ones(t)), None)


def _broadcast_terms(terms):
    """Terms of a sum with ``ones(R)`` factors dropped where R is :func:`broadcast_reference`.

    Shape inference reads a scalar s in a sum of arrays as ``s * ones(R)``, R
    the first array term (numpy's broadcasting); printing it back as ``s`` is
    exact: ``1 + exp(v)`` is the tree ``ones(exp(v)) + exp(v)`` once typed.
    """
    ref = broadcast_reference(terms)
    if ref is None:
        return terms

    def scalar_part(t):
        if t.op == "ones":
            return num(1) if t.args[0] == ref else t
        if t.op == MUL and call("ones", ref) in t.args:
            return mul(*[f for f in t.args if f != call("ones", ref)])
        return t
    return [scalar_part(t) for t in terms]


def _negated(t):
    """(True, -t) if t prints with a leading minus, else (False, t)."""
    if t.op == MUL and t.args[0].op == NUM and _is_negative(t.args[0].value):
        return True, mul(num(-t.args[0].value), *t.args[1:])
    if t.op == NUM and _is_negative(t.value):
        return True, num(-t.value)
    return False, t


def _is_negative(v):
    return v < 0


def _mul_text(e):
    coeff, num, den = _split_mul(e)
    if isinstance(coeff, Fraction):
        top, bottom = coeff.numerator, coeff.denominator
    else:
        top, bottom = coeff, 1
    pieces = [_text(f) for f in num]
    # a matrix product inside a * product is parenthesised so that the text
    # parses back to the same tree; ``A @ x / s`` is the one exception
    lone_product = len(num) == 1 and top == 1 and (den or bottom != 1)
    parts = [_wrap(p, P_MUL if lone_product else
                   P_ATOM if f.op == MATMUL else (P_MUL if i == 0 else P_MUL + 1))
             for i, (f, p) in enumerate(zip(num, pieces))]
    if not parts:
        text, prec = _num_text(top)
    elif top == -1 and not isinstance(top, float):
        first = _wrap(pieces[0], P_UNARY) if num[0].op != MATMUL else parts[0]
        text = "-" + " * ".join([first, *parts[1:]])
        prec = P_UNARY if len(parts) == 1 else P_MUL
    elif top != 1 or isinstance(top, float):
        text, prec = f"{_num_text(top)[0]} * " + " * ".join(parts), P_MUL
    elif len(parts) == 1:
        text, prec = parts[0], pieces[0][1]
    else:
        text, prec = " * ".join(parts), P_MUL
    for d in den:
        text += " / " + _wrap(_text(d), P_POW)
        prec = P_MUL
    if bottom != 1:
        text += f" / {bottom}"
        prec = P_MUL
    return (text, prec)
