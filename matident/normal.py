"""Normal forms of typed term trees: the one algebra of lookup and derive.

:class:`Normalizer` rewrites a typed tree (identity sizes filled in, see
:func:`matident.shapes.infer`) into a *normal form* in which equal-by-algebra
expressions that the matcher must not tell apart become equal trees:

* transposes are pushed down to symbols: ``(A B)^T = B^T A^T``,
  ``(A^T)^T = A``, ``inv(A)^T = inv(A^T)`` (likewise ``pinv``, ``adj``,
  ``matpow``, elementwise functions, ``kron``), ``S^T = S`` for a symmetric
  and ``K^T = -K`` for a skew symbol, a 1x1 expression is its own transpose;
* ``@`` is flattened, identity factors are dropped, scalar factors (numbers,
  scalars and 1x1 sub-products such as ``x^T y``) are pulled out of products
  and out of the linear functions ``tr``, ``sum``, ``vec``, ``diag``,
  ``diagvec``, ``toeplitz_mean``, ``toeplitz_sum`` and ``kron``;
* ``*`` and ``+`` are flattened and sorted, numbers folded into one leading
  coefficient, like terms of a sum combined;
* a 1x1 product takes the smaller of its two orientations (``a^T b = b^T a``);
  ``tr`` takes the smallest cyclic rotation of its argument or of its
  transpose, and becomes a 1x1 product when a rotation is one
  (``tr(A x y^T) = y^T A x``); ``det``, ``logdet``, ``sum``, ``norm`` and
  ``diagvec`` ignore a transpose of their argument; ``inv(inv(A)) = A``.

Each rewrite that derive's simplifier (:mod:`matident.simplify`) makes too is
a function here, which both call with their own builders: pushing a
transpose (:func:`transpose_step`), combining like terms (:func:`like_terms`,
:func:`split_coeff`; numbers fold by :func:`matident.expr.fold_numbers`),
splitting a matrix product into its scalar factors and 1x1 runs
(:func:`split_chain`, :func:`scalar_runs`), the other orientation of a 1x1
product (:func:`flip`), scalar factors out of linear functions
(:func:`pull_scalars`, :func:`split_scalars`) and applications that are
their argument (:func:`collapse`).  What differs is presentation: the
simplifier writes ``(A + B).T``, not ``A.T + B.T``, orders factors and
orientations by their text, not by :func:`key`, and keeps sums in their
order.  Structure words are inferred over normal forms by
:class:`matident.structure.Structure`.

"Smaller" is the total order :func:`key`.
"""
from __future__ import annotations

from . import expr as E
from .functions import FUNCTIONS
from .shapes import Prod, rename_dim, shape_of

#: functions f with f(A^T) = f(A)^T whose transpose every form moves inside
INSIDE_TRANSPOSE = frozenset({"inv", "pinv", "adj", "matpow", "hpow"})
#: functions f with f(A^T) = f(A)^T (the transpose moves inside, in the normal form)
THROUGH_TRANSPOSE = INSIDE_TRANSPOSE | {"ones"} | {n for n, f in FUNCTIONS.items() if f.elementwise}
#: functions with f(A^T) = f(A)
TRANSPOSE_INVARIANT = frozenset({"det", "logdet", "sum", "norm", "diagvec", "norm2", "max", "min"})
#: functions linear in their (single) argument: scalar factors move out
LINEAR = frozenset({"tr", "sum", "vec", "diag", "diagvec", "toeplitz_mean", "toeplitz_sum"})

#: factors that split_chain flattens, drops or splits (the others it keeps as they are)
_CHAIN_NESTED = frozenset({E.IDENT, E.MUL, E.MATMUL})
_OP_RANK = {E.NUM: 0, E.SYM: 1, E.IDENT: 2, E.TRANSPOSE: 10}   # others: 9
_KEYS = {}


def key(e):
    """A total order on trees (memoized); normal forms sort by it."""
    k = _KEYS.get(e)
    if k is None:
        if len(_KEYS) > 200_000:
            _KEYS.clear()
        k = (_OP_RANK.get(e.op, 9), e.op, _value_text(e.value), tuple(key(a) for a in e.args))
        _KEYS[e] = k
    return k


def _value_text(v):
    if v is None:
        return ""
    if isinstance(v, Prod):
        return "*".join(sorted(map(str, v.factors)))
    return f"{type(v).__name__}:{v}"


