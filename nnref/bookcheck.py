"""A verdict for every printed output of the book.

Each output block of the book (indexed by :mod:`nnref.bookindex`) gets a
computation here: our code doing what the listing before the block does, in
the book's own set-up, printing in the book's format. The verdict compares
the numbers we print with the numbers the book printed:

* **exact** — every number reproduced at the book's printed precision;
* **drift** — every number within the block's stated tolerance; the measured
  largest gap and its cause are reported;
* **not reproducible** — with the reason (a download we may not make, an
  unseeded random draw, a timing, OCR damage, ...).

Computations run in a child process per chapter and set-up: ``"nnfs"``
blocks start from a bare ``import nnfs; nnfs.init()`` with the book's names
(``from nnref.book import *``), as the book's listings do (``nnfs.init()``
patches numpy for the whole process, so it cannot run in the caller's);
``"plain"`` blocks come from listings that never call ``nnfs.init()`` (plain
numpy, float64). Each listing that starts with ``nnfs.init()`` in the book
starts here from a freshly seeded global RNG.

Today nnref's Adam and ``Model`` follow the book's arithmetic bit for bit
only inside :func:`nnref.book_mode` (the bare set-up is being fixed); setting
the environment variable ``NNREF_BOOKCHECK_BOOK_MODE=1`` runs every
computation inside ``book_mode()`` too, to see which verdicts that moves.
The stored verdicts come from the bare set-up.

The expected numbers are never written here: they come from the index.
``nnref check-book [CHAPTER]`` prints the table; ``python -m nnref.bookcheck
--write`` regenerates ``nnref/data_files/book_verdicts.json``, which the site
page reads and a test keeps fresh.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .bookindex import INDEX_FILE, load_index, numbers_in

__all__ = ["SPECS", "Spec", "check_chapter", "check_all", "compare", "verdicts_table", "VERDICTS_FILE"]

VERDICTS_FILE = INDEX_FILE.parent / "book_verdicts.json"

from ._bookcheck_specs import (  # noqa: F401  (names the listings and the tests use)
    ADAM_CAUSE, CH2_BIASES, CH2_INPUTS, CH2_WEIGHTS, CH3_BIASES2, CH3_WEIGHTS2, CHAOS_CAUSE, DRIFT,
    EXACT, FASHION, FLOAT32_CAUSE, NOT_REPRODUCIBLE, REGRESSION_CAUSE, SPECS, TOY_SOFTMAX, Spec, _fresh_init,
    _layer, _np, block, unreproducible,
)
from . import bookcheck_listings  # noqa: E402,F401  (registers the computations)


# --------------------------------------------------------------------------- comparing numbers

def _known_words() -> set[str]:
    """Words a block without numbers is judged by: the book's class names and True/False."""
    from . import book
    return set(book.__all__) | {"True", "False"}


def _decimals(s: str) -> tuple[int, int]:
    """(places after the point in the mantissa, exponent) of a printed number."""
    mant, _, exp = s.lower().partition("e")
    places = len(mant.split(".")[1]) if "." in mant else 0
    return places, int(exp) if exp else 0


def _sig_digits(s: str) -> int:
    return len(s.lower().partition("e")[0].lstrip("-").replace(".", "").lstrip("0"))


def _value(s: str) -> float:
    return float(s)


def exact_match(book: str, ours: str) -> bool:
    """Whether ``ours`` equals the printed ``book`` number at its printed precision.

    Rounded to the places the book shows, the two agree; a printed number
    with 15 or more significant digits (a float's full ``repr``, sometimes
    with a digit dropped or repeated by the OCR) must agree to 1e-14.
    """
    b, o = _value(book), _value(ours)
    if math.isinf(b) or math.isinf(o) or math.isnan(b) or math.isnan(o):
        return b == o or (math.isnan(b) and math.isnan(o))
    if _sig_digits(book) >= 15:
        return abs(b - o) <= 1e-14 * max(abs(b), 1e-300) or b == o
    places, exp = _decimals(book)
    unit = 10.0 ** (exp - places)
    return abs(round(o / unit) - round(b / unit)) == 0 or abs(o - b) <= unit * 1e-9


