"""Chapter notebooks: generated from the pages, built with the site, run in fresh kernels."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra is not installed")

from nnref import notebooks
from nnref.chapters import CHAPTERS
from nnref.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = [ch.number for ch in CHAPTERS]
EXEC_FENCE = re.compile(r'^[ \t]*```python[^\n]*\bexec="on"', re.M)
SOLUTION = re.compile(r'^[ \t]*\?\?\?\+? success "Solution', re.M)


def _page(number: int) -> str:
    return (ROOT / "docs" / CHAPTERS[number - 1].page).read_text(encoding="utf-8")


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _page_code_cells(nb):
    """Code cells that hold an executed block of the page (not the set-up, not the empty try-it cells)."""
    return [c for c in nb.cells if c.cell_type == "code" and "setup" not in _tags(c) and c.source]


@pytest.fixture(scope="module")
def generated():
    """Every chapter's notebook, generated from its page now."""
    return {n: notebooks.chapter_notebook(n) for n in NUMBERS}


# --- the generator -------------------------------------------------------------

def test_every_chapter_gives_a_valid_notebook_that_starts_with_set_up_then_title(generated):
    """22 notebooks validate against nbformat 4; cell 0 is the set-up cell, cell 1 opens with the page's title."""
    assert sorted(generated) == list(range(1, 23))
    for n, nb in generated.items():
        nbformat.validate(nb)
        assert _tags(nb.cells[0]) == ["setup"] and "NNREF_SOURCE" in nb.cells[0].source
        assert nb.cells[1].cell_type == "markdown"
        assert nb.cells[1].source.startswith(f"# {n}. {CHAPTERS[n - 1].title}\n")
        assert nb.metadata["kernelspec"]["name"] == "python3"


def test_each_executed_block_is_one_code_cell_with_the_pages_code(generated):
    """As many code cells as the page has exec="on" fences, each holding code that is on the page."""
    for n, nb in generated.items():
        page = _page(n)
        cells = _page_code_cells(nb)
        assert len(cells) == len(EXEC_FENCE.findall(page)), n
        flat_page = re.sub(r"\s+", " ", page)
        for cell in cells:
            code = cell.source.split("\n", 1)[1] if cell.source.startswith("%%") else cell.source
            assert re.sub(r"\s+", " ", code).strip() in flat_page, (n, code[:80])


def test_exercise_solutions_are_folded_after_an_empty_cell(generated):
    """Each solution: an empty cell tagged exercise, a title, then its cells tagged solution and folded."""
    for n, nb in generated.items():
        cells = nb.cells
        tries = [i for i, c in enumerate(cells) if "exercise" in _tags(c)]
        assert len(tries) == len(SOLUTION.findall(_page(n))) > 0, n
        for i in tries:
            assert cells[i].cell_type == "code" and cells[i].source == ""
            assert "solution" in _tags(cells[i + 1]) and cells[i + 1].source.startswith("**Solution")
            body = []
            for c in cells[i + 2:]:
                if "solution" not in _tags(c):
                    break
                body.append(c)
            assert any(c.cell_type == "code" for c in body), (n, i)
            for c in body:
                assert c.metadata["jupyter"]["source_hidden"] is True
                if c.cell_type == "code":
                    assert c.metadata["jupyter"]["outputs_hidden"] is True


def test_no_site_only_syntax_reaches_the_notebook(generated):
    """No snippet marker, exec fence or admonition marker in any cell; no autoref or .md link in the prose."""
    markers = re.compile(r'--8<--|exec="on"|^\s*(?:!!!|\?\?\?|===) ', re.M)
    links = re.compile(r'\]\[nnref\.|\]\([^)]*\.md[)#]')   # printed by code cells, they are stripped on display
    for n, nb in generated.items():
        for cell in nb.cells:
            assert not markers.search(cell.source), (n, cell.id, markers.search(cell.source))
            if cell.cell_type == "markdown":
                assert not links.search(cell.source), (n, cell.id, links.search(cell.source))


def test_generation_is_deterministic(generated):
    """The same page gives the same notebook, ids included (so a rebuild changes nothing)."""
    again = notebooks.chapter_notebook(9)
    assert again == generated[9]


def test_snippet_includes_match_pymdownx():
    """Every `--8<--` include on the pages expands exactly as the site's snippets extension expands it."""
    markdown = pytest.importorskip("markdown")
    pytest.importorskip("pymdownx")
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={
        "pymdownx.snippets": {"base_path": [str(ROOT)], "check_paths": True, "dedent_subsections": True}})
    specs = sorted({m for n in NUMBERS for m in re.findall(r'--8<-- "([^"]+)"', _page(n))})
    assert len(specs) > 20
    for spec in specs:
        theirs = "\n".join(md.preprocessors["snippet"].run([f'--8<-- "{spec}"']))
        assert notebooks.include_snippet(spec, ROOT).strip("\n") == theirs.strip("\n"), spec


