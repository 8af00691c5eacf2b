"""The built site in a real browser: Debian's chromium driven by Playwright.

Never run ``playwright install`` (it downloads a browser); these tests use the
system chromium at /usr/bin/chromium and skip where it is absent.
"""
from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from docs_site import DOCS
from nnref.chapters import CHAPTERS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium; .ci/run does it)"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

# TeX that should never reach the reader as text once KaTeX has run.
RAW_TEX = re.compile(r"\\(?:frac|sum|partial|mathbf|hat|cdot|left|right|begin|operatorname|sqrt|text)\b|\$\$|\\\(|\\\[")

# In the page: count formulas, rendered formulas, raw TeX left in the prose
# (outside code, which may legitimately show TeX from docstrings), and the
# executed results.
PAGE_PROBE = """() => {
  const article = document.querySelector("article");
  const formulas = article ? article.querySelectorAll(".arithmatex") : [];
  let rendered = 0;
  for (const f of formulas) if (f.querySelector(".katex")) rendered++;
  let prose = "";
  if (article) {
    const copy = article.cloneNode(true);
    copy.querySelectorAll("pre, code, .katex, script, style").forEach(e => e.remove());
    prose = copy.textContent;
  }
  const results = article ? Array.from(article.querySelectorAll("div.result")) : [];
  return {
    formulas: formulas.length,
    rendered: rendered,
    prose: prose,
    results: results.length,
    // textContent, not innerText: a solution folded in a closed <details> is
    // present but not rendered, and that is fine
    emptyResults: results.filter(r => r.textContent.trim() === "").length,
    hiddenResults: results.filter(r => r.offsetHeight === 0 && !r.closest("details:not([open])")).length,
  };
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(built_site):
    """The built site served on 127.0.0.1 on a free port."""
    site = built_site.require()
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    """One browser context (1280x900) of a headless Debian chromium, shared so pages reuse cached assets."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = b.new_context(viewport={"width": 1280, "height": 900})
        yield context
        context.close()
        b.close()


class Visit:
    """One page load with everything the page asked the network and console for."""

    def __init__(self, context, url: str, allowed_host: str | None):
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))

        def on_request(request):
            parsed = urlparse(request.url)
            if parsed.scheme in ("data", "blob", "about"):
                return
            if parsed.scheme == "file" and allowed_host is None:
                return
            if parsed.netloc != allowed_host:
                self.foreign_requests.append(request.url)

        self.page.on("request", on_request)
        self.page.goto(url, wait_until="load")

    def close(self):
        self.page.close()


def _site_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")


def _check_page(browser, server: str, rel: str, expect_results: int | None) -> None:
    visit = Visit(browser, f"{server}/{rel}", urlparse(server).netloc)
    try:
        probe = visit.page.evaluate(PAGE_PROBE)
        problems = []
        if visit.console_errors:
            problems.append(f"console errors: {visit.console_errors}")
        if visit.foreign_requests:
            problems.append(f"requests to other hosts: {visit.foreign_requests}")
        if probe["rendered"] != probe["formulas"]:
            problems.append(f"{probe['formulas'] - probe['rendered']} of {probe['formulas']} formulas not rendered")
        raw = sorted(set(RAW_TEX.findall(probe["prose"])))
        if raw:
            problems.append(f"raw TeX in the text: {raw}")
        # a block that prints nothing shows only its code, hence "at most"
        if expect_results is not None and not (min(1, expect_results) <= probe["results"] <= expect_results):
            problems.append(f"{probe['results']} executed results shown for {expect_results} shown examples")
        if probe["emptyResults"] or probe["hiddenResults"]:
            problems.append(f"{probe['emptyResults']} empty and {probe['hiddenResults']} invisible executed results")
        assert not problems, f"{rel}:\n  " + "\n  ".join(problems)
    finally:
        visit.close()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda ch: f"ch{ch.number:02d}")
def test_chapter_page_in_browser(browser, server, chapter):
    """A chapter page loads with no console error, no request to another host, every formula rendered, no raw TeX, and its executed output shown."""
    source = (DOCS / chapter.page).read_text(encoding="utf-8")
    expected = len(re.findall(r'^\s*```python\b[^\n]*exec="on"[^\n]*source="block"', source, re.MULTILINE))
    _check_page(browser, server, chapter.page.removesuffix(".md") + ".html", expected)


def test_other_pages_in_browser(browser, server, built_site):
    """Every other page (home, derivations, API, errata, ...) loads cleanly with all of its formulas rendered."""
    chapter_pages = {ch.page.removesuffix(".md") + ".html" for ch in CHAPTERS}
    failures = []
    for rel in _site_pages(built_site.require()):
        if rel in chapter_pages:
            continue
        try:
            _check_page(browser, server, rel, None)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def _search(page, term: str) -> list[str]:
    box = page.locator("input.md-search__input")
    box.click()
    # fill() does not fire the key events Material's search listens to
    box.press_sequentially(term, delay=30)
    page.wait_for_selector(".md-search-result__item", timeout=15000)
    return page.locator(".md-search-result__item").all_inner_texts()


def test_search_finds_softmax(browser, server):
    """Typing "softmax" in the search box lists matching pages, served over HTTP."""
    visit = Visit(browser, f"{server}/index.html", urlparse(server).netloc)
    try:
        hits = _search(visit.page, "softmax")
        assert any("softmax" in h.lower() for h in hits), hits
        assert not visit.foreign_requests, visit.foreign_requests
        assert not visit.console_errors, visit.console_errors
    finally:
        visit.close()


def test_search_works_from_disk(browser, built_site):
    """Opened from file:// (no server), search still finds "softmax" and nothing is fetched from any host."""
    site = built_site.require()
    visit = Visit(browser, (site / "index.html").as_uri(), None)
    try:
        hits = _search(visit.page, "softmax")
        assert any("softmax" in h.lower() for h in hits), hits
        assert not visit.foreign_requests, visit.foreign_requests
    finally:
        visit.close()
