"""Index the book's printed outputs: every block that follows a ``>>>`` marker.

The book marks what a listing prints with a line starting ``>>>``. This module
finds those blocks in the book's OCR'd text, decides where each ends, and
records for each one an id ``"chapter.order"``, the line numbers where it
starts and ends, and the numbers it holds *as printed* (strings, so the
printed precision is kept). Nothing else of the book's text is stored.

Run ``python -m nnref.bookindex [BOOK_TEXT]`` to regenerate
``nnref/data_files/book_outputs.json``; ``tests/test_bookcheck.py`` checks
that the stored index equals what this parser reads from the book, where the
book's text is present (``../shared/seeds/`` beside the project).

Where a block ends is a heuristic (the OCR lost most code-fence structure):
output lines are taken until a line that is code, prose, another ``>>>`` or,
after a blank line or a fence, a line that does not look like printed output.
:data:`END_OVERRIDES` corrects the few blocks where that heuristic is wrong
because of OCR layout damage; each entry says why.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["BOOK_TEXT", "INDEX_FILE", "parse_blocks", "numbers_in", "load_index", "build_index"]

#: Where the book's text sits relative to the project root (read-only, not shipped).
BOOK_TEXT = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "003_8cd9b6217ea844b2.txt"
#: The stored index, shipped inside the package (``nnref check-book`` reads it).
INDEX_FILE = Path(__file__).resolve().parent / "data_files" / "book_outputs.json"

CHAPTER = re.compile(r"^Chapter (\d+)$")
# A number as printed: sign, digits, optional fraction and exponent; also inf.
NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|inf)(?![\w])")
WORD = re.compile(r"[A-Za-z_/\-]+")
# Lines that are listing code rather than output.
CODE = re.compile(r"^\s*(print\(|np\.|import |from |def |for |class |if |return |plt\.|#|"
                  r"[A-Za-z_][\w.\[\]]*\s*(=|\+=|-=|\*=)\s*\S)")
# Lines that look like printed output even after a blank line or a fence.
OUTPUT_AFTER_GAP = re.compile(r"^\s*(epoch: |step: |validation, |training, |\.\s?\.\s?\.|\[+\s*-?\d|array\(|"
                              r"-?\d[\d.eE+\- ]*$|lr: |\d+\.\d+$)")

#: Blocks whose end the heuristic gets wrong: start line -> last line of the
#: block. Each is OCR layout damage (a figure's text or a page number run into
#: the output, or output split around a fence).
END_OVERRIDES: dict[int, int] = {
    517: 517,      # the figure's formula and a broken link follow the output
    2829: 2833,    # the printed derivative sits after a stray fence
    2875: 2891,    # the x = 3 and x = 4 lines sit after a stray fence
    3463: 3465,    # a figure's node labels follow the output
    3801: 3804,    # a figure's node labels follow the output
    10200: 10209,  # the log's last line is printed a second time
    13661: 13661,  # the output is an image (a figure caption follows)
}


def _chapter_starts(lines: list[str]) -> list[tuple[int, int]]:
    return [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := CHAPTER.match(line))]


def numbers_in(text: str) -> list[str]:
    """The numbers in ``text``, as printed (strings), in order.

    Parameters
    ----------
    text : str
        Printed output.

    Returns
    -------
    list of str
        Each number's characters as they appear (``"0.33333334"``, ``"-1.0475188e-04"``, ``"inf"``).
    """
    return [m.group(0) for m in NUMBER.finditer(text)]


def _block_end(lines: list[str], start: int) -> int:
    """Index of the last line of the block whose marker is at ``start``."""
    if start + 1 in END_OVERRIDES:
        return END_OVERRIDES[start + 1] - 1
    has_content = bool(lines[start][3:].strip())
    end = start
    i = start + 1
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if line.startswith(">>>"):
            break
        if not stripped or stripped.startswith("```"):
            # A gap: continue only if the next real line is output.
            j = i
            while j < len(lines) and j - i < 5 and (not lines[j].strip() or lines[j].strip().startswith("```")):
                j += 1
            if j >= len(lines) or j - i >= 5:
                break
            nxt = lines[j]
            if not has_content and not CODE.match(nxt) and len(nxt) < 200:
                i = j
                continue
            if has_content and OUTPUT_AFTER_GAP.match(nxt) and not CODE.match(nxt):
                i = j
                continue
            break
        if CODE.match(line) or len(stripped) > 200:
            break
        has_content = True
        end = i
        i += 1
    return end


def parse_blocks(text: str) -> list[dict[str, Any]]:
    """Every output block of the book: id, chapter, order, first/last line, printed numbers.

    Parameters
    ----------
    text : str
        The book's text, one printed line per line.

    Returns
    -------
    list of dict
        One entry per line that starts with ``>>>`` (the prose mention of the
        marker in chapter 2 is not a block). Line numbers are 1-based.
    """
    lines = text.split("\n")
    starts = _chapter_starts(lines)
    blocks: list[dict[str, Any]] = []
    order: dict[int, int] = {}
    for i, line in enumerate(lines):
        if not line.startswith(">>>"):
            continue
        chapter = max((c for s, c in starts if s <= i), default=0)
        order[chapter] = order.get(chapter, 0) + 1
        end = _block_end(lines, i)
        body = "\n".join([line[3:]] + lines[i + 1:end + 1])
        entry = {
            "id": f"{chapter}.{order[chapter]}",
            "chapter": chapter,
            "order": order[chapter],
            "line": i + 1,
            "end_line": end + 1,
            # a warning's "__main__:1:" is the interpreter's line, not an output
            "numbers": numbers_in("\n".join(x for x in body.split("\n") if "Warning" not in x)),
        }
        if not entry["numbers"]:
            # No numbers: keep the printed words (class names, True/False), at most a short line.
            entry["words"] = " ".join(w for w in WORD.findall(body) if re.search("[a-z]", w))[:300]
        blocks.append(entry)
    return blocks


def build_index(text: str) -> dict[str, Any]:
    """The index as stored: a note on its source and the blocks."""
    return {
        "source": "the >>> output blocks of the book's text (../shared/seeds/003_8cd9b6217ea844b2.txt), "
                  "parsed by nnref/bookindex.py; numbers kept as printed",
        "blocks": parse_blocks(text),
    }


def load_index(path: Path | None = None) -> list[dict[str, Any]]:
    """The stored blocks (from the package's data file unless ``path`` is given)."""
    return json.loads((path or INDEX_FILE).read_text(encoding="utf-8"))["blocks"]


def main(argv: list[str] | None = None) -> int:
    """Regenerate the stored index from the book's text."""
    argv = sys.argv[1:] if argv is None else argv
    source = Path(argv[0]) if argv else BOOK_TEXT
    if not source.exists():
        print(f"error: the book's text is not at {source}", file=sys.stderr)
        return 2
    index = build_index(source.read_text(encoding="utf-8"))
    INDEX_FILE.parent.mkdir(parents=True, exist_ok=True)
    INDEX_FILE.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(index['blocks'])} blocks to {INDEX_FILE}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
