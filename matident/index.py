"""Compiled left-hand sides and the index the matcher looks them up in.

Each record becomes a :class:`Pattern`: the normal form of its lhs (see
:mod:`matident.normal`), its variables (``wrt``) and wildcards (every other
symbol), a numeric coefficient split off the lhs, and the facts the index keys
on.  Patterns that are the same up to a renaming of symbols and dimensions
(same kind, declarations and variables) share one :class:`Group`, so they are
matched once — like the shared leaves of a discrimination tree.

The :class:`Index` keys groups by ``(head, n)``: ``head`` is the operator at
the root of the lhs (``tr``, ``logdet``, ``@``, ``+``, ``sym`` for a lone
variable, :data:`ANY` for a lone wildcard) and ``n`` the number of occurrences
of the variable (``None`` for identity records).  A target can only match a
pattern with its own head and as many occurrences of the variable (the
wildcards are constant; a differential in several variables is filed under
every count its variables can make).  A chain such as ``A @ X @ B`` whose
wildcards may be the identity is also filed under the head of what remains
(``X``).  The candidates of a bucket are then filtered with necessary
conditions (:meth:`Pattern.fits`): the target contains the pattern's
functions, its shape fits, it has enough operands, and its product has the
pattern's non-wildcard factors (the variable, ``X^T``, ``inv(...)``, ...).

Building the index for the shipped catalogue means loading every YAML file
(seconds), so :func:`shipped_index` keeps a pickle in the user cache
directory (``$MATIDENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/matident``, else
``~/.cache/matident``; ``MATIDENT_CACHE_DIR=off`` disables it), keyed by a
hash of the identity files and of the modules that shape the pickle.
"""
from __future__ import annotations

import functools
import itertools

from . import cache
from . import expr as E
from .functions import FUNCTIONS
from .normal import Normalizer, key, same_dim, split_coeff
from .shapes import Decl, Prod, rename_dim

ANY = "?"                       # head of a pattern that is a lone wildcard
UNBOUNDED = 1 << 30             # target_facts repeats of a target with a symbol-free part
#: structure words the identity matrix has (a wildcard declared with others cannot be I)
IDENTITY_WORDS = frozenset({"square", "symmetric", "spd", "psd", "invertible", "orthogonal", "permutation",
                            "diagonal", "lower", "upper", "toeplitz"})
CACHE_FORMAT = "matident-index-1"
_PICKLED_MODULES = ("expr.py", "shapes.py", "functions.py", "parse.py", "catalogue.py",
                    "normal.py", "index.py")


class Pattern:
    """A record's lhs compiled for matching.

    ``expr`` is the normal form of the lhs without its numeric coefficient
    ``coeff`` (and with every ``tr`` rotated to start at a factor that is not
    a wildcard); ``variables`` are the record's ``wrt`` names (empty for an
    identity record); every other symbol of ``expr`` is a wildcard.
    ``vanish`` holds the wildcards that may be absent from a product (bound
    to ``I``): only in derivative and differential records, and only matrix
    wildcards whose declared structure the identity matrix has (binding ``I``
    identifies their row and column dimensions).

    ``trivial`` marks an identity record whose sides have the same normal
    form (``(A B)^T = B^T A^T``): the matcher applies it implicitly, so it is
    not indexed.  ``may_echo`` marks one whose sides use the same functions
    and symbols, so that some binding might turn the rhs into the target.
    The other attributes are the facts :meth:`fits` and the index use.
    """

    __slots__ = ("record", "order", "norm", "expr", "coeff", "variables", "vanish", "counts",
                 "heads", "ops", "shape", "trivial", "size", "may_echo", "needs", "needs_any", "repeats",
                 "numeric", "plans")

    def __init__(self, record, order=0):
        self.record = record
        self.order = order
        self.plans = {}                       # memo of the matcher (see matident.match._steps)
        self.norm = Normalizer(record.symbols)
        coeff, rest = split_coeff(self.norm.normal(record.lhs_expr))
        if rest is None:                      # a numeric lhs: nothing to strip
            coeff, rest = 1, self.norm.normal(record.lhs_expr)
        self.variables = record.wrts if record.kind != "identity" else ()
        self.coeff, self.expr = coeff, _anchor_traces(rest, self.variables)
        wildcards = [n for n in self.expr.symbols() if n not in self.variables]
        self.vanish = frozenset() if not self.variables else frozenset(
            n for n in wildcards if _admits_identity(record.symbols[n]))
        self.counts = _counts([self.norm.count(self.expr, v) for v in self.variables])
        self.heads = _heads(self)
        self.ops = self.norm.ops(self.expr)
        self.shape = self.norm.shape(self.expr)
        self.size = _size(self.expr, self.vanish)
        self.needs, self.needs_any = _needs(self)
        self.repeats = _repeats(self, wildcards)
        self.numeric = any(type(d) is int and d > 1 for n in self.expr.symbols()
                           for d in record.symbols[n].shape)
        lhs, rhs = self.norm.normal(record.lhs_expr), self.norm.normal(record.rhs_expr)
        self.trivial = record.kind == "identity" and lhs == rhs
        self.may_echo = record.kind == "identity" and self.norm.ops(lhs) == self.norm.ops(rhs) \
            and set(rhs.symbols()) <= set(lhs.symbols())

    def fits(self, shape, size, kinds, var_shape=None, repeats=UNBOUNDED, numeric=True):
        """Whether a target can match, judging by its ``shape``, :func:`target_size` ``size``,
        :func:`factor_kinds` ``kinds``, :func:`target_facts` ``repeats``, the shape of the
        variable, and whether any of its sizes may be a number other than 1 (``numeric``:
        a symbol bound to a wildcard declared 3 x 3 must be 3 x 3)."""
        if size < self.size or self.repeats > repeats or not _fits(self.shape, shape) \
                or self.numeric and not numeric:
            return False
        needs, needs_any = self.needs, self.needs_any
        if needs or needs_any:
            for k in kinds:
                if all(k.count(h) >= c for h, c in needs.items()) \
                        and (not needs_any or any(h in k for h in needs_any)):
                    break
            else:
                return False
        return not self.variables or _fits(self.record.symbols[self.variables[0]].shape, var_shape)

    def is_wildcard(self, name):
        return name not in self.variables

    def __getstate__(self):
        # ``plans`` is the matcher's memo (keyed by node identity in part): never pickled
        return {k: getattr(self, k) for k in self.__slots__ if k != "plans"}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)
        self.plans = {}

    def __repr__(self):
        return f"<Pattern {self.record.id}: {self.expr}>"


