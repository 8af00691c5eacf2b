"""Optimizers: SGD (with decay and momentum), Adagrad, RMSprop and Adam.

Introduced in chapter 10. Each training step follows the book's protocol::

    optimizer.pre_update_params()      # decay the learning rate
    for layer in trainable_layers:
        optimizer.update_params(layer) # move weights and biases
    optimizer.post_update_params()     # count the step

Unlike the book, the per-parameter memory (momentums, caches) belongs to the
**optimizer**, keyed by layer, instead of attributes glued onto the layer with
``hasattr`` checks: a layer handed to a second optimizer starts clean instead
of inheriting stale state. Updates are done in place.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validate import CallOrderError, non_negative
from .repro import book_mode_active

__all__ = ["Optimizer", "ParameterBlock", "SGD", "Adagrad", "RMSprop", "Adam"]


# --8<-- [start:optimizer]
class Optimizer:
    r"""Base class: learning-rate decay, step counting and per-layer state.

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

    #: Names of the state arrays kept per parameter ("weight_" / "bias_" prefixed).
    state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float, decay: float = 0.0) -> None:
        owner = type(self).__name__
        self.learning_rate = non_negative(learning_rate, owner=owner, name="learning_rate", strictly=True)
        self.current_learning_rate = self.learning_rate
        self.decay = non_negative(decay, owner=owner, name="decay")
        self.iterations = 0
        self._state: weakref.WeakKeyDictionary[Any, dict[str, NDArray]] = weakref.WeakKeyDictionary()
        # work arrays reused by every step (see _scratch), keyed by (shape, dtype, slot)
        self._buffers: dict[tuple, NDArray] = {}
        # state of whole parameter blocks (see update_block)
        self._block_state: weakref.WeakKeyDictionary[Any, tuple[NDArray, ...]] = weakref.WeakKeyDictionary()

    def pre_update_params(self) -> None:
        """Set ``current_learning_rate`` for this step."""
        if self.decay:
            # η_t = η_0 · 1 / (1 + d·t)  — chapter 10 (written as in the book so the
            # printed learning rates match to the last digit)
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def post_update_params(self) -> None:
        """Count the step (it drives decay and Adam's bias correction)."""
        self.iterations += 1

    def state(self, layer: Any) -> dict[str, NDArray]:
        """The optimizer's memory for ``layer``: zero arrays shaped like its parameters on first use."""
        try:
            return self._state[layer]
        except KeyError:
            pass
        st: dict[str, NDArray] = {}
        # The memory takes the wider of the parameter and gradient dtypes, as the
        # book's arrays do when float64 targets meet float32 weights (chapter 17);
        # a Model casts both to one dtype, so there this is simply that dtype.
        w_dtype = np.result_type(layer.weights, layer.dweights)
        b_dtype = np.result_type(layer.biases, layer.dbiases)
        for name in self.state_names:
            st[f"weight_{name}"] = np.zeros_like(layer.weights, dtype=w_dtype)
            st[f"bias_{name}"] = np.zeros_like(layer.biases, dtype=b_dtype)
        self._state[layer] = st
        return st

    def _scratch(self, like: NDArray, slot: int = 0) -> NDArray:
        """A work array shaped and typed like ``like``, kept from one step to the next.

        An update written with fresh temporaries allocates about ten arrays the
        size of the weights per step; writing them into these buffers with
        ``out=`` does the same arithmetic in the same order and dtype (so every
        bit of the result is the same) without the allocations. ``slot`` tells
        apart two buffers needed at the same time.
        """
        key = (like.shape, like.dtype, slot)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = np.empty_like(like)
        return buffer

    def _check_layer(self, layer: Any) -> None:
        owner = f"{type(self).__name__}.update_params"
        if not getattr(layer, "trainable", False) or not hasattr(layer, "weights"):
            raise TypeError(f"{owner}: {layer!r} has no trainable weights and biases")
        if layer.dweights is None or layer.dbiases is None:
            raise CallOrderError(f"{owner}: {layer!r} has no gradients yet; call backward first")

    def update_params(self, layer: Any) -> None:
        """Move ``layer.weights`` and ``layer.biases`` against their gradients, in place."""
        self._check_layer(layer)
        st = self.state(layer)
        self._update(layer.weights, layer.dweights, *(st[f"weight_{name}"] for name in self.state_names))
        self._update(layer.biases, layer.dbiases, *(st[f"bias_{name}"] for name in self.state_names))

    def _update(self, param: NDArray, grad: NDArray, *memory: NDArray) -> None:  # pragma: no cover - abstract
        """The update rule on one parameter array, its gradient and its state arrays (element-wise)."""
        raise NotImplementedError

    # --8<-- [start:update_block]
    def update_block(self, block: "ParameterBlock") -> None:
        """One step for every layer of ``block`` at once: each operation runs once over the block.

        The update rules are element-wise, so running them over the
        concatenation of all parameters computes every element exactly as
        :meth:`update_params` would, with one call per operation instead of
        one per operation and array. An optimizer that overrides
        ``update_params`` itself (or has no ``_update``) is stepped layer by layer.
        """
        cls = type(self)
        if cls.update_params is not Optimizer.update_params or cls._update is Optimizer._update:
            for layer in block.layers:
                self.update_params(layer)
            return
        self._update(block.values, block.grads, *self._block_memory(block))

    def _block_memory(self, block: "ParameterBlock") -> tuple[NDArray, ...]:
        """The state arrays of a whole block; each layer's :meth:`state` becomes views of them."""
        memory = self._block_state.get(block)
        if memory is not None:
            return memory
        memory = tuple(np.zeros_like(block.values) for _ in self.state_names)
        for layer, slot in zip(block.layers, block.slots):
            old = self._state.get(layer)  # carry on from the layer's memory, if it has one
            st: dict[str, NDArray] = {}
            for flat, name in zip(memory, self.state_names):
                for prefix, (start, stop, shape) in zip(("weight_", "bias_"), slot):
                    view = flat[start:stop].reshape(shape)
                    if old is not None:
                        view[...] = old[prefix + name]
                    st[prefix + name] = view
            self._state[layer] = st
        self._block_state[block] = memory
        return memory
    # --8<-- [end:update_block]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate}, decay={self.decay})"
