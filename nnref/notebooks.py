"""Chapter notebooks: each chapter page of the site as a Jupyter notebook.

The page is the one source. :func:`chapter_notebook` reads
``docs/chapters/NN-slug.md`` and turns it into cells:

* prose becomes Markdown cells (math kept as ``$...$``; links to other pages
  and to API entries become plain text, since they only resolve on the site);
* an executed block (```` ```python exec="on" ... ````) becomes a code cell.
  A block whose output the site shows as HTML (a plot) or as Markdown (a
  generated table) starts with the cell magic ``%%nnref_html`` or
  ``%%nnref_markdown``, defined by the first cell, so the notebook shows the
  same thing; a block the site runs without showing its code keeps its
  source folded;
* a listing included from ``nnref/`` (``--8<-- "nnref/layers.py:dense"``)
  becomes a Python code block inside a Markdown cell: it is there to read,
  not to run (running it would shadow the imported classes);
* admonitions become a bold title over their content; an exercise's
  solution becomes an empty code cell to try first, then the solution's
  cells, folded and tagged ``solution``.

The first cell installs what the notebook imports when it is missing (see
:func:`setup_cell_source`) and does nothing where it is all installed.
:func:`execute` runs a notebook top to bottom in a fresh kernel with
``nbclient`` and fills its outputs; the site's build does this for every
chapter (``docs/_build/notebooks_hook.py``).

Needs the ``notebooks`` extra (``nbformat``; ``nbclient`` and ``ipykernel``
to execute): ``pip install "nnref[notebooks]"``. Pages live in a checkout's
``docs/`` folder, so generating a notebook needs a checkout.
"""
from __future__ import annotations

import ast
import hashlib
import os
import re
import shlex
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chapters import CHAPTERS, Chapter, chapter as _chapter

__all__ = [
    "NOTEBOOK_TIMEOUT",
    "INDIRECT",
    "REQUIREMENTS",
    "chapter_notebook",
    "execute",
    "include_snippet",
    "notebook_filename",
    "page_cells",
    "project_root",
    "setup_cell_source",
    "write_notebook",
]

#: Seconds one chapter's notebook may take to run top to bottom in a fresh
#: kernel, CPU only. The slowest (chapter 14) took 61 s on the project's
#: two-core machine under a load average of 12; the timeout leaves room for that.
NOTEBOOK_TIMEOUT = 300

#: What pip installs when a notebook imports a module that is missing:
#: top-level module name -> requirement (the same bounds as pyproject.toml).
#: ``nnref`` and ``derivations`` come from ``NNREF_SOURCE`` in the first cell.
REQUIREMENTS: dict[str, str] = {
    "numpy": "numpy>=1.24",
    "nnfs": "nnfs>=0.5.1",
    "matplotlib": "matplotlib>=3.7",
    "sympy": "sympy>=1.12",
    "sklearn": "scikit-learn>=1.3",
    "PIL": "pillow>=10",
    "tqdm": "tqdm>=4.66",
    "torch": "torch>=2.2",
}
_FROM_SOURCE = ("nnref", "derivations")
#: Modules that nnref and the derivations import lazily: a name used in a cell
#: -> the module it needs (nnref installs numpy and nnfs itself, nothing else).
INDIRECT: dict[str, str] = {
    "derivations": "sympy",
    "load_digits": "sklearn",
    "load_fashion_mnist": "PIL",
    "load_image_folder": "PIL",
    "prepare_image": "PIL",
    "progress": "tqdm",
}

TAG_SETUP, TAG_EXERCISE, TAG_SOLUTION = "setup", "exercise", "solution"
MAGIC_HTML, MAGIC_MARKDOWN = "nnref_html", "nnref_markdown"


def _nbformat():
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('chapter notebooks need nbformat: pip install "nnref[notebooks]"') from exc
    return nbformat


# --------------------------------------------------------------------------- locations

