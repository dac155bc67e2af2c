"""A/B benchmark of lookup: the ``matident`` package at a git revision against the working tree.

The package as of the revision is extracted into a temporary directory as
``matident_at_rev`` (its imports are relative, so it loads beside the current
one, see ``at_rev.py``) with the identities of the revision, which both
versions read (a newer catalogue may use functions the old package does not
know); each version builds its own index of them.  Each query is timed with both in turn, the order alternating
round by round, so that the machine's drifting speed (several percent between
runs here) cancels out.  Prints the median lookup time of each, their
total-time ratio and the median of the per-query ratios.

Run from the repository root::

    python benchmarks/ab_lookup.py REV        # e.g. HEAD~3
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
from bench_lookup import QUERIES  # noqa: E402

import matident  # noqa: E402
from matident.index import Index  # noqa: E402
from matident.match import lookup  # noqa: E402


def _package_at(rev, workdir):
    """(lookup of the package as of git revision ``rev``, the revision's identity folder)."""
    match, _ = at_rev.load(at_rev.extract(rev, workdir))
    package = sys.modules[at_rev.NAME]
    index = sys.modules[f"{at_rev.NAME}.index"].Index(list(package.catalogue()))
    return (lambda text, wrt, symbols: match.lookup(text, wrt, symbols=symbols, catalogue=index),
            at_rev.identities(workdir))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="git revision of the baseline package")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--loops", type=int, default=4, help="lookups per timing")
    args = ap.parse_args(argv)
    os.environ["MATIDENT_CACHE_DIR"] = "off"          # each version builds its own index
    with tempfile.TemporaryDirectory() as tmp:
        old_lookup, records = _package_at(args.rev, tmp)
        index = Index(list(matident.load(records)))
        versions = [old_lookup, lambda text, wrt, symbols: lookup(text, wrt, symbols=symbols, catalogue=index)]
        best = [[], []]
        for text, wrt, symbols in QUERIES:
            runs = [[], []]
            for version in versions:
                version(text, wrt, symbols)                                   # warm memo tables
            for r in range(args.rounds):
                for k in ((0, 1) if r % 2 == 0 else (1, 0)):
                    runs[k].append(at_rev.cpu_time(lambda: versions[k](text, wrt, symbols), args.loops))
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
