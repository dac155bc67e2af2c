"""Jacobians of matrix-valued functions, and Hessians with respect to matrices, in vec form.

For F of shape r x c and a variable X of shape p x q, the derivative is the
Jacobian of vec F with respect to vec X: numerator layout (one row per entry
of vec F, one column per entry of vec X), column-stacking vec, an rc x pq
matrix, so that ``d vec(F) = J @ vec(dX)``.  It is read from the differential
``dF = L(dX)`` (computed by :mod:`matident.derive` from the catalogue's
differential records) with the catalogue's vec records tagged
``[vec, jacobian]``, each ``vec(F(M)) = J @ vec(M)`` for one operation F (the
Cookbook's eq 520 ``vec(A X B) = kron(B.T, A) @ vec(X)``, ``vec(X.T) =
commutation(X) @ vec(X)``, ``vec(A * X) = diag(vec(A)) @ vec(X)``, ...): the
rule for the outermost operation of L is applied, and the chain continues
with its operand, exactly as :func:`matident.derive` moves operations across
the inner product for gradients.  No vec rule lives only in Python.

The Hessian of a scalar f with respect to a matrix X is the vec-Jacobian of
its gradient (pq x pq, symmetric), in Kronecker form where the terms allow
(``kron(P, A) + kron(P, B)`` is collected to ``kron(P, A + B)``, the
Cookbook's distributivity, records ``kronecker-distributes-over-sum-*``).
For a structured variable (symmetric, diagonal, ...) the Jacobian acts on
directions inside the structure, as the gradient's convention says
(docs: conventions): ``J @ vec(V)`` is the directional derivative for every
symmetric V; it is not unique off that space.

An identity in a Kronecker factor gets its size from the variable's shape,
``eye(X)`` (p x p) or ``eye(X.T)`` (q x q), so that the printed result parses
back to the same matrix.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from . import expr as E
from .errors import DeriveError
from .normal import split_coeff
from .printing import to_text
from .shapes import is_scalar_shape
from .steps import Step


@dataclass(frozen=True)
class VecRule:
    """``vec(F(M)) = J @ vec(M)``: pattern F(...), hole M, J (None for the identity)."""
    record: object
    pattern: E.Expr
    hole: str
    jacobian: E.Expr | None
    scalar: bool             # J multiplies with * (a scalar), not @

    @property
    def id(self):
        return self.record.id


@functools.lru_cache(maxsize=4)
def vec_rules(cat):
    """The catalogue's vec-Jacobian rules by (operation, arity), and the linearity record."""
    rules, linearity = {}, None
    for rec in cat:
        if rec.kind != "identity" or "vec" not in rec.tags:
            continue
        lhs, rhs = rec.lhs_expr, rec.rhs_expr
        if lhs.op == "vec" and lhs.args[0].op == E.ADD and rhs.op == E.ADD:
            linearity = rec
            continue
        if "jacobian" not in rec.tags:
            continue
        rule = _read(rec)
        if rule is None:
            raise DeriveError(f"record {rec.id} is tagged [vec, jacobian] but is not of the form "
                              "vec(F(M)) = J @ vec(M)", code="MI040",
                              hint="write the rhs as J @ vec(M), alpha * vec(M) or vec(M)")
        rules.setdefault((rule.pattern.op, len(rule.pattern.args)), []).append(rule)
    for key in rules:     # rules for vectors and scalars first: they are the more specific
        rules[key].sort(key=lambda r: -sum(r.record.symbols[a.value].kind != "matrix"
                                           for a in r.pattern.args if a.op == E.SYM))
    return rules, linearity


@functools.lru_cache(maxsize=4)
def nested_rules(cat):
    """The vec rules whose pattern nests an operation (diag(m) @ v), by their outer operation."""
    rules, _ = vec_rules(cat)
    out = {}
    for group in rules.values():
        for rule in group:
            if any(a.op != E.SYM for a in rule.pattern.args):
                out.setdefault(rule.pattern.op, []).append(rule)
    return out


