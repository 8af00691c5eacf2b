"""Layers: the fully connected (dense) layer, dropout and the input placeholder.

Every layer follows one protocol, the one the book builds up chapter by chapter:

* ``forward(inputs, training=True)`` stores ``inputs`` and ``output`` and
  returns ``output`` (``training`` matters only to dropout; the Model passes it
  explicitly, and ``False`` for inference);
* ``backward(dvalues)`` receives the gradient of the loss with respect to
  ``output`` and stores (and returns) the gradient with respect to ``inputs`` as
  ``dinputs``; trainable layers also store ``dweights`` and ``dbiases``.

Gradients are **overwritten** by each ``backward`` call, never accumulated, so
calling ``backward`` twice with the same ``dvalues`` gives the same result.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._validate import (
    as_float_array,
    incoming_gradient,
    layer_inputs,
    non_negative,
    positive_int,
)

__all__ = ["Dense", "Dropout", "Input"]


def _as_generator(rng: Any, owner: str) -> np.random.Generator | None:
    """``None`` keeps numpy's global legacy RNG (what ``nnfs.init()`` seeds)."""
    if rng is None:
        return None
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{owner}: rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _l1_sign(params: NDArray) -> NDArray:
    """sign(p) with +1 at p = 0, in the dtype of ``p`` (the book's L1 subgradient)."""
    sign = np.ones_like(params)
    sign[params < 0] = -1
    return sign


