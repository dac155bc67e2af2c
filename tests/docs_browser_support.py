"""What the docs' browser tests share: the site served on 127.0.0.1, Chromium through Playwright.

The site is the session's build (``docs_build`` in conftest.py), served with
``http.server`` in a thread (it sends ``.wasm`` as ``application/wasm``, which
the Ask page's Pyodide needs).  :class:`Browser` drives Debian's Chromium
headless (Playwright's own browser download is not used), records every
request, failed load and console error, and aborts any request to a host other
than 127.0.0.1, so the tests never depend on the network and
:meth:`Browser.check_clean` can assert that nothing left the site.

Test modules import the fixtures they use: ``from docs_browser_support import
site_url, browser, screenshot_dir``.
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
TIMEOUT_MS = 120_000    # generous: a loaded 2-core machine is slow; the figures are reported, not asserted

skip_without_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                           reason=f"{CHROMIUM} is absent (apt-get install chromium)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def serve(root):
    """Serve ``root`` on a free port of 127.0.0.1 in a thread: (url, stop)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-http", daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return f"http://127.0.0.1:{server.server_address[1]}", stop


@pytest.fixture(scope="module")
def site_url(docs_build):
    url, stop = serve(docs_build[0])
    try:
        yield url
    finally:
        stop()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory):
    chosen = os.environ.get("MATIDENT_SCREENSHOTS")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


def is_local(url):
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1"


def _cancelled_by_navigation(request):
    """A font or image the page was still loading when the test moved on to the next page: the
    browser aborts it (net::ERR_ABORTED), which says nothing about the site (a missing file is an
    HTTP error, recorded below; a foreign request is recorded by the route)."""
    return request.failure == "net::ERR_ABORTED" and request.resource_type in ("font", "image")


class Browser:
    """One Chromium page; records every request, failed load and console error."""

    def __init__(self, context):
        self.context = context
        self.requests, self.foreign, self.failures, self.console_errors = [], [], [], []
        self.bytes = 0                     # response bodies received since the last reset()
        context.route("**/*", self._route)
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("requestfailed", lambda r: self.failures.append(f"failed {r.url}: {r.failure}")
                   if is_local(r.url) and not _cancelled_by_navigation(r) else None)
        context.on("response", lambda r: self.failures.append(f"HTTP {r.status} {r.url}")
                   if r.status >= 400 else None)
        context.on("requestfinished", self._count)
        context.on("weberror", lambda e: self.console_errors.append(f"uncaught: {e.error}"))
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.on("console", lambda m: self.console_errors.append(
            f"{m.text} ({m.location.get('url', '')})") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))
        self.page.set_default_timeout(TIMEOUT_MS)

    def _route(self, route):
        if is_local(route.request.url):
            route.continue_()
        else:                       # never let the page reach the network
            self.foreign.append(route.request.url)
            route.abort()

    def _count(self, request):
        try:
            self.bytes += request.sizes()["responseBodySize"]
        except Exception:  # noqa: BLE001 - a request whose page has gone: not counted
            pass

    def reset_counts(self):
        """Count the bytes received from now on (``self.bytes``)."""
        self.bytes = 0

    def search(self, site_url, words):
        """Sphinx's search page for ``words``: the page result links (text, href), best first."""
        self.page.goto(f"{site_url}/search.html?q={quote(words)}")
        self.page.locator("#search-results p.search-summary").filter(has_text="found").wait_for()
        links = self.page.locator("#search-results ul.search li > a")
        return [(a.inner_text(), a.get_attribute("href")) for a in links.all()]

    def check_clean(self):
        assert self.requests, "the browser made no requests at all"
        assert not self.foreign, "requests to other hosts:\n" + "\n".join(self.foreign)
        assert not self.failures, "failed loads:\n" + "\n".join(self.failures)
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)


def launch(pw, profile, **options):
    """A persistent Chromium context on a fresh profile folder (Debian's Chromium)."""
    return pw.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport=options.pop("viewport", {"width": 1280, "height": 900}), service_workers="block",
        **options)


def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright "
                    "(its browser download is not needed; the test uses /usr/bin/chromium)")
    return sync_playwright()


@pytest.fixture
def browser(tmp_path):
    with playwright() as pw:
        context = launch(pw, tmp_path / "chromium-profile")
        try:
            b = Browser(context)
            yield b
            b.check_clean()
        finally:
            context.close()
