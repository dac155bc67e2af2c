"""Build-time KaTeX for the matident docs: no math is typeset in the browser.

With sphinxcontrib-katex's ``katex_prerender = True`` every formula is
typeset by KaTeX under node while the site is built; the pages then need only
KaTeX's stylesheet and fonts, which we vendor into ``_static/katex``.
sphinxcontrib-katex supplies the configuration (``katex_prerender``,
``katex_js_path``, ``katex_css_path``) and links the stylesheets.  This
extension does the typesetting itself, with one long-lived node process per
Python process (``katex_render.js`` beside this file, a request per line on
its stdin), so that:

* a formula KaTeX cannot typeset is a Sphinx **warning at its source line**
  (the docs are built with ``-W``, so the build fails) instead of red text on
  a published page;
* the KaTeX options in ``katex_prerender_options`` (macros, strict mode) are
  used -- sphinxcontrib-katex ignores ``katex_options`` when prerendering;
* the node process ends when the build does, however it ends: it exits when
  its stdin closes.  (sphinxcontrib-katex's own render server, on a socket,
  outlives a build that is stopped with SIGTERM.)  A forked writer of
  ``sphinx-build -j N`` starts its own process, so parallel builds are safe;
* a formula that occurs many times is typeset once;
* LaTeX source stays out of the search index (``no-search``), so a search
  for "left" or "frac" does not match every page with a formula;
* the KaTeX that node runs and the stylesheet the pages load are one release
  (checked when the build starts: a mismatch misplaces glyphs silently);
* the build ends with the count and the time spent typesetting.

Prerendering costs about 0.1 s to start node, then well under a millisecond
per formula.
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

RENDERER = "katex_prerendered"
SCRIPT = Path(__file__).with_name("katex_render.js")
RENDER_TIMEOUT = 30.0            # seconds for one formula (KaTeX takes ~0.3 ms)
_JS_VERSION = re.compile(rb'version:"([0-9][^"]*)"')
_CSS_VERSION = re.compile(rb'katex-version:after\{content:"([^"]*)"\}')


class KaTeXProcess:
    """A node process running ``katex_render.js``: one request, one reply, per line."""

    def __init__(self, node, katex_js):
        self.proc = subprocess.Popen([node, str(SCRIPT), str(katex_js)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pid = os.getpid()           # the Python process that owns it
        self.buffer = b""

    def render(self, latex, options):
        request = json.dumps({"latex": latex, "options": options}) + "\n"
        try:
            self.proc.stdin.write(request.encode("utf-8"))
        except BrokenPipeError:
            raise self._died() from None
        return json.loads(self._readline())

    def _readline(self):
        deadline = time.monotonic() + RENDER_TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self.close()
                raise ExtensionError(f"KaTeX took more than {RENDER_TIMEOUT:.0f} s for one formula")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._died()
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8")

    def _died(self):
        code = self.proc.wait(timeout=5)
        return ExtensionError(f"the KaTeX node process exited with status {code} "
                              "(its error is printed above)")

    def close(self):
        if self.pid != os.getpid():       # inherited by a fork: the parent owns it
            return
        try:
            self.proc.stdin.close()       # node exits at the end of its input
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class _State:
    def __init__(self):
        self.process = None      # KaTeXProcess of this Python process
        self.node = "node"
        self.katex_js = None
        self.cache = {}
        self.formulas = 0        # formulas met by the writer
        self.rendered = 0        # typeset by node (the rest came from the cache)
        self.seconds = 0.0       # wall time spent waiting for node
        self.first = None        # the first formula's time, which includes starting node

    def renderer(self):
        if self.process is None or self.process.pid != os.getpid():
            self.process = KaTeXProcess(self.node, self.katex_js)
        return self.process


_state = _State()


def display_latex(node):
    """The LaTeX of a ``math_block``, wrapped as Sphinx's MathJax renderer does.

    Equations separated by a blank line become lines of one ``aligned`` block;
    an equation that contains ``\\\\`` is a ``split`` (so ``&`` aligns).
    """
    text = node.astext()
    if node.get("nowrap"):
        return text
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    parts = [r"\begin{split}" + p + r"\end{split}" if r"\\" in p else p for p in parts]
    if len(parts) > 1:
        return r"\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}"
    return parts[0] if parts else ""


def render(app, latex, display, node=None):
    """Typeset ``latex`` with KaTeX in node; on failure warn at ``node``."""
    _state.formulas += 1
    key = (latex, display)
    if key in _state.cache:
        return _state.cache[key]
    options = dict(app.config.katex_prerender_options)
    options.update(displayMode=display, throwOnError=True)
    start = time.perf_counter()
    reply = _state.renderer().render(latex, options)
    elapsed = time.perf_counter() - start
    _state.seconds += elapsed
    if _state.first is None:
        _state.first = elapsed
    if "html" in reply:
        html = reply["html"]
    else:
        logger.warning("KaTeX cannot typeset %r: %s", latex, reply.get("error", reply),
                       location=node, type="katex", subtype="render")
        html = f'<span class="math-error">{_escape(latex)}</span>'
    _state.rendered += 1
    _state.cache[key] = html
    return html


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(render(self.builder.app, node.astext(), False, node))
    self.body.append("</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(render(self.builder.app, display_latex(node), True, node))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def _version(path, pattern):
    match = pattern.search(Path(path).read_bytes())
    return match.group(1).decode() if match else None


def check_setup(app):
    """Fail early, with a fix, when node or the vendored KaTeX files are wrong."""
    if app.builder.format != "html" or app.config.html_math_renderer != RENDERER:
        return
    config = app.config
    if not config.katex_prerender:
        raise ExtensionError("matident_katex needs katex_prerender = True in conf.py")
    node = shutil.which(config.katex_node)
    if node is None:
        raise ExtensionError(f"KaTeX prerendering needs node ({config.katex_node!r}) on PATH, "
                             "Node.js 18 or newer: install it, e.g. 'apt-get install nodejs'")
    js = Path(app.confdir, config.katex_js_path)
    if not js.is_file():
        raise ExtensionError(f"katex_js_path: {js} does not exist (see docs/_vendor/vendor_katex.py)")
    css = next((Path(app.confdir, d, config.katex_css_path) for d in config.html_static_path
                if Path(app.confdir, d, config.katex_css_path).is_file()), None)
    if css is None:
        raise ExtensionError(f"katex_css_path {config.katex_css_path!r} is not a file in "
                             "html_static_path; the pages must load KaTeX's CSS from the site itself")
    js_version, css_version = _version(js, _JS_VERSION), _version(css, _CSS_VERSION)
    if js_version is None or js_version != css_version:
        raise ExtensionError(f"KaTeX {js_version} typesets the formulas but the pages load the CSS of "
                             f"KaTeX {css_version}; re-run docs/_vendor/vendor_katex.py")
    _state.node, _state.katex_js = node, js.resolve()


def keep_out_of_search(app, doctree):
    """LaTeX source is not prose: keep ``\\left``, ``frac``... out of the search index."""
    for node in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block))):
        if "no-search" not in node["classes"]:
            node["classes"].append("no-search")


def finish(app, exception):
    if _state.process is not None:
        _state.process.close()
        _state.process = None
    if exception is None and _state.rendered:
        rest = max(_state.rendered - 1, 1)
        logger.info("KaTeX: %d formulas, %d typeset by node in %.2f s (start-up and first "
                    "formula %.0f ms, then %.2f ms per formula)%s",
                    _state.formulas, _state.rendered, _state.seconds, 1000 * (_state.first or 0),
                    1000 * (_state.seconds - (_state.first or 0)) / rest,
                    " -- counted in the main process only" if app.parallel > 1 else "")


def setup(app):
    app.setup_extension("sphinxcontrib.katex")     # config values, the stylesheet links
    app.add_config_value("katex_prerender_options", {}, "html", types=frozenset({dict}))
    app.add_config_value("katex_node", "node", "html", types=frozenset({str}))
    app.add_html_math_renderer(RENDERER, inline_renderers=(visit_math, None),
                               block_renderers=(visit_displaymath, None))
    # After sphinxcontrib-katex's own builder-inited handler (priority 500).
    app.connect("builder-inited", check_setup, priority=600)
    app.connect("doctree-read", keep_out_of_search)
    app.connect("build-finished", finish)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
