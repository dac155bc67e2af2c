"""Coverage of The Matrix Cookbook: which equations the catalogue states.

The files ``identities/coverage/*.yaml`` (not loaded as records) declare
chapter ranges and explain the equations no record cites::

    chapters:
      - {chapter: 2, title: Derivatives, first: 33, last: 144}
    not_covered:
      - {eq: 128, reason: 'not expressible: matrix sine and cosine'}

Several files may contribute to one chapter.  For every equation of every
declared chapter, :func:`coverage` reports the ids of the records citing it
(``cookbook:``) or the reason it is left out, and flags inconsistencies:
an equation both cited and explained, an equation neither cited nor
explained, a reason for an equation outside every chapter, and malformed or
contradictory coverage files.  ``matident coverage`` prints the table and a
summary per chapter, and exits 1 when anything is unexplained or inconsistent.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

CITED, NOT_COVERED, UNEXPLAINED, CONFLICT = "cited", "not covered", "unexplained", "conflict"


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    first: int
    last: int
    file: str

    def __contains__(self, eq):
        return self.first <= eq <= self.last

    @property
    def label(self):
        return f"chapter {self.number} (eqs {self.first}\u2013{self.last})"


@dataclass(frozen=True)
class Equation:
    """One equation number: the records citing it and/or why it is left out."""
    eq: int
    chapter: int
    ids: tuple = ()
    reason: str | None = None

    @property
    def status(self):
        if self.ids and self.reason:
            return CONFLICT
        if self.ids:
            return CITED
        return NOT_COVERED if self.reason else UNEXPLAINED


@dataclass(frozen=True)
class Problem:
    """An inconsistency; ``eq``/``chapter`` say what it concerns (None: a whole file)."""
    message: str
    file: str | None = None
    eq: int | None = None
    chapter: int | None = None

    def __str__(self):
        return f"{self.file}: {self.message}" if self.file else self.message


@dataclass
class CoverageReport:
    """Equations of the declared chapters, in order, and the problems found."""
    chapters: list
    equations: list
    problems: list = field(default_factory=list)

    def for_chapter(self, number):
        """The same report restricted to one chapter."""
        return CoverageReport([c for c in self.chapters if c.number == number],
                              [e for e in self.equations if e.chapter == number],
                              [p for p in self.problems if p.chapter in (None, number)])

    def summary(self, chapter):
        """Counts for one chapter: total, cited, not covered, unexplained, conflicts."""
        eqs = [e for e in self.equations if e.chapter == chapter.number]
        count = {s: sum(1 for e in eqs if e.status == s) for s in (CITED, NOT_COVERED, UNEXPLAINED, CONFLICT)}
        cited = count[CITED] + count[CONFLICT]
        return {"chapter": chapter.number, "title": chapter.title, "first": chapter.first,
                "last": chapter.last, "total": len(eqs), "cited": cited,
                "not_covered": count[NOT_COVERED], "unexplained": count[UNEXPLAINED],
                "conflicts": count[CONFLICT], "percent": round(100.0 * cited / len(eqs), 1)}

    @property
    def unexplained(self):
        return [e for e in self.equations if e.status == UNEXPLAINED]

    @property
    def ok(self):
        return not self.problems and not self.unexplained

    def as_dict(self):
        return {"chapters": [self.summary(c) for c in self.chapters],
                "equations": [{**asdict(e), "ids": list(e.ids), "status": e.status} for e in self.equations],
                "problems": [asdict(p) for p in self.problems],
                "ok": self.ok}

    def to_json(self):
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def summary_line(self, chapter):
        s = self.summary(chapter)
        line = f"{chapter.label}: {s['cited']}/{s['total']} cited ({s['percent']:.1f} %)"
        extra = [f"{s['not_covered']} not covered"]
        if s["unexplained"]:
            extra.append(f"{s['unexplained']} unexplained")
        if s["conflicts"]:
            extra.append(f"{s['conflicts']} cited and listed as not covered")
        return f"{line}, {', '.join(extra)}"

    def __str__(self):
        lines = []
        for chapter in self.chapters:
            lines.append(f"{chapter.label}: {chapter.title}")
            for e in self.equations:
                if e.chapter != chapter.number:
                    continue
                if e.status == CITED:
                    text = ", ".join(e.ids)
                elif e.status == NOT_COVERED:
                    text = " ".join(e.reason.split())
                elif e.status == CONFLICT:
                    text = f"{', '.join(e.ids)} -- but also listed as not covered"
                else:
                    text = "neither cited by a record nor explained"
                lines.append(f"  {e.eq:>4}  {e.status.upper() if e.status in (UNEXPLAINED, CONFLICT) else e.status:<12} {text}")
        lines += [self.summary_line(c) for c in self.chapters]
        return "\n".join(lines)


# -- reading the coverage files -------------------------------------------------------

def coverage_dir():
    """The shipped ``identities/coverage`` folder."""
    from .catalogue import data_dir
    return data_dir("identities") / "coverage"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _read(path, problems):
    """(chapters, [(eq, reason)]) from one coverage file; malformed parts become problems."""
    from .catalogue import read_yaml
    file = path.name
    try:
        data = read_yaml(path)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        problems.append(Problem(f"cannot read coverage file: {exc}", file))
        return [], []
    if data is None:
        return [], []
    if not isinstance(data, dict) or set(data) - {"chapters", "not_covered"}:
        problems.append(Problem("a coverage file is a mapping with the keys 'chapters' and "
                                "'not_covered'", file))
        return [], []
    chapters, reasons = [], []
    for item in data.get("chapters") or []:
        if not (isinstance(item, dict) and set(item) == {"chapter", "title", "first", "last"}
                and all(_is_int(item[k]) for k in ("chapter", "first", "last"))
                and isinstance(item["title"], str) and item["first"] <= item["last"]):
            problems.append(Problem(f"malformed chapter entry {item!r}: write "
                                    "{chapter: N, title: T, first: A, last: B} with A <= B", file))
            continue
        chapters.append(Chapter(item["chapter"], item["title"], item["first"], item["last"], file))
    for item in data.get("not_covered") or []:
        if not (isinstance(item, dict) and set(item) == {"eq", "reason"} and _is_int(item["eq"])
                and isinstance(item["reason"], str) and item["reason"].strip()):
            problems.append(Problem(f"malformed not_covered entry {item!r}: write "
                                    "{eq: N, reason: '...'}", file))
            continue
        reasons.append((item["eq"], item["reason"].strip(), file))
    return chapters, reasons


def _merge_chapters(found, problems):
    """One chapter per number; different ranges for one number, or overlapping chapters, are problems."""
    by_number = {}
    for c in found:
        seen = by_number.setdefault(c.number, c)
        if (seen.first, seen.last) != (c.first, c.last):
            problems.append(Problem(f"chapter {c.number} is eqs {c.first}-{c.last} here but "
                                    f"{seen.first}-{seen.last} in {seen.file}", c.file, chapter=c.number))
    chapters = sorted(by_number.values(), key=lambda c: c.first)
    for a, b in zip(chapters, chapters[1:]):
        if b.first <= a.last:
            problems.append(Problem(f"chapters {a.number} and {b.number} overlap "
                                    f"(eqs {b.first}-{min(a.last, b.last)})", b.file, chapter=b.number))
    return sorted(by_number.values(), key=lambda c: c.number)


def coverage(catalogue=None, *, folder=None):
    """The :class:`CoverageReport` of ``catalogue`` (default: the shipped one).

    ``folder`` holds the coverage files (default ``identities/coverage``).
    """
    if catalogue is None:
        from .catalogue import catalogue as shipped
        catalogue = shipped()
    folder = Path(folder) if folder is not None else coverage_dir()
    problems, found, reasons = [], [], []
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        problems.append(Problem(f"coverage files end in .yaml; this one is not read (rename it to "
                                f"{path.stem}.yaml)", path.name))
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        chapters, entries = _read(path, problems)
        found += chapters
        reasons += entries
    chapters = _merge_chapters(found, problems)
    chapter_of = {}
    for c in chapters:
        for eq in range(c.first, c.last + 1):
            chapter_of.setdefault(eq, c.number)

    explained = {}
    for eq, reason, file in reasons:
        if eq not in chapter_of:
            problems.append(Problem(f"eq {eq} is listed as not covered but lies outside every "
                                    "declared chapter", file, eq=eq))
        elif eq in explained:
            problems.append(Problem(f"eq {eq} is listed as not covered twice (also in "
                                    f"{explained[eq][1]})", file, eq=eq, chapter=chapter_of[eq]))
        else:
            explained[eq] = (reason, file)

    cited = {}
    for record in catalogue:
        for eq in record.cookbook:
            cited.setdefault(eq, []).append(record.id)

    equations = []
    for c in chapters:
        for eq in range(c.first, c.last + 1):
            reason, file = explained.get(eq, (None, None))
            e = Equation(eq, c.number, tuple(cited.get(eq, ())), reason)
            if e.status == CONFLICT:
                problems.append(Problem(f"eq {eq} is cited by {', '.join(e.ids)} and listed as not "
                                        "covered", file, eq=eq, chapter=c.number))
            equations.append(e)
    return CoverageReport(chapters, equations, problems)


# -- command line -------------------------------------------------------------------------

def register(subparsers):
    """Add ``matident coverage`` to the CLI (called by :mod:`matident.cli`)."""
    p = subparsers.add_parser(
        "coverage", help="which Cookbook equations the catalogue states, and why not the others",
        description="For every equation of the chapters declared in identities/coverage/, list "
                    "the records citing it or the reason it is not covered.  Exit code 1 when an "
                    "equation is unexplained or the coverage data is inconsistent.")
    p.add_argument("--chapter", type=int, metavar="N", help="only chapter N")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.set_defaults(func=cmd_coverage)


def cmd_coverage(args):
    report = coverage()
    if args.chapter is not None:
        if args.chapter not in {c.number for c in report.chapters}:
            known = ", ".join(str(c.number) for c in report.chapters) or "none"
            print(f"matident: error: no coverage data for chapter {args.chapter} "
                  f"(chapters: {known})", file=sys.stderr)
            return 2
        report = report.for_chapter(args.chapter)
    if args.json:
        print(report.to_json())
    else:
        print(report)
    for problem in report.problems:
        print(f"matident coverage: error: {problem}", file=sys.stderr)
    if report.unexplained:
        print(f"matident coverage: {len(report.unexplained)} equation(s) neither cited nor explained: "
              + ", ".join(str(e.eq) for e in report.unexplained), file=sys.stderr)
    return 0 if report.ok else 1
