"""Numeric verification of records on random structured instances.

For each record and trial, sizes are drawn for the dimension names (2..6,
different names different where possible) and every symbol gets a random,
well-conditioned value honouring its declared structure.  Then:

* ``identity``: lhs and rhs are evaluated and compared;
* ``inequality``: lhs and rhs (scalars) are evaluated and the relation checked, a
  non-strict one up to the identity tolerance, a strict one with a margin above it;
* ``derivative``: ``<rhs, V>`` (or ``rhs @ v`` for a Jacobian) is compared with
  a central finite difference of lhs along random directions ``V`` drawn
  inside the variable's structure; for a structured variable (symmetric,
  diagonal, triangular, skew, Toeplitz) the gradient must itself lie in that space
  (the convention: the gradient with respect to a symmetric X is the unique
  symmetric G with ``<G, V> = Df[V]`` for all symmetric V);
* ``differential``: rhs evaluated at ``d<wrt> = V`` is compared with the
  directional derivative of lhs along V.

Tolerances are fixed (:data:`IDENTITY_TOL`, :data:`DERIVATIVE_TOL`) and
relative to the larger side, or, for identity sides far smaller than the values
they are computed from (``tr(A @ B - B @ A) = 0``), to :data:`CANCELLATION`
times the largest of those values.  A draw outside a function's domain is
redrawn, and a record with no valid draw after :data:`MAX_REDRAWS` attempts is
*inconclusive*, never passed.  Results depend only on the seed and the record
id (not on the order of records, nor on how many processes share them: see
:func:`verify`'s ``jobs``).

Draws are chosen to expose wrong records: matrices have condition number at
most :data:`COND_LIMIT` and must honour every declared word (else the draw is
refused); the second trial reverses the order of the sizes (a tall matrix
becomes wide, unless it is declared ``tall``: sizes always honour the declared
relations); the third trial (and every third after it, :data:`SQUARE_EVERY`)
gives the dimensions a ``tall`` or ``wide`` declaration relates one size, so
such a matrix is drawn square, the case its declaration admits beside the
strictly tall or wide one of the other trials (and, if ``full-rank``,
invertible: well conditioned like every drawn matrix); a psd matrix is singular, of rank n - 1 in the first trial; an
integer scalar is 2 or 3 in the first trial, 1..4 later; unit vectors of one size
are different in the first trial and equal in the second (both cases of a delta).  Instances where an
inverse is near-singular or the finite differences do not settle (see
:func:`directional_derivative`) are redrawn, not counted.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import sys
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from .evaluate import EvaluationError, along, evaluate
from .functions import FUNCTIONS
from .shapes import Prod, dim_size, is_scalar_shape, sized_parts

IDENTITY_TOL = 1e-9        # relative error allowed between the two sides
DERIVATIVE_TOL = 1e-6      # relative error allowed against finite differences
FD_STEP = 1e-4             # finite-difference step, relative to max(1, ||X||_F) (unit-norm direction)
MAX_REDRAWS = 25           # attempts to draw a valid instance per trial
DIRECTIONS = 2             # random directions per trial for derivatives
SIZE_RANGE = (2, 6)        # sizes drawn for dimension names, inclusive
SQUARE_EVERY = 3           # trials 3, 6, 9, ... (the third of every three) draw tall and wide matrices square
COND_LIMIT = 1e2           # redraw matrices with a larger condition number
FD_SETTLE = DERIVATIVE_TOL / 10  # finite differences must agree this well at steps h and h/2
MAX_VALUE_ENTRIES = 4_096   # largest random value drawn (64 x 64): larger draws and checks take seconds
MAX_ENTRIES = 100_000       # largest intermediate result evaluated (a kron of three 6 x 6 is 216 x 216)
CANCELLATION = 1e-4        # identity sides are compared at least at this fraction of their largest part


@dataclass
class Result:
    """The outcome of verifying one record."""
    id: str
    status: str                     # "passed" | "failed" | "inconclusive"
    file: str
    line: int
    error: float | None = None      # worst relative error seen
    message: str = ""
    seed: int = 0
    sizes: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.status == "passed"

    def describe(self):
        where = f"{self.file}:{self.line}"
        sizes = " ".join(f"{k}={v}" for k, v in sorted(self.sizes.items())) or "-"
        err = "-" if self.error is None else f"{self.error:.1e}"
        return (f"{where}: {self.id}: {self.status.upper()} (seed {self.seed}, sizes {sizes}, "
                f"worst relative error {err}){': ' + self.message if self.message else ''}")


@dataclass
class Report:
    """Results of a verification run; ``ok`` when every record passed."""
    results: list
    seed: int
    trials: int
    errors: list = field(default_factory=list)   # load problems (MatidentError)

    def count(self, status):
        return sum(1 for r in self.results if r.status == status)

    @property
    def passed(self):
        return self.count("passed")

    @property
    def failed(self):
        return self.count("failed")

    @property
    def inconclusive(self):
        return self.count("inconclusive")

    @property
    def ok(self):
        """Every record passed, and there was at least one (checking nothing is no success)."""
        return not self.errors and bool(self.results) and all(r.ok for r in self.results)

    def as_dict(self):
        return {
            "passed": self.passed, "failed": self.failed, "inconclusive": self.inconclusive,
            "invalid": len(self.errors), "seed": self.seed, "trials": self.trials,
            "tolerances": {"identity": IDENTITY_TOL, "derivative": DERIVATIVE_TOL},
            "results": [asdict(r) for r in self.results],
            "errors": [e.as_dict() for e in self.errors],
        }

    def to_json(self):
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def __str__(self):
        return (f"{self.passed} passed, {self.failed} failed, {self.inconclusive} inconclusive"
                + (f", {len(self.errors)} invalid" if self.errors else "")
                + ("" if self.results or self.errors else ": nothing was verified"))


# -- arguments -------------------------------------------------------------------

MAX_SEED = 2 ** 63 - 1
MAX_TRIALS = 10_000


def check_seed(seed):
    """``seed`` as an int, or :class:`UsageError` unless it is a whole number 0..2**63-1."""
    from .errors import UsageError
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"the seed must be a whole number from 0 to 2**63-1, got {seed!r}",
                         hint="e.g. seed=0 (--seed 0); the same seed gives the same instances")
    return int(seed)


def check_trials(trials):
    """``trials`` as an int, or :class:`UsageError` unless it is 1..MAX_TRIALS (0 would check nothing)."""
    from .errors import UsageError
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) \
            or not 1 <= trials <= MAX_TRIALS:
        raise UsageError(f"trials must be a whole number from 1 to {MAX_TRIALS}, got {trials!r}",
                         hint="e.g. trials=3 (--trials 3); with 0 trials nothing would be checked")
    return int(trials)


# -- random instances ----------------------------------------------------------

def _dim_names(symbols):
    names = set()
    for decl in symbols.values():
        for d in (decl.rows, decl.cols):
            for f in (d.factors if isinstance(d, Prod) else (d,)):
                if isinstance(f, str):
                    names.add(f)
    return sorted(names)


def draw_sizes(symbols, rng, square=False):
    """Sizes for the dimension names: distinct where the range allows, and honouring the
    declared relations (the rows of a ``tall`` matrix are at least its columns).

    With ``square``, the dimensions that relations join get one size, so every ``tall`` and
    ``wide`` matrix is square (the boundary case the declaration admits); the same random
    numbers are drawn either way."""
    names = _dim_names(symbols)
    low, high = SIZE_RANGE
    pool = np.arange(low, high + 1)
    if len(names) <= len(pool):
        values = rng.choice(pool, size=len(names), replace=False)
    else:
        values = rng.choice(pool, size=len(names), replace=True)
    sizes = {n: int(v) for n, v in zip(names, values)}
    if square:
        sizes = _equal_related(sizes, symbols)
    return honour_relations(sizes, symbols)


def _equal_related(sizes, symbols):
    """``sizes`` with the dimensions joined by a relation (directly or through others) set to
    one size: the fixed size among them if there is one, else the size of the first name in
    alphabetical order.  A group with two different fixed sizes cannot be square; it is left
    to :func:`honour_relations`."""
    group = {}

    def root(d):
        while group.get(d, d) != d:
            d = group[d]
        return d

    for big, small in sorted({p for d in symbols.values() for p in d.relations()}, key=str):
        a, b = root(big), root(small)
        if a != b:
            group[max(a, b, key=str)] = min(a, b, key=str)
    members = {}
    for d in set(group) | set(group.values()):
        members.setdefault(root(d), []).append(d)
    sizes = dict(sizes)
    for dims in members.values():
        fixed = {d for d in dims if isinstance(d, int)}
        if len(fixed) > 1:
            continue
        names = sorted(d for d in dims if isinstance(d, str))
        size = fixed.pop() if fixed else sizes[names[0]]
        for name in names:
            sizes[name] = size
    return sizes


def honour_relations(sizes, symbols):
    """``sizes`` with values exchanged between names until every declared relation
    (larger, smaller) holds.  Each exchange removes an inversion against an order
    compatible with the relations, so this ends; a relation with a number that the
    range cannot meet, or relations that contradict each other, raise EvaluationError."""
    pairs = sorted({p for d in symbols.values() for p in d.relations()}, key=str)
    if not pairs:
        return sizes
    sizes = dict(sizes)
    low, high = SIZE_RANGE
    for big, small in pairs:         # a relation with a fixed size moves the named dimension
        if isinstance(small, int) and isinstance(big, str) and sizes[big] < small:
            sizes[big] = max(small, low) if small <= high else small
        elif isinstance(big, int) and isinstance(small, str) and sizes[small] > big:
            sizes[small] = big
    for _ in range(len(sizes) ** 2 + 1):
        broken = [(b, s) for b, s in pairs if dim_size(b, sizes) < dim_size(s, sizes)]
        if not broken:
            return sizes
        big, small = broken[0]
        if not (isinstance(big, str) and isinstance(small, str)):
            break
        sizes[big], sizes[small] = sizes[small], sizes[big]
    raise EvaluationError("the declared dimension relations (tall, wide) contradict each other")


def _norm(x):
    """np.linalg.norm(x) (Frobenius) by the same operations, without its argument handling:
    the verifier takes some thirty norms per record."""
    v = np.asarray(x, dtype=float).ravel(order="K")
    return np.sqrt(v.dot(v))


def _well_conditioned(m):
    if m.shape[0] == 1 or m.shape[1] == 1:
        return bool(_norm(m) > 0.1)
    s = np.linalg.svd(m, compute_uv=False)
    return bool(s[-1] > 0 and s[0] / s[-1] < COND_LIMIT)


def _magnitudes(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def draw_value(decl, sizes, rng, trial=0):
    """A random value honouring ``decl``'s structure (2-D float array).

    Raises EvaluationError if the declared words cannot be drawn together.
    """
    r, c = dim_size(decl.rows, sizes), dim_size(decl.cols, sizes)
    s = decl.structure
    if decl.kind == "scalar":
        if "integer" in s:     # positive; 1 (often a degenerate case) not in the first trial
            return np.array([[float(rng.choice([2, 3] if trial == 0 else [1, 2, 3, 4]))]])
        v = _magnitudes(rng, (1, 1))
        if "positive" not in s:
            v *= rng.choice([-1.0, 1.0])
        return v
    if "unit" in s:             # e_k for a random index k
        m = np.zeros((r, c))
        m[int(rng.integers(r)), 0] = 1.0
        return m
    conditioned = False
    for _ in range(50):
        m = _draw_matrix(s, r, c, rng, trial)
        if "psd" in s and "invertible" not in s:
            break      # psd without invertible is drawn singular on purpose
        conditioned = _well_conditioned(m)
        if conditioned:
            break
    if not honours(s - {"invertible", "full-rank"} if conditioned else s, m):   # conditioning: seen
        raise EvaluationError(f"cannot draw a {decl} (this drawing of the words is not supported)")
    return m


def honours(structure, m, tol=1e-10):
    """True if the matrix ``m`` has every property in ``structure`` (checked in the order of
    :data:`_HONOURS`; most draws have no structure word at all, and then nothing is computed)."""
    words = [word for word in _HONOURS if word in structure]
    if not words:
        return True
    scale = tol * max(1.0, float(np.abs(m).max()))
    eigenvalues = []        # the least eigenvalue of the symmetric part, for psd and spd: once

    def least_eigenvalue():
        if not eigenvalues:
            eigenvalues.append(np.linalg.eigvalsh((m + m.T) / 2).min())
        return eigenvalues[0]
    return all(_HONOURS[word](m, structure, scale, tol, least_eigenvalue) for word in words)


_HONOURS = {     # word -> check(m, structure, scale, tol, least_eigenvalue)
    "square": lambda m, s, scale, tol, eig: m.shape[0] == m.shape[1],
    "symmetric": lambda m, s, scale, tol, eig: np.abs(m - m.T).max() <= scale,
    "skew": lambda m, s, scale, tol, eig: np.abs(m + m.T).max() <= scale,
    "toeplitz": lambda m, s, scale, tol, eig: np.abs(m[1:, 1:] - m[:-1, :-1]).max(initial=0.0) <= scale,
    "diagonal": lambda m, s, scale, tol, eig: np.abs(m - np.diag(np.diag(m))).max() <= scale,
    "lower": lambda m, s, scale, tol, eig: np.abs(np.triu(m, 1)).max(initial=0.0) <= scale,
    "upper": lambda m, s, scale, tol, eig: np.abs(np.tril(m, -1)).max(initial=0.0) <= scale,
    "orthogonal": lambda m, s, scale, tol, eig: np.abs(m.T @ m - np.eye(m.shape[0])).max() <= 1e3 * tol,
    "psd": lambda m, s, scale, tol, eig: eig() >= -scale,
    "spd": lambda m, s, scale, tol, eig: eig() > scale,
    "invertible": lambda m, s, scale, tol, eig: _well_conditioned(m),
    "positive": lambda m, s, scale, tol, eig: bool(np.all((np.diag(m) if "diagonal" in s else m) > 0)),
    "tall": lambda m, s, scale, tol, eig: m.shape[0] >= m.shape[1],
    "wide": lambda m, s, scale, tol, eig: m.shape[0] <= m.shape[1],
    "full-rank": lambda m, s, scale, tol, eig: _well_conditioned(m),
    "permutation": lambda m, s, scale, tol, eig: bool(np.all((m == 0) | (m == 1)))
    and bool(np.all(m.sum(axis=0) == 1)) and bool(np.all(m.sum(axis=1) == 1)),
    "unit": lambda m, s, scale, tol, eig: m.shape[1] == 1 and np.count_nonzero(m) == 1
    and float(m.sum()) == 1.0,
}


def _draw_matrix(s, r, c, rng, trial):
    n = r
    if "permutation" in s:
        return np.eye(n)[rng.permutation(n)]
    if "orthogonal" in s:
        q, rr = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.sign(np.diag(rr))
    if "toeplitz" in s:
        return _draw_toeplitz(s, n, rng)
    if "diagonal" in s:
        d = _magnitudes(rng, n)
        if not s & {"positive", "psd"}:
            d *= rng.choice([-1.0, 1.0], size=n)
        return np.diag(d)
    if "spd" in s or ("psd" in s and "invertible" in s):
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        return (q * _magnitudes(rng, n)) @ q.T
    if "psd" in s:
        # singular: rank n - 1 (the generic case) in the first trial, any rank below n later
        k = n - 1 if trial == 0 or n < 3 else int(rng.integers(1, n))
        b = rng.standard_normal((n, max(k, 1)))
        return b @ b.T
    if "positive" in s:
        m = _magnitudes(rng, (r, c))
    else:
        m = rng.standard_normal((r, c))
    if "symmetric" in s:
        m = (m + m.T) / 2
    elif "skew" in s:
        m = (m - m.T) / 2
    elif "lower" in s or "upper" in s:
        m = np.tril(m) if "lower" in s else np.triu(m)
        np.fill_diagonal(m, _magnitudes(rng, n) * rng.choice([-1.0, 1.0], size=n))
    return m


def _draw_toeplitz(s, n, rng):
    """A Toeplitz matrix with random diagonals t_k (k = j - i); symmetric: t_-k = t_k; spd:
    symmetric with t_0 above the sum of |t_k| over the other diagonals (diagonally dominant)."""
    t = rng.standard_normal(2 * n - 1)                   # t[k + n - 1] is diagonal k
    if s & {"symmetric", "spd"}:
        t = (t + t[::-1]) / 2
    if "spd" in s:
        t[n - 1] = np.abs(t).sum() - np.abs(t[n - 1]) + _magnitudes(rng, 1)[0]
    return t[np.subtract.outer(np.arange(n), np.arange(n)).T + (n - 1)]


def _coordinate_units(variables, values, rng, trial):
    """Set the indices of the unit vectors so that both cases of every delta_ij occur:
    in the first trial unit vectors of one size point in different directions (where the
    size allows), in the second all in one direction; later trials keep the random draws."""
    if trial > 1:
        return
    groups = {}
    for name, decl in sorted(variables.items()):
        if "unit" in decl.words:
            groups.setdefault(values[name].shape[0], []).append(name)
    for size, names in groups.items():
        if trial == 0:
            picks = np.resize(rng.permutation(size), len(names))    # cycles when too few
        else:
            picks = [int(rng.integers(size))] * len(names)
        for name, k in zip(names, picks):
            e = np.zeros((size, 1))
            e[int(k), 0] = 1.0
            values[name] = e


def project(structure, m):
    """Orthogonal projection of ``m`` onto the tangent space of a structure."""
    if "toeplitz" in structure:      # the projections onto Toeplitz and onto symmetric matrices commute
        t = FUNCTIONS["toeplitz_mean"].numpy(m)
        return (t + t.T) / 2 if "symmetric" in structure else t
    if "diagonal" in structure:
        return np.diag(np.diag(m))
    if "symmetric" in structure:
        return (m + m.T) / 2
    if "skew" in structure:
        return (m - m.T) / 2
    if "lower" in structure:
        return np.tril(m)
    if "upper" in structure:
        return np.triu(m)
    return m


def draw_direction(decl, shape, rng):
    """A unit-norm random direction inside the variable's structure."""
    v = project(decl.structure, rng.standard_normal(shape))
    return v / _norm(v)


