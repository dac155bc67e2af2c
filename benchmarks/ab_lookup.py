"""A/B benchmark of the matcher: ``matident/match.py`` at a git revision against the working tree.

Both versions of the module are loaded into one process and share the rest
of the package, the index and the queries of ``bench_lookup.py``; each query
is timed with both in turn, the order alternating round by round, so that
the machine's drifting speed (several percent between runs here) cancels
out.  Prints the median lookup time of each, their total-time ratio and the
median of the per-query ratios.

Run from the repository root::

    python benchmarks/ab_lookup.py REV        # e.g. HEAD~3
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_lookup import QUERIES  # noqa: E402
from matident import match as current  # noqa: E402
from matident.catalogue import catalogue  # noqa: E402
from matident.index import Index  # noqa: E402


def _module_at(rev, workdir):
    """``matident.match`` as of git revision ``rev``, loaded beside the current one."""
    source = subprocess.run(["git", "show", f"{rev}:matident/match.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(workdir) / "match_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("matident.match_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _cpu(fn, loops):
    t = time.process_time()
    for _ in range(loops):
        fn()
    return (time.process_time() - t) / loops


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="git revision of the baseline matident/match.py")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--loops", type=int, default=4, help="lookups per timing")
    args = ap.parse_args(argv)
    index = Index(list(catalogue()))
    with tempfile.TemporaryDirectory() as tmp:
        versions = [_module_at(args.rev, tmp), current]
        best = [[], []]
        for text, wrt, symbols in QUERIES:
            runs = [[], []]
            for module in versions:
                module.lookup(text, wrt, symbols=symbols, catalogue=index)     # warm memo tables
            for r in range(args.rounds):
                for k in ((0, 1) if r % 2 == 0 else (1, 0)):
                    runs[k].append(_cpu(lambda: versions[k].lookup(text, wrt, symbols=symbols,
                                                                   catalogue=index), args.loops))
            for k in (0, 1):
                best[k].append(min(runs[k]))
    old, new = best
    print(f"{len(QUERIES)} queries, {args.rounds} rounds of {args.loops} lookups")
    print(f"median lookup: {args.rev} {statistics.median(old) * 1e3:.3f} ms, "
          f"working tree {statistics.median(new) * 1e3:.3f} ms")
    print(f"working tree / {args.rev}: total {sum(new) / sum(old):.3f}, "
          f"per-query median {statistics.median(n / o for n, o in zip(new, old)):.3f}")


if __name__ == "__main__":
    main()
