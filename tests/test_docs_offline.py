"""The built documentation: nothing from other hosts, every identity, search.

Builds the site with ``sphinx-build -W -b html`` once per test session (the
browser test uses the same build) and checks that

* no HTML page or stylesheet makes a browser fetch anything -- scripts,
  stylesheets, fonts, images, frames, preloads, CSS ``url()`` and
  ``@import`` -- from another host.  Plain links in prose (``<a
  href="https://arxiv.org/...">``) are fine: nothing is loaded until a
  reader follows them.  Local resources must exist in the build;
* every record of :func:`matident.catalogue` has its section, with its id
  as anchor, on the page of its file, and every page of the catalogue is
  typeset;
* the search index finds identities by operator word, tag and id and holds no
  LaTeX (the search page ranks identities from _static/matident-identities.json,
  test_docs_browser.py);
* the catalogue page is compact, the Errata page has a heading per erratum,
  identities link to their YAML, the home page opens with the Ask box, the
  Ask page's Pyodide and engine are in the site.

Needs the ``docs`` extra and ``node`` (formulas are typeset at build time).
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# <link rel=...> values that make the browser fetch or connect.
LOADING_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest",
                "preload", "modulepreload", "prefetch", "prerender", "preconnect", "dns-prefetch"}
# tag -> attributes holding a URL the browser loads by itself
LOADING_ATTRS = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",),
    "embed": ("src",), "object": ("data",), "source": ("src", "srcset"), "track": ("src",),
    "video": ("src", "poster"), "audio": ("src",), "input": ("src",),
    "image": ("href", "xlink:href"), "use": ("href", "xlink:href"), "feimage": ("href", "xlink:href"),
}
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I | re.S)


def is_external(url):
    """True if fetching ``url`` would contact a host (any host: the site is served locally)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in ("data", "blob", "about", "javascript"):
        return False
    return bool(parts.netloc) or bool(parts.scheme) or url.startswith("//")


def srcset_urls(value):
    return [item.strip().split()[0] for item in value.split(",") if item.strip()]


