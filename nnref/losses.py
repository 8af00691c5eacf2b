"""Loss functions, their gradients, and the regularization penalty.

A loss object follows the protocol of the book's ``Loss`` class:

* ``forward(y_pred, y_true)`` returns one loss value per sample;
* ``calculate(output, y)`` returns their mean (and, from chapter 18, keeps a
  running sum for epoch-level numbers);
* ``backward(dvalues, y_true)`` stores ``dinputs``, the gradient of the **mean**
  loss with respect to ``y_pred`` (hence the division by the number of samples).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_float_array, check_same_shape, class_labels
from .activations import Sigmoid, Softmax

__all__ = [
    "Loss",
    "CategoricalCrossentropy",
    "SoftmaxCategoricalCrossentropy",
    "BinaryCrossentropy",
    "SigmoidBinaryCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "CLIP",
]

#: Predictions are clipped to [CLIP, 1 - CLIP] before a logarithm (chapter 5).
CLIP = 1e-7


# --8<-- [start:loss]
class Loss:
    r"""Base class: averaging, epoch accumulation and the regularization penalty.

    Introduced in chapter 5; regularization in chapter 14; accumulation in
    chapter 19.

    Notes
    -----
    The data loss of a batch of $N$ samples is the mean of the per-sample
    losses, $L = \frac{1}{N} \sum_n L_n$. The regularization loss adds, for
    every trainable layer,

    $$\lambda_1^{w} \sum |w| + \lambda_2^{w} \sum w^2 + \lambda_1^{b} \sum |b| + \lambda_2^{b} \sum b^2.$$
    """

    #: Input validation of predictions and targets (shape, NaN/inf, label range).
    #: A Model checks its data once per call and switches this off while it runs.
    check_inputs = True

    def __init__(self) -> None:
        self.trainable_layers: list = []
        self.accumulated_sum = 0.0
        self.accumulated_count = 0
        self.dinputs: NDArray | None = None

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:  # pragma: no cover - abstract
        """Per-sample losses, shape (n_samples,)."""
        raise NotImplementedError

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:  # pragma: no cover - abstract
        """Gradient of the mean loss with respect to the predictions."""
        raise NotImplementedError

    def check_targets(self, y_true: ArrayLike, n_outputs: int, *, owner: str) -> NDArray:
        """Check a whole dataset's targets once, for predictions of ``n_outputs`` columns.

        A Model calls this before it trains or evaluates and, when it succeeds,
        switches the per-batch checks off (:attr:`check_inputs`). Returns the
        targets in the form the loss computes with. A loss that does not
        implement it keeps checking every batch.
        """
        raise NotImplementedError

    def remember_trainable_layers(self, trainable_layers: Iterable) -> None:
        """Keep the layers whose penalties :meth:`regularization_loss` sums (chapter 18)."""
        self.trainable_layers = list(trainable_layers)

    # --8<-- [start:loss_regularization]
    def regularization_loss(self, layer=None) -> float:
        """The L1/L2 penalty of one ``layer`` (chapter 14) or of all remembered layers (chapter 18)."""
        layers = self.trainable_layers if layer is None else [layer]
        return sum((lay.regularization_loss() for lay in layers), 0.0)
    # --8<-- [end:loss_regularization]

    # --8<-- [start:loss_calculate]
    # --8<-- [start:loss_accumulated]
    def calculate(self, output: ArrayLike, y: ArrayLike, *, include_regularization: bool = False):
        """Mean loss of the batch; with ``include_regularization``, ``(data_loss, regularization_loss)``.

        Parameters
        ----------
        output : array_like, shape (n_samples, n_outputs)
            The model's predictions.
        y : array_like
            Targets: class indices (n_samples,), one-hot rows, or values shaped like ``output``.
        """
        sample_losses = self.forward(output, y)
        # The mean from the one sum the epoch total needs anyway. np.mean computes
        # exactly this: the sum in the losses' dtype, divided by n in float64,
        # rounded back to that dtype (a test pins the equality bit for bit).
        batch_sum = sample_losses.sum()
        data_loss = batch_sum.dtype.type(float(batch_sum) / len(sample_losses))
        self.accumulated_sum += batch_sum
        self.accumulated_count += len(sample_losses)
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()
    # --8<-- [end:loss_calculate]

    def calculate_accumulated(self, *, include_regularization: bool = False):
        """Mean loss over every batch since :meth:`new_pass` (chapter 19)."""
        if self.accumulated_count == 0:
            raise ValueError(f"{type(self).__name__}.calculate_accumulated: no batch was calculated since new_pass()")
        data_loss = self.accumulated_sum / self.accumulated_count
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def new_pass(self) -> None:
        """Reset the running sums at the start of an epoch (chapter 19)."""
        self.accumulated_sum = 0.0
        self.accumulated_count = 0
    # --8<-- [end:loss_accumulated]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
# --8<-- [end:loss]


# The per-call checks below all take ``check``: a loss passes its ``check_inputs``,
# and with it off (a Model that checked its data once) they hand the input back as given.

def _predictions(y_pred: ArrayLike, owner: str, check: bool = True) -> NDArray:
    """The predictions as a float array."""
    if not check:
        return y_pred
    return as_float_array(y_pred, owner=owner, name="predictions")


def _class_targets(y_true: ArrayLike, n_samples: int, n_classes: int, owner: str, check: bool = True) -> NDArray:
    """Class indices or one-hot rows for a batch (see :func:`~nnref._validate.class_labels`)."""
    if not check:
        return y_true
    return class_labels(y_true, n_samples=n_samples, n_classes=n_classes, owner=owner)


# --8<-- [start:cce]
class CategoricalCrossentropy(Loss):
    r"""Categorical cross-entropy for class probabilities.

    Introduced in chapter 5; backward in chapter 9.

    Notes
    -----
    With predictions clipped to $[10^{-7}, 1 - 10^{-7}]$ (so $\log 0$ never
    occurs) and targets $y$ one-hot (sparse labels are expanded):

    $$L_n = -\sum_j y_{nj} \log \hat{y}_{nj}, \qquad
      \frac{\partial L}{\partial \hat{y}_{nj}} = -\frac{1}{N}\,\frac{y_{nj}}{\hat{y}_{nj}}$$

    The book divides by the *unclipped* prediction in ``backward``, which gives
    ``inf`` (and then ``nan``) when a prediction is exactly 0. We divide by the
    clipped value, as the book itself does for binary cross-entropy.
    """

    def check_targets(self, y_true: ArrayLike, n_outputs: int, *, owner: str) -> NDArray:
        """Class indices in ``[0, n_outputs)`` or rows of ``n_outputs`` values in [0, 1]."""
        y = np.asarray(y_true)
        return class_labels(y, n_samples=len(y), n_classes=n_outputs, owner=owner)

    # --8<-- [start:cce_forward]
    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,).

        Parameters
        ----------
        y_pred : array_like, shape (n_samples, n_classes)
            Probabilities (rows of a softmax).
        y_true : array_like, shape (n_samples,) or (n_samples, n_classes)
            Class indices, one-hot rows, or probability rows summing to 1.
        """
        owner = "CategoricalCrossentropy.forward"
        y_pred = _predictions(y_pred, owner, self.check_inputs)
        n_samples, n_classes = y_pred.shape
        y = _class_targets(y_true, n_samples, n_classes, owner, self.check_inputs)
        if y.ndim == 1:
            # pick the probability given to the correct class in each row, then clip it
            # (clipping first and picking after gives the same numbers, on N×J values instead of N)
            confidences = np.clip(y_pred[np.arange(n_samples), y], CLIP, 1 - CLIP)
            # L = −log(ŷ of the correct class)  — chapter 5
            return -np.log(confidences)
        clipped = np.clip(y_pred, CLIP, 1 - CLIP)
        # L = −Σ_j y_j log ŷ_j. For one-hot rows this is the book's −log Σ_j y_j ŷ_j
        # to the last bit; for soft targets (rows summing to 1) it is the
        # cross-entropy whose gradient backward computes, where the book's form is not.
        return -np.sum(y * np.log(clipped), axis=1)
    # --8<-- [end:cce_forward]

    # --8<-- [start:cce_backward]
    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = −y / ŷ / N, with ŷ clipped.

        Parameters
        ----------
        dvalues : array_like, shape (n_samples, n_classes)
            The predictions ŷ the loss was computed on.
        y_true : array_like, shape (n_samples,) or (n_samples, n_classes)
        """
        owner = "CategoricalCrossentropy.backward"
        dvalues = _predictions(dvalues, owner, self.check_inputs)
        n_samples, n_classes = dvalues.shape
        y = _class_targets(y_true, n_samples, n_classes, owner, self.check_inputs)
        if y.ndim == 1:
            # sparse labels → one-hot rows (np.eye is looked up at call time for nnfs)
            y = np.eye(n_classes, dtype=dvalues.dtype)[y]
        clipped = np.clip(dvalues, CLIP, 1 - CLIP)
        # dL/dŷ = −y / ŷ, then / N for the mean over samples  — chapter 9
        self.dinputs = -y / clipped / n_samples
        return self.dinputs
    # --8<-- [end:cce_backward]
# --8<-- [end:cce]


# --8<-- [start:softmax_cce]
class SoftmaxCategoricalCrossentropy:
    r"""Softmax followed by categorical cross-entropy, with their joint gradient.

    Introduced in chapter 9.

    Notes
    -----
    Chaining the two Jacobians collapses to a gradient that needs neither a
    division nor a Jacobian, and that stays finite for any logits:

    $$\frac{\partial L}{\partial z_{nj}} = \frac{\hat{y}_{nj} - y_{nj}}{N}$$

    ``forward(inputs, y_true)`` runs the softmax and returns the mean loss
    (chapters 9–10); the Model of chapter 18 runs the softmax itself and uses
    only ``backward``.
    """

    trainable = False
    #: See :attr:`Loss.check_inputs`.
    check_inputs = True

    def __init__(self) -> None:
        self.activation = Softmax()
        self.loss = CategoricalCrossentropy()
        self.output: NDArray | None = None
        self.dinputs: NDArray | None = None

    def forward(self, inputs: ArrayLike, y_true: ArrayLike) -> float:
        """Softmax of ``inputs`` (kept as ``output``), then the mean cross-entropy.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_classes)
            Logits.
        y_true : array_like, shape (n_samples,) or (n_samples, n_classes)
        """
        self.output = self.activation.forward(inputs)
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dz = (ŷ − y) / N.

        Parameters
        ----------
        dvalues : array_like, shape (n_samples, n_classes)
            The softmax outputs ŷ.
        y_true : array_like, shape (n_samples,) or (n_samples, n_classes)
        """
        owner = "SoftmaxCategoricalCrossentropy.backward"
        dvalues = _predictions(dvalues, owner, self.check_inputs)
        n_samples, n_classes = dvalues.shape
        y = _class_targets(y_true, n_samples, n_classes, owner, self.check_inputs)
        if y.ndim == 2:
            # (ŷ − y) / N with the target rows themselves: exact for one-hot rows and
            # for soft targets (rows summing to 1), which forward accepts too; the
            # book's argmax would silently give the wrong gradient for soft targets.
            self.dinputs = (dvalues - y.astype(dvalues.dtype, copy=False)) / n_samples
            return self.dinputs
        # ŷ − y: subtract 1 at the correct class of each row  — chapter 9
        self.dinputs = dvalues.copy()
        self.dinputs[np.arange(n_samples), y] -= 1
        # / N for the mean over samples
        self.dinputs /= n_samples
        return self.dinputs

    def __repr__(self) -> str:
        return "SoftmaxCategoricalCrossentropy()"
