"""Input checks shared by every public object.

Each check raises ``ValueError`` or ``TypeError`` at the public boundary with a
message that names the object, what it expected and what it received, so a
learner never has to decode a numpy traceback from deep inside a method.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def as_float_array(x: Any, *, owner: str, name: str = "inputs", ndim: int | tuple[int, ...] | None = 2,
                   check_finite: bool = True) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray or raise a clear error.

    Floating arrays pass through without a copy (their dtype is kept, so a
    float32 model stays float32). Integer and boolean arrays are converted to
    float64: the book's code keeps integer inputs integer, which silently
    truncates gradient updates.
    """
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.size and (ndim is None or x.ndim == ndim
                                                                     or (type(ndim) is tuple and x.ndim in ndim)):
        # the common case, a non-empty float array of the right rank: one finiteness test
        if not check_finite or all_finite(x):
            return x
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{owner}: {name} must be array-like numbers, got {_describe(x)}") from exc
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: {name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{owner}: {name} must be {want}, got shape {arr.shape}")
    if arr.ndim >= 1 and arr.shape[0] == 0:
        raise ValueError(f"{owner}: {name} is an empty batch (shape {arr.shape})")
    if check_finite and not all_finite(arr):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise NonFiniteError(f"{owner}: {name} contains {bad} values")
    return arr


# numpy's own vdot, captured at import: nnfs.init() replaces np.dot, never np.vdot,
# but a reference to the function itself cannot be swapped out from under us.
_vdot = np.vdot


def all_finite(arr: np.ndarray) -> bool:
    """True if ``arr`` holds no NaN and no inf.

    The test is one BLAS pass, ``Σ x²``: a NaN or an inf anywhere makes that
    sum NaN or inf (they survive both the product and the sum), so a finite sum
    proves every value finite. It builds no temporary array and is 2–4 times
    faster than ``np.isfinite(arr).all()`` on a training loop's batches (see
    the finite-check tests in ``tests/test_engine.py``). Very large finite values can overflow the sum
    (|x| above about 1e19 in float32); then the elementwise test decides, so
    the answer is always exact.
    """
    if math.isfinite(_vdot(arr, arr)):
        return True
    return bool(np.isfinite(arr).all())


def check_features(arr: np.ndarray, expected: int, *, owner: str, name: str = "inputs") -> None:
    """Raise if the last axis of ``arr`` is not ``expected`` long."""
    if arr.shape[-1] != expected:
        raise ValueError(
            f"{owner}: {name} must have {expected} features (shape (n_samples, {expected})), "
            f"got shape {arr.shape}"
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, *, owner: str, a_name: str, b_name: str) -> None:
    """Raise instead of letting numpy broadcast two arrays that should match."""
    if a.shape != b.shape:
        raise ValueError(f"{owner}: {b_name} must have the shape of {a_name} {a.shape}, got {b.shape}")


def class_labels(y: Any, *, n_samples: int, n_classes: int, owner: str) -> np.ndarray:
    """Validate targets for a categorical loss or accuracy.

    Accepts sparse labels, shape ``(n_samples,)``, integers in ``[0, n_classes)``,
    or one-hot rows, shape ``(n_samples, n_classes)``. Returns the array
    (integer labels as they are, other whole-number labels as ``intp``), and
    raises on anything else.
    """
    y = np.asarray(y)
    if (y.ndim == 1 and y.dtype.kind in "iu" and len(y) == n_samples and len(y)
            and y.max() < n_classes and (y.dtype.kind == "u" or y.min() >= 0)):
        return y  # the common case: integer labels in range, used as they are (as the book does)
    if y.ndim == 0 or y.ndim > 2:
        raise ValueError(f"{owner}: labels must be 1-D class indices or 2-D one-hot rows, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{owner}: got {y.shape[0]} labels for a batch of {n_samples} samples")
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: labels must be numbers, got dtype {y.dtype}")
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ValueError(f"{owner}: one-hot labels must have {n_classes} columns, got shape {y.shape}")
        if not all_finite(y):
            raise ValueError(f"{owner}: one-hot labels contain NaN or inf")
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{owner}: one-hot (or probability) labels must lie in [0, 1], "
                             f"got values from {y.min()} to {y.max()}")
        return y
    if y.dtype.kind == "f":
        if not all_finite(y) or not np.all(y == np.round(y)):
            raise ValueError(f"{owner}: class labels must be whole numbers, got fractional or non-finite values")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{owner}: class labels must lie in [0, {n_classes - 1}], got values from {y.min()} to {y.max()}"
        )
    return y.astype(np.intp, copy=False)


