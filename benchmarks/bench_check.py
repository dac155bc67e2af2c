"""matident.check on the claims of tests/test_claim.py: verdicts, slips named, time per claim.

Every right claim must be judged right and every wrong one wrong; for the wrong
ones, the script counts how often the named slip is the one the claim was
written with.  Times are medians over the claims (the verdict plus, for a
wrong claim, the candidate corrections tried).

    python benchmarks/bench_check.py
"""
from __future__ import annotations

import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from matident.claim import check  # noqa: E402
from test_claim import RIGHT, WRONG  # noqa: E402


def main():
    verdicts, named, times = 0, 0, {"right": [], "wrong": []}
    for expr, wrt, symbols, claim in RIGHT:
        t = time.perf_counter()
        r = check(expr, wrt, claim, symbols=symbols)
        times["right"].append(time.perf_counter() - t)
        verdicts += r.ok
        if not r.ok:
            print(f"WRONG VERDICT (should be right): {expr} d{wrt}: {claim}: {r.diagnosis}")
    for expr, wrt, symbols, claim, slip in WRONG:
        t = time.perf_counter()
        r = check(expr, wrt, claim, symbols=symbols)
        times["wrong"].append(time.perf_counter() - t)
        verdicts += not r.ok
        named += r.slip == slip
        if r.slip != slip:
            print(f"slip not named: {expr} d{wrt}: {claim}: expected {slip}, got {r.slip}: {r.diagnosis}")
    total = len(RIGHT) + len(WRONG)
    print(f"claims: {total} ({len(RIGHT)} right, {len(WRONG)} wrong)")
    print(f"verdicts right: {verdicts}/{total}")
    print(f"slips named: {named}/{len(WRONG)} ({100 * named / len(WRONG):.0f} %)")
    print(f"median time per right claim: {1e3 * statistics.median(times['right']):.1f} ms, "
          f"per wrong claim (with the diagnosis): {1e3 * statistics.median(times['wrong']):.1f} ms")
    return 0 if verdicts == total and named >= 0.9 * len(WRONG) else 1


if __name__ == "__main__":
    sys.exit(main())