# --8<-- [end:softmax_cce]


def _matching_targets(y_pred: NDArray, y_true: ArrayLike, owner: str, check: bool = True) -> NDArray:
    """Targets for element-wise losses must have exactly the shape of the predictions.

    Letting numpy broadcast an (N,) target against (N, 1) predictions would
    silently build an (N, N) matrix and a wrong loss.
    """
    if not check:
        return y_true
    y = as_float_array(y_true, owner=owner, name="y_true", ndim=None)
    check_same_shape(y_pred, y, owner=owner, a_name="predictions", b_name="y_true")
    return y


def _binary_range(y: NDArray, owner: str) -> NDArray:
    """Raise unless every binary target lies in [0, 1]."""
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{owner}: binary targets must lie in [0, 1], got values from {y.min()} to {y.max()}")
    return y


def _whole_targets(y_true: ArrayLike, n_outputs: int, owner: str, *, binary: bool = False) -> NDArray:
    """An element-wise loss's targets for a whole dataset: shape (n_samples, n_outputs), finite, in [0, 1] if binary."""
    y = as_float_array(y_true, owner=owner, name="y", ndim=None)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(f"{owner}: y must have shape (n_samples, {n_outputs}), one column per output "
                         f"of the model, got shape {y.shape}")
    return _binary_range(y, owner) if binary else y


