"""The Ask page (ask.html) in Debian's Chromium: matident's lookup and derive run by Pyodide.

Each query opens ``ask.html`` with URL parameters (``q``, ``wrt``,
``symbols``, ``order``) in one browser (so Pyodide's files come from the
browser's cache after the first page, as for a reader) and checks the
contract of issue 17:

* ``#mi-ask-answer`` ends in ``data-ask-state="done"`` (or ``"error"`` for a
  bad query, with the engine's message and hint);
* the matches carry ``data-record-id`` in rank order, the same ranking as
  :func:`matident.lookup` in CPython, with the expected identity first;
* a derivation's ``data-derivation-result`` is the text of
  :func:`matident.derive` in CPython, whose numeric check (finite
  differences, numpy) passes -- the page says it did not check it and gives
  the command that does;
* ``window.matident.ask({...})`` answers without reloading, as the form does;
* no request leaves the site, nothing fails to load, the console is clean.

The time to the first answer on a newly opened page (Pyodide loaded from the
browser's cache; the first page also downloads it) and to later answers is
printed; only generous bounds are asserted (``benchmarks/bench_ask.py``
prints medians).
"""
from __future__ import annotations

import statistics
import time
from urllib.parse import urlencode

import pytest

from docs_browser_support import Browser, launch, playwright, screenshot_dir, site_url, skip_without_chromium  # noqa: F401

pytestmark = skip_without_chromium

COLD_LIMIT_S = 120.0       # generous: the target is 10 s on this machine (reported below)
WARM_LIMIT_S = 10.0        # generous: the target is 0.5 s

# (q, wrt, symbols, order, expected first match or None)
LOOKUPS = [
    ("tr(A @ X @ B)", "X", "", "", "trace-axb-derivative"),
    ("inv(A + U @ C @ V)", "", "", "", "woodbury-identity"),
    ("logdet(X)", "X", "X:spd n", "", "logdet-spd-derivative"),
    ("tr(P @ Y @ Q)", "Y", "", "", "trace-axb-derivative"),              # renamed symbols
    ("logdet(S)", "S", "S:spd n", "", "logdet-spd-derivative"),           # renamed
    ("norm(A @ x - b)**2", "x", "", "", "least-squares-gradient"),
    ("tr(A1 @ X) + tr(A2 @ X) + tr(A3 @ X)", "X", "", "", "differential-sum"),   # the whole sum
]
DERIVATIONS = [
    ("log(x.T @ A @ x)", "x", "A:spd n", ""),
    ("x.T @ A @ x", "x", "", "2"),                                        # Hessian
    ("log(1 + exp(a.T @ x))", "x", "", "2"),                              # Hessian
    ("tr(W.T @ M @ W)", "W", "", ""),                                     # renamed
    ("sigmoid(w.T @ z)", "w", "", ""),
    ("u.T @ inv(K) @ u", "u", "K:spd m", "2"),                            # Hessian, renamed
    ("tr(inv(Y))", "Y", "", ""),
    ("norm(X)", "X", "", ""),
    ("exp(-t.T @ t / 2)", "t", "", "2"),                                  # Hessian
    ("det(X)", "X", "", ""),
]
ERRORS = [   # (q, wrt, symbols, code, words in the message)
    ("tr(A @ X", "X", "", "MI001", "syntax"),
    ("tr(A @ X @ B)", "Z", "", "MI050", "wrt 'Z'"),
    ("A @ x", "", "A spd", "MI010", "NAME:DECLARATION"),
    ("A @ B", "", "A:matrix n m;B:matrix k k", "MI008", ""),
]


def _symbols(text):
    return dict(part.split(":", 1) for part in text.split(";") if part)


@pytest.fixture(scope="module")
def ask(site_url, tmp_path_factory):
    """Open ask.html with URL parameters in one Chromium; returns (browser, open, timings)."""
    timings = {"cold": [], "warm": []}
    with playwright() as pw:
        context = launch(pw, tmp_path_factory.mktemp("chromium-profile"))
        try:
            browser = Browser(context)

            def open_page(q, wrt="", symbols="", order=""):
                params = {k: v for k, v in (("q", q), ("wrt", wrt), ("symbols", symbols),
                                            ("order", order)) if v}
                start = time.perf_counter()
                browser.page.goto(f"{site_url}/ask.html?{urlencode(params)}")
                state = wait_answer(browser.page)
                timings["cold"].append(time.perf_counter() - start)
                return state

            yield browser, open_page, timings
            browser.check_clean()
        finally:
            context.close()
    if timings["cold"]:
        warm = timings["warm"] or [float("nan")]
        print(f"\nAsk page: first answer on a new page {timings['cold'][0]:.2f} s (first page, "
              f"downloads Pyodide), median {statistics.median(timings['cold']):.2f} s over "
              f"{len(timings['cold'])} pages; later answers median {statistics.median(warm) * 1000:.0f} ms, "
              f"max {max(warm) * 1000:.0f} ms over {len(warm)}")


def wait_answer(page):
    page.wait_for_function("""() => {
        const s = document.getElementById("mi-ask-answer").dataset.askState;
        return s === "done" || s === "error";
    }""")
    return page.locator("#mi-ask-answer").get_attribute("data-ask-state")


def shown_ids(page):
    return [li.get_attribute("data-record-id") for li in page.locator("#mi-ask-answer [data-record-id]").all()]


