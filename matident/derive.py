"""Step-by-step derivatives built from the catalogue's own rules.

The differential method of the lecture notes (section 3.2):

1. ``d f`` is computed bottom-up by applying the catalogue's ``differential``
   records as rewrite rules.  A rule is any differential record whose lhs is
   one operation applied to symbols (``inv(X)``, ``X @ Y``, ``log(s)``,
   ``matpow(X, k)``, ...): the variables of the record bind to the operands
   (chain rule: ``dX`` becomes the operand's differential) and its other
   symbols to operands that must be constant.  Adding such a record teaches
   ``derive`` a new function; no rule lives only in Python.
2. ``d f = <W, L(dX)>`` (with ``W = 1`` for a scalar ``f``) is brought to the
   form ``<G, dX> = tr(G.T @ dX)`` with the catalogue's inner-product records
   (``identities/inner-product-rules.yaml``): each reads
   ``tr(W.T @ L(M)) = tr(G.T @ M)`` and moves one linear operation across the
   inner product.  ``G`` is the gradient (shape of the variable, the
   Cookbook's convention); for a structured variable (symmetric, diagonal,
   skew, Toeplitz) its projection onto that space is taken (the documented
   convention for structured gradients).
3. For a vector function of a vector the Jacobian (numerator layout) is read
   from ``d f = J @ dx``; ``order=2`` differentiates the gradient again to
   get the Hessian.

Every result is simplified (:mod:`matident.simplify`) and can be checked
numerically against finite differences with :meth:`Derivation.check`.
When no rule applies, :class:`~matident.errors.DeriveError` names the
sub-expression: never a silent wrong answer.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction

from . import expr as E
from .errors import DeriveError, MatidentError, ParseError
from .functions import kink_message, not_differentiable
from .printing import _negated, latex_name, to_latex, to_text
from .normal import same_dim
from .shapes import Decl, Prod, infer, is_scalar_shape, shape_of
from .simplify import Simplifier
from .steps import Step  # noqa: F401 - part of derive's API (Derivation.steps)

ZERO = None   # the differential of a constant


# -- rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A catalogue record usable as a one-operation rewrite rule."""
    record: object
    pattern: E.Expr          # the operation applied to symbols
    variables: tuple         # pattern symbols that vary (the record's wrt)
    result: E.Expr           # the record's rhs

    @property
    def id(self):
        return self.record.id

    @functools.cached_property
    def result_keeps_types(self):
        """True if the result is built with operations that shape inference gives back unchanged
        (no identity to size, no ``**`` or broadcasting sum to rewrite)."""
        return all(n.op in _TYPE_KEEPING for n in self.result.walk())


# operations ``infer`` rebuilds as they are, with a shape read off their operands'
_TYPE_KEEPING = frozenset({E.SYM, E.NUM, E.MATMUL, E.MUL, E.TRANSPOSE, "tr"})


def _shallow(e):
    """True if ``e`` is one operation applied to distinct symbols."""
    if not e.args:
        return False
    names = [a.value for a in e.args if a.op == E.SYM]
    consts = [a for a in e.args if a.op != E.SYM]
    return len(set(names)) == len(names) and all(a.op == E.NUM for a in consts)


@functools.lru_cache(maxsize=4)
def _rules(cat):
    differential, adjoint, linearity = {}, {}, None
    for rec in cat:
        if rec.kind == "differential" and _shallow(rec.lhs_expr):
            key = (rec.lhs_expr.op, len(rec.lhs_expr.args))
            differential.setdefault(key, []).append(
                Rule(rec, rec.lhs_expr, rec.wrts, rec.rhs_expr))
        elif rec.kind == "identity" and "inner-product" in rec.tags:
            rule = _adjoint_rule(rec)
            if rule == "linearity":
                linearity = rec
            elif rule is not None:
                inner = rule.pattern
                adjoint.setdefault((inner.op, len(inner.args)), []).append(rule)
    return differential, adjoint, linearity


def _adjoint_rule(rec):
    """Read ``tr(W.T @ F(M)) = tr(G.T @ M)`` into a Rule (pattern F, hole M, result G)."""
    lhs, rhs = rec.lhs_expr, rec.rhs_expr
    if not (lhs.op == "tr" and lhs.args[0].op == E.MATMUL
            and lhs.args[0].args[0].op == E.TRANSPOSE and lhs.args[0].args[0].args[0].op == E.SYM):
        return None
    cotangent = lhs.args[0].args[0].args[0].value
    inner = E.matmul(*lhs.args[0].args[1:])      # W.T @ (A @ M) is flattened to W.T @ A @ M
    if rhs.op == E.ADD:
        return "linearity"
    if not (rhs.op == "tr" and rhs.args[0].op == E.MATMUL and len(rhs.args[0].args) == 2
            and rhs.args[0].args[1].op == E.SYM):
        return None
    hole = rhs.args[0].args[1].value
    if inner.op == E.SYM or not _shallow(inner) or not inner.has(hole):
        return None
    return Rule(rec, inner, (hole, cotangent), E.transpose(rhs.args[0].args[0]))


