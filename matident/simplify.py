"""Simplification of term trees into what a person would write.

Used by :mod:`matident.derive` on differentials, gradients and Hessians.  The
algebra is the normal form's (:mod:`matident.normal`): transposes pushed down
(through products and ``inv``-like functions; through sums, elementwise
functions and ``kron`` only when ``deep``), numbers folded, like terms
combined, scalars and 1x1 runs pulled out of matrix products (``A @ (2 * x)
-> 2 * A @ x``, ``a @ (b.T @ x) -> (b.T @ x) * a``), scalar factors out of
linear functions, ``inv(inv(A)) -> A`` and kin; symmetry and invertibility
are the matcher's structure inference (:mod:`matident.structure`).

What this module adds is what a derivation needs and a reader expects:

* presentation: factors and the orientation of a 1x1 product chosen by their
  text (``b.T @ x`` and ``x.T @ b`` are one term), negative powers last, a
  sum kept in its order, a product that is 1x1 as a whole kept in one piece
  (the differential ``a.T @ dX @ b``);
* exact arithmetic (Fractions) and powers: ``s * s ** -1 -> 1``, ``(c * s) ** k
  -> c ** k * s ** k``, Hadamard powers ``x * x -> hpow(x, 2)``;
* zeros of an array's shape (``x - x -> 0 * ones(x)``) and the ``ones`` rules
  (only the shape counts), a number times a sum distributed, ``c1 * M + c2 *
  M -> (c1 + c2) * M``, ``tr`` of a sum split;
* products: ``M @ inv(M)`` cancelled, ``inv(A @ B) -> inv(B) @ inv(A)`` for
  invertible factors, ``ones(a).T @ diag(w) -> w.T``, the mixed-product rule
  of ``kron``, ``vec(x) -> x`` for a column, ``unvec(vec(M), M) -> M``.

The derivation engine checks its final result numerically.
"""
from __future__ import annotations

from fractions import Fraction

from . import expr as E
from .expr import to_text
from .normal import (INSIDE_TRANSPOSE, LINEAR, THROUGH_TRANSPOSE, Normalizer, collapse, factors, flip, like_terms,
                     pull_scalars, scalar_runs, split_chain, split_coeff, split_scalars, transpose_step)
from .shapes import is_scalar_shape
from .structure import Structure


class _Form:
    """How :func:`~matident.normal.transpose_step` builds a presented (``deep``: fully pushed)
    transpose for a :class:`Simplifier`."""

    def __init__(self, simp, deep):
        self.simp, self.deep = simp, deep
        self.through = THROUGH_TRANSPOSE if deep else INSIDE_TRANSPOSE
        self.sums = self.kron = deep
        self.is_scalar = simp.scalar

    def transpose(self, e):
        return self.simp.transpose(e, self.deep)

    def words(self, name):
        decl = self.simp.symbols.get(name)
        return decl.structure if decl is not None else ()

    @staticmethod
    def chain(args):
        return E.matmul(*args)

    @staticmethod
    def product(args):
        return E.mul(*args)

    @staticmethod
    def sum(args):
        return E.add(*args)

    @staticmethod
    def function(op, args):
        return E.Expr(op, args)