def _within(book: str, ours: str, spec: Spec) -> bool:
    b, o = _value(book), _value(ours)
    if not (math.isfinite(b) and math.isfinite(o)):
        return False
    return abs(o - b) <= spec.atol or abs(o - b) <= spec.rtol * abs(b)


def _repair(numbers: list[str], spec: Spec) -> tuple[list[str], list[str]]:
    """Apply the spec's OCR repairs to the printed numbers; return (numbers, notes)."""
    out, notes = [], []
    for n in numbers:
        if n in spec.ocr:
            out.extend(spec.ocr[n].split())
            notes.append(f"the text shows {n} for {spec.ocr[n]}")
        else:
            out.append(n)
    return out, notes


def align(book: list[str], ours: list[str], spec: Spec) -> list[int | None]:
    """Pair each printed number with one of ours, in order (our extra numbers are skipped freely).

    Dynamic programming over the two sequences: pairing an exact match costs
    0, a match within tolerance 1, leaving a printed number unpaired 10.
    Returns, for each printed number, the index of our number or None.
    """
    n, m = len(book), len(ours)
    INF = float("inf")
    # cost[i][j]: best cost of pairing book[:i] within ours[:j]
    cost = [[INF] * (m + 1) for _ in range(n + 1)]
    move: list[list[int]] = [[0] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        cost[0][j] = 0.0
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + 10
        move[i][0] = 1
        bi = book[i - 1]
        row, prev = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            best, how = row[j - 1], 0            # skip our number j-1
            c = prev[j] + 10                       # leave book number unpaired
            if c < best:
                best, how = c, 1
            oj = ours[j - 1]
            if exact_match(bi, oj):
                c = prev[j - 1]
            elif _within(bi, oj, spec):
                c = prev[j - 1] + 1
            else:
                c = INF
            if c < best:
                best, how = c, 2
            row[j], move[i][j] = best, how
    pairs: list[int | None] = [None] * n
    i, j = n, m
    while i > 0:
        how = move[i][j] if j > 0 else 1
        if how == 0:
            j -= 1
        elif how == 1:
            i -= 1
        else:
            pairs[i - 1] = j - 1
            i, j = i - 1, j - 1
    return pairs


def compare(entry: dict[str, Any], spec: Spec, output: str | None, error: str | None = None) -> dict[str, Any]:
    """The verdict of one block, from its index entry, its spec and what our computation printed.

    Returns
    -------
    dict
        ``id``, ``line``, ``what``, ``verdict``, ``detail`` (the measured gap,
        cause, OCR notes or reason), ``exact``/``total`` numbers, and
        ``differ``: up to five ``[book, ours]`` pairs that are not exact.
    """
    result: dict[str, Any] = {"id": entry["id"], "line": entry["line"], "what": spec.what,
                              "book_numbers": len(entry["numbers"])}
    if spec.compute is None:
        result.update(verdict=NOT_REPRODUCIBLE, detail=spec.reason, differ=[], exact=0, total=len(entry["numbers"]))
        return result
    if error is not None or output is None:
        result.update(verdict=NOT_REPRODUCIBLE, detail=f"our computation failed: {error}", differ=[],
                      exact=0, total=len(entry["numbers"]))
        return result
    book, notes = _repair(entry["numbers"], spec)
    ours = numbers_in(output)
    if not book:
        # Nothing numeric was printed: compare the words instead (class names, True/False).
        known = _known_words()
        want = [w for w in entry.get("words", "").split() if w in known]
        got = [w for w in re.findall(r"[A-Za-z_/\-]+", output) if w in known]
        ok = want == got if want else bool(output.strip())
        result.update(verdict=EXACT if ok else NOT_REPRODUCIBLE,
                      detail="" if ok else f"printed words differ: book {' '.join(want)!r}, ours {' '.join(got)!r}",
                      differ=[], exact=0, total=0)
        if ok and spec.reason:
            result["detail"] = spec.reason
        return result
    pairs = align(book, ours, spec)
    # which of our printed lines each of our numbers sits on (to say where a log starts to differ)
    line_of = [text for text in output.splitlines() for _ in numbers_in(text)]
    unpaired = [b for b, p in zip(book, pairs) if p is None]
    differ, worst_abs, worst_rel, n_exact, first = [], 0.0, 0.0, 0, None
    for b, p in zip(book, pairs):
        if p is None:
            continue
        o = ours[p]
        if exact_match(b, o):
            n_exact += 1
            continue
        if first is None:
            first = line_of[p].split(",")[0].strip() if p < len(line_of) else ""
        gap = abs(_value(o) - _value(b))
        worst_abs = max(worst_abs, gap)
        worst_rel = max(worst_rel, gap / abs(_value(b)) if _value(b) else math.inf)
        if len(differ) < 5:
            differ.append([b, o])
    result.update(exact=n_exact, total=len(book), differ=differ)
    allowed = len(book) if spec.partial else spec.ocr_extra
    if len(unpaired) > allowed:
        result.update(verdict=NOT_REPRODUCIBLE,
                      detail=(spec.reason + "; " if spec.reason else "")
                      + f"{len(unpaired)} printed numbers not reproduced (e.g. {', '.join(unpaired[:4])})")
        return result
    if spec.partial:
        extras = [f"partial: {spec.partial} ({len(book) - len(unpaired)} of {len(book)} numbers compared)"]
    else:
        extras = [f"{len(unpaired)} number(s) in the text are OCR debris ({', '.join(unpaired)})"] if unpaired else []
    if n_exact == len(book) - len(unpaired):
        result.update(verdict=EXACT, detail="; ".join(notes + extras))
    else:
        gap = f"largest gap {worst_abs:.3g} (relative {worst_rel:.2g}); {n_exact}/{len(book)} numbers exact"
        if first and first.startswith(("epoch", "step")):
            gap += f"; the first difference is on the line of {first}"
        result.update(verdict=DRIFT, detail="; ".join([gap, spec.cause] + notes + extras))
    return result


# --------------------------------------------------------------------------- running the computations

def _run_here(ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Run the computations of ``ids`` in this process; what each printed, or its error."""
    out: dict[str, dict[str, Any]] = {}
    # For comparison only: NNREF_BOOKCHECK_BOOK_MODE=1 runs each computation
    # inside nnref.book_mode() as well (see the module docstring).
    scoped = os.environ.get("NNREF_BOOKCHECK_BOOK_MODE") == "1"
    for id in ids:
        spec = SPECS[id]
        buf = io.StringIO()
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(buf), (_book_mode() if scoped else contextlib.nullcontext()):
                spec.compute()
            out[id] = {"output": buf.getvalue(), "error": None}
        except Exception as exc:  # reported in the verdict, never hidden
            out[id] = {"output": None, "error": f"{type(exc).__name__}: {exc}"}
        out[id]["seconds"] = round(time.perf_counter() - start, 2)
    return out


def _book_mode():
    from .repro import book_mode
    return book_mode()


def _child(setup: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Run computations in a fresh interpreter with the book's set-up; parse the JSON it prints."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    proc = subprocess.run([sys.executable, "-m", "nnref.bookcheck", "--compute", setup, *ids],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {id: {"output": None, "error": f"child process failed: {err[0]}"} for id in ids}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_chapter(chapter: int, *, include_slow: bool = True, index: list[dict] | None = None) -> list[dict[str, Any]]:
    """Verdicts of every block of one chapter (in book order).

    Parameters
    ----------
    chapter : int
        Book chapter (2-22).
    include_slow : bool, default True
        When False, slow blocks are not run and get the verdict stored in the
        verdicts file (marked ``"stored": True``).
    """
    index = index if index is not None else load_index()
    entries = [e for e in index if e["chapter"] == chapter]
    if not entries:
        raise ValueError(f"chapter {chapter} prints no output blocks; chapters with blocks: "
                         f"{sorted({e['chapter'] for e in index})}")
    missing = [e["id"] for e in entries if e["id"] not in SPECS]
    if missing:
        raise ValueError(f"blocks without a computation or reason: {missing}")
    stored = {}
    if not include_slow and VERDICTS_FILE.exists():
        stored = {r["id"]: r for r in json.loads(VERDICTS_FILE.read_text())["results"]}
    runs: dict[str, dict[str, Any]] = {}
    # Development aid: NNREF_BOOKCHECK_CACHE=FILE keeps what the computations printed, so
    # a change to the comparison does not rerun minutes of training. Tests never set it.
    cache_file = os.environ.get("NNREF_BOOKCHECK_CACHE")
    cache = json.loads(Path(cache_file).read_text()) if cache_file and Path(cache_file).exists() else {}
    for setup in ("plain", "nnfs"):
        ids = [e["id"] for e in entries if SPECS[e["id"]].compute is not None and SPECS[e["id"]].setup == setup
               and (include_slow or not SPECS[e["id"]].slow)]
        todo = [i for i in ids if i not in cache]
        if todo:
            runs.update(_child(setup, todo))
        runs.update({i: cache[i] for i in ids if i in cache})
    if cache_file:
        cache.update({i: r for i, r in runs.items() if r.get("error") is None})
        Path(cache_file).write_text(json.dumps(cache))
    results = []
    for e in entries:
        spec = SPECS[e["id"]]
        if spec.compute is not None and e["id"] not in runs:
            results.append({**stored.get(e["id"], {"id": e["id"], "line": e["line"], "what": spec.what,
                                                    "verdict": "not run", "detail": "slow; not run",
                                                    "differ": [], "exact": 0, "total": len(e["numbers"])}),
                            "stored": True})
            continue
        run = runs.get(e["id"], {})
        r = compare(e, spec, run.get("output"), run.get("error"))
        r["seconds"] = run.get("seconds", 0.0)
        results.append(r)
    return results


def check_all(*, include_slow: bool = True, chapters: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Verdicts of every block of the given chapters (default: all)."""
    index = load_index()
    chapters = sorted({e["chapter"] for e in index}) if chapters is None else chapters
    return [r for ch in chapters for r in check_chapter(ch, include_slow=include_slow, index=index)]


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    """How many blocks got each verdict."""
    out = {EXACT: 0, DRIFT: 0, NOT_REPRODUCIBLE: 0}
    for r in results:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out


def verdicts_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table of verdicts, one block a line, for the terminal."""
    lines = [f"{'id':<6} {'line':>6}  {'verdict':<17} what / detail"]
    for r in results:
        lines.append(f"{r['id']:<6} {r['line']:>6}  {r['verdict']:<17} {r['what']}")
        if r.get("detail"):
            lines.append(f"{'':<32}{r['detail']}")
        for b, o in r.get("differ", [])[:3]:
            lines.append(f"{'':<32}book {b}  ours {o}")
    c = counts(results)
    lines.append(", ".join(f"{k}: {v}" for k, v in c.items()) + f"  ({len(results)} blocks)")
    return "\n".join(lines)


def stored_verdicts(path: Path = VERDICTS_FILE) -> dict[str, dict[str, Any]]:
    """The stored verdicts by block id (empty if the file is missing)."""
    if not path.exists():
        return {}
    return {r["id"]: r for r in json.loads(path.read_text(encoding="utf-8"))["results"]}


def write_verdicts(chapters: Iterable[int] | None = None, path: Path = VERDICTS_FILE) -> list[dict[str, Any]]:
    """Compute the verdicts (slow blocks included) of ``chapters`` (default all) and store them.

    Verdicts of other chapters already in the file are kept, so a chapter
    can be refreshed alone.
    """
    fresh = check_all(chapters=chapters)
    for r in fresh:
        r.pop("seconds", None)
        r.pop("stored", None)
    merged = stored_verdicts(path)
    merged.update({r["id"]: r for r in fresh})
    order = {e["id"]: i for i, e in enumerate(load_index())}
    results = sorted((r for r in merged.values() if r["id"] in order), key=lambda r: order[r["id"]])
    path.write_text(json.dumps({"note": "generated by python -m nnref.bookcheck --write [CHAPTER ...]; "
                                        "tests/test_bookcheck.py checks it is fresh",
                                "results": results}, indent=1) + "\n", encoding="utf-8")
    return fresh


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--compute"]:
        setup, ids = argv[1], argv[2:]
        if setup == "nnfs":
            # The book's set-up: a bare nnfs.init() before anything runs.
            import nnfs
            nnfs.init()
        print(json.dumps(_run_here(ids)))
        return 0
    if argv[:1] == ["--write"]:
        results = write_verdicts([int(a) for a in argv[1:]] or None)
        print(verdicts_table(results))
        return 0
    chapters = [int(a) for a in argv] or None
    print(verdicts_table(check_all(chapters=chapters)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    # Run through the package's module, where the listings registered themselves.
    from nnref import bookcheck as _registered
    sys.exit(_registered._main(sys.argv[1:]))


# --------------------------------------------------------------------------- the site page

def anchor(block_id: str) -> str:
    """The HTML anchor of a block's row on the site page ("block-9-14" for block 9.14)."""
    return "block-" + block_id.replace(".", "-")


PAGE = "book-outputs.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def page_markdown(results: list[dict[str, Any]] | None = None) -> str:
    """The body of the site page "The book's outputs", from the stored verdicts.

    Counts at the top, then one table per chapter: id (with an anchor), the
    line of the book's text, what the block shows, the numbers the book
    printed (the first few, so a reader can search for one), the verdict
    with its detail, and our numbers beside the book's where they differ.
    """
    results = results if results is not None else list(stored_verdicts().values())
    index = {e["id"]: e for e in load_index()}
    c = counts(results)
    out = [f"**{len(results)} output blocks**: {c[EXACT]} exact, {c[DRIFT]} drift, "
           f"{c[NOT_REPRODUCIBLE]} not reproducible.", ""]
    chapters = sorted({int(r["id"].split(".")[0]) for r in results})
    out += ["| chapter | blocks | exact | drift | not reproducible |", "|---:|---:|---:|---:|---:|"]
    for ch in chapters:
        rc = counts([r for r in results if r["id"].startswith(f"{ch}.")])
        out.append(f"| [{ch}](#chapter-{ch}) | {sum(rc.values())} | {rc[EXACT]} | {rc[DRIFT]} | "
                   f"{rc[NOT_REPRODUCIBLE]} |")
    out.append("")
    for ch in chapters:
        # an explicit anchor: markdown-exec prefixes the ids of the headings it renders
        out += [f"<span id=\"chapter-{ch}\"></span>", "", f"## Chapter {ch}", "",
                "| id | line | what it shows | the book printed | verdict | book → ours where they differ |",
                "|---|---:|---|---|---|---|"]
        for r in (r for r in results if r["id"].startswith(f"{ch}.")):
            numbers = index[r["id"]]["numbers"]
            shown = " ".join(numbers[:8]) + (f" … ({len(numbers)} numbers)" if len(numbers) > 8 else "")
            verdict = f"**{r['verdict']}**" + (f": {r['detail']}" if r.get("detail") else "")
            differ = "<br>".join(f"{b} → {o}" for b, o in r.get("differ", []))
            out.append(f"| <span id=\"{anchor(r['id'])}\"></span>{r['id']} | {r['line']} | {_cell(r['what'])} | "
                       f"{_cell(shown) or '(no numbers)'} | {_cell(verdict)} | {_cell(differ)} |")
        out.append("")
    return "\n".join(out)


def chapter_links_markdown(chapter: int, page_path: str = "chapters/x.md") -> str:
    """A short section for a chapter page linking to its rows on the outputs page ("" if it prints none)."""
    rows = [r for r in stored_verdicts().values() if r["id"].startswith(f"{chapter}.")]
    if not rows:
        return ""
    depth = page_path.count("/")
    target = "../" * depth + PAGE
    c = counts(rows)
    order = {e["id"]: i for i, e in enumerate(load_index())}
    rows.sort(key=lambda r: order.get(r["id"], 0))
    items = []
    for verdict in (EXACT, DRIFT, NOT_REPRODUCIBLE):
        ids = [r["id"] for r in rows if r["verdict"] == verdict]
        if ids:
            links = ", ".join(f"[{i}]({target}#{anchor(i)})" for i in ids)
            items.append(f"- {verdict}: {links}")
    return (f"\n\n## The book's outputs in this chapter\n\n"
            f"Verdicts for the chapter's {len(rows)} printed output blocks: {c[EXACT]} exact, "
            f"{c[DRIFT]} drift, {c[NOT_REPRODUCIBLE]} not reproducible. "
            f"[The chapter's table]({target}#chapter-{chapter}) gives the measured gaps and the reasons.\n\n"
            + "\n".join(items) + "\n")
