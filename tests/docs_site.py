"""Build the documentation site once for the docs tests, and read what was built.

Used by the ``built_site`` session fixture in ``conftest.py``; the tests in
``test_docs_build.py`` and ``test_browser.py`` share one strict build.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@dataclass
class BuiltSite:
    """The result of one ``mkdocs build --strict``."""

    path: Path
    returncode: int
    seconds: float
    log: str

    def require(self) -> Path:
        """The site directory; fail the calling test when the build failed."""
        if self.returncode != 0:
            pytest.fail(f"mkdocs build --strict failed (exit {self.returncode}):\n{self.log[-6000:]}", pytrace=False)
        return self.path


def build_site(out: Path) -> BuiltSite:
    """Run ``mkdocs build --strict`` into ``out`` in a child process."""
    env = dict(os.environ)
    env.update(NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    return BuiltSite(out, proc.returncode, seconds, proc.stdout + proc.stderr)


# --- what a page references --------------------------------------------------

# Attributes through which a page makes the browser fetch something.
_FETCHING_ATTRS = {"src", "srcset", "poster", "data", "action", "formaction", "background"}
# <link rel=...> values that fetch (a stylesheet, an icon, a preload...); an
# <a href> is a hyperlink the reader may follow, not a fetch.
_FETCHING_TAGS_WITH_HREF = {"link", "use", "image", "script", "iframe", "embed", "source", "img", "feimage"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)['"]""", re.IGNORECASE)


def is_external(url: str) -> bool:
    """True for a URL that names another host (http:, https:, protocol-relative //host)."""
    url = url.strip()
    return bool(re.match(r"(?i)^(?:[a-z][a-z0-9+.-]*:)?//", url)) and not url.lower().startswith("file:")


class _RefCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []   # URLs the browser would load
        self.links: list[str] = []     # <a href> targets
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "srcset":
                self.fetched += [part.split()[0] for part in value.split(",") if part.strip()]
            elif name in _FETCHING_ATTRS:
                self.fetched.append(value)
            elif name in ("href", "xlink:href"):
                (self.fetched if tag in _FETCHING_TAGS_WITH_HREF else self.links).append(value)
            elif name == "style":
                self.fetched += [a or b for a, b in CSS_URL.findall(value)]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.fetched += [a or b for a, b in CSS_URL.findall(data)]


def html_references(html: str) -> tuple[list[str], list[str]]:
    """(URLs the page fetches, URLs it links to) for one HTML document."""
    parser = _RefCollector()
    parser.feed(html)
    return parser.fetched, parser.links


def css_references(css: str) -> list[str]:
    """URLs named by ``url(...)`` and ``@import`` in a stylesheet."""
    return [a or b for a, b in CSS_URL.findall(css)]