# -- the derivation ------------------------------------------------------------

@dataclass
class CheckReport:
    """The numeric check of a derivation."""
    status: str
    error: float | None
    seed: int
    sizes: dict
    message: str = ""

    @property
    def ok(self):
        return self.status == "passed"

    def __str__(self):
        sizes = " ".join(f"{k}={v}" for k, v in sorted(self.sizes.items()))
        err = "-" if self.error is None else f"{self.error:.1e}"
        word = "verified" if self.ok else self.status.upper()
        return (f"{word} against finite differences (seed {self.seed}, sizes {sizes or '-'}, "
                f"worst relative error {err}){': ' + self.message if self.message else ''}")


@dataclass
class Derivation:
    """The result of :func:`derive`: ``result`` (SymPy), ``steps``, ``check()``."""
    expr: E.Expr
    wrt: str
    symbols: dict
    order: int
    what: str                     # "gradient", "jacobian", "derivative", "hessian"
    result_expr: E.Expr
    differential: E.Expr
    steps: list = field(default_factory=list)
    conditions: list = field(default_factory=list)
    gradient_expr: E.Expr | None = None   # the gradient a Hessian was built from
    second_differential: E.Expr | None = None   # d2f = <dX, d(gradient)>, a bilinear form in dX (order 2)

    @property
    def result(self):
        """The result as a SymPy expression."""
        from .sympy_bridge import to_sympy
        return to_sympy(self.result_expr, self.symbols)

    @property
    def text(self):
        return to_text(self.result_expr)

    def check(self, trials=3, seed=0):
        """Verify the result against finite differences on random instances."""
        from .verify import check_derivative
        symbols = {n: s for n, s in self.symbols.items() if n != f"d{self.wrt}"}
        label = f"derive:{to_text(self.expr)}"
        claims = [(self.what, self.expr, self.result_expr)]
        if self.order == 2:   # the gradient against f, then the Hessian against the gradient
            claims = [("gradient", self.expr, self.gradient_expr),
                      (self.what, self.gradient_expr, self.result_expr)]
        for what, lhs, rhs in claims:
            r = check_derivative(lhs, rhs, symbols, self.wrt, trials=trials, seed=seed, label=label,
                                 layout=self._layout(lhs))
            if not r.ok:
                return CheckReport(r.status, r.error, seed, r.sizes, f"{what}: {r.message}")
        return CheckReport("passed", r.error, seed, r.sizes)

    def failing_step(self, trials=3, seed=0):
        """The first step whose own claim fails its numeric check, or None.

        A differential step ``d(F) = G`` is checked against central differences
        of F in a random direction dX; an inner-product step ``<W, L> = <G, M>``
        by evaluating both sides.  Each is checked on its own, so the step that
        broke a failing derivation is named.
        """
        from .verify import check_claim
        for step in self.steps:
            if step.claim is None:
                continue
            kind, lhs, rhs = step.claim
            r = check_claim(kind, lhs, rhs, self.symbols, self.wrt, trials=trials, seed=seed,
                            label=step.rule)
            if r.status == "failed":
                return step
        return None

    def _layout(self, lhs):
        """'vec' (d vec F = J vec dX) unless F is a column and the variable a column or scalar."""
        from .shapes import shape_of
        rows, cols = shape_of(lhs, self.symbols)
        if self.symbols[self.wrt].kind == "matrix" or cols != 1:
            return "vec"
        return "numerator"

    def code(self, backend="numpy"):
        """Source of a module defining ``value_and_grad(**symbols)`` (numpy, jax or torch).

        The derivation is checked against finite differences first: code is
        only written for a verified result (see :mod:`matident.codegen`).
        """
        from .codegen import generate
        report = self.check()
        if not report.ok:
            raise DeriveError(f"no code for a derivation that fails its check: {report}", code="MI040")
        return generate(self, backend)

    def header(self):
        decls = ", ".join(f"{n}: {d}" for n, d in sorted(self.symbols.items())
                          if not n.startswith("d") or n[1:] not in self.symbols)
        return f"{self.what} of {to_text(self.expr)} with respect to {self.wrt}  ({decls})"

    def __str__(self):
        lines = [self.header()]
        width = len(str(len(self.steps)))
        for i, s in enumerate(self.steps, 1):
            lines.append(f"  {i:>{width}}. {s.before}")
            lines.append(f"  {'':>{width}}  = {s.after}")
            lines.append(f"  {'':>{width}}    by {s.rule} ({s.description})")
        for c in self.conditions:
            lines.append(f"  assuming {c}")
        lines.append(f"{self.what}: {self.text}")
        return "\n".join(lines)

    def latex(self):
        rows = []
        for s in self.steps:
            if s.latex_before:
                rows.append(s.latex_before + r" &= " + s.latex_after + r" && \text{" + s.rule + "}")
        wrt = latex_name(self.wrt)
        head = {"gradient": rf"\nabla_{{{wrt}}}", "hessian": rf"\nabla^2_{{{wrt}}}",
                "jacobian": rf"\frac{{\partial}}{{\partial {wrt}^T}}",
                "derivative": rf"\frac{{\mathrm{{d}}}}{{\mathrm{{d}}{wrt}}}"}[self.what]
        if self.what in ("jacobian", "hessian") and self._layout(self.gradient_expr or self.expr) == "vec":
            head = (rf"\nabla^2_{{\operatorname{{vec}} {wrt}}}" if self.what == "hessian" else
                    rf"\frac{{\partial \operatorname{{vec}}}}{{\partial \operatorname{{vec}}({wrt})^T}}")
        rows.append(rf"{head} \left({to_latex(self.expr, self.symbols)}\right) &= "
                    + to_latex(self.result_expr, self.symbols))
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self):
        return "$$" + self.latex() + "$$"

    def as_dict(self):
        return {"expr": to_text(self.expr), "wrt": self.wrt, "order": self.order, "kind": self.what,
                "result": self.text, "differential": to_text(self.differential),
                "second_differential": (None if self.second_differential is None
                                        else to_text(self.second_differential)),
                "symbols": {n: str(d) for n, d in self.symbols.items()},
                "conditions": list(self.conditions),
                "steps": [{k: getattr(s, k) for k in ("rule", "before", "after", "description",
                                                       "latex_before", "latex_after")}
                          for s in self.steps]}


