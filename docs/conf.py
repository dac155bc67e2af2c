"""Sphinx configuration of the matident documentation.

Build (warnings are errors)::

    sphinx-build -W -b html docs docs/_build/html

Needs the ``docs`` extra (``pip install -e '.[docs]'``) and ``node`` on PATH:
formulas are typeset at build time with the KaTeX vendored in ``_vendor/``
and ``_static/katex/`` (see ``_vendor/vendor_katex.py``), so the published
pages load nothing from another host.
"""
from __future__ import annotations

import sys
from datetime import date
from importlib import metadata
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# -- Project -----------------------------------------------------------------

project = "matident"
author = "the matident authors"
copyright = f"{date.today().year}, {author}"
try:
    release = metadata.version("matident")
except metadata.PackageNotFoundError:       # building from a checkout that is not installed
    release = "unknown"
version = release

# -- Extensions --------------------------------------------------------------

extensions = [
    "matident_katex",            # docs/_ext: build-time KaTeX (loads sphinxcontrib.katex)
    "matident_langref",          # docs/_ext: tables generated from matident's code
    "matident_ask",              # docs/_ext: the Ask page, matident in the browser (Pyodide)
    "sphinx.ext.autodoc",        # the API reference
    "sphinx.ext.doctest",        # its examples, and those of the guide, run as tests
    # The catalogue: one page per identities/*.yaml, generated into identities/
    # here (git-ignored), and the directives of catalogue/*.rst.
    "matident.sphinxext",
    "sphinx_design",
    "sphinx_copybutton",
]

# Each identity links to its record in the repository ("view" and "edit this record").
matident_repository = "https://github.com/matident/matident"
matident_repository_branch = "main"

# -- API reference and doctests ------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "none"           # the docstrings say what the arguments are
# `sphinx-build -b doctest docs OUT` runs every >>> example: in docstrings and
# in the guide (tests/test_docs_doctest.py).
doctest_global_setup = "import matident\nfrom matident import *"
doctest_test_doctest_blocks = "default"

exclude_patterns = ["_build", "_vendor", "_ext", "node_modules", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"] if (DOCS / "_templates").is_dir() else []
root_doc = "index"
language = "en"
today_fmt = "%Y-%m-%d"
default_role = "code"            # `x` in prose is code, never a broken reference
highlight_language = "python3"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# -- Math: typeset at build time, nothing loaded from elsewhere ---------------

html_math_renderer = "katex_prerendered"    # docs/_ext/matident_katex.py
katex_prerender = True
katex_js_path = "_vendor/katex/katex.min.js"     # relative to this directory; node only
katex_css_path = "katex/katex.min.css"           # relative to _static/
katex_prerender_options = {
    "strict": "error",          # LaTeX KaTeX merely tolerates is a build error too
    "trust": False,
    "macros": {
        r"\R": r"\mathbb{R}",
        r"\tr": r"\operatorname{tr}",
        r"\sym": r"\operatorname{sym}",
        r"\diag": r"\operatorname{diag}",
        r"\vecop": r"\operatorname{vec}",
    },
}
math_number_all = False
math_eqref_format = "({number})"

# -- HTML ----------------------------------------------------------------------

html_theme = "furo"
html_title = f"matident {release}"
html_short_title = "matident"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"      # also spares browsers a 404 for /favicon.ico
html_css_files = ["matident.css"]
html_js_files = [
    "katex/contrib/copy-tex.min.js",   # copying a formula copies its LaTeX
    # identity search, ask links, and the highlight fix: before Sphinx's scripts (priority 200)
    ("matident-search.js", {"priority": 150}),
    "matident-catalogue.js",           # the filter of the catalogue table
]
html_theme_options = {
    "navigation_with_keys": True,
    # Furo draws its icons inline; no font or icon set is fetched from elsewhere.
    "footer_icons": [],
}
html_show_sourcelink = True
html_last_updated_fmt = None
html_search_language = "en"
html_show_search_summary = False        # a summary downloads the result's page: 32 MB for "logdet"
html_search_scorer = str(DOCS / "_ext" / "matident-scorer.js")   # basic rules first among ties

# sphinx-copybutton: copy the command, not the prompt or the output.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True

# sphinx-design: nothing to configure.
