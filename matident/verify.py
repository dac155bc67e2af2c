"""Numeric verification of records on random structured instances.

For each record and trial, sizes are drawn for the dimension names (2..6,
different names different where possible) and every symbol gets a random,
well-conditioned value honouring its declared structure.  Then:

* ``identity``: lhs and rhs are evaluated and compared;
* ``derivative``: ``<rhs, V>`` (or ``rhs @ v`` for a Jacobian) is compared with
  a central finite difference of lhs along random directions ``V`` drawn
  inside the variable's structure; for a structured variable (symmetric,
  diagonal, triangular, skew) the gradient must itself lie in that space
  (the convention: the gradient with respect to a symmetric X is the unique
  symmetric G with ``<G, V> = Df[V]`` for all symmetric V);
* ``differential``: rhs evaluated at ``d<wrt> = V`` is compared with the
  directional derivative of lhs along V.

Tolerances are fixed (:data:`IDENTITY_TOL`, :data:`DERIVATIVE_TOL`); a draw
outside a function's domain is redrawn, and a record with no valid draw after
:data:`MAX_REDRAWS` attempts is *inconclusive*, never passed.  Results depend
only on the seed and the record id (not on the order of records).
"""
from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from .evaluate import EvaluationError, evaluate
from .shapes import Prod, dim_size, is_scalar_shape

IDENTITY_TOL = 1e-9        # relative error allowed between the two sides
DERIVATIVE_TOL = 1e-6      # relative error allowed against finite differences
FD_STEP = 1e-4             # finite-difference step, relative to max(1, ||X||_F) (unit-norm direction)
MAX_REDRAWS = 25           # attempts to draw a valid instance per trial
DIRECTIONS = 2             # random directions per trial for derivatives
SIZE_RANGE = (2, 6)        # sizes drawn for dimension names, inclusive
COND_LIMIT = 1e2           # redraw matrices with a larger condition number


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
        return not self.errors and all(r.ok for r in self.results)

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
                + (f", {len(self.errors)} invalid" if self.errors else ""))


# -- random instances ----------------------------------------------------------

def _dim_names(symbols):
    names = set()
    for decl in symbols.values():
        for d in (decl.rows, decl.cols):
            for f in (d.factors if isinstance(d, Prod) else (d,)):
                if isinstance(f, str):
                    names.add(f)
    return sorted(names)


def draw_sizes(symbols, rng):
    """Sizes for the dimension names: distinct where the range allows."""
    names = _dim_names(symbols)
    low, high = SIZE_RANGE
    pool = np.arange(low, high + 1)
    if len(names) <= len(pool):
        values = rng.choice(pool, size=len(names), replace=False)
    else:
        values = rng.choice(pool, size=len(names), replace=True)
    return {n: int(v) for n, v in zip(names, values)}


def _well_conditioned(m):
    if m.shape[0] == 1 or m.shape[1] == 1:
        return bool(np.linalg.norm(m) > 0.1)
    s = np.linalg.svd(m, compute_uv=False)
    return bool(s[-1] > 0 and s[0] / s[-1] < COND_LIMIT)


