"""Deviations listed on docs/errata.md that no other test file pins: each test shows the book's form and ours differ."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import nnref
from nnref import data


def test_prepare_image_needs_pillow_not_opencv(tmp_path, monkeypatch):
    """prepare_image reads and resizes with Pillow: it works when OpenCV (the book's cv2) cannot be imported."""
    Image = pytest.importorskip("PIL.Image")
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` now raises ImportError
    pixels = np.zeros((40, 30), np.uint8)
    pixels[10:30, 5:25] = 255
    path = tmp_path / "shape.png"
    Image.fromarray(pixels).save(path)
    row = data.prepare_image(path, invert=False)
    assert row.shape == (1, 784)
    np.testing.assert_array_equal(data.prepare_image(Image.open(path), invert=False), row)


def _book_softmax_cce_backward(y_hat, y_true):
    """The book's combined backward: one-hot targets turned into indices with argmax, then (y_hat - onehot)/N."""
    labels = np.argmax(y_true, axis=1) if y_true.ndim == 2 else y_true
    d = y_hat.copy()
    d[np.arange(len(d)), labels] -= 1
    return d / len(d)


def _numeric_logit_gradient(logits, y_true, h=1e-6):
    """Central differences of the mean cross-entropy -sum(y log softmax(z)) / N with respect to the logits."""
    def loss(z):
        z = z - z.max(axis=1, keepdims=True)
        log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.sum(y_true * log_softmax) / len(z)

    grad = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (loss(up) - loss(down)) / (2 * h)
    return grad


def test_soft_targets_get_the_true_gradient_and_the_books_argmax_does_not():
    """For soft target rows nnref's softmax+CCE gradient equals the numerical one; the book's argmax form is off."""
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 3))
    y = rng.random((5, 3))
    y /= y.sum(axis=1, keepdims=True)
    numeric = _numeric_logit_gradient(logits, y)
    head = nnref.SoftmaxCategoricalCrossentropy()
    head.forward(logits, y)
    ours = head.backward(head.output, y)
    book = _book_softmax_cce_backward(head.output, y)
    np.testing.assert_allclose(ours, numeric, atol=1e-8)
    assert np.max(np.abs(book - numeric)) > 1e-2


def test_chained_sigmoid_bce_loses_the_gradient_at_large_logits():
    """Sigmoid then BCE, each with its own backward (the book's way), gives ~0.02 instead of -1 at z = -20, y = 1."""
    z, y = np.array([[-20.0]]), np.array([[1.0]])
    sigmoid, bce = nnref.Sigmoid(), nnref.BinaryCrossentropy()
    p = sigmoid.forward(z)
    bce.forward(p, y)
    chained = sigmoid.backward(bce.backward(p, y))[0, 0]
    true = 1 / (1 + math.exp(20.0)) - 1.0  # dL/dz = sigma(z) - y
    combined = nnref.SigmoidBinaryCrossentropy()
    combined.forward(z, y)
    assert combined.backward(combined.output, y)[0, 0] == pytest.approx(true, abs=1e-8)
    # BCE clips p = 2e-9 up to 1e-7, so the chained product is about 2e-9 / 1e-7 = 0.02 of the truth
    assert abs(chained) < 0.05 * abs(true)


#: Chapter 19's last run: 60,000 Fashion-MNIST training samples, batches of 128,
#: 10 epochs; the learning rates the book prints for epoch 10 (steps 0-468) and
#: on the closing "training" line.
CH19_SAMPLES, CH19_BATCH = 60_000, 128
CH19_EPOCH_10_LR = {
    0: 0.0001915341888527102,
    100: 0.00018793459875963167,
    200: 0.00018446781036709093,
    300: 0.00018112660749864155,
    400: 0.00017790428749332856,
    468: 0.00017577781683951485,
}


def _printed_rate(decay: float, step: int) -> float:
    """The learning rate Adam(decay=...) reports at a global step (the rate used for that step)."""
    optimizer = nnref.Adam(decay=decay)
    optimizer.iterations = step
    optimizer.pre_update_params()
    return optimizer.current_learning_rate


def test_ch19_printed_learning_rates_come_from_decay_1e3_not_the_listed_1e4():
    """Chapter 19's final log: the printed lrs are Adam(decay=1e-3)'s to the last digit; the listed decay=1e-4 gives others."""
    steps_per_epoch = math.ceil(CH19_SAMPLES / CH19_BATCH)
    assert steps_per_epoch == 469  # steps 0..468, as printed
    for step, printed in CH19_EPOCH_10_LR.items():
        global_step = 9 * steps_per_epoch + step  # epoch 10 starts after nine full epochs
        assert _printed_rate(1e-3, global_step) == printed, step
        assert _printed_rate(1e-4, global_step) > 3 * printed, step  # decay=1e-4 would still be near 7e-4
