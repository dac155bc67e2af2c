"""`matident coverage`: equations cited or explained, inconsistencies flagged, CLI and exit codes."""
import importlib
import json

import pytest

import matident
import matident.coverage as cov
from matident.cli import main

RECORDS = """\
- id: rec-a
  title: Record citing 1 and 2
  kind: identity
  symbols: {A: matrix m n, B: matrix n m}
  lhs: tr(A @ B)
  rhs: tr(B @ A)
  cookbook: [1, 2]
  tags: [trace]
- id: rec-b
  title: Record citing 2
  kind: identity
  symbols: {A: matrix n n}
  lhs: tr(A.T)
  rhs: tr(A)
  cookbook: 2
  tags: [trace]
"""

COMPLETE = """\
chapters:
  - {chapter: 1, title: Basics, first: 1, last: 4}
not_covered:
  - {eq: 3, reason: 'definition, not an identity'}
  - {eq: 4, reason: 'not expressible: complex matrices'}
"""


@pytest.fixture
def setup(tmp_path, write_yaml):
    """Write records and coverage files; return a function giving the report."""
    folder = tmp_path / "coverage"
    folder.mkdir()
    catalogue = matident.load(write_yaml(RECORDS))

    def report(**files):
        for name, text in files.items():
            (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        return cov.coverage(catalogue, folder=folder)
    return report


def test_complete_chapter_lists_ids_and_reasons(setup):
    report = setup(main=COMPLETE)
    assert report.ok and not report.problems and not report.unexplained
    by_eq = {e.eq: e for e in report.equations}
    assert by_eq[1].ids == ("rec-a",) and by_eq[1].status == "cited"
    assert by_eq[2].ids == ("rec-a", "rec-b")
    assert by_eq[3].status == "not covered" and by_eq[3].reason == "definition, not an identity"
    summary = report.summary(report.chapters[0])
    assert (summary["cited"], summary["total"], summary["not_covered"], summary["percent"]) == (2, 4, 2, 50.0)
    text = str(report)
    assert "chapter 1 (eqs 1\u20134): 2/4 cited (50.0 %)" in text
    assert "rec-a, rec-b" in text and "complex matrices" in text


def test_several_files_contribute_to_one_chapter(setup):
    report = setup(a="chapters:\n  - {chapter: 1, title: Basics, first: 1, last: 4}\n"
                     "not_covered:\n  - {eq: 3, reason: 'definition'}\n",
                   b="not_covered:\n  - {eq: 4, reason: 'complex matrices'}\n")
    assert report.ok
    assert [c.number for c in report.chapters] == [1]


def test_equation_neither_cited_nor_explained_is_unexplained(setup):
    report = setup(main="chapters:\n  - {chapter: 1, title: Basics, first: 1, last: 5}\n"
                        "not_covered:\n  - {eq: 3, reason: 'definition'}\n")
    assert [e.eq for e in report.unexplained] == [4, 5]
    assert not report.ok
    assert "2 unexplained" in str(report)


def test_equation_cited_and_listed_as_not_covered_is_an_error(setup):
    report = setup(main=COMPLETE + "  - {eq: 2, reason: 'stale reason'}\n")
    assert not report.ok
    (problem,) = report.problems
    assert problem.eq == 2 and "cited by rec-a, rec-b and listed as not covered" in problem.message
    assert {e.eq: e.status for e in report.equations}[2] == "conflict"


def test_reason_outside_every_chapter_is_an_error(setup):
    report = setup(main=COMPLETE + "  - {eq: 99, reason: 'belongs elsewhere'}\n")
    (problem,) = report.problems
    assert problem.eq == 99 and "outside every declared chapter" in problem.message
    assert problem.file == "main.yaml"


def test_duplicate_reason_is_an_error(setup):
    report = setup(main=COMPLETE, other="not_covered:\n  - {eq: 3, reason: 'again'}\n")
    (problem,) = report.problems
    assert "listed as not covered twice" in problem.message


@pytest.mark.parametrize("text, fragment", [
    ("chapters:\n  - {chapter: 1, first: 1, last: 4}\n", "malformed chapter entry"),
    ("chapters:\n  - {chapter: 1, title: T, first: 5, last: 4}\n", "malformed chapter entry"),
    ("not_covered:\n  - {eq: '3', reason: 'x'}\n", "malformed not_covered entry"),
    ("not_covered:\n  - {eq: 3, reason: ''}\n", "malformed not_covered entry"),
    ("- eq: 3\n", "is a mapping with the keys"),
    ("chapter: [\n", "cannot read coverage file"),
])
def test_malformed_coverage_files_are_errors(setup, text, fragment):
    report = setup(main=COMPLETE, broken=text)
    assert any(fragment in p.message for p in report.problems), report.problems
    assert not report.ok


def test_contradictory_and_overlapping_chapters_are_errors(setup):
    report = setup(main=COMPLETE,
                   other="chapters:\n  - {chapter: 1, title: Basics, first: 1, last: 6}\n"
                         "  - {chapter: 2, title: Next, first: 4, last: 8}\n")
    messages = " | ".join(p.message for p in report.problems)
    assert "chapter 1 is eqs 1-6 here but 1-4" in messages
    assert "chapters 1 and 2 overlap" in messages


def test_for_chapter_restricts_equations_and_problems(setup):
    report = setup(main=COMPLETE, two="chapters:\n  - {chapter: 2, title: Next, first: 10, last: 11}\n")
    assert {e.eq for e in report.for_chapter(1).equations} == {1, 2, 3, 4}
    assert report.for_chapter(1).ok
    assert [e.eq for e in report.for_chapter(2).unexplained] == [10, 11]


def test_cli_exit_codes_json_and_chapter_filter(setup, monkeypatch, capsys, tmp_path):
    report_ok = setup(main=COMPLETE)
    catalogue = matident.load(tmp_path / "records.yaml")
    # matident.catalogue is also the name of a function; import_module gives the module
    monkeypatch.setattr(importlib.import_module("matident.catalogue"), "catalogue", lambda: catalogue)
    monkeypatch.setattr(cov, "coverage_dir", lambda: tmp_path / "coverage")
    assert report_ok.ok
    assert main(["coverage"]) == 0
    out = capsys.readouterr().out
    assert "2/4 cited (50.0 %)" in out
    assert main(["coverage", "--json", "--chapter", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["chapters"][0]["cited"] == 2
    assert [e["eq"] for e in data["equations"]] == [1, 2, 3, 4]
    assert main(["coverage", "--chapter", "7"]) == 2
    assert "no coverage data for chapter 7" in capsys.readouterr().err
    (tmp_path / "coverage" / "more.yaml").write_text(
        "chapters:\n  - {chapter: 2, title: Next, first: 10, last: 10}\n", encoding="utf-8")
    assert main(["coverage"]) == 1
    assert "neither cited nor explained: 10" in capsys.readouterr().err
    assert main(["coverage", "--chapter", "1"]) == 0


# -- the shipped catalogue ----------------------------------------------------------------

def shipped_chapter_2():
    report = cov.coverage()
    return report.for_chapter(2), next(c for c in report.chapters if c.number == 2)


def test_shipped_traces_norms_and_structured_equations_are_accounted_for():
    """Eqs 99-144 (traces, norms, structured matrices) are each cited or explained, never both."""
    report, _ = shipped_chapter_2()
    part = [e for e in report.equations if 99 <= e.eq <= 144]
    assert len(part) == 46
    assert all(e.status in ("cited", "not covered") for e in part), \
        [(e.eq, e.status) for e in part if e.status not in ("cited", "not covered")]


def test_shipped_chapter_2_is_at_least_90_percent_cited():
    report, chapter = shipped_chapter_2()
    assert (chapter.first, chapter.last) == (33, 144)
    assert report.ok, [str(p) for p in report.problems] + [e.eq for e in report.unexplained]
    assert report.summary(chapter)["percent"] >= 90.0