def relative_error(a, b, floor=0.0):
    """|a - b| relative to the larger of |a|, |b| and ``floor``; inf (never a pass) if either
    is not finite (a NaN compares false with every tolerance)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    unit = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)), floor)
    if unit == 0.0:
        return 0.0
    a, b = a / unit, b / unit                  # norms of entries near 1e200 would overflow
    diff = _norm(a - b)
    scale = max(_norm(a), _norm(b), floor / unit)
    out = float(diff / scale)
    return out if np.isfinite(out) else float("inf")


# -- checking one record -----------------------------------------------------

def _record_seed(seed, rid):
    return [int(seed), zlib.crc32(rid.encode("utf-8"))]


def _central_difference(f, x, v, h, known=None):
    """Fourth-order central difference of f at x along v with step h.

    ``known`` holds (f(x + h v), f(x - h v)) if already computed: the difference with
    step h / 2 needs f at x +- 2 (h / 2) v, the points x +- h v of the difference with
    step h (2 (h / 2) is h exactly in floating point, so these are the same arrays).
    """
    f1, f_1 = f(x + h * v), f(x - h * v)
    f2, f_2 = known if known is not None else (f(x + 2 * h * v), f(x - 2 * h * v))
    return (8 * (f1 - f_1) - (f2 - f_2)) / (12 * h), f1, (f1, f_1, f2, f_2)


def directional_derivative(f, x, v):
    """Derivative of f at x along v by central differences, checked to have settled.

    The step is h = FD_STEP * max(1, |x|); the difference with step h/2 is
    returned.  Unless the two agree to FD_SETTLE (a tenth of the tolerance),
    truncation (near a singularity) or rounding (a derivative far smaller than
    the function) spoils the estimate: the instance is then redrawn
    (EvaluationError), not counted.
    """
    h = FD_STEP * max(1.0, float(_norm(x)))
    coarse, f1, (_, f_1, _, _) = _central_difference(f, x, v, h)
    fine, _, values = _central_difference(f, x, v, h / 2, known=(f1, f_1))
    scale = max(float(_norm(fine)), 1e-8 * max(1.0, float(_norm(f1))))
    if _norm(coarse - fine) > FD_SETTLE * scale:
        raise EvaluationError("finite differences do not settle (near-singular instance)")
    # Rounding alone (eps |f| per value, weights summing to 3 / h at step h / 2) may exceed the
    # settle margin: then coarse and fine can agree by chance while both are off.  This happens
    # where the derivative is tiny beside |f| (the log of a density far out in its tail).
    if not all(np.isfinite(value).all() for value in values):
        raise EvaluationError("the function overflows near this instance")
    if all(np.array_equal(value, values[0]) for value in values[1:]):
        return fine     # f does not change at all along v (a constant): the derivative is 0, no noise
    rounding = 3 * np.finfo(float).eps * max(float(np.abs(value).max()) for value in values) / (h / 2)
    if rounding > FD_SETTLE * scale:
        raise EvaluationError("finite differences are dominated by rounding (|f| far larger than its "
                              "derivative)")
    return fine


@dataclass
class _Claim:
    """A derivative claim shaped like a record (what :func:`check_record` reads)."""
    id: str
    lhs_expr: object
    rhs_expr: object
    symbols: dict
    wrt: str
    lhs_shape: tuple
    layout: str = "numerator"
    kind: str = "derivative"
    file: str = "<claim>"
    line: int = 0
    differentials: tuple = ()

    @property
    def wrts(self):
        return (self.wrt,)

    @property
    def sized_parts(self):
        return sized_parts((self.lhs_expr, self.rhs_expr), self.symbols)

    @property
    def variables(self):
        return self.symbols


def check_derivative(lhs, rhs, symbols, wrt, *, layout="numerator", trials=3, seed=0, label="claim"):
    """Verify that ``rhs`` is the derivative of ``lhs`` by ``wrt`` (typed trees), like a record."""
    from .shapes import infer
    claim = _Claim(label, lhs, rhs, symbols, wrt, infer(lhs, symbols).shape, layout)
    return check_record(claim, trials=trials, seed=seed)


def check_claim(kind, lhs, rhs, symbols, wrt, *, trials=3, seed=0, label="claim"):
    """Verify one step of a derivation: ``kind`` is "differential" (rhs = d lhs, linear in
    d<wrt>) or "identity" (lhs = rhs for every value of every symbol, d<wrt> included)."""
    from .shapes import infer
    claim = _Claim(label, lhs, rhs, symbols, wrt, infer(lhs, symbols).shape, kind=kind)
    return check_record(claim, trials=trials, seed=seed)


def check_record(record, *, trials=3, seed=0, rhs=None):
    """Verify one record; ``rhs`` (a typed tree) replaces the record's rhs if given."""
    trials, seed = check_trials(trials), check_seed(seed)
    rhs = record.rhs_expr if rhs is None else rhs
    too_large = _too_large(record, rhs)
    if too_large:
        if isinstance(record, _Claim):
            from .errors import UsageError
            raise UsageError(too_large, hint="declare symbolic sizes such as 'matrix n n' (they are "
                             f"drawn from {SIZE_RANGE[0]} to {SIZE_RANGE[1]}) or skip the check")
        return Result(record.id, "inconclusive", record.file, record.line, None, too_large, seed, {})
    with np.errstate(all="ignore"):      # overflow and NaN are handled (redrawn, or never a pass)
        return _check_trials(record, rhs, trials, seed)


