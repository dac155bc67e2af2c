"""matident.sphinxext on a small site: pages from YAML, rebuilds, loud failures.

Each test writes a Sphinx project with two identity files into a temporary
folder (``matident_catalogue_paths`` points the extension at them) and runs
``sphinx-build``, so the extension is tested apart from the real catalogue.
"""
from __future__ import annotations

import html as html_module
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("sphinx")

CONF = """\
extensions = ["matident.sphinxext"]
matident_catalogue_paths = {paths!r}
"""
INDEX = """\
Test
====

.. toctree::
   :glob:

   identities/*

See :identity:`{cite}`.
"""
SUM = """\
# yaml-language-server: $schema=../schema/identity.schema.json
# Transposes, for the test.

# -- sums --

- id: mini-transpose-of-sum
  title: Transpose of a sum
  kind: identity
  symbols: {A: matrix m n, B: matrix m n}
  lhs: (A + B).T
  rhs: A.T + B.T
  tags: [transpose, basic]
"""
TRACE = """\
- id: mini-trace-derivative
  title: Gradient of tr(A X)
  kind: derivative
  symbols: {A: matrix n m, X: matrix m n}
  wrt: X
  lhs: tr(A @ X)
  rhs: A.T
  cookbook: 100
  tags: [trace, linear-form]
"""
MORE = """
- id: mini-trace-x-derivative
  title: Gradient of tr(X)
  kind: derivative
  symbols: {X: matrix n n}
  wrt: X
  lhs: tr(X)
  rhs: I
  cookbook: 99
  tags: [trace]
"""


@pytest.fixture
def project(tmp_path):
    """A project folder with files sum.yaml and trace.yaml; returns a builder."""
    src, data = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    data.mkdir()
    (data / "sum.yaml").write_text(SUM, encoding="utf-8")
    (data / "trace.yaml").write_text(TRACE, encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(paths=[str(data)]), encoding="utf-8")
    (src / "index.rst").write_text(INDEX.replace("{cite}", "mini-trace-derivative"), encoding="utf-8")

    def build(*extra, check=True):
        cmd = [sys.executable, "-m", "sphinx", "-W", "--no-color", "-b", "html", *extra, str(src), str(tmp_path / "out")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            pytest.fail(f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}")
        return proc
    build.src, build.data, build.out = src, data, tmp_path / "out"
    return build


def read_docs(output):
    return set(re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)", output))


def test_one_page_per_file_with_every_record(project):
    project()
    pages = project.src / "identities"
    assert sorted(p.name for p in pages.glob("*.rst")) == ["sum.rst", "trace.rst"]
    assert (pages / ".gitignore").read_text().strip().endswith("*")
    stub = (pages / "sum.rst").read_text()
    assert ".. mi:identity:: mini-transpose-of-sum" in stub and "Sums\n----" in stub
    html = (project.out / "identities" / "trace.html").read_text()
    assert 'id="mini-trace-derivative"' in html
    text = html_module.unescape(re.sub(r"<[^>]+>", "", html))
    assert "lhs: tr(A @ X)" in text and 'matident.lookup("tr(A @ X)", wrt="X"' in text
    index = (project.out / "index.html").read_text()
    assert 'href="identities/trace.html#mini-trace-derivative"' in index


def test_editing_a_file_rereads_its_page_only(project):
    project()
    stubs = {p.name: p.stat().st_mtime_ns for p in (project.src / "identities").glob("*.rst")}
    trace = project.data / "trace.yaml"
    trace.write_text(TRACE.replace("Gradient of tr(A X)", "Gradient of the trace of A X"), encoding="utf-8")
    later = os.stat(trace).st_mtime + 2
    os.utime(trace, (later, later))
    proc = project()
    assert read_docs(proc.stdout) == {"identities/trace"}
    assert "Gradient of the trace of A X" in (project.out / "identities" / "trace.html").read_text()
    # The page's text (ids and sections) did not change: it was not rewritten.
    assert {p.name: p.stat().st_mtime_ns for p in (project.src / "identities").glob("*.rst")} == stubs


def test_a_new_record_rewrites_its_page_and_a_removed_file_its_page_goes(project):
    project()
    sum_stub = project.src / "identities" / "sum.rst"
    before = sum_stub.stat().st_mtime_ns
    (project.data / "trace.yaml").write_text(TRACE + MORE, encoding="utf-8")
    project()
    assert "mini-trace-x-derivative" in (project.src / "identities" / "trace.rst").read_text()
    assert sum_stub.stat().st_mtime_ns == before
    (project.data / "sum.yaml").unlink()
    project()
    assert not sum_stub.exists()


def test_an_invalid_catalogue_stops_the_build_with_the_loaders_message(project):
    (project.data / "sum.yaml").write_text(SUM.replace("tags: [transpose, basic]", "tags: [transposes]"),
                                           encoding="utf-8")
    proc = project(check=False)
    assert proc.returncode != 0
    assert "MI022" in proc.stderr and "unknown tag 'transposes'" in proc.stderr
    assert "sum.yaml:12" in proc.stderr


def test_citing_an_unknown_identity_is_an_error(project):
    (project.src / "index.rst").write_text(INDEX.replace("{cite}", "no-such-identity"), encoding="utf-8")
    proc = project(check=False)
    assert proc.returncode != 0
    assert "unknown identity id no-such-identity" in proc.stderr


def _search_index(out):
    import json
    text = (out / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_building_twice_into_one_folder_keeps_the_search_index(project):
    """Sphinx 9 dropped the index entries of pages it did not write again (issue 17)."""
    project()
    first = (project.out / "searchindex.js").read_bytes()
    entries = _search_index(project.out)["indexentries"]
    assert {a for hits in entries.values() for _, a, _ in hits} >= {"mini-transpose-of-sum",
                                                                    "mini-trace-derivative"}
    proc = project()
    assert not read_docs(proc.stdout), "nothing changed, yet pages were read again"
    assert _search_index(project.out)["indexentries"] == entries
    assert (project.out / "searchindex.js").read_bytes() == first
    # a change to one file: the other file's entries stay
    (project.data / "trace.yaml").write_text(TRACE + MORE, encoding="utf-8")
    project()
    after = _search_index(project.out)["indexentries"]
    assert {(e, a) for e, hits in entries.items() for _, a, _ in hits} <= \
        {(e, a) for e, hits in after.items() for _, a, _ in hits}
    assert "mini-trace-x-derivative" in {a for hits in after.values() for _, a, _ in hits}


def test_identity_search_data_lists_every_identity(project):
    import json
    project()
    data = json.loads((project.out / "_static" / "matident-identities.json").read_text(encoding="utf-8"))
    rows = {row[0]: row for row in data["records"]}
    assert set(rows) == {"mini-transpose-of-sum", "mini-trace-derivative"}
    rid, title, kind, url, latex, cookbook, strong, weak, lhs, status = rows["mini-trace-derivative"]
    assert (title, kind, url, cookbook, lhs, status) == (
        "Gradient of tr(A X)", "derivative", "identities/trace.html#mini-trace-derivative", [100],
        "tr(A @ X)", "passed")
    assert "gradient" in strong.split() and "trace" in strong.split()
    assert r"\operatorname{tr}" in latex
