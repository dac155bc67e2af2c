"""The documentation in a real browser: search, open a result, see typeset math.

Builds the site (``sphinx-build -W -b html``) into a temporary folder, serves
it with ``http.server`` on 127.0.0.1 (a free port, in a thread) and drives
Debian's Chromium headless through Playwright.  The test searches for
``SEARCH_WORD`` with Sphinx's search page, opens the first result and checks
that

* the math is typeset (KaTeX elements, KaTeX's own fonts loaded, no raw
  ``\\frac`` in the visible text),
* no request went to a host other than 127.0.0.1 (such requests are also
  blocked, so the test never depends on the network),
* nothing failed to load and the console shows no errors.

Screenshots of the search page and of the result are saved; their paths are
printed (``pytest -s`` or ``-rP`` shows them).  Set ``MATIDENT_SCREENSHOTS``
to a folder to keep them there.

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

try:
    from test_docs_offline import build_site
except ImportError:                 # e.g. under --import-mode=importlib
    import importlib.util
    _spec = importlib.util.spec_from_file_location(
        "_matident_test_docs_offline", Path(__file__).with_name("test_docs_offline.py"))
    _offline = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_offline)
    build_site = _offline.build_site

CHROMIUM = Path("/usr/bin/chromium")
SEARCH_WORD = "trace"          # becomes "logdet" once the catalogue pages exist
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} is absent (apt-get install chromium)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    root = build_site(tmp_path_factory.mktemp("docs-html"))
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


@pytest.fixture
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


def test_search_then_open_first_result(site_url, screenshot_dir, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright "
                    "(its browser download is not needed; the test uses /usr/bin/chromium)")

    requests, foreign, failures, console_errors = [], [], [], []

    def route(route):
        if _is_local(route.request.url):
            route.continue_()
        else:                       # never let the page reach the network
            foreign.append(route.request.url)
            route.abort()

    def on_response(response):
        if response.status >= 400:
            failures.append(f"HTTP {response.status} {response.url}")

    def on_console(message):
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),          # a fresh --user-data-dir
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block")
        try:
            context.route("**/*", route)
            context.on("request", lambda r: requests.append(r.url))
            context.on("requestfailed", lambda r: failures.append(f"failed {r.url}: {r.failure}")
                       if _is_local(r.url) else None)
            context.on("response", on_response)
            context.on("weberror", lambda e: console_errors.append(f"uncaught: {e.error}"))
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", on_console)
            page.set_default_timeout(TIMEOUT_MS)

            # 1. Sphinx's search page.
            page.goto(f"{site_url}/search.html?q={quote(SEARCH_WORD)}")
            hits = page.locator("#search-results ul.search li a")
            hits.first.wait_for(state="visible")
            page.wait_for_load_state("networkidle")
            search_png = screenshot_dir / "search.png"
            page.screenshot(path=str(search_png), full_page=True)
            print(f"\nscreenshot of the search for {SEARCH_WORD!r}: {search_png}")
            n_hits = hits.count()
            assert n_hits >= 1, f"no search results for {SEARCH_WORD!r}"
            first_title = hits.first.inner_text()

            # 2. The first result.
            hits.first.click()
            page.wait_for_load_state("load")
            page.wait_for_load_state("networkidle")
            assert urlsplit(page.url).path != "/search.html", "the first result did not open"
            fonts = page.evaluate(
                """async () => {
                     await document.fonts.ready;
                     return [...document.fonts]
                       .filter(f => f.family.replace(/["']/g, "").startsWith("KaTeX")
                                    && f.status === "loaded")
                       .map(f => f.family.replace(/["']/g, ""));
                   }""")
            result_png = screenshot_dir / "first-result.png"
            page.screenshot(path=str(result_png), full_page=True)
            print(f"screenshot of the first result ({first_title!r}, {page.url}): {result_png}")

            katex = page.locator(".katex")
            assert katex.count() >= 1, f"no typeset math on {page.url}"
            assert page.locator(".katex .katex-html").first.is_visible()
            assert page.locator(".katex-error, .math-error").count() == 0, "KaTeX reported an error"
            assert fonts, "none of KaTeX's fonts was loaded (are the vendored fonts served?)"
            # The text a reader sees: KaTeX's hidden MathML copy is not part of it.
            visible = page.locator("article").first.inner_text()
            for raw in ("\\frac", "\\operatorname", "\\left(", "$$", "\\("):
                assert raw not in visible, f"raw LaTeX {raw!r} is visible on {page.url}"
        finally:
            context.close()

    assert requests, "the browser made no requests at all"
    assert not foreign, "requests to other hosts:\n" + "\n".join(foreign)
    assert not failures, "failed loads:\n" + "\n".join(failures)
    assert not console_errors, "console errors:\n" + "\n".join(console_errors)
