"""Optimizers: SGD (with decay and momentum), Adagrad, RMSprop and Adam.

Introduced in chapter 10. Each training step follows the book's protocol::

    optimizer.pre_update_params()      # decay the learning rate
    for layer in trainable_layers:
        optimizer.update_params(layer) # move weights and biases
    optimizer.post_update_params()     # count the step

Unlike the book, the per-parameter memory (momentums, caches) belongs to the
**optimizer**, one dictionary per layer, instead of attributes glued onto the
layer with ``hasattr`` checks: a layer handed to a second optimizer starts
clean instead of inheriting stale state.

These classes are the textbook: each update is written as its equations. A
Model trains through :mod:`nnref.engine`, which runs the same rules over all
layers at once and is tested against these classes.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validate import CallOrderError, non_negative

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam"]


# --8<-- [start:optimizer]
class Optimizer:
    r"""Base class: learning-rate decay, step counting and per-layer memory.

    Parameters
    ----------
    learning_rate : float
        $\eta_0 > 0$.
    decay : float, default 0
        Inverse-time decay rate $d \ge 0$.

    Notes
    -----
    Before step $t$ (counting optimizer steps, not epochs, from 0):

    $$\eta_t = \eta_0 \cdot \frac{1}{1 + d\, t}$$
    """

    def __init__(self, learning_rate: float, decay: float = 0.0) -> None:
        owner = type(self).__name__
        self.learning_rate = non_negative(learning_rate, owner=owner, name="learning_rate", strictly=True)
        self.current_learning_rate = self.learning_rate
        self.decay = non_negative(decay, owner=owner, name="decay")
        self.iterations = 0
        #: layer → {"weight_momentums": array, "bias_cache": array, ...}; a layer
        #: that is gone takes its memory with it (weak keys)
        self._state: weakref.WeakKeyDictionary[Any, dict[str, NDArray]] = weakref.WeakKeyDictionary()

    @property
    def state_names(self) -> tuple[str, ...]:
        """The kinds of memory kept per parameter array (e.g. ``("momentums", "cache")``)."""
        return ()

    def pre_update_params(self) -> None:
        """Set ``current_learning_rate`` for this step."""
        if self.decay:
            # η_t = η_0 · 1 / (1 + d·t)  — chapter 10
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def post_update_params(self) -> None:
        """Count the step (it drives decay and Adam's bias correction)."""
        self.iterations += 1

    def state(self, layer: Any) -> dict[str, NDArray]:
        """The optimizer's memory for ``layer``: zeros shaped like its parameters on first use.

        Keys are the book's attribute names: ``"weight_momentums"``,
        ``"bias_momentums"``, ``"weight_cache"``, ``"bias_cache"``.
        """
        memory = self._state.get(layer)
        if memory is None:
            memory = self._state[layer] = {}
        names = self.state_names
        if len(memory) == 2 * len(names):
            return memory  # every step after the first
        for name in names:
            if f"weight_{name}" not in memory:
                # zeros in the parameters' dtype, as the book's np.zeros_like(layer.weights)
                memory[f"weight_{name}"] = np.zeros_like(layer.weights)
                memory[f"bias_{name}"] = np.zeros_like(layer.biases)
        return memory

    def _parameters(self, layer: Any) -> list[tuple[str, NDArray, NDArray]]:
        """``[("weight", weights, dweights), ("bias", biases, dbiases)]``, checked."""
        owner = f"{type(self).__name__}.update_params"
        if not getattr(layer, "trainable", False) or not hasattr(layer, "weights"):
            raise TypeError(f"{owner}: {layer!r} has no trainable weights and biases")
        if layer.dweights is None or layer.dbiases is None:
            raise CallOrderError(f"{owner}: {layer!r} has no gradients yet; call backward first")
        return [("weight", layer.weights, layer.dweights), ("bias", layer.biases, layer.dbiases)]

    def update_params(self, layer: Any) -> None:  # pragma: no cover - abstract
        """Move ``layer.weights`` and ``layer.biases`` against their gradients."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate}, decay={self.decay})"
# --8<-- [end:optimizer]


# --8<-- [start:sgd]
class SGD(Optimizer):
    r"""Stochastic gradient descent with optional decay and momentum (chapter 10).

    Parameters
    ----------
    learning_rate : float, default 1.0
    decay : float, default 0
    momentum : float in [0, 1), default 0

    Notes
    -----
    Without momentum, $w \leftarrow w - \eta_t\, \nabla_w L$. With momentum
    $\mu$, each parameter keeps a velocity $v$:

    $$v \leftarrow \mu v - \eta_t \nabla_w L, \qquad w \leftarrow w + v$$
    """

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, momentum: float = 0.0) -> None:
        super().__init__(learning_rate, decay)
        self.momentum = non_negative(momentum, owner="SGD", name="momentum", upper=1.0)

    @property
    def state_names(self) -> tuple[str, ...]:
        """``("momentums",)`` while ``momentum`` is non-zero (it may be changed between steps)."""
        return ("momentums",) if self.momentum else ()

    def update_params(self, layer: Any) -> None:
        """One SGD step for the layer's weights and biases."""
        memory = self.state(layer)
        for kind, param, grad in self._parameters(layer):
            if self.momentum:
                # v ← μ v − η ∇  — chapter 10
                updates = self.momentum * memory[f"{kind}_momentums"] - self.current_learning_rate * grad
                memory[f"{kind}_momentums"] = updates
            else:
                # Δ = −η ∇  — chapter 10
                updates = -self.current_learning_rate * grad
            # w ← w + Δ (in place: the layer keeps its array)
            param += updates
# --8<-- [end:sgd]


# --8<-- [start:adagrad]
class Adagrad(Optimizer):
    r"""Adagrad: per-parameter steps shrink with the sum of past squared gradients (chapter 10).

    Parameters
    ----------
    learning_rate : float, default 1.0
    decay : float, default 0
    epsilon : float, default 1e-7

    Notes
    -----
    $$c \leftarrow c + (\nabla_w L)^2, \qquad
      w \leftarrow w - \eta_t \frac{\nabla_w L}{\sqrt{c} + \epsilon}$$
    """

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="Adagrad", name="epsilon", strictly=True)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("cache",)

    def update_params(self, layer: Any) -> None:
        """One Adagrad step for the layer's weights and biases."""
        memory = self.state(layer)
        for kind, param, grad in self._parameters(layer):
            # c ← c + g²  — chapter 10
            memory[f"{kind}_cache"] += grad**2
            # w ← w − η g / (√c + ε)
            param += -self.current_learning_rate * grad / (np.sqrt(memory[f"{kind}_cache"]) + self.epsilon)