def _binary_targets(y_pred: NDArray, y_true: ArrayLike, owner: str, check: bool = True) -> NDArray:
    if not check:
        return y_true
    return _binary_range(_matching_targets(y_pred, y_true, owner), owner)


# --8<-- [start:bce]
class BinaryCrossentropy(Loss):
    r"""Binary cross-entropy, averaged over the outputs of each sample.

    Introduced in chapter 16.

    Notes
    -----
    With $\hat{y}$ clipped to $[10^{-7}, 1 - 10^{-7}]$ and $J$ outputs per sample:

    $$L_n = -\frac{1}{J} \sum_j \bigl[y_{nj} \log \hat{y}_{nj} + (1 - y_{nj}) \log(1 - \hat{y}_{nj})\bigr]$$

    $$\frac{\partial L}{\partial \hat{y}_{nj}} = -\frac{1}{N J}\left(\frac{y_{nj}}{\hat{y}_{nj}} - \frac{1 - y_{nj}}{1 - \hat{y}_{nj}}\right)$$

    As in the book, the gradient is the unclipped formula evaluated at the
    clipped prediction.
    """

    def check_targets(self, y_true: ArrayLike, n_outputs: int, *, owner: str) -> NDArray:
        """Targets shaped like the predictions, (n_samples, n_outputs), in [0, 1]."""
        return _whole_targets(y_true, n_outputs, owner, binary=True)

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,).

        Parameters
        ----------
        y_pred : array_like, shape (n_samples, n_outputs)
            Sigmoid outputs.
        y_true : array_like, shape (n_samples, n_outputs)
            Targets in [0, 1] (usually 0 or 1). Same shape as ``y_pred``.
        """
        y_pred = _predictions(y_pred, "BinaryCrossentropy.forward", self.check_inputs)
        y = _binary_targets(y_pred, y_true, "BinaryCrossentropy.forward", self.check_inputs)
        clipped = np.clip(y_pred, CLIP, 1 - CLIP)
        sample_losses = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
        # mean over the J outputs of each sample  — chapter 16
        return np.mean(sample_losses, axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = −(y/ŷ − (1−y)/(1−ŷ)) / J / N."""
        dvalues = _predictions(dvalues, "BinaryCrossentropy.backward", self.check_inputs)
        y = _binary_targets(dvalues, y_true, "BinaryCrossentropy.backward", self.check_inputs)
        n_samples, n_outputs = dvalues.shape
        clipped = np.clip(dvalues, CLIP, 1 - CLIP)
        self.dinputs = -(y / clipped - (1 - y) / (1 - clipped)) / n_outputs / n_samples
        return self.dinputs
