"""Property test of the matcher over the whole catalogue.

Every record's lhs is rewritten by random algebra-preserving transformations
(renamed symbols and dimensions, constants replaced by products of constants
with the same declared structure, regrouped products, shuffled sums and ``*``
products, rotated and transposed traces, transposed 1x1 products, a scalar
factor) and looked up.  The record must be found on the whole query, with no
condition beyond the record's own free-text ones, and the match's result must
agree numerically with the record's rhs instantiated by hand (the same
substitution, times the same factor).  Identity records whose two sides have
the same normal form are applied implicitly by the matcher; for them the two
rewritten sides must have the same normal form.

The generator is seeded per record, so failures are reproducible; set
``MATIDENT_PROPERTY_ROUNDS`` to run more rounds per record.
"""
import os
import random
import zlib
from fractions import Fraction

import numpy as np
import pytest

from matident import expr as E
from matident.catalogue import catalogue
from matident.evaluate import EvaluationError, evaluate
from matident.index import Index, Pattern, rename
from matident.match import Query, lookup
from matident.shapes import Decl, Prod, infer, shape_of
from matident.verify import draw_direction, draw_sizes, draw_value, relative_error

ROUNDS = int(os.environ.get("MATIDENT_PROPERTY_ROUNDS", "2"))
TOLERANCE = 1e-7
#: structure words of a constant and the product that keeps them (see _replacement)
CONGRUENCE = ("symmetric", "spd", "psd", "skew")
CLOSED_UNDER_PRODUCT = ("invertible", "orthogonal", "diagonal", "lower", "upper", "square")


@pytest.fixture(scope="module")
def cat():
    return catalogue()


@pytest.fixture(scope="module")
def index(cat):
    return Index(cat)


class Rewriter:
    """Random algebra-preserving rewriting of one record's lhs."""

    def __init__(self, record, rng):
        self.record, self.rng = record, rng
        self.decls = {}
        self.counter = 0
        self.dims = {}
        for decl in record.symbols.values():
            for d in decl.shape:
                for f in (d.factors if isinstance(d, Prod) else (d,)):
                    if isinstance(f, str) and f not in self.dims:
                        self.dims[f] = f"{f}r"
        self.mapping = {}                       # record symbol -> tree of the rewritten query
        variables = set(record.wrts) | set(record.differentials)
        # the random vector of an expectation is bound there: renamed, never replaced
        variables |= {n.args[1].value for n in record.lhs_expr.walk() if n.op == "expect"}
        in_lhs = set(record.lhs_expr.symbols())
        for name, decl in record.variables.items():
            if name not in in_lhs:                # free in the rhs: the matcher keeps its name
                self.mapping[name] = self.declare(name, self.decl(decl))
            elif name in variables:
                self.mapping[name] = self.declare(f"{name}_v", self.decl(decl))
            else:
                self.mapping[name] = self.replacement(name, self.decl(decl))

    def dim(self, d):
        if isinstance(d, Prod):                 # 'vector m*n': rename the factors
            return Prod(tuple(self.dim(f) for f in d.factors))
        return self.dims.get(d, d) if isinstance(d, str) else d

    def decl(self, decl, words=None):
        return Decl(decl.kind, self.dim(decl.rows), self.dim(decl.cols),
                    decl.words if words is None else tuple(words))

    def declare(self, name, decl):
        self.decls[name] = decl
        return E.sym(name)

    def fresh(self, base, decl):
        self.counter += 1
        return self.declare(f"{base}{self.counter}", decl)

    def fresh_dim(self):
        self.counter += 1
        return f"k{self.counter}"

    def replacement(self, name, decl):
        """The constant ``name`` itself (renamed) or a product of constants with its structure."""
        words = set(decl.words)
        keep = self.rng.random() < 0.3 or "integer" in words or "unit" in words   # not closed under products
        if keep:
            return self.declare(f"{name}_c", decl)
        if decl.kind == "scalar":
            return E.mul(self.fresh("beta", decl), self.fresh("gamma", decl))
        if decl.kind == "vector":
            n = decl.rows
            if words:      # nonzero / positive: an invertible (positive) matrix times such a vector
                mat = Decl("matrix", n, n, ("positive",) if "positive" in words else ("invertible",))
                return E.matmul(self.fresh("P", mat), self.fresh("p", decl))
            k = self.fresh_dim()
            return E.matmul(self.fresh("P", Decl("matrix", n, k)), self.fresh("p", Decl("vector", k)))
        r, c = decl.shape
        congruence = [w for w in words if w in CONGRUENCE]
        if congruence:     # P S P^T keeps symmetry, definiteness and skewness
            p_words = ("invertible",) if "spd" in words or "invertible" in words else ()
            rest = tuple(w for w in words if w not in ("square",))
            p = self.fresh("P", Decl("matrix", r, r, p_words))
            return E.matmul(p, self.fresh("S", Decl("matrix", r, r, rest)), E.transpose(p))
        if words - set(CLOSED_UNDER_PRODUCT):
            return self.declare(f"{name}_c", decl)     # e.g. entrywise positive: keep it
        if words:
            return E.matmul(self.fresh("P", Decl("matrix", r, r, tuple(words))),
                            self.fresh("Q", Decl("matrix", r, c, tuple(words))))
        k = self.fresh_dim()
        return E.matmul(self.fresh("P", Decl("matrix", r, k)), self.fresh("Q", Decl("matrix", k, c)))

    # -- shape-preserving rewrites of the tree --------------------------------

    def rewrite(self, tree):
        """``tree`` with symbols replaced, then regrouped, shuffled, rotated."""
        return self.shuffle(tree.replace(self.mapping))

    def shuffle(self, e):
        if not e.args:
            return e
        args = [self.shuffle(a) for a in e.args]
        rng = self.rng
        if e.op in (E.ADD, E.MUL):
            rng.shuffle(args)
            return E.Expr(e.op, args)
        if e.op == E.MATMUL:
            if shape_of(e, self.decls) == (1, 1) and rng.random() < 0.3:
                return E.transpose(E.Expr(E.MATMUL, args))    # a^T b as (a^T b)^T
            if len(args) > 2 and rng.random() < 0.5:          # regroup: (a @ b) @ c
                cut = rng.randrange(1, len(args))
                return E.Expr(E.MATMUL, [E.Expr(E.MATMUL, args[:cut]) if cut > 1 else args[0],
                                         E.Expr(E.MATMUL, args[cut:]) if len(args) - cut > 1
                                         else args[cut]])
            return E.Expr(E.MATMUL, args)
        if e.op == "tr" and args[0].op == E.MATMUL and rng.random() < 0.7:
            factors = list(args[0].args)
            cut = rng.randrange(len(factors))
            inner = E.Expr(E.MATMUL, factors[cut:] + factors[:cut])
            return E.call("tr", E.transpose(inner) if rng.random() < 0.5 else inner)
        return E.rebuild(e, args) if e.op != E.TRANSPOSE else E.transpose(args[0])

    def scale(self):
        """A random scalar factor (a number or a declared scalar), or none."""
        roll = self.rng.random()
        if roll < 0.4:
            return None
        if roll < 0.8:
            return E.num(self.rng.choice([3, -2, Fraction(1, 2), -1]))
        return self.declare("kappa", Decl("scalar", 1, 1, ()))


