"""Which catalogue records apply to an expression: :func:`lookup`.

>>> import matident
>>> found = matident.lookup("tr(P @ Q @ Y @ R)", wrt="Y")                # doctest: +SKIP
>>> print(next(m for m in found if m.identity.id == "trace-axb-derivative"))  # doctest: +SKIP
d/dY tr(P @ Q @ Y @ R) = Q.T @ P.T @ R.T   [trace-axb-derivative, eq. 101; A = P @ Q, B = R]

Semantics
---------
A record's lhs is a pattern: its variables (``wrt``) bind to the query's
variable, every other symbol is a *wildcard* that binds to a sub-expression
of a compatible shape (dimensions bind consistently), constant with respect
to the variable in derivative and differential records.  A wildcard in a
matrix product takes a whole run of factors (``A`` in ``tr(A @ X)`` takes
``P @ Q`` from ``tr(P @ Q @ Y)``); in a sum or a ``*`` product it takes the
terms or factors the other operands leave.  Both sides are compared in the
normal form of :mod:`matident.normal` (associativity, commutativity of ``+``
and ``*``, transposes pushed to symbols, scalars pulled out), and ``tr`` is
matched under every cyclic rotation of its argument and of its transpose, a
1x1 product in both orientations, ``det``/``logdet``/``sum``/``norm``/
``diagvec`` with and without a transpose.  Scalar factors of the target that
are constant (every scalar factor for identity records), and at the root of
a ``*`` pattern the constant scalar factors it leaves over, are carried into
the result: ``3 * tr(A @ Y)`` matches ``tr(A @ X)`` with result ``3 * A.T``.
A matrix product may also pass a scalar factor to one of its wildcards.

*Differentials in several variables* (``wrt: [X, Y]``, the product rule):
one variable binds the query's variable, the others may bind constant
sub-expressions, whose differentials are then 0 (``X @ Y`` with respect to
``X`` gives ``dX @ Y``).  When the whole query is matched for a variable the
caller named, another may also bind an expression of the variable: its
differential is the catalogue's own for that expression (an unconditional
differential record matching it), so ``kron(Z, Z @ B)`` gives
``kron(dZ, Z @ B) + kron(Z, dZ @ B)``; without one, the binding is dropped.

*Absent factors.* In derivative and differential records a matrix wildcard
whose declared structure the identity matrix has (see
:data:`matident.index.IDENTITY_WORDS`) may be absent from a product: it is
bound to ``I`` and the general record is returned with that binding shown
(``tr(X @ B)`` matches ``tr(A @ X @ B)`` with ``A = I``).  Such matches rank
after matches without absent factors.  Identity records never use absent
factors (an identity at ``A = I`` is mostly a triviality).

*Conditions.*  Structure words declared for a wildcard (``spd``,
``symmetric``, ...) or for the variable must be established for what they
bind to (:class:`matident.structure.Structure`); what is not established is
listed in :attr:`Match.conditions`, as are the record's own ``conditions``
(free text, never established).  Sizes that shape inference invented for
undeclared symbols may be equated, and that too is a condition (``C is
square`` for ``inv(A + U @ C @ V)`` against the Woodbury identity), but
never with 1 (that would make a matrix a vector, a vector a scalar).  A match
with conditions is still returned, after the unconditional ones.

*Structured variables.*  When the query's variable is more structured than
the record's (``X`` declared symmetric, the record for a general ``X``), the
gradient of a scalar lhs is projected onto the variable's structure, as the
catalogue's convention requires: ``sym(G) = (G + G^T)/2``, ``diag`` for a
diagonal variable, the skew part for a skew one; triangular projections
cannot be written in the language and are left as a condition.  A
denominator-layout Jacobian is transposed to numerator layout.

*A whole sum, term by term.*  With a variable, a scalar sum whose every
term that varies has an unconditional derivative match also gets one answer
for the whole sum, first in the list: a :class:`SumMatch`, the sum of the
terms' results by the catalogue's differential of a sum, citing each term's
record.  It is returned only once it has passed its check against finite
differences (``lookup(..., check=False)`` returns it marked unchecked;
without numpy it is left out and :attr:`Lookup.notes` says so).

*Not reported:* identity records whose two sides have the same normal form
(``(A B)^T = B^T A^T``: the matcher applies them implicitly), and identity
matches whose result is the target itself.

Order of results: matches on the whole query, then on its sub-expressions
(outer first; sub-expressions include the runs of a matrix product, for
identity and differential records); unconditional before conditional; with a
variable, derivatives, then differentials, then identities (without one,
the reverse); fewer absent factors first; then catalogue order.  A record
appears once per target and variable, with the best of its first
:data:`MAX_BINDINGS` bindings.

*Cost.*  Work is counted, not timed: every unification step, every run of
factors and every split of terms tried spends one step of a budget
(:data:`BUDGET` per lookup).  The same query therefore gives the same
matches on an idle and on a loaded machine; when the budget runs out the
lookup stops and says so (:attr:`Lookup.complete` is False, the text and
the command line say "stopped after N steps").  A sum or ``*`` product is
matched term by term (each term is a target of its own); a pattern with
several wildcard terms or factors (``A + B``) matches the whole only in the
splits where every wildcard but one takes a single term (or factor) and
that one takes the rest, so that the work grows polynomially, not
exponentially, with the number of terms.  The index keeps the differential
a product rule chains for a sub-expression (per declarations) with the
steps it took to find; a later lookup that reads it there spends those
steps again, so the count does not depend on what was looked up before.

Internal API (for a derivation engine)
--------------------------------------
:class:`Query` types and normalises an expression once (``Query(expr,
symbols)``; ``query.normal`` is the normal form, ``query.norm`` its
:class:`~matident.normal.Normalizer`, ``query.targets()`` the whole and its
sub-expressions).  :func:`match_record` matches one record (or compiled
:class:`~matident.index.Pattern`) against a target of a query and returns
:class:`Match` objects; :func:`unify` is the underlying generator of
:class:`Binding` objects (wildcard and variable bindings as term trees,
dimension bindings, absent factors) for one pattern against one normal-form
target.  :class:`~matident.index.Index` finds the candidate records for a
target.  Everything works on term trees; SymPy is imported only when a
Match's SymPy attributes are read.
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import time
from fractions import Fraction

from . import expr as E
from .errors import DeriveError, UsageError
from .functions import kink_message, not_differentiable
from .index import (Group, Index, Pattern, factor_symbol, factor_kinds, head_of, shipped_index,
                    target_facts, target_size)
from .normal import TRANSPOSE_INVARIANT, Normalizer, factors, same_dim, split_coeff
from .structure import Structure
from .printing import latex_name, to_latex, to_text
from .shapes import Decl, Prod, Sum, Typed, dim_sum

BUDGET = 100_000           # matching steps per lookup (see "Cost" above)
MAX_BINDINGS = 16          # bindings of one record to one target compared for the best


class BudgetExhausted(Exception):
    """The work budget of a lookup ran out."""


class Budget:
    """Matching steps left: a count, so that where a search stops does not depend on the machine.

    ``Budget(None)`` never runs out (for callers that bound their own work).
    """

    __slots__ = ("size", "left")

    def __init__(self, size=BUDGET):
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise UsageError(f"the work budget must be a positive whole number of steps, got {size!r}")
        self.size = size
        self.left = math.inf if size is None else size

    def spend(self, steps=1):
        """Count ``steps``; raise :class:`BudgetExhausted` when none are left."""
        self.left -= steps
        if self.left < 0:
            raise BudgetExhausted()

    @property
    def used(self):
        """Steps spent so far (at most the size)."""
        return None if self.size is None else self.size - max(self.left, 0)


# -- unification -----------------------------------------------------------------

class Binding:
    """Bindings of one successful unification (immutable; extended by copying).

    ``values``: pattern symbol -> normal-form tree of the target;
    ``dims``: pattern dimension -> target dimension; ``equal``: flexible
    target dimension -> the dimension it had to equal; ``absent``: wildcards
    bound to ``I`` because their factor was absent; ``scale``: constant
    scalar factors of a ``*`` target left over by the pattern (or None).
    """

    __slots__ = ("values", "dims", "equal", "absent", "scale")

    def __init__(self, values=None, dims=None, equal=None, absent=(), scale=None):
        self.values = values or {}
        self.dims = dims or {}
        self.equal = equal or {}
        self.absent = absent
        self.scale = scale

    def but(self, **changes):
        """A copy with some fields replaced."""
        out = Binding.__new__(Binding)
        out.values, out.dims, out.equal, out.absent, out.scale = \
            self.values, self.dims, self.equal, self.absent, self.scale
        for k, v in changes.items():
            setattr(out, k, v)
        return out


_EMPTY = Binding()                 # bindings are never changed in place: one empty one will do
_UNLIMITED = Budget(None)          # for unify() without a budget: spending changes nothing


class _Context:
    """What unification of one pattern against one query needs."""

    __slots__ = ("pattern", "decls", "pnorm", "norm", "wrt", "flexible", "budget",
                 "variables", "several", "shapes", "products", "chains")

    def __init__(self, pattern, norm, wrt, flexible, budget, chains=True):
        static = pattern.plans.get("context")
        if static is None:
            static = pattern.plans["context"] = self._static(pattern)
        (self.pattern, self.decls, self.pnorm, self.variables, self.several, self.shapes,
         self.products) = static
        self.norm, self.wrt, self.flexible = norm, wrt, flexible
        self.budget = budget
        self.chains = chains

    @staticmethod
    def _static(pattern):
        """The fields that depend on the pattern only (memoised on it)."""
        decls = pattern.record.symbols
        shapes = {n: d.shape for n, d in decls.items()}
        # symbols with a product dimension (vector m*n): checked when complete (_settled)
        products = tuple(n for n, shape in shapes.items() if any(isinstance(d, Prod) for d in shape))
        return (pattern, decls, pattern.norm, pattern.variables, len(pattern.variables) >= 2, shapes,
                products)

    def tick(self):
        """Count a step of the budget."""
        budget = self.budget
        budget.left -= 1
        if budget.left < 0:
            raise BudgetExhausted()

    def absorber(self, f):
        """Name of a factor ``A`` or ``A^T`` that can absorb a run of factors, else None:
        a wildcard, or a variable of a differential in several variables (it may bind a
        constant, whose differential is 0)."""
        if f.op == E.TRANSPOSE:
            f = f.args[0]
        if f.op != E.SYM:
            return None
        name = f.value
        if not self.several and name in self.variables:
            return None
        return name


def _find(d, equal):
    while d in equal:
        d = equal[d]
    return d


def _equate(ctx, a, b, equal):
    """``equal`` extended so that target dimensions a and b agree, or None.

    A size is never equated with 1: that would turn a matrix into a vector
    (or a vector into a scalar), which nobody means by leaving it undeclared.
    """
    a, b = _find(a, equal), _find(b, equal)
    if same_dim(a, b):
        return equal
    if a == 1 or b == 1:
        return None
    if b in ctx.flexible:
        return {**equal, b: a}
    if a in ctx.flexible:
        return {**equal, a: b}
    return None


def _bind_dims(ctx, pshape, tshape, b):
    """(dims, equal) of ``b`` extended so that pattern shape ``pshape`` fits ``tshape``, or None."""
    dims, equal, copied = b.dims, b.equal, False
    for p, t in zip(pshape, tshape):
        if type(p) is str:
            cur = dims.get(p)
            if cur is None:
                if not copied:
                    dims, copied = dict(dims), True
                dims[p] = t
                continue
            if cur == t:
                continue
            equal = _equate(ctx, cur, t, equal)
        elif type(p) is int:
            if p != t:
                return None
            continue
        elif isinstance(p, Prod):
            if any(type(f) is str and f not in dims for f in p.factors):
                continue                      # checked when the binding is complete (_settled)
            mapped = Prod(tuple(dims.get(f, f) if isinstance(f, str) else f for f in p.factors))
            equal = equal if same_dim(mapped, t) else None
        elif isinstance(p, Sum) and p != t:   # the size of a block matrix, n + 1: bind n
            fit = _fit_sum(p, t, dims)
            if fit is None:
                return None
            if fit is not dims:
                dims, copied = fit, True
        elif p != t:
            equal = None
        if equal is None:
            return None
    return dims, equal


def _fit_sum(p, t, dims):
    """``dims`` (extended by its one free term) under which the pattern's sum dimension ``p``
    (``n + 1``) is the target's ``t``, or None.  A sum with several free terms matches only
    itself."""
    free = [u for u in p.terms if type(u) is str and u not in dims]
    known = [dims.get(u, u) if type(u) is str else u for u in p.terms if u not in free]
    if not free:
        return dims if dim_sum(known) == t else None
    if len(free) > 1:
        return None
    rest = list(t.terms) if isinstance(t, Sum) else [t]
    const = sum(u for u in rest if type(u) is int)
    rest = [u for u in rest if type(u) is not int]
    for k in (u for part in known for u in (part.terms if isinstance(part, Sum) else (part,))):
        if type(k) is int:
            const -= k
        elif k in rest:
            rest.remove(k)
        else:
            return None
    if const < 0:
        return None
    value = dim_sum(rest + [const])
    if value == 0:
        return None
    return {**dims, free[0]: value}


def _bind(ctx, name, value, b, fit=None):
    """``b`` extended by ``name -> value``, or None if that is inconsistent.

    ``fit``: :func:`_bind_dims` of the value's shape, when the caller has it.
    """
    variables, wrt = ctx.variables, ctx.wrt
    if name in variables:
        if value.op != E.SYM or value.value != wrt:
            if len(variables) == 1:
                return None      # one of several variables may be a constant (its differential is 0)
            # ... or an expression of the query's variable, whose differential _chained() looks up
            if not ctx.chains and wrt in ctx.norm.names(value):
                return None      # (only where the caller chains: see unify)
    elif wrt is not None and wrt in ctx.norm.names(value):
        return None                                   # wildcards are constant
    old = b.values.get(name)
    if old is not None:
        return b if old is value or old == value else None
    if fit is None:
        fit = _bind_dims(ctx, ctx.shapes[name], ctx.norm._shape.get(value) or ctx.norm.shape(value), b)
        if fit is None:
            return None
    out = Binding.__new__(Binding)
    out.values, out.dims, out.equal, out.absent, out.scale = \
        {**b.values, name: value}, fit[0], fit[1], b.absent, b.scale
    return out


def unify(pattern, target, norm, wrt=None, *, flexible=frozenset(), binding=None, budget=None,
          chains=True):
    """Bindings that make ``pattern.expr`` equal to normal-form ``target``.

    ``norm`` is the target's :class:`~matident.normal.Normalizer`; ``wrt``
    the target's variable (required when the pattern has variables: they
    bind to it and the wildcards must not contain it); ``flexible`` the
    target's dimension names that may be equated (sizes nobody declared).
    Yields :class:`Binding` objects; each step spends one of ``budget`` (a
    :class:`Budget`; default: unlimited) and raises :class:`BudgetExhausted`
    when it runs out.  ``chains=False``: the variables of a differential in
    several variables bind only ``wrt`` itself or constants (where
    :func:`_chained` would drop a binding of one to an expression of ``wrt``,
    the search does not make it).
    """
    if pattern.variables and wrt is None:
        raise UsageError("a derivative or differential pattern needs the variable (wrt)")
    ctx = _Context(pattern, norm, wrt if pattern.variables else None, flexible,
                   _UNLIMITED if budget is None else budget, chains)
    if pattern.expr.op == E.MUL:
        found = _product(ctx, pattern.expr, target, binding or _EMPTY, root=True)
    else:
        found = _unify(ctx, pattern.expr, target, binding or _EMPTY)
    return _settled(ctx, found, ctx.products) if ctx.products else found


def _settled(ctx, found, products):
    """The bindings of ``found`` whose product dimensions (``vector m*n``) hold.

    A product dimension is checked when its factors are bound: usually by
    another symbol (``M: matrix m n``).  Factors bound nowhere else take the
    target's remaining factors in order.
    """
    for b in found:
        dims = dict(b.dims)
        for name in products:
            value = b.values.get(name)
            if value is None or not _settle_dims(ctx.shapes[name], ctx.norm.shape(value), dims):
                break
        else:
            yield b.but(dims=dims)


def _settle_dims(pshape, tshape, dims):
    """Bind the free factors of the product dimensions of ``pshape`` and check them (in place)."""
    for p, t in zip(pshape, tshape):
        if not isinstance(p, Prod):
            continue
        free = [f for f in p.factors if type(f) is str and f not in dims]
        if free:
            rest = list(t.factors) if isinstance(t, Prod) else [t]
            for f in p.factors:
                if f in free:
                    continue
                d = dims.get(f, f) if type(f) is str else f
                match = next((i for i, r in enumerate(rest) if same_dim(r, d)), None)
                if match is None:
                    return False
                del rest[match]
            if len(rest) != len(free):
                return False
            dims.update(zip(free, rest))
        mapped = Prod(tuple(dims.get(f, f) if type(f) is str else f for f in p.factors))
        if not same_dim(mapped, t):
            return False
    return True


def _unify(ctx, p, t, b):
    budget = ctx.budget
    budget.left -= 1
    if budget.left < 0:
        raise BudgetExhausted()
    op = p.op
    if op == E.SYM:
        b = _bind(ctx, p.value, t, b)
        if b is not None:
            yield b
    elif op == E.TRANSPOSE:
        name = ctx.absorber(p)
        if name is not None:
            b = _bind(ctx, name, ctx.norm.transpose(t), b)
            if b is not None:
                yield b
        elif t.op == E.TRANSPOSE:
            yield from _unify(ctx, p.args[0], t.args[0], b)
    elif op == E.NUM:
        if t.op == E.NUM and t.value == p.value:
            yield b
    elif op == E.IDENT:
        if t.op == E.IDENT:
            fit = _bind_dims(ctx, (p.value,), (t.value,), b)
            if fit is not None:
                yield b.but(dims=fit[0], equal=fit[1])
    elif op == E.MATMUL:
        yield from _chain(ctx, p, t, b)
        if t.op == E.MATMUL and ctx.pnorm.is_scalar(p):     # a^T b = b^T a
            flipped = ctx.norm.flip(t)
            if flipped != t:
                yield from _chain(ctx, p, flipped, b)
    elif op == E.MUL:
        yield from _product(ctx, p, t, b)
    elif op == E.ADD:
        yield from _sum(ctx, p, t, b)
    elif t.op != op:
        return
    elif op == "tr":
        steps = _steps(ctx, p.args[0])
        how, wrt = steps[0][0], ctx.wrt
        for rotation in ctx.norm.rotations(t.args[0]):
            f = rotation[0]                       # the first factor rules out most rotations
            if how == _VAR:
                if f.op != E.SYM or f.value != wrt:
                    continue
            elif how == _VAR_T:
                if f.op != E.TRANSPOSE or f.args[0].op != E.SYM or f.args[0].value != wrt:
                    continue
            elif how == _OTHER and not _may_match(ctx, steps[0][2], f):
                continue
            yield from _chain_all(ctx, steps, rotation, b, None)
    elif op in TRANSPOSE_INVARIANT:
        yield from _unify(ctx, p.args[0], t.args[0], b)
        flipped = ctx.norm.transpose(t.args[0])
        if flipped != t.args[0]:
            yield from _unify(ctx, p.args[0], flipped, b)
    elif len(p.args) != len(t.args):
        return                  # a block matrix (or block row) with another number of blocks
    elif len(p.args) == 1:
        yield from _unify(ctx, p.args[0], t.args[0], b)
    elif len(p.args) == len(t.args):       # block rows of different lengths never match
        yield from _sequence(ctx, p.args, t.args, b)


def _sequence(ctx, ps, ts, b):
    if not ps:
        yield b
        return
    for b2 in _unify(ctx, ps[0], ts[0], b):
        yield from _sequence(ctx, ps[1:], ts[1:], b2)


def _chain(ctx, p, t, b):
    """Product pattern ``p`` against target ``t``."""
    steps = _steps(ctx, p)
    if t.op == E.MATMUL:
        yield from _chain_all(ctx, steps, t.args, b, None)
        return
    if t.op == E.MUL:           # s * (P @ Q): one wildcard may take the scalar s
        scal = [f for f in t.args if ctx.norm.is_scalar(f)]
        mats = [f for f in t.args if not ctx.norm.is_scalar(f)]
        if scal and len(mats) == 1:
            yield from _chain_all(ctx, steps, factors(mats[0], E.MATMUL), b, ctx.norm.product(scal))
    yield from _chain_all(ctx, steps, (t,), b, None)


def _chain_all(ctx, steps, tf, b, scale):
    """The bindings of the pattern factors of ``steps`` (see :func:`_steps`) to target factors
    ``tf``, in order (a list: the runs are short, and building it in one go costs less than a
    generator per factor)."""
    out = []
    _run(ctx, steps, tf, 0, 0, b, scale, out)
    return out


def _run(ctx, steps, tf, i, j, b, scale, out):
    """Append to ``out`` the matches of pattern factors i, i+1, ... to target factors tf[j:];
    ``scale`` must go to a wildcard."""
    if i == len(steps):
        if j == len(tf) and scale is None:
            out.append(b)
        return
    step = steps[i]
    how, last = step[0], step[1]
    if how != _RUN:
        if j == len(tf) or last and (j + 1 != len(tf) or scale is not None):
            return
        t = tf[j]
        if how != _OTHER:                     # the variable or its transpose: bind it directly
            if how == _VAR_T:
                if t.op != E.TRANSPOSE:
                    return
                t = t.args[0]
            if t.op != E.SYM or t.value != ctx.wrt:
                return
            ctx.tick()
            b2 = _bind(ctx, step[2], t, b)
            if b2 is None:
                return
            if last:
                out.append(b2)
            else:
                _run(ctx, steps, tf, i + 1, j + 1, b2, scale, out)
            return
        p = step[2]
        if not _may_match(ctx, p, t):
            return
        for b2 in _unify(ctx, p, t, b):
            if last:
                out.append(b2)
            else:
                _run(ctx, steps, tf, i + 1, j + 1, b2, scale, out)
        return
    _, _, name, need, shape, vanishes, fixed_after, constant, transposed = step
    norm = ctx.norm
    n = len(tf)
    lengths = range(j if vanishes else j + 1, n - need + 1)
    if fixed_after:                         # the factors after this one take one target factor each
        lengths = lengths[-1:]
    bound = b.values.get(name)
    if bound is not None and bound.op != E.MUL:     # the run is as long as the bound product
        k = j + (0 if bound.op == E.IDENT else len(factors(bound, E.MATMUL)))
        lengths = [k] if k in lengths else []
    shapes = norm._shape
    for k in lengths:
        budget = ctx.budget
        budget.left -= 1
        if budget.left < 0:
            raise BudgetExhausted()
        fit = None
        if k > j:
            first, final = tf[j], tf[k - 1]
            if constant and ctx.wrt in norm.names(final):
                break                                 # longer runs are not constant either
            rows = (shapes.get(first) or norm.shape(first))[0]
            cols = (shapes.get(final) or norm.shape(final))[1]
            fit = _bind_dims(ctx, shape, (rows, cols), b)
            if fit is None:
                continue
            if transposed:
                fit = None                            # _bind pairs the dimensions in another order
            value = first if k == j + 1 else norm.chain(tf[j:k])
        else:
            value = norm.ident(norm.shape(tf[j])[0] if j < n else norm.shape(tf[j - 1])[1])
        for taken in ((None, scale) if scale is not None else (None,)):
            v = value if taken is None else norm.product([taken, value])
            if transposed:
                v = norm.transpose(v)
            b2 = _bind(ctx, name, v, b, fit if taken is None else None)
            if b2 is None:
                continue
            if k == j:
                b2 = b2.but(absent=b2.absent + (name,))
            if last:
                if k == n and (taken is not None or scale is None):
                    out.append(b2)
                continue
            _run(ctx, steps, tf, i + 1, k, b2, scale if taken is None else None, out)


_RUN, _VAR, _VAR_T, _OTHER = range(4)       # how _run matches a factor (see _steps)


def _steps(ctx, node):
    """How :func:`_run` matches each factor of product pattern ``node`` (memoised on the
    pattern by node identity): ``(_RUN, last, name, factors after it that need a target
    factor, its shape, whether it may vanish, whether no absorber follows it, whether it must
    be constant, whether it is transposed)`` for a factor that absorbs a run, ``(_VAR or
    _VAR_T, last, name)`` for the variable or its transpose, ``(_OTHER, last, factor)``."""
    plans = ctx.pattern.plans
    memo = plans.get("steps")
    if memo is None:
        memo = plans["steps"] = {}
    entry = memo.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    pf = factors(node, E.MATMUL)
    names = [ctx.absorber(f) for f in pf]
    vanish, out = ctx.pattern.vanish, []
    for i, (f, name) in enumerate(zip(pf, names)):
        last = i + 1 == len(pf)
        if name is not None:
            later = names[i + 1:]
            shape = ctx.decls[name].shape
            transposed = f.op == E.TRANSPOSE
            out.append((_RUN, last, name, sum(1 for a in later if a not in vanish),
                        shape[::-1] if transposed else shape, name in vanish,
                        all(a is None for a in later),
                        bool(ctx.pattern.variables) and ctx.pattern.is_wildcard(name), transposed))
        elif f.op == E.SYM:
            out.append((_VAR, last, f.value))
        elif f.op == E.TRANSPOSE and f.args[0].op == E.SYM:
            out.append((_VAR_T, last, f.args[0].value))
        else:
            out.append((_OTHER, last, f))
    out = tuple(out)
    memo[id(node)] = (node, out)              # the node too: an id is only unique while it lives
    return out


def _plausible(pattern, p, t, norm):
    """A quick necessary condition for :func:`_unify` of pattern node ``p`` against ``t``
    to yield anything (it follows ``_unify`` and rejects only what it would reject)."""
    op = p.op
    if op == E.SYM:
        return True
    if op == E.MUL:
        return _mul_plausible(pattern, p, t)
    if op == E.TRANSPOSE:
        f = p.args[0]
        if f.op == E.SYM and (len(pattern.variables) >= 2 or f.value not in pattern.variables):
            return True                       # an absorber takes anything
        return t.op == E.TRANSPOSE and _plausible(pattern, f, t.args[0], norm)
    if op == E.NUM:
        return t.op == E.NUM and t.value == p.value
    if op == E.IDENT:
        return t.op == E.IDENT
    if op == E.MATMUL:                        # every factor but an absent one takes a target factor
        if t.op == E.MUL:
            return True
        needs = pattern.plans.get("needs")
        if needs is None:
            needs = pattern.plans["needs"] = {}
        need = needs.get(id(p))               # by identity: p is a node of the pattern
        if need is None:
            vanish, several = pattern.vanish, len(pattern.variables) >= 2
            need = needs[id(p)] = sum(
                1 for f in p.args if (name := factor_symbol(f)) is None or name not in vanish
                or (not several and name in pattern.variables))
        return (len(t.args) if t.op == E.MATMUL else 1) >= need
    if op == E.ADD:                           # every term takes at least one target term
        return t.op == E.ADD and len(t.args) >= len(p.args)
    if t.op != op:
        return False
    if op == "tr":
        return True
    if op in TRANSPOSE_INVARIANT:
        return _plausible(pattern, p.args[0], t.args[0], norm) \
            or _plausible(pattern, p.args[0], norm.transpose(t.args[0]), norm)
    return all(_plausible(pattern, a, b, norm) for a, b in zip(p.args, t.args))


def _mul_plausible(pattern, p, t):
    """Necessary condition for :func:`_product`: each fixed factor takes a target factor, each
    wildcard at least one, but one of them may take just the ratio of the coefficients."""
    pc, prest = split_coeff(p)
    tc, trest = split_coeff(t)
    if trest is None or prest is None:
        return trest is not None
    pfs = factors(prest, E.MUL)
    need = len(pfs)
    if (pc == 0) != (tc == 0):
        return False
    if pc != 0 and _ratio(tc, pc) != 1:
        several = len(pattern.variables) >= 2
        for f in pfs:
            name = factor_symbol(f)
            if name is not None and (several or name not in pattern.variables):
                need -= 1                     # a wildcard that may take the ratio alone
                break
    return len(factors(trest, E.MUL)) >= need


def _end_gate(pattern, f):
    """What a target factor must be for the fixed pattern factor ``f`` to pass :func:`_may_match`:
    None (anything, or ``f`` absorbs), ("var",), ("var^T",) or ("op", op)."""
    name = factor_symbol(f)
    if name is not None and (len(pattern.variables) >= 2 or name not in pattern.variables):
        return None                           # an absorber
    if f.op == E.SYM:
        return ("var",)
    if f.op in (E.MUL, E.MATMUL):
        return None
    if f.op == E.TRANSPOSE and f.args[0].op == E.SYM:
        return ("var^T",)
    return ("op", f.op)


def _gate_passes(gate, t, wrt):
    if gate is None:
        return True
    if gate[0] == "var":
        return t.op == E.SYM and t.value == wrt
    if gate[0] == "var^T":
        return t.op == E.TRANSPOSE and t.args[0].op == E.SYM and t.args[0].value == wrt
    return t.op == gate[1]


def _ends_plausible(pattern, t, wrt):
    """For a product pattern against a product target (one orientation only): its first and
    last factors, when fixed, must pass :func:`_may_match` against the target's."""
    gates = pattern.plans.get("ends")
    if gates is None:
        p = pattern.expr
        gates = ()
        if p.op == E.MATMUL and not pattern.norm.is_scalar(p):
            gates = (_end_gate(pattern, p.args[0]), _end_gate(pattern, p.args[-1]))
        pattern.plans["ends"] = gates
    if not gates or t.op != E.MATMUL:
        return True
    return _gate_passes(gates[0], t.args[0], wrt) and _gate_passes(gates[1], t.args[-1], wrt)


