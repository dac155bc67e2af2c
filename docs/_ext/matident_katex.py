"""Build-time KaTeX for the matident docs: no math is typeset in the browser.

sphinxcontrib-katex with ``katex_prerender = True`` starts one node process
per build (a small server on a Unix socket) and sends it every formula; the
pages then need only KaTeX's stylesheet and fonts, which we vendor into
``_static/katex``.  This extension keeps that server and replaces the two HTML
visitors so that:

* a formula KaTeX cannot typeset is a Sphinx **warning at its source line**
  (the docs are built with ``-W``, so the build fails) instead of red text on
  a published page;
* the KaTeX options in ``katex_prerender_options`` (macros, strict mode) are
  used -- sphinxcontrib-katex ignores ``katex_options`` when prerendering;
* a formula that occurs many times is typeset once;
* the KaTeX that node runs and the stylesheet the pages load are one release
  (checked when the build starts; a mismatch misplaces glyphs silently);
* the build ends with the count and the time spent typesetting.

Writing is declared not parallel-safe: the node server is per process, and a
forked writer would share its parent's socket.  Reading still runs in
parallel with ``-j``.
"""
from __future__ import annotations

import re
import shutil
import socket
import struct
import time
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

RENDERER = "katex_prerendered"
_JS_VERSION = re.compile(rb'version:"([0-9][^"]*)"')
_CSS_VERSION = re.compile(rb'katex-version:after\{content:"([^"]*)"\}')


class _Stats:
    def __init__(self):
        self.formulas = 0        # formulas met by the writer
        self.rendered = 0        # sent to node (the rest came from the cache)
        self.seconds = 0.0       # wall time spent waiting for node
        self.cache = {}


_stats = _Stats()


def _katex():
    from sphinxcontrib import katex
    return katex


def display_latex(node):
    """The LaTeX of a ``math_block``, as Sphinx's MathJax renderer wraps it.

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
    _stats.formulas += 1
    key = (latex, display)
    if key in _stats.cache:
        return _stats.cache[key]
    katex = _katex()
    options = dict(app.config.katex_prerender_options)
    options.update(displayMode=display, throwOnError=True)
    start = time.perf_counter()
    try:
        html = katex.render_latex(latex, options)
    except katex.KaTeXError as exc:
        logger.warning("KaTeX cannot typeset %r: %s", latex, exc, location=node,
                       type="katex", subtype="render")
        html = f'<span class="math-error">{_escape(latex)}</span>'
    except (OSError, struct.error, socket.timeout) as exc:
        raise ExtensionError(f"the KaTeX node process failed while typesetting {latex!r}: {exc}") from exc
    finally:
        _stats.seconds += time.perf_counter() - start
    _stats.rendered += 1
    _stats.cache[key] = html
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
    if shutil.which(_katex().NODEJS_BINARY) is None:
        raise ExtensionError("KaTeX prerendering needs node on PATH (Node.js 18 or newer); "
                             "install it, e.g. 'apt-get install nodejs'")
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
    # sphinxcontrib-katex resolves a relative katex_js_path against its own
    # package directory; give it ours, absolute.
    _katex().KaTeXServer.katex_path = str(js.resolve())
    _stats.__init__()


def report(app, exception):
    if exception is None and _stats.formulas:
        per = 1000 * _stats.seconds / max(_stats.rendered, 1)
        logger.info("KaTeX: %d formulas, %d typeset by node in %.2f s (%.2f ms each)",
                    _stats.formulas, _stats.rendered, _stats.seconds, per)


def setup(app):
    app.setup_extension("sphinxcontrib.katex")
    app.add_config_value("katex_prerender_options", {}, "html", types=frozenset({dict}))
    app.add_html_math_renderer(RENDERER, inline_renderers=(visit_math, None),
                               block_renderers=(visit_displaymath, None))
    # After sphinxcontrib-katex's own builder-inited handler (priority 500).
    app.connect("builder-inited", check_setup, priority=600)
    app.connect("build-finished", report)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": False}
