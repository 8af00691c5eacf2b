r"""Gradient checking: compare a hand-written ``backward`` with central differences.

A layer's ``backward(dvalues)`` computes a vector–Jacobian product: for a fixed
upstream gradient $G$, it returns $\partial \phi / \partial X$ where
$\phi(X) = \sum_{ij} G_{ij}\, f(X)_{ij}$. That scalar can be differentiated
numerically, one input at a time, with central differences

$$\frac{\partial \phi}{\partial x} \approx \frac{\phi(x + h) - \phi(x - h)}{2h},$$

whose error is $O(h^2)$. Everything runs in float64 (float32 round-off would
swamp the comparison) on small shapes. The comparison uses the relative error
of the whole gradient,

$$\text{rel} = \frac{\lVert g_{\text{analytic}} - g_{\text{numeric}} \rVert_2}
                   {\max(\lVert g_{\text{analytic}} \rVert_2 + \lVert g_{\text{numeric}} \rVert_2,\ 10^{-12})},$$

which is about $10^{-10}$ for a correct backward with $h = 10^{-5}$ and of order
1 for a wrong one. The default threshold is $10^{-6}$.

Introduced for chapter 9 (the book checks its backward passes by comparing
them with each other; a finite-difference check is the standard proof).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GradCheckResult",
    "numerical_gradient",
    "relative_error",
    "check_layer",
    "check_loss",
    "check_combined",
]

DEFAULT_STEP = 1e-5
DEFAULT_RTOL = 1e-6


@dataclass
class GradCheckResult:
    """Outcome of a gradient check: one relative error per checked array."""

    errors: dict[str, float] = field(default_factory=dict)
    rtol: float = DEFAULT_RTOL

    @property
    def max_error(self) -> float:
        """The largest relative error over all checked arrays."""
        return max(self.errors.values()) if self.errors else 0.0

    @property
    def passed(self) -> bool:
        """True when every relative error is below ``rtol``."""
        return bool(self.errors) and self.max_error < self.rtol

    def __str__(self) -> str:
        parts = ", ".join(f"{k}: {v:.2e}" for k, v in self.errors.items())
        return f"{'PASS' if self.passed else 'FAIL'} (rtol {self.rtol:.0e}; {parts})"


def relative_error(analytic: ArrayLike, numeric: ArrayLike) -> float:
    """‖a − n‖ / max(‖a‖ + ‖n‖, 1e-12), the comparison used by every check here."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: analytic gradient has shape {a.shape}, numeric {n.shape}")
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))