class ResourceScanner(HTMLParser):
    """Collects (tag, attribute, url) of everything an HTML page makes the browser load."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.resources = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {k.lower(): (v or "") for k, v in attrs}
        tag = tag.lower()
        if tag == "link":
            rels = set(attrs.get("rel", "").lower().split())
            if rels & LOADING_RELS and attrs.get("href"):
                self.resources.append(("link", "href", attrs["href"]))
        for name in LOADING_ATTRS.get(tag, ()):
            if attrs.get(name):
                urls = srcset_urls(attrs[name]) if name == "srcset" else [attrs[name]]
                self.resources += [(tag, name, u) for u in urls]
        if attrs.get("style"):
            self.resources += [(tag, "style", u) for u in css_urls(attrs["style"])]
        if tag == "style":
            self.in_style = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag.lower() == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.resources += [("style", "css", u) for u in css_urls(data)]


def css_urls(text):
    return [m.group(2) if m.group(2) is not None else m.group(4) for m in CSS_URL.finditer(text)]


def page_resources(html):
    scanner = ResourceScanner()
    scanner.feed(html)
    scanner.close()
    return scanner.resources


@pytest.fixture(scope="module")
def site(docs_build):
    return docs_build[0]


def test_scanner_tells_resources_from_prose_links():
    html = """<html><head>
      <link rel="stylesheet" href="https://cdn.example/katex.css">
      <link rel="next" href="https://example.org/next.html">
      <link rel="preconnect" href="https://fonts.example">
      <script src="//cdn.example/x.js"></script><script src="_static/local.js"></script>
      <style>@font-face{src:url("https://fonts.example/a.woff2")}</style>
      </head><body><a href="https://arxiv.org/abs/1911.06491">paper</a>
      <img srcset="a.png 1x, https://img.example/b.png 2x">
      <span style="background:url(data:image/png;base64,AAAA)"></span></body></html>"""
    external = sorted(u for _, _, u in page_resources(html) if is_external(u))
    assert external == ["//cdn.example/x.js", "https://cdn.example/katex.css",
                        "https://fonts.example", "https://fonts.example/a.woff2",
                        "https://img.example/b.png"]


def test_no_page_loads_anything_from_another_host(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 6, f"expected the site's pages in {site}, found {len(pages)}"
    bad = [f"{page.relative_to(site)}: <{tag} {attr}> {url}"
           for page in pages
           for tag, attr, url in page_resources(page.read_text(encoding="utf-8"))
           if is_external(url)]
    assert not bad, "pages load resources from other hosts:\n" + "\n".join(bad)


def test_no_stylesheet_loads_anything_from_another_host(site):
    sheets = sorted(site.rglob("*.css"))
    assert any(s.name == "katex.min.css" for s in sheets), "KaTeX's CSS is not in the build"
    bad = [f"{sheet.relative_to(site)}: {url}"
           for sheet in sheets for url in css_urls(sheet.read_text(encoding="utf-8"))
           if is_external(url)]
    assert not bad, "stylesheets load resources from other hosts:\n" + "\n".join(bad)


def test_local_resources_exist(site):
    """Every script, stylesheet and font the pages and stylesheets name is in the build."""
    missing = []
    for page in sorted(site.rglob("*.html")):
        for tag, attr, url in page_resources(page.read_text(encoding="utf-8")):
            if not is_external(url) and not url.startswith(("data:", "#")):
                target = page.parent / unquote(urlsplit(url).path)
                if not target.is_file():
                    missing.append(f"{page.relative_to(site)}: <{tag} {attr}> {url}")
    for sheet in sorted(site.rglob("*.css")):
        for url in css_urls(sheet.read_text(encoding="utf-8")):
            if not is_external(url) and not url.startswith(("data:", "#")):
                if not (sheet.parent / unquote(urlsplit(url).path)).is_file():
                    missing.append(f"{sheet.relative_to(site)}: {url}")
    assert not missing, "missing local resources:\n" + "\n".join(missing)


def test_math_is_prerendered(site):
    """Formulas arrive as KaTeX HTML; no page ships a math typesetter or raw LaTeX delimiters."""
    html = (site / "conventions.html").read_text(encoding="utf-8")
    assert html.count('class="katex"') >= 10
    assert "katex-error" not in html and "math-error" not in html
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        scripts = [u for tag, _, u in page_resources(text) if tag == "script"]
        assert not [u for u in scripts if re.search(r"katex(\.min)?\.js|mathjax|auto-render", u, re.I)], \
            f"{page.name} loads a client-side math renderer: {scripts}"


def test_vendored_katex_is_one_release():
    """The KaTeX node runs, the CSS the pages load and the pin in package.json agree."""
    pinned = json.loads((DOCS / "package.json").read_text())["devDependencies"]["katex"]
    js = (DOCS / "_vendor" / "katex" / "katex.min.js").read_text(encoding="utf-8")
    css = (DOCS / "_static" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    assert re.search(r'version:"([^"]+)"', js).group(1) == pinned
    assert re.search(r'katex-version:after\{content:"([^"]+)"\}', css).group(1) == pinned
    fonts = {Path(u).name for u in css_urls(css)}
    present = {p.name for p in (DOCS / "_static" / "katex" / "fonts").iterdir()}
    assert fonts and fonts <= present, f"fonts named by katex.min.css are missing: {sorted(fonts - present)}"
    assert {Path(f).suffix for f in fonts | present} == {".woff2"}, "only woff2 fonts are published"


# -- the catalogue on the site --------------------------------------------------

def section_ids(html):
    return set(re.findall(r'<section\b[^>]*\bid="([^"]+)"', html))


def test_every_identity_has_its_section_on_its_page(site):
    import matident
    missing, untypeset = [], []
    for record in matident.catalogue():
        page = site / "identities" / (Path(record.file).stem + ".html")
        html = page.read_text(encoding="utf-8") if page.is_file() else ""
        if record.id not in section_ids(html):
            missing.append(f"{record.id} ({record.file}) not in {page.relative_to(site)}")
    for page in sorted((site / "identities").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        if html.count('class="katex-display"') < len(section_ids(html) & {r.id for r in matident.catalogue()}):
            untypeset.append(page.name)
        if "katex-error" in html or "math-error" in html:
            untypeset.append(page.name)
    assert not missing, "identities without their section:\n" + "\n".join(missing)
    conventions = (site / "identities" / "structured-derivatives.html").read_text(encoding="utf-8")
    assert 'href="../conventions.html#symmetric-gradients"' in conventions
    assert not untypeset, f"pages with statements that are not typeset: {untypeset}"


def test_general_index_lists_every_identity(site):
    import matident
    html = (site / "genindex.html").read_text(encoding="utf-8")
    missing = [r.id for r in matident.catalogue()
               if f'#{r.id}"><strong>{r.id}</strong></a>' not in html]
    assert not missing, f"identities missing from the general index: {missing}"


def test_no_stale_topic_pages(site):
    """One page per identity file: none left over from a file that was removed."""
    import matident
    files = {Path(r.file).stem for r in matident.catalogue()}
    pages = {p.stem for p in (site / "identities").glob("*.html")}
    assert pages == files


def search_index(site):
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def indexed_identities(index, entry):
    """Anchors of the index entries ``entry`` (what search shows for that exact query)."""
    return {anchor for _, anchor, _ in index["indexentries"].get(entry, [])}


def test_search_finds_identities_by_operator_and_tag(site):
    import matident
    from matident.sphinxext import search_words
    index = search_index(site)
    for word in ("logdet", "kronecker", "trace", "determinant", "inverse", "hadamard", "transpose",
                 "norm"):
        expected = {r.id for r in matident.catalogue() if word in search_words(r)}
        assert expected, word
        assert indexed_identities(index, word) == expected, word
    assert "logdet-derivative" in indexed_identities(index, "logdet")
    kron = indexed_identities(index, "kronecker")
    assert {r.id for r in matident.catalogue() if "kron(" in r.lhs_text} <= kron


def test_search_finds_identities_by_id(site):
    import matident
    index = search_index(site)
    missing = [r.id for r in matident.catalogue() if indexed_identities(index, r.id) != {r.id}]
    assert not missing, missing


def test_search_finds_identities_by_title(site):
    import matident
    titles = {}
    for title, hits in search_index(site)["alltitles"].items():     # smart quotes made ' into ’
        titles.setdefault(title.replace("\u2019", "'"), []).extend(hits)
    missing = [r.id for r in matident.catalogue()
               if r.id not in {anchor for _, anchor in titles.get(r.title, [])}]
    assert not missing, missing


def test_search_index_holds_no_latex(site):
    """The catalogue's pages are indexed by their words, not by the LaTeX of their formulas."""
    index = search_index(site)
    pages = {i for i, name in enumerate(index["docnames"]) if name.startswith("identities/")}
    latex = {"frac", "operatornam", "mathrm", "mathbb", "mathbf", "circ", "otim", "lvert", "cdot"}
    found = {}
    for word in latex:
        docs = index["terms"].get(word, [])
        docs = [docs] if isinstance(docs, int) else docs
        if pages & set(docs):
            found[word] = sorted(index["docnames"][i] for i in pages & set(docs))
    assert not found, f"LaTeX in the search index: {found}"