def project_root() -> Path:
    """The checkout this ``nnref`` was imported from (the folder holding ``docs/chapters``).

    Raises
    ------
    FileNotFoundError
        When nnref is installed without its repository: the pages are not
        part of the package.
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / "docs" / "chapters").is_dir():
        raise FileNotFoundError(
            f"chapter notebooks are generated from the pages in a checkout's docs/chapters/, "
            f"and there is none beside this nnref ({root}); run from a clone of the repository")
    return root


def notebook_filename(chapter: Chapter | int) -> str:
    """File name of a chapter's notebook, ``NN-slug.ipynb`` (the page's name)."""
    ch = _chapter(chapter) if isinstance(chapter, int) else chapter
    return f"{ch.number:02d}-{ch.slug}.ipynb"


# --------------------------------------------------------------------------- snippets

# The section markers of pymdownx.snippets: `# --8<-- [start:name]` ... `[end:name]`.
_SECTION_MARK = re.compile(r"-{1,}8<-{1,}[ \t]+\[[ \t]*(start|end)[ \t]*:[ \t]*([a-z][-_0-9a-z]*)[ \t]*\]", re.I)
_SNIPPET_LINE = re.compile(r"""^[ \t]*-{1,}8<-{1,}[ \t]+(["'])(.+?)\1[ \t]*$""")


def include_snippet(spec: str, root: Path) -> str:
    """The text ``--8<-- "spec"`` includes, as the site's snippets extension does.

    ``spec`` is ``path`` (the whole file) or ``path:section`` (the lines
    between the section's start and end markers, without any marker lines,
    dedented).

    Raises
    ------
    ValueError
        When the file or the section does not exist.
    """
    path, _, section = spec.partition(":")
    if section and not re.fullmatch(r"[a-z][-_0-9a-z]*", section, re.I):
        raise ValueError(f"snippet {spec!r}: only whole files and named sections are supported")
    file = root / path
    if not file.is_file():
        raise ValueError(f"snippet {spec!r}: no file {file}")
    lines = file.read_text(encoding="utf-8").splitlines()
    if not section:
        return "\n".join(line for line in lines if not _SECTION_MARK.search(line))
    inside, found, kept = False, False, []
    for line in lines:
        mark = _SECTION_MARK.search(line)
        if mark and mark.group(2) == section:
            if mark.group(1).lower() == "start":
                inside = found = True
                continue
            if inside:
                break
        elif mark:
            continue        # another section's marker inside ours
        elif inside:
            kept.append(line)
    if not found:
        raise ValueError(f"snippet {spec!r}: no section {section!r} in {path}")
    return textwrap.dedent("\n".join(kept))


# --------------------------------------------------------------------------- page parser

@dataclass
class Cell:
    """One notebook cell as the page parser sees it."""

    kind: str                       # "markdown" or "code"
    source: str
    tags: list[str] = field(default_factory=list)
    hidden: bool = False            # fold the source (and a code cell's outputs stay visible)
    fold_outputs: bool = False


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ADMONITION = re.compile(r'^(?P<marker>!!!|\?\?\?\+?|===)\s*(?P<type>[\w-]*)\s*(?:"(?P<title>[^"]*)")?\s*$')
_OPTION = re.compile(r'(\w+)="([^"]*)"')
# [text][nnref.layers.Dense] (an API reference) and [text](page.md#frag): site-only links
_AUTOREF = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\[[\w.]+\]")
_MD_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\((?![a-z][a-z0-9+.-]*:)[^)\s]*?\.md(?:#[^)\s]*)?\)")


def _site_links_to_text(markdown: str) -> str:
    markdown = _AUTOREF.sub(r"\1", markdown)
    return _MD_LINK.sub(r"\1", markdown)


def _fence_options(info: str) -> tuple[str, dict[str, str]]:
    info = info.strip()
    language = info.split()[0] if info else ""
    return language, dict(_OPTION.findall(info))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the indented body that starts at ``start`` (blank lines included, trailing ones not)."""
    end = i = start
    while i < len(lines):
        line = lines[i]
        if line.strip():
            if len(line) - len(line.lstrip(" ")) < indent:
                break
            end = i + 1
        i += 1
    return end


class _PageParser:
    def __init__(self, root: Path):
        self.root = root
        self.cells: list[Cell] = []
        self.markdown: list[str] = []

    # markdown lines accumulate until a code cell (or a fold) interrupts them
    def flush(self, tags: list[str] | None = None, hidden: bool = False) -> None:
        text = "\n".join(self.markdown).strip("\n")
        self.markdown = []
        if text.strip():
            self.cells.append(Cell("markdown", _site_links_to_text(text), list(tags or []), hidden))

    def parse(self, lines: list[str], solution: bool = False) -> None:
        tags = [TAG_SOLUTION] if solution else []
        i = 0
        while i < len(lines):
            line = lines[i]
            fence = _FENCE.match(line)
            adm = _ADMONITION.match(line)
            if fence:
                close = re.compile(rf"^[ \t]*{re.escape(fence['fence'][0])}{{{len(fence['fence'])},}}[ \t]*$")
                j = i + 1
                while j < len(lines) and not close.match(lines[j]):
                    j += 1
                if j == len(lines):
                    raise ValueError(f"unclosed code fence: {line.strip()!r}")
                indent = len(fence["indent"])
                body = [ln[indent:] if ln[:indent].strip() == "" else ln.lstrip() for ln in lines[i + 1:j]]
                self.fence(fence["info"], body, fence["indent"], tags, solution)
                i = j + 1
            elif adm:
                end = _block_end(lines, i + 1, 4)
                body = [ln[4:] for ln in lines[i + 1:end]]
                self.admonition(adm["marker"], adm["type"], adm["title"], body, solution)
                i = end
            else:
                self.markdown.append(line)
                i += 1

    def fence(self, info: str, body: list[str], indent: str, tags: list[str], solution: bool) -> None:
        language, options = _fence_options(info)
        if options.get("exec", "").lower() in ("on", "1", "true", "yes"):
            if language not in ("python", "py"):
                raise ValueError(f"executed block in {language!r}: only Python blocks become notebook cells")
            self.flush(tags, hidden=solution)
            code = "\n".join(body).strip("\n")
            if options.get("html", "").lower() in ("1", "on", "true", "yes"):
                code = f"%%{MAGIC_HTML}\n{code}"
            elif "result" not in options:
                # markdown-exec renders the printed text as Markdown
                code = f"%%{MAGIC_MARKDOWN}\n{code}"
            shown = options.get("source", "") not in ("", "none")
            self.cells.append(Cell("code", code, list(tags), hidden=solution or not shown, fold_outputs=solution))
            return
        expanded: list[str] = []
        for line in body:
            m = _SNIPPET_LINE.match(line)
            if m:
                expanded.extend(include_snippet(m.group(2), self.root).split("\n"))
            else:
                expanded.append(line)
        fence = "````" if any(ln.lstrip().startswith("```") for ln in expanded) else "```"
        self.markdown += [f"{indent}{fence}{language}", *(indent + ln if ln else ln for ln in expanded),
                          f"{indent}{fence}"]

    def admonition(self, marker: str, kind: str, title: str | None, body: list[str], solution: bool) -> None:
        is_solution = kind == "success" and (title or "").strip().lower().startswith("solution")
        if is_solution and not solution:
            self.markdown += ["", "*Try it yourself in the empty cell below; the solution follows, folded.*"]
            self.flush()
            self.cells.append(Cell("code", "", [TAG_EXERCISE]))
            self.markdown.append(f"**{title.strip()}** (folded: click the bar on the left of a cell to open it)")
            self.flush([TAG_SOLUTION])
            self.parse(body, solution=True)
            self.flush([TAG_SOLUTION], hidden=True)
            return
        heading = (title or kind.capitalize()).strip()
        if marker != "===" and re.match(r"exercise\b", heading, re.I):
            self.markdown += ["", f"### {heading}", ""]
        elif heading:
            self.markdown += ["", f"**{heading}**", ""]
        self.parse(body, solution)
        self.markdown.append("")


def page_cells(page: str, root: Path) -> list[Cell]:
    """The cells of a chapter page's notebook, without the set-up cell.

    Parameters
    ----------
    page : str
        The page's Markdown.
    root : Path
        The project root, against which ``--8<--`` includes are resolved.
    """
    parser = _PageParser(root)
    parser.parse(page.splitlines())
    parser.flush()
    return parser.cells


# --------------------------------------------------------------------------- set-up cell

def _imported_modules(code_cells: list[str]) -> list[str]:
    """Top-level modules the cells import, then those nnref imports for names they use (:data:`INDIRECT`)."""
    names: dict[str, None] = {}
    later: list[str] = []           # modules nnref imports lazily for a name the cells use
    for code in code_cells:
        lines = code.split("\n")
        if lines and lines[0].startswith("%%"):
            lines = lines[1:]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as exc:
            raise ValueError(f"a code cell does not parse ({exc}):\n{code}") from exc
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(alias.name.split(".")[0] for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names[node.module.split(".")[0]] = None
            # a name used (load_digits), imported (import derivations) or passed (progress=True)
            ident = {ast.Name: "id", ast.Attribute: "attr", ast.keyword: "arg", ast.alias: "name"}.get(type(node))
            name = getattr(node, ident) if ident else None
            if name and name.split(".")[0] in INDIRECT:
                later.append(INDIRECT[name.split(".")[0]])
    names.update(dict.fromkeys(later))
    return list(names)


def setup_cell_source(modules: list[str]) -> str:
    """The first cell: install what is missing, and define the two display magics.

    Parameters
    ----------
    modules : list of str
        Top-level modules the notebook imports. Standard-library modules are
        ignored; ``nnref`` is always needed.

    Raises
    ------
    ValueError
        For a third-party module without an entry in :data:`REQUIREMENTS`.
    """
    third_party = [m for m in dict.fromkeys(["nnref", *modules]) if m not in sys.stdlib_module_names]
    unknown = [m for m in third_party if m not in REQUIREMENTS and m not in _FROM_SOURCE]
    if unknown:
        raise ValueError(f"the notebook imports {unknown}: add them to nnref.notebooks.REQUIREMENTS "
                         f"with the requirement pip should install")
    needs = ",\n".join(f"    {m!r}: {'NNREF_SOURCE' if m in _FROM_SOURCE else repr(REQUIREMENTS[m])}"
                       for m in third_party)
    return f'''\
# Set-up. Where everything this notebook imports is installed already (a
# checkout of nnref with its .venv, say) this cell installs nothing. On a
# hosted notebook service it installs what is missing with pip.
#
# nnref is not published on PyPI and the project has no public repository
# address yet. Set NNREF_SOURCE to anything `pip install` accepts that holds
# nnref: a path to a checkout, a wheel file, or a git URL of the form
# "git+https://HOST/OWNER/nnref.git".
NNREF_SOURCE = ""

import importlib.util
import subprocess
import sys

# module this notebook imports -> what pip installs when it is missing
_NEEDS = {{
{needs},
}}
_missing = [req for module, req in _NEEDS.items() if importlib.util.find_spec(module) is None]
if "" in _missing:
    raise RuntimeError("nnref is not installed here: set NNREF_SOURCE at the top of this cell "
                       "to where pip can find it, then run the cell again")
if _missing:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *dict.fromkeys(_missing)])
    importlib.invalidate_caches()

# IPython shadows `open` with a wrapper of its own; the pages run in plain
# Python, where `open` is the builtin (chapter 21 pickles it by name).
from builtins import open

# The site shows what some blocks print as HTML (plots) or as Markdown
# (tables); these two cell magics do the same here.
import contextlib
import io
import re

from IPython import get_ipython
from IPython.core.magic import register_cell_magic
from IPython.display import HTML, Markdown, display


def _printed(cell):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        get_ipython().ex(cell)
    return buffer.getvalue()


@register_cell_magic("{MAGIC_HTML}")
def _show_html(line, cell):
    """Run the cell and show what it prints as HTML."""
    if (text := _printed(cell)).strip():
        display(HTML(text))


@register_cell_magic("{MAGIC_MARKDOWN}")
def _show_markdown(line, cell):
    """Run the cell and show what it prints as Markdown (links to the site's pages become text)."""
    text = re.sub(r"\\[([^\\]]+)\\]\\([^)\\s]*?\\.md(#[^)\\s]*)?\\)", r"\\1", _printed(cell))
    if text.strip():
        display(Markdown(text))
'''


# --------------------------------------------------------------------------- notebooks

def _page_of(chapter: Chapter | int, root: Path | None) -> tuple[Chapter, Path]:
    ch = _chapter(chapter) if isinstance(chapter, int) else chapter
    root = project_root() if root is None else Path(root)
    page = root / "docs" / ch.page
    if not page.is_file():
        raise FileNotFoundError(f"chapter {ch.number}: no page {page}")
    return ch, root


def chapter_notebook(chapter: Chapter | int, *, root: Path | None = None, page_text: str | None = None):
    """Chapter ``chapter``'s notebook, generated from its page (no outputs yet).

    Parameters
    ----------
    chapter : Chapter or int
        The chapter, or its number (1-22).
    root : Path, optional
        The project root; default: the checkout this nnref comes from.
    page_text : str, optional
        The page's Markdown; default: read from ``docs/<chapter.page>``.

    Returns
    -------
    nbformat.NotebookNode
        Cell ids are stable (``chNN-iii``), so the same page always gives the
        same notebook.
    """
    nbformat = _nbformat()
    v4 = nbformat.v4
    ch, root = _page_of(chapter, root)
    if page_text is None:
        page_text = (root / "docs" / ch.page).read_text(encoding="utf-8")
    cells = page_cells(page_text, root)
    code = [c.source for c in cells if c.kind == "code" and c.source]
    cells.insert(0, Cell("code", setup_cell_source(_imported_modules(code)), [TAG_SETUP]))

    nb = v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "nnref": {
            "chapter": ch.number,
            "title": ch.title,
            "page": f"docs/{ch.page}",
            "page_sha256": hashlib.sha256(page_text.encode("utf-8")).hexdigest(),
            "generator": "nnref.notebooks",
        },
    }
    for i, cell in enumerate(cells):
        metadata: dict[str, Any] = {}
        if cell.tags:
            metadata["tags"] = cell.tags
        jupyter = {}
        if cell.hidden:
            jupyter["source_hidden"] = True
        if cell.fold_outputs:
            jupyter["outputs_hidden"] = True
        if jupyter:
            metadata["jupyter"] = jupyter
        make = v4.new_markdown_cell if cell.kind == "markdown" else v4.new_code_cell
        nb.cells.append(make(cell.source, metadata=metadata, id=f"ch{ch.number:02d}-{i:03d}"))
    nbformat.validate(nb)
    return nb


def execute(nb, *, timeout: float = NOTEBOOK_TIMEOUT, cwd: Path | None = None, root: Path | None = None):
    """Run ``nb`` top to bottom in a fresh Python kernel and fill in its outputs.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Changed in place and returned.
    timeout : float
        Seconds the whole notebook may take; also the limit of a single cell.
    cwd : Path, optional
        The kernel's working directory; default: a new temporary folder.
    root : Path, optional
        A checkout whose ``nnref`` the kernel imports (put first on its
        ``PYTHONPATH``); default: wherever the kernel finds nnref.

    Returns
    -------
    nbformat.NotebookNode
        ``nb``, with ``metadata.nnref.run_seconds`` set.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises.
    TimeoutError
        When the notebook as a whole takes longer than ``timeout``.
    """
    try:
        from nbclient import NotebookClient
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('running notebooks needs nbclient and ipykernel: pip install "nnref[notebooks]"') from exc
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["CUDA_VISIBLE_DEVICES"] = ""          # CPU only
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(root).resolve()), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="nnref-notebook-") as tmp:
        workdir = Path(cwd) if cwd is not None else Path(tmp)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(workdir)}})
        start = time.perf_counter()
        client.execute(env=env)
        seconds = time.perf_counter() - start
    if seconds > timeout:
        raise TimeoutError(f"chapter notebook took {seconds:.0f} s, more than its {timeout} s")
    nb.metadata.setdefault("nnref", {})["run_seconds"] = round(seconds, 1)
    return nb


def write_notebook(chapter: Chapter | int, out: Path | str = ".", *, run: bool = False,
                   root: Path | None = None, timeout: float = NOTEBOOK_TIMEOUT) -> Path:
    """Write chapter ``chapter``'s notebook into the folder ``out``; return its path.

    With ``run=True`` it is executed first (:func:`execute`), so it carries outputs.
    """
    nbformat = _nbformat()
    ch, root = _page_of(chapter, root)
    nb = chapter_notebook(ch, root=root)
    if run:
        execute(nb, timeout=timeout, root=root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / notebook_filename(ch)
    nbformat.write(nb, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m nnref.notebooks N... --out DIR [--run]``: what ``nnref notebook`` does, for several chapters."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nnref.notebooks", description=main.__doc__)
    parser.add_argument("chapters", nargs="+", type=int)
    parser.add_argument("--out", default=".")
    parser.add_argument("--run", action="store_true", help="execute in a fresh kernel to fill the outputs")
    parser.add_argument("--root", default=None, help="the checkout to read pages from and import nnref from")
    args = parser.parse_args(argv)
    for number in args.chapters:
        start = time.perf_counter()
        path = write_notebook(number, args.out, run=args.run, root=args.root)
        print(f"{path}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