def same_dim(a, b):
    """Equality of two final dimensions (products compared as multisets)."""
    if isinstance(a, Prod) or isinstance(b, Prod):
        return _value_text(a) == _value_text(b)
    return a == b


def split_coeff(e):
    """(number, rest) of a product: ``3 * A * B`` -> (3, A * B); rest is None for a number."""
    if e.op == E.NUM:
        return e.value, None
    if e.op == E.MUL and e.args[0].op == E.NUM:
        rest = e.args[1:]
        return e.args[0].value, rest[0] if len(rest) == 1 else E.Expr(E.MUL, rest)
    return 1, e


def factors(e, op):
    """The operands of ``e`` as an ``op`` node (``e`` alone if it is not one)."""
    return e.args if e.op == op else (e,)


# -- the rules shared with derive's presentation (matident.simplify) ------------------

def transpose_step(e, form):
    """The transpose of ``e`` pushed down by the rules of the transpose chapter.

    ``form`` builds the result: ``form.transpose(a)`` (recursively),
    ``form.chain``, ``form.product``, ``form.sum``, ``form.function(op,
    args)``, ``form.is_scalar(e)``, ``form.words(name)`` (a symbol's structure
    words: a symmetric symbol is its own transpose, a skew one's is its
    negative); ``form.through`` names the functions the transpose moves into,
    ``form.sums`` and ``form.kron`` whether it moves into sums and Kronecker
    products (``(A + B)^T = A^T + B^T``, ``kron(A, B)^T = kron(A^T, B^T)``).
    """
    op = e.op
    if op in (E.NUM, E.IDENT) or form.is_scalar(e):
        return e                               # a 1x1 expression is its own transpose
    if op == E.SYM:
        words = form.words(e.value)
        if "symmetric" in words:
            return e
        if "skew" in words:
            return form.product([E.num(-1), e])
        return E.transpose(e)
    if op == E.TRANSPOSE:
        return e.args[0]
    if op == E.MATMUL:
        return form.chain([form.transpose(f) for f in reversed(e.args)])
    if op == E.MUL:
        return form.product([form.transpose(f) for f in e.args])
    if op == E.ADD and form.sums:
        return form.sum([form.transpose(t) for t in e.args])
    if op in form.through:
        return form.function(op, [form.transpose(e.args[0]), *e.args[1:]])
    if op == "diag":
        return e
    if op == "kron" and form.kron:
        return form.function(op, [form.transpose(a) for a in e.args])
    return E.transpose(e)


def like_terms(terms, split):
    """The terms of a sum with like terms combined, in order of first appearance.

    ``split(t)`` is ``(coefficient, body)``; returns ``(body, coefficient,
    term)`` triples, ``term`` the original term when it had no like term
    (else None), so that a caller can keep it as it is.
    """
    coeffs, alone = {}, {}
    for t in terms:
        c, body = split(t)
        if body in coeffs:
            coeffs[body] += c
            alone[body] = None
        else:
            coeffs[body], alone[body] = c, t
    return [(body, c, alone[body]) for body, c in coeffs.items()]


def collapse(op, args, is_scalar):
    """``op(*args)`` when it is its argument or a power of it, else None: ``f(s) = s`` for a 1x1
    ``s`` and a linear ``f`` or ``det``; ``inv(inv(A)) = A``, ``inv(I) = I``, ``inv(s) = s ** -1``;
    ``A ** 1 = matpow(A, 1) = hpow(A, 1) = A``."""
    a = args[0]
    if op in _OF_1X1 and is_scalar(a):
        return a
    if op == "inv":
        if a.op == "inv":
            return a.args[0]
        if a.op == E.IDENT:
            return a
        if is_scalar(a):
            return E.power(a, E.num(-1))
    elif op in _POWERS and args[1].op == E.NUM and args[1].value == 1:
        return a
    return None


_OF_1X1 = LINEAR | {"det"}
_POWERS = frozenset({E.POW, "matpow", "hpow"})
#: the operators :func:`collapse` may remove
COLLAPSING = _OF_1X1 | _POWERS | {"inv"}


def split_scalars(fs, is_scalar):
    """(the 1x1 factors, the others) of the factors ``fs`` of a product."""
    scalars, others = [], []
    for f in fs:
        (scalars if is_scalar(f) else others).append(f)
    return scalars, others


