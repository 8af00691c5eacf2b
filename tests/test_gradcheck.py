"""Every differentiable object against central finite differences (nnref.gradcheck), in float64.

Threshold: relative error ``||analytic - numeric|| / (||analytic|| + ||numeric||)``
below 1e-6 (``gradcheck.DEFAULT_RTOL``) with step h = 1e-5; a correct backward
lands near 1e-10, a wrong one near 1. Inputs are kept away from kinks (ReLU at
0, |w| at 0 for L1, MAE at y = y_hat) and from the clip zone of the losses.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnref
from nnref import gradcheck
from nnref.gradcheck import check_combined, check_layer, check_loss

RTOL = gradcheck.DEFAULT_RTOL
assert RTOL == 1e-6


def away_from_zero(rng: np.random.Generator, shape, margin: float = 0.1) -> np.ndarray:
    """Values with |x| >= margin and random sign, so no kink lies within h of them."""
    return rng.choice([-1.0, 1.0], size=shape) * (margin + rng.random(shape))


def probabilities(rng: np.random.Generator, shape) -> np.ndarray:
    """Entries in [0.1, 0.9]: inside the clip zone's complement."""
    return 0.1 + 0.8 * rng.random(shape)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ------------------------------------------------------------------------- layers
def test_dense(rng):
    """Dense: dinputs, dweights and dbiases match finite differences."""
    layer = nnref.Dense(4, 3, weight_scale=0.5, rng=1)
    result = check_layer(layer, rng.standard_normal((5, 4)))
    assert result.passed, str(result)
    assert set(result.errors) == {"dinputs", "dweights", "dbiases"}


@pytest.mark.parametrize("reg", ["weight_regularizer_l1", "weight_regularizer_l2",
                                 "bias_regularizer_l1", "bias_regularizer_l2"])
def test_dense_with_each_regularizer(rng, reg):
    """Dense with one L1/L2 penalty: backward adds exactly the penalty's gradient (params kept off 0 for L1)."""
    layer = nnref.Dense(4, 3, rng=1, **{reg: 0.3})
    layer.weights = away_from_zero(rng, (4, 3))
    layer.biases = away_from_zero(rng, (1, 3))
    result = check_layer(layer, rng.standard_normal((5, 4)))
    assert result.passed, str(result)


def test_dense_with_all_regularizers(rng):
    """Dense with all four penalties at once."""
    layer = nnref.Dense(3, 2, rng=1, weight_regularizer_l1=0.1, weight_regularizer_l2=0.2,
                        bias_regularizer_l1=0.3, bias_regularizer_l2=0.4)
    layer.weights = away_from_zero(rng, (3, 2))
    layer.biases = away_from_zero(rng, (1, 2))
    assert check_layer(layer, rng.standard_normal((6, 3))).passed


def test_dropout_with_fixed_mask(rng):
    """Dropout in training: with the mask fixed by reseeding before every forward, backward is exact."""
    layer = nnref.Dropout(0.4)

    def reseed():
        layer.rng = np.random.default_rng(7)

    result = check_layer(layer, rng.standard_normal((6, 5)), training=True, before_forward=reseed)
    assert result.passed, str(result)
    assert layer.binary_mask is not None and (layer.binary_mask == 0).any()


def test_dropout_inference_is_identity(rng):
    """Dropout outside training: the gradient is the identity."""
    assert check_layer(nnref.Dropout(0.4, rng=0), rng.standard_normal((4, 3)), training=False).passed


# ------------------------------------------------------------------------- activations
def test_relu_away_from_zero(rng):
    """ReLU with no input within 0.1 of the kink."""
    assert check_layer(nnref.ReLU(), away_from_zero(rng, (6, 4))).passed


@pytest.mark.parametrize("cls", [nnref.Softmax, nnref.Sigmoid, nnref.Linear])
def test_smooth_activations(rng, cls):
    """Softmax, Sigmoid and Linear match finite differences."""
    result = check_layer(cls(), 2 * rng.standard_normal((5, 4)))
    assert result.passed, str(result)


def test_softmax_loop_equals_vectorised(rng):
    """The book's per-sample Jacobian loop and the vectorised Softmax.backward agree to 1e-15."""
    sm = nnref.Softmax()
    sm.forward(rng.standard_normal((7, 5)))
    g = rng.standard_normal((7, 5))
    np.testing.assert_allclose(sm.backward(g), nnref.softmax_backward_loop(sm.output, g), rtol=0, atol=1e-15)


