"""Losses: values, gradients by formula, accumulation, regularization, and hypothesis invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nnref
from nnref.losses import CLIP


def test_cce_value_and_clip():
    """CCE is -log of the clipped true-class probability."""
    cce = nnref.CategoricalCrossentropy()
    y_pred = np.array([[0.5, 0.3, 0.2], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(cce.forward(y_pred, [1, 0]), [-np.log(0.3), -np.log(CLIP)])


def test_cce_backward_formula():
    """dL/dy_hat = -y / y_hat / N."""
    cce = nnref.CategoricalCrossentropy()
    y_pred = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    expected = -np.eye(3)[[1, 2]] / y_pred / 2
    np.testing.assert_allclose(cce.backward(y_pred, [1, 2]), expected)


def test_softmax_cce_forward_is_mean_loss_and_keeps_softmax():
    """The combined forward returns the mean CCE of the softmax, stored as output."""
    combined = nnref.SoftmaxCategoricalCrossentropy()
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    loss = combined.forward(z, [2, 0])
    s = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(combined.output, s)
    assert loss == pytest.approx(np.mean(-np.log(s[[0, 1], [2, 0]])))
    np.testing.assert_allclose(combined.backward(combined.output, [2, 0]), (s - np.eye(3)[[2, 0]]) / 2)


def test_softmax_cce_backward_does_not_modify_its_input():
    """backward works on a copy of the softmax outputs."""
    combined = nnref.SoftmaxCategoricalCrossentropy()
    combined.forward(np.zeros((2, 3)), [0, 1])
    kept = combined.output.copy()
    combined.backward(combined.output, [0, 1])
    np.testing.assert_array_equal(combined.output, kept)


def test_bce_value_and_gradient():
    """BCE averages over outputs; its gradient is -(y/p - (1-y)/(1-p)) / J / N."""
    bce = nnref.BinaryCrossentropy()
    p, y = np.array([[0.9, 0.2], [0.4, 0.7]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(bce.forward(p, y), per.mean(axis=1))
    np.testing.assert_allclose(bce.backward(p, y), -(y / p - (1 - y) / (1 - p)) / 2 / 2)


def test_bce_finite_at_zero_and_one():
    """BCE clips: predictions of exactly 0 or 1 give finite loss and gradient."""
    bce = nnref.BinaryCrossentropy()
    p, y = np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])
    assert np.isfinite(bce.forward(p, y)).all() and np.isfinite(bce.backward(p, y)).all()


def test_sigmoid_bce_keeps_gradient_for_large_logits():
    """The combined sigmoid+BCE gradient is (sigma(z) - y)/(NJ), close to -1 at z = -20, y = 1."""
    combined = nnref.SigmoidBinaryCrossentropy()
    combined.forward(np.array([[-20.0]]), np.array([[1.0]]))
    assert combined.backward(combined.output, np.array([[1.0]]))[0, 0] == pytest.approx(-1.0, abs=1e-8)


def test_mse_and_mae_values_and_gradients():
    """MSE = mean (y - y_hat)^2 with gradient -2(y - y_hat)/(NJ); MAE = mean |y - y_hat| with sign(y_hat - y)/(NJ)."""
    y_pred, y = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[0.5, 3.0], [0.0, 1.0]])
    mse, mae = nnref.MeanSquaredError(), nnref.MeanAbsoluteError()
    np.testing.assert_allclose(mse.forward(y_pred, y), [(0.25 + 1) / 2, 4 / 2])
    np.testing.assert_allclose(mse.backward(y_pred, y), -2 * (y - y_pred) / 2 / 2)
    np.testing.assert_allclose(mae.forward(y_pred, y), [(0.5 + 1) / 2, 2 / 2])
    np.testing.assert_allclose(mae.backward(y_pred, y), np.sign(y_pred - y) / 2 / 2)


def test_mae_step_reduces_the_loss():
    """A small step against our MAE gradient lowers the loss (the book's sign would raise it)."""
    mae = nnref.MeanAbsoluteError()
    y_pred, y = np.array([[1.0, -2.0, 0.3]]), np.array([[0.0, 0.0, 0.0]])
    before = mae.forward(y_pred, y).mean()
    after = mae.forward(y_pred - 0.1 * mae.backward(y_pred, y), y).mean()
    assert after < before


def test_calculate_accumulates_and_new_pass_resets():
    """calculate returns the batch mean and adds to the epoch's running sum; new_pass resets it."""
    loss = nnref.MeanSquaredError()
    a = loss.calculate(np.array([[1.0], [3.0]]), np.zeros((2, 1)))
    b = loss.calculate(np.array([[2.0]]), np.zeros((1, 1)))
    assert (a, b) == (5.0, 4.0)
    assert loss.calculate_accumulated() == pytest.approx((1 + 9 + 4) / 3)
    loss.new_pass()
    assert loss.accumulated_count == 0


def test_regularization_loss_from_layer_and_remembered_layers():
    """regularization_loss(layer) is the layer's penalty; without an argument, the sum over remembered layers."""
    a = nnref.Dense(2, 2, rng=0, weight_regularizer_l2=0.5)
    b = nnref.Dense(2, 2, rng=1, bias_regularizer_l1=0.1)
    a.set_parameters(np.ones((2, 2)), np.zeros((1, 2)))
    b.set_parameters(np.ones((2, 2)), -np.ones((1, 2)))
    loss = nnref.CategoricalCrossentropy()
    assert loss.regularization_loss(a) == pytest.approx(2.0)
    loss.remember_trainable_layers([a, b])
    assert loss.regularization_loss() == pytest.approx(2.0 + 0.2)
    data, reg = loss.calculate(np.full((2, 2), 0.5), [0, 1], include_regularization=True)
    assert data == pytest.approx(np.log(2)) and reg == pytest.approx(2.2)


# ------------------------------------------------------------------------- hypothesis invariants
def _prob_rows(draw_shape):
    n, k = draw_shape
    return arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0, allow_nan=False))


