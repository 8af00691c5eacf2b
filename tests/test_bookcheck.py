"""Every printed output of the book: the index, the verdict rules, and fresh verdicts per chapter.

The index (``nnref/data_files/book_outputs.json``) is parsed from the book's
text by ``nnref.bookindex``; the verdicts (``nnref/data_files/book_verdicts.json``)
are computed by ``nnref.bookcheck`` in child processes that start with a bare
``nnfs.init()``, as the book's listings do. The tests below recompute each
chapter's verdicts and require them to equal the stored ones, so the site page
that reads the file cannot go stale.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nnref import bookcheck, bookindex

ROOT = Path(__file__).resolve().parents[1]
#: Output blocks per chapter, counted in the book text by hand (issue 15): lines starting with ">>>".
BLOCKS_PER_CHAPTER = {2: 12, 3: 5, 4: 21, 5: 16, 6: 2, 7: 7, 9: 33, 10: 11, 11: 1, 14: 4, 15: 3, 16: 8,
                      17: 9, 18: 5, 19: 21, 20: 3, 21: 3, 22: 8}
#: Reasons that make a block out of reach whatever the code does (not a failure of ours).
OUT_OF_REACH = ("Fashion-MNIST", "downloads", "random without a seed", "timing ratio", "authors' photo",
                "image (a plot)", "not what nnfs.init() followed by np.random.shuffle gives")


@pytest.fixture(scope="module")
def stored():
    """The stored verdicts, by block id."""
    return bookcheck.stored_verdicts()


def test_index_matches_the_book_text():
    """The stored index is exactly what nnref.bookindex parses from the book's text today."""
    if not bookindex.BOOK_TEXT.exists():
        pytest.skip(f"the book's text is not at {bookindex.BOOK_TEXT}; the stored index is used as it is")
    fresh = bookindex.build_index(bookindex.BOOK_TEXT.read_text(encoding="utf-8"))["blocks"]
    assert fresh == bookindex.load_index()


def test_index_has_every_block_of_every_chapter():
    """The index holds 172 blocks with the per-chapter counts found by hand, ids 'chapter.order' in book order."""
    blocks = bookindex.load_index()
    assert Counter(b["chapter"] for b in blocks) == BLOCKS_PER_CHAPTER
    assert [b["line"] for b in blocks] == sorted(b["line"] for b in blocks)
    for b in blocks:
        assert b["id"] == f"{b['chapter']}.{b['order']}"
        assert b["end_line"] >= b["line"]


def test_index_keeps_numbers_as_printed():
    """Printed numbers keep their characters (precision, exponent, sign); a warning's line number is not one."""
    assert bookindex.numbers_in("[[ 1.7640524 -1.0475188e-04 0.]] inf -inf") == \
        ["1.7640524", "-1.0475188e-04", "0.", "inf", "-inf"]
    assert bookindex.numbers_in("Layer_Dense object at 0x0000015E9D504BC8 float32") == []
    by_id = {b["id"]: b for b in bookindex.load_index()}
    assert by_id["4.15"]["numbers"] == ["inf"]      # the "__main__:1:" of the warning line is left out
    assert by_id["3.2"]["numbers"][0] == "1.7640524"


def test_every_block_has_a_computation_or_a_reason():
    """No block is left without a verdict: each has a computation or a stated reason, and nothing else is registered."""
    ids = {b["id"] for b in bookindex.load_index()}
    assert set(bookcheck.SPECS) == ids
    for spec in bookcheck.SPECS.values():
        assert spec.compute is not None or spec.reason, spec.id
        assert spec.what, spec.id


@pytest.mark.parametrize("book, ours, same", [
    ("0.360", "0.3604", True), ("0.360", "0.3606", False), ("4.8", "4.800000000000001", True),
    ("1.0986104", "1.0986104", True), ("1.0986104", "1.0986105", False),
    ("-1.0475188e-04", "-0.00010475188", True), ("-1.0475188e-04", "-0.00010475189", False),
    ("0.33333333333333333333", "0.3333333333333333", True),   # OCR-lengthened repr, 15+ digits
    ("0.666666666666666", "0.6666666666666666", True), ("20", "20.0", True), ("2", "3", False),
    ("inf", "inf", True), ("inf", "1e308", False),
])
def test_exact_match_rounds_to_the_printed_precision(book, ours, same):
    """A number is exact when ours, rounded to the places the book prints, is the book's; long reprs to 1e-14."""
    assert bookcheck.exact_match(book, ours) is same