# ------------------------------------------------------------------------- losses
def test_cce_sparse_and_one_hot(rng):
    """Categorical cross-entropy: sparse and one-hot labels both pass, and give the same gradient."""
    y_pred = probabilities(rng, (6, 4))
    labels = rng.integers(0, 4, 6)
    sparse, onehot = nnref.CategoricalCrossentropy(), nnref.CategoricalCrossentropy()
    assert check_loss(sparse, y_pred, labels).passed
    assert check_loss(onehot, y_pred, np.eye(4)[labels]).passed
    np.testing.assert_array_equal(sparse.dinputs, onehot.dinputs)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_cce_combined(rng, one_hot):
    """Softmax + CCE combined: (y_hat - y)/N is the gradient of the mean loss w.r.t. the logits."""
    labels = rng.integers(0, 3, 8)
    y = np.eye(3)[labels] if one_hot else labels
    assert check_combined(nnref.SoftmaxCategoricalCrossentropy(), rng.standard_normal((8, 3)), y).passed


def test_cce_soft_targets(rng):
    """CCE with soft target rows: forward is -sum(y log y_hat), consistent with backward's -y/y_hat/N."""
    y = rng.random((6, 4))
    y /= y.sum(axis=1, keepdims=True)
    assert check_loss(nnref.CategoricalCrossentropy(), probabilities(rng, (6, 4)), y).passed


def test_softmax_cce_combined_soft_targets(rng):
    """Softmax + CCE with soft target rows (summing to 1): the gradient is (y_hat - y)/N, not an argmax of y."""
    y = rng.random((6, 3))
    y /= y.sum(axis=1, keepdims=True)
    assert check_combined(nnref.SoftmaxCategoricalCrossentropy(), rng.standard_normal((6, 3)), y).passed


def test_bce(rng):
    """Binary cross-entropy with 0/1 and with soft targets."""
    y_pred = probabilities(rng, (5, 3))
    assert check_loss(nnref.BinaryCrossentropy(), y_pred, rng.integers(0, 2, (5, 3))).passed
    assert check_loss(nnref.BinaryCrossentropy(), y_pred, rng.random((5, 3))).passed


def test_sigmoid_bce_combined(rng):
    """Sigmoid + BCE combined: (sigma(z) - y)/(N J)."""
    assert check_combined(nnref.SigmoidBinaryCrossentropy(), 2 * rng.standard_normal((6, 2)),
                          rng.integers(0, 2, (6, 2)).astype(float)).passed


def test_mse(rng):
    """Mean squared error."""
    assert check_loss(nnref.MeanSquaredError(), rng.standard_normal((5, 2)), rng.standard_normal((5, 2))).passed


def test_mae_away_from_kinks(rng):
    """Mean absolute error with every prediction at least 0.1 from its target."""
    y = rng.standard_normal((6, 2))
    assert check_loss(nnref.MeanAbsoluteError(), y + away_from_zero(rng, (6, 2)), y).passed


class _BookSignMAE(nnref.MeanAbsoluteError):
    """MAE with the book's backward, sign(y - y_hat) / J / N."""

    def backward(self, dvalues, y_true):
        dvalues, y_true = np.asarray(dvalues, float), np.asarray(y_true, float)
        self.dinputs = np.sign(y_true - dvalues) / dvalues.shape[1] / dvalues.shape[0]
        return self.dinputs


def test_book_mae_sign_fails_and_ours_passes(rng):
    """Erratum: the book's MAE gradient has the wrong sign (relative error 1); ours passes."""
    y = rng.standard_normal((6, 2))
    y_pred = y + away_from_zero(rng, (6, 2))
    book = check_loss(_BookSignMAE(), y_pred, y)
    ours = check_loss(nnref.MeanAbsoluteError(), y_pred, y)
    assert not book.passed and book.max_error == pytest.approx(1.0)
    assert ours.passed and ours.max_error < 1e-9


# ------------------------------------------------------------------------- robustness
def test_cce_backward_finite_on_zero_prediction():
    """CCE backward stays finite when the true class got probability exactly 0 (the book gives inf)."""
    cce = nnref.CategoricalCrossentropy()
    with np.errstate(all="raise"):
        grad = cce.backward(np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]), np.array([0, 2]))
    assert np.isfinite(grad).all()
    assert grad[0, 0] == pytest.approx(-1 / 1e-7 / 2)