# --8<-- [end:adagrad]


# --8<-- [start:rmsprop]
class RMSprop(Optimizer):
    r"""RMSprop: like Adagrad with a moving average of squared gradients (chapter 10).

    Parameters
    ----------
    learning_rate : float, default 0.001
    decay : float, default 0
    epsilon : float, default 1e-7
    rho : float in [0, 1), default 0.9
        Decay of the squared-gradient average.

    Notes
    -----
    $$c \leftarrow \rho c + (1 - \rho)(\nabla_w L)^2, \qquad
      w \leftarrow w - \eta_t \frac{\nabla_w L}{\sqrt{c} + \epsilon}$$
    """

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7,
                 rho: float = 0.9) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="RMSprop", name="epsilon", strictly=True)
        self.rho = non_negative(rho, owner="RMSprop", name="rho", upper=1.0)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("cache",)

    def update_params(self, layer: Any) -> None:
        """One RMSprop step for the layer's weights and biases."""
        memory = self.state(layer)
        for kind, param, grad in self._parameters(layer):
            # c ← ρ c + (1 − ρ) g²  — chapter 10
            cache = self.rho * memory[f"{kind}_cache"] + (1 - self.rho) * grad**2
            memory[f"{kind}_cache"] = cache
            # w ← w − η g / (√c + ε)
            param += -self.current_learning_rate * grad / (np.sqrt(cache) + self.epsilon)
# --8<-- [end:rmsprop]


# --8<-- [start:adam]
class Adam(Optimizer):
    r"""Adam: momentum plus RMSprop, with bias-corrected averages (chapter 10).

    Parameters
    ----------
    learning_rate : float, default 0.001
    decay : float, default 0
    epsilon : float, default 1e-7
    beta_1 : float in [0, 1), default 0.9
        Decay of the gradient average (momentum).
    beta_2 : float in [0, 1), default 0.999
        Decay of the squared-gradient average (cache).

    Notes
    -----
    At step $t$ (0-based, so the correction uses $t + 1$):

    $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
      v \leftarrow \beta_2 v + (1 - \beta_2) g^2$$

    $$\hat{m} = \frac{m}{1 - \beta_1^{t+1}}, \qquad
      \hat{v} = \frac{v}{1 - \beta_2^{t+1}}, \qquad
      w \leftarrow w - \eta_t \frac{\hat{m}}{\sqrt{\hat{v}} + \epsilon}$$

    $\epsilon$ is added after the square root. (The Model's fast path,
    :mod:`nnref.engine`, computes the same step with the two corrections
    folded into scalars; see the Performance page.)
    """

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7,
                 beta_1: float = 0.9, beta_2: float = 0.999) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="Adam", name="epsilon", strictly=True)
        self.beta_1 = non_negative(beta_1, owner="Adam", name="beta_1", upper=1.0)
        self.beta_2 = non_negative(beta_2, owner="Adam", name="beta_2", upper=1.0)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("momentums", "cache")

    def update_params(self, layer: Any) -> None:
        """One Adam step for the layer's weights and biases."""
        memory = self.state(layer)
        t = self.iterations + 1  # the bias corrections count steps from 1
        for kind, param, grad in self._parameters(layer):
            # m ← β₁ m + (1 − β₁) g  — chapter 10
            m = self.beta_1 * memory[f"{kind}_momentums"] + (1 - self.beta_1) * grad
            # v ← β₂ v + (1 − β₂) g²
            v = self.beta_2 * memory[f"{kind}_cache"] + (1 - self.beta_2) * grad**2
            memory[f"{kind}_momentums"], memory[f"{kind}_cache"] = m, v
            # m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ): m and v start at 0 and are too small early on
            m_corrected = m / (1 - self.beta_1**t)
            v_corrected = v / (1 - self.beta_2**t)
            # w ← w − η m̂ / (√v̂ + ε)
            param += -self.current_learning_rate * m_corrected / (np.sqrt(v_corrected) + self.epsilon)
# --8<-- [end:adam]
