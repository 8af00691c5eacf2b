"""Reproduce the book's printed numbers, inside a scope that undoes itself.

The book prints its numbers after ``nnfs.init()``, which patches numpy for the
whole process and never undoes it: ``np.dot`` computes in float64 and returns
float32, ``np.zeros``/``np.eye`` default to float32, ``np.random.randn``
returns float32, and the global RNG is seeded with 0. nnref looks these
functions up at call time (``np.dot``, never ``@``), so its objects produce the
book's numbers whenever the patch is active, whatever the import order.

:func:`numpy_patched` tells whether numpy is patched, by comparing numpy's
public functions with the originals that stay in numpy's own modules. It is
true after a bare ``nnfs.init()`` (the book's set-up) and inside
:func:`book_mode` alike; the Model then trains through the plain classes, as
the book's code does, instead of its fast path (:mod:`nnref.engine`).

:func:`book_mode` applies the patch for the duration of a ``with`` block and
then restores numpy's functions and its global random state, so one test (or
one page of the site) cannot leak the patch into the next.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import numpy as np

__all__ = ["book_mode", "book_mode_active", "numpy_patched"]

# (module, attribute) pairs that nnfs.init() replaces.
_PATCHED = ((np, "dot"), (np, "zeros"), (np, "eye"), (np.random, "randn"))
_lock = threading.RLock()
_depth = 0


def _originals() -> list[tuple[object, str, object]]:
    """(module, name, numpy's own function) for each function ``nnfs.init()`` replaces.

    nnfs rebinds the names in the ``numpy`` and ``numpy.random`` namespaces only;
    the modules that define the functions keep the originals.
    """
    try:  # numpy >= 2
        from numpy._core import multiarray
        from numpy.lib import _twodim_base_impl as twodim
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
        from numpy.lib import twodim_base as twodim  # type: ignore[no-redef]
    from numpy.random import mtrand

    return [(np, "dot", multiarray.dot), (np, "zeros", multiarray.zeros), (np, "eye", twodim.eye),
            (np.random, "randn", mtrand.randn)]


_ORIGINALS = _originals()


def numpy_patched() -> bool:
    """True when any of ``np.dot``, ``np.zeros``, ``np.eye``, ``np.random.randn`` is not numpy's own.

    That is the case after ``nnfs.init()`` (whenever it ran, before or after
    nnref was imported) and inside :func:`book_mode`.
    """
    return any(getattr(module, name) is not original for module, name, original in _ORIGINALS)


def book_mode_active() -> bool:
    """True when numpy computes the book's way: after ``nnfs.init()`` or inside :func:`book_mode`."""
    return numpy_patched()


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
        if numpy_patched():
            # Already patched (an outer block, or the script ran nnfs.init()):
            # re-seed only, do not wrap the wrappers.
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
