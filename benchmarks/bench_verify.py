"""Cost of verifying one record, beside the cost of ``import sympy``.

Each record of the shipped catalogue is verified (default trials and seed)
``--repeat`` times; its cost is the median of those runs.  The script prints
the median, 90th percentile and maximum over the records, the slowest records,
and, measured in the same run in fresh interpreters, the median time of
``import sympy`` and of a whole ``python -m matident verify``.  It also checks
that verification never imports SymPy.  Goal: a median of at most 5 ms.

    python benchmarks/bench_verify.py [--repeat 5] [FILE ...]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seeds import load_records  # noqa: E402

GOAL_MS = 5.0
IMPORT_SYMPY = "import time; t = time.perf_counter(); import sympy; print(time.perf_counter() - t)"
NO_SYMPY = ("import sys; from matident.catalogue import catalogue; from matident.verify import verify; "
            "verify(list(catalogue())[:50]); print('sympy' in sys.modules)")


def _fresh(code, runs):
    """Median wall time of ``code`` as printed by fresh interpreters."""
    out = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout) for _ in range(runs)]
    return statistics.median(out)


def _cli(runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "matident", "verify"], capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from matident.verify import check_record
    records, problems = load_records(args.files)
    for err in problems:
        print(f"not loaded: {err}")
    costs = {}
    for record in records:
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            check_record(record)
            runs.append(time.perf_counter() - start)
        costs[record.id] = 1000 * statistics.median(runs)
    ordered = sorted(costs.values())
    median = statistics.median(ordered)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    by_kind = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(costs[record.id])

    sympy_s = _fresh(IMPORT_SYMPY, 5)
    print(f"{len(records)} records, {args.repeat} runs each (default trials and seed)")
    print(f"verification per record: median {median:.2f} ms, 90th percentile {p90:.2f} ms, "
          f"max {ordered[-1]:.2f} ms, total {sum(ordered) / 1000:.2f} s")
    for kind, values in sorted(by_kind.items()):
        print(f"  {kind:<12} {len(values):>4} records, median {statistics.median(values):.2f} ms")
    print("slowest records:")
    for rid, cost in sorted(costs.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {cost:7.2f} ms  {rid}")
    print(f"import sympy (fresh interpreter, median of 5): {1000 * sympy_s:.0f} ms "
          f"= {1000 * sympy_s / median:.0f} median record verifications")
    print(f"python -m matident verify, whole catalogue (median of 3): {_cli(3):.2f} s")
    imported = subprocess.run([sys.executable, "-c", NO_SYMPY], capture_output=True, text=True).stdout.strip()
    print(f"verification imports sympy: {imported}")
    print(f"goal median <= {GOAL_MS} ms: {'met' if median <= GOAL_MS else 'NOT met'}")
    return 0 if median <= GOAL_MS and imported == "False" else 1


if __name__ == "__main__":
    sys.exit(main())