class _Engine:
    def __init__(self, symbols, wrt, catalogue):
        self.symbols = symbols
        self.wrt = wrt
        self.dname = f"d{wrt}"
        self.steps = []
        self.conditions = []
        self.rules, self.adjoints, self.linearity = _rules(catalogue)
        self.catalogue = catalogue
        self.simp = Simplifier(symbols)

    # the expression with its identity sizes re-inferred after a rewrite
    def retype(self, e):
        return infer(e, self.symbols).expr

    def tidy(self, e, shape=None):
        """Re-infer sizes (``shape`` fixes those the expression leaves open) and simplify."""
        return self.simp(infer(e, self.symbols, shape=shape).expr)

    def tidy_typed(self, rule, e, shape=None):
        """``tidy`` of a rule's result instantiated with typed operands: when the rule's own
        operations are ones inference leaves as they are and no identity needs a size, the
        tree is typed already and is only simplified (a product of 60 factors is re-inferred
        once per step otherwise)."""
        if rule.result_keeps_types and not any(n.op == E.IDENT for n in e.walk()):
            return self.simp(e)
        return self.tidy(e, shape)

    def latex(self, e):
        return to_latex(e, self.symbols)

    def ip_latex(self, w, linear):
        """<w, linear> in LaTeX (just ``linear`` when w = 1)."""
        if w == E.num(1):
            return self.latex(linear)
        return r"\left\langle " + self.latex(w) + ", " + self.latex(linear) + r"\right\rangle"

    def depends(self, e):
        """True if e varies with the variable (``ones(M)`` is a constant: only M's shape counts)."""
        return self.varies(e, self.wrt)

    @staticmethod
    def varies(e, name):
        """True if symbol ``name`` occurs in e outside ``ones(...)`` and ``eye(...)`` (shape only)."""
        stack = [e]
        while stack:
            node = stack.pop()
            if node.op == E.SYM and node.value == name:
                return True
            if node.op not in ("ones", "eye"):
                stack.extend(node.args)
        return False

    # -- step 1: the differential --------------------------------------------
    def d(self, e):
        """The differential of e (ZERO when e is constant)."""
        if not self.depends(e):
            return ZERO
        if e.op == E.SYM:
            return E.sym(self.dname)
        args = list(e.args)
        if e.op in (E.MATMUL, E.MUL, E.ADD) and len(args) > 2:
            # the binary rule on halves: each operand is re-typed and tidied O(log n) times, not
            # O(n) times as with head and rest (a 300-term sum: 10 s -> under one)
            half = len(args) // 2
            return self.apply(e, [E.rebuild(e, args[:half]), E.rebuild(e, args[half:])])
        return self.apply(e, args)

    def apply(self, e, operands):
        candidates = self.rules.get((e.op, len(operands)), [])
        errors = []
        orders = [operands]
        if e.op == E.MUL and len(operands) == 2:
            orders.append(operands[::-1])          # * is commutative: phi * X also reads X * phi
        tries = [(rule, order) for order in orders for rule in candidates]
        for rule, order in sorted(tries, key=lambda t: self._unmet_count(*t)):
            binding, unmet = self._bind(rule, order, errors)
            if binding is None:
                continue
            subst = dict(binding)
            for var in rule.variables:
                dvar = self.d(binding[var])
                subst[f"d{var}"] = dvar
            result = _drop_zero(rule.result.replace({k: (v if v is not ZERO else _ZERO_SYM)
                                                     for k, v in subst.items()}))
            if result is ZERO:
                return ZERO
            result = self.tidy(result, shape_of(e, self.symbols) if e.op != E.SYM else None)
            node = E.rebuild(e, operands) if e.op in (E.MATMUL, E.MUL, E.ADD) else e
            self.steps.append(Step(rule.id, lambda: f"d({to_text(node)})", lambda: to_text(result),
                                   rule.record.title,
                                   lambda: r"\mathrm{d}\left(" + self.latex(node) + r"\right)",
                                   lambda: self.latex(result), ("differential", node, result)))
            for cond in unmet:
                if cond not in self.conditions:
                    self.conditions.append(cond)
            return result
        what = to_text(e)
        name = e.op if e.op not in (E.MATMUL, E.MUL, E.ADD, E.POW, E.TRANSPOSE) else \
            {"@": "a matrix product", "*": "a * product", "+": "a sum", "**": "a power",
             "T": "a transpose"}[e.op]
        detail = f" ({'; '.join(errors)})" if errors else ""
        raise DeriveError(f"no differential rule for {name} in '{what}'{detail}", code="MI040",
                          hint="add a differential record for it to identities/ (see Contributing)")

    def _unmet_count(self, rule, operands):
        return len(self._unmet(rule, dict(zip([a.value for a in rule.pattern.args], operands))))

    def _bind(self, rule, operands, errors):
        binding = {}
        for p, operand in zip(rule.pattern.args, operands):
            if p.op == E.NUM:
                if operand != p:
                    return None, ()
                continue
            if p.value not in rule.variables and self.depends(operand):
                errors.append(f"{rule.id} needs '{to_text(operand)}' to be constant")
                return None, ()
            binding[p.value] = operand
        if not self._fits_all(rule.record.symbols, binding):
            return None, ()
        return binding, self._unmet(rule, binding)

    def _unmet(self, rule, binding):
        """Structure the rule's symbols require that the operands are not shown to have (the
        matcher's structure inference, :mod:`matident.structure`)."""
        unmet = []
        for name, operand in binding.items():
            decl = rule.record.symbols.get(name)
            if decl is None:
                continue
            for word in sorted(decl.structure - {"square"}):
                if not self.simp.holds(word, operand):
                    unmet.append(f"{to_text(operand)} {word}")
        return unmet

    # -- step 2: read off the gradient ------------------------------------------
    def adjoint(self, linear, w):
        """G with <w, linear(dX)> = <G, dX>."""
        hole = E.sym(self.dname)
        if linear == hole:
            return w
        if linear.op == E.ADD:
            if self.linearity is not None:
                self.steps.append(Step(self.linearity.id, lambda: _ip(w, linear),
                                       lambda: " + ".join(_ip(w, t) for t in linear.args),
                                       self.linearity.title, lambda: self.ip_latex(w, linear),
                                       lambda: " + ".join(self.ip_latex(w, t) for t in linear.args)))
            return E.add(*[self.adjoint(t, w) for t in linear.args if t.has(self.dname)])
        operands = list(linear.args)
        if linear.op in (E.MATMUL, E.MUL) and len(operands) > 2:
            return self._adjoint_nary(linear, w)
        return self._adjoint_apply(linear, operands, w)

    def _adjoint_nary(self, linear, w):
        """Split an n-ary product around the factor holding dX and apply a 2/3-operand rule."""
        args = list(linear.args)
        i = next(k for k, a in enumerate(args) if a.has(self.dname))
        if linear.op == E.MUL:
            rest = [a for k, a in enumerate(args) if k != i]
            return self._adjoint_apply(linear, [E.mul(*rest), args[i]], w)
        left, right = args[:i], args[i + 1:]
        operands = ([E.matmul(*left)] if left else []) + [args[i]] + ([E.matmul(*right)] if right else [])
        return self._adjoint_apply(linear, operands, w)

    def _adjoint_apply(self, linear, operands, w):
        holder = [k for k, a in enumerate(operands) if a.has(self.dname)]
        if len(holder) != 1:
            raise DeriveError(f"'{to_text(linear)}' is not linear in {self.dname}", code="MI040")
        candidates = self.adjoints.get((linear.op, len(operands)), [])
        for rule in candidates:
            hole, cotangent = rule.variables
            names = [p.value for p in rule.pattern.args]
            order = operands
            if names[holder[0]] != hole:
                if linear.op != E.MUL or len(operands) != 2:
                    continue
                order = operands[::-1]          # * is commutative
            binding = dict(zip(names, order))
            binding[cotangent] = w
            if not self._fits_all(rule.record.symbols, binding):
                continue
            inner = binding[hole]
            raw = _shape_only(rule.result.replace(binding), self.dname, self.wrt)
            if raw.has(self.dname):
                continue
            # G has the shape of the hole: that sizes an I the rule introduces
            new_w = self.tidy_typed(rule, raw, self.simp.shape(self.retype(inner)))
            shown = E.rebuild(linear, operands) if linear.op in (E.MATMUL, E.MUL) else linear
            self.steps.append(Step(rule.id, lambda: _ip(w, shown), lambda: _ip(new_w, inner),
                                   rule.record.title, lambda: self.ip_latex(w, shown),
                                   lambda: self.ip_latex(new_w, inner),
                                   ("identity", _ip_tree(w, shown), _ip_tree(new_w, inner))))
            return self.adjoint(inner, new_w)
        raise DeriveError(f"no inner-product rule to move '{to_text(linear)}' off d{self.wrt}",
                          code="MI040", hint="add an inner-product record tr(W.T @ F(M)) = tr(G.T @ M)")

    def _fits_all(self, decls, binding):
        """The operands bound to a rule's symbols have shapes its declarations allow, jointly.

        A scalar symbol binds 1x1 operands only and a vector one columns only;
        a dimension name binds one size across all the rule's symbols, so that
        ``N * M`` with ``N, M: matrix p q`` never binds a vector and a scalar
        (the product rule and inner-product rule of a scalar times an array are
        other records).  Operands are parts of typed trees: their identities are sized.
        """
        sizes = {}
        for name, operand in binding.items():
            decl = decls.get(name)
            if decl is None:
                continue
            shape = self.simp.shape(operand)
            if decl.kind == "scalar":
                if not is_scalar_shape(shape):
                    return False
                continue
            if decl.kind == "vector" and shape[1] != 1:
                return False
            for want, have in zip(decl.shape, shape):
                if isinstance(want, Prod):
                    continue          # products of sizes (vec, kron) bind through their factors' rules
                if isinstance(want, str):
                    if want not in sizes:
                        sizes[want] = have
                        continue
                    want = sizes[want]
                if not same_dim(want, have):
                    return False
        return True