# --8<-- [end:optimizer]


# --8<-- [start:parameter_block]
class ParameterBlock:
    r"""The weights and biases of several layers as views of one contiguous array.

    Not in the book: a speed-up the Model applies while it trains (see the
    Performance page). An optimizer step runs about a dozen element-wise numpy
    operations on every parameter array; the chapter 19 model has six such
    arrays, five of them small, so most of those calls pay numpy's fixed cost
    per call for little work. With every parameter in one block, and every
    gradient in a second block of the same layout, :meth:`Optimizer.update_block`
    runs each operation once over all of them. Each element is computed by
    the same arithmetic as before, so the results are identical to the bit.

    Parameters
    ----------
    layers : sequence of Dense
        The trainable layers. Their ``weights`` and ``biases`` are copied into
        the block and replaced by views of it.
    dtype : dtype
        The dtype of the block (the Model's computing dtype).

    Attributes
    ----------
    values, grads : ndarray, shape (n_parameters,)
        All parameters, and the room for all gradients, layer after layer
        (weights, then biases).
    slots : list
        Per layer, ``((start, stop, shape) of the weights, (start, stop, shape) of the biases)``.
    """

    def __init__(self, layers: Any, dtype: Any) -> None:
        self.layers = list(layers)
        sizes = [(layer.weights.shape, layer.biases.shape) for layer in self.layers]
        total = sum(math.prod(w) + math.prod(b) for w, b in sizes)
        self.values = np.empty(total, dtype=dtype)
        self.grads = np.zeros(total, dtype=dtype)
        self.slots: list[tuple[tuple[int, int, tuple], tuple[int, int, tuple]]] = []
        self._views: list[tuple[NDArray, NDArray, NDArray, NDArray]] = []
        start = 0
        for layer, shapes in zip(self.layers, sizes):
            slot, views = [], []
            for name, shape in zip(("weights", "biases"), shapes):
                stop = start + math.prod(shape)
                value = self.values[start:stop].reshape(shape)
                value[...] = getattr(layer, name)
                setattr(layer, name, value)
                views += [value, self.grads[start:stop].reshape(shape)]
                slot.append((start, stop, shape))
                start = stop
            self.slots.append(tuple(slot))
            self._views.append(tuple(views))

    def gradient_views(self, layer_index: int) -> tuple[NDArray, NDArray]:
        """Where layer ``layer_index`` writes ``(dweights, dbiases)`` (see ``Dense.gradient_out``)."""
        _, dw, _, db = self._views[layer_index]
        return dw, db

    def holds_parameters(self) -> bool:
        """True while every layer's ``weights`` and ``biases`` are still this block's views.

        ``set_parameters`` gives a layer new arrays; the block then no longer
        describes the model and a new one must be made.
        """
        return all(layer.weights is w and layer.biases is b
                   for layer, (w, _, b, _) in zip(self.layers, self._views))

    def holds_gradients(self) -> bool:
        """True if every layer's last backward pass wrote its gradients into the block."""
        return all(layer.dweights is dw and layer.dbiases is db
                   for layer, (_, dw, _, db) in zip(self.layers, self._views))
