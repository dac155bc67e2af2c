"""A/B benchmark of derive: the ``matident`` package at a git revision against the working tree.

Each case of ``bench_derive.py`` is derived by both versions in turn, the
order alternating round by round, so that the machine's drifting speed
cancels out; times are CPU times (``time.process_time``), the best of each
round's ``--loops`` derivations.  Prints the median derive time of each and
their ratio (total and per-case median).  Run from the repository root::

    python benchmarks/ab_derive.py REV        # e.g. 33efaea
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import at_rev  # noqa: E402
from bench_derive import CASES  # noqa: E402

import matident  # noqa: E402
from matident.derive import derive  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="git revision of the baseline package")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--loops", type=int, default=3, help="derivations per timing")
    ap.add_argument("--no-check", action="store_true",
                    help="the working tree derives with check=False (the engine alone: derive checks its "
                         "result numerically by default since issue 13, the revision may not)")
    args = ap.parse_args(argv)
    os.environ["MATIDENT_CACHE_DIR"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        _, old_derive = at_rev.load(at_rev.extract(args.rev, tmp))
        records = matident.load(at_rev.identities(tmp))       # both versions use the revision's records
        versions = [old_derive.derive,
                    lambda text, wrt, symbols: derive(text, wrt, symbols=symbols, catalogue=records,
                                                      **({"check": False} if args.no_check else {}))]
        best = [[], []]
        for _, text, wrt, decls in CASES:
            for version in versions:
                version(text, wrt, symbols=decls)                   # warm the catalogue and memo tables
            runs = [[], []]
            for r in range(args.rounds):
                for k in ((0, 1) if r % 2 == 0 else (1, 0)):
                    runs[k].append(at_rev.cpu_time(lambda: versions[k](text, wrt, symbols=decls), args.loops))
            for k in (0, 1):
                best[k].append(min(runs[k]))
    old, new = best
    print(f"{len(CASES)} cases of bench_derive.py, {args.rounds} rounds of {args.loops} derivations (CPU time)"
          + (", working tree with check=False" if args.no_check else ""))
    print(f"median derive: {args.rev} {statistics.median(old) * 1e3:.3f} ms, "
          f"working tree {statistics.median(new) * 1e3:.3f} ms")
    print(f"working tree / {args.rev}: total {sum(new) / sum(old):.3f}, "
          f"per-case median {statistics.median(n / o for n, o in zip(new, old)):.3f}")


if __name__ == "__main__":
    main()