_ZERO_SYM = E.sym("__zero__")


def _shape_only(e, dname, wrt):
    """In ``ones(M)`` and ``unvec(v, M)`` only M's shape matters: write ``dX`` there as ``X``."""
    if e.op == "ones":
        return E.call("ones", e.args[0].replace({dname: E.sym(wrt)}))
    if e.op == "unvec":
        return E.call("unvec", _shape_only(e.args[0], dname, wrt), e.args[1].replace({dname: E.sym(wrt)}))
    if not e.args:
        return e
    args = [_shape_only(a, dname, wrt) for a in e.args]
    if all(new is old for new, old in zip(args, e.args)):
        return e          # unchanged: a long product is not rebuilt node by node
    return E.rebuild(e, args)


def _drop_zero(e):
    """Remove the marker of a zero differential from a rule's instantiated rhs."""
    if e == _ZERO_SYM:
        return ZERO
    if not e.args:
        return e
    args = [_drop_zero(a) for a in e.args]
    if e.op == E.ADD:
        kept = [a for a in args if a is not ZERO]
        return E.add(*kept) if kept else ZERO
    if any(a is ZERO for a in args):
        if e.op in (E.MATMUL, E.MUL, E.TRANSPOSE, "tr", "sum", "vec", "diag", "diagvec", "kron",
                    "toeplitz_mean", "toeplitz_sum"):
            return ZERO
        raise DeriveError(f"a rule produced a non-linear use of a zero differential in {e.op}()",
                          code="MI040")
    return E.rebuild(e, args)