# -- pages people can read and load (issue 17) ------------------------------------

def test_catalogue_page_is_compact(site):
    """One line per identity, statements typeset on demand: under 1 MB (it was 3.7 MB)."""
    import matident
    html = (site / "catalogue" / "index.html").read_text(encoding="utf-8")
    assert len(html.encode()) < 1_000_000, f"catalogue page: {len(html.encode())} bytes"
    assert html.count('class="mi-lazy-math"') == len(matident.catalogue())


def test_errata_page_has_a_heading_per_erratum(site):
    import matident
    html = (site / "catalogue" / "errata.html").read_text(encoding="utf-8")
    errata = [r for r in matident.catalogue() if r.erratum]
    headed = re.findall(r'<section class="mi-errata-item" id="erratum-([^"]+)">\s*<h2>', html)
    assert sorted(headed) == sorted(r.id for r in errata)


def test_each_identity_links_to_its_yaml_and_to_editing_it(site):
    import matident
    record = matident.catalogue()["trace-axb-derivative"]
    html = (site / "identities" / "trace-derivatives.html").read_text(encoding="utf-8")
    repo = "https://github.com/matident/matident"          # docs/conf.py: matident_repository
    assert f'href="{repo}/blob/main/{record.file}#L{record.line}"' in html
    assert f'href="{repo}/edit/main/{record.file}"' in html
    # "View sources" shows the YAML file, not the generated directives
    link = re.search(r'href="([^"]*_sources/identities/trace-derivatives[^"]*)"', html).group(1)
    source = (site / "identities" / link).resolve().read_text(encoding="utf-8")
    assert source == (ROOT / record.file).read_text(encoding="utf-8")


