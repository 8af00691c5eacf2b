"""The documentation site: strict build, no other hosts, every chapter present."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from docs_site import DOCS, ROOT, css_references, html_references, is_external
from nnref.chapters import CHAPTERS

EXEC_BLOCK = re.compile(r'^\s*```python\b[^\n]*\bexec="on"[^\n]*$', re.MULTILINE)
SHOWN_EXEC_BLOCK = re.compile(r'^\s*```python\b[^\n]*\bexec="on"[^\n]*\bsource="block"[^\n]*$', re.MULTILINE)


def _built_page(site: Path, page: str) -> Path:
    # the offline plugin turns off directory URLs: docs/x/y.md -> site/x/y.html
    return site / (page.removesuffix(".md") + ".html")


@pytest.mark.slow
def test_strict_build_succeeds(built_site):
    """`mkdocs build --strict` exits 0 (no warning, no failing executed block) and reports its time."""
    built_site.require()
    print(f"mkdocs build --strict took {built_site.seconds:.1f} s")


@pytest.mark.slow
def test_built_site_fetches_nothing_from_other_hosts(built_site):
    """No built HTML or CSS file loads a script, style, font or image from another host."""
    site = built_site.require()
    offenders = []
    for path in sorted(site.rglob("*.html")):
        fetched, _ = html_references(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(site)}: {url}" for url in fetched if is_external(url)]
    for path in sorted(site.rglob("*.css")):
        refs = css_references(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(site)}: {url}" for url in refs if is_external(url)]
    assert not offenders, "references to other hosts:\n" + "\n".join(offenders)


@pytest.mark.slow
def test_every_chapter_is_built_and_linked_from_the_home_page(built_site):
    """Each registry chapter has a built page, and the home page's chapter map links to it."""
    site = built_site.require()
    _, links = html_references((site / "index.html").read_text(encoding="utf-8"))
    for ch in CHAPTERS:
        built = _built_page(site, ch.page)
        assert built.is_file(), f"chapter {ch.number}: {built.relative_to(site)} was not built"
        assert str(built.relative_to(site)) in links, f"chapter {ch.number}: not linked from the home page"


@pytest.mark.slow
def test_internal_links_resolve(built_site):
    """Every relative link on every built page points to a file that was built (printed Markdown escapes MkDocs' own check)."""
    site = built_site.require()
    broken = []
    for path in sorted(site.rglob("*.html")):
        _, links = html_references(path.read_text(encoding="utf-8"))
        for href in links:
            target = href.split("#")[0].split("?")[0]
            if not target or is_external(href) or re.match(r"^[a-z]+:", href):
                continue
            # 404.html uses root-relative links (it is served for any missing path)
            base = site if target.startswith("/") else path.parent
            if not (base / target.lstrip("/")).resolve().is_file():
                broken.append(f"{path.relative_to(site)} -> {href}")
    assert not broken, "links to files that were not built:\n" + "\n".join(broken)


@pytest.mark.slow
def test_every_shown_example_has_its_output(built_site):
    """A chapter page with executed examples (source="block") shows their output, and no result box is empty."""
    site = built_site.require()
    for ch in CHAPTERS:
        source = (DOCS / ch.page).read_text(encoding="utf-8")
        shown = len(SHOWN_EXEC_BLOCK.findall(source))
        html = _built_page(site, ch.page).read_text(encoding="utf-8")
        results = html.count('class="result"')
        # a block that prints nothing (it only defines names) has no result box
        assert results <= shown, f"chapter {ch.number}: {results} results for {shown} shown examples"
        if shown:
            assert results >= 1, f"chapter {ch.number}: {shown} examples shown, no output on the page"
        empty = re.search(r'<div class="result">\s*(?:<div class="highlight"><pre><span></span><code>'
                          r'(?:<a [^>]*></a>|\s)*</code></pre></div>\s*)?</div>', html)
        assert not empty, f"chapter {ch.number}: an empty result box"


def test_chapter_pages_match_the_registry():
    """docs/chapters/ holds exactly one page per registry chapter, titled "N. Title"."""
    on_disk = {p.relative_to(DOCS).as_posix() for p in (DOCS / "chapters").glob("*.md")}
    assert on_disk == {ch.page for ch in CHAPTERS}
    for ch in CHAPTERS:
        first = (DOCS / ch.page).read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# {ch.number}. {ch.title}", f"{ch.page}: first line is {first!r}"


def test_examples_that_show_source_use_block():
    """An executed block that shows its source uses source="block", so its output sits in a result box the tests can find."""
    for ch in CHAPTERS:
        source = (DOCS / ch.page).read_text(encoding="utf-8")
        for block in EXEC_BLOCK.findall(source):
            if "source=" in block:  # a block without source= prints generated Markdown/HTML (a table, a plot)
                assert 'source="block"' in block, f"{ch.page}: use source=\"block\": {block.strip()}"