def _may_match(ctx, p, t):
    """A quick necessary condition for ``_unify(ctx, p, t, ...)`` to succeed."""
    op = p.op
    if op == E.SYM:
        return ctx.absorber(p) is not None or (t.op == E.SYM and t.value == ctx.wrt)
    if op == E.MUL:
        return _mul_plausible(ctx.pattern, p, t)
    if op == E.MATMUL or (op == E.TRANSPOSE and ctx.absorber(p)):
        return True          # a product may also match a scaled or a single factor
    if op == E.TRANSPOSE and p.args[0].op == E.SYM:   # the variable transposed
        if t.op != E.TRANSPOSE:
            return False
        t = t.args[0]
        return t.op == E.SYM and t.value == ctx.wrt
    return t.op == op


def _product(ctx, p, t, b, root=False):
    """A ``*`` pattern against a target; wildcards take the factors left over (and the coefficient ratio).

    At the ``root`` of a pattern, constant scalar factors left over (and the
    ratio of the coefficients) may instead become the binding's ``scale``.
    """
    pc, prest = split_coeff(p)
    tc, trest = split_coeff(t)
    if trest is None or (pc == 0) != (tc == 0):
        return
    ratio = 1 if pc == 0 else _ratio(tc, pc)        # a zero (0 * ones(M)) matches only a zero
    pfs, tfs = factors(prest, E.MUL), factors(trest, E.MUL)
    fixed = [f for f in pfs if ctx.absorber(f) is None]
    wild = [f for f in pfs if ctx.absorber(f) is not None]

    def rest(left, b):
        yield from _distribute(ctx, wild, left, ratio, b, ctx.norm.product)
        if not root:
            return
        spare = [i for i, f in enumerate(left)
                 if ctx.norm.is_scalar(f) and ctx.wrt not in ctx.norm.names(f)]
        for size in range(len(spare) + 1):       # the first 0, 1, ... spare factors (not every subset)
            chosen = spare[:size]
            if chosen or ratio != 1:
                ctx.tick()
                scale = ctx.norm.product([E.num(ratio), *(left[i] for i in chosen)])
                others = [f for i, f in enumerate(left) if i not in chosen]
                yield from _distribute(ctx, wild, others, 1, b.but(scale=scale), ctx.norm.product)
    yield from _assign(ctx, fixed, 0, tfs, (), b, rest)


