"""Dense, Dropout and Input: initialisation, forward/backward values, parameters and penalties."""
from __future__ import annotations

import numpy as np
import pytest

import nnref

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [0.0, -2.0, 1.0], [4.0, 1.0, -3.0]])


def test_dense_shapes_and_initial_values():
    """Weights (n_in, n_out) from weight_scale * N(0, 1), biases zeros (1, n_out)."""
    layer = nnref.Dense(3, 5, rng=np.random.default_rng(42))
    expected = 0.01 * np.random.default_rng(42).standard_normal((3, 5))
    np.testing.assert_array_equal(layer.weights, expected)
    np.testing.assert_array_equal(layer.biases, np.zeros((1, 5)))
    assert layer.trainable and repr(layer) == "Dense(3, 5)"


def test_dense_weight_scale():
    """weight_scale sets the standard deviation (0.1 for the chapter 17 regression net)."""
    layer = nnref.Dense(200, 200, weight_scale=0.1, rng=0)
    assert layer.weights.std() == pytest.approx(0.1, rel=0.02)


def test_dense_int_seed_is_reproducible_and_default_uses_global_rng():
    """An int seed gives the same weights twice; rng=None draws from np.random.randn."""
    np.testing.assert_array_equal(nnref.Dense(2, 3, rng=5).weights, nnref.Dense(2, 3, rng=5).weights)
    np.random.seed(3)
    drawn = nnref.Dense(2, 3).weights
    np.testing.assert_array_equal(drawn, 0.01 * np.random.RandomState(3).randn(2, 3))


def test_dense_dtype():
    """dtype casts the parameters."""
    layer = nnref.Dense(2, 3, rng=0, dtype=np.float32)
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32


def test_dense_forward_and_backward_values():
    """Z = XW + b; dW = X^T G, db = sum G, dX = G W^T."""
    layer = nnref.Dense(3, 2, rng=0)
    w, b = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]), np.array([[0.01, -0.02]])
    layer.set_parameters(w, b)
    np.testing.assert_allclose(layer.forward(X), X @ w + b)
    g = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(layer.backward(g), g @ w.T)
    np.testing.assert_allclose(layer.dweights, X.T @ g)
    np.testing.assert_allclose(layer.dbiases, g.sum(axis=0, keepdims=True))


def test_dense_integer_inputs_become_float():
    """Integer inputs are converted to float instead of truncating the gradients."""
    layer = nnref.Dense(2, 2, rng=0)
    out = layer.forward(np.array([[1, 2], [3, 4]]))
    assert out.dtype == np.float64 and layer.inputs.dtype == np.float64


def test_dense_regularization_loss_and_gradient():
    """Penalty λ1 Σ|w| + λ2 Σw² (+ biases), and its gradient λ1 sign(w) + 2 λ2 w added to dweights."""
    layer = nnref.Dense(3, 2, rng=0, weight_regularizer_l1=0.1, weight_regularizer_l2=0.2,
                        bias_regularizer_l1=0.3, bias_regularizer_l2=0.4)
    w, b = np.array([[0.5, -1.0], [2.0, 0.0], [-0.25, 1.5]]), np.array([[-2.0, 0.5]])
    layer.set_parameters(w, b)
    expected = 0.1 * np.abs(w).sum() + 0.2 * (w**2).sum() + 0.3 * np.abs(b).sum() + 0.4 * (b**2).sum()
    assert layer.regularization_loss() == pytest.approx(expected)
    layer.forward(X)
    g = np.ones((4, 2))
    layer.backward(g)
    sign_w = np.where(w < 0, -1.0, 1.0)  # +1 at w = 0, as the book takes it
    np.testing.assert_allclose(layer.dweights, X.T @ g + 0.1 * sign_w + 0.4 * w)
    np.testing.assert_allclose(layer.dbiases, g.sum(0, keepdims=True) + 0.3 * np.sign(b) + 0.8 * b)


def test_dense_no_regularization_is_zero():
    """Without penalties the regularization loss is exactly 0."""
    assert nnref.Dense(3, 2, rng=0).regularization_loss() == 0.0


def test_set_parameters_copies_and_get_parameters_returns_own_arrays():
    """set_parameters copies (no aliasing between layers); get_parameters returns the layer's arrays."""
    w, b = np.ones((3, 2)), np.zeros((1, 2))
    first, second = nnref.Dense(3, 2, rng=0), nnref.Dense(3, 2, rng=1)
    first.set_parameters(w, b)
    second.set_parameters(w, b)
    first.weights += 1
    assert np.all(second.weights == 1) and np.all(w == 1)
    gw, gb = first.get_parameters()
    assert gw is first.weights and gb is first.biases


def test_dropout_rate_means_drop_fraction():
    """rate is the fraction dropped; keep_prob = 1 - rate; kept values are scaled by 1/keep_prob."""
    layer = nnref.Dropout(0.25, rng=0)
    assert layer.keep_prob == 0.75
    out = layer.forward(np.ones((400, 50)), training=True)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    assert out.mean() == pytest.approx(1.0, abs=0.02)


def test_dropout_backward_uses_the_same_mask():
    """backward multiplies by the forward's scaled mask."""
    layer = nnref.Dropout(0.5, rng=3)
    x = np.arange(1.0, 13.0).reshape(3, 4)
    out = layer.forward(x, training=True)
    g = np.full((3, 4), 2.0)
    np.testing.assert_array_equal(layer.backward(g), g * layer.binary_mask)
    np.testing.assert_array_equal(out, x * layer.binary_mask)


def test_dropout_inference_and_rate_zero_are_identity():
    """training=False, or rate 0, passes values and gradients through."""
    x = np.arange(6.0).reshape(2, 3)
    for layer, training in ((nnref.Dropout(0.5, rng=0), False), (nnref.Dropout(0.0, rng=0), True)):
        np.testing.assert_array_equal(layer.forward(x, training=training), x)
        g = np.ones((2, 3))
        np.testing.assert_array_equal(layer.backward(g), g)


def test_dropout_default_training_flag_is_true():
    """Chapter 15 calls forward(inputs) while training, so training defaults to True."""
    out = nnref.Dropout(0.5, rng=0).forward(np.ones((50, 50)))
    assert (out == 0).any()


def test_dropout_global_rng_when_none():
    """rng=None draws the mask with np.random.binomial (the book's source, seedable)."""
    np.random.seed(0)
    a = nnref.Dropout(0.5).forward(np.ones((5, 5)))
    np.random.seed(0)
    b = nnref.Dropout(0.5).forward(np.ones((5, 5)))
    np.testing.assert_array_equal(a, b)


def test_dropout_keeps_float32():
    """A float32 batch stays float32 through dropout."""
    out = nnref.Dropout(0.3, rng=0).forward(np.ones((4, 4), dtype=np.float32))
    assert out.dtype == np.float32


def test_input_layer_passes_data_through():
    """Input.forward stores the data as output unchanged."""
    layer = nnref.Input()
    assert layer.forward(X, training=True) is X and layer.output is X
    assert not layer.trainable