@pytest.mark.parametrize("q, wrt, symbols, order, first", LOOKUPS)
def test_lookup(ask, q, wrt, symbols, order, first):
    import matident
    browser, open_page, timings = ask
    assert open_page(q, wrt, symbols, order) == "done"
    assert timings["cold"][-1] < COLD_LIMIT_S
    page = browser.page
    ids = shown_ids(page)
    python = [m.identity.id for m in matident.lookup(q, wrt or None, symbols=_symbols(symbols))]
    assert ids[0] == first, ids[:5]
    assert ids == python[:len(ids)] and len(ids) == min(len(python), 20)
    # the form shows the query, each card links to its identity's permalink
    assert page.locator("#mi-ask-q").input_value() == q
    href = page.locator(f"#mi-ask-answer [data-record-id='{first}'] a").first.get_attribute("href")
    assert href.endswith(f".html#{first}") and "/identities/" in href
    assert page.locator("#mi-ask-answer .katex").count() >= len(ids)


def test_the_whole_sum_answer_says_it_was_not_checked_here(ask):
    browser, open_page, _ = ask
    assert open_page("tr(A1 @ X) + tr(A2 @ X) + tr(A3 @ X)", "X") == "done"
    card = browser.page.locator("#mi-ask-answer [data-record-id]").first
    note = card.locator(".mi-ask-note").inner_text()
    assert "trace-xa-derivative (terms 1-3)" in note and "Not checked numerically here" in note
    assert "matident lookup " in note


@pytest.mark.parametrize("q, wrt, symbols, order", DERIVATIONS)
def test_derivation(ask, q, wrt, symbols, order):
    import matident
    browser, open_page, _ = ask
    assert open_page(q, wrt, symbols, order) == "done"
    page = browser.page
    result = page.locator("[data-derivation-result]")
    shown = result.get_attribute("data-derivation-result")
    d = matident.derive(q, wrt, symbols=_symbols(symbols), order=int(order or 1))
    assert shown == d.text
    check = d.check(trials=3, seed=11)
    assert check.ok, f"{q}: {check}"
    # steps cite records (linked), the result is typeset, the page says it did not check it
    steps = page.locator(".mi-ask-steps li")
    assert steps.count() == len(d.steps)
    assert page.locator(".mi-ask-steps a.mi-ask-record").count() >= 1
    assert result.locator(".katex").count() >= 1
    note = page.locator(".mi-ask-check").inner_text()
    assert "not checked" in note.lower() and "numpy" in note
    command = page.locator(".mi-ask-check pre").inner_text()
    assert command.startswith("matident derive ") and f"--wrt {wrt}" in command
    if order == "2":
        assert "--order 2" in command and "hessian" in page.locator(".mi-ask-derivation h2").inner_text()


@pytest.mark.parametrize("q, wrt, symbols, code, words", ERRORS)
def test_bad_query_shows_the_engines_message(ask, q, wrt, symbols, code, words):
    browser, open_page, _ = ask
    assert open_page(q, wrt, symbols) == "error"
    box = browser.page.locator(".mi-ask-error")
    assert code in box.locator(".admonition-title").inner_text()
    assert words in box.locator(".mi-ask-error-message").inner_text() + box.inner_text()
    assert box.locator(".mi-ask-error-hint").count() == 1


def test_ask_api_answers_without_reloading(ask):
    import matident
    browser, open_page, timings = ask
    page = browser.page
    assert open_page("tr(A @ X @ B)", "X") == "done"
    page.evaluate("window.__same_page = true")
    for q, wrt, symbols, order in [("logdet(X)", "X", "X:spd n", ""), ("inv(A + U @ C @ V)", "", "", ""),
                                   ("x.T @ A @ x", "x", "", "2"), ("tr(P @ Y @ Q)", "Y", "", "")] * 2:
        start = time.perf_counter()
        page.evaluate("query => window.matident.ask(query)",
                      {"q": q, "wrt": wrt, "symbols": symbols, "order": order})
        timings["warm"].append(time.perf_counter() - start)
        assert page.locator("#mi-ask-answer").get_attribute("data-ask-state") == "done"
        ids = shown_ids(page)
        assert ids[0] == matident.lookup(q, wrt or None, symbols=_symbols(symbols))[0].identity.id
        derived = page.locator("[data-derivation-result]")
        if wrt:
            assert derived.get_attribute("data-derivation-result") == \
                matident.derive(q, wrt, symbols=_symbols(symbols), order=int(order or 1)).text
        else:
            assert derived.count() == 0
    assert page.evaluate("window.__same_page") is True, "the page reloaded"
    assert max(timings["warm"]) < WARM_LIMIT_S


def test_form_and_examples_use_the_same_path(ask):
    browser, open_page, _ = ask
    page = browser.page
    open_page("tr(A @ X @ B)", "X")
    page.evaluate("window.__same_page = true")
    page.fill("#mi-ask-q", "logdet(X)")
    page.fill("#mi-ask-wrt", "X")
    page.fill("#mi-ask-symbols", "X:spd n")
    page.click("#mi-ask-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('[data-record-id]')"
                           "?.getAttribute('data-record-id') === 'logdet-spd-derivative'")
    assert wait_answer(page) == "done"
    assert "q=logdet%28X%29" in page.url and "symbols=X%3Aspd+n" in page.url
    page.locator(".mi-ask-example", has_text="Woodbury").click()
    page.wait_for_function("() => document.querySelector('[data-record-id]')"
                           "?.getAttribute('data-record-id') === 'woodbury-identity'")
    assert page.evaluate("window.__same_page") is True
    assert page.locator("#mi-ask-q").input_value() == "inv(A + U @ C @ V)"