def _ratio(a, b):
    """a / b for numbers, exact unless one is a float."""
    if type(a) is int and type(b) is int and (b == 1 or a == b):
        return a // b                         # exact: b divides a
    if isinstance(a, float) or isinstance(b, float):
        return a / b
    q = Fraction(a) / Fraction(b)
    return int(q) if q.denominator == 1 else q


def _sum(ctx, p, t, b):
    """A sum pattern against a target; wildcard terms take the terms left over."""
    fixed = [f for f in p.args if ctx.absorber(f) is None]
    wild = [f for f in p.args if ctx.absorber(f) is not None]
    terms = factors(t, E.ADD)
    if len(terms) < len(p.args) or not wild and len(terms) != len(fixed):
        return                                # each term takes one target term, a wildcard one or more

    def rest(left, b):
        return _distribute(ctx, wild, left, 1, b, ctx.norm.sum)
    yield from _assign(ctx, fixed, 0, terms, (), b, rest)


def _assign(ctx, fixed, k, items, used, b, then):
    """Each of ``fixed`` to a different item (all ways), then ``then(leftover items, b)``."""
    if k == len(fixed):
        yield from then([x for i, x in enumerate(items) if i not in used], b)
        return
    tried = set()
    for i, item in enumerate(items):
        if i in used or item in tried or not _may_match(ctx, fixed[k], item):
            continue
        tried.add(item)
        for b2 in _unify(ctx, fixed[k], item, b):
            yield from _assign(ctx, fixed, k + 1, items, used + (i,), b2, then)


