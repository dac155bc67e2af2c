"""Benchmark of matident.lookup; every figure is a ratio measured in the same run.

(a) median lookup time over the queries below, as a ratio to parsing the same
    text: to ``matident.parse`` (which converts to SymPy) and to
    ``parse_expr`` + ``shapes.infer`` (the term tree lookup itself starts from);
    for scale, also a lookup followed by ``str()`` of every match (a match
    writes out its result and conditions only when they are read);
(b) the same median with the catalogue inflated 10x by renamed copies, as a
    ratio to (a);
(c) a cold ``matident lookup`` process (disk cache warm) against
    ``python -c "import sympy, numpy"``.

In-process times are CPU times (``time.process_time``, median of
``--repeat`` runs), so that other load on the machine does not distort the
ratios, and the four timings of a query (lookup, 10x lookup, the two
parses) are interleaved round by round, so that the machine's speed
drifting between phases does not either; (c) is wall-clock time, the
median of interleaved runs.

Run from the repository root::

    python benchmarks/bench_lookup.py [--repeat N] [--processes N] [--skip-cold]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matident  # noqa: E402
from matident import expr as E  # noqa: E402
from matident.catalogue import Catalogue, Record, catalogue  # noqa: E402
from matident.index import Index, rename  # noqa: E402
from matident.match import BUDGET, lookup  # noqa: E402
from matident.parse import parse_expr  # noqa: E402
from matident.shapes import Decl, infer  # noqa: E402

SPD = {"S": "spd n"}
SYM = {"X": "symmetric n"}
QUERIES = [
    ("tr(A @ X @ B)", "X", None), ("tr(X @ A)", "X", None), ("tr(A @ X.T @ B)", "X", None),
    ("tr(X.T @ A)", "X", None), ("tr(X)", "X", None), ("tr(P @ Q @ Y @ R)", "Y", None),
    ("3 * tr(A @ Y)", "Y", None), ("tr(X.T @ B @ X)", "X", None), ("tr(X @ B @ X.T)", "X", None),
    ("tr(X.T @ X)", "X", None), ("tr(X @ X)", "X", None), ("tr(A @ inv(X) @ B)", "X", None),
    ("tr(inv(X))", "X", None), ("tr(matpow(X, 2))", "X", None), ("tr(A @ X @ B @ X)", "X", None),
    ("tr(kron(A, X))", "X", None), ("tr(A @ X)", "X", SYM),
    ("det(X)", "X", None), ("logdet(S)", "S", SPD), ("det(A @ X @ B)", "X", None),
    ("det(X.T @ A @ X)", "X", None), ("log(abs(det(X)))", "X", None), ("inv(X)", "X", None),
    ("logdet(X.T @ X)", "X", None),
    ("x.T @ A @ x", "x", None), ("a.T @ x", "x", None), ("x.T @ a", "x", None),
    ("x.T @ x", "x", None), ("a.T @ X @ b", "X", None), ("a.T @ X.T @ b", "X", None),
    ("b.T @ X.T @ X @ c", "X", None), ("A @ x", "x", None), ("norm(x) ** 2", "x", None),
    ("norm(A @ x - b) ** 2", "x", None), ("(x - m).T @ inv(S) @ (x - m)", "x", {"S": "spd n"}),
    ("x.T @ S @ x", "x", {"S": "spd n"}), ("sqrt(x.T @ x)", "x", None), ("a.T @ inv(X) @ b", "X", None),
    ("norm(X) ** 2", "X", None), ("norm(A @ X - B) ** 2", "X", None), ("sum(exp(x))", "x", None),
    ("log(sum(exp(x)))", "x", None), ("sigmoid(a.T @ w)", "w", None), ("exp(a.T @ x)", "x", None),
    ("sum(A * X)", "X", None), ("X * Y", "X", None), ("kron(X, Y)", "X", None),
    ("inv(A + U @ C @ V)", None, None), ("inv(A @ B)", None, None), ("det(A @ B)", None, None),
    ("tr(A @ B)", None, None), ("kron(A, B) @ kron(C, D)", None, None), ("inv(I + A @ B)", None, None),
    ("vec(A @ X @ B)", None, None), ("(A @ B).T", None, None), ("inv(X.T @ X)", None, None),
    ("det(alpha * A)", None, None), ("tr(X.T @ X) + lam * tr(X)", "X", {"lam": "scalar"}),
]


def _inflated(records, copies):
    """``records`` plus ``copies - 1`` renamed copies of each (new ids, names and dimensions)."""
    out = list(records)
    for k in range(1, copies):
        for r in records:
            names = {n: f"{n}c{k}" for n in r.symbols}
            dims = {d: f"{d}c{k}" for decl in r.symbols.values() for d in decl.shape if isinstance(d, str)}
            symbols = {names[n]: Decl(d.kind, dims.get(d.rows, d.rows), dims.get(d.cols, d.cols), d.words)
                       for n, d in r.symbols.items()}
            mapping = {n: E.sym(v) for n, v in names.items()}
            wrt = r.data.get("wrt")
            data = {**r.data, "id": f"{r.id}-copy{k}",
                    **({"wrt": [names[w] for w in wrt] if isinstance(wrt, list) else names[wrt]}
                       if wrt else {})}
            out.append(Record(data, symbols, rename(r.lhs_expr, mapping, dims),
                              rename(r.rhs_expr, mapping, dims), r.lhs_shape, r.file, r.line))
    return Catalogue(out)


def _interleaved(fns, repeat):
    """Median CPU time of each of ``fns``, timed in turn within each of ``repeat`` rounds."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            t = time.process_time()
            fn()
            out.append(time.process_time() - t)
    return [statistics.median(t) for t in times]


