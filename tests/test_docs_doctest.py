"""The examples of the docs run: ``sphinx-build -b doctest``.

Runs every ``>>>`` example of the site -- the docstrings of the API reference
and the ``doctest`` blocks of the guide -- against the installed matident.
It reuses the environment of the session's HTML build (``-d``), so the
pages are not read twice.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import DOCS, ROOT


def test_examples_in_the_docs_run(docs_build, tmp_path_factory):
    _, doctrees = docs_build
    out = tmp_path_factory.mktemp("doctest")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--no-color", "-q", "-b", "doctest", "-d", str(doctrees),
           str(DOCS), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    report = (out / "output.txt").read_text(encoding="utf-8") if (out / "output.txt").exists() else ""
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}\n{report}"
    tested = sum(int(n) for n in __import__("re").findall(r"^(\d+) tests in ", report, flags=8))
    assert tested >= 15, f"only {tested} examples ran:\n{report}"