def _distribute(ctx, wild, left, ratio, b, combine):
    """Split ``left`` (and a numeric ``ratio``) among the wildcards ``wild``, each taking some
    (in the splits of :func:`_splits`)."""
    if not wild:
        if not left and ratio == 1:
            yield b
        return
    for assignment, gets_ratio in _splits(ctx, len(wild), len(left), ratio != 1):
        parts = [[x for x, w in zip(left, assignment) if w == k] for k in range(len(wild))]
        if gets_ratio is not None:
            parts[gets_ratio].insert(0, E.num(ratio))
        if not all(parts):
            continue
        wrt = ctx.wrt
        if wrt is not None and any(len(part) > 1 and any(wrt in ctx.norm.names(x) for x in part)
                                   for part in parts):
            continue                          # a compound value with the variable binds nothing
        b2 = b
        for f, part in zip(wild, parts):
            value = part[0] if len(part) == 1 else combine(part)   # a normal form already
            if f.op == E.TRANSPOSE:
                value = ctx.norm.transpose(value)
            b2 = _bind(ctx, ctx.absorber(f), value, b2)
            if b2 is None:
                break
        if b2 is not None:
            yield b2


def _splits(ctx, w, n, ratio):
    """How :func:`_distribute` splits ``n`` items (and a ratio, if ``ratio``) among ``w`` wildcards:
    ``(assignment, gets_ratio)`` pairs, ``assignment[i]`` the wildcard that takes item i.

    Every wildcard takes something; every wildcard but one takes one item (or only the ratio),
    and that one takes the rest: about ``w * w * n ** (w - 1)`` splits rather than ``w ** n``
    (all of them while ``n <= w + 1``, or ``n <= w`` with a ratio).  They come in the order of all splits (lexicographic by
    assignment), each one step of the budget.
    """
    if w == 1:
        ctx.tick()
        return [((0,) * n, 0 if ratio else None)]
    out = set()
    for gets_ratio in (range(w) if ratio else (None,)):
        for big in range(w):
            others = [k for k in range(w) if k != big]
            for picks in itertools.product(*[range(-1 if k == gets_ratio else 0, n) for k in others]):
                ctx.tick()
                taken = [i for i in picks if i >= 0]
                if len(set(taken)) != len(taken) or len(taken) == n and gets_ratio != big:
                    continue                  # an item taken twice, or none left for ``big``
                assignment = [big] * n
                for k, i in zip(others, picks):
                    if i >= 0:
                        assignment[i] = k
                out.add((tuple(assignment), gets_ratio))
    return sorted(out, key=lambda s: (s[0], -1 if s[1] is None else s[1]))


# -- queries -------------------------------------------------------------------------

class Query:
    """An expression typed (shapes inferred) and normalised, ready for matching.

    ``expr`` may be text, a SymPy expression, a term tree or a
    :class:`~matident.shapes.Typed`; ``symbols`` maps names to declarations.
    """

    def __init__(self, expr, symbols=None):
        if isinstance(expr, Typed):
            typed = expr
        else:
            from . import _typed
            typed = _typed(expr, symbols)
        self.typed = typed
        self._vars, self._norms, self._atomic, self._facts = {}, {}, {}, {}
        self.decls = typed.symbols
        self.norm = Normalizer(self.decls)
        self.structure = Structure(self.norm)
        self.normal = self.norm.normal(typed.expr)
        # sizes that shape inference invented for undeclared symbols may be equated
        declared = set(symbols or ()) if isinstance(expr, (str, E.Expr)) else set(self.decls)
        rigid = {d for n in declared if n in self.decls for d in self.decls[n].shape}
        self.flexible = frozenset(d for n, decl in self.decls.items() if n not in declared
                                  for d in decl.shape if isinstance(d, str) and d not in rigid)
        # whether a size may be a number other than 1 (one declared, or a product of them)
        self.numeric = any(type(f) is int and f > 1 for decl in self.decls.values() for d in decl.shape
                           for f in (d.factors if isinstance(d, Prod) else (d,)))

    def part(self, value):
        """A query of ``value``, a normal-form sub-tree of this one, over the same declarations:
        like ``Query(Typed(...))`` of it, but sharing this query's normalizer (its memo tables
        are warm) and its normalizers over equated sizes."""
        out = Query.__new__(Query)
        out.typed = Typed(_present(value), self.norm.shape(value), self.decls)
        out._vars, out._norms, out._atomic, out._facts = self._vars, self._norms, {}, {}
        out.decls, out.norm = self.decls, self.norm
        if "_decls_key" in self.__dict__:
            out._decls_key = self._decls_key
        out.structure = Structure(self.norm)
        out.normal = self.norm.normal(out.typed.expr)
        out.flexible = frozenset()            # every size is declared (as for a Typed query)
        out.numeric = self.numeric
        return out

    def var(self, name):
        """The tree of symbol ``name`` (shared)."""
        out = self._vars.get(name)
        if out is None:
            out = self._vars[name] = E.sym(name)
        return out

    def facts(self, core):
        """:func:`~matident.index.target_facts` of a sub-tree (memoised)."""
        out = self._facts.get(core)
        if out is None:
            out = self._facts[core] = target_facts(core)
        return out

    def specialised(self, equal):
        """Declarations with the dimension equalities ``equal`` applied."""
        if not equal:
            return self.decls
        return {n: Decl(d.kind, _find(d.rows, equal), _find(d.cols, equal), d.words)
                for n, d in self.decls.items()}

    def targets(self):
        """(position, tree, is a run of a product) for the whole query, then its sub-expressions.

        Sub-expressions come in pre-order (outer first), each product followed
        by its proper runs; symbols, numbers and ``I`` are left out.
        """
        out, seen = [], set()

        def add(node, is_run):
            if node not in seen:
                seen.add(node)
                out.append((len(out), node, is_run))

        add(self.normal, False)
        for run in _runs(self.normal):
            add(run, True)
        stack = list(reversed(self.normal.args))
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.args))
            if node.op in (E.SYM, E.NUM, E.IDENT) or (node.op == E.TRANSPOSE and node.args[0].op == E.SYM):
                continue
            add(node, False)
            for run in _runs(node):
                add(run, True)
        return out


def _runs(node):
    """Proper runs (length >= 2) of a matrix product, longest first."""
    if node.op != E.MATMUL:
        return []
    n = len(node.args)
    return [E.Expr(E.MATMUL, node.args[i:i + size]) for size in range(n - 1, 1, -1)
            for i in range(n - size + 1)]


def _scale_split(norm, t, wrt):
    """(scale, core) pairs to match: the target itself, and with constant scalar factors split off.

    With a variable the scale is every scalar factor free of it; without, the
    numeric coefficient, or all factors but one scalar-cofactored one.
    """
    out = [(None, t)]
    if t.op != E.MUL:
        return out
    coeff, rest = split_coeff(t)
    fs = factors(rest, E.MUL)
    if wrt is not None:
        const = [f for f in fs if norm.is_scalar(f) and wrt not in norm.names(f)]
        core = [f for f in fs if not (norm.is_scalar(f) and wrt not in norm.names(f))]
        if core and (const or coeff != 1):
            out.append((norm.product([E.num(coeff), *const]), norm.product(core)))
        return out
    if coeff != 1:
        out.append((E.num(coeff), rest))
    for i, f in enumerate(fs if len(fs) > 1 else ()):
        others = fs[:i] + fs[i + 1:]
        if all(norm.is_scalar(g) for g in others):
            out.append((norm.product([E.num(coeff), *others]), f))
    return out


# -- matches -------------------------------------------------------------------------

class _SympyForms:
    """``target`` and ``result`` as SymPy expressions, converted when first read (SymPy stays out
    of the matcher's loop); a subclass says which declarations size them (``_sympy_decls``)."""

    __slots__ = ()

    def _to_sympy(self, name, tree):
        if self._memo is None:
            self._memo = {}
        if name not in self._memo:
            from .sympy_bridge import to_sympy
            self._memo[name] = to_sympy(tree, self._sympy_decls())
        return self._memo[name]

    @property
    def target(self):
        return self._to_sympy("target", self.target_tree)

    @property
    def result(self):
        return self._to_sympy("result", self.result_tree)