def pull_scalars(args, is_scalar, product):
    """(1x1 factors, the arguments without them) of the ``*`` product arguments of a function
    linear in each, ``f(s * A, B) = s * f(A, B)``; ``product`` builds what a ``*`` keeps."""
    pulled, inner = [], []
    for arg in args:
        if arg.op == E.MUL:
            scalars, others = split_scalars(arg.args, is_scalar)
            if scalars:
                pulled.extend(scalars)
                arg = product(others)
        inner.append(arg)
    return pulled, inner


def split_chain(args, is_scalar, product):
    """(scalar factors, matrix factors, an identity factor or None) of the matrix product of
    ``args``: nested products flattened, identities dropped, 1x1 factors (numbers, scalars,
    ``x^T y``) and the 1x1 factors of ``*`` products pulled out (``A @ (2 * x)``); ``product``
    builds the ``*`` product of what a ``*`` factor keeps."""
    scalars, mats, ident = [], [], None
    for a in args:
        for f in factors(a, E.MATMUL):
            if f.op == E.IDENT:
                ident = f
            elif is_scalar(f):
                scalars.append(f)
            elif f.op == E.MUL:
                pulled, inner = split_scalars(f.args, is_scalar)
                scalars.extend(pulled)
                body = product(inner)
                if body.op == E.IDENT:        # (2 I) @ x = 2 x
                    ident = body
                else:
                    mats.extend(factors(body, E.MATMUL) if len(inner) == 1 else [body])
            else:
                mats.append(f)
    return scalars, mats, ident


def scalar_runs(mats, shape):
    """(the factors outside 1x1 runs, the runs) of the matrix product of ``mats``: a run goes
    from a factor with one row to the next factor with one column (``A x^T y B`` has the run
    ``x^T y``), and is never the whole product."""
    rest, runs, i, n = [], [], 0, len(mats)
    while i < n:
        if shape(mats[i])[0] == 1:
            j = next((k for k in range(i, n) if shape(mats[k])[1] == 1), None)
            if j is not None and j - i + 1 < n:
                runs.append(mats[i:j + 1])
                i = j + 1
                continue
        rest.append(mats[i])
        i += 1
    return rest, runs


def flip(c, transpose, chain):
    """The other orientation of a 1x1 product ``c`` (``b^T a`` for ``a^T b``), built by
    ``chain`` from the ``transpose`` of each factor in reverse order; ``c`` itself when that is
    no product (the normal form's chain pulls the sign of a skew factor's transpose out)."""
    flipped = chain([transpose(f) for f in reversed(c.args)])
    return flipped if flipped.op == E.MATMUL else c


def _split_term(t):
    c, body = split_coeff(t)
    return c, E.num(1) if body is None else body