def _ip_tree(w, linear):
    """<w, linear> as a tree: tr(w.T @ linear), or linear itself when w = 1."""
    if w == E.num(1):
        return linear
    return E.call("tr", E.matmul(E.transpose(w), linear))


def _ip(w, linear):
    if w == E.num(1):
        return to_text(linear)
    return f"<{to_text(w)}, {to_text(linear)}>"


# -- public entry point ------------------------------------------------------------

def derive(expr, wrt, *, symbols=None, order=1, check=True, catalogue=None):
    """Differentiate ``expr`` with respect to ``wrt`` step by step.

    Returns a :class:`Derivation`: ``result`` is the gradient (shape of
    ``wrt``) for a scalar ``expr``, the numerator-layout Jacobian for a vector
    ``expr`` of a vector, the derivative for a scalar ``wrt``; with
    ``order=2`` and a vector (or scalar) ``wrt`` the Hessian.

    The result is checked against finite differences before it is returned
    (a few milliseconds); a failing check raises :class:`DeriveError` naming
    the first step whose own check fails, with the derivation attached as
    ``err.derivation``.  ``check=False`` skips the check.

    >>> d = derive("log(x.T @ A @ x)", "x", symbols={"A": "spd n"})
    >>> d.text
    '2 * A @ x / (x.T @ A @ x)'
    """
    from . import _typed
    from .catalogue import catalogue as shipped
    wrt = _name_of(wrt)
    typed = _typed(expr, symbols)
    if wrt not in typed.symbols:
        raise ParseError(f"the variable '{wrt}' does not occur in the expression", code="MI007",
                         hint="differentiate with respect to one of: " + ", ".join(sorted(typed.symbols)))
    if order not in (1, 2):
        raise DeriveError(f"order must be 1 or 2, got {order}", code="MI050")
    if f"d{wrt}" in typed.symbols:
        raise ParseError(f"'d{wrt}' in the expression would be read as the differential of {wrt}",
                         code="MI007", hint=f"rename the symbol d{wrt}, e.g. D{wrt}")
    kink = not_differentiable(typed.expr, wrt)
    if kink is not None:
        message, hint = kink_message(kink, to_text(kink))
        raise DeriveError(message, code="MI040", hint=hint)
    decls = dict(typed.symbols)
    x = decls[wrt]
    dx = Decl(x.kind, x.rows, x.cols, tuple(w for w in x.words if w in ("symmetric", "diagonal", "skew")))
    decls[f"d{wrt}"] = dx
    cat = catalogue if catalogue is not None else shipped()
    engine = _Engine(decls, wrt, cat)
    tree = typed.expr
    out_shape = typed.shape
    first, what, differential = _first_order(engine, tree, out_shape, x)
    if order == 1:
        return _checked(_finish(engine, tree, wrt, first, what, differential, 1, None), check)
    if what not in ("gradient", "derivative") or not is_scalar_shape(out_shape):
        raise DeriveError("order=2 needs a scalar expression (for a matrix-valued one, derive "
                          "its Jacobian and differentiate an entry or a scalar function of it)",
                          code="MI040")
    engine.steps.append(Step("order-2", f"gradient {to_text(first)}", "differentiate again",
                             "the Hessian is the Jacobian of the gradient"))
    second, _, diff2 = _first_order(engine, first, engine.simp.shape(first), x, inner=True)
    what2 = "hessian"
    out = _finish(engine, tree, wrt, second, what2, diff2, 2, first)
    from .vecderiv import second_differential
    out.second_differential = second_differential(engine, diff2, x)
    return _checked(out, check)


