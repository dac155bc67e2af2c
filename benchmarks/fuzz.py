"""Large-budget run of the property tests (not part of CI's default run).

Runs every property of ``tests/test_properties.py`` with its ``FUZZ`` budget
(random, ``--examples`` per property; the loader properties get a quarter of
it) and reports, per property, the inputs tried, how many gave a value and how
many a MatidentError, the slowest input and any failure.

    python benchmarks/fuzz.py [--examples 20000] [-k NAME]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests" / "test_properties.py"


class _TempDirs:
    """Stands in for pytest's tmp_path_factory."""

    def __init__(self, root):
        self.root = Path(root)

    def mktemp(self, name):
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("-k", default="", help="run only properties whose name contains this")
    args = parser.parse_args(argv)
    os.environ["MATIDENT_HYPOTHESIS"] = "fuzz"
    os.environ["MATIDENT_FUZZ_EXAMPLES"] = str(args.examples)
    spec = importlib.util.spec_from_file_location("test_properties", TESTS)
    props = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(props)

    tests = [(name, fn) for name, fn in vars(props).items()
             if name.startswith("test_") and hasattr(fn, "hypothesis") and args.k in name]
    failed = 0
    with tempfile.TemporaryDirectory() as root:
        for name, fn in tests:
            before = {k: list(v) for k, v in props.STATS.items()}
            start = time.perf_counter()
            try:
                fn(**({"tmp_path_factory": _TempDirs(root)} if "tmp_path_factory" in
                      fn.hypothesis.inner_test.__code__.co_varnames else {}))
                verdict = "ok"
            except Exception:       # report every failing property, then go on
                failed += 1
                verdict = "FAILED"
                traceback.print_exc()
            elapsed = time.perf_counter() - start
            for what, (inputs, values, errors, slowest) in props.STATS.items():
                old = before.get(what, [0, 0, 0, 0.0])
                if inputs > old[0]:
                    print(f"{verdict:6} {name} / {what}: {inputs - old[0]} inputs, {values - old[1]} values, "
                          f"{errors - old[2]} MatidentErrors, slowest {1000 * slowest:.1f} ms, "
                          f"{elapsed:.0f} s")
    print(f"{len(tests) - failed}/{len(tests)} properties hold (limit {1000 * props.LIMIT:.0f} ms per input)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