shapes = st.tuples(st.integers(1, 6), st.integers(2, 5))


@given(shapes.flatmap(lambda s: st.tuples(_prob_rows(s), st.lists(st.integers(0, s[1] - 1), min_size=s[0],
                                                                     max_size=s[0]))))
@settings(max_examples=60, deadline=None)
def test_cce_non_negative_and_gradient_shape(case):
    """CCE losses are >= 0 and finite for any probabilities (0 and 1 included); backward keeps the shape."""
    y_pred, labels = case
    cce = nnref.CategoricalCrossentropy()
    losses = cce.forward(y_pred, labels)
    assert np.all(losses >= 0) and np.all(np.isfinite(losses))
    grad = cce.backward(y_pred, labels)
    assert grad.shape == y_pred.shape and np.isfinite(grad).all()


@given(shapes.flatmap(lambda s: st.tuples(_prob_rows(s), arrays(np.float64, s, elements=st.sampled_from([0.0, 1.0])))))
@settings(max_examples=60, deadline=None)
def test_bce_non_negative(case):
    """BCE losses are >= 0 and finite; backward keeps the shape."""
    y_pred, y = case
    bce = nnref.BinaryCrossentropy()
    assert np.all(bce.forward(y_pred, y) >= 0)
    assert bce.backward(y_pred, y).shape == y_pred.shape


@given(shapes.flatmap(lambda s: st.tuples(*(arrays(np.float64, s, elements=st.floats(-1e3, 1e3)) for _ in range(2)))))
@settings(max_examples=60, deadline=None)
def test_regression_losses_non_negative_and_zero_at_target(case):
    """MSE and MAE are >= 0, zero when predictions equal targets, and keep the shape in backward."""
    y_pred, y = case
    for loss in (nnref.MeanSquaredError(), nnref.MeanAbsoluteError()):
        assert np.all(loss.forward(y_pred, y) >= 0)
        assert np.all(loss.forward(y, y) == 0)
        assert loss.backward(y_pred, y).shape == y_pred.shape


@given(shapes.flatmap(lambda s: st.tuples(arrays(np.float64, s, elements=st.floats(-30, 30)),
                                          st.lists(st.integers(0, s[1] - 1), min_size=s[0], max_size=s[0]))))
@settings(max_examples=60, deadline=None)
def test_softmax_cce_gradient_rows_sum_to_zero(case):
    """Each row of (y_hat - y)/N sums to 0, and the loss is non-negative."""
    z, labels = case
    combined = nnref.SoftmaxCategoricalCrossentropy()
    assert combined.forward(z, labels) >= 0
    grad = combined.backward(combined.output, labels)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 128, 1000, 60_001])
def test_calculate_mean_is_np_mean_to_the_bit(dtype, n):
    """Loss.calculate derives the mean from the batch sum; it must equal np.mean exactly (the book's numbers)."""
    rng = np.random.default_rng(n)
    probs = rng.random((n, 4)).astype(dtype) + dtype(0.05)
    probs /= probs.sum(axis=1, keepdims=True)
    y = rng.integers(0, 4, n)
    loss = nnref.CategoricalCrossentropy()
    mean = loss.calculate(probs, y)
    expected = np.mean(loss.forward(probs, y))
    assert mean.dtype == expected.dtype == dtype
    assert mean.tobytes() == expected.tobytes()
    assert loss.accumulated_sum == np.sum(loss.forward(probs, y))


def _loss_cases():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(3), size=6)
    labels = rng.integers(0, 3, size=6).astype(np.uint8)
    sig = rng.uniform(0.05, 0.95, size=(6, 2))
    bits = rng.integers(0, 2, size=(6, 2)).astype(np.uint8)
    reg = rng.standard_normal((6, 2))
    return [
        (nnref.CategoricalCrossentropy, probs, labels),
        (nnref.BinaryCrossentropy, sig, bits),
        (nnref.MeanSquaredError, reg, reg + 0.5),
        (nnref.MeanAbsoluteError, reg, reg - 0.5),
    ]


@pytest.mark.parametrize("make, pred, y", _loss_cases())
def test_backward_checks_arrays_its_forward_did_not_check(make, pred, y):
    """Only the very pair forward has just checked skips the second check, and only once."""
    loss, pred = make(), pred.copy()
    loss.forward(pred, y)
    expected = loss.backward(pred, y).copy()  # the pair forward checked: no second check
    bad = pred.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):  # another array: checked
        loss.backward(bad, y)
    loss.forward(pred, y)
    np.testing.assert_array_equal(loss.backward(pred, y), expected)
    pred[0, 0] = np.nan  # changed after its one trusted backward: the next backward checks it
    with pytest.raises(ValueError, match="NaN"):
        loss.backward(pred, y)


def test_combined_heads_reuse_the_check_of_their_loss_forward_once():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0], dtype=np.uint8)
    head = nnref.SoftmaxCategoricalCrossentropy()
    head.forward(logits, labels)
    first = head.backward(head.output, labels).copy()
    expected = head.output.copy()
    expected[np.arange(5), labels] -= 1
    np.testing.assert_allclose(first, expected / 5)
    head.output[1, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        head.backward(head.output, labels)
    with pytest.raises(ValueError, match="labels"):  # labels out of range are still refused
        head.forward(logits, labels + 3)