def test_home_page_opens_with_the_ask_box_and_the_topics(site):
    import matident
    html = (site / "index.html").read_text(encoding="utf-8")
    body = html[html.index('<article'):]
    form, topics = body.index('id="mi-ask-form"'), body.index('class="mi-topics')
    assert form < topics and 'action="ask.html"' in body and "<h1>" in body[:form]
    assert "highlight-yaml" not in body[:topics], "the home page opens with a raw YAML record"
    pages = {Path(r.file).stem for r in matident.catalogue()}
    assert {p for p in pages if f'href="identities/{p}.html"' in body[topics:]} == pages


def test_the_readme_build_keeps_doctrees_out_of_the_site():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    builds = [line for line in readme.splitlines() if line.startswith("sphinx-build")]
    assert builds and all(" -d " in line for line in builds), builds


def test_ask_page_and_its_assets_are_in_the_site(site):
    html = (site / "ask.html").read_text(encoding="utf-8")
    assert 'id="mi-ask-answer"' in html and "matident-ask.js" in html
    for name in ("pyodide.mjs", "pyodide.asm.wasm", "pyodide.asm.js", "python_stdlib.zip", "pyodide-lock.json"):
        assert (site / "_static" / "pyodide" / name).is_file(), name
    assert (site / "_static" / "ask" / "engine.zip").is_file()
    assert (site / "_static" / "katex" / "katex.min.js").is_file()
    # the rest of the site stays light: only the Ask page loads its script
    assert "matident-ask.js" not in (site / "index.html").read_text(encoding="utf-8")


def test_numbers_are_not_printed_inside_a_matrix_product():
    """The denominator layout of 2 A^T A was printed "A^T 2 A" (and 8 x x^T "x 8 x^T")."""
    from matident.parse import parse_expr
    from matident.printing import to_latex
    assert to_latex(parse_expr("A.T @ (2 * A)")) == r"2 \left(A^{T} A\right)"
    assert to_latex(parse_expr("x @ (8 * x.T)")) == r"8 \left(x x^{T}\right)"
    assert to_latex(parse_expr("A @ (-3 * B) @ C")) == r"-3 \left(A B C\right)"


def test_no_page_shows_a_number_between_matrix_factors(site):
    """In the TeX of every formula of the catalogue's pages: no "A^{T} 2 A"."""
    bad = re.compile(r"(?:[A-Za-z]|\^\{[^}]*\}) \d+ (?:[A-Za-z]|\\left)")
    found = {}
    for page in sorted((site / "identities").glob("*.html")):
        for tex in re.findall(r'<annotation encoding="application/x-tex">(.*?)</annotation>',
                              page.read_text(encoding="utf-8"), re.S):
            if bad.search(tex.replace("\\\\", " ")):
                found.setdefault(page.name, []).append(tex)
    assert not found, found