class Match(_SympyForms):
    """One way a record applies to a query (see the module docstring).

    Term-tree attributes: ``target_tree``, ``bindings_tree`` (pattern symbol
    -> tree), ``result_tree``; SymPy attributes (computed on first use):
    ``target``, ``bindings``, ``result``.  ``wrt`` is the variable's name (None
    for an identity record), ``conditions`` what could not be established,
    ``whole`` whether the target is the whole query.
    """

    __slots__ = ("pattern", "identity", "query", "core", "scale", "wrt", "projection",
                 "position", "_unmet", "_literal", "_binding", "_names", "_result", "_norm", "_memo")

    def __init__(self, pattern, query, target, scale, binding, wrt, unmet, projection, position,
                 names=None):
        self.pattern = pattern
        self.identity = pattern.record
        self.query = query
        self.core = target                   # the target without the split-off scale
        self.scale = scale
        self.wrt = wrt
        self._unmet = unmet                  # an _Unmet, or None when everything is established
        self._literal = None                 # (absent factors, compound bindings): see _ranked
        self.projection = projection
        self.position = position
        self._binding = binding              # of the group's representative when names is given
        self._names = names                  # (symbol, dimension) renamings to the representative
        self._result = self._norm = None
        self._memo = None                    # computed on first use: "free" symbols, SymPy forms

    @property
    def binding(self):
        """The :class:`Binding` in this record's own symbol and dimension names."""
        if self._names is not None:
            b, (names, dims) = self._binding, self._names
            values = {n: b.values[r] for n, r in names.items() if r in b.values}
            values.update({f"d{n}": b.values[f"d{r}"] for n, r in names.items() if f"d{r}" in b.values})
            self._binding = b.but(values=values,
                                  dims={d: b.dims[r] for d, r in dims.items() if r in b.dims},
                                  absent=tuple(n for n, r in names.items() if r in b.absent))
            self._names = None
        return self._binding

    @property
    def bindings_tree(self):
        """Pattern symbol -> the term tree it binds to."""
        return {n: _present(t) for n, t in self.binding.values.items()}

    @property
    def absent(self):
        """Wildcards bound to ``I`` because their factor was absent."""
        return self.binding.absent

    @property
    def dims(self):
        equal = self._binding.equal
        return {k: _find(d, equal) for k, d in self.binding.dims.items()}

    @property
    def equal(self):
        return self._binding.equal

    @property
    def carry(self):
        """Factors the result is multiplied by: the split-off scale and the binding's leftovers."""
        return [f for f in (self.scale, self._binding.scale) if f is not None]

    @property
    def whole(self):
        return self.position == 0

    # -- trees ---------------------------------------------------------------
    @property
    def target_tree(self):
        return self.query.typed.expr if self.whole else _present(self.target_normal)

    @property
    def target_normal(self):
        """The target in normal form."""
        return self.core if self.scale is None else self.query.norm.product([self.scale, self.core])

    @property
    def conditions(self):
        """What the match needs and the declarations do not establish, in words, then the
        record's own conditions."""
        return (self._unmet.text() if self._unmet is not None else ()) + self.identity.conditions

    @property
    def conditional(self):
        return self._unmet is not None or bool(self.identity.conditions)

    def _result_norm(self):
        """The query's normalizer, extended by ``d<wrt>`` and the rhs's free symbols."""
        if self._norm is None:
            extra = dict(self._free()[1])
            if self.identity.kind == "differential":
                decl = self.query.decls[self.wrt]
                extra[f"d{self.wrt}"] = Decl(decl.kind, decl.rows, decl.cols,
                                             tuple(w for w in decl.words if w in _TANGENT))
            equal = self.equal
            if equal or extra:               # shared by the matches of the query (memo tables too)
                k = (frozenset(equal.items()), frozenset(extra.items()))
                norm = self.query._norms.get(k)
                if norm is None:
                    if not equal:
                        norm = self.query.norm.extended(extra)
                    elif not extra:
                        norm = self.query.norm.over(self.query.specialised(equal))
                    else:
                        norm = Normalizer({**self.query.specialised(equal), **extra})
                    self.query._norms[k] = norm
                self._norm = norm
            else:
                self._norm = self.query.norm
        return self._norm

    def _free(self):
        """Symbols of the rhs that the lhs does not bind (an expansion point, say): new names, decls."""
        if self._memo is None:
            self._memo = {}
        out = self._memo.get("free")
        if out is None:
            out = self._memo["free"] = self._free_symbols()
        return out

    def _free_symbols(self):
        rec, values = self.identity, self.binding.values
        free = [n for n in _rhs_symbols(self.pattern) if n not in values and n not in rec.differentials]
        mapping, decls = {}, {}
        if not free:
            return mapping, decls
        taken, dims = set(self.query.decls), self.dims
        for name in free:
            new, i = name, 0
            while new in taken:
                i += 1
                new = f"{name}_{i}"
            taken.add(new)
            d = rec.symbols[name]
            mapping[name] = E.sym(new)
            decls[new] = Decl(d.kind, dims.get(d.rows, d.rows), dims.get(d.cols, d.cols), d.words)
        return mapping, decls

    @property
    def result_normal(self):
        """:attr:`result_tree` in normal form."""
        if self._result is None:
            self._result = self._instantiate()
        return self._result

    @property
    def result_tree(self):
        """The instantiated rhs (identity, differential) or derivative of the target."""
        return _present(self.result_normal)

    def _instantiate(self):
        rec, (free, extra) = self.identity, self._free()
        # normal forms depend on sizes only through which are 1 (never equated): the query's
        # normalizer builds the same tree as one over equated sizes, and its tables are warm
        norm = self.query.norm if not extra and rec.kind != "differential" else self._result_norm()
        mapping = {**free, **self.binding.values}
        if rec.kind == "differential":        # d<variable bound to a constant> = 0
            var, query = self.query.var(self.wrt), self.query     # (shared trees: memo hits)
            mapping.update({f"d{v}": query.var(f"d{self.wrt}") if mapping[v] == var
                            else E.mul(E.num(0), mapping[v]) for v in rec.wrts
                            if f"d{v}" not in mapping})   # (a chained differential is bound)
        tree = norm.substituted(rec.rhs_expr, mapping, self.dims)
        if rec.kind == "derivative" and rec.layout == "denominator":
            tree = norm.transpose(tree)
        tree = _project(norm, tree, self.projection)
        carry = self.carry
        if self.pattern.coeff == 1 and not carry:
            return tree                       # norm.product([1, tree]) is tree
        return norm.product([E.num(_ratio(1, self.pattern.coeff)), *carry, tree])

    # -- SymPy ---------------------------------------------------------------
    def _sympy_decls(self):
        return self._result_norm().decls

    @property
    def bindings(self):
        return {n: self._to_sympy(f"binding {n}", t) for n, t in self.bindings_tree.items()}

    # -- display -------------------------------------------------------------
    def statement(self):
        """The instantiated statement in the expression language (``d/dX f = G``, ``d(f) = df``)."""
        target, result = to_text(self.target_tree), to_text(self.result_tree)
        kind = self.identity.kind
        if kind == "identity":
            return f"{target} = {result}"
        if kind == "differential":
            return f"d({target}) = {result}"
        return f"d/d{self.wrt} {target} = {result}"

    def reference(self):
        """The record's id and Cookbook equation numbers."""
        rec = self.identity
        return rec.id + (", eq. " + ", ".join(map(str, rec.cookbook)) if rec.cookbook else "")

    def binding_text(self):
        """``A = P @ Q, B = R`` for the wildcards (the variable is in ``wrt``)."""
        values = self.bindings_tree
        return ", ".join(f"{n} = {to_text(values[n])}" for n in self.identity.symbols
                         if n in values and n not in self.pattern.variables)

    def __str__(self):
        extra = self.binding_text()
        line = f"{self.statement()}   [{self.reference()}{'; ' + extra if extra else ''}]"
        if self.conditions:
            line += "   provided: " + "; ".join(self.conditions)
        return line

    def __repr__(self):
        return f"<Match {self.identity.id}: {self}>"

    def latex(self):
        """The instantiated statement in LaTeX (Cookbook notation)."""
        decls = self._result_norm().decls
        target, result = to_latex(self.target_tree, decls), to_latex(self.result_tree, decls)
        kind = self.identity.kind
        if kind == "identity":
            return f"{target} = {result}"
        if kind == "differential":
            return rf"\mathrm{{d}}\left({target}\right) = {result}"
        wrt = latex_name(self.wrt)
        lhs_shape = self.query.norm.shape(self.core)
        if lhs_shape != (1, 1) and decls[self.wrt].kind == "vector":
            return rf"\frac{{\partial \left({target}\right)}}{{\partial {wrt}^{{T}}}} = {result}"
        return rf"\frac{{\partial}}{{\partial {wrt}}} \left({target}\right) = {result}"

    def _repr_latex_(self):
        text = rf"\displaystyle {self.latex()} \quad \text{{[{_latex_text(self.reference())}]}}"
        if self.conditions:
            text += r" \quad \text{provided: " + _latex_text("; ".join(self.conditions)) + "}"
        return f"${text}$"

    def as_dict(self):
        """A JSON-ready description."""
        rec = self.identity
        return {"id": rec.id, "title": rec.title, "kind": rec.kind, "cookbook": list(rec.cookbook),
                "source": rec.location, "wrt": self.wrt, "whole": self.whole,
                "target": to_text(self.target_tree), "result": to_text(self.result_tree),
                "bindings": {n: to_text(t) for n, t in self.bindings_tree.items()},
                "absent": list(self.absent), "conditions": list(self.conditions),
                "latex": self.latex()}


def _present(e):
    """``e`` for reading: in every sum, the terms without a minus sign first."""
    if not e.args:
        return e
    args = [_present(a) for a in e.args]
    if e.op == E.ADD:
        args.sort(key=lambda t: split_coeff(t)[0] < 0)
    if all(a is b for a, b in zip(args, e.args)):
        return e                              # nothing moved: the tree itself (memo hits by identity)
    return E.Expr(e.op, args, e.value)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "&": r"\&",
                  "%": r"\%", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}"}


def _latex_text(s):
    """Plain text made safe inside LaTeX's \\text{}."""
    return "".join(_LATEX_ESCAPES.get(c, c) for c in s)


_TANGENT = ("diagonal", "symmetric", "skew", "lower", "upper")


def _tangent(decl):
    """The space a structured variable's gradient lies in (None: all matrices)."""
    return _tangent_of(tuple(decl.words))


@functools.lru_cache(maxsize=None)
def _tangent_of(words):
    structure = Decl("matrix", 1, 1, words).structure
    if "toeplitz" in structure:
        return "symmetric toeplitz" if "symmetric" in structure else "toeplitz"
    return next((w for w in _TANGENT if w in structure), None)


def _projection(record, query, var_name, wrt):
    """(projection to apply to the result or None, condition or None)."""
    want = _tangent(query.decls[wrt])
    if want is None or record.kind != "derivative" or record.lhs_shape != (1, 1):
        return None, None                     # (a general variable: the usual case)
    have = _tangent(record.symbols[var_name])
    if have == want or (have == "diagonal" and want == "symmetric"):
        return None, None
    if have is None or (have == "symmetric" and want == "diagonal") or want.endswith("toeplitz"):
        if want in ("lower", "upper"):
            return None, (f"the gradient with respect to the {want}-triangular {wrt} is the {want} "
                          f"triangular part of this result")
        return want, None
    return None, None


def _project(norm, g, how):
    if how is None:
        return g
    if how == "diagonal":
        return norm.normal(E.call("diag", E.call("diagvec", g)))
    if how.endswith("toeplitz"):         # the projections onto Toeplitz and symmetric matrices commute
        g = _project(norm, g, "symmetric") if how == "symmetric toeplitz" else g
        return g if Structure(norm).holds("toeplitz", g) else norm.normal(E.call("toeplitz_mean", g))
    sign = E.num(1 if how == "symmetric" else -1)
    return norm.product([E.num(Fraction(1, 2)), norm.sum([g, norm.product([sign, norm.transpose(g)])])])


def _worded(pattern):
    """The pattern's symbols declared with structure words."""
    worded = pattern.plans.get("worded")
    if worded is None:
        worded = pattern.plans["worded"] = frozenset(n for n, d in pattern.record.symbols.items() if d.words)
    return worded


def _conditional(pattern, query, binding, wrt, var=None):
    """Whether :func:`_conditions` is not empty (without writing them out)."""
    if binding.equal:
        return True
    worded = _worded(pattern)
    if worded.isdisjoint(binding.values):
        return False
    if var is None and wrt is not None:
        var = E.sym(wrt)
    rec, holds = pattern.record, query.structure.holds
    for name, value in binding.values.items():
        if name not in worded:
            continue
        words = rec.symbols[name].words
        if name in pattern.variables and value == var:
            declared = query.decls[wrt]
            if not all(declared.has(w) for w in words):
                return True
        elif not all(holds(w, value) for w in words):
            return True
    return False


def _conditions(pattern, query, binding, wrt, var=None):
    """What the binding needs and the declarations do not establish, in words."""
    rec = pattern.record
    worded = _worded(pattern)
    if not binding.equal and worded.isdisjoint(binding.values):
        return []
    out = []
    if var is None and wrt is not None:
        var = E.sym(wrt)
    for name, value in binding.values.items():
        if name not in worded:
            continue
        decl = rec.symbols[name]
        if name in pattern.variables and value == var:
            declared = query.decls[wrt]
            for word in decl.words:
                if not declared.has(word):
                    out.append(f"{wrt} is {word}" + _relation_text(word, declared))
        else:
            for word in decl.words:
                if not query.structure.holds(word, value):
                    out.append(f"{to_text(value)} is {word}")
    out += _size_conditions(query, binding.equal)
    return list(dict.fromkeys(out))


class _Unmet:
    """The :func:`_conditions` of a group's binding (and a projection's note), written out on
    first use: ranking needs only to know that there are some.  Shared by the group's matches
    (renamed records need the same of the same values)."""

    __slots__ = ("_args", "_text")

    def __init__(self, pattern, query, binding, wrt, var, note):
        self._args, self._text = (pattern, query, binding, wrt, var, note), None

    def text(self):
        if self._text is None:
            pattern, query, binding, wrt, var, note = self._args
            self._text = tuple(_conditions(pattern, query, binding, wrt, var)) + ((note,) if note else ())
            self._args = None
        return self._text


