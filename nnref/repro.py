"""Reproduce the book's printed numbers, inside a scope that undoes itself.

The book prints its numbers after ``nnfs.init()``, which patches numpy for the
whole process and never undoes it: ``np.dot`` computes in float64 and returns
float32, ``np.zeros``/``np.eye`` default to float32, ``np.random.randn``
returns float32, and the global RNG is seeded with 0. nnref looks these
functions up at call time (``np.dot``, never ``@``), so its objects produce the
book's numbers whenever the patch is active, whatever the import order.

:func:`book_mode` applies the patch for the duration of a ``with`` block and
then restores numpy's functions and its global random state, so one test (or
one page of the site) cannot leak the patch into the next.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import numpy as np

__all__ = ["book_mode", "book_mode_active"]

# (module, attribute) pairs that nnfs.init() replaces.
_PATCHED = ((np, "dot"), (np, "zeros"), (np, "eye"), (np.random, "randn"))
_lock = threading.RLock()
_depth = 0


def book_mode_active() -> bool:
    """True inside a :func:`book_mode` block."""
    return _depth > 0


# --8<-- [start:book_mode]
@contextlib.contextmanager
def book_mode(seed: int = 0) -> Iterator[None]:
    """Run a block as the book's listings run after ``nnfs.init()``; undo it afterwards.

    Introduced for chapter 2 onward: every printed number in the book comes
    from this state (float32 arrays, float64 dot products, global seed 0).

    Parameters
    ----------
    seed : int, default 0
        Seed of numpy's global legacy RNG, as ``nnfs.init()`` sets it.

    Examples
    --------
    >>> import numpy as np
    >>> from nnref import book_mode
    >>> with book_mode():
    ...     print(np.random.randn(2).dtype)
    float32
    >>> np.random.randn(2).dtype
    dtype('float64')
    """
    import nnfs  # the patch itself comes from the book's own package

    global _depth
    with _lock:
        saved = [(mod, name, getattr(mod, name)) for mod, name in _PATCHED]
        rng_state = np.random.get_state()
        outer = _depth > 0
        if outer:
            # Already patched: re-seed only, do not wrap the wrappers.
            np.random.seed(seed)
        else:
            nnfs.init(random_seed=seed)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            for mod, name, original in saved:
                setattr(mod, name, original)
            np.random.set_state(rng_state)
# --8<-- [end:book_mode]
