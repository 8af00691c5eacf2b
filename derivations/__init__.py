"""SymPy derivations of every gradient nnref codes, proved exact and checked against nnref.

Each entry of :data:`REGISTRY` is a :class:`Derivation` that

a. writes the forward pass in SymPy (real symbols, the book's normalisation
   by the number of outputs and samples);
b. lets SymPy differentiate it;
c. proves the closed form that nnref implements equal to (b), exactly;
d. runs nnref's real classes at seeded random points, and at the cases
   where a convention matters (ReLU'(0) = 0, L1 at 0, clipping at 1e-7, the
   sign of the MAE gradient), and compares them with SymPy's values.

Usage::

    python -m derivations              # the table; exit status 1 if anything fails
    python -m derivations mae          # one derivation, in detail

    >>> import derivations
    >>> derivations.get("mae").run().passed
    True
    >>> page = derivations.render_markdown("mae")   # Markdown for the site

The symbolic work is memoised per process; the whole set takes about three
seconds, most of it importing SymPy and its first calls.
"""
from __future__ import annotations

from ._core import DEFAULT_TOLERANCE, REGISTRY, Comparison, Derivation, Proof, Result, mixed_error

# Importing the topic modules registers their derivations.
from . import activations, calculus, layers, losses, optimizers  # noqa: E402,F401  (registration side effect)
from .render import format_error, render_markdown, render_summary_markdown, render_table  # noqa: E402

__all__ = [
    "REGISTRY",
    "Derivation",
    "Result",
    "Proof",
    "Comparison",
    "DEFAULT_TOLERANCE",
    "get",
    "names",
    "run_all",
    "mixed_error",
    "render_markdown",
    "render_summary_markdown",
    "render_table",
    "format_error",
]

# Chapter order (stable: within a chapter, the order the topic modules register).
_ordered = sorted(REGISTRY.values(), key=lambda d: d.chapter)
REGISTRY.clear()
REGISTRY.update((d.name, d) for d in _ordered)
del _ordered


def names() -> list[str]:
    """Registered derivation names, in chapter order."""
    return list(REGISTRY)


def get(name: str) -> Derivation:
    """The derivation called ``name`` (``-`` and ``_`` are interchangeable).

    Raises
    ------
    ValueError
        If no derivation has that name; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"derivations.get: name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValueError(f"derivations.get: no derivation named {name!r}; expected one of: "
                         f"{', '.join(REGISTRY)}") from None


def run_all(selected: list[str] | None = None) -> list[Result]:
    """Run the named derivations (all by default) and return their results, in registry order."""
    chosen = [get(n) for n in selected] if selected else list(REGISTRY.values())
    return [d.run() for d in chosen]
