"""Printers: term tree -> text in the expression language, and -> LaTeX.

``to_text`` (defined in :mod:`matident.expr`, below the modules that print
error messages) output parses back to an equal tree.  ``to_latex`` uses the
Cookbook's notation: juxtaposition for products, ``A^{T}``, ``A^{-1}``,
``A^{-T}``, ``\\operatorname{tr}``, ``\\det``, ``\\circ`` for the Hadamard
product, ``\\otimes`` for the Kronecker product.
"""
from __future__ import annotations

from fractions import Fraction

from . import expr as E
from .expr import P_ADD, P_ATOM, P_MUL, P_POW, P_UNARY, _negated, _split_mul  # noqa: F401 - printers' API
from .expr import broadcast_reference, to_text  # noqa: F401 - printers' API
from .functions import FUNCTIONS
from .shapes import GREEK, infer, is_scalar_shape, shape_of


# -- LaTeX --------------------------------------------------------------

_GREEK_LATEX = {"lam": "lambda", "lamda": "lambda", "eps": "epsilon"}


def latex_name(name):
    if name.startswith("d") and len(name) > 1 and (name[1].isupper() or name[1:] in GREEK
                                                     or len(name) == 2):
        return r"\mathrm{d}" + latex_name(name[1:])
    base, digits = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
    sub = None
    if "_" in base:
        base, sub = base.split("_", 1)
    if base in GREEK:
        base = "\\" + _GREEK_LATEX.get(base, base)
    elif len(base) > 1:
        base = r"\mathrm{" + base + "}"
    index = digits or sub
    return base + (f"_{{{index}}}" if index else "")