def positive_int(value: Any, *, owner: str, name: str) -> int:
    """Return ``value`` as an int if it is a whole number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be a positive integer, got {_describe(value)}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value}")
    return int(value)


def non_negative(value: Any, *, owner: str, name: str, strictly: bool = False, upper: float | None = None,
                 upper_open: bool = True) -> float:
    """Return ``value`` as a float after checking it is a finite number >= 0 (or > 0)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"{owner}: {name} must be a number, got {_describe(value)}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{owner}: {name} must be finite, got {v}")
    # A bounded setting names its whole interval, whichever end was crossed.
    if upper is not None and (v < 0 or v > upper or (upper_open and v == upper)):
        bracket = ")" if upper_open else "]"
        raise ValueError(f"{owner}: {name} must lie in [0, {upper}{bracket}, got {v}")
    if v < 0 or (strictly and v == 0):
        want = "> 0" if strictly else ">= 0"
        raise ValueError(f"{owner}: {name} must be {want}, got {v}")
    return v


class CallOrderError(ValueError):
    """A method was called out of order, e.g. ``backward`` before ``forward``."""


class NonFiniteError(ValueError):
    """An input holds NaN or inf. Inside ``Model.train`` (whose data were checked) it means divergence."""


class NotFinite(FloatingPointError):
    """A training step produced NaN or inf; the Model turns it into ``TrainingDivergedError``."""


def layer_inputs(x: Any, n_features: int | None, *, owner: str, name: str = "inputs") -> np.ndarray:
    """A layer's (or a Model's) input: a finite 2-D float array with ``n_features`` columns (if given)."""
    if (type(x) is np.ndarray and x.dtype.kind == "f" and x.ndim == 2 and x.shape[0] and x.shape[1] == n_features
            and all_finite(x)):
        return x  # the common case in one test; anything else gets the detailed checks below
    arr = as_float_array(x, owner=owner, name=name)
    if n_features is not None:
        check_features(arr, n_features, owner=owner, name=name)
    return arr


def accumulated_mean(total: Any, count: int, *, owner: str) -> Any:
    """The mean behind an epoch's loss or accuracy (chapter 19): ``total / count``, refused when empty."""
    if count == 0:
        raise ValueError(f"{owner}.calculate_accumulated: no batch was calculated since new_pass()")
    return total / count


def incoming_gradient(dvalues: Any, like: np.ndarray | None, *, owner: str) -> np.ndarray:
    """``dvalues`` for a ``backward``: finite, float, shaped like the forward output ``like``.

    Raises :class:`CallOrderError` if ``like`` is None (``backward`` before ``forward``).
    """
    if like is None:
        raise CallOrderError(f"{owner} was called before {owner.rsplit('.', 1)[0]}.forward")
    if (type(dvalues) is np.ndarray and dvalues.dtype.kind == "f" and dvalues.shape == like.shape
            and dvalues.size and all_finite(dvalues)):
        return dvalues  # the common case in one test; anything else gets the detailed checks below
    arr = as_float_array(dvalues, owner=owner, name="dvalues", ndim=None)
    check_same_shape(like, arr, owner=owner, a_name="the forward output", b_name="dvalues")
    return arr


def matching_targets(y_true: Any, shape: tuple[int, ...], *, owner: str, binary: bool = False) -> np.ndarray:
    """Targets of an element-wise loss: finite floats of exactly ``shape`` (in [0, 1] if ``binary``).

    Letting numpy broadcast an (N,) target against (N, 1) predictions would
    silently build an (N, N) matrix and a wrong loss, so shapes must match.
    """
    y = np.asarray(y_true)
    if y.shape == tuple(shape) and y.dtype.kind in "ub" and (not binary or y.size == 0 or y.max() <= 1):
        return y  # unsigned or boolean targets of the right shape: nothing else can be wrong
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: y_true must hold real numbers, got dtype {y.dtype}")
    # Integer targets stay integer: numpy promotes them with the predictions exactly as the book's
    # code does (uint8 labels with float32 predictions compute in float32).
    if y.dtype.kind == "f" and not all_finite(y):
        raise NonFiniteError(f"{owner}: y_true contains NaN or inf values")
    if y.shape != tuple(shape):
        raise ValueError(f"{owner}: y_true must have the shape of the predictions {tuple(shape)} "
                         f"(one column per output), got {y.shape}")
    if binary and y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{owner}: binary targets must lie in [0, 1], got values from {y.min()} to {y.max()}")
    return y
