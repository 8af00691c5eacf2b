r"""The Model's fast path: the teaching classes' arithmetic, without their overheads.

Not in the book. The classes of :mod:`nnref.layers`, :mod:`nnref.activations`,
:mod:`nnref.losses` and :mod:`nnref.optimizers` are written as the textbook:
each line an equation, every input checked on every call, fresh arrays for
every result. :class:`~nnref.model.Model` trains through this module instead
when it can, and gets the same numbers faster:

* **checks once.** The Model checks the whole dataset once before the first
  step; the kernels here check nothing;
* **one parameter block.** Every Dense layer's weights and biases become views
  of one contiguous array, their gradients views of a second one, and the
  optimizer's memory views of a third, so each operation of an update rule
  runs once over all parameters instead of once per array (the chapter 19
  model has six parameter arrays, five of them small);
* **no allocations in the loop.** Layer outputs and gradients are written
  into arrays kept from one step to the next (``out=``), element-wise layers
  work in place on arrays the engine owns;
* **no unused work.** The first trainable layer does not compute
  $\partial L / \partial X$, which nothing consumes (a quarter of the products);
* **folded Adam.** The two bias corrections are folded into the step size
  and epsilon (two passes fewer over every parameter), and momentums that
  decay into the subnormal range are set to zero every
  :data:`SUBNORMAL_FLUSH_EVERY` steps.

Every kernel here computes each element with the same operations, in the
same order and dtype, as the teaching class it replaces, so the results are
equal to the bit; the one exception is the folded Adam step, which differs by
rounding (a few units in the last place per step). ``tests/test_engine.py``
holds every kernel against the teaching classes, and the Performance page
shows the measurements behind each item.

The Model uses the engine only when numpy is **not** patched
(:func:`nnref.repro.numpy_patched`): after ``nnfs.init()`` or inside
:func:`nnref.book_mode` it runs the teaching classes, as the book's own code
does, and so prints the book's numbers.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validate import NotFinite, all_finite
from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout
from .losses import CLIP, BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError
from .optimizers import SGD, Adagrad, Adam, RMSprop

__all__ = ["Engine", "SUBNORMAL_FLUSH_EVERY", "flush_subnormals", "supports"]

#: How often (in optimizer steps) the folded Adam sets subnormal momentums to zero.
SUBNORMAL_FLUSH_EVERY = 100

_LAYERS = (Dense, ReLU, Softmax, Sigmoid, Linear, Dropout)
_OPTIMIZERS = (SGD, Adagrad, RMSprop, Adam)


def _head(model: Any) -> str | None:
    """How the loss gradient enters the network, or None if the engine has no kernel for it."""
    last, loss = type(model.layers[-1]), type(model.loss)
    if last is Softmax and loss is CategoricalCrossentropy:
        return "softmax_cce"  # (ŷ − y) / N, the combined backward of chapter 9
    if last is Sigmoid and loss is BinaryCrossentropy:
        return "sigmoid_bce"  # (σ(z) − y) / (N J)
    if loss is MeanSquaredError:
        return "mse"
    if loss is MeanAbsoluteError:
        return "mae"
    return None


def supports(model: Any, purpose: str = "train") -> bool:
    """True if the engine has a kernel for everything ``purpose`` needs of ``model``.

    ``purpose`` is ``"predict"`` (the layers), ``"evaluate"`` (and the loss) or
    ``"train"`` (and the loss's gradient and the optimizer). Subclasses are
    not supported on purpose: a user's subclass may change the arithmetic, so
    it runs through its own (teaching) methods.
    """
    if not model.layers or any(type(layer) not in _LAYERS for layer in model.layers):
        return False
    if purpose == "predict":
        return True
    if type(model.loss) not in (CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError):
        return False
    if purpose == "evaluate":
        return True
    return type(model.optimizer) in _OPTIMIZERS and _head(model) is not None


# --8<-- [start:flush]
def flush_subnormals(arr: NDArray) -> None:
    r"""Set the entries of ``arr`` below the smallest normal float (about 1.2e-38 in float32) to 0.

    A weight whose gradient is exactly 0 at every step (one feeding a dead
    ReLU unit) has its momentum multiplied by $\beta_1$ again and again until it
    is subnormal; there it sticks, because $0.9 \times$ a few units of the last
    place rounds back to the same value. On x86 CPUs arithmetic on subnormal
    numbers is many times slower than on normal ones. Setting them to 0
    changes a momentum by less than 1.2e-38 and so a later step by less than
    about 1e-34, far below the rounding of any weight of ordinary size.
    """
    arr[np.abs(arr) < np.finfo(arr.dtype).tiny] = 0
# --8<-- [end:flush]


class Engine:
    r"""Forward, backward and update kernels for one Model, with its parameters in one block.

    Parameters
    ----------
    model : Model
        A finalized model whose layers, loss and optimizer :func:`supports` accepts.
    dtype : dtype
        The floating dtype of the data, the parameters and every buffer.
    train : bool, default True
        Build the parameter block and the optimizer kernel. Without it the
        engine only runs forward passes (``evaluate`` and ``predict``) and
        reads the layers' parameters where they are.

    Notes
    -----
    While the engine trains, each Dense layer's ``weights`` and ``biases``
    are views of :attr:`values`, its ``dweights``/``dbiases`` views of
    :attr:`grads`, and the optimizer's memory of the layer views of
    :attr:`memory`; they stay so afterwards, and the teaching classes can
    go on from there (``optimizer.update_params(layer)``).
    """

    def __init__(self, model: Any, dtype: Any, *, train: bool = True) -> None:
        self.model = model
        self.dtype = np.dtype(dtype)
        self.layers = list(model.layers)
        self.kinds = [type(layer) for layer in self.layers]
        self.head = _head(model)
        self.first_trainable = next((i for i, kind in enumerate(self.kinds) if kind is Dense), len(self.layers))
        self._buffers: dict[tuple, NDArray] = {}
        # what forward keeps for backward, by layer index
        self._inputs: dict[int, NDArray] = {}
        self._outputs: dict[int, NDArray] = {}
        self._masks: dict[int, NDArray | None] = {}
        if train:
            self._build_block()

    # ------------------------------------------------------------------ the parameter block

    # --8<-- [start:block]
    def _build_block(self) -> None:
        """Copy every Dense layer's parameters (and the optimizer's memory) into contiguous arrays.

        The parameters and the memory are kept twice: each update reads one
        copy and writes the other, which costs no extra pass and leaves the
        previous step's numbers in place (see :meth:`rollback`).
        """
        dense = [layer for layer in self.layers if type(layer) is Dense]
        total = sum(layer.weights.size + layer.biases.size for layer in dense)
        optimizer = self.model.optimizer
        names = optimizer.state_names
        self._values = (np.empty(total, dtype=self.dtype), np.empty(total, dtype=self.dtype))
        self._memory = tuple(tuple(np.zeros(total, dtype=self.dtype) for _ in names) for _ in range(2))
        self.grads = np.zeros(total, dtype=self.dtype)
        self._grad_views: dict[int, tuple[NDArray, NDArray]] = {}
        #: per buffer, per layer: ((weights, biases) views, {memory key: view})
        self._views: tuple[list, list] = ([], [])
        start = 0
        for layer in dense:
            old_memory = optimizer._state.get(layer, {})
            stops = []
            for param in (layer.weights, layer.biases):
                stops.append((start, start + param.size, param.shape))
                start += param.size
            for buffer in (0, 1):
                params, memory = [], {}
                for kind, param, (lo, hi, shape) in zip(("weight", "bias"), (layer.weights, layer.biases), stops):
                    value = self._values[buffer][lo:hi].reshape(shape)
                    value[...] = param
                    params.append(value)
                    for name, flat in zip(names, self._memory[buffer]):
                        view = flat[lo:hi].reshape(shape)
                        if f"{kind}_{name}" in old_memory:  # carry on where the optimizer stopped
                            view[...] = old_memory[f"{kind}_{name}"]
                        memory[f"{kind}_{name}"] = view
                self._views[buffer].append((tuple(params), memory))
            (lo_w, hi_w, shape_w), (lo_b, hi_b, shape_b) = stops
            self._grad_views[id(layer)] = (self.grads[lo_w:hi_w].reshape(shape_w),
                                           self.grads[lo_b:hi_b].reshape(shape_b))
            layer.dweights, layer.dbiases = self._grad_views[id(layer)]
        self._dense = dense
        self._scratch = np.empty(total, dtype=self.dtype)
        self._scratch2 = np.empty(total, dtype=self.dtype)
        self._current = 0
        self._previous_step: tuple[int, float] | None = None
        self._activate(0)

    def _activate(self, buffer: int) -> None:
        """Point every layer's parameters, and the optimizer's memory of it, at one copy of the block."""
        self._current = buffer
        self.values, self.memory = self._values[buffer], self._memory[buffer]
        for layer, ((weights, biases), memory) in zip(self._dense, self._views[buffer]):
            layer.weights, layer.biases = weights, biases
            self.model.optimizer._state[layer] = memory

    def rollback(self) -> bool:
        """Return to the parameters, optimizer memory and step count before the last update.

        True if there was an update to undo. The Model calls this when a step
        diverges, so that training can go on from the last parameters that
        gave finite outputs.
        """
        if self._previous_step is None:
            return False
        optimizer = self.model.optimizer
        optimizer.iterations, optimizer.current_learning_rate = self._previous_step
        self._previous_step = None
        self._activate(1 - self._current)
        return True
    # --8<-- [end:block]

    def _buffer(self, key: tuple, shape: tuple[int, ...]) -> NDArray:
        """A work array kept from one step to the next (batches of the same size reuse it)."""
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape != shape:
            buffer = self._buffers[key] = np.empty(shape, dtype=self.dtype)
        return buffer

    # ------------------------------------------------------------------ forward

    # --8<-- [start:forward]
    def forward(self, X: NDArray, training: bool) -> NDArray:
        """The layers' forward passes, into reused arrays; element-wise layers work in place.

        ``X`` must be a C-contiguous array of the engine's dtype. The result is
        an array of the engine's and is overwritten by the next call.
        """
        # owned: ``a`` is a Dense layer's product, which nothing needs later and may be overwritten
        a, owned = X, False
        for i, (layer, kind) in enumerate(zip(self.layers, self.kinds)):
            n = a.shape[0]
            if kind is Dense:
                # Z = X·W + b, the product written straight into a kept array
                z = self._buffer(("z", i), (n, layer.n_neurons))
                np.dot(a, layer.weights, out=z)
                z += layer.biases
                self._inputs[i] = a
                a, owned = z, True
                continue
            out = a if owned else self._buffer(("a", i), a.shape)
            if kind is ReLU:
                np.maximum(0, a, out=out)
            elif kind is Softmax:
                np.subtract(a, np.max(a, axis=-1, keepdims=True), out=out)
                np.exp(out, out=out)
                out /= np.sum(out, axis=-1, keepdims=True)
            elif kind is Sigmoid:
                np.negative(a, out=out)
                with np.errstate(over="ignore"):
                    np.exp(out, out=out)
                out += 1
                np.divide(1, out, out=out)
            elif kind is Dropout:
                if not training:
                    continue  # the identity at inference
                # the same draws as Dropout.forward, from the same generator
                if layer.rng is None:
                    mask = np.random.binomial(1, layer.keep_prob, size=a.shape)
                else:
                    mask = layer.rng.random(a.shape) < layer.keep_prob
                mask = mask.astype(self.dtype) / self.dtype.type(layer.keep_prob)
                self._masks[i] = mask
                np.multiply(a, mask, out=out)
            else:  # Linear: the identity
                continue
            self._outputs[i] = out
            a, owned = out, False  # kept for this layer's backward
        return a
    # --8<-- [end:forward]

    # ------------------------------------------------------------------ losses

    # --8<-- [start:losses]
    def sample_losses(self, output: NDArray, y: NDArray) -> NDArray:
        """Per-sample losses, as the loss class's ``forward`` computes them, without its checks."""
        loss = self.model.loss
        if isinstance(loss, CategoricalCrossentropy):
            if y.ndim == 1:
                confidences = output[np.arange(len(output)), y]  # a fresh array: clip and log in place
                np.clip(confidences, CLIP, 1 - CLIP, out=confidences)
                np.log(confidences, out=confidences)
                return np.negative(confidences, out=confidences)
            return -np.sum(y * np.log(np.clip(output, CLIP, 1 - CLIP)), axis=1)
        if isinstance(loss, BinaryCrossentropy):
            clipped = np.clip(output, CLIP, 1 - CLIP)
            return np.mean(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)), axis=-1)
        if isinstance(loss, MeanSquaredError):
            return np.mean((y - output) ** 2, axis=-1)
        return np.mean(np.abs(y - output), axis=-1)

    def loss_and_accuracy(self, output: NDArray, y: NDArray) -> tuple[Any, float]:
        """Batch loss and accuracy; both also go into the epoch totals of the Model's loss and accuracy."""
        loss, accuracy = self.model.loss, self.model.accuracy
        sample_losses = self.sample_losses(output, y)
        data_loss = np.mean(sample_losses)
        loss.accumulated_sum += np.sum(sample_losses)
        loss.accumulated_count += len(sample_losses)
        comparisons = accuracy.compare(self.model.output_layer_activation.predictions(output), y)
        # the mean of booleans is (number right) / size: one count serves the batch and the epoch
        correct = np.count_nonzero(comparisons)
        accuracy.accumulated_sum += correct
        accuracy.accumulated_count += comparisons.size
        return data_loss, correct / comparisons.size
    # --8<-- [end:losses]

    # ------------------------------------------------------------------ backward

    # --8<-- [start:backward]
    def backward(self, output: NDArray, y: NDArray) -> None:
        """Gradients of every Dense layer into the gradient block (``output`` is overwritten)."""
        n, width = output.shape
        last = len(self.layers) - 1
        if self.head == "softmax_cce":
            # (ŷ − y) / N in place on the softmax output, which nothing needs any more
            d = output
            if y.ndim == 1:
                d[np.arange(n), y] -= 1
            else:
                d -= y
            d /= n
            last -= 1  # the softmax layer is covered by the combined gradient
        elif self.head == "sigmoid_bce":
            d = output
            d -= y
            d /= width
            d /= n
            last -= 1
        else:
            d = self._buffer(("dloss",), output.shape)
            if self.head == "mse":
                np.subtract(y, output, out=d)
                d *= -2  # −2 (y − ŷ)
            else:  # mae: sign(ŷ − y)
                np.subtract(output, y, out=d)
                np.sign(d, out=d)
            d /= width
            d /= n
        for i in range(last, self.first_trainable - 1, -1):
            layer, kind = self.layers[i], self.kinds[i]
            if kind is Dense:
                dweights, dbiases = self._grad_views[id(layer)]
                np.dot(self._inputs[i].T, d, out=dweights)
                np.sum(d, axis=0, keepdims=True, out=dbiases)
                layer.dweights, layer.dbiases = dweights, dbiases
                layer._add_regularization_gradients()  # in place, into the block's views
                if i == self.first_trainable:
                    break  # ∂L/∂X of the first trainable layer has no consumer
                dinputs = self._buffer(("d", i), self._inputs[i].shape)
                d = np.dot(d, layer.weights.T, out=dinputs)
            elif kind is ReLU:
                d *= self._outputs[i] > 0  # max(0, x) > 0 exactly where x > 0
            elif kind is Dropout:
                d *= self._masks[i]
            elif kind is Softmax:
                s = self._outputs[i]
                d = s * (d - np.sum(s * d, axis=-1, keepdims=True))
            elif kind is Sigmoid:
                s = self._outputs[i]
                d = d * (1 - s) * s
            # Linear: the identity
    # --8<-- [end:backward]

    # ------------------------------------------------------------------ update rules

    # --8<-- [start:update]
    def update(self) -> None:
        """One optimizer step over the whole block (between ``pre_`` and ``post_update_params``).

        Reads the current copy of the parameters and memory and writes the
        new values into the other copy (``out=``), then makes that one current.
        """
        optimizer = self.model.optimizer
        source, target = self._current, 1 - self._current
        w, new_w = self._values[source], self._values[target]
        memory, new_memory = self._memory[source], self._memory[target]
        g, s = self.grads, self._scratch
        lr = optimizer.current_learning_rate
        kind = type(optimizer)
        self._previous_step = (optimizer.iterations, self._lr_before_step(optimizer))
        if kind is SGD:
            if not memory:
                np.add(w, np.multiply(g, -lr, out=s), out=new_w)  # w ← w − η g
            else:
                (velocity,), (new_velocity,) = memory, new_memory
                np.multiply(velocity, optimizer.momentum, out=new_velocity)  # v ← μ v − η g ; w ← w + v
                new_velocity -= np.multiply(g, lr, out=s)
                np.add(w, new_velocity, out=new_w)
        elif kind is Adam:
            self._adam(optimizer, lr, w, new_w, memory, new_memory)
        else:
            (cache,), (new_cache,) = memory, new_memory
            if kind is RMSprop:
                np.multiply(cache, optimizer.rho, out=new_cache)  # c ← ρ c + (1 − ρ) g²
                s = np.square(g, out=s)
                s *= 1 - optimizer.rho
                new_cache += s
            else:  # Adagrad: c ← c + g²
                np.add(cache, np.square(g, out=s), out=new_cache)
            # w ← w − η g / (√c + ε)
            denominator = np.sqrt(new_cache, out=self._scratch2)
            denominator += optimizer.epsilon
            step = np.multiply(g, -lr, out=s)
            step /= denominator
            np.add(w, step, out=new_w)
        self._activate(target)

    @staticmethod
    def _lr_before_step(optimizer: Any) -> float:
        """The learning rate the optimizer showed before this step's ``pre_update_params`` (for rollback)."""
        if not optimizer.decay or optimizer.iterations == 0:
            return optimizer.learning_rate if optimizer.iterations == 0 else optimizer.current_learning_rate
        return optimizer.learning_rate * (1.0 / (1.0 + optimizer.decay * (optimizer.iterations - 1)))

    def _adam(self, optimizer: Adam, lr: float, w: NDArray, new_w: NDArray, memory: tuple, new_memory: tuple) -> None:
        r"""Adam with the bias corrections folded into two scalars.

        With $c_1 = 1 - \beta_1^{t}$ and $c_2 = 1 - \beta_2^{t}$, multiplying
        numerator and denominator of the textbook step by $\sqrt{c_2}$ gives

        $$\eta \frac{m / c_1}{\sqrt{v / c_2} + \epsilon}
          = \underbrace{\eta \frac{\sqrt{c_2}}{c_1}}_{\hat{\eta}}
            \frac{m}{\sqrt{v} + \underbrace{\epsilon \sqrt{c_2}}_{\hat{\epsilon}}}$$

        two passes over the parameters fewer than $m / c_1$ and $v / c_2$.
        """
        (m, v), (new_m, new_v) = memory, new_memory
        g, s = self.grads, self._scratch
        b1, b2 = optimizer.beta_1, optimizer.beta_2
        t = optimizer.iterations + 1
        # m ← β₁ m + (1 − β₁) g ; v ← β₂ v + (1 − β₂) g²  (the textbook's operations)
        np.multiply(m, b1, out=new_m)
        new_m += np.multiply(g, 1 - b1, out=s)
        np.multiply(v, b2, out=new_v)
        s = np.square(g, out=s)
        s *= 1 - b2
        new_v += s
        c1, c2 = 1 - b1**t, 1 - b2**t
        # w ← w − η̂ m / (√v + ε̂)
        step = np.sqrt(new_v, out=s)
        step += optimizer.epsilon * math.sqrt(c2)
        np.divide(new_m, step, out=step)
        step *= -(lr * math.sqrt(c2) / c1)
        np.add(w, step, out=new_w)
        if optimizer.iterations % SUBNORMAL_FLUSH_EVERY == 0:
            flush_subnormals(new_m)
        # --8<-- [end:update]

    # ------------------------------------------------------------------ one step

    # --8<-- [start:train_step]
    def train_step(self, X: NDArray, y: NDArray) -> tuple[Any, Any, float]:
        """Forward, loss, accuracy, backward and update for one batch.

        Returns ``(data_loss, regularization_loss, accuracy)``; raises
        :class:`~nnref._validate.NotFinite` where the teaching step would.
        """
        model = self.model
        output = self.forward(X, training=True)
        if not all_finite(output):
            raise NotFinite("the model's outputs became NaN or inf")
        data_loss, accuracy = self.loss_and_accuracy(output, y)
        reg_loss = model.loss.regularization_loss()
        if not math.isfinite(data_loss + reg_loss):
            raise NotFinite(f"the loss became {data_loss + reg_loss} (data_loss {data_loss}, reg_loss {reg_loss})")
        self.backward(output, y)
        model.optimizer.pre_update_params()
        self.update()
        model.optimizer.post_update_params()
        return data_loss, reg_loss, accuracy

    def evaluate_step(self, X: NDArray, y: NDArray) -> None:
        """Loss and accuracy of one batch into the epoch totals, dropout off."""
        output = self.forward(X, training=False)
        if not all_finite(output):
            raise NotFinite("the model's outputs contain NaN or inf values (are the weights finite?)")
        self.loss_and_accuracy(output, y)
    # --8<-- [end:train_step]