class _Latex:
    def __init__(self, symbols):
        self.symbols = symbols
        self.shapes = {}                 # of sub-trees: a product asks about each factor

    def scalar(self, e):
        if self.symbols is not None:
            try:
                return is_scalar_shape(shape_of(e, self.symbols, self.shapes))
            except (KeyError, TypeError, IndexError):
                pass
        if e.op in (E.NUM, E.POW):
            return True
        if e.op == E.SYM:
            return e.value in GREEK or e.value.rstrip("0123456789") in GREEK
        if e.op in FUNCTIONS:
            return FUNCTIONS[e.op].shape_rule in ("scalar_of_square", "scalar_of_any", "constant")
        if e.op == E.MUL:
            return all(self.scalar(a) for a in e.args)
        return False

    def go(self, e):
        """(latex, precedence)"""
        op = e.op
        if op == E.NUM:
            v = e.value
            if isinstance(v, Fraction):
                sign = "-" if v < 0 else ""
                return (rf"{sign}\frac{{{abs(v.numerator)}}}{{{v.denominator}}}", P_MUL)
            text = repr(v) if isinstance(v, float) else str(v)
            if "e" in text:
                mant, ex = text.split("e")
                text = rf"{mant} \cdot 10^{{{int(ex)}}}"
            return (text, P_UNARY if text.startswith("-") else P_ATOM)
        if op == E.SYM:
            return (latex_name(e.value), P_ATOM)
        if op == E.IDENT:
            return ("I", P_ATOM)
        if op == E.TRANSPOSE:
            inner = e.args[0]
            if inner.op == "inv":
                return (self.sup(inner.args[0], "-T"), P_ATOM)
            return (self.sup(inner, "T"), P_ATOM)
        if op == "inv":
            inner = e.args[0]
            if inner.op == E.TRANSPOSE:
                return (self.sup(inner.args[0], "-T"), P_ATOM)
            return (self.sup(inner, "-1"), P_ATOM)
        if op == "pinv":
            return (self.sup(e.args[0], "+"), P_ATOM)
        if op == "sqrtm":
            return (self.sup(e.args[0], "1/2"), P_ATOM)
        if op == "block":
            rows = (" & ".join(self.go(c)[0] for c in row.args) for row in e.args)
            return (r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}", P_ATOM)
        if op == "matpow":
            return (self.sup(e.args[0], self.go(e.args[1])[0]), P_ATOM)
        if op == "hpow":
            return (self.sup(e.args[0], r"\circ " + self.go(e.args[1])[0]), P_ATOM)
        if op == E.ADD:
            parts = []
            for i, t in enumerate(e.args):
                negative, body = _negated(t)
                if i == 0:
                    parts.append(self.wrap(t, P_ADD))
                elif negative:
                    parts.append(" - " + self.wrap(body, P_ADD + 1))
                else:
                    text = self.wrap(t, P_ADD + 1)    # a sign that leads the text covers all of it
                    parts.append(" - " + text[1:] if text.startswith("-") else " + " + text)
            return ("".join(parts), P_ADD)
        if op == E.MATMUL:
            return self.matmul(e)
        if op == E.MUL:
            return self.mul(e)
        if op == E.POW:
            base, exp = e.args
            if exp.op == E.NUM and exp.value == Fraction(1, 2):
                return (rf"\sqrt{{{self.go(base)[0]}}}", P_ATOM)
            return (self.wrap(base, P_POW + 1) + "^{" + self.go(exp)[0] + "}", P_POW)
        if op == "kron":
            return (self.wrap(e.args[0], P_MUL + 1) + r" \otimes " + self.wrap(e.args[1], P_MUL + 1),
                    P_ADD + 1)
        fn = FUNCTIONS[op]
        return (fn.latex.format(*(self.go(a)[0] for a in e.args)), P_ATOM)

    def sup(self, base, text):
        """``base^{text}``; a base that is not a name or one parenthesized group is parenthesized
        (``\\left(B C\\right)^{+}`` transposed is ``\\left(\\left(B C\\right)^{+}\\right)^{T}``, never
        a double superscript, which KaTeX refuses)."""
        if base.op == E.SYM or base.op == E.IDENT:
            return self.go(base)[0] + "^{" + text + "}"
        inner = self.go(base)[0]
        if not _one_group(inner):
            inner = r"\left(" + inner + r"\right)"
        return inner + "^{" + text + "}"

    def wrap(self, e, level):
        text, prec = self.go(e)
        return rf"\left({text}\right)" if prec < level else text

    def operand(self, e, level):
        """A factor of a product: wrapped below ``level``, and wrapped when it starts with a minus
        sign, which juxtaposed would read as a subtraction (``A \\left(-\\frac{x}{y}\\right) B``)."""
        text, prec = self.go(e)
        return rf"\left({text}\right)" if prec < level or text.startswith("-") else text

    def matmul(self, e):
        """A matrix product; numbers inside its factors go in front: A (2 B) is 2 A B, not "A 2 B"."""
        coeff, factors = 1, []
        for a in e.args:
            c, num, den = _split_mul(a) if a.op == E.MUL else (1, [a], [])
            if c != 1 and num and not den and not isinstance(c, float):
                coeff *= c
                a = E.mul(*num) if len(num) > 1 else num[0]
            factors.append(a)
        body = " ".join(self.operand(a, P_MUL) if i else self.wrap(a, P_MUL)   # a leading sign is the product's
                        for i, a in enumerate(factors))
        if coeff == 1:
            return (body, P_MUL)
        return self.mul(E.mul(E.num(coeff), E.matmul(*factors)))

    def mul(self, e):
        coeff, num, den = _split_mul(e)
        sign = ""
        if isinstance(coeff, (int, Fraction, float)) and coeff < 0:
            sign, coeff = "-", -coeff
        top = coeff.numerator if isinstance(coeff, Fraction) else coeff
        bottom = coeff.denominator if isinstance(coeff, Fraction) else 1
        pieces = []
        if top != 1 or not num:
            pieces.append(str(top) if not isinstance(top, float) else repr(top))
        scalars = [f for f in num if self.scalar(f)]
        others = [f for f in num if not self.scalar(f)]
        lone = len(num) == 1 and top == 1
        for f in scalars:
            pieces.append(self.go(f)[0] if lone and (den or bottom != 1) else
                          self.operand(f, P_MUL + 1) if pieces else self.wrap(f, P_MUL + 1))
        if others:
            pieces.append(r" \circ ".join(self.go(f)[0] if lone and (den or bottom != 1) else self.operand(f, P_MUL + 1)
                                          for f in others))
        numer = " ".join(pieces) if pieces else "1"
        denom = [self.go(d)[0] if len(den) == 1 and bottom == 1 else self.wrap(d, P_MUL + 1)
                 for d in den]
        if bottom != 1:
            denom.insert(0, str(bottom))
        if denom:
            text = rf"\frac{{{numer}}}{{{' '.join(denom)}}}"
            return (sign + text, P_UNARY if sign else P_MUL)
        if len(others) > 1:                 # a Hadamard product binds looser than juxtaposition
            return (sign + numer, P_MUL - 1)
        return (sign + numer, P_UNARY if sign else P_MUL)


def _one_group(text):
    """Whether ``text`` is one ``\\left...\\right`` group as a whole, so that a superscript binds to
    all of it (``\\left(B C\\right)^{+}`` is not: it is a group followed by a superscript)."""
    if not text.startswith(r"\left"):
        return False
    depth, i = 0, 0
    while i < len(text):
        if text.startswith(r"\left", i):
            depth, i = depth + 1, i + 5
        elif text.startswith(r"\right", i):
            depth, i = depth - 1, i + 6
            if depth == 0:
                return text.find("}", i) < 0 and len(text) - i <= 2 and not text[i:].strip(").]|")
        else:
            i += 1
    return False


def to_latex(e, symbols=None):
    """LaTeX of a term tree; ``symbols`` (name -> Decl) tells scalars from matrices."""
    if symbols is None:
        try:
            typed = infer(e, None, implicit=True)
            e, symbols = typed.expr, typed.symbols
        except Exception:  # noqa: BLE001 - fall back to the name heuristics
            symbols = None
    return _Latex(symbols).go(e)[0]