def _read(rec):
    lhs, rhs = rec.lhs_expr, rec.rhs_expr
    if lhs.op != "vec":
        return None
    inner = lhs.args[0]
    if not inner.args or any(not _flat(a) for a in inner.args):
        return None

    def vec_of_symbol(e):
        return e.op == "vec" and e.args[0].op == E.SYM

    if vec_of_symbol(rhs):
        hole, jac, scalar = rhs.args[0].value, None, False
    elif rhs.op == E.MATMUL and vec_of_symbol(rhs.args[-1]):
        hole, jac, scalar = rhs.args[-1].args[0].value, E.matmul(*rhs.args[:-1]), False
    elif rhs.op == E.MUL and any(vec_of_symbol(a) for a in rhs.args):
        v = next(a for a in rhs.args if vec_of_symbol(a))
        hole, jac, scalar = v.args[0].value, E.mul(*[a for a in rhs.args if a is not v]), True
    else:
        return None
    if not inner.has(hole):
        return None
    return VecRule(rec, inner, hole, jac, scalar)


def _flat(e):
    """A rule's operand: a symbol, or one operation applied to symbols (diag(m), m.T, A @ diag(m) @ B)."""
    return e.op == E.SYM or (bool(e.args) and all(a.op == E.SYM or _flat(a) for a in e.args)
                             and e.size() <= 8)


def _bind(pattern, tree, binding):
    """Bindings (a new dict) under which ``tree`` is ``pattern``, its symbols standing for
    sub-trees, or None.  A symbol among the factors of a product pattern takes one or more
    consecutive factors; the two factors of a * product are tried in both orders."""
    if pattern.op == E.SYM:
        bound = binding.get(pattern.value)
        if bound is not None:
            return binding if bound == tree else None
        return {**binding, pattern.value: tree}
    if pattern.op != tree.op or (not pattern.args and pattern.value != tree.value):
        return None
    if pattern.op == E.MATMUL:
        return _bind_factors(pattern.args, tree.args, binding)
    if len(pattern.args) != len(tree.args):
        return None
    orders = [tree.args]
    if pattern.op == E.MUL and len(tree.args) == 2:
        orders.append(tree.args[::-1])
    for args in orders:
        b = binding
        for p, t in zip(pattern.args, args):
            b = _bind(p, t, b)
            if b is None:
                break
        else:
            return b
    return None


def _bind_factors(ps, ts, binding):
    if not ps:
        return binding if not ts else None
    p, rest = ps[0], ps[1:]
    if p.op != E.SYM:
        if not ts:
            return None
        b = _bind(p, ts[0], binding)
        return None if b is None else _bind_factors(rest, ts[1:], b)
    for j in range(1, len(ts) - len(rest) + 1):
        b = _bind(p, E.matmul(*ts[:j]), binding)
        if b is not None:
            b = _bind_factors(rest, ts[j:], b)
            if b is not None:
                return b
    return None