def _check_trials(record, rhs, trials, seed):
    rng = np.random.default_rng(_record_seed(seed, record.id))
    variables = record.variables
    worst, sizes_seen, reason = 0.0, {}, ""
    first = None
    for trial in range(trials):
        for attempt in range(MAX_REDRAWS):
            sizes = {}
            try:
                sizes = draw_sizes(variables, rng, square=trial % SQUARE_EVERY == SQUARE_EVERY - 1)
                if trial == 1 and attempt == 0 and first:
                    sizes = honour_relations(_reversed_order(first), variables)
                values = {n: draw_value(d, sizes, rng, trial) for n, d in variables.items()}
                _coordinate_units(variables, values, rng, trial)
                err, message = _check_instance(record, rhs, values, sizes, rng)
            except EvaluationError as exc:
                reason = str(exc)
                continue
            break
        else:
            return Result(record.id, "inconclusive", record.file, record.line, None,
                          f"no valid instance in {MAX_REDRAWS} draws ({reason})", seed, sizes)
        first = first or sizes
        if err >= worst:
            worst, sizes_seen = err, sizes
        tol = IDENTITY_TOL if record.kind in ("identity", "inequality") else DERIVATIVE_TOL
        if message or err > tol:
            msg = message or f"relative error {err:.2e} exceeds the tolerance {tol:.0e}"
            return Result(record.id, "failed", record.file, record.line, err, msg, seed, sizes)
    return Result(record.id, "passed", record.file, record.line, worst, "", seed, sizes_seen)