def target_facts(e):
    """(the functions and ``**`` in ``e``, as :meth:`~matident.normal.Normalizer.ops` gives them;
    how many disjoint copies of one sub-expression ``e`` holds at most; occurrences of each
    symbol), in one walk.

    The second is the most occurrences of one symbol, or :data:`UNBOUNDED` when a part
    of ``e`` has no symbol (a number, ``I``): exactly when a leaf is not a symbol.
    """
    ops, counts, bounded = set(), {}, True
    stack = [e]
    while stack:
        node = stack.pop()
        op = node.op
        if node.args:
            stack.extend(node.args)
            if op in FUNCTIONS or op == E.POW:
                ops.add(op)
        elif op == E.SYM:
            counts[node.value] = counts.get(node.value, 0) + 1
        else:
            bounded = False
            if op in FUNCTIONS:            # a constant (pi): Normalizer.ops counts it too
                ops.add(op)
    return frozenset(ops), max(counts.values()) if bounded else UNBOUNDED, counts


def _repeats(p, wildcards):
    """The most occurrences of one wildcard that cannot be absent (1: none repeats).

    Its occurrences bind disjoint parts of the target to equal values, so
    the target must hold that many copies of a symbol (:func:`target_facts`).
    A pattern with a number is left alone: a wildcard may take a ratio of
    numbers that the target does not contain.
    """
    if p.coeff != 1 or any(n.op == E.NUM for n in p.expr.walk()):
        return 1
    counts = [p.norm.count(p.expr, w) for w in set(wildcards) if w not in p.vanish]
    return max(counts, default=1)


def target_size(e):
    """Operand count of a product or sum at the root, or of the product inside a ``tr``."""
    if e.op == "tr":
        e = e.args[0]
    return len(e.args) if e.op in (E.MATMUL, E.ADD) else 1


def _size(e, vanish):
    """The least :func:`target_size` of a target this pattern can match."""
    if e.op == "tr":
        e = e.args[0]
    if e.op == E.MATMUL:
        return max(1, sum(1 for f in e.args if factor_symbol(f) not in vanish))
    return len(e.args) if e.op == E.ADD else 1


def _kind(f, variables):
    """What a product factor is, for :func:`factor_kinds`: the variable, its transpose,
    another symbol or transposed symbol, or the operator (``inv``, ``+``, ...)."""
    if f.op == E.TRANSPOSE and f.args[0].op == E.SYM:
        return "var^T" if f.args[0].value in variables else "sym^T"
    if f.op == E.SYM:
        return "var" if f.value in variables else "sym"
    return f.op


_SWAP = {"var": "var^T", "var^T": "var"}


