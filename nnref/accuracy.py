"""Accuracy: the fraction of predictions that count as right.

Introduced as a one-liner in chapter 5; as classes in chapter 18 (categorical
and regression), with epoch accumulation in chapter 19.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import accumulated_mean, as_float_array, class_labels, non_negative

__all__ = ["Accuracy", "CategoricalAccuracy", "RegressionAccuracy", "categorical_accuracy"]


# --8<-- [start:categorical_accuracy]
def categorical_accuracy(outputs: ArrayLike, y_true: ArrayLike) -> float:
    r"""Share of rows whose highest output is the true class (chapter 5).

    Parameters
    ----------
    outputs : array_like, shape (n_samples, n_classes)
        Class scores or probabilities.
    y_true : array_like, shape (n_samples,) or (n_samples, n_classes)
        Class indices or one-hot rows.

    Returns
    -------
    float
        $\frac{1}{N} \sum_n [\arg\max_j \hat{y}_{nj} = y_n]$
    """
    outputs = as_float_array(outputs, owner="categorical_accuracy", name="outputs")
    y = class_labels(y_true, n_samples=outputs.shape[0], n_classes=outputs.shape[1], owner="categorical_accuracy")
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    return np.mean(np.argmax(outputs, axis=1) == y)
# --8<-- [end:categorical_accuracy]


# --8<-- [start:accuracy]
class Accuracy:
    """Base class: mean of ``compare(predictions, y)`` with a running total per epoch."""

    def __init__(self) -> None:
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def init(self, y: ArrayLike, reinit: bool = False) -> None:
        """Prepare from the training targets (only regression accuracy needs to)."""

    def compare(self, predictions: NDArray, y: NDArray) -> NDArray:  # pragma: no cover - abstract
        """Boolean array: which predictions are right."""
        raise NotImplementedError

    def calculate(self, predictions: ArrayLike, y: ArrayLike) -> float:
        """Accuracy of one batch; also adds it to the epoch's running total."""
        comparisons = self.compare(np.asarray(predictions), np.asarray(y))
        # accuracy = the share of right predictions  — chapter 18
        accuracy = comparisons.mean()
        # running totals for the epoch's accuracy over all batches  — chapter 19
        self.accumulated_sum += comparisons.sum()
        self.accumulated_count += comparisons.size
        return accuracy

    def calculate_accumulated(self) -> float:
        """Accuracy over every batch since :meth:`new_pass`."""
        return accumulated_mean(self.accumulated_sum, self.accumulated_count, owner=type(self).__name__)

    def new_pass(self) -> None:
        """Reset the running total (start of an epoch)."""
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CategoricalAccuracy(Accuracy):
    """Exact match of predicted and true classes (chapter 18).

    Parameters
    ----------
    binary : bool, default False
        For the binary (sigmoid) model of chapter 16: targets are 0/1 arrays
        shaped like the predictions and are compared element by element. The
        book's text omits this switch; its official code has it. Without it,
        (N, 1) targets are treated as one-hot rows of a single class.
    """

    def __init__(self, *, binary: bool = False) -> None:
        super().__init__()
        self.binary = bool(binary)

    def compare(self, predictions: NDArray, y: NDArray) -> NDArray:
        """``predictions == y`` after turning one-hot targets into indices.

        Shapes must match exactly: numpy would otherwise broadcast (N,) against
        (N, 1) into an (N, N) table and report a meaningless accuracy.
        """
        if not self.binary and y.ndim == 2:
            y = np.argmax(y, axis=1)
        if predictions.shape != y.shape:
            raise ValueError(
                f"CategoricalAccuracy.compare: predictions have shape {predictions.shape} but targets "
                f"{y.shape}{' (did you mean binary=True?)' if y.ndim == 2 or predictions.ndim == 2 else ''}"
            )
        return predictions == y


class RegressionAccuracy(Accuracy):
    r"""A regression prediction counts as right within a precision band (chapter 17).

    Parameters
    ----------
    precision_divisor : float, default 250
        The band is $\text{std}(y) / \text{precision\_divisor}$, the book's choice.

    Notes
    -----
    $$\text{accuracy} = \frac{1}{N J} \sum_{n,j} \bigl[\,|\hat{y}_{nj} - y_{nj}| < \sigma_y / 250\,\bigr]$$
    """

    def __init__(self, precision_divisor: float = 250) -> None:
        super().__init__()
        self.precision_divisor = non_negative(precision_divisor, owner="RegressionAccuracy",
                                              name="precision_divisor", strictly=True)
        self.precision: float | None = None

    def init(self, y: ArrayLike, reinit: bool = False) -> None:
        """Set the precision band from the targets' standard deviation (once, unless ``reinit``)."""
        if self.precision is None or reinit:
            y = as_float_array(y, owner="RegressionAccuracy.init", name="y", ndim=None)
            self.precision = np.std(y) / self.precision_divisor

    def compare(self, predictions: NDArray, y: NDArray) -> NDArray:
        """``|ŷ − y| < precision``, for targets shaped like the predictions."""
        if self.precision is None:
            raise ValueError("RegressionAccuracy.compare: call init(y) first to set the precision band")
        if predictions.shape != y.shape:
            raise ValueError(f"RegressionAccuracy.compare: predictions have shape {predictions.shape} "
                             f"but targets {y.shape}")
        return np.absolute(predictions - y) < self.precision
# --8<-- [end:accuracy]
