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

from ._validate import accumulated_mean, as_float_array, class_labels, matching_targets
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

    def __init__(self) -> None:
        self.trainable_layers: list = []
        self.accumulated_sum = 0.0
        self.accumulated_count = 0
        self.dinputs: NDArray | None = None
        # the (predictions, targets) pair forward has just checked, for the next backward
        self._checked_pair: tuple[Any, Any] = (None, None)

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:  # pragma: no cover - abstract
        """Per-sample losses, shape (n_samples,)."""
        raise NotImplementedError

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:  # pragma: no cover - abstract
        """Gradient of the mean loss with respect to the predictions."""
        raise NotImplementedError

    def _targets(self, y_true: ArrayLike, shape: tuple[int, ...], owner: str) -> NDArray:
        """``y_true`` checked against predictions of ``shape``.

        By default one real target per output, exactly that shape (no
        broadcasting), as the regression losses want; the classification losses
        say what else they accept.
        """
        return matching_targets(y_true, shape, owner=owner)

    def _checked(self, y_pred: ArrayLike, y_true: ArrayLike, owner: str, *, backward: bool = False):
        """``(predictions, targets)``, both checked, in one call.

        The book's loops (and the Model) hand ``backward`` the very two arrays that
        ``forward`` has just checked; those are used without a second check (once:
        the next backward checks again unless a forward came between). An array
        changed in place between the two is not checked again; a NaN put there
        still stops at the check of the next layer's backward.
        """
        last_pred, last_true = self._checked_pair
        self._checked_pair = (None, None)
        if backward and y_pred is last_pred and y_true is last_true:
            return y_pred, y_true
        predictions = _predictions(y_pred, owner)
        targets = self._targets(y_true, predictions.shape, owner)
        if not backward and predictions is y_pred and targets is y_true:
            self._checked_pair = (y_pred, y_true)  # the caller's own arrays, nothing converted
        return predictions, targets

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
        # L = (1/N) Σₙ Lₙ  — chapter 5
        data_loss = sample_losses.mean()
        # running totals for the epoch's mean over all batches  — chapter 19
        self.accumulated_sum += sample_losses.sum()
        self.accumulated_count += len(sample_losses)
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()
    # --8<-- [end:loss_calculate]

    def calculate_accumulated(self, *, include_regularization: bool = False):
        """Mean loss over every batch since :meth:`new_pass` (chapter 19)."""
        # the epoch's mean over every sample of every batch  — chapter 19
        data_loss = accumulated_mean(self.accumulated_sum, self.accumulated_count, owner=type(self).__name__)
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


def _predictions(y_pred: ArrayLike, owner: str) -> NDArray:
    """The predictions as a finite 2-D float array."""
    return as_float_array(y_pred, owner=owner, name="predictions")


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

    def _targets(self, y_true: ArrayLike, shape: tuple[int, ...], owner: str) -> NDArray:
        # class indices (n_samples,) in [0, n_classes), or rows (n_samples, n_classes) in [0, 1]
        return class_labels(y_true, n_samples=shape[0], n_classes=shape[1], owner=owner)

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
        y_pred, y = self._checked(y_pred, y_true, owner)
        n_samples, n_classes = y_pred.shape
        # ŷ clipped to [1e-7, 1 − 1e-7], so that log 0 never happens  — chapter 5
        y_pred_clipped = np.clip(y_pred, CLIP, 1 - CLIP)
        if y.ndim == 1:
            # sparse labels: L = −log ŷ[n, yₙ], the probability of the correct class  — chapter 5
            correct_confidences = y_pred_clipped[np.arange(n_samples), y]
            return -np.log(correct_confidences)
        # one-hot (or probability) rows: L = −Σⱼ yⱼ log ŷⱼ. For one-hot rows this equals the
        # book's −log Σⱼ yⱼ ŷⱼ to the last bit; for soft targets it is the cross-entropy
        # whose gradient backward computes, where the book's form is not.
        return -np.sum(y * np.log(y_pred_clipped), axis=1)
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
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_classes = dvalues.shape
        if y.ndim == 1:
            # sparse labels → one-hot rows: row yₙ of the identity matrix  — chapter 9
            y = np.eye(n_classes, dtype=dvalues.dtype)[y]
        # ∂L/∂ŷ = −y / ŷ  — chapter 9 (ŷ clipped as in forward: the book divides by the
        # unclipped value and gets inf at ŷ = 0), then / N for the mean over samples
        self.dinputs = -y / np.clip(dvalues, CLIP, 1 - CLIP)
        self.dinputs = self.dinputs / n_samples
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
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self.loss._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_classes = dvalues.shape
        if y.ndim == 2:
            # ∂L/∂z = (ŷ − y) / N with the target rows themselves: exact for one-hot rows and
            # for soft targets (rows summing to 1); the book's argmax would silently give
            # the wrong gradient for soft targets.
            self.dinputs = (dvalues - y.astype(dvalues.dtype, copy=False)) / n_samples
            return self.dinputs
        # ŷ − y for sparse labels: subtract 1 at the correct class of each row  — chapter 9
        self.dinputs = dvalues.copy()
        self.dinputs[np.arange(n_samples), y] -= 1
        # ∂L/∂z = (ŷ − y) / N, the gradient of the mean over samples
        self.dinputs = self.dinputs / n_samples
        return self.dinputs

    def __repr__(self) -> str:
        return "SoftmaxCategoricalCrossentropy()"