class Simplifier:
    """Simplifies trees whose symbols are declared in ``symbols`` (name -> Decl)."""

    def __init__(self, symbols):
        self.symbols = symbols
        self.norm = Normalizer(symbols)
        self.structure = Structure(self.norm)
        # shapes and 1x1 tests are the normal form's (one memo for both)
        self.shape, self.scalar = self.norm.shape, self.norm.is_scalar
        self._texts, self._oriented = {}, {}
        self._forms = (_Form(self, False), _Form(self, True))
        self._fixed = set()          # trees known to be simplified already: step() leaves them be
        self._same = []              # trees step() gave back unchanged in the current pass

    def text(self, e):
        """``to_text(e)`` (memoised: the order of factors and orientations compares texts)."""
        s = self._texts.get(e)
        if s is None:
            s = self._texts[e] = to_text(e)
        return s

    # -- transposes ---------------------------------------------------------
    def transpose(self, e, deep=False):
        """The simplified transpose of an already simplified ``e``.

        ``deep`` also pushes it through sums, elementwise functions and
        Kronecker products.
        """
        return transpose_step(e, self._forms[bool(deep)])

    def holds(self, word, e):
        """True if ``e`` provably has structure ``word`` (the matcher's structure inference, over
        ``e``'s normal form)."""
        return self.structure.holds(word, self.norm.normal(e))

    def is_symmetric(self, e):
        """True if ``e`` provably equals its transpose."""
        return self.holds("symmetric", e)

    # -- the main pass -------------------------------------------------------
    def __call__(self, e):
        for _ in range(8):
            self._same = []
            new = self.step(e)
            if new == e:
                # a pass that changed nothing: every tree it gave back unchanged is final
                self._fixed.update(self._same)
                return e
            e = new
        return e

    def step(self, e):
        if not e.args or e in self._fixed:
            return e
        out = self._step(e)
        if out == e:
            self._same.append(e)
        return out

    def _step(self, e):
        args = [self.step(a) for a in e.args]
        op = e.op
        if op == E.TRANSPOSE:
            return self.transpose(args[0])
        if op == E.MATMUL:
            return self.matmul(args)
        if op == E.MUL:
            return self.mul(args)
        if op == E.ADD:
            return self.add(args)
        if op == E.POW:
            return self.power(*args)
        out = collapse(op, args, self.scalar)
        if out is not None:
            return out
        if op == "tr" and args[0].op == E.ADD:
            return self.add([self.step(E.call("tr", t)) for t in args[0].args])
        if op in LINEAR or op in ("kron", "unvec"):               # linear: scalar factors move out
            linear = args if op == "kron" else args[:1]        # (unvec's second argument is a shape)
            pulled, inner = pull_scalars(linear, self.scalar, self.mul)
            if pulled:
                return self.mul([*pulled, self.step(E.Expr(op, inner + args[len(linear):]))])
        if op == "vec" and self.shape(args[0])[1] == 1:
            return args[0]                                   # vec(x) = x for a column
        if op == "unvec" and args[0].op == "vec" and self.shape(args[0].args[0]) == self.shape(args[1]):
            return args[0].args[0]                       # unvec(vec(M), M') = M
        if op == "inv" and args[0].op == E.MATMUL and all(self.holds("invertible", a) for a in args[0].args):
            return self.matmul([E.call("inv", a) for a in reversed(args[0].args)])
        if op == "ones" and args[0].op == "ones":
            return args[0]
        if op == "ones" and args[0].op == E.MUL:             # only the shape counts
            pulled, (rest,) = pull_scalars(args[:1], self.scalar, self.mul)
            if pulled:
                return self.step(E.call("ones", rest))
        if op == "ones" and args[0].op != E.SYM:
            same = [n for n in args[0].walk() if n.op == E.SYM and self.shape(n) == self.shape(args[0])]
            if same:
                return E.call("ones", same[0])
        if op == "hpow" and E.is_number(args[1], 0):
            return E.call("ones", args[0])
        return E.Expr(op, args, e.value)

    def matmul(self, args):
        scalars, mats, ident = split_chain(args, self.scalar, self.mul)
        mats = self._mixed_kron(_ones_through_diagonals(_cancel_inverses(mats)))
        if len(mats) > 1 and not self.scalar_product(mats):
            mats, runs = scalar_runs(mats, self.shape)
            scalars.extend(self.orient(E.matmul(*run)) for run in runs)
        body = E.matmul(*mats) if mats else ident
        if body is None:
            return self.mul(scalars) if scalars else E.num(1)
        return self.mul([*scalars, body]) if scalars else body

    def scalar_product(self, mats):
        """Whether the matrix product of ``mats`` is 1x1 (derive keeps such a product, e.g. a
        differential ``a.T @ dX @ b``, in one piece; the normal form splits its 1x1 runs)."""
        return is_scalar_shape((self.shape(mats[0])[0], self.shape(mats[-1])[1]))

    def _mixed_kron(self, factors):
        """kron(a, I) @ B = kron(a, B) and kron(I, b) @ B = kron(B, b) for columns a, b (the
        mixed-product rule with B = kron(1, B) = kron(B, 1))."""
        out = []
        for f in factors:
            last = out[-1] if out else None
            if last is not None and last.op == "kron":
                a, b = last.args
                if _is_identity(b) and self.shape(a)[1] == 1:
                    out[-1] = E.call("kron", a, f)
                    continue
                if _is_identity(a) and self.shape(b)[1] == 1:
                    out[-1] = E.call("kron", f, b)
                    continue
            out.append(f)
        return out

    def orient(self, e):
        """One orientation for a 1x1 product: the smaller text of ``e`` and its :func:`~matident.normal.flip`
        (the normal form takes the smaller key; memoised)."""
        if e.op != E.MATMUL:
            return e
        out = self._oriented.get(e)
        if out is None:
            out = self._oriented[e] = min(e, flip(e, self.transpose, _Form.chain), key=self.text) \
                if self.scalar(e) else e
        return out

    def mul(self, args):
        coeff, rest = E.fold_numbers(args)
        coeff, scalars, others = _exact(coeff), [], []
        for f in rest:
            if self.scalar(f):
                scalars.append(self.orient(f))
            else:
                others.append(f)
        if coeff == 0:
            return self.zero_like(others[0]) if others else E.num(0)
        if coeff != 1 and not scalars and len(others) == 1 and others[0].op == E.ADD:
            # a number times a sum: distribute, so that like terms can meet
            return self.add([self.mul([E.num(coeff), t]) for t in others[0].args])
        if len(others) > 1:
            others = [o for o in others if not (o.op == "ones" and any(
                p is not o and self.shape(p) == self.shape(o) for p in others))] or others
        if len(others) > 1:
            others = _merge_hadamard_powers(others)
        scalars = self._merge_powers(scalars)
        scalars.sort(key=lambda s: (s.op == E.POW and _neg_power(s), self.text(s)))
        others.sort(key=self.text)
        return E.mul(E.num(coeff), *scalars, *others)

    def _merge_powers(self, scalars):
        exps, order = {}, []
        for s in scalars:
            base, exp = (s.args[0], s.args[1]) if s.op == E.POW else (s, E.num(1))
            if base not in exps:
                order.append(base)
                exps[base] = []
            exps[base].append(exp)
        out = []
        for base in order:
            es = exps[base]
            if all(x.op == E.NUM for x in es):
                total = sum((_exact(x.value) for x in es), Fraction(0))
                if total == 0:
                    continue
                out.append(base if total == 1 else E.power(base, E.num(total)))
            else:
                out.extend(base if x == E.num(1) else E.power(base, x) for x in es)
        return out

    def power(self, base, exp):
        out = collapse(E.POW, [base, exp], self.scalar)
        if out is not None:
            return out
        if base.op == E.MUL and base.args[0].op == E.NUM and exp.op == E.NUM \
                and isinstance(exp.value, int) and not isinstance(base.args[0].value, float):
            # (c * s) ** k = c ** k * s ** k
            coeff = Fraction(base.args[0].value) ** exp.value
            return self.mul([E.num(coeff), self.power(E.mul(*base.args[1:]), exp)])
        if exp.op == E.NUM and exp.value == 0:
            return E.num(1)
        if base.op == E.POW and exp.op == E.NUM and base.args[1].op == E.NUM:
            return self.power(base.args[0], E.num(_exact(base.args[1].value) * _exact(exp.value)))
        if base.op == E.NUM and exp.op == E.NUM and isinstance(exp.value, int) and abs(exp.value) <= 8 \
                and not isinstance(base.value, float) and base.value != 0:
            return E.num(Fraction(base.value) ** exp.value)
        return E.power(self.orient(base), exp)

    def add(self, args):
        out = []
        for key, c, alone in like_terms([t for a in args for t in factors(a, E.ADD)], _coefficient):
            if c == 0:
                continue
            if alone is not None and alone in self._fixed:
                out.append(alone)             # no like term, and simplified already
            elif key is None:
                out.append(E.num(c))
            else:
                out.append(self.mul([E.num(c), key]))
        if not out:
            return self.zero_like(args[0])
        return E.add(*self._common_matrix_factor(out))

    def zero_like(self, e):
        """The zero of e's shape: the number 0 for a scalar, else ``0 * ones(e)`` (x - x is a
        zero vector, whose exp sums to n, not the scalar 0)."""
        if self.scalar(e):
            return E.num(0)
        return E.mul(E.num(0), e if e.op == "ones" else E.call("ones", e))

    def _common_matrix_factor(self, terms):
        """c1 * M + c2 * M -> (c1 + c2) * M for scalar c1, c2 and one matrix factor M."""
        groups, order = {}, []
        for t in terms:
            scalars, rest = _split_scalars(t, self) if t.op == E.MUL else ([], t)
            if rest.op == E.MUL or self.scalar(rest):
                scalars, rest = [], t
            key = rest
            if key not in groups:
                order.append(key)
                groups[key] = []
            groups[key].append((E.mul(*scalars) if scalars else E.num(1), t))
        out = []
        for key in order:
            coeffs = [c for c, _ in groups[key]]
            if len(coeffs) == 1 or self.scalar(key):
                out.extend(t if t in self._fixed else self.mul([c, key]) for c, t in groups[key])
            else:
                out.append(self.mul([E.add(*coeffs), key]))
        return out