def test_a_bad_snippet_or_unknown_import_is_a_clear_error(tmp_path):
    """A missing section names the snippet; a third-party import without a requirement names the module."""
    with pytest.raises(ValueError, match="no section 'nope'"):
        notebooks.include_snippet("nnref/layers.py:nope", ROOT)
    with pytest.raises(ValueError, match="pandas"):
        notebooks.setup_cell_source(["numpy", "pandas"])


def test_small_page_covers_every_construct():
    """A made-up page: prose links become text, html/markdown blocks get their magic, a folded source, a note."""
    page = '\n'.join([
        "# 1. T", "", "See [`Dense`][nnref.layers.Dense] and [chapter 9](09-backpropagation.md#x).", "",
        '!!! note "Deviation from the book"', "    Text of the note.", "",
        '```python exec="on" html="1" session="s"', 'print("<b>hi</b>")', "```", "",
        '```python exec="on" session="s"', 'print("| a |\\n|---|\\n| 1 |")', "```", "",
        '```python exec="on" source="block" result="text" session="s"', "print(1)", "```", "",
        '```python', '--8<-- "nnref/chapters.py:__nonexistent__"', '```',
    ])
    with pytest.raises(ValueError, match="__nonexistent__|only whole files"):
        notebooks.page_cells(page, ROOT)
    cells = notebooks.page_cells(page.rsplit("```python\n--8<--", 1)[0], ROOT)
    kinds = [(c.kind, c.source.split("\n")[0], c.hidden) for c in cells]
    assert kinds == [
        ("markdown", "# 1. T", False),
        ("code", "%%nnref_html", True),
        ("code", "%%nnref_markdown", True),
        ("code", "print(1)", False),
    ]
    assert "See `Dense` and chapter 9." in cells[0].source and "**Deviation from the book**" in cells[0].source


def test_requirements_are_the_ones_pyproject_declares():
    """Each requirement the set-up cell may install is spelled exactly as in pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"]) | {r for extra in project["optional-dependencies"].values() for r in extra}
    assert set(notebooks.REQUIREMENTS.values()) <= declared


def _run_setup(source: str, monkeypatch, missing: set[str]) -> list[list[str]]:
    """Run a set-up cell in an in-process IPython shell with `missing` modules hidden; return pip calls."""
    pytest.importorskip("IPython")
    import importlib.util
    from IPython.core.interactiveshell import InteractiveShell

    calls: list[list[str]] = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real_find_spec(name, *a))
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, *a, **k: calls.append(cmd) or 0)
    shell = InteractiveShell.instance()
    try:
        result = shell.run_cell(source, silent=True)
        if result.error_in_exec is not None:
            raise result.error_in_exec
    finally:
        InteractiveShell.clear_instance()
    return calls


def test_setup_cell_installs_nothing_where_all_is_installed(monkeypatch):
    """Where every module imports, the set-up cell calls pip zero times and registers both magics."""
    source = notebooks.chapter_notebook(14).cells[0].source
    assert _run_setup(source, monkeypatch, set()) == []


def test_setup_cell_installs_what_is_missing(monkeypatch):
    """Without nnref it asks for NNREF_SOURCE; once set, pip gets the source and each missing requirement once."""
    source = notebooks.chapter_notebook(14).cells[0].source
    with pytest.raises(RuntimeError, match="NNREF_SOURCE"):
        _run_setup(source, monkeypatch, {"nnref", "derivations"})
    with_source = source.replace('NNREF_SOURCE = ""', 'NNREF_SOURCE = "/somewhere/nnref"', 1)
    calls = _run_setup(with_source, monkeypatch, {"nnref", "derivations", "sympy"})
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "/somewhere/nnref", "sympy>=1.12"]]


def test_cli_writes_the_chapter_notebook(tmp_path, capsys):
    """`nnref notebook 7 --out DIR` writes DIR/07-derivatives.ipynb, the generator's notebook."""
    assert cli_main(["notebook", "7", "--out", str(tmp_path)]) == 0
    path = tmp_path / "07-derivatives.ipynb"
    assert capsys.readouterr().out.strip() == str(path)
    assert nbformat.read(path, as_version=4) == notebooks.chapter_notebook(7)
    assert cli_main(["notebook", "23", "--out", str(tmp_path)]) == 2


# --- the built site --------------------------------------------------------------