def _entry(numbers, id="2.1"):
    return {"id": id, "line": 1, "numbers": numbers}


def test_compare_skips_our_extra_lines_and_judges_drift():
    """Elided lines of ours are skipped; a gap within tolerance is drift with its size; beyond it, not reproducible."""
    spec = bookcheck.Spec("2.1", "test", compute=lambda: None, atol=0.01, cause="because")
    ours = "epoch: 0, acc: 0.360\nepoch: 100, acc: 0.400\nepoch: 200, acc: 0.420\n"
    r = bookcheck.compare(_entry(["0", "0.360", "200", "0.420"]), spec, ours)
    assert r["verdict"] == "exact" and r["exact"] == 4
    r = bookcheck.compare(_entry(["0", "0.360", "200", "0.425"]), spec, ours)
    assert r["verdict"] == "drift" and r["differ"] == [["0.425", "0.420"]] and "because" in r["detail"]
    r = bookcheck.compare(_entry(["0", "0.360", "200", "0.480"]), spec, ours)
    assert r["verdict"] == "not reproducible" and "0.480" in r["detail"]


def test_compare_applies_ocr_repairs_and_reports_them():
    """A repaired OCR token is compared as the book printed it, and the detail names the damage."""
    spec = bookcheck.Spec("9.18", "test", compute=lambda: None, ocr={"5008": "5 0 0 8"})
    r = bookcheck.compare(_entry(["5008"]), spec, "[5 0 0 8]")
    assert r["verdict"] == "exact" and "5008" in r["detail"]


def test_a_failing_computation_is_not_reproducible_with_its_error():
    """An exception in a computation becomes a 'not reproducible' verdict naming the error, never a pass."""
    spec = bookcheck.Spec("2.1", "test", compute=lambda: None)
    r = bookcheck.compare(_entry(["4.8"]), spec, None, "ValueError: boom")
    assert r["verdict"] == "not reproducible" and "boom" in r["detail"]


def test_stored_verdicts_cover_every_block_with_reasons(stored):
    """The verdicts file has one verdict per block; each 'not reproducible' says why, each drift how much."""
    assert set(stored) == {b["id"] for b in bookindex.load_index()}
    for r in stored.values():
        assert r["verdict"] in ("exact", "drift", "not reproducible"), r
        if r["verdict"] != "exact":
            assert r["detail"], r["id"]
        if r["verdict"] == "drift":
            assert "largest gap" in r["detail"], r["id"]


def test_nine_in_ten_deterministic_blocks_reproduce(stored):
    """At least 90% of the blocks within reach (no download, image, timing or unseeded draw) are exact or drift."""
    reachable = [r for r in stored.values()
                 if not (r["verdict"] == "not reproducible" and any(k in r["detail"] for k in OUT_OF_REACH))]
    good = [r for r in reachable if r["verdict"] in ("exact", "drift")]
    assert len(good) >= 0.9 * len(reachable), [r["id"] for r in reachable if r not in good]


@pytest.mark.slow  # a child process per chapter; the training chapters take minutes
@pytest.mark.parametrize("chapter", sorted(BLOCKS_PER_CHAPTER))
def test_chapter_verdicts_are_fresh(chapter, stored):
    """Recomputed in the book's set-up, each block of the chapter gets the stored verdict and the same numbers."""
    fresh = bookcheck.check_chapter(chapter)
    for r in fresh:
        r.pop("seconds", None)
        assert r == stored[r["id"]], f"block {r['id']}: now {r}\nstored {stored[r['id']]}\n" \
                                     f"(python -m nnref.bookcheck --write {chapter} regenerates the file)"


def test_check_book_command_prints_a_chapter_table():
    """`nnref check-book 2` runs chapter 2's verdicts and prints one row per block and the counts."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "nnref.cli", "check-book", "2"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("2.")]
    assert len(rows) == BLOCKS_PER_CHAPTER[2]
    assert "exact: 12" in proc.stdout


def test_check_book_command_rejects_a_chapter_without_outputs():
    """`nnref check-book 8` exits 2 and names the chapters that print outputs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "nnref.cli", "check-book", "8"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 2 and "chapter 8" in proc.stderr