def _checked(derivation, check):
    """The derivation, once its numeric check has passed (or ``check`` is False)."""
    if not check:
        return derivation
    try:
        import numpy  # noqa: F401 - the check evaluates with numpy
    except ImportError:
        raise DeriveError("the numeric check of a derivation needs numpy, which is not installed",
                          code="MI041", derivation=derivation,
                          hint="install numpy, or pass check=False and check the result elsewhere") from None
    report = derivation.check()
    if report.ok:
        return derivation
    step = derivation.failing_step()
    where = (f"; the first step that fails on its own is '{step.before} = {step.after}' by {step.rule}"
             if step is not None else "; every step passes on its own, so the combination is at fault")
    raise DeriveError(f"the derivation of {to_text(derivation.expr)} by {derivation.wrt} gave "
                      f"{derivation.text}, which failed its numeric check ({report}){where}",
                      code="MI041", derivation=derivation, step=step,
                      hint="please report it; derive(..., check=False) returns the unchecked result")


def _first_order(engine, tree, out_shape, x, inner=False):
    df = engine.d(tree)
    if df is not ZERO:
        df = engine.tidy(df)
    if df is ZERO or not engine.varies(df, engine.dname):   # constant, or its differential cancels
        wrt = E.sym(engine.wrt)
        if is_scalar_shape(out_shape) and not inner:
            return E.mul(E.num(0), E.call("ones", wrt)), "gradient", E.num(0)
        # the zero Jacobian (Hessian): one row per entry of vec F, one column per entry of vec X
        zero = engine.tidy(E.mul(E.num(0), E.call("ones", E.matmul(E.call("vec", tree),
                                                                   E.transpose(E.call("vec", wrt))))))
        return zero, ("hessian" if inner else "jacobian"), engine.tidy(E.mul(E.num(0), E.call("ones", tree)))
    scalar_out = is_scalar_shape(out_shape)
    if x.kind == "scalar":
        result = engine.tidy(df.replace({engine.dname: E.num(1)}), out_shape)
        return result, "derivative", df
    if scalar_out:
        g = engine.adjoint(df, E.num(1))
        g = engine.tidy(g, x.shape)
        structure = x.structure
        if "toeplitz" in structure:        # the projections onto symmetric and Toeplitz matrices commute
            if "symmetric" in structure and not engine.simp.is_symmetric(g):
                g = engine.tidy(E.mul(E.num(Fraction(1, 2)), E.add(g, E.transpose(g))), x.shape)
            if not engine.simp.holds("toeplitz", g):
                g = engine.tidy(E.call("toeplitz_mean", g), x.shape)
        elif "symmetric" in structure and not engine.simp.is_symmetric(g):
            g = engine.tidy(E.mul(E.num(Fraction(1, 2)), E.add(g, E.transpose(g))), x.shape)
        elif "diagonal" in structure:
            g = engine.tidy(E.call("diag", E.call("diagvec", g)), x.shape)
        elif "skew" in structure:
            g = engine.tidy(E.mul(E.num(Fraction(1, 2)), E.add(g, E.neg(E.transpose(g)))), x.shape)
        elif structure & {"lower", "upper"}:
            raise DeriveError("gradients with respect to triangular variables are not supported",
                              code="MI040")
        return g, "gradient", df
    from .vecderiv import vec_jacobian       # d vec(F) = J @ vec(dX), numerator layout
    return vec_jacobian(engine, df, out_shape, x), ("hessian" if inner else "jacobian"), df