class _VecJacobian:
    def __init__(self, engine, catalogue):
        self.engine = engine
        self.rules, self.linearity = vec_rules(catalogue)
        self.nested = nested_rules(catalogue)
        self.dname = engine.dname

    def shape(self, e):
        return self.engine.simp.shape(self.engine.retype(e))

    def scalar(self, e):
        return is_scalar_shape(self.shape(e))

    def jacobian(self, linear):
        """J with vec(linear) = J @ vec(dX); None when linear is dX itself."""
        if linear == E.sym(self.dname):
            return None
        if not linear.has(self.dname):
            raise DeriveError(f"'{to_text(linear)}' does not depend on {self.dname}", code="MI040")
        if linear.op == E.ADD:
            terms = [t for t in linear.args if t.has(self.dname)]
            if self.linearity is not None:
                self._step(self.linearity, f"vec({to_text(linear)})",
                           " + ".join(f"vec({to_text(t)})" for t in terms), E.call("vec", linear),
                           E.add(*[E.call("vec", t) for t in terms]))
            parts = [self.jacobian(t) for t in terms]
            return E.add(*[self.identity() if p is None else p for p in parts])
        operands, holder = self.operands(linear)
        for rule in self.nested.get(linear.op, []):      # vector rules with a nested pattern first
            binding = _bind(rule.pattern, linear, {})
            if binding is None:
                continue
            inner = binding.get(rule.hole)
            if inner is None or not inner.has(self.dname) or \
                    any(v.has(self.dname) for k, v in binding.items() if k != rule.hole) or \
                    not self.engine._fits_all(rule.record.symbols, binding):
                continue
            return self.apply(rule, binding, inner, linear)
        for rule in self.rules.get((linear.op, len(operands)), []):
            if any(a.op != E.SYM for a in rule.pattern.args):
                continue
            names = [a.value for a in rule.pattern.args]
            orders = [operands]
            if linear.op == E.MUL and len(operands) == 2:
                orders.append(operands[::-1])               # * is commutative
            for order in orders:
                binding = dict(zip(names, order))
                inner = binding.get(rule.hole)
                if inner is None or inner is not holder or \
                        not self.engine._fits_all(rule.record.symbols, binding):
                    continue
                return self.apply(rule, binding, inner, linear)
        raise DeriveError(f"no vec rule for '{to_text(linear)}' (the derivative of a matrix-valued "
                          f"function is read from its differential with vec records)", code="MI040",
                          hint="add an identity vec(F(M)) = J @ vec(M) tagged [vec, jacobian] to identities/")

    def operands(self, linear):
        """The operands of the rule to apply to ``linear`` and the one holding dX."""
        args = list(linear.args)
        holders = [a for a in args if a.has(self.dname)]
        if len(holders) != 1:
            raise DeriveError(f"'{to_text(linear)}' is not linear in {self.dname}", code="MI040")
        holder = holders[0]
        i = args.index(holder)
        if linear.op == E.MATMUL:
            left, right = args[:i], args[i + 1:]
            return [*([E.matmul(*left)] if left else []), holder,
                    *([E.matmul(*right)] if right else [])], holder
        if linear.op == E.MUL:
            others = [a for k, a in enumerate(args) if k != i]
            scalars = [a for a in others if self.scalar(a)]
            arrays = [a for a in others if a not in scalars]
            if self.scalar(holder) and arrays:
                return [holder, E.mul(*others)], holder            # s(dX) * B
            if scalars:
                rest = E.mul(*arrays, holder) if arrays else holder
                return [E.mul(*scalars), rest], rest                   # alpha * (...)
            return [E.mul(*arrays), holder], holder                # A * dX (Hadamard)
        return args, holder

    def apply(self, rule, binding, inner, linear):
        wrt = E.sym(self.engine.wrt)
        shown = f"vec({to_text(linear)})"
        if rule.jacobian is None:
            j = None
            after = f"vec({to_text(inner)})"
        else:
            inst = rule.jacobian.replace(binding)
            if rule.scalar:
                j = inst
            else:       # size the rule's identities from vec(inner), then keep J
                typed = self.engine.retype(E.matmul(inst, E.call("vec", inner)))
                j = E.matmul(*typed.args[:-1])
            j = _sized(j.replace({self.dname: wrt}), self.engine)   # dX is in J only for its shape (eye, ...)
            after = f"{to_text(j)} {'*' if rule.scalar else '@'} vec({to_text(inner)})"
        latex_after = None if rule.jacobian is None else \
            (E.mul(j, E.call("vec", inner)) if rule.scalar else E.matmul(j, E.call("vec", inner)))
        self._step(rule.record, shown, after, E.call("vec", linear),
                   latex_after if latex_after is not None else E.call("vec", inner))
        rest = self.jacobian(inner)
        if rest is None:
            if j is not None and rule.scalar:
                return E.mul(j, self.identity())      # alpha * vec(dX): alpha times the identity
            return j
        if j is None:
            return rest
        return E.mul(j, rest) if rule.scalar else E.matmul(j, rest)

    def identity(self):
        return E.call("eye", E.call("vec", E.sym(self.engine.wrt)))

    def _step(self, record, before, after, tree_before=None, tree_after=None):
        latex = ("", "") if tree_before is None else (self.engine.latex(tree_before), self.engine.latex(tree_after))
        self.engine.steps.append(Step(record.id, before, after, record.title, *latex))


def vec_jacobian(engine, df, out_shape, x):
    """The rc x pq Jacobian of vec F with respect to vec X, from F's differential ``df``."""
    from .catalogue import catalogue as shipped
    cat = getattr(engine, "catalogue", None) or shipped()
    j = _VecJacobian(engine, cat).jacobian(df)
    if j is None:
        j = _VecJacobian(engine, cat).identity()
    rows = _count(out_shape)
    shape = (rows, _count(x.shape))
    j = engine.tidy(j, shape)
    j = engine.tidy(_collect_kron(_sized(j, engine)), shape)
    collected = engine.tidy(_collect_right(j), shape)
    if collected.size() < j.size():           # keep the collected form only if the simplifier kept it
        j = collected
    return _sized(j, engine)


def _count(shape):
    from .shapes import _prod
    r, c = shape
    return r if c == 1 else c if r == 1 else _prod(r, c)