class Normalizer:
    """Normal forms, shapes and symbol sets of trees over fixed declarations.

    ``decls`` maps every symbol name to its :class:`~matident.shapes.Decl`.
    Results are memoized per instance, so one instance serves one query (or
    one record) and everything built from it.
    """

    def __init__(self, decls):
        self.decls = decls
        self._normal, self._shape, self._names, self._ops, self._rotations, self._chains = \
            {}, {}, {}, {}, {}, {}
        self._transposes, self._flips, self._idents = {}, {}, {}

    def __getstate__(self):
        return {"decls": self.decls}

    def __setstate__(self, state):
        self.__init__(state["decls"])

    def extended(self, extra):
        """A normalizer over these declarations plus ``extra``.

        Trees over this one's symbols have the same normal forms, shapes, ... over
        both, so when ``extra`` declares only new names the new one starts with copies
        of this one's memo tables (copies: the two add different trees later).
        """
        out = Normalizer({**self.decls, **extra})
        if self.decls.keys().isdisjoint(extra):
            out._normal, out._shape, out._names, out._ops, out._rotations, out._chains = \
                dict(self._normal), dict(self._shape), dict(self._names), dict(self._ops), \
                dict(self._rotations), dict(self._chains)
            out._transposes, out._flips, out._idents = \
                dict(self._transposes), dict(self._flips), dict(self._idents)
        return out

    def over(self, decls):
        """A normalizer over ``decls``, which must declare exactly this one's symbols, with the
        same structure words and the same sizes up to equating sizes other than 1.

        Normal forms depend on sizes only through which of them are 1, so the two
        share their memo tables (a new one starts warm), all but the shapes.  (Not for
        added symbols: two extensions could declare one new name differently.)
        """
        out = Normalizer.__new__(Normalizer)
        out.decls, out._shape = decls, {}
        out._normal, out._names, out._ops, out._rotations, out._chains = \
            self._normal, self._names, self._ops, self._rotations, self._chains
        out._transposes, out._flips, out._idents = self._transposes, self._flips, self._idents
        return out

    # -- facts about trees ---------------------------------------------------

    def shape(self, e):
        s = self._shape.get(e)
        if s is None:
            s = shape_of(e, self.decls, self._shape)
        return s

    def ident(self, d):
        """``E.identity(d)``, one shared tree per size (so memo lookups hit by identity)."""
        out = self._idents.get(d)
        if out is None:
            out = self._idents[d] = E.identity(d)
        return out

    def is_scalar(self, e):
        s = self._shape.get(e)
        if s is None:
            s = shape_of(e, self.decls, self._shape)
        return s[0] == 1 and s[1] == 1

    def names(self, e):
        """Frozen set of the symbol names in ``e``."""
        s = self._names.get(e)
        if s is None:
            if e.op == E.SYM:
                s = frozenset((e.value,))
            else:
                s = frozenset().union(*(self.names(a) for a in e.args))
            self._names[e] = s
        return s

    def ops(self, e):
        """Frozen set of the function names (and ``**``) in ``e``."""
        s = self._ops.get(e)
        if s is None:
            s = frozenset().union(*(self.ops(a) for a in e.args)) if e.args else frozenset()
            if e.op in FUNCTIONS or e.op == E.POW:
                s = s | {e.op}
            self._ops[e] = s
        return s

    def count(self, e, name):
        """Occurrences of symbol ``name`` in ``e``."""
        if name not in self.names(e):
            return 0
        return 1 if e.op == E.SYM else sum(self.count(a, name) for a in e.args)

    # -- normal form -----------------------------------------------------------

    def normal(self, e):
        """The normal form of typed tree ``e``."""
        out = self._normal.get(e)
        if out is None:
            out = self._build(e)
            self._normal[e] = out
            self._normal[out] = out
        return out

    def _build(self, e):
        op = e.op
        if op == E.IDENT and e.value == 1:
            return E.num(1)                   # the 1x1 identity
        if op in (E.SYM, E.NUM, E.IDENT) or not e.args:       # not e.args: a constant (pi)
            return e
        return self.combine(op, [self.normal(a) for a in e.args])

    def substituted(self, e, mapping, dims):
        """``self.normal(rename(e, mapping, dims))`` (see :func:`matident.index.rename`), built
        without the renamed tree."""
        op = e.op
        if op == E.SYM:
            value = mapping.get(e.value)
            return e if value is None else self.normal(value)
        if op == E.IDENT:
            return self.normal(self.ident(rename_dim(e.value, dims)))
        if not e.args:
            return e
        return self.combine(op, [self.substituted(a, mapping, dims) for a in e.args])

    def combine(self, op, args):
        """Normal form of operator ``op`` (not a leaf) applied to normal-form ``args``."""
        if op == E.TRANSPOSE:
            return self.transpose(args[0])
        if op == E.MATMUL:
            return self.chain(args)
        if op == E.MUL:
            return self.product(args)
        if op == E.ADD:
            return self.sum(args)
        if op == E.POW:
            return collapse(op, args, self.is_scalar) or E.Expr(E.POW, args)
        return self.function(op, args)

    def transpose(self, e):
        """Normal form of ``e^T`` for a normal-form ``e``."""
        out = self._transposes.get(e)
        if out is None:
            out = self._transposes[e] = self._transpose(e)
        return out

    # the normal form's side of transpose_step: through everything, into sums and kron
    through, sums, kron = THROUGH_TRANSPOSE, True, True

    def _transpose(self, e):
        return transpose_step(e, self)

    def words(self, name):
        """The structure words of symbol ``name`` (declared and implied)."""
        return self.decls[name].structure

    def product(self, args):
        """Normal form of the ``*`` product of normal-form ``args``."""
        coeff, out = E.fold_numbers(args)
        if len(out) == 1 and type(coeff) is int and coeff == 1 and out[0].op != E.MUL:
            return out[0]                     # what E.mul(E.num(1), f) gives
        idents = [f for f in out if f.op == E.IDENT]
        if len(idents) > 1 and len(set(idents)) == 1:     # I * I = I (Hadamard)
            out = [f for f in out if f.op != E.IDENT] + idents[:1]
        out.sort(key=key)
        return E.mul(E.num(coeff), *out)

    def sum(self, args):
        """Normal form of the sum of normal-form ``args`` (like terms combined)."""
        collected = like_terms([t for a in args for t in factors(a, E.ADD)], _split_term)
        # a term without like terms is a normal form already
        terms = [t or self.product([E.num(c), b]) for b, c, t in collected if c != 0]
        if not terms:
            return self.product([E.num(0), collected[0][0]])
        terms.sort(key=key)
        return terms[0] if len(terms) == 1 else E.Expr(E.ADD, terms)

    def chain(self, args, orient=True):
        """Normal form of the matrix product of normal-form ``args``."""
        k = (tuple(args), orient)
        out = self._chains.get(k)
        if out is None:
            out = self._chains[k] = self._chain(args, orient)
        return out

    def _chain(self, args, orient):
        shapes = self._shape
        for a in args:
            if a.op in _CHAIN_NESTED or (shapes.get(a) or self.shape(a))[0] == 1:
                break
        else:   # no factor to flatten, drop or pull out, none with one row: no 1x1 run, no scalar
            return args[0] if len(args) == 1 else E.Expr(E.MATMUL, args)
        scalars, mats, ident = split_chain(args, self.is_scalar, self.product)
        rest, runs = scalar_runs(mats, self.shape)
        scalars.extend(self._scalar_chain(run) for run in runs)
        if len(rest) > 1:
            body = E.Expr(E.MATMUL, rest)
            if orient and self.is_scalar(body):
                body = self._orient(body)
        else:
            body = rest[0] if rest else ident
        if not scalars:
            return body
        return self.product(scalars + ([body] if body is not None else []))

    def _scalar_chain(self, run):
        return run[0] if len(run) == 1 else self._orient(E.Expr(E.MATMUL, run))

    def flip(self, c):
        """The other orientation of a 1x1 product ``c`` (``b^T a`` for ``a^T b``), or ``c``."""
        out = self._flips.get(c)
        if out is None:
            out = self._flips[c] = flip(c, self.transpose, self._unoriented)
        return out

    def _unoriented(self, args):
        return self.chain(args, orient=False)

    def _orient(self, c):
        """The smaller orientation of a 1x1 product ``c`` (``a^T b = b^T a``)."""
        return min(c, self.flip(c), key=key)

    def function(self, op, args):
        """Normal form of ``op(*args)`` for normal-form ``args``."""
        if op in COLLAPSING:
            out = collapse(op, args, self.is_scalar)
            if out is not None:
                return out
        a = args[0]
        if op in LINEAR or op == "kron":
            pulled, inner = pull_scalars(args, self.is_scalar, self.product)
            if pulled:
                return self.product(pulled + [self.function(op, inner)])
        if op == "tr":
            return self._trace(a)
        if op in TRANSPOSE_INVARIANT:
            return E.Expr(op, [min(a, self.transpose(a), key=key)])
        return E.Expr(op, args)

    def rotations(self, a):
        """Argument lists of the traces equal to tr(a): cyclic rotations of ``a`` and of ``a^T``."""
        out = self._rotations.get(a)
        if out is None:
            out = self._rotations[a] = self._rotate(a)
        return out

    def _rotate(self, a):
        out = []
        for c in (a, self.transpose(a)):
            if c.op == E.MUL and any(self.is_scalar(f) for f in c.args):
                continue                      # e.g. the transpose of a skew symbol
            fs = factors(c, E.MATMUL)
            for i in range(len(fs)):
                rot = fs[i:] + fs[:i]
                if rot not in out:
                    out.append(rot)
        return out

    def _trace(self, a):
        if self.is_scalar(a):
            return a
        fs = factors(a, E.MATMUL)
        for i, f in enumerate(fs):           # tr(A x y^T) = y^T A x
            if self.shape(f)[0] == 1:
                return self.chain(fs[i:] + fs[:i])
        rotations = self.rotations(a)
        if len({len(fs) for fs in rotations}) == 1 and len(rotations[0]) > 1:
            # products of as many factors compare as their factors: no tree per rotation
            best = min(rotations, key=lambda fs: tuple([key(f) for f in fs]))
        else:
            best = min(rotations, key=lambda fs: key(E.matmul(*fs)))
        # the argument itself when it is the best rotation: its rotations are known already
        return E.Expr("tr", [a if a.op == E.MATMUL and best == a.args else E.matmul(*best)])
