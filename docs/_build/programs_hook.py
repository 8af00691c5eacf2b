"""MkDocs hook: end every chapter page (2-22) with its complete program.

The programs live in ``docs/programs/chapter_NN.py``; MkDocs copies them into
the site as they are, so each is downloadable from
``programs/chapter_NN.py``. This hook appends to chapter NN's page a section
"The complete program" holding a download link and the program's source, read
from the file at build time (the page never holds a copy that could drift).

A chapter 2-22 without its program, or a program without its chapter, fails
the build. ``tests/test_programs.py`` runs every program.

Registered in ``mkdocs.yml`` under ``hooks:``.
"""
from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files

PROGRAMS_DIR = "programs"
FIRST, LAST = 2, 22
_CHAPTER_PAGE = re.compile(r"^chapters/(\d{2})-[^/]+\.md$")


def _program_path(number: int) -> str:
    return f"{PROGRAMS_DIR}/chapter_{number:02d}.py"


def on_files(files: Files, config) -> Files:
    """Check that chapters 2-22 each have their program, and that no other program lies there."""
    present = {f.src_uri for f in files if f.src_uri.startswith(f"{PROGRAMS_DIR}/") and f.src_uri.endswith(".py")}
    wanted = {_program_path(n) for n in range(FIRST, LAST + 1)}
    if present != wanted:
        raise PluginError(f"docs/{PROGRAMS_DIR}/ must hold exactly chapter_02.py ... chapter_22.py; "
                          f"missing {sorted(wanted - present)}, unexpected {sorted(present - wanted)}")
    return files


def _fence(source: str) -> str:
    """A backtick fence longer than any run of backticks inside the source."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)


def _section(number: int, source: str) -> str:
    name = f"chapter_{number:02d}.py"
    needs = ["numpy", "nnfs"]
    if "nnref" in source:
        needs.append("nnref")
    if "NNREF_DATA" in source:
        needs.append("Pillow")
    notes = [f"It needs {', '.join(needs[:-1])} and {needs[-1]}."]
    if "NNREF_DATA" in source:
        notes.append("It reads Fashion-MNIST from the folder named by the environment variable "
                     "`NNREF_DATA` (by default `fashion_mnist_images` in the current folder).")
    if "NNREF_SHORT" in source and "changes nothing" not in source:
        notes.append("With `NNREF_SHORT=1` it runs the shorter setting described in its header, "
                     "the one the tests run on every change.")
    if "from nnref.book import *" in source:
        what = ("Everything this chapter builds, as one script in the book's names "
                "(`from nnref.book import *` stands in for the class definitions)")
    else:
        what = "Everything this chapter computes, as one script"
    fence = _fence(source)
    return (
        "\n\n## The complete program\n\n"
        f"{what}: [download {name}](../{_program_path(number)}){{ download=\"{name}\" }} "
        f"and run it with `python {name}`. {' '.join(notes)}\n\n"
        f"{fence}python\n{source.rstrip()}\n{fence}\n"
    )


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    match = _CHAPTER_PAGE.match(page.file.src_uri)
    if not match or not FIRST <= int(match.group(1)) <= LAST:
        return markdown
    number = int(match.group(1))
    path = Path(config.docs_dir) / _program_path(number)
    return markdown.rstrip() + _section(number, path.read_text(encoding="utf-8"))
