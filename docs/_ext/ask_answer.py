"""What the Ask page (``ask.html``) shows for a query, as JSON: run in the browser by Pyodide.

The page's script (``_static/matident-ask.js``) calls :func:`answer` with the
form's fields, in the formats of the page's URL parameters: ``q`` (an
expression), ``wrt`` (a symbol, optional), ``symbols`` (``NAME:DECL;NAME:DECL``)
and ``order`` (1 or 2).  It returns the ranked matches of
:func:`matident.match.lookup` and, when ``wrt`` is given, the steps of
:func:`matident.derive.derive`, with the LaTeX the page typesets.  A bad
query gives ``{"error": {code, message, hint}}``, never a traceback.

The catalogue and its index come from the pickle written while the docs were
built (:func:`load_snapshot`); numpy is not there, so the numeric check of a
derivation does not run in the page: the answer says so and gives the
command that runs it.  The same function runs under CPython in the tests.
"""
from __future__ import annotations

import json
import pickle
import shlex
from pathlib import Path

from matident.derive import derive
from matident.errors import MatidentError
from matident.match import SumMatch, lookup
from matident.printing import to_latex
from matident.prose import ascii_math_latex, math_runs

MAX_MATCHES = 20           # the page shows this many, and says how many there were
_snapshot = None


def load_snapshot(path):
    """Read (catalogue, index) from the build's pickle (the site's own file, never user input)."""
    global _snapshot
    _snapshot = pickle.loads(Path(path).read_bytes())
    return len(_snapshot[0])


def parse_symbols(text):
    """``"A:spd n;x:vector n"`` -> ``{"A": "spd n", "x": "vector n"}``."""
    out = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, decl = part.partition(":")
        name, decl = name.strip(), decl.strip()
        if not sep or not name or not decl:
            raise MatidentError(f"cannot read the declaration {part.strip()!r}", code="MI010",
                                hint="write NAME:DECLARATION, separated by ';', e.g. A:spd n;x:vector n")
        out[name] = decl
    return out


def _order(text):
    if text in (None, "", 1, "1"):
        return 1
    if text in (2, "2"):
        return 2
    raise MatidentError(f"order must be 1 or 2, got {text!r}", code="MI050",
                        hint="1 for the gradient or Jacobian, 2 for the Hessian")


def prose(text):
    """[[is_math, LaTeX or text], ...]: the page typesets the math parts of a title or condition."""
    return [[m, ascii_math_latex(part) if m else part] for m, part in math_runs(text)]


def page_of(record):
    """The record's permalink, relative to the site's root."""
    return f"identities/{Path(record.file).stem}.html#{record.id}"


def check_command(q, wrt, symbols, order):
    """The one-line command that derives the same thing and checks it numerically."""
    words = ["matident", "derive", q, "--wrt", wrt]
    for name, decl in symbols.items():
        words += ["--symbol", f"{name}={decl}"]
    if order != 1:
        words += ["--order", str(order)]
    return " ".join(shlex.quote(w) for w in words)


def _last_row(aligned):
    r"""The last row of :meth:`Derivation.latex` (``
abla_x f = ...``), without alignment marks."""
    body = aligned.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}")
    return body.split(r" \\ ")[-1].replace("&=", "=")


def answer(q, wrt=None, symbols=None, order=None):
    """The answer to one query, as a JSON string."""
    try:
        return json.dumps(_answer((q or "").strip(), (wrt or "").strip() or None, symbols, order))
    except MatidentError as exc:
        return json.dumps({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint or ""}})


def _answer(q, wrt, symbols_text, order_text):
    if _snapshot is None:
        raise RuntimeError("load_snapshot() was not called")
    cat, index = _snapshot
    if not q:
        raise MatidentError("type an expression", code="MI001",
                            hint="for example tr(A @ X @ B), with wrt X")
    symbols, order = parse_symbols(symbols_text), _order(order_text)
    checked = _numpy_available()     # Pyodide's base has no numpy: then say the check did not run
    found = lookup(q, wrt, symbols=symbols, catalogue=index, check=checked)
    matches = []
    for m in found[:MAX_MATCHES]:
        record = m.identity
        d = m.as_dict()
        matches.append({"id": record.id, "title": record.title, "title_parts": prose(record.title),
                        "kind": d["kind"], "url": page_of(record), "latex": m.latex(), "text": str(m),
                        "result": d["result"], "conditions": [prose(c) for c in m.conditions],
                        "cookbook": list(record.cookbook), "whole": m.whole,
                        "note": _sum_note(m, q, wrt, symbols) if isinstance(m, SumMatch) else ""})
    out = {"matches": matches, "total": len(found), "complete": found.complete,
           "derivation": None}
    if wrt is not None:
        d = derive(q, wrt, symbols=symbols, order=order, catalogue=cat, check=checked)
        steps = []
        for s in d.steps:
            record = cat.by_id.get(s.rule)
            steps.append({"rule": s.rule, "url": page_of(record) if record else None,
                          "description": s.description, "before": s.before, "after": s.after,
                          "latex_before": s.latex_before, "latex_after": s.latex_after})
        out["derivation"] = {
            "what": d.what, "result": d.text, "statement": _last_row(d.latex()),
            "result_latex": to_latex(d.result_expr, d.symbols),
            "steps": steps, "conditions": [prose(c) for c in d.conditions],
            "check": ({"status": "passed", "reason": "checked against finite differences",
                       "command": check_command(q, wrt, symbols, order)} if checked else
                      {"status": "not run",
                       "reason": "numpy is not available in the browser (Pyodide's base ships none), "
                                 "so this result was not checked against finite differences here",
                       "command": check_command(q, wrt, symbols, order)}),
        }
    return out


def _sum_note(m, q, wrt, symbols):
    """What the page says under the answer for a whole sum (:class:`SumMatch`)."""
    terms = f"Term by term (the derivative of a sum is the sum of the derivatives): {m.term_records()}."
    if m.checked == "passed":
        return terms + " Checked against finite differences."
    return (terms + " Not checked numerically here (numpy is not available in the browser); "
            "`" + check_command(q, wrt, symbols, 1).replace("matident derive", "matident lookup", 1)
            + "` checks it.")


def _numpy_available():
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True