# --8<-- [start:dense]
class Dense:
    r"""A fully connected layer: every input feeds every neuron.

    Introduced in chapter 3 (forward pass); its backward pass in chapter 9;
    L1/L2 regularization in chapter 14.

    Parameters
    ----------
    n_inputs : int
        Number of features each sample brings in.
    n_neurons : int
        Number of neurons, i.e. features going out.
    weight_scale : float, default 0.01
        Standard deviation of the Gaussian initial weights. The book uses 0.01
        and switches to 0.1 by hand for the regression net of chapter 17.
    weight_regularizer_l1, weight_regularizer_l2 : float, default 0
        $\lambda$ of the L1 and L2 penalties on the weights (chapter 14).
    bias_regularizer_l1, bias_regularizer_l2 : float, default 0
        $\lambda$ of the L1 and L2 penalties on the biases (chapter 14).
    rng : None, int or numpy.random.Generator, default None
        Source of the initial weights. ``None`` draws from numpy's global
        ``np.random.randn``, which is what ``nnfs.init()`` seeds, so the book's
        numbers come out; pass a seed or a Generator for independent streams.
    dtype : dtype, optional
        Cast the parameters to this dtype (for example ``np.float32``).

    Attributes
    ----------
    weights : ndarray, shape (n_inputs, n_neurons)
    biases : ndarray, shape (1, n_neurons)
    output : ndarray, shape (n_samples, n_neurons)
    dweights, dbiases, dinputs : ndarray
        Gradients of the loss, shaped like ``weights``, ``biases``, ``inputs``.

    Notes
    -----
    Forward, for a batch $X$ of shape $(N, n_{in})$:

    $$Z = X W + b$$

    Backward, given $G = \partial L / \partial Z$:

    $$\frac{\partial L}{\partial W} = X^\top G, \qquad
      \frac{\partial L}{\partial b} = \sum_{n} G_{n,:}, \qquad
      \frac{\partial L}{\partial X} = G W^\top$$

    With penalties, $\lambda_1 \operatorname{sign}(W)$ (taking $+1$ at $0$, as
    the book does) and $2 \lambda_2 W$ are added to the weight gradient, and the
    same for the biases.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(2, 3, rng=0)
    >>> layer.forward(np.ones((4, 2))).shape
    (4, 3)
    """

    #: Optimizers and the Model update layers that declare themselves trainable.
    trainable = True

    # --8<-- [start:dense_init]
    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        *,
        weight_scale: float = 0.01,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        rng: None | int | np.random.Generator = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        owner = "Dense"
        self.n_inputs = positive_int(n_inputs, owner=owner, name="n_inputs")
        self.n_neurons = positive_int(n_neurons, owner=owner, name="n_neurons")
        self.weight_scale = non_negative(weight_scale, owner=owner, name="weight_scale", strictly=True)
        self.weight_regularizer_l1 = non_negative(weight_regularizer_l1, owner=owner, name="weight_regularizer_l1")
        self.weight_regularizer_l2 = non_negative(weight_regularizer_l2, owner=owner, name="weight_regularizer_l2")
        self.bias_regularizer_l1 = non_negative(bias_regularizer_l1, owner=owner, name="bias_regularizer_l1")
        self.bias_regularizer_l2 = non_negative(bias_regularizer_l2, owner=owner, name="bias_regularizer_l2")
        generator = _as_generator(rng, owner)
        if generator is None:
            # Looked up at call time, so nnfs.init()'s float32 randn is used when active.
            noise = np.random.randn(self.n_inputs, self.n_neurons)
        else:
            noise = generator.standard_normal((self.n_inputs, self.n_neurons))
        # W ~ scale * N(0, 1): small random weights break the symmetry between neurons.
        self.weights = self.weight_scale * noise
        # b = 0: np.zeros is looked up at call time too (nnfs makes it float32).
        self.biases = np.zeros((1, self.n_neurons))
        if dtype is not None:
            self.weights = self.weights.astype(dtype)
            self.biases = self.biases.astype(dtype)
        self.inputs: NDArray | None = None
        self.output: NDArray | None = None
        self.dweights: NDArray | None = None
        self.dbiases: NDArray | None = None
        self.dinputs: NDArray | None = None
    # --8<-- [end:dense_init]

    # --8<-- [start:dense_forward]
    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Compute ``inputs · weights + biases``.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_inputs)
        training : bool, default True
            Part of the common layer protocol (chapter 18); a dense layer
            behaves the same in training and inference.

        Returns
        -------
        output : ndarray, shape (n_samples, n_neurons)
        """
        self.inputs = layer_inputs(inputs, self.n_inputs, owner="Dense.forward")
        # Z = X·W + b  — chapter 3 (np.dot, not @, so that nnfs.init()'s patch applies)
        self.output = np.dot(self.inputs, self.weights) + self.biases
        return self.output
    # --8<-- [end:dense_forward]

    # --8<-- [start:dense_backward]
    def backward(self, dvalues: ArrayLike) -> NDArray:
        r"""Gradients of the loss with respect to weights, biases and inputs.

        Parameters
        ----------
        dvalues : array_like, shape (n_samples, n_neurons)
            $G = \partial L / \partial Z$, the gradient arriving from the next layer.

        Returns
        -------
        dinputs : ndarray, shape (n_samples, n_inputs)
            $\partial L / \partial X$.
        """
        dvalues = incoming_gradient(dvalues, self.output, owner="Dense.backward")
        # ∂L/∂W = Xᵀ·G  — chapter 9
        self.dweights = np.dot(self.inputs.T, dvalues)
        # ∂L/∂b = Σₙ G (a sum over the samples)  — chapter 9
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        # + the gradients of the L1/L2 penalties  — chapter 14
        self._add_regularization_gradients()
        # ∂L/∂X = G·Wᵀ  — chapter 9
        self.dinputs = np.dot(dvalues, self.weights.T)
        return self.dinputs
    # --8<-- [end:dense_backward]

    # --8<-- [start:dense_regularization]
    def _add_regularization_gradients(self) -> None:
        # d(λ1 Σ|w|)/dw = λ1 · sign(w), with +1 at w = 0 (the book's convention) — chapter 14
        if self.weight_regularizer_l1 > 0:
            self.dweights += self.weight_regularizer_l1 * _l1_sign(self.weights)
        # d(λ2 Σw²)/dw = 2 λ2 w  — chapter 14
        if self.weight_regularizer_l2 > 0:
            self.dweights += 2 * self.weight_regularizer_l2 * self.weights
        if self.bias_regularizer_l1 > 0:
            self.dbiases += self.bias_regularizer_l1 * _l1_sign(self.biases)
        if self.bias_regularizer_l2 > 0:
            self.dbiases += 2 * self.bias_regularizer_l2 * self.biases

    def regularization_loss(self) -> float:
        r"""The penalty this layer adds to the loss (chapter 14).

        $$\lambda_1^{w} \sum |w| + \lambda_2^{w} \sum w^2 + \lambda_1^{b} \sum |b| + \lambda_2^{b} \sum b^2$$
        """
        total = 0.0
        if self.weight_regularizer_l1 > 0:
            total += self.weight_regularizer_l1 * np.sum(np.abs(self.weights))
        if self.weight_regularizer_l2 > 0:
            total += self.weight_regularizer_l2 * np.sum(self.weights * self.weights)
        if self.bias_regularizer_l1 > 0:
            total += self.bias_regularizer_l1 * np.sum(np.abs(self.biases))
        if self.bias_regularizer_l2 > 0:
            total += self.bias_regularizer_l2 * np.sum(self.biases * self.biases)
        return total
    # --8<-- [end:dense_regularization]

    # --8<-- [start:dense_parameters]
    def get_parameters(self) -> tuple[NDArray, NDArray]:
        """Return ``(weights, biases)`` (chapter 21): the layer's own arrays, not copies.

        Writing into them changes the layer, as in the book. :meth:`Model.get_parameters
        <nnref.model.Model.get_parameters>` returns copies instead, because it hands
        a whole model's state to code that may keep it (saving, another model).
        """
        return self.weights, self.biases

    def set_parameters(self, weights: ArrayLike, biases: ArrayLike) -> None:
        """Replace the parameters with **copies** of the given arrays (chapter 21).

        The book assigns the arrays themselves, so two models loaded from the
        same parameters would train each other's weights; we copy.

        Parameters
        ----------
        weights : array_like, shape (n_inputs, n_neurons)
        biases : array_like, shape (1, n_neurons)
        """
        w = as_float_array(weights, owner="Dense.set_parameters", name="weights")
        b = as_float_array(biases, owner="Dense.set_parameters", name="biases")
        if w.shape != self.weights.shape:
            raise ValueError(f"Dense.set_parameters: weights must have shape {self.weights.shape}, got {w.shape}")
        if b.shape != self.biases.shape:
            raise ValueError(f"Dense.set_parameters: biases must have shape {self.biases.shape}, got {b.shape}")
        self.weights = np.array(w, copy=True)
        self.biases = np.array(b, copy=True)
    # --8<-- [end:dense_parameters]

    def __repr__(self) -> str:
        return f"Dense({self.n_inputs}, {self.n_neurons})"
# --8<-- [end:dense]


# --8<-- [start:dropout]
class Dropout:
    r"""Inverted dropout: zero a random fraction of the values while training.

    Introduced in chapter 15; the ``training`` switch in chapter 18.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of values to **drop**. (The book stores the *keep* fraction in
        an attribute also named ``rate``; here ``rate`` keeps the meaning of the
        argument and the keep fraction is ``keep_prob``.)
    rng : None, int or numpy.random.Generator, default None
        ``None`` draws the mask with numpy's global ``np.random.binomial`` (as
        the book does); a seed or Generator gives an independent stream.

    Notes
    -----
    With keep probability $q = 1 - \text{rate}$ and a mask $m_{ij} \sim
    \text{Bernoulli}(q)$:

    $$y_{ij} = \frac{m_{ij}}{q} x_{ij}, \qquad
      \frac{\partial L}{\partial x_{ij}} = \frac{m_{ij}}{q}\,\frac{\partial L}{\partial y_{ij}}$$

    Dividing by $q$ keeps the expected sum of the outputs equal to the sum of
    the inputs, so nothing needs rescaling at inference, where the layer is the
    identity.
    """

    trainable = False

    def __init__(self, rate: float, *, rng: None | int | np.random.Generator = None) -> None:
        self.rate = non_negative(rate, owner="Dropout", name="rate", upper=1.0)
        self.keep_prob = 1.0 - self.rate
        self.rng = _as_generator(rng, "Dropout")
        self.inputs: NDArray | None = None
        self.output: NDArray | None = None
        self.binary_mask: NDArray | None = None
        self.dinputs: NDArray | None = None

    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Apply a fresh scaled mask when ``training``; pass a copy through otherwise.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_features)
        training : bool, default True
            As for every layer; chapter 15 calls ``forward(inputs)`` while
            training, and the Model (chapter 18) passes it explicitly.

        Returns
        -------
        output : ndarray, same shape as ``inputs``
        """
        self.inputs = as_float_array(inputs, owner="Dropout.forward", ndim=None)
        if not training:
            # inference: the identity (inverted dropout needs no rescaling)  — chapter 18
            self.binary_mask = None
            self.output = self.inputs.copy()
            return self.output
        # m ~ Bernoulli(q), scaled by 1/q so the expected output equals the input  — chapter 15
        if self.rng is None:
            mask = np.random.binomial(1, self.keep_prob, size=self.inputs.shape)
        else:
            mask = self.rng.random(self.inputs.shape) < self.keep_prob
        self.binary_mask = mask.astype(self.inputs.dtype) / self.inputs.dtype.type(self.keep_prob)
        # y = x · m / q
        self.output = self.inputs * self.binary_mask
        return self.output

    def backward(self, dvalues: ArrayLike) -> NDArray:
        """dL/dx = dL/dy · m / q (a copy of dL/dy after an inference pass)."""
        dvalues = incoming_gradient(dvalues, self.output, owner="Dropout.backward")
        self.dinputs = dvalues.copy() if self.binary_mask is None else dvalues * self.binary_mask
        return self.dinputs

    def __repr__(self) -> str:
        return f"Dropout(rate={self.rate})"
# --8<-- [end:dropout]


class Input:
    """The first "layer" of a Model: it hands the data on unchanged.

    Introduced in chapter 18, so that every real layer can read its input from
    ``previous_layer.output``.
    """

    trainable = False

    def __init__(self) -> None:
        self.output: NDArray | None = None

    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Store ``inputs`` as ``output``.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_features)
        training : bool, default True
            Ignored; part of the layer protocol.
        """
        self.output = inputs
        return self.output

    def __repr__(self) -> str:
        return "Input()"