def _well_posed(tree, values, sizes):
    """No inverse of an ill-conditioned matrix (e.g. X^T C X with fewer rows than columns)."""
    for node in tree.walk():
        if node.op in ("inv", "pinv", "logdet", "det") and np.linalg.cond(
                evaluate(node.args[0], values, sizes)) > 1e6:
            return False
    return True


def _transform(record, rng):
    rw = Rewriter(record, rng)
    lhs = rw.rewrite(record.lhs_expr)
    factor = rw.scale()
    query = lhs if factor is None else E.Expr(E.MUL, [factor, lhs])
    return rw, infer(query, rw.decls), factor


def _expected(record, rw, factor):
    """The record's rhs instantiated by hand (numerator layout), times the factor."""
    mapping = dict(rw.mapping)
    for w in record.wrts if record.kind == "differential" else ():
        mapping[f"d{w}"] = E.sym(f"d{mapping[w].value}")
    rhs = rename(record.rhs_expr, mapping, rw.dims)
    if record.kind == "derivative" and record.layout == "denominator":
        rhs = E.transpose(rhs)
    return rhs if factor is None else E.mul(factor, rhs)


def _agree(record, rw, got, want, rng):
    """(whether ``got`` and ``want`` agree on a random instance, detail); None if none was drawn."""
    decls = dict(rw.decls)
    for w in record.wrts if record.kind == "differential" else ():
        base = decls[rw.mapping[w].value]
        decls[f"d{rw.mapping[w].value}"] = Decl(base.kind, base.rows, base.cols, ())
    reason = "no instance drawn"
    for _ in range(30):
        sizes = draw_sizes(decls, rng)
        values = {n: draw_value(d, sizes, rng) for n, d in decls.items()}
        if record.kind == "differential":     # only the looked-up variable moves
            for w in record.wrts:
                name = rw.mapping[w].value
                values[f"d{name}"] = draw_direction(decls[name], values[name].shape, rng) \
                    if w == record.wrt else np.zeros_like(values[name])
        try:
            if not _well_posed(want, values, sizes):
                reason = "ill-conditioned inverse"
                continue
            a, b = evaluate(got, values, sizes), evaluate(want, values, sizes)
        except EvaluationError as exc:
            reason = str(exc)
            continue
        err = relative_error(a, b, 1e-9)
        return err <= TOLERANCE, f"relative error {err:.2e} (sizes {sizes})"
    return None, reason


def test_every_record_is_found_under_rewriting(cat, index):
    failures, checked, inconclusive = [], 0, []
    for record in cat:
        if record.kind == "inequality":       # never matched, by design (tests/test_norms.py)
            continue
        pattern = Pattern(record)
        for round_ in range(ROUNDS):
            rng = random.Random(zlib.crc32(f"{record.id}/{round_}".encode()))
            nrng = np.random.default_rng([round_, zlib.crc32(record.id.encode())])
            rw, typed, factor = _transform(record, rng)
            var = rw.mapping[record.wrt].value if record.wrt else None
            where = f"{record.id} (round {round_}) query {typed.expr.replace({})}"
            if pattern.trivial:
                q = Query(typed)
                rhs = q.norm.normal(_expected(record, rw, factor))
                if q.normal != rhs:
                    failures.append(f"{where}: trivial identity, but the rewritten sides have "
                                    f"different normal forms {q.normal} and {rhs}")
                continue
            found = lookup(typed, var, catalogue=index, budget=None)
            mine = [m for m in found if m.identity is record and m.whole]
            if not mine:
                failures.append(f"{where}: not found (found {[m.identity.id for m in found][:8]})")
                continue
            m = mine[0]
            extra = [c for c in m.conditions if c not in record.conditions]
            if extra:
                failures.append(f"{where}: conditions not established: {extra}")
                continue
            ok, detail = _agree(record, rw, m.result_tree, _expected(record, rw, factor), nrng)
            checked += 1
            if ok is None:
                inconclusive.append(f"{where}: {detail}")
            elif not ok:
                failures.append(f"{where}: result {m.result_tree} disagrees with "
                                f"{_expected(record, rw, factor)}: {detail}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
    assert len(inconclusive) <= max(3, checked // 50), "\n".join(inconclusive)
