"""Cost of verifying the catalogue: per record, in one process, and as a whole command.

Each record of the shipped catalogue is verified (default trials and seed)
``--repeat`` times; its cost is the median of those runs.  The script prints
the median, 90th percentile and maximum over the records, their total (the
in-process cost of the record loop), the slowest records, and, measured in the
same run in fresh interpreters, the median time of ``import sympy`` and of a
whole ``python -m matident verify`` (``--runs`` runs each, interleaved): with
its default ``--jobs`` (the usable CPUs, at most 4), with ``--jobs 1``, and,
with ``--baseline REV``, the command of that git revision on its own catalogue
(a ratio against it is printed), both with their bytecode compiled first.
It also checks that verification never imports SymPy.  Goals: a median of at
most 5 ms per record, and the whole command under 2 s (issue 16).  Timings on
a machine shared with other work vary: quote the medians with the load
(``uptime``).

    python benchmarks/bench_verify.py [--repeat 5] [--runs 5] [--baseline main] [FILE ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import at_rev  # noqa: E402
from seeds import load_records  # noqa: E402

GOAL_MS = 5.0
GOAL_CLI_S = 2.0
IMPORT_SYMPY = "import time; t = time.perf_counter(); import sympy; print(time.perf_counter() - t)"
NO_SYMPY = ("import sys; from matident.catalogue import catalogue; from matident.verify import verify; "
            "verify(list(catalogue())[:50]); print('sympy' in sys.modules)")


def _fresh(code, runs):
    """Median wall time of ``code`` as printed by fresh interpreters."""
    out = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout) for _ in range(runs)]
    return statistics.median(out)


def _cli(commands, runs):
    """Median wall time of each command (name -> (argv, environment)), the runs interleaved
    so that a change in the machine's load falls on all of them alike; one untimed run each
    first (it fills the disk cache of a catalogue)."""
    times = {name: [] for name in commands}
    for timed in [False] + [True] * runs:
        for name, (argv, env) in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env)
            if timed:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="runs of each whole command")
    parser.add_argument("--baseline", metavar="REV", help="also time the command of this git revision")
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
    with tempfile.TemporaryDirectory() as tmp:
        here = [sys.executable, "-m", "matident", "verify", *args.files]
        commands = {"default --jobs": (here, None), "--jobs 1": (here + ["--jobs", "1"], None)}
        if args.baseline:
            at_rev.extract(args.baseline, tmp)
            # its own disk cache: with the same catalogue modules and files it would share the
            # entry's key, and each package would rebuild the entry the other wrote
            env = {**os.environ, "PYTHONPATH": tmp, "MATIDENT_CACHE_DIR": str(Path(tmp) / "cache")}
            commands[f"at {args.baseline}"] = ([sys.executable, "-m", at_rev.NAME, "verify", *args.files], env)
        # bytecode for both packages, as an installed one has (where PYTHONDONTWRITEBYTECODE is
        # set, each run would otherwise compile every module: some 50 ms)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(at_rev.ROOT / "matident"), tmp],
                       capture_output=True, check=True)
        cli = _cli(commands, args.runs)
    print(f"python -m matident verify (median of {args.runs}, interleaved; "
          f"{os.getloadavg()[0]:.2f} load average after):")
    for name, seconds in cli.items():
        ratio = f" = {seconds / cli[f'at {args.baseline}']:.2f} x the baseline" if args.baseline else ""
        print(f"  {name:<16} {seconds:.2f} s{ratio}")
    imported = subprocess.run([sys.executable, "-c", NO_SYMPY], capture_output=True, text=True).stdout.strip()
    print(f"verification imports sympy: {imported}")
    print(f"goal median <= {GOAL_MS} ms: {'met' if median <= GOAL_MS else 'NOT met'}")
    whole = cli["default --jobs"]
    print(f"goal whole command < {GOAL_CLI_S} s: {'met' if whole < GOAL_CLI_S else 'NOT met'}")
    return 0 if median <= GOAL_MS and whole < GOAL_CLI_S and imported == "False" else 1


if __name__ == "__main__":
    sys.exit(main())
