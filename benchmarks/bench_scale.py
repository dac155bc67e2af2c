"""Cost of long sums and products: lookup of 8/16/32-term sums, derive of 100/300-term sums and
20/60-factor products.

For each case: the CPU time (``time.process_time``, median of ``--repeat``
runs after one warm-up), and what the answer was: for lookup whether it is
complete, how many matches, the steps of work it counted and whether the
whole sum got its answer (term by term, checked numerically); for derive
the number of steps, and whether the result passes ``Derivation.check()``
(finite differences).  Lookup's cost is also given in counted steps, the
figure that does not depend on the machine.

With ``--baseline REV`` each case also runs with the package as of REV (in
a separate process, stopped after ``--timeout`` seconds, reading REV's own
identities, so match counts differ where the catalogue grew since), and the
ratio is printed.  Run from the repository root::

    python benchmarks/bench_scale.py [--baseline 33efaea] [--repeat N]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def trace_sum(n):
    return " + ".join(f"tr(A{i} @ X)" for i in range(1, n + 1))


# (name, kind, text, wrt)
CASES = [(f"lookup {n}-term sum, wrt X", "lookup", trace_sum(n), "X") for n in (8, 16, 32)] + \
        [(f"lookup {n}-term sum, no wrt", "lookup", trace_sum(n), None) for n in (8, 16, 32)] + \
        [(f"derive {n}-term sum", "derive", trace_sum(n), "X") for n in (100, 300)] + \
        [(f"derive tr(A1 @ ... @ X), {n} factors", "derive",
          "tr(" + " @ ".join(f"A{i}" for i in range(1, n)) + " @ X)", "X") for n in (20, 60)] + \
        [(f"derive tr(X @ ... @ X), {n} factors", "derive", "tr(" + " @ ".join(["X"] * n) + ")", "X")
         for n in (20, 60)] + \
        [(f"derive (a1.T @ x) * ..., {n} factors", "derive",
          " * ".join(f"(a{i}.T @ x)" for i in range(1, n + 1)), "x") for n in (20, 60)]


def run_case(match, derive_module, kind, text, wrt, repeat):
    """(median CPU seconds, what the answer was) of one case with the given modules."""
    def once():
        if kind == "lookup":
            return match.lookup(text, wrt)
        return derive_module.derive(text, wrt)
    out = once()                                          # warm-up (and the answer)
    times = []
    for _ in range(repeat):
        t = time.process_time()
        once()
        times.append(time.process_time() - t)
    if kind == "lookup":
        what = {"complete": out.complete, "matches": len(out), "steps": getattr(out, "steps", None),
                "whole": any(type(m).__name__ == "SumMatch" for m in out)}   # the whole sum's answer
    else:
        what = {"steps": len(out.steps), "checked": bool(out.check().ok)}
    return statistics.median(times), what


def describe(kind, what):
    if kind == "lookup":
        steps = f", {what['steps']} steps" if what.get("steps") is not None else ""
        whole = ", whole-sum answer (checked)" if what.get("whole") else ""
        return f"{'complete' if what['complete'] else 'INCOMPLETE'}, {what['matches']} matches{steps}{whole}"
    return f"{what['steps']} steps, check {'ok' if what['checked'] else 'FAILED'}"


def worker(workdir, index, repeat):
    """Run case ``index`` with the package extracted in ``workdir``; print JSON."""
    import at_rev
    match, derive_module = at_rev.load(workdir)
    match.lookup("tr(A @ X)", "X")
    derive_module.derive("tr(A @ X)", "X")
    _, kind, text, wrt = CASES[index]
    t, what = run_case(match, derive_module, kind, text, wrt, repeat)
    print(json.dumps({"time": t, "what": what}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", metavar="REV", help="also run each case with the package at REV")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per baseline case")
    ap.add_argument("--worker", nargs=2, metavar=("DIR", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), args.repeat)
    import matident  # noqa: F401
    from matident import match
    derive_module = importlib.import_module("matident.derive")   # the module; matident.derive is the function
    match.lookup("tr(A @ X)", "X")
    derive_module.derive("tr(A @ X)", "X")
    tmp = tempfile.TemporaryDirectory() if args.baseline else None
    if args.baseline:
        import at_rev
        at_rev.extract(args.baseline, tmp.name)
        print(f"{'case':40} {'working tree':>12}  {args.baseline:>12}  ratio   working tree | {args.baseline}")
    else:
        print(f"{'case':40} {'CPU ms':>12}  answer")
    for i, (name, kind, text, wrt) in enumerate(CASES):
        t, what = run_case(match, derive_module, kind, text, wrt, args.repeat)
        if not args.baseline:
            print(f"{name:40} {t * 1e3:12.1f}  {describe(kind, what)}")
            continue
        try:
            proc = subprocess.run([sys.executable, __file__, "--worker", tmp.name, str(i),
                                   "--repeat", str(max(1, args.repeat // 2))],
                                  capture_output=True, text=True, timeout=args.timeout, cwd=ROOT,
                                  env={**os.environ, "MATIDENT_CACHE_DIR": "off"})
            old = json.loads(proc.stdout) if proc.returncode == 0 else None
            old_text = (f"{old['time'] * 1e3:12.1f}  {old['time'] / t:5.1f}x  "
                        if old else f"{'error':>12}  {'':6} ")
            old_what = describe(kind, old["what"]) if old else proc.stderr.strip().splitlines()[-1][:60]
        except subprocess.TimeoutExpired:
            old_text, old_what = f"{'>' + str(int(args.timeout)) + ' s':>12}  {'':6} ", "stopped"
        print(f"{name:40} {t * 1e3:12.1f}  {old_text} {describe(kind, what)} | {old_what}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