def _too_large(record, rhs):
    """Why ``record`` cannot be checked quickly (a symbol's value of more than MAX_VALUE_ENTRIES
    or an intermediate result of more than MAX_ENTRIES entries at the largest drawn sizes), or ''.

    Counted before any array is built: ``vector 9999*9999`` or ``matrix 9999 9999``
    would need gigabytes and minutes.  The shapes are the record's :attr:`sized_parts` (a
    catalogue record's are computed when the catalogue is built, and kept in its disk cache),
    or those of its lhs and ``rhs`` when ``rhs`` is another.
    """
    from . import expr as E
    sizes = {n: SIZE_RANGE[1] for n in _dim_names(record.symbols)}
    parts = record.sized_parts if rhs is record.rhs_expr else sized_parts((record.lhs_expr, rhs),
                                                                          record.symbols)
    for node, shape in parts:
        try:
            r, c = (dim_size(d, sizes) for d in shape)
        except (KeyError, TypeError, AssertionError):
            continue
        limit = MAX_VALUE_ENTRIES if node.op == E.SYM else MAX_ENTRIES
        if r * c > limit:
            from .printing import to_text
            return (f"too large to check numerically: '{to_text(node)[:40]}' would have "
                    f"{r:,} x {c:,} entries (the limit is {limit:,})")
    return ""