def factor_kinds(e, variables, norm):
    """The kinds of factors of the product at the root (or inside ``tr``), sorted, for each
    orientation in which it may be matched (a trace or a 1x1 product: both)."""
    inner = e.args[0] if e.op == "tr" else e
    kinds = [_kind(f, variables) for f in (inner.args if inner.op == E.MATMUL else (inner,))]
    if e.op == "tr" or norm.is_scalar(e):
        return (tuple(sorted(kinds)), tuple(sorted(_SWAP.get(k, k) for k in kinds)))
    return (tuple(sorted(kinds)),)


def _needs(p):
    """(kinds of factors every target of a product pattern has, kinds of which it has one).

    See :func:`factor_kinds`.  Wildcards (which take runs) are left out, and so
    are ``*`` products with a coefficient (a wildcard of theirs may take the ratio
    of the coefficients and another one the whole target factor); one without
    needs a ``*`` factor.  The variables of a differential in several variables
    may bind constants, but one of them binds the variable, so the target has one
    of their kinds.
    """
    inner = p.expr.args[0] if p.expr.op == "tr" else p.expr
    if inner.op != E.MATMUL:
        return {}, frozenset()
    several = len(p.variables) > 1
    out, any_of = {}, set()
    for f in inner.args:
        name = factor_symbol(f)
        if several and name in p.variables:
            any_of.add(_kind(f, p.variables))
        elif f.op == E.MUL:
            if split_coeff(f)[0] == 1:        # (A * B) matches only a * product (see _mul_plausible)
                out[E.MUL] = out.get(E.MUL, 0) + 1
        elif name is None or name in p.variables:
            k = _kind(f, p.variables)
            out[k] = out.get(k, 0) + 1
    return out, frozenset(any_of)


def _counts(occurrences):
    """Possible occurrence counts of the query's variable: variables of a differential in
    several variables may bind constants, so any non-empty subset of them may bind it."""
    if not occurrences:
        return frozenset((None,))
    return frozenset(sum(c for c, keep in zip(occurrences, mask) if keep)
                     for mask in itertools.product((0, 1), repeat=len(occurrences)) if any(mask))


def _fits(pattern_shape, shape):
    (pr, pc), (r, c) = pattern_shape, shape
    if isinstance(pr, int) and pr != r or isinstance(pc, int) and pc != c:
        return False
    return not (isinstance(pr, str) and pr == pc) or same_dim(r, c)


def _anchor_traces(e, variables):
    """``e`` with every ``tr`` argument rotated to start at a factor that is not a wildcard.

    The matcher tries every rotation of the target; a pattern that starts
    with a fixed factor rejects most of them at the first comparison.
    """
    if not e.args:
        return e
    args = [_anchor_traces(a, variables) for a in e.args]
    if e.op == "tr" and args[0].op == E.MATMUL:
        fs = args[0].args
        first = next((i for i, f in enumerate(fs) if factor_symbol(f) in (None, *variables)), 0)
        args = [E.Expr(E.MATMUL, fs[first:] + fs[:first])]
    return E.Expr(e.op, args, e.value)


def _admits_identity(decl):
    return decl.kind == "matrix" and set(decl.words) <= IDENTITY_WORDS


def head_of(e, variables=()):
    """Index head of a (normal-form) tree."""
    if e.op == E.SYM:
        return "sym" if not variables or e.value in variables else ANY
    return e.op


def _heads(p):
    heads = {head_of(p.expr, p.variables)}
    if p.expr.op == E.MATMUL and p.vanish:
        kept = [f for f in p.expr.args if factor_symbol(f) not in p.vanish]
        if len(kept) == 1:
            heads.add(head_of(kept[0], p.variables))
    return frozenset(heads)


def factor_symbol(f):
    """The symbol of a product factor ``A`` or ``A^T`` (None for any other factor)."""
    if f.op == E.TRANSPOSE:
        f = f.args[0]
    return f.value if f.op == E.SYM else None


class Group:
    """Patterns equal up to renaming; ``members`` are (pattern, names, dims) maps to ``rep``."""

    __slots__ = ("rep", "members", "ops")

    def __init__(self, rep):
        self.rep = rep
        self.members = []
        self.ops = rep.ops