# --8<-- [end:softmax_cce]


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

    def _targets(self, y_true: ArrayLike, shape: tuple[int, ...], owner: str) -> NDArray:
        # one target in [0, 1] per output: exactly the predictions' shape
        return matching_targets(y_true, shape, owner=owner, binary=True)

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,).

        Parameters
        ----------
        y_pred : array_like, shape (n_samples, n_outputs)
            Sigmoid outputs.
        y_true : array_like, shape (n_samples, n_outputs)
            Targets in [0, 1] (usually 0 or 1). Same shape as ``y_pred``.
        """
        owner = "BinaryCrossentropy.forward"
        y_pred, y = self._checked(y_pred, y_true, owner)
        # clip ŷ away from 0 and 1, where a logarithm below would be infinite  — chapter 16
        y_pred_clipped = np.clip(y_pred, CLIP, 1 - CLIP)
        # −[y log ŷ + (1 − y) log(1 − ŷ)] for each output  — chapter 16
        sample_losses = -(y * np.log(y_pred_clipped) + (1 - y) * np.log(1 - y_pred_clipped))
        # Lₙ: the mean over the J outputs of each sample  — chapter 16
        return np.mean(sample_losses, axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = −(y/ŷ − (1−y)/(1−ŷ)) / J / N."""
        owner = "BinaryCrossentropy.backward"
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_outputs = dvalues.shape
        clipped_dvalues = np.clip(dvalues, CLIP, 1 - CLIP)
        # ∂Lₙ/∂ŷ = −(y/ŷ − (1 − y)/(1 − ŷ)) / J  — chapter 16
        self.dinputs = -(y / clipped_dvalues - (1 - y) / (1 - clipped_dvalues)) / n_outputs
        # / N for the mean over samples
        self.dinputs = self.dinputs / n_samples
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
        owner = "SigmoidBinaryCrossentropy.backward"
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self.loss._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_outputs = dvalues.shape
        # ∂L/∂z = (σ(z) − y) / J / N
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

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,); ``y_true`` must have the shape of ``y_pred``."""
        owner = "MeanSquaredError.forward"
        y_pred, y = self._checked(y_pred, y_true, owner)
        # Lₙ = (1/J) Σⱼ (yⱼ − ŷⱼ)²  — chapter 17
        return np.mean((y - y_pred) ** 2, axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = −2 (y − ŷ) / J / N."""
        owner = "MeanSquaredError.backward"
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_outputs = dvalues.shape
        # ∂Lₙ/∂ŷ = −2 (y − ŷ) / J  — chapter 17
        self.dinputs = -2 * (y - dvalues) / n_outputs
        # / N for the mean over samples
        self.dinputs = self.dinputs / n_samples
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

    def forward(self, y_pred: ArrayLike, y_true: ArrayLike) -> NDArray:
        """Per-sample losses, shape (n_samples,); ``y_true`` must have the shape of ``y_pred``."""
        owner = "MeanAbsoluteError.forward"
        y_pred, y = self._checked(y_pred, y_true, owner)
        # Lₙ = (1/J) Σⱼ |yⱼ − ŷⱼ|  — chapter 17
        return np.mean(np.abs(y - y_pred), axis=-1)

    def backward(self, dvalues: ArrayLike, y_true: ArrayLike) -> NDArray:
        """dL/dŷ = sign(ŷ − y) / J / N (the book has the opposite sign)."""
        owner = "MeanAbsoluteError.backward"
        # checked, unless they are the two arrays forward has just checked
        dvalues, y = self._checked(dvalues, y_true, owner, backward=True)
        n_samples, n_outputs = dvalues.shape
        # ∂Lₙ/∂ŷ = sign(ŷ − y) / J  (the book's code has sign(y − ŷ): see the errata)
        self.dinputs = np.sign(dvalues - y) / n_outputs
        # / N for the mean over samples
        self.dinputs = self.dinputs / n_samples
        return self.dinputs
# --8<-- [end:mae]
