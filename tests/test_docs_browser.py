"""The documentation in a real browser: search, open a result, see typeset math.

Uses the session's build of the site (``sphinx-build -W -b html``, see
``test_docs_offline.py``), serves it with ``http.server`` on 127.0.0.1 (a
free port, in a thread) and drives Debian's Chromium headless through
Playwright (``docs_browser_support.py``):

* the search page lists identities first (``data-record-id``): "logdet" the
  identities about log-determinants; the first result opens on an identity
  whose math is typeset (KaTeX elements, KaTeX's own fonts loaded, no raw
  ``\\frac`` in the visible text);
* twenty queries in words find the right identity in the top 3, each within
  1.5 s of typing and with under 2 MB transferred; "cookbook 101" lists
  exactly the records citing equation 101 (57 is not 157); an expression gets
  a link to the Ask page, on the search page and under the sidebar's box;
* ``?highlight=x`` highlights the page without an error (Sphinx's highlighter
  threw on the theme's hidden SVG icon titles);
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

import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from docs_browser_support import browser, screenshot_dir, site_url, skip_without_chromium  # noqa: F401

pytestmark = skip_without_chromium


def _anchor(href):
    return urlsplit(href).fragment


def _catalogue():
    import matident
    return matident.catalogue()


def identity_results(page, query):
    """The record ids the search page lists for ``query`` (once it shows them), best first."""
    page.wait_for_function("""q => {
        const box = document.getElementById("mi-identity-results");
        return box && box.dataset.searchState === "done" && box.dataset.query === q;
    }""", arg=query)
    return [li.get_attribute("data-record-id")
            for li in page.locator("#mi-identity-results li[data-record-id]").all()]


def _about_log_det(record):
    from matident.sphinxext import search_words
    words = set(search_words(record))
    return "logdet" in words or {"logarithm", "determinant"} <= words


def test_search_logdet_then_open_the_first_identity(site_url, browser, screenshot_dir):
    cat = _catalogue()
    page = browser.page
    page.goto(f"{site_url}/search.html?q=logdet")
    ids = identity_results(page, "logdet")
    page.screenshot(path=str(screenshot_dir / "search-logdet.png"))
    print(f"\nscreenshot of the search for 'logdet': {screenshot_dir / 'search-logdet.png'}")
    assert ids[0] == "logdet-derivative", ids[:5]
    assert all(_about_log_det(cat[i]) for i in ids[:10]), ids[:10]
    # Sphinx's page results follow, without repeating the identities shown above
    browser.page.locator("#search-results p.search-summary").filter(has_text="found").wait_for()
    hrefs = [a.get_attribute("href") for a in page.locator("#search-results ul.search li > a").all()]
    assert not [h for h in hrefs if _anchor(h) in cat], hrefs

    page.locator("#mi-identity-results li[data-record-id] > a").first.click()
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")
    rid = _anchor(page.url)
    assert rid == ids[0] and rid in cat, f"the first result did not open an identity: {page.url}"
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


# query in words -> an identity that must be among the first three results
WORD_QUERIES = {
    "gradient log det": "logdet-derivative",
    "matrix inversion lemma": "woodbury-identity",
    "cookbook 57": "logdet-derivative",
    "hessian least squares": "least-squares-hessian",
    "frobenius norm gradient": "frobenius-norm-derivative",
    "push-through identity": "push-through-identity",
    "Jacobi's formula": "det-derivative",
    "sherman morrison": "sherman-morrison-formula",
    "softmax jacobian": "softmax-jacobian",
    "logistic regression hessian": "logistic-regression-hessian",
    "determinant of a product": "det-of-product",
    "inverse of a product": "inverse-of-product",
    "woodbury": "woodbury-identity",
    "eq 157": "woodbury-identity",
    "derivative of determinant": "det-derivative",
    "gradient of trace": "trace-x-derivative",
    "sigmoid derivative": "sigmoid-scalar-derivative",
    "ridge regression gradient": "ridge-gradient",
    "gaussian log likelihood covariance": "gaussian-nll-covariance-gradient",
    "log det X": "logdet-derivative",
}
SEARCH_SECONDS = 1.5            # the bound, from typing to results (about 0.1 s here)
SEARCH_BYTES = 2_000_000


def test_searches_in_words_find_the_identity(site_url, browser):
    """Each query typed into the search page: the identity in the top 3, fast, and light."""
    page = browser.page
    browser.reset_counts()
    page.goto(f"{site_url}/search.html?q=trace")
    identity_results(page, "trace")
    first_load = browser.bytes
    assert first_load < SEARCH_BYTES, f"the search page and its data weigh {first_load} bytes"
    box = page.locator("#mi-search-input")
    timings, misses = {}, []
    for query, expected in WORD_QUERIES.items():
        browser.reset_counts()
        start = time.perf_counter()
        box.fill(query)
        ids = identity_results(page, query)
        timings[query] = time.perf_counter() - start
        assert browser.bytes < SEARCH_BYTES, (query, browser.bytes)
        if expected not in ids[:3]:
            misses.append(f"{query!r}: {expected} not in {ids[:3]}")
    print("\nsearch, seconds from typing to results: " + ", ".join(
        f"{q!r} {t:.2f}" for q, t in timings.items()) + f"; first page load {first_load / 1e6:.2f} MB")
    assert not misses, "\n".join(misses)
    slow = {q: t for q, t in timings.items() if t > SEARCH_SECONDS}
    assert not slow, f"searches slower than {SEARCH_SECONDS} s: {slow}"


@pytest.mark.parametrize("words, number", [("cookbook 101", 101), ("eq 101", 101), ("cookbook 57", 57)])
def test_search_cookbook_equation_is_exact(site_url, browser, words, number):
    page = browser.page
    page.goto(f"{site_url}/search.html?q={quote(words)}")
    ids = identity_results(page, words)
    cited = [r.id for r in _catalogue() if number in r.cookbook]
    assert sorted(ids) == sorted(cited), (ids, cited)      # 57 is not 157
    meta = page.locator("#mi-identity-results li .mi-search-meta").first.inner_text()
    assert f"Cookbook eq. " in meta and str(number) in meta


def test_search_errata_lists_the_errata_page_first(site_url, browser):
    hits = browser.search(site_url, "errata")
    assert hits and hits[0][0] == "Errata", hits[:5]


@pytest.mark.parametrize("query, top, ask", [
    ("tr(A X B)", "trace-axb-derivative", {"q": ["tr(A @ X @ B)"]}),
    ("d/dX tr(AXB)", "trace-axb-derivative", {"q": ["tr(A @ X @ B)"], "wrt": ["X"]}),
    ("x.T @ A @ x", "differential-quadratic-form", {"q": ["x.T @ A @ x"]}),
])
def test_search_for_an_expression_offers_to_ask_it(site_url, browser, query, top, ask):
    page = browser.page
    page.goto(f"{site_url}/search.html?q={quote(query)}")
    ids = identity_results(page, query)
    assert top in ids[:3], ids[:5]
    link = page.locator("#mi-identity-results .mi-search-ask a")
    href = link.get_attribute("href")
    assert urlsplit(href).path.endswith("/ask.html") and parse_qs(urlsplit(href).query) == ask, href


def test_sidebar_box_offers_to_ask_an_expression(site_url, browser):
    page = browser.page
    page.goto(f"{site_url}/identities/trace-derivatives.html")
    box = page.locator("input.sidebar-search")
    box.fill("gradient of trace")
    assert page.locator(".mi-sidebar-ask a").count() == 0     # words: no ask link
    box.fill("log(x.T @ A @ x)")
    link = page.locator(".mi-sidebar-ask a")
    assert link.is_visible()
    href = link.get_attribute("href")
    assert href.startswith(f"{site_url}/ask.html?") and parse_qs(urlsplit(href).query) == {"q": ["log(x.T @ A @ x)"]}


def test_highlighting_a_search_word_does_not_throw(site_url, browser):
    """``?highlight=x`` (Sphinx's link from a result): "x" is in the theme's hidden SVG titles."""
    page = browser.page
    page.goto(f"{site_url}/identities/trace-derivatives.html?highlight=x")
    page.wait_for_load_state("load")
    page.locator("span.highlighted").first.wait_for()
    assert page.locator("span.highlighted").count() > 10
    assert page.locator("svg .highlighted, svg rect.highlighted").count() == 0
    # browser.check_clean() (the fixture) fails on the TypeError the highlighter used to throw


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
