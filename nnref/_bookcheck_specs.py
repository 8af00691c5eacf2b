"""The registry of the book's output blocks: how each is computed and judged (see :mod:`nnref.bookcheck`).

A module of its own so that :mod:`nnref.bookcheck_listings` (the computations)
and :mod:`nnref.bookcheck` (running and judging them) both import it and not
each other: the import graph has no cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

EXACT, DRIFT, NOT_REPRODUCIBLE = "exact", "drift", "not reproducible"

FASHION = ("needs the Fashion-MNIST images, which the book downloads in chapter 19; "
           "nnref does not ship them and nothing may be downloaded here")


@dataclass
class Spec:
    """How one output block is reproduced and judged.

    Attributes
    ----------
    id : str
        Block id in the index, ``"chapter.order"``.
    what : str
        What the block shows, in our words.
    compute : callable or None
        Prints what the listing prints (our code, the book's format). None
        when the block is not reproducible.
    setup : {"nnfs", "plain"}
        Whether the listing runs after ``nnfs.init()``.
    rtol, atol : float
        Tolerance for a *drift* verdict (a number passes if within either).
    cause : str
        Why numbers drift (shown with a drift verdict).
    reason : str
        Why the block is not reproducible (when ``compute`` is None, or when
        the comparison fails and the block is known to be out of reach).
    ocr : dict
        Repairs of OCR damage in the printed numbers: the token as the text
        shows it -> the tokens the book printed (space separated). Reported
        with the verdict.
    ocr_extra : int
        Printed numbers that are OCR debris (a page number, a figure label)
        and have no counterpart; they are allowed to stay unmatched.
    slow : bool
        Takes more than a few seconds (a long training run).
    partial : str
        Set when the computation covers only part of the block (a run too
        long to finish here): says what was not run. Printed numbers beyond
        it are allowed to stay unpaired and the detail says so.
    """

    id: str
    what: str
    compute: Callable[[], None] | None = None
    setup: str = "nnfs"
    rtol: float = 0.0
    atol: float = 0.0
    cause: str = ""
    reason: str = ""
    ocr: dict[str, str] = field(default_factory=dict)
    ocr_extra: int = 0
    slow: bool = False
    partial: str = ""

    @property
    def chapter(self) -> int:
        return int(self.id.split(".")[0])


SPECS: dict[str, Spec] = {}


def block(id: str, what: str, **kwargs: Any) -> Callable:
    """Register the decorated function as the computation of block ``id``."""
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        if id in SPECS:
            raise ValueError(f"block {id} registered twice")
        SPECS[id] = Spec(id, what, fn, **kwargs)
        return fn
    return register


def unreproducible(id: str, what: str, reason: str) -> None:
    """Register block ``id`` as not reproducible, with the reason."""
    if id in SPECS:
        raise ValueError(f"block {id} registered twice")
    SPECS[id] = Spec(id, what, None, reason=reason)


# --------------------------------------------------------------------------- helpers used by the listings

def _np():
    import numpy as np
    return np


def _fresh_init() -> None:
    """What a new script's ``nnfs.init()`` leaves behind: the global RNG seeded with 0."""
    _np().random.seed(0)


def _layer(weights_per_neuron, biases):
    """A Dense layer holding hand-written parameters (one row per neuron, as the book writes them)."""
    import nnref
    np = _np()
    w = np.array(weights_per_neuron, dtype=float).T
    layer = nnref.Dense(*w.shape, rng=0)
    layer.set_parameters(w, np.array([biases], dtype=float))
    return layer


CH2_INPUTS = [[1.0, 2.0, 3.0, 2.5], [2.0, 5.0, -1.0, 2.0], [-1.5, 2.7, 3.3, -0.8]]
CH2_WEIGHTS = [[0.2, 0.8, -0.5, 1.0], [0.5, -0.91, 0.26, -0.5], [-0.26, -0.27, 0.17, 0.87]]
CH2_BIASES = [2.0, 3.0, 0.5]
CH3_WEIGHTS2 = [[0.1, -0.14, 0.5], [-0.5, 0.12, -0.33], [-0.44, 0.73, -0.13]]
CH3_BIASES2 = [-1.0, 2.0, -0.5]
TOY_SOFTMAX = [[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]]

FLOAT32_CAUSE = ("numpy >= 1.21 changed float32 exp/sum rounding (open issue on the book's repository): "
                 "the 7th-8th significant digit moves")
ADAM_CAUSE = ("the book's logs come from its authors' numpy and platform; today's numpy rounds float32 exp, "
              "sums and products differently, which moves the last bits of every step")
REGRESSION_CAUSE = ("late in training the regression accuracy (the share of predictions within std/250 of the "
                    "target) swings from one printed epoch to the next, so a last-bit change moves it far")
CHAOS_CAUSE = ("long training on spiral data amplifies last-bit float32 differences; the book's own logs "
               "were not bit-reproducible across platforms either")