def _merge_hadamard_powers(factors):
    """x * hpow(x, -1) = ones(x), x * x = hpow(x, 2): Hadamard powers of one base add their
    (numeric) exponents, as scalar powers do."""
    def split(f):
        if f.op == "hpow" and f.args[1].op == E.NUM:
            return f.args[0], Fraction(f.args[1].value)
        return f, Fraction(1)
    exps, order = {}, []
    for f in factors:
        base, p = split(f)
        if base not in exps:
            order.append(base)
            exps[base] = Fraction(0)
        exps[base] += p
    if len(order) == len(factors):
        return factors
    out = []
    for base in order:
        p = exps[base]
        out.append(E.call("ones", base) if p == 0 else base if p == 1 else
                   E.call("hpow", base, E.num(p)))
    return out


def _is_identity(e):
    return e.op == E.IDENT or e.op == "eye"


def _ones_through_diagonals(factors):
    """ones(a).T @ diag(w) = w.T and diag(w) @ ones(a) = w (1^T diag(w) is the row of w's entries)."""
    out = []
    for f in factors:
        if (out and f.op == "diag" and out[-1].op == E.TRANSPOSE and out[-1].args[0].op == "ones"):
            out[-1] = E.transpose(f.args[0])
        elif out and f.op == "ones" and out[-1].op == "diag":
            out[-1] = out[-1].args[0]
        else:
            out.append(f)
    return out


def _cancel_inverses(factors):
    """M @ inv(M) and inv(M) @ M cancel."""
    out = []
    for f in factors:
        if out and (f.op == "inv" and f.args[0] == out[-1] or out[-1].op == "inv" and out[-1].args[0] == f):
            out.pop()
        else:
            out.append(f)
    return out


def _split_scalars(m, simp):
    """(scalar factors, rest) of a * product whose rest is one non-scalar factor."""
    scalars, others = split_scalars(m.args, simp.scalar)
    return (scalars, others[0]) if len(others) == 1 else ([], m)


def _coefficient(t):
    c, body = split_coeff(t)
    return _exact(c), body


def _exact(v):
    return Fraction(v) if not isinstance(v, float) else Fraction(v).limit_denominator(10 ** 12)


def _neg_power(s):
    return s.args[1].op == E.NUM and _exact(s.args[1].value) < 0


def simplify(e, symbols):
    """Simplify ``e`` (a typed tree) given the declarations ``symbols``."""
    return Simplifier(symbols)(e)
