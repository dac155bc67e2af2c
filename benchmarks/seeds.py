"""Reproducibility: the shipped catalogue verified with many seeds (no flaky record).

Every record is verified with seeds 0..N-1 (default 100, 3 trials each); any
record that fails or is inconclusive for some seed is listed with the seeds
and errors.  The JSON report of the first seeds is also produced twice and
compared byte for byte.  If some identity files do not load (the catalogue is
being edited), they are listed and the others are verified.

    python benchmarks/seeds.py [--seeds 100] [--trials 3] [--jobs 2] [--json OUT] [FILE ...]

Exit code 0 when every record passes with every seed and the reports repeat.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from matident.catalogue import catalogue, data_dir, load
from matident.errors import CatalogueError
from matident.verify import DERIVATIVE_TOL, IDENTITY_TOL, verify

REPEATED = 3          # seeds whose JSON report is produced twice and compared


def load_records(files=()):
    """(records, load problems): the given files or the shipped catalogue, file by file on errors."""
    try:
        return list(load(files) if files else catalogue()), []
    except CatalogueError:
        pass
    root = data_dir("identities")
    paths = [Path(f) for f in files] or sorted(root.rglob("*.yaml"))
    records, problems = [], []
    for path in paths:
        try:
            records += list(load(path, base=None if files else root.parent))
        except CatalogueError as exc:
            problems += exc.errors
    return records, problems


_RECORDS = []


def _tolerance(kind):
    return IDENTITY_TOL if kind == "identity" else DERIVATIVE_TOL


def _init(files):
    _RECORDS[:] = load_records(files)[0]


def _run_seed(args):
    seed, trials = args
    report = verify(_RECORDS, trials=trials, seed=seed)
    bad = [(r.id, r.status, r.error, r.message, r.file, r.line) for r in report.results if not r.ok]
    kinds = {r.id: r.kind for r in _RECORDS}
    worst = {r.id: (r.error or 0.0) / _tolerance(kinds[r.id]) for r in report.results if r.ok}
    same = None
    if seed < REPEATED:
        same = report.to_json() == verify(_RECORDS, trials=trials, seed=seed).to_json()
    return seed, bad, worst, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write the details to this file")
    args = parser.parse_args(argv)

    records, problems = load_records(args.files)
    for err in problems:
        print(f"not loaded: {err}")
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(args.files,)) as pool:
        outcomes = sorted(pool.map(_run_seed, [(s, args.trials) for s in range(args.seeds)]))
    elapsed = time.perf_counter() - start

    failures, worst, repeat = {}, {}, []
    for seed, bad, best, same in outcomes:
        for rid, status, error, message, file, line in bad:
            failures.setdefault(rid, []).append({"seed": seed, "status": status, "error": error,
                                                 "message": message, "where": f"{file}:{line}"})
        for rid, ratio in best.items():
            worst[rid] = max(worst.get(rid, 0.0), ratio)
        if same is not None:
            repeat.append(same)

    checks = len(records) * args.seeds
    print(f"{len(records)} records x {args.seeds} seeds x {args.trials} trials = {checks} verifications "
          f"in {elapsed:.1f} s ({args.jobs} processes, {1000 * elapsed * args.jobs / max(checks, 1):.2f} ms "
          f"of CPU per record)")
    print(f"records failing or inconclusive for some seed: {len(failures)}")
    for rid, items in sorted(failures.items()):
        first = items[0]
        print(f"  {first['where']}: {rid}: {len(items)} seed(s), e.g. seed {first['seed']} "
              f"{first['status']}: {first['message']}")
    print("passing records closest to their tolerance (worst error / tolerance over all seeds):")
    for rid, ratio in sorted(worst.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {rid}: {ratio:.2f}")
    print(f"same seed, same JSON report byte for byte (seeds 0..{REPEATED - 1}): {all(repeat)}")
    if problems:
        print(f"{len(problems)} load problem(s): the files above were not verified")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "records": len(records), "seeds": args.seeds, "trials": args.trials,
            "seconds": elapsed, "failures": failures, "repeatable": all(repeat),
            "worst_passing": worst, "load_problems": [e.as_dict() for e in problems]},
            indent=2, sort_keys=True))
    return 0 if not failures and all(repeat) and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