def _magnitudes(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def draw_value(decl, sizes, rng):
    """A random value honouring ``decl``'s structure (2-D float array)."""
    r, c = dim_size(decl.rows, sizes), dim_size(decl.cols, sizes)
    s = decl.structure
    if decl.kind == "scalar":
        if "integer" in s:
            return np.array([[float(rng.integers(1, 4))]])
        v = _magnitudes(rng, (1, 1))
        if "positive" not in s:
            v *= rng.choice([-1.0, 1.0])
        return v
    for _ in range(50):
        m = _draw_matrix(s, r, c, rng)
        if ("psd" in s and "invertible" not in s) or _well_conditioned(m):
            return m   # psd without invertible is drawn singular on purpose
    return m


def _draw_matrix(s, r, c, rng):
    n = r
    if "orthogonal" in s:
        q, rr = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.sign(np.diag(rr))
    if "spd" in s or ("psd" in s and "invertible" in s):
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        return (q * _magnitudes(rng, n)) @ q.T
    if "psd" in s:
        k = int(rng.integers(1, n)) if n > 1 else 1
        b = rng.standard_normal((n, k))
        return b @ b.T
    if "diagonal" in s:
        d = _magnitudes(rng, n)
        if "positive" not in s:
            d *= rng.choice([-1.0, 1.0], size=n)
        return np.diag(d)
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


def project(structure, m):
    """Orthogonal projection of ``m`` onto the tangent space of a structure."""
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
    return v / np.linalg.norm(v)


def relative_error(a, b, floor=0.0):
    diff = np.linalg.norm(a - b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    if scale == 0.0:
        return 0.0
    return float(diff / scale)


# -- checking one record -----------------------------------------------------

def _record_seed(seed, rid):
    return [int(seed), zlib.crc32(rid.encode("utf-8"))]


def directional_derivative(f, x, v):
    """Fourth-order central difference of f at x along v (step FD_STEP * max(1, |x|))."""
    h = FD_STEP * max(1.0, float(np.linalg.norm(x)))
    f1, f_1 = f(x + h * v), f(x - h * v)
    f2, f_2 = f(x + 2 * h * v), f(x - 2 * h * v)
    return (8 * (f1 - f_1) - (f2 - f_2)) / (12 * h)


def check_record(record, *, trials=3, seed=0, rhs=None):
    """Verify one record; ``rhs`` (a typed tree) replaces the record's rhs if given."""
    rhs = record.rhs_expr if rhs is None else rhs
    rng = np.random.default_rng(_record_seed(seed, record.id))
    variables = record.variables
    worst, sizes_seen, reason = 0.0, {}, ""
    for _trial in range(trials):
        for _attempt in range(MAX_REDRAWS):
            sizes = draw_sizes(variables, rng)
            values = {n: draw_value(d, sizes, rng) for n, d in variables.items()}
            try:
                err, message = _check_instance(record, rhs, values, sizes, rng)
            except EvaluationError as exc:
                reason = str(exc)
                continue
            break
        else:
            return Result(record.id, "inconclusive", record.file, record.line, None,
                          f"no valid instance in {MAX_REDRAWS} draws ({reason})", seed, sizes)
        if err >= worst:
            worst, sizes_seen = err, sizes
        tol = IDENTITY_TOL if record.kind == "identity" else DERIVATIVE_TOL
        if message or err > tol:
            msg = message or f"relative error {err:.2e} exceeds the tolerance {tol:.0e}"
            return Result(record.id, "failed", record.file, record.line, err, msg, seed, sizes)
    return Result(record.id, "passed", record.file, record.line, worst, "", seed, sizes_seen)


def _check_instance(record, rhs, values, sizes, rng):
    """(worst relative error, failure message or '') on one instance."""
    lhs = record.lhs_expr
    if record.kind == "identity":
        a, b = evaluate(lhs, values, sizes), evaluate(rhs, values, sizes)
        if a.shape != b.shape:
            return float("inf"), f"lhs is {a.shape[0]}x{a.shape[1]} but rhs is {b.shape[0]}x{b.shape[1]}"
        return relative_error(a, b), ""
    wrt = record.wrt
    decl = record.symbols[wrt]
    x0 = values[wrt]
    f0 = evaluate(lhs, values, sizes)

    def f(x):
        return evaluate(lhs, {**values, wrt: x}, sizes)

    worst = 0.0
    if record.kind == "differential":
        # all variables move together: X_i + t V_i, and d<X_i> = V_i
        names = record.wrts
        x = np.concatenate([values[w].ravel() for w in names])
        splits = np.cumsum([values[w].size for w in names])[:-1]

        def g(flat):
            parts = np.split(flat, splits)
            return evaluate(lhs, {**values, **{w: p.reshape(values[w].shape)
                                               for w, p in zip(names, parts)}}, sizes)

        for _ in range(DIRECTIONS):
            dirs = {f"d{w}": draw_direction(record.symbols[w], values[w].shape, rng) for w in names}
            v = np.concatenate([dirs[f"d{w}"].ravel() for w in names])
            fd = directional_derivative(g, x, v)
            pred = evaluate(rhs, {**values, **dirs}, sizes)
            if pred.shape != fd.shape:
                return float("inf"), (f"rhs is {pred.shape[0]}x{pred.shape[1]} but the differential "
                                      f"is {fd.shape[0]}x{fd.shape[1]}")
            worst = max(worst, relative_error(pred, fd, 1e-8 * max(1.0, np.linalg.norm(f0))))
        return worst, ""
    grad = evaluate(rhs, values, sizes)
    scalar_lhs, scalar_wrt = is_scalar_shape(record.lhs_shape), x0.shape == (1, 1)
    expected = (x0.shape if scalar_lhs else f0.shape if scalar_wrt
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
        else:
            pred = grad @ v
        worst = max(worst, relative_error(pred, fd, 1e-8 * max(1.0, np.linalg.norm(f0))))
    return worst, ""


def verify(records=None, *, trials=3, seed=0, progress=None):
    """Verify ``records`` (default: the shipped catalogue) and return a :class:`Report`.

    ``progress`` is an optional callable ``(done, total, result)`` for a progress display.
    """
    if records is None:
        from .catalogue import catalogue
        records = catalogue()
    records = list(records)
    results = []
    for i, record in enumerate(records):
        result = check_record(record, trials=trials, seed=seed)
        results.append(result)
        if progress:
            progress(i + 1, len(records), result)
    return Report(results, seed, trials)