def _relation_text(word, decl):
    """The dimension relation a ``tall`` or ``wide`` condition stands for: `` (m >= n)``."""
    if word == "tall":
        return f" ({decl.rows} >= {decl.cols})"
    if word == "wide":
        return f" ({decl.rows} <= {decl.cols})"
    return ""


def _size_conditions(query, equal):
    """Dimension equalities in words: ``C is square`` where one makes a symbol square."""
    if not equal:
        return []
    out, explained = [], set()
    for name, old in query.decls.items():
        if old.rows != old.cols and _find(old.rows, equal) == _find(old.cols, equal):
            out.append(f"{name} is square")
            explained |= {old.rows, old.cols}
    out += [f"sizes {a} = {b}" for a, b in equal.items() if a not in explained]
    return out


def _matches(group, query, target, scale, wrt, position, budget):
    """The best match of every record of ``group`` against ``target`` (of ``query``).

    Bindings are ranked like matches (unconditional, then fewer absent
    factors) and the search stops at an unconditional one without absent
    factors.  Identity matches that give the target back are dropped.  The
    records of a group are renamings of its representative: the binding, its
    conditions and its triviality are found once and renamed for each.
    """
    rep = group.rep
    budget.left -= 1                         # a candidate group tried: a step
    if budget.left < 0:
        raise BudgetExhausted()
    if not _plausible(rep, rep.expr, target, query.norm) \
            or not _ends_plausible(rep, target, wrt if rep.variables else None):
        return []
    var = query.var(wrt) if wrt is not None else None
    best, tries = None, 0
    projection = note = None
    projected = var is None                  # the projection is the same for every binding
    # a single variable that occurs binds only to the query's
    check = len(rep.variables) >= 2 or 0 in rep.counts
    binders = _binders(rep)
    # where _chained() drops every binding of a variable to an expression of wrt, none is made
    chains = position == 0 and getattr(query, "chain", False)
    for b in unify(rep, target, query.norm, wrt if rep.variables else None, flexible=query.flexible,
                   budget=budget, chains=chains):
        if check and not any(_is_sym(b.values.get(v), wrt) for v in rep.variables) and (
                len(rep.variables) < 2 or not any(v in b.values and wrt in query.norm.names(b.values[v])
                                                  for v in rep.variables)):
            continue                     # (several variables: one at least depends on wrt)
        if binders and not _respects_binders(rep, b):
            continue
        if check and len(rep.variables) >= 2:
            chained = _chained(rep, query, b, wrt, budget, position)
            if chained is None:
                continue                 # a variable bound to an expression with no known differential
            if chained:
                b = b.but(values={**b.values, **chained})
        tries += 1
        if best is not None and tries > MAX_BINDINGS:
            break
        if not projected:
            projection, note = _projection(rep.record, query, rep.variables[0], wrt)
            projected = True
        rank = (bool(note) or _conditional(rep, query, b, wrt, var), len(b.absent))
        if best is not None and best[0] <= rank:
            continue
        m = Match(rep, query, target, scale, b, wrt if var else None, None, projection, position)
        if rep.may_echo and _may_give_back(rep, query, target, scale, b) \
                and m.result_normal == m.target_normal:
            continue                     # an identity giving back the target says nothing
        best = (rank, m)
        if rank == (False, 0) or rank == (True, 0) and (note or _unavoidable(rep, query, target, wrt)):
            break                        # no later binding can rank higher
    if best is None:
        return []
    (conditional, absent), m = best
    # _conditional() is False exactly when _conditions() is empty
    unmet = _Unmet(rep, query, m._binding, wrt, var, note) if conditional else None
    literal = (absent, _compound_bindings(m._binding))
    out = []
    new, binding = Match.__new__, m.binding
    for pattern, names, dims in group.members:
        if pattern is rep:
            m._unmet, m._literal = unmet, literal
            out.append(m)
        else:                            # like Match(pattern, ..., names=(names, dims)), cheaper
            c = new(Match)
            c.pattern, c.identity, c.query, c.core, c.scale, c.wrt = \
                pattern, pattern.record, query, target, scale, m.wrt
            c._unmet, c._literal = unmet, literal
            c.projection, c.position, c._binding, c._names = m.projection, position, binding, (names, dims)
            c._result = c._norm = c._memo = None
            out.append(c)
    return out


def _may_give_back(pattern, query, core, scale, b):
    """Whether the instantiated rhs might normalise to the target (``scale * core``).

    Normal forms never gain a symbol, so each symbol of ``core`` must come
    from a value the rhs uses or from a carried factor; this rules out most
    bindings without building the rhs (``Q Q^T = I`` never gives back ``A A^T``).
    """
    used = _rhs_symbols(pattern)
    names = query.norm.names
    have = set()
    for name, value in b.values.items():
        if name in used:
            have |= names(value)
    for factor in (scale, b.scale):
        if factor is not None:
            have |= names(factor)
    return names(core) <= have


def _rhs_symbols(pattern):
    """The symbol names of the record's rhs, sorted (memoised on the pattern)."""
    out = pattern.plans.get("rhs symbols")
    if out is None:
        out = pattern.plans["rhs symbols"] = tuple(pattern.record.rhs_expr.symbols())
    return out


#: structure words that only some parts of an expression can have (see _atomic_words)
_ATOMIC_WORDS = frozenset({"diagonal", "lower", "upper", "orthogonal"})


def _atomic_words(query, core):
    """The :data:`_ATOMIC_WORDS` that a part of ``core`` (not ``core`` itself) might be shown to have.

    :class:`~matident.structure.Structure` establishes these words for a product,
    sum, transpose, inverse, ... only through parts that have them: ``I``,
    symbols declared so, ``diag(...)`` (diagonal), scalars (diagonal,
    triangular).  A wildcard binds parts of the target, so when no part has
    such a word, no binding establishes it.
    """
    memo = query._atomic
    out = memo.get(core)
    if out is None:
        norm, words = query.norm, set()
        for node in itertools.islice(core.walk(), 1, None):
            if node.op == E.IDENT:
                words = set(_ATOMIC_WORDS)
                break
            if node.op == E.SYM:
                words |= query.decls[node.value].structure & _ATOMIC_WORDS
            if node.op == "diag" or norm.is_scalar(node):
                words.add("diagonal")
        if "diagonal" in words:
            words |= {"lower", "upper"}
        out = memo[core] = frozenset(words)
    return out


def _unavoidable(pattern, query, core, wrt):
    """Whether every binding of ``pattern`` to ``core`` has a condition, judging by the declared
    structure: of the variable (when it is the only one), or of a wildcard (an atomic word)."""
    if pattern.expr.op == E.SYM:
        return False                     # a lone wildcard binds ``core`` itself
    rec = pattern.record
    if len(pattern.variables) == 1:
        declared = query.decls[wrt]
        if not all(declared.has(w) for w in rec.symbols[pattern.variables[0]].words):
            return True
    needed = pattern.plans.get("atomic")
    if needed is None:
        needed = pattern.plans["atomic"] = frozenset(
            w for n, d in rec.symbols.items() if n not in pattern.variables
            for w in d.structure & _ATOMIC_WORDS)
    return bool(needed) and not needed <= _atomic_words(query, core)


def _chained(pattern, query, b, wrt, budget, position):
    """The differentials ``d<v>`` of the variables of a product rule bound to expressions of the
    query's variable (``Y = Z @ B`` in ``d(kron(X, Y))``), each the result of the catalogue's
    unconditional differential of that expression (a lookup of it); None if one has none.
    Only for the whole query and a variable the user named: a part of the query, or a lookup
    over all symbols, gets the product rule with constants only."""
    out = {}
    for v in pattern.variables:
        value = b.values.get(v)
        if value is None or _is_sym(value, wrt) or wrt not in query.norm.names(value):
            continue
        if position != 0 or not getattr(query, "chain", False):
            return None
        d = _differential_of(query, value, wrt, budget)
        if d is None:
            return None
        out[f"d{v}"] = d
    return out


def _differential_of(query, value, wrt, budget):
    memo = query._facts.setdefault(("chained", wrt), {})
    if value in memo:
        return memo[value]
    memo[value] = None                   # guards against a rule that needs itself
    # The work below reads only the index, the value, wrt and the declarations (its sub-query
    # has memo tables of its own), so the index keeps its answer and the steps it counted:
    # a lookup that finds it there spends those steps, and the same query counts the same
    # steps (and stops at the same place) whatever was looked up before.
    known, key = _known_differentials(query.index), (value, wrt, _decls_key(query))
    entry = known.get(key) if key[2] is not None else None
    if entry is not None:
        budget.spend(entry[1])
        memo[value] = entry[0]
        return entry[0]
    before = budget.left
    inner = query.part(value)
    inner.index, inner.chain = query.index, True     # only the whole expression is looked up
    # only differential records can answer (ranking differential matches among themselves
    # does not depend on the others: matches of other records are not built)
    found = _lookup_target(query.index, inner, inner.normal, 0, False, [wrt], budget, "differential")
    best = next((m for m in _ranked(found, True) if m.identity.kind == "differential"
                 and not m.conditions and not m.absent), None)
    memo[value] = None if best is None else best.result_normal
    if key[2] is not None and budget.size is not None:       # (an unlimited budget counts nothing)
        if len(known) > 20_000:
            known.clear()
        known[key] = (memo[value], before - budget.left)
    return memo[value]


def _known_differentials(index):
    """The index's table of :func:`_differential_of` answers: (value, wrt, declarations) ->
    (differential or None, steps counted to find it)."""
    known = index.__dict__.get("_differentials")
    if known is None:
        known = index._differentials = {}
    return known


def _decls_key(query):
    """The query's declarations as a dict key (shared by its parts), or None if one is unhashable."""
    key = query.__dict__.get("_decls_key", False)
    if key is False:
        try:
            key = frozenset(query.decls.items())
            hash(key)
        except TypeError:
            key = None
        query._decls_key = key
    return key


def _binders(pattern):
    """The names the pattern binds: the random vector x of every expect(f, x, m, S)."""
    out = pattern.plans.get("binders")
    if out is None:
        out = pattern.plans["binders"] = tuple(sorted({
            node.args[1].value for node in pattern.record.lhs_expr.walk()
            if node.op == "expect" and node.args[1].op == E.SYM}))
    return out


def _respects_binders(pattern, binding):
    """Whether a binding keeps bound variables bound: the random vector of an expectation binds
    to a symbol, and no other wildcard takes an expression containing that symbol (else
    ``expect(w.T @ x, x, m, S) = w.T @ m`` would bind w to ``Q @ y`` and give a wrong result)."""
    for name in _binders(pattern):
        value = binding.values.get(name)
        if value is None:
            continue
        if value.op != E.SYM:
            return False
        if any(other != name and v.has(value.value) for other, v in binding.values.items()):
            return False
    return True


def _is_sym(e, name):
    """Whether tree ``e`` (or None) is the symbol ``name`` (``e == E.sym(name)``)."""
    return e is not None and e.op == E.SYM and not e.args and type(e.value) is str and e.value == name


