"""The Ask page: matident's ``lookup`` and ``derive`` in the browser, through Pyodide.

``ask.html`` (``docs/ask.rst``) holds the form of :class:`AskForm`; its
script, ``_static/matident-ask.js``, loads Pyodide only when a query is
asked, and answers with :mod:`ask_answer` (beside this file).  When the HTML
build finishes, this extension writes what that script loads, all from this
site (no request leaves it):

* ``_static/pyodide/``: the runtime and standard library of the ``pyodide``
  npm package pinned in ``docs/package.json`` (about 12 MB, 6.5 MB
  compressed), copied from ``docs/node_modules/pyodide``.  ``npm ci --prefix
  docs`` installs it (``.ci/run`` does); the build itself never reaches the
  network, and without the package it stops with that command;
* ``_static/ask/engine.zip``: matident's modules, :mod:`ask_answer` and a
  pickle of the catalogue and its match index as this build loaded and
  verified them (what the package otherwise reads from YAML and its cache);
* ``_static/katex/katex.min.js``: the vendored KaTeX, which typesets the
  answers (the pages themselves are typeset at build time).

Pyodide's base has no numpy, so a derivation is not checked numerically in
the page; the answer says so and gives the command that checks it.
"""
from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json")
EXAMPLES = [   # (label, q, wrt, symbols, order)
    ("tr(A @ X @ B) by X", "tr(A @ X @ B)", "X", "", ""),
    ("log det X", "logdet(X)", "X", "X:spd n", ""),
    ("Woodbury", "inv(A + U @ C @ V)", "", "", ""),
    ("least squares", "norm(A @ x - b)**2", "x", "", ""),
    ("Hessian of a logistic loss", "log(1 + exp(a.T @ x))", "x", "", "2"),
    ("x.T @ A @ x", "x.T @ A @ x", "x", "", ""),
]


def ask_url(q, wrt="", symbols="", order=""):
    """``ask.html?q=...`` relative to the site's root, with the non-empty fields."""
    from urllib.parse import urlencode
    fields = {k: v for k, v in (("q", q), ("wrt", wrt), ("symbols", symbols), ("order", order)) if v}
    return "ask.html?" + urlencode(fields)


def form_html(root, full, macros=None):
    """The Ask form; ``full`` adds the answer region (ask.html), else it submits to ask.html."""
    def esc(text):
        return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;"))
    examples = " ".join(
        f'<a class="mi-ask-example" href="{esc(root + ask_url(q, w, s, o))}" data-q="{esc(q)}" '
        f'data-wrt="{esc(w)}" data-symbols="{esc(s)}" data-order="{esc(o)}">{esc(label)}</a>'
        for label, q, w, s, o in EXAMPLES)
    answer = ('<div id="mi-ask-progress" class="mi-ask-progress" hidden><progress max="4" value="0">'
              '</progress> <span class="mi-ask-progress-text" role="status"></span></div>\n'
              f'<div id="mi-ask-answer" class="mi-ask-answer" aria-live="polite" '
              f'data-katex-macros="{esc(json.dumps(macros or {}))}"></div>\n'
              '<noscript><p>The Ask page runs matident in your browser: it needs JavaScript. '
              'The command line answers the same questions: <code>matident lookup</code>, '
              '<code>matident derive</code>.</p></noscript>\n') if full else ""
    return f"""<form class="mi-ask-form" id="mi-ask-form" action="{esc(root)}ask.html" method="get" role="search" aria-label="Ask matident">
<div class="mi-ask-main"><label for="mi-ask-q">Expression</label>
<input id="mi-ask-q" name="q" type="text" required autocomplete="off" autocapitalize="off" spellcheck="false" placeholder="tr(A @ X @ B)">
<button type="submit">Ask</button></div>
<div class="mi-ask-options">
<span><label for="mi-ask-wrt">with respect to</label> <input id="mi-ask-wrt" name="wrt" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" placeholder="X" size="4"></span>
<span><label for="mi-ask-symbols">symbols</label> <input id="mi-ask-symbols" name="symbols" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" placeholder="A:spd n;x:vector n" size="18"></span>
<span><label for="mi-ask-order">order</label> <select id="mi-ask-order" name="order"><option value="1">1: gradient, Jacobian</option><option value="2">2: Hessian</option></select></span>
</div>
<p class="mi-ask-examples">Try: {examples}</p>
</form>
{answer}"""