def _sized(e, engine):
    """An identity inside a Kronecker product as eye(S) of a symbol S with its size (kron(I_1, A) = A)."""
    if not e.args:
        return e
    args = [_sized(a, engine) for a in e.args]
    if e.op == "eye" and args[0].op != E.SYM and not (args[0].op == E.TRANSPOSE and args[0].args[0].op == E.SYM):
        rows = engine.simp.shape(engine.retype(args[0]))[0]
        return _eye(rows, engine) or E.rebuild(e, args)     # eye(adj(X) @ X) is eye(X)
    if e.op == "commutation" and args[0].op != E.SYM:
        return _shaped_like(engine.simp.shape(engine.retype(args[0])), engine) or E.rebuild(e, args)
    if e.op == "kron":
        out = []
        for a in args:
            if a.op == E.IDENT and a.value == 1:
                out.append(None)
            elif a.op == E.IDENT:
                out.append(_eye(a.value, engine) or a)
            else:
                out.append(a)
        kept = [a for a in out if a is not None]
        if len(kept) == 1:
            return kept[0]
        return E.call("kron", *out)
    return E.rebuild(e, args)


def _shaped_like(shape, engine):
    """commutation(S) for a symbol S (or S.T) of the given shape: commutation(X @ A + A @ X) is commutation(X)."""
    for name in [engine.wrt] + sorted(n for n in engine.symbols if n not in (engine.dname, engine.wrt)):
        d = engine.symbols[name]
        if d.kind != "scalar" and (d.rows, d.cols) == tuple(shape):
            return E.call("commutation", E.sym(name))
        if d.kind != "scalar" and (d.cols, d.rows) == tuple(shape):
            return E.call("commutation", E.transpose(E.sym(name)))
    return None


def _eye(dim, engine):
    names = [engine.wrt] + sorted(n for n in engine.symbols if n != engine.dname and n != engine.wrt)
    for name in names:
        d = engine.symbols[name]
        if d.kind == "scalar":
            continue
        if d.rows == dim:
            return E.call("eye", E.sym(name))
        if d.cols == dim:
            return E.call("eye", E.transpose(E.sym(name)))
    return None


def _collect_kron(e):
    """kron(P, A) + kron(P, B) -> kron(P, A + B), and kron(A, P) + kron(B, P) -> kron(A + B, P)."""
    if not e.args:
        return e
    e = E.rebuild(e, [_collect_kron(a) for a in e.args])
    if e.op != E.ADD:
        return e
    for side in (0, 1):
        groups, order = {}, []
        for t in e.args:
            coeff, core = split_coeff(t)
            if core is not None and core.op == "kron":
                key = core.args[side]
                if key not in groups:
                    order.append(("kron", key))
                    groups[key] = []
                groups[key].append(E.mul(E.num(coeff), core.args[1 - side]))
            else:
                order.append(("term", t))
        if all(len(v) == 1 for v in groups.values()):
            continue
        terms = []
        for tag, item in order:
            if tag == "term":
                terms.append(item)
            else:
                other = E.add(*groups[item])
                terms.append(E.call("kron", item, other) if side == 0 else E.call("kron", other, item))
        return E.add(*terms)
    return e


def _collect_right(e):
    """P @ K + Q @ K -> (P + Q) @ K for a shared last factor K (a commutation matrix, say)."""
    if not e.args:
        return e
    e = E.rebuild(e, [_collect_right(a) for a in e.args])
    if e.op != E.ADD:
        return e
    groups, order = {}, []
    for t in e.args:
        coeff, core = split_coeff(t)
        if core is not None and core.op == E.MATMUL and len(core.args) > 1:
            key = core.args[-1]
            if key not in groups:
                order.append(("group", key))
                groups[key] = []
            groups[key].append(E.mul(E.num(coeff), E.matmul(*core.args[:-1])))
        else:
            order.append(("term", t))
    if all(len(v) == 1 for v in groups.values()):
        return e
    terms = [item if tag == "term" else E.matmul(E.add(*groups[item]), item) for tag, item in order]
    return E.add(*terms)


def second_differential(engine, d_gradient, x):
    """d2f = <dX, dG> (G the gradient), a bilinear form in dX, simplified."""
    dx = E.sym(engine.dname)
    if x.kind == "scalar":
        return engine.tidy(E.mul(dx, d_gradient))
    return engine.tidy(E.call("tr", E.matmul(E.transpose(dx), d_gradient)))