def match_record(record, query, target=None, wrt=None, *, budget=None):
    """Matches of one record (or :class:`~matident.index.Pattern`) against a target of ``query``.

    ``query`` is a :class:`Query` (or anything :class:`Query` accepts);
    ``target`` a normal-form sub-tree of ``query.normal`` (default: the whole
    query).  Scalar constant factors of the target are carried as in
    :func:`lookup`.  A derivative or differential record needs ``wrt``.
    ``budget``: a :class:`Budget` (default: unlimited).
    """
    pattern = record if isinstance(record, Pattern) else Pattern(record)
    query = query if isinstance(query, Query) else Query(query)
    target = query.normal if target is None else target
    position = 0 if target == query.normal else 1
    wrt = wrt if pattern.variables else None
    group = _single_group(pattern)
    budget = _UNLIMITED if budget is None else budget
    out = []
    for scale, core in _scale_split(query.norm, target, wrt):
        out.extend(_matches(group, query, core, scale, wrt, position, budget))
    return _ranked(out, wrt is not None)


def _single_group(pattern):
    group = Group(pattern)
    group.members.append((pattern, None, None))
    return group


_KIND_RANK = {True: {"derivative": 0, "differential": 1, "identity": 2},
              False: {"identity": 0, "derivative": 1, "differential": 2}}


def _ranked(matches, wrt_given):
    """Sort (see the module docstring) and drop duplicates: a record once per target (the
    whole query counts as one) and variable."""
    kinds = _KIND_RANK[wrt_given]
    matches.sort(key=lambda m: (m.position, m._unmet is not None or bool(m.identity.conditions),
                                kinds[m.identity.kind], m._literal, m.pattern.order, m.wrt or ""))
    seen, out = set(), []
    for m in matches:
        key = (m.identity.id, m.core, m.wrt)
        if key in seen:
            continue
        if m.position == 0:
            whole = (m.identity.id, None, m.wrt)
            if whole in seen:
                continue
            seen.add(whole)
        seen.add(key)
        out.append(m)
    return out


def _compound_bindings(binding):
    """How many wildcards bound to more than a symbol: the most literal match comes first
    (tr(A @ X @ B) is answered by the tr(A X B) record before the tr(X A) one)."""
    return sum(1 for v in binding.values.values() if v.op != E.SYM)


class Lookup(list):
    """The matches of a lookup, best first.

    ``complete`` is False when the work budget stopped the search early (then
    ``budget`` is its size in steps); ``steps`` counts the steps spent (the
    same on every machine); ``notes`` says what was left out and why (a
    whole-sum answer that could not be checked); ``truncated`` is True when ``limit`` cut the list;
    ``elapsed`` is in seconds (for information only: nothing depends on it).
    """

    def __init__(self, matches, *, complete=True, truncated=False, elapsed=0.0, steps=None, budget=None,
                 notes=()):
        super().__init__(matches)
        self.complete, self.truncated, self.elapsed = complete, truncated, elapsed
        self.steps, self.budget = steps, budget
        self.notes = list(notes)      # what was left out and why (a whole-sum answer not checked)

    @property
    def stopped(self):
        """The note of an incomplete search (None when complete)."""
        if self.complete:
            return None
        return (f"(stopped after {self.budget} matching steps, the work budget: there may be more "
                "matches; a larger budget searches further)")

    def __str__(self):
        lines = [str(m) for m in self] + [f"({n})" for n in self.notes]
        if not self.complete:
            if not lines:
                lines.append("(no match found before the work budget ran out)")
            lines.append(self.stopped)
        return "\n".join(lines) if lines else "(no matches)"


def _wrt_name(wrt):
    if wrt is None or isinstance(wrt, str):
        return wrt
    name = getattr(wrt, "name", None)
    if isinstance(name, str):
        return name
    raise UsageError(f"wrt must be a symbol name or a SymPy symbol, got {wrt!r:.40}")


_INDEXES = {}


def _index_for(catalogue):
    if catalogue is None:
        return shipped_index()
    if isinstance(catalogue, Index):
        return catalogue
    entry = _INDEXES.get(id(catalogue))
    if entry is None or entry[0] is not catalogue:
        entry = _INDEXES[id(catalogue)] = (catalogue, Index(catalogue))
    return entry[1]


