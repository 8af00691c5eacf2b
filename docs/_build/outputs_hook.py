"""MkDocs hook: link each chapter page to its rows on "The book's outputs".

For every page of a chapter in ``nnref.chapters.CHAPTERS`` that prints
output blocks, a short section is appended to the page's Markdown with one
link per block to its anchored row on ``book-outputs.md``. The section is
built from the stored verdicts (``nnref/data_files/book_verdicts.json``), so
the chapter pages themselves are not edited.

Registered in ``mkdocs.yml`` under ``hooks:``.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _import(config, module: str):
    root = str(Path(config.config_file_path).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(module)


def on_page_markdown(markdown: str, page, config, files) -> str:
    chapters = {ch.page: ch.number for ch in _import(config, "nnref.chapters").CHAPTERS}
    number = chapters.get(page.file.src_uri)
    if number is None:
        return markdown
    bookcheck = _import(config, "nnref.bookcheck")
    return markdown + bookcheck.chapter_links_markdown(number, page.file.src_uri)