# --8<-- [end:bce]


# --8<-- [start:sigmoid_bce]
class SigmoidBinaryCrossentropy:
    r"""Sigmoid followed by binary cross-entropy, with their joint gradient.

    Not in the book: the binary counterpart of
    :class:`SoftmaxCategoricalCrossentropy`, used for chapter 16's model.

    Notes
    -----
    $$\frac{\partial L}{\partial z_{nj}} = \frac{\sigma(z_{nj}) - y_{nj}}{N J}$$

    Chaining the two separate backward passes divides by $\hat{y}(1-\hat{y})$
    and then multiplies by it again, which loses the gradient for large
    logits (at $z = 20$ the chained form gives 0.02 where the truth is 1).
    """

    trainable = False
    #: See :attr:`Loss.check_inputs`.
    check_inputs = True

    def __init__(self) -> None:
        self.activation = Sigmoid()
        self.loss = BinaryCrossentropy()
        self.output: NDArray | None = None
        self.dinputs: NDArray | None = None

    def forward(self, inputs: ArrayLike, y_true: ArrayLike) -> float:
        """Sigmoid of ``inputs`` (kept as ``output``), then the mean binary cross-entropy."""
        self.output = self.activation.forward(inputs)
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dz = (σ(z) − y) / (N J).

        Parameters
        ----------
        dvalues : array_like, shape (n_samples, n_outputs)
            The sigmoid outputs.
        y_true : array_like, shape (n_samples, n_outputs)
        """
        dvalues = _predictions(dvalues, "SigmoidBinaryCrossentropy.backward", self.check_inputs)
        y = _binary_targets(dvalues, y_true, "SigmoidBinaryCrossentropy.backward", self.check_inputs)
        n_samples, n_outputs = dvalues.shape
        self.dinputs = (dvalues - y) / n_outputs / n_samples
        return self.dinputs

    def __repr__(self) -> str:
        return "SigmoidBinaryCrossentropy()"
# --8<-- [end:sigmoid_bce]


# --8<-- [start:mse]
class MeanSquaredError(Loss):
    r"""Mean squared error (L2 loss) for regression.

    Introduced in chapter 17.

    Notes
    -----
    $$L_n = \frac{1}{J} \sum_j (y_{nj} - \hat{y}_{nj})^2, \qquad
      \frac{\partial L}{\partial \hat{y}_{nj}} = -\frac{2}{N J} (y_{nj} - \hat{y}_{nj})$$
    """

    def check_targets(self, y_true: ArrayLike, n_outputs: int, *, owner: str) -> NDArray:
        """Targets shaped like the predictions, (n_samples, n_outputs)."""
        return _whole_targets(y_true, n_outputs, owner)

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,); ``y_true`` must have the shape of ``y_pred``."""
        y_pred = _predictions(y_pred, "MeanSquaredError.forward", self.check_inputs)
        y = _matching_targets(y_pred, y_true, "MeanSquaredError.forward", self.check_inputs)
        return np.mean((y - y_pred) ** 2, axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = −2 (y − ŷ) / J / N."""
        dvalues = _predictions(dvalues, "MeanSquaredError.backward", self.check_inputs)
        y = _matching_targets(dvalues, y_true, "MeanSquaredError.backward", self.check_inputs)
        n_samples, n_outputs = dvalues.shape
        self.dinputs = -2 * (y - dvalues) / n_outputs / n_samples
        return self.dinputs
# --8<-- [end:mse]


# --8<-- [start:mae]
class MeanAbsoluteError(Loss):
    r"""Mean absolute error (L1 loss) for regression.

    Introduced in chapter 17.

    Notes
    -----
    $$L_n = \frac{1}{J} \sum_j |y_{nj} - \hat{y}_{nj}|, \qquad
      \frac{\partial L}{\partial \hat{y}_{nj}} = \frac{\operatorname{sign}(\hat{y}_{nj} - y_{nj})}{N J}$$

    **Erratum.** The book's code computes ``sign(y_true - y_pred)``, the
    gradient with the wrong sign: following it *increases* the loss. The
    derivative of $|y - \hat{y}|$ with respect to $\hat{y}$ is
    $\operatorname{sign}(\hat{y} - y)$; the tests show it by finite differences.
    """

    def check_targets(self, y_true: ArrayLike, n_outputs: int, *, owner: str) -> NDArray:
        """Targets shaped like the predictions, (n_samples, n_outputs)."""
        return _whole_targets(y_true, n_outputs, owner)

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,); ``y_true`` must have the shape of ``y_pred``."""
        y_pred = _predictions(y_pred, "MeanAbsoluteError.forward", self.check_inputs)
        y = _matching_targets(y_pred, y_true, "MeanAbsoluteError.forward", self.check_inputs)
        return np.mean(np.abs(y - y_pred), axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = sign(ŷ − y) / J / N (the book has the opposite sign)."""
        dvalues = _predictions(dvalues, "MeanAbsoluteError.backward", self.check_inputs)
        y = _matching_targets(dvalues, y_true, "MeanAbsoluteError.backward", self.check_inputs)
        n_samples, n_outputs = dvalues.shape
        self.dinputs = np.sign(dvalues - y) / n_outputs / n_samples
        return self.dinputs
# --8<-- [end:mae]