def test_static_check_catches_external_references():
    """The other-host scanner flags CDN scripts, styles, fonts and protocol-relative URLs, and ignores local ones."""
    html = (
        '<link rel="stylesheet" href="https://cdn.example.org/x.css">'
        '<script src="//unpkg.com/iframe-worker/shim"></script>'
        '<img srcset="a.png 1x, http://img.example.org/b.png 2x">'
        '<div style="background: url(\'https://example.org/bg.png\')"></div>'
        '<style>@import "https://fonts.example.org/f.css";</style>'
        '<a href="https://numpy.org/">numpy</a><script src="assets/js/math.js"></script>'
    )
    fetched, links = html_references(html)
    external = [u for u in fetched if is_external(u)]
    assert len(external) == 5, external
    assert "assets/js/math.js" in fetched and "https://numpy.org/" in links
    css = "@font-face{src:url(fonts/KaTeX_Main-Regular.woff2)} a{background:url(https://x.example/y.png)}"
    assert [u for u in css_references(css) if is_external(u)] == ["https://x.example/y.png"]


def test_vendored_katex_css_names_only_vendored_fonts():
    """Every font the vendored KaTeX stylesheet names is a committed woff2 file beside it."""
    vendor = DOCS / "assets" / "vendor" / "katex"
    refs = css_references((vendor / "katex.min.css").read_text(encoding="utf-8"))
    assert refs, "katex.min.css names no fonts"
    missing = [u for u in refs if not u.endswith(".woff2") or not (vendor / u).is_file()]
    assert not missing, missing


def test_errata_page_names_tests_that_exist():
    """Every test the errata page cites (tests/test_x.py::test_name) is defined in that file."""
    text = (DOCS / "errata.md").read_text(encoding="utf-8")
    cited = sorted(set(re.findall(r"(tests/test_\w+\.py)::(\w+)", text)))
    assert cited, "the errata page cites no tests"
    missing = []
    for path, name in cited:
        file = ROOT / path
        defined = set()
        if file.is_file():
            tree = ast.parse(file.read_text(encoding="utf-8"))
            defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert not missing, "errata cite tests that do not exist:\n" + "\n".join(missing)


@pytest.mark.slow
def test_every_derivation_has_a_built_page(built_site):
    """Each entry of the derivations registry is rendered to its own page, with its formulas as math."""
    derivations = pytest.importorskip("derivations")
    site = built_site.require()
    for name in derivations.names():
        page = site / "derivations" / f"{name}.html"
        assert page.is_file(), f"derivation {name}: no page built"
        assert 'class="arithmatex"' in page.read_text(encoding="utf-8"), f"derivation {name}: no formula on its page"


#: A line MkDocs' logger prints ("INFO    -  ...") or the indented continuation of one.
_MKDOCS_LINE = re.compile(r"^(?:(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+-  |\s)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.slow
def test_build_console_holds_only_mkdocs_messages(built_site):
    """The build prints only MkDocs' own log lines: no training log or other output of an executed block leaks to the console."""
    built_site.require()
    stray = [line for line in _ANSI.sub("", built_site.log).splitlines()
             if line.strip() and not _MKDOCS_LINE.match(line)]
    assert not stray, "lines on the build console that MkDocs did not log:\n" + "\n".join(stray[:20])


@pytest.mark.slow
def test_figures_are_inline_svg_without_an_xml_header(built_site):
    """Every chapter's figures are printed by show(): inline <svg> elements, never an XML declaration inside the page."""
    site = built_site.require()
    for ch in CHAPTERS:
        html = _built_page(site, ch.page).read_text(encoding="utf-8")
        assert "<?xml" not in html and "<!DOCTYPE svg" not in html, f"chapter {ch.number}: raw SVG file text on the page"


def test_chapters_draw_figures_one_way():
    """A chapter that draws defines show(fig) as chapters 1-11 do and calls savefig nowhere else."""
    for ch in CHAPTERS:
        source = (DOCS / ch.page).read_text(encoding="utf-8")
        if "savefig(" not in source:
            continue
        assert source.count("savefig(") == 1 and "def show(fig):" in source, f"chapter {ch.number}: figures printed another way"
        assert 'print(svg[svg.index("<svg"):])' in source, f"chapter {ch.number}: show() keeps the XML header"
        assert "print(svg(fig))" not in source and "buf.getvalue())" not in source, f"chapter {ch.number}"


def test_exercises_use_one_syntax():
    """Every chapter writes its exercises the same way: an `example` box, then its `success` solution box, both top level."""
    for ch in CHAPTERS:
        source = (DOCS / ch.page).read_text(encoding="utf-8")
        exercises = re.findall(r'^\?\?\? example "Exercise \d+: [^"]+"$', source, re.MULTILINE)
        solutions = re.findall(r'^\?\?\? success "Solution"$', source, re.MULTILINE)
        assert exercises, f"chapter {ch.number}: no exercise in the house syntax"
        assert len(solutions) == len(exercises), f"chapter {ch.number}: {len(exercises)} exercises, {len(solutions)} solutions"
        assert not re.search(r"^[ \t]*\?\?\?\+? question", source, re.MULTILINE), f"chapter {ch.number}: another exercise syntax"
        assert not re.search(r'^[ \t]+\?\?\? success', source, re.MULTILINE), f"chapter {ch.number}: a nested solution"


def test_derivation_tables_use_one_result_vocabulary():
    """The derivation tables on the chapter pages all say proved / NOT proved and pass / FAIL."""
    for ch in CHAPTERS:
        source = (DOCS / ch.page).read_text(encoding="utf-8")
        if "SymPy proof" not in source:
            continue
        assert "'proved' if" in source and "'pass' if" in source, f"chapter {ch.number}"
        assert "'holds' if" not in source and "'fails'" not in source, f"chapter {ch.number}"