def _finish(engine, tree, wrt, result, what, differential, order, gradient):
    symbols = {n: d for n, d in engine.symbols.items()}
    if what == "gradient" and result.op == E.MUL and E.is_number(result.args[0], 0):
        result = E.mul(E.num(0), E.call("ones", E.sym(wrt)))      # a zero of the variable's shape
    result = _rebroadcast(_sized_identities(_present(result, engine.simp), engine))
    return Derivation(tree, wrt, symbols, order, what, result, differential, engine.steps,
                      engine.conditions, gradient)


def _sized_identities(e, engine):
    """The result with each identity written eye(S) (S a symbol of its size) when the text alone
    would leave its size open (``exp(tr(X)) * I``): the printed result must read back as it is."""
    from .parse import parse_expr
    from .vecderiv import _eye
    if not any(n.op == E.IDENT for n in e.walk()):
        return e
    declared = {d for decl in engine.symbols.values() for d in (decl.rows, decl.cols)}
    try:
        again = infer(parse_expr(to_text(e)), engine.symbols)
        free = any(n.op == E.IDENT and n.value not in declared for n in again.expr.walk())
    except MatidentError:   # the text does not read back: write the sizes out
        free = True
    if not free:
        return e

    def sized(node):
        if node.op == E.IDENT:
            return _eye(node.value, engine) or node
        return E.rebuild(node, [sized(a) for a in node.args]) if node.args else node
    return sized(e)


def _present(e, simp, in_sum=False):
    """Write results as people do: ``2 * A @ x / norm(x) ** 2``, ``(a + b) / 2``.

    A positive integer coefficient moves onto the first factor of the one
    matrix (non-1x1) product of a ``*`` product (a negative one stays in front,
    where a sum prints it as subtraction); negative powers become denominators;
    a fraction shared by every term of a sum is factored out.
    """
    if not e.args:
        return e
    args = [_present(a, simp, e.op == E.ADD) for a in e.args]
    if e.op == E.ADD:
        args = _broadcast_scalars(args)
        coeffs = {a.args[0].value if a.op == E.MUL and a.args[0].op == E.NUM else 1 for a in args}
        if len(coeffs) == 1 and isinstance(next(iter(coeffs)), Fraction):
            (c,) = coeffs
            return E.mul(E.num(c), E.add(*[E.mul(*a.args[1:]) for a in args]))
        positive = [a for a in args if not _negated(a)[0]]
        if positive and _negated(args[0])[0]:
            args.remove(positive[0])           # lead with a positive term: b - a, not -a + b
            args.insert(0, positive[0])
        return E.Expr(e.op, args, e.value)
    if e.op != E.MUL:
        return E.Expr(e.op, args, e.value)
    args = [E.power(E.power(a.args[0], E.num(-a.args[1].value)), E.num(-1))
            if a.op == E.POW and a.args[1].op == E.NUM and a.args[1].value < -1 else a for a in args]
    products = [a for a in args if a.op == E.MATMUL and not simp.scalar(a)]
    coeff = args[0].value if args[0].op == E.NUM else None
    movable = isinstance(coeff, int) and (coeff > 0 or not in_sum)
    if movable and len(products) == 1:
        product = products[0]
        moved = E.matmul(E.mul(args[0], product.args[0]), *product.args[1:])
        rest = [a for a in args[1:] if a is not product]
        numer = [a for a in rest if not (a.op == E.POW and a.args[1] == E.num(-1))]
        denom = [a for a in rest if a not in numer]
        return E.Expr(E.MUL, [*numer, moved, *denom]) if rest else moved
    return E.Expr(E.MUL, args)