class AskForm(SphinxDirective):
    """``.. matident-ask::`` the Ask form; ``:answer:`` adds the answer region (ask.html only)."""

    option_spec = {"answer": lambda arg: True}

    def run(self):
        depth = self.env.docname.count("/")
        macros = self.config.katex_prerender_options.get("macros", {})
        html = form_html("../" * depth, "answer" in self.options, macros)
        return [nodes.raw("", html, format="html")]


def _pyodide_dir(app):
    return Path(app.config.matident_pyodide_path or Path(app.confdir) / "node_modules" / "pyodide")


def check_pyodide(app):
    """Stop early, with the command to run, when the pinned Pyodide is not installed."""
    if app.builder.format != "html":
        return
    folder = _pyodide_dir(app)
    pinned = json.loads(Path(app.confdir, "package.json").read_text())["devDependencies"]["pyodide"]
    meta = folder / "package.json"
    installed = json.loads(meta.read_text())["version"] if meta.is_file() else None
    missing = [f for f in PYODIDE_FILES if not (folder / f).is_file()]
    if installed != pinned or missing:
        found = f"version {installed}" if installed else "nothing"
        raise ExtensionError(
            f"the Ask page needs the pyodide npm package {pinned} in {folder} (found {found}"
            + (f"; missing {', '.join(missing)}" if installed and missing else "")
            + f"): run  npm ci --prefix {app.confdir}")


def engine_zip(catalogue):
    """matident's modules, ask_answer.py and the (catalogue, index) pickle, as zip bytes."""
    import matident
    from matident.index import Index
    package = Path(matident.__file__).resolve().parent
    snapshot = pickle.dumps((catalogue, Index(catalogue)), protocol=pickle.HIGHEST_PROTOCOL)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(name, data):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))   # the same bytes each build
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for path in sorted(package.glob("*.py")):
            add(f"matident/{path.name}", path.read_bytes())
        add("ask_answer.py", (HERE / "ask_answer.py").read_bytes())
        add("snapshot.pickle", snapshot)
    return buffer.getvalue()


def _copy(source, target):
    """Copy unless the target already has the same size and is not older."""
    if target.is_file() and target.stat().st_size == source.stat().st_size \
            and target.stat().st_mtime >= source.stat().st_mtime:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def write_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from matident.sphinxext import current
    static = Path(app.outdir) / "_static"
    folder = _pyodide_dir(app)
    for name in PYODIDE_FILES:
        _copy(folder / name, static / "pyodide" / name)
    _copy(Path(app.confdir, app.config.katex_js_path), static / "katex" / "katex.min.js")
    engine = static / "ask" / "engine.zip"
    engine.parent.mkdir(parents=True, exist_ok=True)
    data = engine_zip(current().catalogue)
    if not engine.is_file() or engine.read_bytes() != data:
        engine.write_bytes(data)
    logger.info("matident_ask: Pyodide %s (%.1f MB) and the engine (%d kB) written to %s",
                json.loads((folder / "package.json").read_text())["version"],
                sum((folder / f).stat().st_size for f in PYODIDE_FILES) / 1e6, len(data) // 1000,
                static.relative_to(app.outdir))


def add_page_script(app, pagename, templatename, context, doctree):
    """The Ask page's script and the KaTeX macros it typesets with, on ask.html only."""
    if pagename == "ask":
        app.add_js_file("matident-ask.js", loading_method="defer")


def setup(app):
    app.add_config_value("matident_pyodide_path", None, "html")
    app.add_directive("matident-ask", AskForm)
    app.connect("builder-inited", check_pyodide)
    app.connect("html-page-context", add_page_script)
    app.connect("build-finished", write_assets)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