@pytest.mark.slow
def test_built_notebooks_are_the_generators_output_for_the_current_pages(built_site, generated):
    """Freshness: each notebook in the built site has exactly the cells the generator makes from today's page."""
    site = built_site.require()
    for n, nb in generated.items():
        built = nbformat.read(site / "notebooks" / notebooks.notebook_filename(n), as_version=4)
        assert [(c.id, c.cell_type, c.source, c.metadata) for c in built.cells] == \
               [(c.id, c.cell_type, c.source, c.metadata) for c in nb.cells], n
        assert built.metadata["nnref"]["page_sha256"] == nb.metadata["nnref"]["page_sha256"]


@pytest.mark.slow
def test_built_notebooks_carry_the_pages_outputs(built_site):
    """Each text output of a built notebook is a result shown on the built page; every plot cell has its SVG."""
    site = built_site.require()
    for ch in CHAPTERS:
        nb = nbformat.read(site / "notebooks" / notebooks.notebook_filename(ch), as_version=4)
        page_html = (site / ch.page.replace(".md", ".html"))
        if not page_html.exists():
            page_html = site / ch.page.removesuffix(".md") / "index.html"
        page_text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page_html.read_text())))
        outputs = [o for c in _page_code_cells(nb) for o in c.outputs]
        assert outputs, ch.number
        for cell in _page_code_cells(nb):
            for out in cell.outputs:
                if out.output_type == "stream":
                    assert re.sub(r"\s+", " ", out.text).strip() in page_text, (ch.number, out.text[:100])
            if cell.source.startswith("%%nnref_html") and "savefig" in cell.source:
                assert any("<svg" in o.get("data", {}).get("text/html", "") for o in cell.outputs), (ch.number, cell.id)


@pytest.mark.slow
def test_pages_and_home_link_their_notebooks(built_site):
    """Each chapter page links its notebook, the home page lists all 22, and every link resolves."""
    site = built_site.require()
    home = (site / "index.html").read_text()
    for ch in CHAPTERS:
        name = notebooks.notebook_filename(ch)
        assert f'href="notebooks/{name}"' in home, name
        for page in (site / "chapters").glob(f"{ch.number:02d}-*"):
            page = page / "index.html" if page.is_dir() else page
            m = re.search(r'<a href="([^"]+\.ipynb)" download>Download this chapter as a notebook</a>', page.read_text())
            assert m, page
            assert (page.parent / m.group(1)).resolve() == (site / "notebooks" / name).resolve()
            assert (site / "notebooks" / name).is_file()


# --- running them ------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """All 22 notebooks, each run top to bottom in a fresh kernel (two at a time, one subprocess each)."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    out = tmp_path_factory.mktemp("notebook-runs")

    def run(n: int):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nnref.notebooks", str(n), "--run", "--out", str(out),
                               "--root", str(ROOT)], capture_output=True, text=True,
                              timeout=notebooks.NOTEBOOK_TIMEOUT + 60)
        return n, proc, time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = {n: (proc, seconds) for n, proc, seconds in pool.map(run, NUMBERS)}
    times = {n: round(s, 1) for n, (_, s) in results.items()}
    (out / "times.json").write_text(json.dumps(times))
    print("\nnotebook run times (s):", times)
    return out, results


@pytest.mark.slow
@pytest.mark.parametrize("number", NUMBERS)
def test_notebook_runs_clean_in_a_fresh_kernel(runs, number):
    """The chapter's notebook runs top to bottom in a new kernel within NOTEBOOK_TIMEOUT, every cell executed."""
    out, results = runs
    proc, seconds = results[number]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    nb = nbformat.read(out / notebooks.notebook_filename(number), as_version=4)
    assert nb.metadata["nnref"]["run_seconds"] <= notebooks.NOTEBOOK_TIMEOUT
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source:
            continue
        assert cell.execution_count is not None, cell.id
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.id


@pytest.mark.slow
def test_a_fresh_run_shows_what_the_site_shows(runs, built_site):
    """Every cell with output on the site has output in a fresh kernel too, and a plot there is a plot here."""
    out, _ = runs
    site = built_site.require()

    def shown(cell) -> tuple[bool, bool]:
        data = " ".join(str(o.get("data", {}).get("text/html", "")) for o in cell.outputs)
        return bool(cell.outputs), "<svg" in data

    for n in NUMBERS:
        name = notebooks.notebook_filename(n)
        fresh = nbformat.read(out / name, as_version=4)
        built = nbformat.read(site / "notebooks" / name, as_version=4)
        for a, b in zip(_page_code_cells(built), _page_code_cells(fresh)):
            assert a.id == b.id
            assert shown(a) == shown(b), (n, a.id)