def lookup(expr, wrt=None, *, symbols=None, limit=None, catalogue=None, budget=BUDGET, check=True):
    """Records of the catalogue that apply to ``expr``, as a :class:`Lookup` list of :class:`Match`.

    ``expr``: text in the expression language or a SymPy matrix expression;
    ``wrt``: a symbol name or SymPy symbol; ``symbols``: declarations
    (name -> "matrix m n spd", ...); ``limit``: at most this many matches;
    ``catalogue``: another :class:`~matident.catalogue.Catalogue` (default:
    the shipped one); ``budget``: matching steps before the search stops
    (default :data:`BUDGET`; None: no limit); ``check``: the answer for a
    whole sum combined from its terms' matches (:class:`SumMatch`) is
    returned only once it has passed its numeric check (which needs numpy);
    ``check=False`` returns it unchecked, saying so.  See the module docstring
    for the semantics.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UsageError(f"limit must be a whole number of at least 1, or None for all matches; got {limit!r}",
                         hint="e.g. limit=10")
    index = _index_for(catalogue)
    start = time.perf_counter()
    work = Budget(budget)
    query = Query(expr, symbols)
    wrt = _wrt_name(wrt)
    query.index, query.chain = index, wrt is not None    # product rules chain only for a given wrt
    if wrt is not None and wrt not in query.decls:
        raise UsageError(f"wrt '{wrt}' does not occur in the expression",
                         hint=("name one of its symbols: " + ", ".join(sorted(query.decls)))
                         if query.decls else "the expression has no symbols; leave out wrt")
    kink = not_differentiable(query.typed.expr, wrt) if wrt is not None else None
    if kink is not None:
        message, hint = kink_message(kink, to_text(kink))
        raise DeriveError(message, code="MI040", hint=hint)
    variables = [wrt] if wrt is not None else sorted(query.decls)
    found, complete = [], True
    try:
        for position, target, is_run in query.targets():
            work.spend()
            found.extend(_lookup_target(index, query, target, position, is_run, variables, work))
    except BudgetExhausted:
        complete = False
    ranked = _ranked(found, wrt is not None)
    notes = []
    if complete and wrt is not None:
        try:
            whole = _whole_sum(index, query, ranked, wrt, work, check, notes)
        except BudgetExhausted:
            whole, complete = None, False
        if whole is not None:
            ranked.insert(0, whole)
    ranked = _literal_implicit(index, query) + ranked
    truncated = limit is not None and len(ranked) > limit
    return Lookup(ranked[:limit] if truncated else ranked, complete=complete, truncated=truncated,
                  elapsed=time.perf_counter() - start, steps=work.used, budget=budget, notes=notes)


def _literal_implicit(index, query):
    """Matches of the identity records the matcher applies implicitly (both sides of one normal
    form, such as ``(A + B).T = A.T + B.T``) whose lhs the query is, as written.

    They are left out of the index (they would match every sum of transposes and say nothing),
    but a user who types such a record's lhs gets that record.
    """
    out = []
    table = _implicit_table(index)
    tree = query.typed.expr
    first = (tree.args[0].op, len(tree.args[0].args)) if tree.args else None
    says = {}            # records alike up to names (renamed copies) say something or not alike
    for record, patterns, alike in (table.get((tree.op, len(tree.args), first), [])
                                    + table.get((tree.op, len(tree.args), None), []) + table.get(E.SYM, [])):
        if not _literally(record.lhs_expr, tree, {}):
            continue
        pattern = patterns.get(record.id)
        if pattern is None:
            pattern = patterns[record.id] = Pattern(record)
        if not pattern.trivial:
            continue
        for scale, core in _scale_split(query.norm, query.normal, None):
            b = next(iter(unify(pattern, core, query.norm, None, flexible=query.flexible)), None)
            if b is not None:
                m = Match(pattern, query, core, scale, b, None, None, None, 0)
                m._literal = (len(b.absent), _compound_bindings(b))
                key = (alike, scale, core)
                if key not in says:                  # tr(A @ B) = tr(A @ B) says nothing
                    target, result = m.target_tree, m.result_tree     # (equal trees: equal texts)
                    says[key] = target != result and to_text(target) != to_text(result)
                if says[key]:
                    out.append(m)
                break
    return out


_IMPLICIT = {}


def _implicit_table(index):
    """The identity records of ``index`` by the operator, the number of operands and the first
    operand's operator and operand count (None for a symbol, which stands for anything) of their lhs, each with a
    memo of its :class:`~matident.index.Pattern` (built when first needed): a lookup checks only
    the records whose lhs could be its query as written, not the whole catalogue."""
    entry = _IMPLICIT.get(id(index))
    if entry is None or entry[0] is not index:
        patterns, table = {}, {}
        trivial = getattr(index, "trivial", None)      # an index from before it kept them: all records
        if trivial is not None:
            patterns.update((p.record.id, p) for p in trivial)
        for record in (index.records if trivial is None else [p.record for p in trivial]):
            if record.kind == "identity":
                lhs = record.lhs_expr
                first = (lhs.args[0].op, len(lhs.args[0].args)) if lhs.args and lhs.args[0].op != E.SYM \
                    else None
                k = E.SYM if lhs.op == E.SYM else (lhs.op, len(lhs.args), first)
                table.setdefault(k, []).append((record, patterns, _alike(lhs, record.rhs_expr)))
        entry = _IMPLICIT[id(index)] = (index, table)
    return entry[1]


def _alike(lhs, rhs):
    """``(lhs, rhs)`` with the symbols named by order of first appearance: records that are
    renamings of each other have one (their instantiations for one query are one tree)."""
    names = {}
    for node in itertools.chain(lhs.walk(), rhs.walk()):
        if node.op == E.SYM and node.value not in names:
            names[node.value] = E.sym(f"_{len(names)}")
    return lhs.replace(names), rhs.replace(names)


def _literally(pattern, tree, bound):
    """Whether ``tree`` is ``pattern`` as written, its symbols standing for sub-trees (consistently)."""
    if pattern.op == E.SYM:
        if pattern.value in bound:
            return bound[pattern.value] == tree
        bound[pattern.value] = tree
        return True
    if pattern.op != tree.op or len(pattern.args) != len(tree.args) \
            or (not pattern.args and pattern.value != tree.value):
        return False
    return all(_literally(a, b, bound) for a, b in zip(pattern.args, tree.args))


def _lookup_target(index, query, target, position, is_run, variables, budget, kind=None):
    """The matches of ``target``: of every record, or of the records of one ``kind`` (those
    with a variable, such as "differential": then identity records are not tried)."""
    norm = query.norm
    out = []
    for scale, core in (_scale_split(norm, target, None) if kind is None else ()):
        (ops, repeats, _), shape, size = query.facts(core), norm.shape(core), target_size(core)
        kinds = factor_kinds(core, (), norm)
        for group in index.fitting(head_of(core), None, ops, shape, size, kinds, repeats=repeats,
                                   numeric=query.numeric):
            out.extend(_matches(group, query, core, scale, None, position, budget))
    for v in variables:
        var_shape = query.decls[v].shape
        for scale, core in _scale_split(norm, target, v):
            ops, repeats, counts = query.facts(core)
            count = counts.get(v)
            if not count:
                continue
            shape, size = norm.shape(core), target_size(core)
            kinds = factor_kinds(core, (v,), norm)
            for group in index.fitting(head_of(core), count, ops, shape, size, kinds, var_shape, is_run,
                                       repeats, query.numeric):
                if kind is None or group.rep.record.kind == kind:
                    out.extend(_matches(group, query, core, scale, v, position, budget))
    return out


# -- a whole sum, term by term -------------------------------------------------------

class SumMatch(_SympyForms):
    """The derivative of a whole sum, combined from one derivative match per term by linearity.

    ``d(f_1 + ... + f_k) = df_1 + ... + df_k`` (the catalogue's differential of
    a sum, :attr:`identity`) and each ``df_i = <G_i, dX>`` (a term's record)
    give the gradient ``G_1 + ... + G_k``.  ``parts`` are the terms' matches
    (unconditional ones: the combination needs nothing the declarations do
    not establish); terms free of the variable drop out.  ``checked`` is
    "passed" once the sum has passed its check against finite differences,
    "not run" when the lookup was asked not to check.  Reads like a
    :class:`Match` (``str``, :meth:`latex`, :meth:`as_dict`, the tree and
    SymPy attributes); it is :attr:`whole` and has no bindings of its own.
    """

    __slots__ = ("identity", "query", "wrt", "parts", "constant", "result_normal", "checked", "_memo")

    position, scale, absent, projection, conditions, conditional = 0, None, (), None, (), False
    whole = True
    bindings_tree = bindings = {}

    def __init__(self, linearity, query, wrt, parts, constant, result_normal):
        self.identity = linearity
        self.query, self.wrt, self.parts, self.constant = query, wrt, parts, constant
        self.result_normal = result_normal
        self.checked = None
        self._memo = {}

    @property
    def core(self):
        return self.query.normal

    target_normal = core

    @property
    def target_tree(self):
        return self.query.typed.expr

    @property
    def result_tree(self):
        return _present(self.result_normal)

    def _sympy_decls(self):
        return self.query.decls

    def statement(self):
        return f"d/d{self.wrt} {to_text(self.target_tree)} = {to_text(self.result_tree)}"

    def term_records(self):
        """``trace-xa-derivative (terms 1-16)``: each record used, with the terms it answers."""
        used = {}
        for i, m in self.parts:
            used.setdefault(m.identity.id, []).append(i + 1)
        return ", ".join(f"{rid} (term{'s' if len(ks) > 1 else ''} {_ranges(ks)})" for rid, ks in used.items())

    def reference(self):
        rec = self.identity
        own = rec.id + (", eq. " + ", ".join(map(str, rec.cookbook)) if rec.cookbook else "")
        return f"{own}, term by term: {self.term_records()}"

    def binding_text(self):
        return ""

    def __str__(self):
        line = f"{self.statement()}   [{self.reference()}]"
        if self.checked != "passed":
            line += "   (not checked numerically)"
        return line

    def __repr__(self):
        return f"<SumMatch {self.identity.id}: {self}>"

    def latex(self):
        decls = self.query.decls
        target, result = to_latex(self.target_tree, decls), to_latex(self.result_tree, decls)
        return rf"\frac{{\partial}}{{\partial {latex_name(self.wrt)}}} \left({target}\right) = {result}"

    def _repr_latex_(self):
        return rf"$\displystyle {self.latex()} \quad \text{{[{_latex_text(self.reference())}]}}$"

    def as_dict(self):
        """A JSON-ready description: a match's keys, and ``terms`` (each term's record and result)."""
        rec = self.identity
        return {"id": rec.id, "title": rec.title, "kind": "derivative", "cookbook": list(rec.cookbook),
                "source": rec.location, "wrt": self.wrt, "whole": True,
                "target": to_text(self.target_tree), "result": to_text(self.result_tree),
                "bindings": {}, "absent": [], "conditions": [], "latex": self.latex(),
                "terms": [{"term": i + 1, "target": to_text(m.target_tree), "id": m.identity.id,
                           "result": to_text(m.result_tree)} for i, m in self.parts],
                "constant_terms": [i + 1 for i in self.constant], "checked": self.checked}


def _as_written(query, total):
    """The terms of the normal form ``total`` in the order the query writes them (the normal
    form sorts them), when each written term normalises to one of them; else in normal order."""
    written = query.typed.expr
    if written.op != E.ADD or len(written.args) != len(total.args):
        return total.args
    terms = [query.norm.normal(t) for t in written.args]
    return terms if sorted(map(hash, terms)) == sorted(map(hash, total.args)) \
        and set(terms) == set(total.args) else total.args


def _ranges(numbers):
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    out, start = [], None
    for k, n in enumerate(numbers):
        if start is None:
            start = n
        if k + 1 == len(numbers) or numbers[k + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


_LINEARITY = {}


def _linearity_record(index):
    """The catalogue's differential of a sum, ``d(X + Y) = dX + dY`` (unconditional), or None:
    found by its form, so that the rule stays data."""
    entry = _LINEARITY.get(id(index))
    if entry is None or entry[0] is not index:
        found = None
        for rec in index.records:
            lhs, rhs = rec.lhs_expr, rec.rhs_expr
            if rec.kind != "differential" or rec.conditions or lhs.op != E.ADD or len(lhs.args) != 2 \
                    or any(a.op != E.SYM or a.value not in rec.wrts for a in lhs.args) \
                    or any(rec.symbols[a.value].words for a in lhs.args):
                continue
            if rhs == E.add(*[E.sym(f"d{a.value}") for a in lhs.args]):
                found = rec
                break
        entry = _LINEARITY[id(index)] = (index, found)
    return entry[1]


def _whole_sum(index, query, ranked, wrt, budget, check, notes):
    """The :class:`SumMatch` of a scalar sum whose every term varying with ``wrt`` has an
    unconditional derivative match in ``ranked``, checked against finite differences; or None.

    Linear in the terms: one pass over the matches, one step of the budget per term.
    """
    total = query.normal
    if total.op != E.ADD or query.norm.shape(total) != (1, 1):
        return None
    if any(m.whole and m.identity.kind == "derivative" and not m.conditional for m in ranked):
        return None                          # a record answers the whole sum itself, unconditionally
    linearity = _linearity_record(index)
    if linearity is None:
        return None
    best = {}
    for m in ranked:                         # best first: the first fitting match of each term
        if m.position and m.wrt == wrt and m.identity.kind == "derivative" and not m.conditional \
                and m.target_normal not in best and not m._free()[1]:
            best[m.target_normal] = m
    parts, constant = [], []
    for i, term in enumerate(_as_written(query, total)):
        budget.spend()
        if wrt not in query.norm.names(term):
            constant.append(i)
            continue
        m = best.get(term)
        if m is None:
            return None                      # a term without a derivative: no whole answer
        parts.append((i, m))
    if not parts:
        return None
    norm = query.norm
    combined = SumMatch(linearity, query, wrt, parts, constant,
                        norm.sum([m.result_normal for _, m in parts]))
    if not check:
        combined.checked = "not run"
        return combined
    try:
        from .verify import check_derivative
    except ImportError:                      # no numpy (the browser): no unchecked answer
        notes.append(f"the derivative of the whole sum, from its terms' matches, needs numpy for its "
                     f"check and is not shown; the terms' matches are")
        return None
    decls = query.decls
    layout = "vec" if decls[wrt].kind == "matrix" else "numerator"
    report = check_derivative(query.typed.expr, combined.result_tree, decls, wrt, layout=layout,
                              label=f"lookup:{to_text(query.typed.expr)}")
    if not report.ok:
        notes.append(f"the derivative of the whole sum from its terms' matches, "
                     f"{to_text(combined.result_tree)}, failed its numeric check ({report.status}: "
                     f"{report.message}) and is not shown; please report it")
        return None
    combined.checked = "passed"
    return combined


# -- command line ----------------------------------------------------------------------

def register(subparsers):
    """Add ``matident lookup`` to the command line."""
    p = subparsers.add_parser(
        "lookup", help="find the identities that apply to an expression",
        description="Find the catalogue's identities, derivatives and differentials that apply to "
                    "EXPR or to its sub-expressions. Exit status 0 when something matched, 1 when "
                    "nothing did, 2 on bad input, 3 when nothing matched before the work budget ran "
                    "out (the search was cut short: raise --budget).",
        epilog="examples:\n  matident lookup 'tr(A @ X @ B)' --wrt X\n"
               "  matident lookup 'inv(A + U @ C @ V)'\n"
               "  matident lookup 'logdet(S)' --wrt S --symbol S='spd n' --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("expr", metavar="EXPR", help="expression in the expression language")
    p.add_argument("--wrt", metavar="X", help="the variable of derivatives and differentials")
    from .cli import positive_option, symbol_option
    p.add_argument("--symbol", action="append", type=symbol_option, default=[], metavar="NAME=DECL",
                   help="declare a symbol, e.g. --symbol X='matrix n n spd' (repeatable)")
    p.add_argument("--limit", type=positive_option, default=None, metavar="N", help="show at most N matches")
    p.add_argument("--budget", type=positive_option, default=BUDGET, metavar="STEPS",
                   help=f"matching steps before the search stops and says so (default {BUDGET}; "
                        "counted, so the answer does not depend on the machine's load)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--latex", action="store_true", help="also print each match in LaTeX")
    p.set_defaults(func=_cmd_lookup)


def _cmd_lookup(args):
    found = lookup(args.expr, args.wrt, symbols=dict(args.symbol), limit=args.limit, budget=args.budget)
    status = 0 if found else 1 if found.complete else 3
    if args.json:
        print(json.dumps({"query": args.expr, "wrt": args.wrt, "complete": found.complete,
                          "steps": found.steps, "budget": found.budget,
                          "truncated": found.truncated, "count": len(found), "notes": found.notes,
                          "matches": [m.as_dict() for m in found]}, indent=2))
        return status
    print(_human(args, found))
    return status


def _human(args, found):
    head = args.expr + (f"  (with respect to {args.wrt})" if args.wrt else "")
    count = (f"{len(found)} match{'es' if len(found) != 1 else ''}" if found
             else "no matching identity" if found.complete
             else "no match found before the work budget ran out")
    lines = [f"{head}: {count}"]
    for i, m in enumerate(found, 1):
        rec = m.identity
        lines.append(f"{i:3}. {m.statement()}" + ("" if m.whole else "  (sub-expression)"))
        cookbook = f" (Cookbook eq. {', '.join(map(str, rec.cookbook))})" if rec.cookbook else ""
        lines.append(f"     {rec.id}: {rec.title}{cookbook}")
        if m.binding_text():
            lines.append(f"     with {m.binding_text()}")
        if isinstance(m, SumMatch):
            lines.append(f"     term by term: {m.term_records()}")
            lines.append("     checked against finite differences" if m.checked == "passed"
                         else "     not checked numerically")
        lines.extend(f"     provided: {c}" for c in m.conditions)
        if args.latex:
            lines.append(f"     latex: {m.latex()}")
    lines.extend(f"({n})" for n in found.notes)
    if not found.complete:
        lines.append(found.stopped)
    if found.truncated:
        lines.append(f"(showing the first {args.limit}; there are more)")
    return "\n".join(lines)