# --8<-- [end:parameter_block]


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
        self.state_names = ("momentums",) if self.momentum else ()

    def _update(self, param: NDArray, grad: NDArray, *memory: NDArray) -> None:
        """One SGD step on one parameter array, in place."""
        lr = self.current_learning_rate
        if not self.momentum:
            # w ← w − η ∇w
            param += -lr * grad
            return
        (velocity,) = memory
        # v ← μ v − η ∇w ; w ← w + v
        velocity *= self.momentum
        velocity -= lr * grad
        param += velocity
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

    state_names = ("cache",)

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="Adagrad", name="epsilon", strictly=True)

    def _update(self, param: NDArray, grad: NDArray, *memory: NDArray) -> None:
        """One Adagrad step on one parameter array, in place."""
        (cache,) = memory
        # c ← c + g² ; w ← w − η g / (√c + ε)
        cache += grad**2
        param += -self.current_learning_rate * grad / (np.sqrt(cache) + self.epsilon)
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

    state_names = ("cache",)

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7,
                 rho: float = 0.9) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="RMSprop", name="epsilon", strictly=True)
        self.rho = non_negative(rho, owner="RMSprop", name="rho", upper=1.0)

    def _update(self, param: NDArray, grad: NDArray, *memory: NDArray) -> None:
        """One RMSprop step on one parameter array, in place."""
        (cache,) = memory
        # c ← ρ c + (1 − ρ) g² ; w ← w − η g / (√c + ε)
        cache *= self.rho
        cache += (1 - self.rho) * grad**2
        param += -self.current_learning_rate * grad / (np.sqrt(cache) + self.epsilon)
# --8<-- [end:rmsprop]


#: How often (in steps) Adam sets subnormal momentums to zero outside book mode.
SUBNORMAL_FLUSH_EVERY = 100


