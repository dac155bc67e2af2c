"""The malformed-file corpus: every broken file gives exactly the errors it expects.

Each file in ``tests/malformed/`` ends with ``# expect: <error>`` lines: the
exact one-line messages (``file:line:column: code [record] message (hint: ...)``)
the loader must report for it, in order.  A sub-folder is one case loaded as a
whole (for problems across files, such as a duplicate id).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from matident.catalogue import load
from matident.errors import CODES, CatalogueError

CORPUS = Path(__file__).parent / "malformed"
PREFIX = b"# expect: "


def _cases():
    singles = [[f] for f in sorted(CORPUS.glob("*.yaml"))]
    folders = [sorted(d.glob("*.yaml")) for d in sorted(CORPUS.iterdir()) if d.is_dir()]
    return singles + folders


def _name(files):
    return str(files[0].relative_to(CORPUS).parent if len(files) > 1 else files[0].name)


def _expected(files):
    out = []
    for f in files:
        out += [line[len(PREFIX):].decode("ascii") for line in f.read_bytes().splitlines()
                if line.startswith(PREFIX)]
    return out


def _errors(paths):
    with pytest.raises(CatalogueError) as info:
        load(paths, base=CORPUS)
    return info.value.errors


CASES = _cases()


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert all(_expected(files) for files in CASES), "every case states its expected errors"
    codes = {line.split(": ", 2)[1].split()[0] for files in CASES for line in _expected(files)}
    assert len(codes) >= 15, sorted(codes)


@pytest.mark.parametrize("files", CASES, ids=_name)
def test_file_gives_exactly_its_errors(files):
    errors = _errors(files)
    assert [str(e) for e in errors] == _expected(files)
    for err in errors:
        assert err.code in CODES and err.line >= 1 and err.hint, str(err)


def test_every_error_of_every_file_is_reported_at_once():
    """Loading the whole corpus together reports the union, in file order."""
    files = [f for case in CASES for f in case]
    assert [str(e) for e in _errors(files)] == [line for case in CASES for line in _expected(case)]


def test_catalogue_error_lists_every_problem():
    files = CORPUS / "40-many-errors.yaml"
    with pytest.raises(CatalogueError) as info:
        load(files, base=CORPUS)
    text = str(info.value).splitlines()
    assert text[0] == "4 problems in identity files:"
    assert text[1:] == _expected([files])


def test_cli_reports_every_error_with_exit_code_1():
    files = [str(f.relative_to(CORPUS)) for case in CASES for f in case]
    run = subprocess.run([sys.executable, "-m", "matident", "verify", "--json", *files],
                         cwd=CORPUS, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1
    expected = [line for case in CASES for line in _expected(case)]
    assert [line for line in run.stderr.splitlines() if line.startswith(tuple(files))] == expected
    report = json.loads(run.stdout)
    assert report["invalid"] == len(expected) and report["passed"] == 0
    assert "Traceback" not in run.stderr
