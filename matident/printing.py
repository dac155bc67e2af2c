"""Printers: term tree -> text in the expression language, and -> LaTeX.

``to_text`` output parses back to an equal tree.  ``to_latex`` uses the
Cookbook's notation: juxtaposition for products, ``A^{T}``, ``A^{-1}``,
``A^{-T}``, ``\\operatorname{tr}``, ``\\det``, ``\\circ`` for the Hadamard
product, ``\\otimes`` for the Kronecker product.
"""
from __future__ import annotations

from fractions import Fraction

from . import expr as E
from .functions import FUNCTIONS
from .shapes import GREEK, is_scalar_shape, shape_of

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
    for f in e.args if e.op == E.MUL else (e,):
        if f.op == E.NUM:
            coeff = f.value
        elif f.op == E.POW and f.args[1].op == E.NUM and f.args[1].value == -1:
            den.append(f.args[0])
        else:
            num.append(f)
    return coeff, num, den


def _text(e):
    op = e.op
    if op == E.NUM:
        return _num_text(e.value)
    if op == E.SYM:
        return (e.value, P_ATOM)
    if op == E.IDENT:
        return ("I", P_ATOM)
    if op == E.TRANSPOSE:
        return (_wrap(_text(e.args[0]), P_ATOM) + ".T", P_ATOM)
    if op == E.ADD:
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
    if op == E.MATMUL:
        first = _wrap(_text(e.args[0]), P_MUL)
        rest = [_wrap(_text(a), P_MUL + 1) for a in e.args[1:]]
        if e.args[0].op == E.MUL and _split_mul(e.args[0])[2]:
            first = f"({_text(e.args[0])[0]})"
        return (" @ ".join([first, *rest]), P_MUL)
    if op == E.MUL:
        return _mul_text(e)
    if op == E.POW:
        base, exp = e.args
        return (_wrap(_text(base), P_POW + 1) + " ** " + _wrap(_text(exp), P_UNARY), P_POW)
    if op == "block":
        rows = ("[" + ", ".join(_text(c)[0] for c in row.args) + "]" for row in e.args)
        return ("block([" + ", ".join(rows) + "])", P_ATOM)
    return (f"{op}(" + ", ".join(_text(a)[0] for a in e.args) + ")", P_ATOM)


def _has_ones(t):
    return t.op == "ones" or (t.op == E.MUL and any(f.op == "ones" for f in t.args))


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
            return E.num(1) if t.args[0] == ref else t
        if t.op == E.MUL and E.call("ones", ref) in t.args:
            return E.mul(*[f for f in t.args if f != E.call("ones", ref)])
        return t
    return [scalar_part(t) for t in terms]


def _negated(t):
    """(True, -t) if t prints with a leading minus, else (False, t)."""
    if t.op == E.MUL and t.args[0].op == E.NUM and _is_negative(t.args[0].value):
        return True, E.mul(E.num(-t.args[0].value), *t.args[1:])
    if t.op == E.NUM and _is_negative(t.value):
        return True, E.num(-t.value)
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
                   P_ATOM if f.op == E.MATMUL else (P_MUL if i == 0 else P_MUL + 1))
             for i, (f, p) in enumerate(zip(num, pieces))]
    if not parts:
        text, prec = _num_text(top)
    elif top == -1 and not isinstance(top, float):
        first = _wrap(pieces[0], P_UNARY) if num[0].op != E.MATMUL else parts[0]
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

    def scalar(self, e):
        if self.symbols is not None:
            try:
                return is_scalar_shape(shape_of(e, self.symbols))
            except (KeyError, TypeError, IndexError):
                pass
        if e.op in (E.NUM, E.POW):
            return True
        if e.op == E.SYM:
            return e.value in GREEK or e.value.rstrip("0123456789") in GREEK
        if e.op in FUNCTIONS:
            return FUNCTIONS[e.op].shape_rule in ("scalar_of_square", "scalar_of_any")
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
                    parts.append(" + " + self.wrap(t, P_ADD + 1))
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
        inner = self.wrap(base, P_ATOM) if base.op not in ("I",) else "I"
        if base.op == E.SYM or base.op == E.IDENT:
            inner = self.go(base)[0]
        elif not inner.startswith(r"\left("):
            inner = r"\left(" + self.go(base)[0] + r"\right)"
        return inner + "^{" + text + "}"

    def wrap(self, e, level):
        text, prec = self.go(e)
        return rf"\left({text}\right)" if prec < level else text

    def matmul(self, e):
        """A matrix product; numbers inside its factors go in front: A (2 B) is 2 A B, not "A 2 B"."""
        coeff, factors = 1, []
        for a in e.args:
            c, num, den = _split_mul(a) if a.op == E.MUL else (1, [a], [])
            if c != 1 and num and not den and not isinstance(c, float):
                coeff *= c
                a = E.mul(*num) if len(num) > 1 else num[0]
            factors.append(a)
        body = " ".join(self.wrap(a, P_MUL) for a in factors)
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
            pieces.append(self.go(f)[0] if lone and (den or bottom != 1) else self.wrap(f, P_MUL + 1))
        if others:
            pieces.append(r" \circ ".join(self.go(f)[0] if lone and (den or bottom != 1) else self.wrap(f, P_MUL + 1)
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


def to_latex(e, symbols=None):
    """LaTeX of a term tree; ``symbols`` (name -> Decl) tells scalars from matrices."""
    if symbols is None:
        from .shapes import infer
        try:
            typed = infer(e, None, implicit=True)
            e, symbols = typed.expr, typed.symbols
        except Exception:  # noqa: BLE001 - fall back to the name heuristics
            symbols = None
    return _Latex(symbols).go(e)[0]