# --8<-- [start:numerical_gradient]
def numerical_gradient(f: Callable[[], float], x: NDArray, h: float = DEFAULT_STEP) -> NDArray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed **in place**, one entry at a time, and restored; ``f``
    must read it afresh on every call (a layer's own ``weights``, say).

    Parameters
    ----------
    f : callable
        No arguments, returns a float.
    x : ndarray of float64
    h : float
        Step size.

    Returns
    -------
    ndarray, shape of ``x``
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient: x must be float64 for a meaningful check, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        original = x[i]
        x[i] = original + h
        f_plus = f()
        x[i] = original - h
        f_minus = f()
        x[i] = original
        # (f(x+h) − f(x−h)) / 2h
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad
# --8<-- [end:numerical_gradient]


def _float64(a: ArrayLike) -> NDArray:
    return np.array(a, dtype=np.float64, copy=True)


_PARAMETERS = ("weights", "biases")


def _to_float64_params(layer: Any) -> dict[str, Any]:
    """Give ``layer`` float64 copies of its parameters; return the original arrays to put back."""
    originals = {name: getattr(layer, name) for name in _PARAMETERS if hasattr(layer, name)}
    for name, value in originals.items():
        setattr(layer, name, _float64(value))
    return originals


# --8<-- [start:check_layer]
def check_layer(layer: Any, inputs: ArrayLike, *, dvalues: ArrayLike | None = None, training: bool = False,
                h: float = DEFAULT_STEP, rtol: float = DEFAULT_RTOL, rng: int | np.random.Generator = 0,
                before_forward: Callable[[], None] | None = None) -> GradCheckResult:
    """Check ``layer.backward`` (inputs, and weights/biases if it has them) in float64.

    Parameters
    ----------
    layer : object with ``forward(inputs, training)`` and ``backward(dvalues)``
    inputs : array_like, shape (n_samples, n_features)
    dvalues : array_like, optional
        Upstream gradient $G$; random normal of the output's shape if omitted.
    training : bool
        Passed to ``forward``.
    rng : int or numpy.random.Generator, default 0
        Source of the random ``dvalues`` when none are given.
    before_forward : callable, optional
        Called before every forward pass, e.g. to reset the random generator of
        a dropout layer so that every pass draws the same mask.

    Returns
    -------
    GradCheckResult
        Relative errors for ``dinputs`` and, for a Dense layer, ``dweights``
        and ``dbiases`` (including their L1/L2 penalty terms).

    Notes
    -----
    The check runs on float64 copies of the layer's ``weights`` and
    ``biases``; the layer gets its own arrays back afterwards (same objects,
    same dtype, same values), even when the check raises.
    """
    x = _float64(inputs)
    originals = _to_float64_params(layer)
    try:
        return _check_layer(layer, x, dvalues, training, h, rtol, rng, before_forward)
    finally:
        for name, value in originals.items():
            setattr(layer, name, value)


def _check_layer(layer: Any, x: NDArray, dvalues: ArrayLike | None, training: bool, h: float, rtol: float,
                 rng: int | np.random.Generator, before_forward: Callable[[], None] | None) -> GradCheckResult:
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    def run_forward() -> NDArray:
        if before_forward is not None:
            before_forward()
        return np.asarray(layer.forward(x, training), dtype=np.float64)

    out = run_forward()
    g = rng.standard_normal(out.shape) if dvalues is None else _float64(dvalues)
    if g.shape != out.shape:
        raise ValueError(f"check_layer: dvalues must have the output's shape {out.shape}, got {g.shape}")
    penalty = getattr(layer, "regularization_loss", lambda: 0.0)

    def phi() -> float:
        # φ = Σ G ⊙ f(X) (+ the layer's penalty, whose gradient backward adds too)
        return float(np.sum(g * run_forward()) + penalty())

    run_forward()
    layer.backward(g)
    analytic = {"dinputs": np.array(layer.dinputs, copy=True)}
    for pname in ("weights", "biases"):
        if hasattr(layer, "d" + pname):
            analytic["d" + pname] = np.array(getattr(layer, "d" + pname), copy=True)

    result = GradCheckResult(rtol=rtol)
    result.errors["dinputs"] = relative_error(analytic["dinputs"], numerical_gradient(phi, x, h))
    for pname in ("weights", "biases"):
        if "d" + pname in analytic:
            numeric = numerical_gradient(phi, getattr(layer, pname), h)
            result.errors["d" + pname] = relative_error(analytic["d" + pname], numeric)
    return result
# --8<-- [end:check_layer]


def check_loss(loss: Any, y_pred: ArrayLike, y_true: ArrayLike, *, h: float = DEFAULT_STEP,
               rtol: float = DEFAULT_RTOL) -> GradCheckResult:
    """Check ``loss.backward(y_pred, y_true)`` against the mean of ``loss.forward``.

    Keep predictions away from the clip zone and from kinks (MAE at ŷ = y):
    finite differences cannot see a convention at a single point.
    """
    x = _float64(y_pred)

    def phi() -> float:
        return float(np.mean(loss.forward(x, y_true)))

    loss.backward(x, y_true)
    analytic = np.array(loss.dinputs, copy=True)
    result = GradCheckResult(rtol=rtol)
    result.errors["dinputs"] = relative_error(analytic, numerical_gradient(phi, x, h))
    return result


def check_combined(combined: Any, logits: ArrayLike, y_true: ArrayLike, *, h: float = DEFAULT_STEP,
                   rtol: float = DEFAULT_RTOL) -> GradCheckResult:
    """Check an activation+loss pair whose ``forward(z, y)`` returns the mean loss
    and whose ``backward(output, y)`` returns dL/dz (e.g. softmax + cross-entropy)."""
    z = _float64(logits)

    def phi() -> float:
        return float(combined.forward(z, y_true))

    combined.forward(z, y_true)
    combined.backward(combined.output, y_true)
    analytic = np.array(combined.dinputs, copy=True)
    result = GradCheckResult(rtol=rtol)
    result.errors["dinputs"] = relative_error(analytic, numerical_gradient(phi, z, h))
    return result
