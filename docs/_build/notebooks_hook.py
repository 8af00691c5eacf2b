"""MkDocs hook: every chapter page also becomes a Jupyter notebook.

* While a chapter page is built, the hook records what each of its executed
  blocks (markdown-exec, Python) produced, by wrapping markdown-exec's Python
  formatter: the same run that fills the page.
* After the page is rendered, ``nnref.notebooks.chapter_notebook`` turns the
  page's Markdown (the text this build used) into a notebook, and the recorded
  results become the outputs of its code cells, one executed block per cell,
  in order. A count or code mismatch fails the build.
* Under the page's title it adds the link "Download this chapter as a
  notebook"; the notebooks are written to ``notebooks/NN-slug.ipynb`` in the
  built site (the home page's chapter map links them too).

The notebooks are generated from the page in the build that publishes the
page, so a published notebook cannot lag behind its page; nothing is
committed. ``tests/test_notebooks.py`` checks the built notebooks against the
generator and runs each one in a fresh kernel.

Registered in ``mkdocs.yml`` under ``hooks:``.
"""
from __future__ import annotations

import html as html_lib
import importlib
import logging
import posixpath
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.nnref.notebooks")

NOTEBOOK_DIR = "notebooks"
LINK_TEXT = "Download this chapter as a notebook"

_current: dict = {}                  # the chapter page being rendered: {"number", "runs"}
_notebooks: dict[int, object] = {}   # chapter number -> notebook with the build's outputs


def _project(config):
    root = str(Path(config.config_file_path).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("nnref.notebooks"), importlib.import_module("nnref.chapters")


def _wrap_formatter(original):
    def record(**kwargs):
        out = original(**kwargs)
        if _current:
            _current["runs"].append((kwargs.get("code", ""), kwargs, str(out)))
        return out

    record.nnref_original = original
    return record


def on_config(config):
    import markdown_exec

    for language in ("python", "py"):
        fmt = markdown_exec.formatters[language]
        markdown_exec.formatters[language] = _wrap_formatter(getattr(fmt, "nnref_original", fmt))
    _notebooks.clear()
    return config


def _chapter_of(page, config):
    _, chapters = _project(config)
    for ch in chapters.CHAPTERS:
        if ch.page == page.file.src_uri:
            return ch
    return None


def on_page_markdown(markdown, page, config, files):
    _current.clear()
    ch = _chapter_of(page, config)
    if ch is not None:
        _current.update(number=ch.number, runs=[], markdown=markdown)
    return markdown


# --- what an executed block showed, as notebook outputs -------------------------

_TAG = re.compile(r"<[^>]+>")
_MD_ANCHOR = re.compile(r'<a\b[^>]*\bhref="(?![a-z][a-z0-9+.-]*:)[^"]*?\.md(?:#[^"]*)?"[^>]*>(.*?)</a>', re.S)


def _result_part(html: str, shows_source: bool) -> str:
    """The output part of a block's HTML: inside div.result when the code is shown too."""
    if not shows_source:
        return html
    start = html.find('<div class="result"')
    if start < 0:
        return ""       # a block that printed nothing
    body_start = html.index(">", start) + 1
    depth, pos = 1, body_start
    for m in re.finditer(r"<(/?)div\b", html[body_start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            pos = body_start + m.start()
            break
    return html[body_start:pos]


def _outputs(options: dict, html: str) -> list[dict]:
    from nbformat.v4 import new_output

    part = _result_part(html, bool(options.get("source"))).strip()
    if not part:
        return []
    if options.get("result") and not options.get("html"):
        # a text result: a code block; its text without the highlighter's markup
        text = html_lib.unescape(_TAG.sub("", part)).strip("\n") + "\n"
        return [new_output("stream", name="stdout", text=text)]
    # HTML (a plot) or Markdown rendered to HTML (a table): links to site pages become text
    part = _MD_ANCHOR.sub(r"\1", part)
    return [new_output("display_data", data={"text/html": part, "text/plain": "(HTML: a plot or a table, as on the site)"})]


def _strip_magic(source: str) -> str:
    return source.split("\n", 1)[1] if source.startswith("%%") else source


def on_page_content(html, page, config, files):
    if not _current:
        return html
    notebooks, chapters = _project(config)
    ch = chapters.chapter(_current["number"])
    root = Path(config.config_file_path).resolve().parent
    try:
        nb = notebooks.chapter_notebook(ch, root=root, page_text=_current["markdown"])
    except (ValueError, FileNotFoundError) as exc:
        raise PluginError(f"{page.file.src_uri}: cannot make its notebook: {exc}") from exc
    cells = [c for c in nb.cells if c.cell_type == "code" and "setup" not in c.metadata.get("tags", [])
             and c.source]
    runs = _current["runs"]
    if len(cells) != len(runs):
        raise PluginError(f"{page.file.src_uri}: the notebook generator found {len(cells)} executed blocks, "
                          f"markdown-exec ran {len(runs)}")
    for cell, (code, options, out) in zip(cells, runs):
        if _strip_magic(cell.source).strip() != code.strip():
            raise PluginError(f"{page.file.src_uri}: notebook cell {cell.id} does not hold the code the page ran:\n"
                              f"{code[:300]}")
        cell.outputs = _outputs(options, out)
    _notebooks[ch.number] = nb
    _current.clear()

    target = f"{NOTEBOOK_DIR}/{notebooks.notebook_filename(ch)}"
    href = posixpath.relpath(target, posixpath.dirname(page.url.rstrip("/") + "/index.html")
                             if config.use_directory_urls else posixpath.dirname(page.url))
    link = (f'<p class="nnref-notebook"><a href="{href}" download>{LINK_TEXT}</a> '
            f"(Jupyter; the first cell installs what it needs)</p>")
    html, n = re.subn(r"(</h1>)", r"\1" + link.replace("\\", r"\\"), html, count=1)
    if n == 0:
        html = link + html
    return html


def on_post_build(config):
    notebooks, chapters = _project(config)
    import nbformat

    missing = [ch.number for ch in chapters.CHAPTERS if ch.number not in _notebooks]
    if missing:
        raise PluginError(f"no notebook was made for chapters {missing}")
    folder = Path(config.site_dir) / NOTEBOOK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for number, nb in sorted(_notebooks.items()):
        nbformat.validate(nb)
        nbformat.write(nb, str(folder / notebooks.notebook_filename(number)))
    log.info(f"wrote {len(_notebooks)} chapter notebooks to {folder}")
