"""The ``matident`` package as of a git revision, importable beside the working tree's.

The package at the revision is extracted into a directory as
``matident_at_rev`` (its imports are relative, so it loads beside the current
one), with the identities and schema of that revision beside it: a newer
catalogue may use functions the old package does not know.  To compare like
with like, the A/B benchmarks give the working tree's package the same
records (:func:`identities`).  Used by ``ab_lookup.py``, ``ab_derive.py``,
``bench_scale.py --baseline`` and ``bench_load.py --baseline``.
"""
from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "matident_at_rev"


def extract(rev, workdir):
    """Extract the package at ``rev`` into ``workdir`` (as ``matident_at_rev``); returns workdir."""
    archive = subprocess.run(["git", "archive", rev, "matident", "identities", "schema"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(workdir, filter="data")
    (Path(workdir) / "matident").rename(Path(workdir) / NAME)
    return workdir


def identities(workdir):
    """The revision's identity files (a folder), for the working tree's ``matident.load``."""
    return Path(workdir) / "identities"


def load(workdir):
    """The extracted package's ``(match, derive)`` modules."""
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))
    importlib.import_module(NAME)
    return importlib.import_module(f"{NAME}.match"), sys.modules[f"{NAME}.derive"] \
        if f"{NAME}.derive" in sys.modules else importlib.import_module(f"{NAME}.derive")


def cpu_time(fn, loops):
    """CPU seconds per call of ``fn``, over ``loops`` calls (the A/B scripts' unit of time)."""
    t = time.process_time()
    for _ in range(loops):
        fn()
    return (time.process_time() - t) / loops
