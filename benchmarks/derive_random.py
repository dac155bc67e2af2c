"""derive on thousands of random numpy-style expressions, judged outside matident.

The full-size run of ``tests/test_derive_random.py``: each case is a random
scalar expression of a vector x or a matrix X (``tests/exprgen.py``) with its
own numpy function; a returned gradient is compared with central finite
differences of that function.  Prints the counts (false results must be 0,
refusals below 3 %), the most common refusals and the median derive time.

    python benchmarks/derive_random.py [--cases 2000] [--start 0]
"""
from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import matident  # noqa: E402
from exprgen import random_case  # noqa: E402
from test_derive_random import judge  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    args = parser.parse_args(argv)
    matident.catalogue()
    counts, reasons, false, times = collections.Counter(), collections.Counter(), [], []
    for seed in range(args.start, args.start + args.cases):
        text, wrt, _ = random_case(seed)
        t = time.perf_counter()
        status, text, detail = judge(seed)
        times.append(time.perf_counter() - t)
        counts[status] += 1
        if status == "false":
            false.append((seed, text, detail))
        elif status != "ok":
            reasons[detail.split(" (hint")[0][:110]] += 1
    n = args.cases
    print(f"{n} random expressions (seeds {args.start}..{args.start + n - 1}):")
    for status in ("ok", "false", "refused", "domain", "unsettled"):
        print(f"  {status:8} {counts[status]:6}  ({100 * counts[status] / n:.2f} %)")
    print(f"median time per case (derive with its check, plus the outside judge): "
          f"{statistics.median(times) * 1e3:.1f} ms")
    if reasons:
        print("most common refusals:")
        for reason, k in reasons.most_common(8):
            print(f"  {k:4}  {reason}")
    for seed, text, detail in false[:20]:
        print(f"FALSE seed {seed}: {text}\n   -> {detail}")
    refused = counts["refused"] + counts["domain"]
    return 0 if not false and refused < 0.03 * n else 1


if __name__ == "__main__":
    sys.exit(main())