def is_zero(e):
    """Whether the tree ``e`` is the number 0 (an identity ``lhs = 0`` states a zero matrix)."""
    return e.op == "num" and e.value == 0


def _largest_part(lhs, rhs, values, sizes):
    """The largest entry of any value computed on the way to lhs and rhs.

    Rounding errors in a result are relative to it: ``tr(A @ B - B @ A)`` is
    zero up to about 1e-16 times the entries of A @ B, not up to 1e-16.
    """
    return max(float(np.abs(evaluate(node, values, sizes)).max())
               for side in (lhs, rhs) for node in side.walk()
               if node.op != "blockrow")       # a row's entries are its blocks', walked too


def _reversed_order(sizes):
    """The same sizes with their order reversed (m > n becomes m < n).

    The second trial uses them: terms that vanish when a matrix is tall (such as
    I - pinv(X) X) do not vanish when it is wide.
    """
    names = sorted(sizes, key=sizes.get)
    return dict(zip(names, sorted(sizes.values(), reverse=True)))


def _check_instance(record, rhs, values, sizes, rng):
    """(worst relative error, failure message or '') on one instance."""
    lhs = record.lhs_expr
    if record.kind == "identity":
        a, b = evaluate(lhs, values, sizes), evaluate(rhs, values, sizes)
        if b.shape == (1, 1) and a.shape != (1, 1) and is_zero(rhs):
            b = np.zeros_like(a)          # "= 0": the zero matrix of the lhs's shape
        if a.shape != b.shape:
            return float("inf"), f"lhs is {a.shape[0]}x{a.shape[1]} but rhs is {b.shape[0]}x{b.shape[1]}"
        err = relative_error(a, b)
        if err > IDENTITY_TOL:      # a result far smaller than the values it is computed from
            err = relative_error(a, b, CANCELLATION * _largest_part(lhs, rhs, values, sizes))
        return err, ""
    if record.kind == "inequality":
        return _check_inequality(record, rhs, values, sizes)
    wrt = record.wrt
    decl = record.symbols[wrt]
    x0 = values[wrt]
    f0 = evaluate(lhs, values, sizes)
    worst = 0.0
    if record.kind == "differential":
        # all variables move together: X_i + t V_i, and d<X_i> = V_i
        names = record.wrts
        x = np.concatenate([values[w].ravel() for w in names])
        splits = np.cumsum([values[w].size for w in names])[:-1]

        moved = along(lhs, values, sizes, names)

        def g(flat):
            parts = np.split(flat, splits)
            return moved({w: p.reshape(values[w].shape) for w, p in zip(names, parts)})

        for _ in range(DIRECTIONS):
            dirs = {f"d{w}": draw_direction(record.symbols[w], values[w].shape, rng) for w in names}
            v = np.concatenate([dirs[f"d{w}"].ravel() for w in names])
            fd = directional_derivative(g, x, v)
            pred = evaluate(rhs, {**values, **dirs}, sizes)
            if pred.shape != fd.shape:
                return float("inf"), (f"rhs is {pred.shape[0]}x{pred.shape[1]} but the differential "
                                      f"is {fd.shape[0]}x{fd.shape[1]}")
            worst = max(worst, relative_error(pred, fd, 1e-8 * max(1.0, _norm(f0))))
        return worst, ""
    moved = along(lhs, values, sizes, (wrt,))     # only the parts of lhs that contain wrt move

    def f(x):
        return moved({wrt: x})

    grad = evaluate(rhs, values, sizes)
    scalar_lhs, scalar_wrt = is_scalar_shape(record.lhs_shape), x0.shape == (1, 1)
    expected = (x0.shape if scalar_lhs else f0.shape if scalar_wrt
                else (f0.size, x0.size) if record.layout == "vec"
                else (f0.shape[0], x0.shape[0]) if record.layout != "denominator"
                else (x0.shape[0], f0.shape[0]))
    if grad.shape != expected:
        return float("inf"), (f"rhs is {grad.shape[0]}x{grad.shape[1]} but the derivative must be "
                              f"{expected[0]}x{expected[1]}")
    if scalar_lhs and not scalar_wrt:
        projected = project(decl.structure, grad)
        off = relative_error(grad, projected)
        if off > IDENTITY_TOL:
            return off, (f"the gradient with respect to the structured variable {wrt} must lie in "
                         f"its structure ({', '.join(sorted(decl.structure))}); it is off by {off:.1e}")
    for _ in range(DIRECTIONS):
        v = draw_direction(decl, x0.shape, rng)
        fd = directional_derivative(f, x0, v)
        if scalar_lhs:
            pred = np.array([[np.sum(grad * v)]])
        elif scalar_wrt:
            pred = grad * v
        elif record.layout == "denominator":
            pred = grad.T @ v
        elif record.layout == "vec":        # d vec F = J vec dX (column-stacking vec)
            pred = (grad @ v.reshape(-1, 1, order="F")).reshape(fd.shape, order="F")
        else:
            pred = grad @ v
        worst = max(worst, relative_error(pred, fd, 1e-8 * max(1.0, _norm(f0))))
    return worst, ""