def _query_times(index, big, repeat):
    """Per query: (lookup, lookup in the 10x catalogue, matident.parse, parse_expr + infer,
    lookup and str() of every match)."""
    out = []
    for text, wrt, symbols in QUERIES:
        for where in (index, big):
            lookup(text, wrt, symbols=symbols, catalogue=where)     # warm memo tables
        out.append(_interleaved([lambda: lookup(text, wrt, symbols=symbols, catalogue=index),
                                 lambda: lookup(text, wrt, symbols=symbols, catalogue=big),
                                 lambda: matident.parse(text, symbols),
                                 lambda: infer(parse_expr(text), symbols, implicit=True),
                                 lambda: [str(m) for m in lookup(text, wrt, symbols=symbols,
                                                                 catalogue=index)]], repeat))
    return [list(column) for column in zip(*out)]


LOOKUP_CMD = [sys.executable, "-m", "matident", "lookup", "tr(A @ X @ B)", "--wrt", "X"]


def _wall(cmd, **kwargs):
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, **kwargs)
    return time.perf_counter() - t


def _cold(processes):
    """Median wall time of a `matident lookup` process and of importing sympy and numpy."""
    import_cmd = [sys.executable, "-c", "import sympy, numpy"]
    _wall(LOOKUP_CMD)                                                 # fill the disk cache
    a, b = [], []
    for _ in range(processes):
        a.append(_wall(LOOKUP_CMD))
        b.append(_wall(import_cmd))
    return statistics.median(a), statistics.median(b)


def _rebuild():
    """Wall time of a `matident lookup` process that builds the disk cache."""
    with tempfile.TemporaryDirectory() as where:
        return _wall(LOOKUP_CMD, env={**os.environ, "MATIDENT_CACHE_DIR": where})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15, help="timed repetitions per query (median)")
    ap.add_argument("--processes", type=int, default=9, help="process pairs for (c)")
    ap.add_argument("--skip-cold", action="store_true", help="skip (c)")
    args = ap.parse_args(argv)
    gc.collect()
    records = list(catalogue())
    index = Index(records)
    print(f"catalogue: {len(records)} records; {len(QUERIES)} queries; work budget {BUDGET} steps")

    big = Index(_inflated(records, 10))
    t_lookup, t_big, t_sympy, t_tree, t_shown = _query_times(index, big, args.repeat)
    med_l, med_s, med_t = map(statistics.median, (t_lookup, t_sympy, t_tree))
    counts = [len(lookup(q, w, symbols=s, catalogue=index)) for q, w, s in QUERIES]
    print(f"(a) median lookup {med_l * 1e3:.3f} ms ({statistics.median(counts)} matches median, "
          f"max {max(t_lookup) * 1e3:.1f} ms)")
    print(f"    median matident.parse {med_s * 1e3:.3f} ms        ratio {med_l / med_s:.2f}  (goal <= 2)")
    print(f"    median parse_expr+infer {med_t * 1e3:.3f} ms      ratio {med_l / med_t:.2f}")
    print(f"    per-query ratios, median: {statistics.median(a / b for a, b in zip(t_lookup, t_sympy)):.2f}"
          f" (to matident.parse), {statistics.median(a / b for a, b in zip(t_lookup, t_tree)):.2f}"
          f" (to parse_expr+infer)")
    med_shown = statistics.median(t_shown)
    print(f"    lookup and str() of every match: median {med_shown * 1e3:.3f} ms, "
          f"ratio {med_shown / med_s:.2f} to matident.parse (for scale; no goal)")

    med_b = statistics.median(t_big)
    print(f"(b) 10x catalogue ({len(big)} records, {big.groups} groups): median lookup "
          f"{med_b * 1e3:.3f} ms, growth {med_b / med_l:.2f}x  (goal <= 1.5)")

    if not args.skip_cold:
        proc, imports = _cold(args.processes)
        print(f"(c) cold `matident lookup` {proc * 1e3:.0f} ms, `import sympy, numpy` "
              f"{imports * 1e3:.0f} ms, ratio {proc / imports:.2f}  (goal <= 1.3)")
        print(f"    the first process after a change to identities/ builds the cache: "
              f"{_rebuild() * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
