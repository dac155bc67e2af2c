"""Check a claimed derivative: ``matident.check(expr, wrt, claim)``.

The verdict comes from finite differences of ``expr`` (the same numeric check
as a ``derivative`` record, :func:`matident.verify.check_derivative`), never
from the derivation engine: a claim is right when it passes, whatever the
engine says.  The right answer (``.correct``) is derived separately.

When the claim is wrong the report names the slip by testing candidate
corrections of the claim, each against finite differences again: the claim
transposed (for a Jacobian: the other layout), with the other sign, times a
constant factor, with the operands made symmetric (``2 * A @ x`` for
``x.T @ A @ x`` holds only for symmetric ``A``), read in the Cookbook's
convention for symmetric variables (``G + G.T - G * I``), not symmetrised,
or with a term of the right answer missing or extra.  When none explains it,
the report shows where the claim and the right answer differ.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import expr as E
from .errors import DeriveError, MatidentError, ParseError
from .functions import kink_message, not_differentiable
from .printing import to_text
from .shapes import Decl, fmt_shape, infer, is_scalar_shape

FACTORS = (2, Fraction(1, 2), 3, Fraction(1, 3), 4, Fraction(1, 4), -2, Fraction(-1, 2))
MAX_TERMS = 8          # terms of the right answer tried one by one as missing or extra


@dataclass
class ClaimReport:
    """The outcome of :func:`check`: ``ok``, ``status``, ``slip``, ``diagnosis``, ``correct``."""
    expr: E.Expr
    wrt: str
    claim: E.Expr
    symbols: dict
    status: str                 # "right" | "wrong" | "inconclusive"
    what: str                   # "gradient", "jacobian", "derivative"
    error: float | None
    seed: int
    sizes: dict
    slip: str | None = None     # a short name of the slip: "transposed", "sign", "factor", ...
    diagnosis: str = ""
    correct: object = None      # the Derivation of the right answer (None if derive has no rule)
    tried: list = field(default_factory=list)

    @property
    def ok(self):
        return self.status == "right"

    def as_dict(self):
        return {"expr": to_text(self.expr), "wrt": self.wrt, "claim": to_text(self.claim),
                "status": self.status, "ok": self.ok, "kind": self.what, "error": self.error,
                "seed": self.seed, "sizes": self.sizes, "slip": self.slip,
                "diagnosis": self.diagnosis,
                "correct": None if self.correct is None else self.correct.text,
                "symbols": {n: str(d) for n, d in self.symbols.items()}}

    def __str__(self):
        decls = ", ".join(f"{n}: {d}" for n, d in sorted(self.symbols.items()))
        sizes = " ".join(f"{k}={v}" for k, v in sorted(self.sizes.items())) or "-"
        err = ("-" if self.error is None else "- (not the shape of the derivative)" if self.error == float("inf")
               else f"{self.error:.1e}")
        lines = [f"claim: {to_text(self.claim)}",
                 f"  as the {self.what} of {to_text(self.expr)} with respect to {self.wrt}  ({decls})",
                 f"verdict: {self.status.upper()} against finite differences "
                 f"(seed {self.seed}, sizes {sizes}, relative error {err})"]
        if self.diagnosis:
            lines.append(f"{'slip' if self.slip else 'note'}: {self.diagnosis}")
        if self.correct is not None and not self.ok:
            lines.append(f"right answer: {self.correct.text}")
        return "\n".join(lines)


def check(expr, wrt, claim, *, symbols=None, seed=0, trials=3):
    """Check that ``claim`` is the derivative of ``expr`` with respect to ``wrt``.

    The layouts are :func:`matident.derive`'s: the gradient (shape of ``wrt``)
    of a scalar, the numerator-layout Jacobian of a vector, the vec-Jacobian
    of a matrix-valued function.  Returns a :class:`ClaimReport`.

    >>> r = check("x.T @ A @ x", "x", "2 * A @ x")
    >>> r.ok, r.slip
    (False, 'symmetric-only')
    >>> r.diagnosis
    'holds only when A is symmetric; for a general A the answer is A @ x + A.T @ x'
    >>> check("x.T @ A @ x", "x", "2 * A @ x", symbols={"A": "symmetric n"}).ok
    True
    """
    from . import _typed
    from .derive import _name_of
    wrt = _name_of(wrt)
    typed = _typed(expr, symbols)
    if wrt not in typed.symbols:
        raise ParseError(f"the variable '{wrt}' does not occur in the expression", code="MI007",
                         hint="check with respect to one of: " + ", ".join(sorted(typed.symbols)))
    kink = not_differentiable(typed.expr, wrt)
    if kink is not None:
        message, hint = kink_message(kink, to_text(kink))
        raise DeriveError(message, code="MI040", hint=hint)
    decls = dict(typed.symbols)
    claim_tree = _claim_tree(claim, decls)
    correct = _derive(typed.expr, wrt, decls)
    what = correct.what if correct is not None else _kind(typed.shape, decls[wrt])
    verdict = _test(typed.expr, claim_tree, decls, wrt, what, trials, seed)
    report = ClaimReport(typed.expr, wrt, claim_tree, decls, "right" if verdict.ok else
                         ("inconclusive" if verdict.status == "inconclusive" else "wrong"),
                         what, verdict.error, seed, verdict.sizes, correct=correct)
    if report.status == "inconclusive":
        report.diagnosis = f"no verdict: {verdict.message}"
    elif report.status == "wrong":
        _diagnose(report, typed.shape, trials)
    return report


# -- reading the claim ---------------------------------------------------------------

def _claim_tree(claim, decls):
    from .parse import parse_expr
    tree = parse_expr(claim) if isinstance(claim, str) else claim
    if not isinstance(tree, E.Expr):
        from . import _typed
        tree = _typed(claim).expr
    unknown = sorted(set(tree.symbols()) - set(decls))
    if unknown:
        raise ParseError(f"the claim uses {', '.join(map(repr, unknown))}, which the expression does not",
                         code="MI007", hint="write the claim in the symbols of the expression: "
                                            + ", ".join(sorted(decls)))
    return infer(tree, decls).expr


def _derive(tree, wrt, decls):
    from .derive import derive
    try:
        return derive(tree, wrt, symbols=decls)
    except DeriveError:
        return None


def _kind(shape, x):
    if is_scalar_shape(shape):
        return "gradient" if x.kind != "scalar" else "derivative"
    return "derivative" if x.kind == "scalar" else "jacobian"


def _test(lhs, rhs, decls, wrt, what, trials, seed):
    """The claim ``rhs`` against finite differences of ``lhs`` (a verify Result)."""
    from .verify import check_derivative
    layout = "vec" if what == "jacobian" and decls[wrt].kind == "matrix" else "numerator"
    return check_derivative(lhs, rhs, decls, wrt, layout=layout, trials=trials, seed=seed,
                            label=f"check:{to_text(lhs)}")


# -- diagnosis --------------------------------------------------------------------

def _diagnose(report, out_shape, trials):
    lhs, claim, decls, wrt = report.expr, report.claim, report.symbols, report.wrt
    right = report.correct.result_expr if report.correct is not None else None
    x = decls[wrt]
    matrix_valued = not is_scalar_shape(out_shape)

    def passes(candidate, symbols=decls):
        try:
            candidate = infer(candidate, symbols).expr
        except MatidentError:
            return False
        report.tried.append(to_text(candidate))
        return _test(lhs, candidate, symbols, wrt, report.what, trials, report.seed).ok

    def found(slip, text):
        report.slip, report.diagnosis = slip, text
        return True

    answer = f"the answer is {to_text(right)}" if right is not None else "see the right answer below"
    t = E.transpose(claim)
    if passes(t):
        if matrix_valued:
            return found("layout", "the claim is the transposed Jacobian (denominator layout); matident's "
                                   "Jacobians are in numerator layout, one row per entry of the function: "
                                   + answer)
        if x.kind == "vector" and not _same_shape(claim, x, decls):
            return found("layout", "the claim is a row (the derivative df/dx.T); the gradient is a column "
                                   "of the shape of " + wrt + ": " + answer)
        return found("transposed", "the claim is transposed: " + answer)
    if passes(E.neg(claim)):
        return found("sign", "the claim has the wrong sign: " + answer)
    if passes(E.neg(t)):
        return found("sign", "the claim has the wrong sign and is transposed: " + answer)
    if report.what == "jacobian" and (x.kind == "matrix" or not _is_column(lhs, decls)):
        row_major = E.matmul(E.transpose(E.call("commutation", lhs)), claim, E.call("commutation", E.sym(wrt)))
        if passes(row_major):
            return found("vec-convention", "the claim stacks rows (row-major vec, numpy's reshape order); "
                                           "matident's vec stacks columns, and d vec(X.T) = commutation(X) @ "
                                           "d vec(X) turns one into the other: " + answer)
        for node in [n for n in claim.walk() if n.op == "kron"][:MAX_TERMS]:
            for k, factor in enumerate(node.args):
                fixed = list(node.args)
                fixed[k] = E.transpose(factor)
                if passes(_replace_node(claim, node, E.call("kron", *fixed))):
                    return found("transposed", f"the Kronecker factor {to_text(factor)} should be transposed "
                                               f"(Cookbook eq 520: vec(A X B) = kron(B.T, A) @ vec(X)): {answer}")
    for c in _factors(claim, right, decls):
        for cand, extra in ((claim, ""), (t, " and transposed")):
            if passes(E.mul(E.num(c), cand)):
                return found("factor", f"the claim is off by a factor of {_frac(c)} (the answer is "
                                       f"{_frac(c)} times the claim{extra}): {answer}")
    if x.has("symmetric") and x.kind == "matrix":
        ident = E.identity(None)
        if passes(E.mul(E.num(Fraction(1, 2)), E.add(claim, E.mul(claim, ident)))):
            return found("symmetric-convention",
                         f"the claim is the Cookbook's form G + G.T - G * I for a symmetric {wrt}; matident's "
                         f"gradient is the symmetric G with <G, V> = Df[V] for symmetric V (see "
                         f"'Gradients with respect to symmetric matrices' in the conventions): {answer}")
        if passes(E.mul(E.num(Fraction(1, 2)), E.add(claim, t))):
            return found("not-symmetrised",
                         f"the claim holds for a general {wrt}; for a symmetric {wrt} the gradient is its "
                         f"symmetric part (G + G.T) / 2: {answer}")
    squares = [n for n, d in sorted(decls.items())
               if n != wrt and d.kind == "matrix" and d.rows == d.cols and not d.has("symmetric")]
    for name in squares:
        symbols = {**decls, name: Decl("matrix", decls[name].rows, decls[name].cols,
                                       tuple(sorted({*decls[name].words, "symmetric"})))}
        if passes(claim, symbols):
            return found("symmetric-only", f"holds only when {name} is symmetric; for a general {name} "
                                           + answer)
    if right is not None:
        terms = list(right.args) if right.op == E.ADD else [right]
        if len(terms) > 1:
            for term in terms[:MAX_TERMS]:
                if passes(E.add(claim, term)):
                    return found("missing-term", f"the claim misses the term {to_text(term)}: {answer}")
        claim_terms = list(claim.args) if claim.op == E.ADD else []
        for term in claim_terms[:MAX_TERMS]:
            rest = E.add(*[u for u in claim_terms if u is not term])
            if passes(rest):
                return found("extra-term", f"the term {to_text(term)} of the claim does not belong: {answer}")
    report.diagnosis = _difference(report, right)
    return False


def _is_column(e, decls):
    from .shapes import shape_of
    return shape_of(e, decls)[1] == 1


def _replace_node(e, old, new):
    if e is old:
        return new
    if not e.args:
        return e
    return E.rebuild(e, [_replace_node(a, old, new) for a in e.args])


def _same_shape(claim, x, decls):
    from .shapes import shape_of
    return tuple(shape_of(claim, decls)) == tuple(x.shape)


def _factors(claim, right, decls):
    """Constant factors to try: the ratio of the right answer to the claim, or a fixed list."""
    ratio = _ratio(claim, right, decls)
    out = []
    if ratio is not None:
        out.append(ratio)
    out.extend(f for f in FACTORS if f not in out)
    return out


def _ratio(claim, right, decls):
    if right is None:
        return None
    a, b = _values(claim, right, decls)
    if a is None or a.shape != b.shape:
        return None
    denom = float(np.sum(a * a))
    if denom == 0.0:
        return None
    c = Fraction(float(np.sum(a * b)) / denom).limit_denominator(12)
    return c if c not in (0, 1) else None


def _values(claim, right, decls, seed=1):
    """The claim and the right answer on one random instance (None, None if none is valid)."""
    from .evaluate import EvaluationError, evaluate
    from .verify import draw_sizes, draw_value
    rng = np.random.default_rng(seed)
    for _ in range(10):
        sizes = draw_sizes(decls, rng)
        try:
            values = {n: draw_value(d, sizes, rng) for n, d in decls.items()}
            return evaluate(claim, values, sizes), evaluate(right, values, sizes)
        except (EvaluationError, KeyError):
            continue
    return None, None


def _difference(report, right):
    """Where the claim and the right answer differ, when no single slip explains it."""
    if right is None:
        return ("the claim fails against finite differences; no candidate correction (transposed, sign, "
                "factor, symmetric operands, missing term) explains it, and derive has no rule to "
                "give the right answer")
    a, b = _values(report.claim, right, report.symbols)
    words = "no single slip (transposed, sign, constant factor, symmetric operands, missing or extra term) " \
            "explains it"
    if a is None:
        return f"the claim differs from the right answer {to_text(right)}; {words}"
    if a.shape != b.shape:
        return (f"the claim is {fmt_shape(a.shape)} but the {report.what} is {fmt_shape(b.shape)}: "
                f"the right answer is {to_text(right)}")
    diff = a - b
    where = ""
    if diff.shape[0] == diff.shape[1] and diff.shape[0] > 1:
        off = diff - np.diag(np.diag(diff))
        scale = max(np.abs(diff).max(), 1e-300)
        if np.abs(off).max() <= 1e-9 * scale:
            where = "; they differ on the diagonal only"
        elif np.abs(np.diag(diff)).max() <= 1e-9 * scale:
            where = "; they differ off the diagonal only"
    rel = float(np.linalg.norm(diff) / max(np.linalg.norm(b), np.linalg.norm(a), 1e-300))
    return (f"the claim differs from the right answer {to_text(right)} by a relative "
            f"{rel:.2g} on a random instance{where}; {words}")


def _frac(c):
    return str(c) if not isinstance(c, Fraction) or c.denominator == 1 else f"{c.numerator}/{c.denominator}"


# -- command line ----------------------------------------------------------------

def register(subparsers):
    """The ``matident check`` command."""
    from .cli import seed_option, symbol_option
    p = subparsers.add_parser(
        "check", help="check a claimed gradient, Jacobian or derivative; name the slip",
        description="Check CLAIM as the derivative of EXPR with respect to the variable against finite "
                    "differences on random instances honouring the declarations; when it is wrong, "
                    "name the slip (transposed, sign, factor, symmetric operands, layout, missing term). "
                    "Exit 0 when right, 1 when wrong or inconclusive, 2 on bad input.",
        epilog="example: matident check 'x.T @ A @ x' --wrt x --claim '2 * A @ x'")
    p.add_argument("expr", metavar="EXPR", help="expression, e.g. 'x.T @ A @ x'")
    p.add_argument("--wrt", required=True, help="the variable")
    p.add_argument("--claim", required=True, help="the claimed derivative, e.g. '2 * A @ x'")
    p.add_argument("--symbol", action="append", type=symbol_option, default=[], metavar="NAME=DECL",
                   help="declare a symbol, e.g. --symbol A='symmetric n' (repeatable)")
    p.add_argument("--seed", type=seed_option, default=0, help="seed of the random instances")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_check)


def _cmd_check(args):
    import json
    report = check(args.expr, args.wrt, args.claim, symbols=dict(args.symbol), seed=args.seed)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print(report)
    return 0 if report.ok else 1
