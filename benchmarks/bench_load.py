"""Lookup gives the same output with and without CPU-burning processes running.

Runs a set of lookups (long sums, a product whose search the work budget
cuts, everyday queries) in a fresh process, then again while two busy-loop
processes burn CPU (each stops by itself after ``--burn`` seconds, and is
stopped as soon as the loaded run ends), then once more without them; every
match's text, the ``complete`` flag and the counted steps must be identical.
With ``--baseline REV`` the same is done with the package as of REV (whose
wall-clock limit made answers depend on the load).  Run from the repository
root::

    python benchmarks/bench_load.py [--baseline 33efaea]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def trace_sum(n):
    return " + ".join(f"tr(A{i} @ X)" for i in range(1, n + 1))


QUERIES = [(trace_sum(8), None), (trace_sum(10), "X"), (trace_sum(16), "X"), (trace_sum(16), None),
           (trace_sum(32), "X"), (" @ ".join(f"A{i}" for i in range(20)), None),
           ("tr(A @ X @ B)", "X"), ("inv(A + U @ C @ V)", None), ("norm(A @ x - b) ** 2", "x"),
           ("tr(X.T @ X) + lam * tr(X)", "X")]

BURN = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"


def worker(workdir):
    """Print every query's output as JSON, with the working tree's package or the one in workdir."""
    if workdir:
        import at_rev
        match, _ = at_rev.load(workdir)
    else:
        sys.path.insert(0, str(ROOT))
        from matident import match
    out = []
    for text, wrt in QUERIES:
        found = match.lookup(text, wrt)
        out.append({"query": text[:40], "wrt": wrt, "matches": [str(m) for m in found],
                    "complete": found.complete, "steps": getattr(found, "steps", None)})
    print(json.dumps(out))


def run(workdir, burners, burn):
    """(outputs, wall seconds) of one worker process, with ``burners`` busy loops running."""
    procs = [subprocess.Popen([sys.executable, "-c", BURN, str(burn)]) for _ in range(burners)]
    try:
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--worker", workdir or ""], capture_output=True,
                              text=True, cwd=ROOT, check=True)
        return json.loads(proc.stdout), time.perf_counter() - t
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def compare(label, workdir, burn):
    idle, t_idle = run(workdir, 0, burn)
    loaded, t_loaded = run(workdir, 2, burn)
    again, t_again = run(workdir, 0, burn)
    print(f"{label}: {len(QUERIES)} lookups in a fresh process: {t_idle:.1f} s, with two CPU burners "
          f"{t_loaded:.1f} s, without again {t_again:.1f} s")
    same = True
    for a, b, c in zip(idle, loaded, again):
        if not (a == b == c):
            same = False
            print(f"  DIFFERENT: {a['query']!r} wrt {a['wrt']}: " + ", ".join(
                f"{len(x['matches'])} matches{'' if x['complete'] else ' (incomplete)'}" for x in (a, b, c)))
    for a in idle:
        steps = f", {a['steps']} steps" if a["steps"] is not None else ""
        print(f"  {a['query']!r:44} wrt {str(a['wrt']):4}: {len(a['matches'])} matches"
              f"{'' if a['complete'] else ' (search cut short)'}{steps}")
    print(f"  outputs identical: {'yes' if same else 'NO'}")
    return same


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="REV", help="also run the package as of REV")
    ap.add_argument("--burn", type=float, default=120.0, help="longest life of a burner (seconds)")
    ap.add_argument("--worker", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    ok = compare("working tree", None, args.burn)
    if args.baseline:
        import at_rev
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MATIDENT_CACHE_DIR"] = "off"
            compare(args.baseline, at_rev.extract(args.baseline, tmp), args.burn)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
