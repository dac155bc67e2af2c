"""The documentation in a real browser: search, open a result, see typeset math.

Uses the session's build of the site (``sphinx-build -W -b html``, see
``test_docs_offline.py``), serves it with ``http.server`` on 127.0.0.1 (a
free port, in a thread) and drives Debian's Chromium headless through
Playwright:

* searching "logdet" with Sphinx's search page lists the identities about
  log-determinants first; the first result opens on an identity whose math
  is typeset (KaTeX elements, KaTeX's own fonts loaded, no raw ``\\frac`` in
  the visible text);
* "kronecker" lists Kronecker-product identities first, and "cookbook 101"
  the records citing equation 101 of the Cookbook;
* the catalogue's table filters as you type;
* no request went to a host other than 127.0.0.1 (such requests are also
  blocked, so the tests never depend on the network), nothing failed to
  load and the console shows no errors.

Screenshots of the search, of an identity and of the catalogue page are
saved and their paths printed (``pytest -s`` or ``-rP`` shows them).  Set
``MATIDENT_SCREENSHOTS`` to a folder to keep them there.

Needs ``pip install playwright`` (Playwright's own browser download is not
used) and ``apt-get install chromium``; skipped only when
``/usr/bin/chromium`` is absent.
"""
from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000    # the catalogue page is large (all identities typeset); a loaded machine is slow

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} is absent (apt-get install chromium)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site_url(docs_build):
    root = docs_build[0]
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory):
    chosen = os.environ.get("MATIDENT_SCREENSHOTS")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


def _is_local(url):
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1"


class Browser:
    """One Chromium page; records every request, failed load and console error."""

    def __init__(self, context):
        self.context = context
        self.requests, self.foreign, self.failures, self.console_errors = [], [], [], []
        context.route("**/*", self._route)
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("requestfailed", lambda r: self.failures.append(f"failed {r.url}: {r.failure}")
                   if _is_local(r.url) else None)
        context.on("response", lambda r: self.failures.append(f"HTTP {r.status} {r.url}")
                   if r.status >= 400 else None)
        context.on("weberror", lambda e: self.console_errors.append(f"uncaught: {e.error}"))
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.on("console", lambda m: self.console_errors.append(
            f"{m.text} ({m.location.get('url', '')})") if m.type == "error" else None)
        self.page.set_default_timeout(TIMEOUT_MS)

    def _route(self, route):
        if _is_local(route.request.url):
            route.continue_()
        else:                       # never let the page reach the network
            self.foreign.append(route.request.url)
            route.abort()

    def search(self, site_url, words):
        """Sphinx's search page for ``words``: the result links (text, href), best first."""
        self.page.goto(f"{site_url}/search.html?q={quote(words)}")
        self.page.locator("#search-results p.search-summary").filter(has_text="found").wait_for()
        self.page.wait_for_load_state("networkidle")
        links = self.page.locator("#search-results ul.search li > a")
        return [(a.inner_text(), a.get_attribute("href")) for a in links.all()]

    def check_clean(self):
        assert self.requests, "the browser made no requests at all"
        assert not self.foreign, "requests to other hosts:\n" + "\n".join(self.foreign)
        assert not self.failures, "failed loads:\n" + "\n".join(self.failures)
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)


@pytest.fixture
def browser(tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright "
                    "(its browser download is not needed; the test uses /usr/bin/chromium)")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),          # a fresh --user-data-dir
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block")
        try:
            b = Browser(context)
            yield b
            b.check_clean()
        finally:
            context.close()


def _anchor(href):
    return urlsplit(href).fragment


def _catalogue():
    import matident
    return matident.catalogue()


