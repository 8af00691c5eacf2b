"""MkDocs hooks: build parts of the site from the project's registries.

* The **Chapters** section of the nav comes from ``nnref.chapters.CHAPTERS``
  (one entry per chapter, in order, titled "N. Title"). A chapter without its
  page, or a page under ``docs/chapters/`` that no chapter owns, fails the build.
* The **API reference** section gets one generated page per public module of
  ``nnref`` (every module whose name does not start with ``_``), each holding
  a single mkdocstrings directive, so a new module is documented without
  anyone writing a page for it.
* The **Derivations** section gets one generated page per entry of the
  ``derivations`` registry; each page's Markdown is ``render_markdown(name)``,
  computed at build time, and a derivation whose proof or numeric check fails
  fails the (strict) build.

* Links to ``.md`` pages in Markdown **printed by executed blocks**
  (markdown-exec renders it outside MkDocs' link handling) are rewritten to
  the built pages here, and one that names no page fails the strict build,
  just as a written link would.

* An executed block shown with ``source="block"`` that prints nothing (one
  that only defines functions, say) would leave an empty result box under
  its code; the box is dropped.

Registered in ``mkdocs.yml`` under ``hooks:``.
"""
from __future__ import annotations

import importlib
import logging
import posixpath
import re
import pkgutil
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.nnref")

# Generated derivation pages live here (relative to docs/).
DERIVATIONS_DIR = "derivations"


def _project_root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _import_from_project(config, module: str):
    """Import a module of this checkout (also when nnref is not pip-installed)."""
    root = str(_project_root(config))
    if root not in sys.path:
        # Executed blocks (markdown-exec) run in this process and import
        # nnref too: they must see the working tree, not another copy.
        sys.path.insert(0, root)
    return importlib.import_module(module)


def chapter_nav(config) -> list[dict[str, str]]:
    chapters = _import_from_project(config, "nnref.chapters").CHAPTERS
    docs = Path(config.docs_dir)
    missing = [ch.page for ch in chapters if not (docs / ch.page).is_file()]
    if missing:
        raise PluginError(f"nnref.chapters lists pages that do not exist under docs/: {missing}")
    owned = {ch.page for ch in chapters}
    strays = sorted(
        p.relative_to(docs).as_posix()
        for p in (docs / "chapters").glob("*.md")
        if p.relative_to(docs).as_posix() not in owned
    )
    if strays:
        raise PluginError(f"pages under docs/chapters/ that no chapter in nnref.chapters owns: {strays}")
    return [{f"{ch.number}. {ch.title}": ch.page} for ch in chapters]


def derivation_pages(config) -> list[tuple[str, str, str]]:
    """(nav title, page path, markdown) for every registered derivation."""
    derivations = _import_from_project(config, "derivations")
    pages = []
    for name in derivations.names():
        deriv = derivations.get(name)
        markdown = derivations.render_markdown(name)
        result = deriv.run()  # memoised: the run render_markdown just made
        if not result.passed:
            # a warning fails the strict build: the page would show a failed check
            log.warning(f"derivation {name!r} failed its proof or numeric check; see `python -m derivations {name}`")
        pages.append((deriv.title, f"{DERIVATIONS_DIR}/{name}.md", markdown))
    return pages


def api_pages(config) -> list[tuple[str, str, str]]:
    """(nav title, page path, markdown) for every public module of nnref."""
    nnref = _import_from_project(config, "nnref")
    names = sorted(m.name for m in pkgutil.iter_modules(nnref.__path__) if not m.name.startswith("_"))
    return [(f"nnref.{name}", f"api/{name}.md", f"# nnref.{name}\n\n::: nnref.{name}\n") for name in names]


_DERIVATIONS: list[tuple[str, str, str]] = []
_API: list[tuple[str, str, str]] = []


def on_config(config):
    nav = config.nav
    for item in nav:
        if isinstance(item, dict) and "Chapters" in item:
            item["Chapters"] = chapter_nav(config)
    _DERIVATIONS[:] = derivation_pages(config)
    _API[:] = api_pages(config)
    for item in nav:
        for section, pages in (("Derivations", _DERIVATIONS), ("API reference", _API)):
            if isinstance(item, dict) and section in item:
                generated = {path for _, path, _ in pages}
                # keep the hand-written entries (the overview page), then append
                # the generated ones; dropping earlier copies keeps `mkdocs serve`
                # reloads from listing a page twice
                kept = [e for e in item[section] if not (isinstance(e, dict) and set(e.values()) & generated)]
                item[section] = kept + [{title: path} for title, path, _ in pages]
    return config


def on_files(files: Files, config) -> Files:
    for _, path, markdown in _DERIVATIONS + _API:
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"{path}: a hand-written page clashes with a generated page of the same path")
        files.append(File.generated(config, path, content=markdown))
    return files


# <a href="x.md"> or "../x/y.md#frag" left in the HTML: MkDocs has already
# rewritten every link it saw, so these come from executed blocks' output.
_MD_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"#?:]+\.md)((?:#[^"]*)?)"')


# markdown-exec's result box around no output: empty, or an empty text code
# block (line anchors and whitespace only)
_EMPTY_RESULT = re.compile(
    r'<div class="result">\s*'
    r'(?:<div class="highlight"><pre><span></span><code>(?:<a [^>]*></a>|\s)*</code></pre></div>\s*)?'
    r'</div>'
)


def on_page_content(html: str, page, config, files: Files) -> str:
    def fix(m: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), m.group(2)))
        file = files.get_file_from_path(target)
        if file is None or not file.is_documentation_page():
            log.warning(f"{page.file.src_uri}: a link to {m.group(2)!r} (printed by an executed block) names no page")
            return m.group(0)
        return f'{m.group(1)}{file.url_relative_to(page.file)}{m.group(3)}"'

    html = _EMPTY_RESULT.sub("", html)
    return _MD_HREF.sub(fix, html)
