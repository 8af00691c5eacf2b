"""Text outputs: the terminal table and the Markdown of a derivation page."""
from __future__ import annotations

from typing import Iterable

from ._core import REGISTRY, Derivation, Result

__all__ = ["render_markdown", "render_summary_markdown", "render_table", "format_error"]

_SECTIONS = (
    ("forward", "Forward pass"),
    ("derivative", "SymPy's derivative"),
    ("closed_form", "What nnref computes"),
)


def format_error(value: float) -> str:
    """``0``, ``3.1e-16`` or ``inf``: errors are shown with two significant digits."""
    if value == 0:
        return "0"
    return f"{value:.1e}"


def _lookup(name: str) -> Derivation:
    from . import get

    return get(name)


def render_markdown(name: str, *, heading_level: int = 1) -> str:
    """The Markdown page of one derivation, with its check run in this process.

    Parameters
    ----------
    name : str
        A key of :data:`derivations.REGISTRY` (``-`` and ``_`` are interchangeable).
    heading_level : int, default 1
        Level of the title heading (``#``); sections are one level below. Use 2
        or more to embed the derivation inside another page.

    Returns
    -------
    str
        Markdown with display math in ``$$ ... $$`` blocks (for
        ``pymdownx.arithmatex``), the proofs, a table of the numeric
        comparisons with nnref, and the overall verdict.
    """
    if not isinstance(heading_level, int) or not 1 <= heading_level <= 5:
        raise ValueError(f"render_markdown: heading_level must be an int from 1 to 5, got {heading_level!r}")
    d = _lookup(name)
    result = d.run()
    h1, h2 = "#" * heading_level, "#" * (heading_level + 1)
    objects = ", ".join(f"`{o}`" for o in d.objects)
    out = [f"{h1} {d.title}", "", f"{d.summary}", "",
           f"*Chapter {d.chapter} · checks {objects} · `python -m derivations {d.name}`*", ""]
    for key, default in _SECTIONS:
        heading = d.headings.get(key, default)
        out += [f"{h2} {heading}", "", "$$", d.latex[key], "$$", ""]
    if d.where:
        out += [f"Here {d.where}", ""]
    out += [f"{h2} What SymPy proves", ""]
    for p in result.proofs:
        verdict = "holds" if p.holds else "does not hold"
        mark = "✓" if p.ok else "✗"
        refuted = " (refuted, as it should be)" if not p.expected and p.ok else ""
        out.append(f"- {mark} `{p.statement}`: {verdict}{refuted}")
    out += ["", f"{h2} Checked against nnref", "",
            "nnref's own classes run at seeded random points (and at the convention cases); each "
            "row is the largest error over all points, measured as $|a - e| / (1 + |e|)$ between "
            "nnref's value $a$ and SymPy's $e$.", "",
            "| comparison | kind | max error | tolerance | result |",
            "|---|---|---|---|---|"]
    for c in result.comparisons:
        label = c.label.replace("|", "\\|")
        out.append(f"| {label} | {c.kind} | {format_error(c.error)} | {c.tolerance:.0e} | "
                   f"{'pass' if c.passed else '**FAIL**'} |")
    out.append("")
    for note in result.notes:
        out += [f"Note: {note}.", ""]
    verdict = "pass" if result.passed else "FAIL"
    admonition = "success" if result.passed else "failure"
    out += [f'!!! {admonition} "Result: {verdict}"', "",
            f"    {'Every statement proved' if result.proved else 'A proof failed'}; largest error "
            f"against nnref {format_error(result.max_error)} (tolerance {result.tolerance:.0e}). "
            f"Computed when this page was built: {d.symbolic.seconds:.2f} s of symbolic work, "
            f"{result.seconds:.2f} s of numeric checks.", ""]
    if d.notes:
        out += [f"{h2} Notes", "", d.notes, ""]
    return "\n".join(out)


def render_table(results: Iterable[Result], *, width: int = 46) -> str:
    """The terminal table: name, chapter, closed form, max error, tolerance, pass/fail."""
    rows = [("name", "ch", "closed form", "max error", "tol", "result")]
    for r in results:
        d = REGISTRY[r.name]
        form = d.closed_form_text if len(d.closed_form_text) <= width else d.closed_form_text[: width - 1] + "…"
        status = "pass" if r.passed else ("FAIL (proof)" if not r.proved else "FAIL")
        rows.append((r.name, str(r.chapter), form, format_error(r.max_error), f"{r.tolerance:.0e}", status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i != 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary_markdown(*, link_prefix: str = "") -> str:
    """A Markdown table of every derivation with its check result, for an overview page.

    Parameters
    ----------
    link_prefix : str, default ""
        Prepended to ``<name>.md`` in each link; the default suits a page that
        sits next to the derivation pages (``docs/derivations/index.md``).

    Returns
    -------
    str
        One row per derivation in chapter order: linked title, chapter,
        closed form (as code), largest error against nnref, and pass/fail,
        followed by a one-line total.
    """
    results = [d.run() for d in REGISTRY.values()]
    out = ["| derivation | chapter | closed form | max error vs nnref | result |", "|---|---|---|---|---|"]
    for r in results:
        d = REGISTRY[r.name]
        out.append(f"| [{d.title}]({link_prefix}{d.name}.md) | {d.chapter} | `{d.closed_form_text}` | "
                   f"{format_error(r.max_error)} | {'pass' if r.passed else '**FAIL**'} |")
    passed = sum(r.passed for r in results)
    out += ["", f"{passed} of {len(results)} derivations proved and matched against nnref when this page was built."]
    return "\n".join(out)