def _flush_subnormals(arr: NDArray) -> None:
    """Set the entries of ``arr`` below the smallest normal float (about 1.2e-38 in float32) to 0.

    A weight whose gradient is exactly 0 at every step (one feeding a dead
    ReLU unit) has its momentum multiplied by $\beta_1$ again and again until it
    is subnormal; there it sticks, because $0.9 \times$ a few units of the last
    place rounds back to the same value. On x86 CPUs each arithmetic operation
    on a subnormal number is many times slower than on a normal one, and with
    a sixth of a layer's units dead this made Adam's later epochs markedly
    slower (see the Performance page). Setting them to 0 changes a momentum by
    less than 1.2e-38 and so a later step by less than about 1e-34, far below
    the rounding of any weight of ordinary size.
    """
    arr[np.abs(arr) < np.finfo(arr.dtype).tiny] = 0


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

    $\epsilon$ is added after the square root.

    **How it is computed.** Inside :func:`nnref.book_mode` the update follows
    the formula above operation for operation, so the book's numbers come out
    to the last bit. Elsewhere the two bias corrections are folded into two
    scalars, which saves two passes over every weight array per step
    (about a fifth of Adam's time). With $c_1 = 1 - \beta_1^{t+1}$ and
    $c_2 = 1 - \beta_2^{t+1}$, multiplying numerator and denominator by
    $\sqrt{c_2}$ gives the same step:

    $$\eta_t \frac{m / c_1}{\sqrt{v / c_2} + \epsilon}
      = \underbrace{\eta_t \frac{\sqrt{c_2}}{c_1}}_{\hat{\eta}_t}
        \frac{m}{\sqrt{v} + \underbrace{\epsilon \sqrt{c_2}}_{\hat{\epsilon}_t}}$$

    The two forms differ only in rounding (a few units in the last place per
    step; the tests bound it). Also outside book mode, every
    ``SUBNORMAL_FLUSH_EVERY`` steps the momentums too small to be normal
    floats are set to 0 (see :func:`_flush_subnormals`).
    """

    state_names = ("momentums", "cache")

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7,
                 beta_1: float = 0.9, beta_2: float = 0.999) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = non_negative(epsilon, owner="Adam", name="epsilon", strictly=True)
        self.beta_1 = non_negative(beta_1, owner="Adam", name="beta_1", upper=1.0)
        self.beta_2 = non_negative(beta_2, owner="Adam", name="beta_2", upper=1.0)

    def _update(self, param: NDArray, grad: NDArray, *memory: NDArray) -> None:
        """One Adam step on one parameter array, in place."""
        m, v = memory
        lr = self.current_learning_rate
        # bias corrections 1 − β^(t+1): the averages start at 0 and would be too small early on
        correction_1 = 1 - self.beta_1 ** (self.iterations + 1)
        correction_2 = 1 - self.beta_2 ** (self.iterations + 1)
        # The arithmetic of the equations below, in place: temporaries go to
        # reused buffers (out=), which changes no bit of the result.
        scratch = self._scratch(grad)
        # m ← β1 m + (1 − β1) g
        m *= self.beta_1
        m += np.multiply(grad, 1 - self.beta_1, out=scratch)
        # v ← β2 v + (1 − β2) g²
        v *= self.beta_2
        v += np.multiply(np.square(grad, out=scratch), 1 - self.beta_2, out=scratch)
        if book_mode_active():
            # −η m̂, with m̂ = m / (1 − β1^(t+1))
            step = np.divide(m, correction_1, out=self._scratch(m))
            step *= -lr
            # √v̂ + ε, with v̂ = v / (1 − β2^(t+1))
            denominator = np.sqrt(np.divide(v, correction_2, out=self._scratch(v, 1)), out=self._scratch(v, 1))
            denominator += self.epsilon
            # w ← w − η m̂ / (√v̂ + ε)
            step /= denominator
        else:
            # the same step folded (see Notes): −η̂ m / (√v + ε̂), in one work array,
            # with η̂ = η √c2 / c1 and ε̂ = ε √c2
            step = np.sqrt(v, out=self._scratch(v))
            step += self.epsilon * math.sqrt(correction_2)
            np.divide(m, step, out=step)
            step *= -(lr * math.sqrt(correction_2) / correction_1)
            if self.iterations % SUBNORMAL_FLUSH_EVERY == 0:
                _flush_subnormals(m)
        param += step
# --8<-- [end:adam]
