"""Accuracy: the chapter 5 function and the chapter 18 classes with epoch accumulation."""
from __future__ import annotations

import numpy as np
import pytest

import nnref


def test_categorical_accuracy_sparse_and_one_hot():
    """Share of rows whose argmax is the label, for sparse and one-hot labels."""
    out = np.array([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.02, 0.9, 0.08], [0.1, 0.1, 0.8]])
    assert nnref.categorical_accuracy(out, [0, 1, 1, 2]) == 0.75
    assert nnref.categorical_accuracy(out, np.eye(3)[[0, 1, 1, 2]]) == 0.75


def test_categorical_accuracy_class_accumulates():
    """calculate returns the batch accuracy and calculate_accumulated the whole epoch's."""
    acc = nnref.CategoricalAccuracy()
    assert acc.calculate(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    assert acc.calculate(np.array([1, 1]), np.eye(3)[[0, 1]]) == 0.5
    assert acc.calculate_accumulated() == pytest.approx(4 / 6)
    acc.new_pass()
    assert acc.accumulated_count == 0


def test_binary_accuracy_compares_elementwise():
    """binary=True compares (N, 1) predictions with (N, 1) targets element by element."""
    acc = nnref.CategoricalAccuracy(binary=True)
    preds = np.array([[1], [0], [1], [1]])
    assert acc.calculate(preds, np.array([[1], [0], [0], [1]])) == 0.75


def test_non_binary_refuses_the_silent_broadcast():
    """Without binary=True, (N,1) targets are not broadcast into an (N, N) table."""
    preds = targets = np.array([[1], [0], [1]])
    with pytest.raises(ValueError, match="binary=True"):
        nnref.CategoricalAccuracy().calculate(preds, targets)


def test_regression_accuracy_precision_band():
    """A prediction counts when |y_hat - y| < std(y) / 250."""
    y = np.linspace(-1, 1, 11).reshape(-1, 1)
    acc = nnref.RegressionAccuracy()
    acc.init(y)
    assert acc.precision == pytest.approx(np.std(y) / 250)
    near = y + 0.5 * acc.precision
    far = y + 2 * acc.precision
    assert acc.calculate(near, y) == 1.0
    assert acc.calculate(far, y) == 0.0


def test_regression_accuracy_init_once_unless_reinit():
    """init keeps the first band; reinit=True recomputes it."""
    acc = nnref.RegressionAccuracy(precision_divisor=10)
    acc.init(np.array([[0.0], [1.0]]))
    first = acc.precision
    acc.init(np.array([[0.0], [100.0]]))
    assert acc.precision == first
    acc.init(np.array([[0.0], [100.0]]), reinit=True)
    assert acc.precision == pytest.approx(5.0)


def test_regression_accuracy_shape_mismatch():
    """(N,) predictions against (N, 1) targets are refused."""
    acc = nnref.RegressionAccuracy()
    acc.init(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        acc.calculate(np.ones(3), np.ones((3, 1)))
