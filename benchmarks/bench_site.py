"""The documentation site: page weights, and the Ask page's time to answer in Chromium.

    python benchmarks/bench_site.py [SITE]       # SITE: a built site (default: build one)
    python benchmarks/bench_site.py SITE --screenshots FOLDER

Prints

* page weights: the largest HTML page, the catalogue page, the whole site,
  and the Pyodide payload the Ask page loads on its first question;
* the Ask page in Debian's Chromium (headless, Playwright), served on
  127.0.0.1: the time from opening ``ask.html?q=...`` to the answer on a
  fresh profile (downloads Pyodide), on a new page with a warm browser cache,
  and later answers through ``window.matident.ask`` -- medians of several
  runs, with the baseline of loading a plain page of the same site measured
  in the same run;
* one identity search typed on search.html: time and bytes.

``--screenshots`` saves the Ask page on a desktop (1280 px) and a phone
(390 px), light and dark, with an answer shown.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from docs_browser_support import Browser, launch, serve  # noqa: E402

QUERIES = [("tr(A @ X @ B)", "X", "", ""), ("log(x.T @ A @ x)", "x", "A:spd n", ""),
           ("inv(A + U @ C @ V)", "", "", ""), ("x.T @ A @ x", "x", "", "2"),
           ("logdet(X)", "X", "X:spd n", ""), ("norm(A @ x - b)**2", "x", "", "")]
RUNS = 5


def build(out):
    subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(out / "doctrees"),
                    str(ROOT / "docs"), str(out / "html")], check=True, cwd=ROOT)
    return out / "html"


def mb(n):
    return f"{n / 1e6:.2f} MB"


def weights(site):
    pages = sorted(site.rglob("*.html"), key=lambda p: p.stat().st_size)
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    pyodide = sum(p.stat().st_size for p in (site / "_static" / "pyodide").iterdir())
    engine = (site / "_static" / "ask" / "engine.zip").stat().st_size
    print("page weights:")
    print(f"  largest page        {pages[-1].relative_to(site)}: {mb(pages[-1].stat().st_size)}")
    print(f"  catalogue page      catalogue/index.html: {mb((site / 'catalogue' / 'index.html').stat().st_size)}")
    print(f"  whole site          {mb(total)} in {sum(1 for p in site.rglob('*') if p.is_file())} files "
          f"({len(pages)} pages)")
    print(f"  Pyodide payload     {mb(pyodide)} (_static/pyodide) + engine {mb(engine)} "
          f"(_static/ask/engine.zip: matident and the catalogue snapshot)")


def wait_answer(page):
    page.wait_for_function("""() => ["done", "error"].includes(
        document.getElementById("mi-ask-answer").dataset.askState)""", timeout=180_000)


def ask_url(url, q, wrt, symbols, order):
    from urllib.parse import urlencode
    return f"{url}/ask.html?" + urlencode({k: v for k, v in (("q", q), ("wrt", wrt), ("symbols", symbols),
                                                             ("order", order)) if v})


def timings(pw, url, tmp):
    fresh, cached, warm, plain = [], [], [], []
    for run in range(RUNS):
        context = launch(pw, tmp / f"profile-{run}")
        try:
            b = Browser(context)
            start = time.perf_counter()
            b.page.goto(f"{url}/conventions.html")
            b.page.wait_for_load_state("load")
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            b.page.goto(ask_url(url, *QUERIES[0]))
            wait_answer(b.page)
            fresh.append(time.perf_counter() - start)
            for q in QUERIES[1:]:
                start = time.perf_counter()
                b.page.evaluate("q => window.matident.ask(q)",
                                dict(zip(("q", "wrt", "symbols", "order"), q)))
                warm.append(time.perf_counter() - start)
            start = time.perf_counter()
            b.page.goto(ask_url(url, *QUERIES[1]))
            wait_answer(b.page)
            cached.append(time.perf_counter() - start)
            b.check_clean()
        finally:
            context.close()
    med = statistics.median
    print(f"Ask page in Chromium (medians of {RUNS} runs; {len(warm)} later answers):")
    print(f"  baseline: a plain page (conventions.html) loads in   {med(plain) * 1000:.0f} ms")
    print(f"  first answer, fresh profile (downloads Pyodide)      {med(fresh):.2f} s "
          f"({med(fresh) / med(plain):.0f}x the plain page; target <= 10 s)")
    print(f"  first answer, new page, browser cache warm           {med(cached):.2f} s")
    print(f"  later answers (window.matident.ask)                  {med(warm) * 1000:.0f} ms "
          f"(max {max(warm) * 1000:.0f} ms; target <= 0.5 s)")


def search(pw, url, tmp):
    context = launch(pw, tmp / "profile-search")
    try:
        b = Browser(context)
        b.reset_counts()
        start = time.perf_counter()
        b.page.goto(f"{url}/search.html?q=gradient+log+det")
        b.page.wait_for_function("() => document.getElementById('mi-identity-results')"
                                 "?.dataset.searchState === 'done'")
        first = time.perf_counter() - start
        loaded = b.bytes
        typed = []
        for q in ("matrix inversion lemma", "cookbook 57", "hessian least squares", "frobenius norm gradient"):
            b.reset_counts()
            start = time.perf_counter()
            b.page.fill("#mi-search-input", q)
            b.page.wait_for_function("q => document.getElementById('mi-identity-results').dataset.query === q",
                                     arg=q)
            typed.append(time.perf_counter() - start)
        b.check_clean()
    finally:
        context.close()
    print(f"search: search.html?q=... shows identities in {first:.2f} s, {mb(loaded)} transferred "
          f"(page, index, KaTeX, fonts); typed queries: median {statistics.median(typed) * 1000:.0f} ms "
          f"(includes the 60 ms pause after typing)")


def screenshots(pw, url, tmp, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for device, viewport, scale in (("desktop", {"width": 1280, "height": 900}, 1),
                                    ("phone", {"width": 390, "height": 844}, 2)):
        for scheme in ("light", "dark"):
            context = launch(pw, tmp / f"profile-{device}-{scheme}", viewport=viewport,
                             device_scale_factor=scale, color_scheme=scheme, is_mobile=device == "phone",
                             has_touch=device == "phone")
            try:
                b = Browser(context)
                b.page.goto(ask_url(url, "log(x.T @ A @ x)", "x", "A:spd n", ""))
                wait_answer(b.page)
                path = folder / f"ask-{device}-{scheme}.png"
                b.page.screenshot(path=str(path), full_page=False)
                b.page.screenshot(path=str(folder / f"ask-{device}-{scheme}-full.png"), full_page=True)
                print(f"screenshot {path}")
                b.check_clean()
            finally:
                context.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, help="a built site (default: build one)")
    parser.add_argument("--screenshots", type=Path, help="save screenshots of the Ask page here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = args.site or build(tmp)
        weights(site)
        url, stop = serve(site)
        try:
            with sync_playwright() as pw:
                if args.screenshots:
                    screenshots(pw, url, tmp, args.screenshots)
                    return
                timings(pw, url, tmp)
                search(pw, url, tmp)
        finally:
            stop()


if __name__ == "__main__":
    main()