def _check_inequality(record, rhs, values, sizes):
    """(relative violation, failure message or '') of ``lhs <relation> rhs`` on one instance.

    The violation is measured as an identity's error: relative to the larger side (or, when
    that is far smaller than the values it is computed from, to CANCELLATION times the
    largest of them).  A non-strict relation passes with a violation of at most IDENTITY_TOL,
    so an inequality that holds with equality passes; a strict one needs a margin above
    IDENTITY_TOL measured the same way (the larger unit: a smaller margin), so an equality
    stated as a strict inequality fails."""
    lhs = record.lhs_expr
    a, b = evaluate(lhs, values, sizes), evaluate(rhs, values, sizes)
    small, large = (a, b) if record.relation in ("<=", "<") else (b, a)
    gap = float(large[0, 0] - small[0, 0])          # >= 0 when the relation holds
    unit = max(abs(float(a[0, 0])), abs(float(b[0, 0])))
    shown = f"lhs = {float(a[0, 0]):.12g}, rhs = {float(b[0, 0]):.12g}"
    if record.relation in ("<=", ">="):
        err = max(0.0, -gap) / unit if unit else 0.0
        if err > IDENTITY_TOL:
            floor = CANCELLATION * _largest_part(lhs, rhs, values, sizes)
            err = max(0.0, -gap) / max(unit, floor)
        if err > IDENTITY_TOL:
            return err, (f"lhs {record.relation} rhs fails by {err:.2e} relative to the values "
                         f"(tolerance {IDENTITY_TOL:.0e}): {shown}")
        return err, ""
    unit = max(unit, CANCELLATION * _largest_part(lhs, rhs, values, sizes))
    margin = gap / unit if unit else 0.0
    if not margin > IDENTITY_TOL:
        return float("inf"), (f"lhs {record.relation} rhs fails: the margin {margin:.2e} relative to the "
                              f"values is not above the tolerance {IDENTITY_TOL:.0e}: {shown}")
    return 0.0, ""