@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
def test_combined_softmax_cce_finite_for_huge_logits(rng, scale):
    """Softmax + CCE forward and backward stay finite for logits up to ±1e4."""
    combined = nnref.SoftmaxCategoricalCrossentropy()
    logits = scale * rng.choice([-1.0, 1.0], size=(6, 3))
    labels = rng.integers(0, 3, 6)
    # overflow, 0/0 or log(0) would raise; underflow of exp to 0 is the expected, harmless limit
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = combined.forward(logits, labels)
        grad = combined.backward(combined.output, labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert np.all(np.abs(grad) <= 1 / 6 + 1e-12)


def _backward_twice(obj, x, g, **fwd):
    obj.forward(x, **fwd)
    first = {k: np.array(getattr(obj, k), copy=True) for k in ("dinputs", "dweights", "dbiases")
             if obj.backward(g) is not None and getattr(obj, k, None) is not None}
    obj.backward(g)
    return first, {k: getattr(obj, k) for k in first}


@pytest.mark.parametrize("make", [
    lambda: nnref.Dense(4, 4, rng=0, weight_regularizer_l1=0.1, bias_regularizer_l2=0.1),
    nnref.ReLU, nnref.Softmax, nnref.Sigmoid, nnref.Linear, lambda: nnref.Dropout(0.5, rng=0),
], ids=["Dense", "ReLU", "Softmax", "Sigmoid", "Linear", "Dropout"])
def test_backward_twice_overwrites(rng, make):
    """Calling backward twice with the same dvalues gives the same gradients: they are overwritten, not accumulated."""
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    first, second = _backward_twice(make(), x, g)
    assert first
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("make, y", [
    (nnref.CategoricalCrossentropy, np.array([0, 1, 2, 1])),
    (nnref.SoftmaxCategoricalCrossentropy, np.array([0, 1, 2, 1])),
    (nnref.BinaryCrossentropy, np.eye(3)[[0, 1, 2, 1]]),
    (nnref.MeanSquaredError, np.ones((4, 3))),
    (nnref.MeanAbsoluteError, np.ones((4, 3))),
])
def test_loss_backward_twice_overwrites(rng, make, y):
    """Loss backward twice gives the same dinputs, and does not modify its dvalues argument."""
    loss = make()
    y_pred = probabilities(rng, (4, 3))
    kept = y_pred.copy()
    first = np.array(loss.backward(y_pred, y), copy=True)
    np.testing.assert_array_equal(loss.backward(y_pred, y), first)
    np.testing.assert_array_equal(y_pred, kept)


# ------------------------------------------------------------------------- the checker itself
class _WrongReLU(nnref.ReLU):
    """A ReLU whose backward forgets the mask."""

    def backward(self, dvalues):
        self.dinputs = np.array(dvalues, copy=True)
        return self.dinputs


def test_checker_catches_a_wrong_backward(rng):
    """A backward that ignores ReLU's mask fails the check with a large relative error."""
    result = check_layer(_WrongReLU(), away_from_zero(rng, (6, 4)))
    assert not result.passed and result.max_error > 0.1
    assert str(result).startswith("FAIL")


def test_checker_catches_a_wrong_weight_gradient(rng):
    """A Dense whose dweights is off by a factor 2 fails on dweights only."""

    class HalfDense(nnref.Dense):
        def backward(self, dvalues):
            out = super().backward(dvalues)
            self.dweights = self.dweights * 2
            return out

    result = check_layer(HalfDense(3, 2, rng=0), rng.standard_normal((4, 3)))
    assert result.errors["dweights"] > 0.1
    assert result.errors["dinputs"] < RTOL and result.errors["dbiases"] < RTOL


def test_numerical_gradient_of_a_known_function():
    """Central differences of sum(x^3) give 3x^2 to O(h^2), and x is restored."""
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    kept = x.copy()
    grad = gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    # truncation error h^2 = 1e-10 (exact for a cubic) plus round-off ~ eps * |f| / h
    np.testing.assert_allclose(grad, 3 * kept**2, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(x, kept)


def test_numerical_gradient_requires_float64():
    """float32 arrays are refused: their round-off would swamp the comparison."""
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_relative_error_properties():
    """relative_error is 0 for equal arrays, 1 for opposite ones, and rejects shape mismatches."""
    a = np.array([1.0, -2.0, 3.0])
    assert gradcheck.relative_error(a, a) == 0.0
    assert gradcheck.relative_error(a, -a) == pytest.approx(1.0)
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        gradcheck.relative_error(a, a[:2])


def test_empty_result_does_not_pass():
    """A result with nothing checked is not a pass."""
    assert not gradcheck.GradCheckResult().passed


def test_check_layer_rejects_wrong_dvalues_shape(rng):
    """check_layer names the expected dvalues shape."""
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        check_layer(nnref.Dense(3, 2, rng=0), rng.standard_normal((4, 3)), dvalues=np.ones((4, 3)))


@pytest.mark.parametrize("bad_dvalues", [False, True])
def test_check_layer_leaves_the_layer_parameters_untouched(rng, bad_dvalues):
    """A float32 layer keeps its own weights and biases (same arrays, dtype float32, same values) after a check, even one that raises."""
    layer = nnref.Dense(4, 3, weight_scale=0.5, rng=1, dtype=np.float32, weight_regularizer_l2=1e-3)
    weights, biases = layer.weights, layer.biases
    saved_w, saved_b = weights.copy(), biases.copy()
    x = rng.standard_normal((5, 4))
    if bad_dvalues:
        with pytest.raises(ValueError):
            check_layer(layer, x, dvalues=np.ones((5, 4)))
    else:
        assert check_layer(layer, x).passed
    assert layer.weights is weights and layer.biases is biases
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
    np.testing.assert_array_equal(layer.weights, saved_w)
    np.testing.assert_array_equal(layer.biases, saved_b)
    # the layer still computes in float32 afterwards
    assert layer.forward(x.astype(np.float32)).dtype == np.float32