def _skeleton(record, with_rhs=False):
    """Renaming-invariant key of a record's lhs (and rhs), kind, variables and declarations.

    Symbols are renamed in order of first occurrence in the lhs as written,
    dimensions in order of first occurrence in those declarations, and the
    renamed sides are normalised; two records with equal skeletons match
    exactly the same targets.  The rhs takes part for identities that may
    give the target back (:attr:`Pattern.may_echo`), as that depends on it.
    Returns (key, symbol renaming, dimension renaming).
    """
    names = []
    for node in record.lhs_expr.walk():
        if node.op == E.SYM and node.value not in names:
            names.append(node.value)
    names += sorted(n for n in record.symbols if n not in names)
    ren = {n: f"s{i}" for i, n in enumerate(names)}
    dims = {}
    for n in names:
        for d in record.symbols[n].shape:
            for f in (d.factors if isinstance(d, Prod) else (d,)):
                if isinstance(f, str) and f not in dims:
                    dims[f] = f"d{len(dims)}"
    decls = {ren[n]: _rename_decl(record.symbols[n], dims) for n in names}
    norm, mapping = Normalizer(decls), {n: E.sym(r) for n, r in ren.items()}
    sides = (record.lhs_expr, record.rhs_expr) if with_rhs else (record.lhs_expr,)
    k = (record.kind, tuple(ren[w] for w in record.wrts),
         tuple(sorted((n, str(d)) for n, d in decls.items())),
         *(key(norm.normal(rename(side, mapping, dims))) for side in sides))
    return k, ren, dims


def _rename_decl(decl, dims):
    return Decl(decl.kind, rename_dim(decl.rows, dims), rename_dim(decl.cols, dims), decl.words)


def rename(e, mapping, dims):
    """Substitute symbols (``mapping``: name -> tree) and identity sizes (``dims``: dim -> dim)."""
    if e.op == E.SYM:
        return mapping.get(e.value, e)
    if e.op == E.IDENT:
        return E.identity(rename_dim(e.value, dims))
    if not e.args:
        return e
    return E.rebuild(e, [rename(a, mapping, dims) for a in e.args])


class Index:
    """Groups of compiled patterns keyed by ``(head, occurrences of the variable)``."""

    def __init__(self, records):
        # inequality records are never matched: a bound is no rewrite and no derivative, and a
        # scalar factor the matcher carries into a result could be negative and reverse it
        self.records = [r for r in records if r.kind != "inequality"]
        self.buckets = {}
        self.trivial = []        # patterns of identities applied implicitly (found only as written)
        groups, maps = {}, {}
        for order, record in enumerate(self.records):
            pattern = Pattern(record, order)
            if pattern.trivial:
                self.trivial.append(pattern)
                continue
            k, ren, dims = _skeleton(record, pattern.may_echo)
            if k not in groups:
                groups[k] = Group(pattern)
                maps[k] = ({v: n for n, v in ren.items()}, {v: d for d, v in dims.items()})
                for head in pattern.heads:
                    for count in pattern.counts:
                        self.buckets.setdefault((head, count), []).append(groups[k])
            rep_names, rep_dims = maps[k]
            groups[k].members.append((pattern, {n: rep_names[r] for n, r in ren.items()},
                                      {d: rep_dims[r] for d, r in dims.items()}))
        self.groups = len(groups)

    def fitting(self, head, count, ops, shape, size, kinds, var_shape=None, is_run=False,
                repeats=UNBOUNDED, numeric=True):
        """The :meth:`candidates` whose functions are among ``ops`` and that :meth:`Pattern.fits`
        the target (derivative records left out for a run of a product).  The filter depends
        only on these facts, so it is memoised (bounded)."""
        memo = self.__dict__.get("_fitting")
        if memo is None:
            memo = self._fitting = {}
        k = (head, count, ops, shape, size, kinds,
             var_shape, is_run and count is not None, repeats, numeric)
        out = memo.get(k)
        if out is None:
            if len(memo) > 20_000:
                memo.clear()
            if count is None:
                out = [g for g in self.candidates(head, None)
                       if g.ops <= ops and g.rep.fits(shape, size, kinds, repeats=repeats, numeric=numeric)]
            else:
                out = [g for g in self.candidates(head, count)
                       if g.ops <= ops and not (is_run and g.rep.record.kind == "derivative")
                       and g.rep.fits(shape, size, kinds, var_shape, repeats, numeric)]
            memo[k] = out
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fitting", None)
        state.pop("_differentials", None)        # the matcher's memo (matident.match._differential_of)
        return state

    def candidates(self, head, count):
        """Groups whose lhs may match a target with this head and variable count."""
        return self.buckets.get((head, count), []) + self.buckets.get((ANY, count), [])

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return f"<Index of {len(self.records)} records in {self.groups} groups>"


# -- the shipped catalogue's index, cached on disk -------------------------------

@functools.lru_cache(maxsize=1)
def shipped_index():
    """The index of the shipped catalogue: from the disk cache, else built and cached."""
    from .catalogue import catalogue, catalogue_inputs
    key = cache.fingerprint(CACHE_FORMAT, catalogue_inputs(), _PICKLED_MODULES)
    return cache.load_or_build("index", key, lambda: Index(catalogue()), Index)