def verify(records=None, *, trials=3, seed=0, progress=None, jobs=1):
    """Verify ``records`` (default: the shipped catalogue) and return a :class:`Report`.

    ``progress`` is an optional callable ``(done, total, result)`` for a progress display.
    With ``jobs`` above 1 (on a system with ``fork``), that many processes share the records:
    this one and ``jobs - 1`` forked workers (fewer for a short list, see
    :data:`RECORDS_PER_PROCESS`).  Results depend only on the seed and the record, so the
    report, and the calls of ``progress`` (in the order of the records), are the same for any
    ``jobs``.  Forking suits a program like the command line; one that runs threads of its
    own (JAX's, say, which warns at a fork) should keep the default ``jobs=1``.
    """
    trials, seed, jobs = check_trials(trials), check_seed(seed), check_jobs(jobs)
    if records is None:
        from .catalogue import catalogue
        records = catalogue()
    records = list(records)
    processes = max(1, min(jobs, len(records) // RECORDS_PER_PROCESS)) if hasattr(os, "fork") else 1
    results = []
    with contextlib.closing(_in_processes(records, trials, seed, processes)) as checked:
        for i, result in enumerate(checked):
            results.append(result)
            if progress:
                progress(i + 1, len(records), result)
    return Report(results, seed, trials)


# -- several processes -------------------------------------------------------------

RECORDS_PER_PROCESS = 8     # fewer records per process than this: fewer processes (a fork costs ~3 ms)
MAX_JOBS = 64


def check_jobs(jobs):
    """``jobs`` as an int, or :class:`UsageError` unless it is 1..MAX_JOBS."""
    from .errors import UsageError
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"jobs must be a whole number from 1 to {MAX_JOBS}, got {jobs!r}",
                         hint="e.g. jobs=2 (--jobs 2): the number of processes sharing the records")
    return int(jobs)


def _in_processes(records, trials, seed, processes):
    """The results of :func:`check_record` for ``records``, in their order: record i is checked
    by process i % ``processes``, 0 being this one and the others forked workers, each
    sending its results, in order, down a pipe.  Workers still running when this generator
    is closed (finished, or left by an exception or Ctrl-C) are ended and waited for."""
    workers = []           # [pid or None once waited for, pipe of its results], processes 1, 2, ...
    try:
        try:
            for k in range(1, processes):
                with _interruption_held():
                    workers.append(_fork_worker(records[k::processes], trials, seed,
                                                [pipe.fileno() for _, pipe in workers]))
        except OSError:       # no process or pipe to be had (EAGAIN, EMFILE): this one checks all
            _end(workers)
            workers, processes = [], 1
        for i, record in enumerate(records):
            k = i % processes
            if k == 0:
                yield check_record(record, trials=trials, seed=seed)
            else:
                yield _receive(workers[k - 1])
    finally:
        _end(workers)


@contextlib.contextmanager
def _interruption_held():
    """Ctrl-C (SIGINT) held pending while a worker is forked and recorded: it then interrupts
    this process with the worker among those :func:`_end` ends, and never reaches a worker
    before the worker ignores it (the worker would run this process's handler)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _end(workers):
    """End the workers not yet waited for (each still ours: never another process) and wait for them."""
    for worker in workers:
        pid, pipe = worker
        pipe.close()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            worker[0] = None


def _fork_worker(records, trials, seed, inherited):
    """Fork a worker checking ``records``; [its pid, the pipe its results come from].

    The worker ignores Ctrl-C (the parent ends it; called within :func:`_interruption_held`, so
    one sent at the fork is dropped), sends ("result", Result) per record, or
    ("error", exception) for an exception of :func:`check_record` and stops; it leaves by
    ``os._exit``, running none of the parent's exit handlers.  ``inherited`` are the parent's
    pipes from earlier workers, closed in this one."""
    read, write = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()                  # nothing buffered is written twice
    pid = os.fork()
    if pid:
        os.close(write)
        return [pid, os.fdopen(read, "rb")]
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for fd in (read, *inherited):
            os.close(fd)
        with os.fdopen(write, "wb") as out:
            for record in records:
                try:
                    message = ("result", check_record(record, trials=trials, seed=seed))
                except Exception as exc:  # noqa: BLE001 - raised in the parent, as without workers
                    message = ("error", exc)
                try:
                    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its text
                    data = pickle.dumps(("error", RuntimeError(f"{type(message[1]).__name__}: "
                                                                f"{message[1]}")))
                out.write(data)
                out.flush()
                if message[0] == "error":
                    break
        status = 0
    finally:
        os._exit(status)


def _receive(worker):
    """The next result from ``worker`` ([pid, pipe]); its exception raised here, or RuntimeError
    if it stopped without sending one (killed, out of memory): it is then waited for (its pid
    set to None)."""
    try:
        kind, value = pickle.load(worker[1])     # our own child's pipe: no one else can write it
    except EOFError:
        _, status = os.waitpid(worker[0], 0)
        worker[0] = None
        raise RuntimeError(f"a verification worker stopped without a result "
                           f"({_describe_status(status)})") from None
    if kind == "error":
        raise value
    return value


def _describe_status(status):
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