def _rebroadcast(e):
    """The presented result with the ``ones(M)`` factors of every sum pointing at the sum's
    final broadcast reference: presentation rebuilds terms after :func:`_present` chose it, and a
    reference that no longer is a term of its sum would print as ``ones(<a whole term>)``."""
    if not e.args:
        return e
    args = [_rebroadcast(a) for a in e.args]
    return E.Expr(e.op, _broadcast_scalars(args) if e.op == E.ADD else args, e.value)


def _broadcast_scalars(terms):
    """Terms of a sum whose ``ones(M)`` factors take the sum's broadcast reference as M (any M
    of the sum's shape is the same constant): they print as the scalar, as numpy users write."""
    from .printing import broadcast_reference
    ref = broadcast_reference(terms)
    if ref is None:
        return terms
    ones = E.call("ones", ref)
    return [ones if t.op == "ones" else
            E.mul(*[ones if f.op == "ones" else f for f in t.args]) if t.op == E.MUL else t
            for t in terms]


def _name_of(wrt):
    if isinstance(wrt, str):
        return wrt
    name = getattr(wrt, "name", None)
    if isinstance(name, str):
        return name
    raise ParseError(f"wrt must be a symbol name, got {wrt!r}", code="MI007")


# -- command line ------------------------------------------------------------------

def register(subparsers):
    """The ``matident derive`` command."""
    from .cli import seed_option, symbol_option
    p = subparsers.add_parser(
        "derive", help="step-by-step derivative, gradient, Jacobian or Hessian",
        description="Differentiate EXPR with the catalogue's differential rules, show every step "
                    "and check the result against finite differences.",
        epilog="example: matident derive 'log(x.T @ A @ x)' --wrt x --symbol A='spd n'")
    p.add_argument("expr", metavar="EXPR", help="expression, e.g. 'tr(A @ X @ B)'")
    p.add_argument("--wrt", required=True, help="the variable")
    p.add_argument("--symbol", action="append", type=symbol_option, default=[], metavar="NAME=DECL",
                   help="declare a symbol, e.g. --symbol A='matrix n n spd' (repeatable)")
    p.add_argument("--order", type=int, choices=(1, 2), default=1, help="2 for the Hessian")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--latex", action="store_true", help="print the derivation in LaTeX")
    p.add_argument("--no-check", action="store_true", help="skip the numeric check")
    p.add_argument("--seed", type=seed_option, default=0, help="seed of the numeric check")
    p.add_argument("--emit", choices=("numpy", "jax", "torch"),
                   help="print a Python module with value_and_grad(**symbols) for this backend")
    p.set_defaults(func=_cmd_derive)


def _cmd_derive(args):
    import json
    import sys
    d = derive(args.expr, args.wrt, symbols=dict(args.symbol), order=args.order, check=False)
    if args.emit:                         # code only for a verified derivation
        report = d.check(seed=args.seed)
        if not report.ok:
            print(f"matident: error: no code: {report}", file=sys.stderr)
            return 1
        from .codegen import generate
        print(generate(d, args.emit))
        return 0
    report = None if args.no_check else d.check(seed=args.seed)
    if report is not None and not report.ok:
        step = d.failing_step(seed=args.seed)
        where = f"; first failing step: {step.before} = {step.after} [{step.rule}]" if step else ""
        raise DeriveError(f"the derivation gave {d.text}, which failed its numeric check "
                          f"({report}){where}", code="MI041", derivation=d, step=step,
                          hint="no answer is given; please report it")
    if args.json:
        out = d.as_dict()
        out["check"] = None if report is None else {"status": report.status, "error": report.error,
                                                    "seed": report.seed, "sizes": report.sizes,
                                                    "message": report.message}
        print(json.dumps(out, indent=2, sort_keys=True))
    elif args.latex:
        print(d.latex())
    else:
        print(d)
    if report is not None:
        print(report, file=sys.stderr if args.json or args.latex else sys.stdout)
        return 0 if report.ok else 1
    return 0