def test_search_logdet_then_open_the_first_identity(site_url, browser, screenshot_dir):
    from matident.sphinxext import search_words
    cat = _catalogue()
    hits = browser.search(site_url, "logdet")
    browser.page.screenshot(path=str(screenshot_dir / "search-logdet.png"))
    print(f"\nscreenshot of the search for 'logdet': {screenshot_dir / 'search-logdet.png'}")
    about = {r.id for r in cat if "logdet" in search_words(r)}
    first = [_anchor(href) for _, href in hits[:len(about)]]
    assert set(first) == about, "the first results of 'logdet' are not the logdet identities"
    assert "logdet-derivative" in first[:3], first[:5]

    browser.page.locator("#search-results ul.search li > a").first.click()
    page = browser.page
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")
    rid = _anchor(page.url)
    assert rid == first[0] and rid in cat, f"the first result did not open an identity: {page.url}"
    section = page.locator(f"section[id='{rid}']")
    fonts = page.evaluate(
        """async () => {
             await document.fonts.ready;
             return [...document.fonts]
               .filter(f => f.family.replace(/["']/g, "").startsWith("KaTeX") && f.status === "loaded")
               .map(f => f.family.replace(/["']/g, ""));
           }""")
    shot = screenshot_dir / "identity.png"
    section.screenshot(path=str(shot))
    page.screenshot(path=str(screenshot_dir / "identity-page.png"))
    print(f"screenshot of the first result, {rid} ({page.url}): {shot}")

    assert section.locator(".katex-display .katex-html").first.is_visible(), "the statement is not typeset"
    assert page.locator(".katex-error, .math-error").count() == 0, "KaTeX reported an error"
    assert fonts, "none of KaTeX's fonts was loaded (are the vendored fonts served?)"
    assert section.locator(".mi-status.mi-passed").count() >= 1, "the verification outcome is missing"
    # The text a reader sees: KaTeX's hidden MathML copy is not part of it.
    visible = page.locator("article").first.inner_text()
    for raw in ("\\frac", "\\operatorname", "\\left(", "$$", "\\("):
        assert raw not in visible, f"raw LaTeX {raw!r} is visible on {page.url}"


def test_search_kronecker(site_url, browser):
    from matident.sphinxext import search_words
    hits = browser.search(site_url, "kronecker")
    about = {r.id for r in _catalogue() if "kronecker" in search_words(r)}
    first = {_anchor(href) for _, href in hits[:len(about)]}
    assert first == about, "the first results of 'kronecker' are not the Kronecker identities"


@pytest.mark.parametrize("words", ["cookbook 101", "eq 101"])
def test_search_cookbook_equation(site_url, browser, words):
    hits = browser.search(site_url, words)
    cited = {r.id for r in _catalogue() if 101 in r.cookbook}
    first = hits[:len(cited)]
    assert {_anchor(href) for _, href in first} == cited, first
    assert all(text.endswith("Cookbook eq.101") for text, _ in first), first


def test_catalogue_table_filters(site_url, browser, screenshot_dir):
    page = browser.page
    page.goto(f"{site_url}/catalogue/index.html")
    # the page is large: wait for it and its filter, not for "networkidle", which a
    # persistent Chromium profile may never report on it
    page.wait_for_load_state("load")
    page.locator(".mi-filter-count").wait_for()
    rows = page.locator("table.mi-catalogue tbody tr")
    total = len(_catalogue())
    assert rows.count() == total
    top = screenshot_dir / "catalogue.png"
    page.screenshot(path=str(top))

    box = page.locator("#mi-filter-input")
    box.fill("kronecker trace")
    visible = page.locator("table.mi-catalogue tbody tr:not([hidden])")
    from matident.sphinxext import search_words
    expected = {r.id for r in _catalogue() if {"kronecker", "trace"} <= set(search_words(r))}
    shown = {row.locator("td").first.locator("code").first.inner_text() for row in visible.all()}
    assert expected and expected <= shown and len(shown) < total, shown
    assert page.locator(".mi-filter-count").inner_text() == f"{len(shown)} of {total} identities"
    box.fill("101")
    assert visible.count() == sum(1 for r in _catalogue() if 101 in r.cookbook)
    box.fill("logdet")
    table = screenshot_dir / "catalogue-filtered.png"
    page.locator("section#all-identities").screenshot(path=str(table))
    print(f"\nscreenshots of the catalogue page: {top}, filtered for 'logdet': {table}")
