"""Property tests (hypothesis) over every layer, activation, loss and a small Model.

Inputs are ``hypothesis.extra.numpy`` arrays of bounded, finite floats with
1..8 rows and 1..6 columns; the bounds themselves (±1e4 for logits) are drawn
on purpose, often. Properties pinned here:

* Softmax: rows sum to 1, outputs in [0, 1], unchanged by adding a constant to
  a row (float64 and float32);
* softmax + cross-entropy and sigmoid + binary cross-entropy (the combined
  objects): loss and gradient finite and bounded for logits up to ±1e4, in
  float64 and float32, with no floating-point warning;
* every loss is finite and non-negative, and zero (or, where predictions are
  clipped before a log, at most the clip floor $-\\log(1 - 10^{-7})$) for
  perfect predictions;
* every layer and loss: ``backward`` returns the shape of the forward input,
  leaves ``dvalues`` alone, and a second call with the same ``dvalues`` gives
  the same gradients (overwrite, not accumulate), Dense's ``dweights`` and
  ``dbiases`` with all four regularizers on included; the same for a Model;
* Dropout: the identity in inference; in training each value is 0 or $x/q$
  and the sum is kept in expectation (bound stated in the test);
* Input hands its inputs on untouched;
* Model.predict is deterministic, ignores dropout and does not depend on
  ``batch_size``.

All tests use the ``nnref-properties`` settings profile: 60 examples each,
derandomized (the same examples on every run and machine), no example
database, no deadline. Counting each parametrized case as its own test, there
are 41 property tests, so one run tries 41 × 60 = 2460 cases;
``test_case_count`` checks both numbers against the module and against the
examples each test actually completed.
"""
from __future__ import annotations

import collections
import functools
import math
import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nnref
from nnref.losses import CLIP

settings.register_profile(
    "nnref-properties",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    # Timing-based health checks fire at random on a loaded CI runner; the
    # run time is bounded by max_examples instead.
    suppress_health_check=[HealthCheck.too_slow],
)
# Applied per test (not settings.load_profile) so the other modules keep their own settings.
PROFILE = settings.get_profile("nnref-properties")

#: Completed examples per test id (pytest node id), checked by test_case_count.
CASES: collections.Counter = collections.Counter()

ROWS = st.integers(1, 8)
COLS = st.integers(1, 6)
FLOATS = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]


def counted(fn):
    """Count the examples a test completes, under the running test's node id.

    Counted after the body returns: hypothesis also starts examples that it
    abandons part-way (a draw that runs out of its data budget), and those are
    not cases tried.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        CASES[os.environ.get("PYTEST_CURRENT_TEST", fn.__name__).rsplit(" ", 1)[0]] += 1
        return result

    return wrapper


def floats(bound: float, dtype=np.float64, *, low: float | None = None):
    """Finite floats in [low, bound] (low defaults to -bound), the two ends drawn often."""
    low = -bound if low is None else low
    width = 32 if np.dtype(dtype) == np.float32 else 64
    inside = st.floats(low, bound, allow_nan=False, allow_infinity=False, width=width)
    return st.one_of(st.sampled_from([low, bound]), inside)


def matrices(dtype=np.float64, bound: float = 1e3, *, n_rows=ROWS, n_cols=COLS, low: float | None = None):
    """(n, k) arrays with 1..8 rows and 1..6 columns of bounded finite floats."""
    shapes = st.tuples(n_rows, n_cols)
    return shapes.flatmap(lambda s: arrays(dtype, s, elements=floats(bound, dtype, low=low)))


def labels_for(draw, n: int, k: int):
    return draw(arrays(np.intp, n, elements=st.integers(0, k - 1)))


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


# ----------------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("dtype", FLOATS, ids=DTYPE_IDS)
@PROFILE
@given(data=st.data())
@counted
def test_softmax_rows_sum_to_one_and_are_shift_invariant(dtype, data):
    """Softmax rows are distributions, and adding any constant to a row leaves them unchanged."""
    # |z| and |c| up to B, so z + c is computed with an absolute error of at most ulp(2B)
    bound = 1e3 if dtype == np.float64 else 1e2
    x = data.draw(matrices(dtype, bound), label="x")
    shift = data.draw(arrays(dtype, (x.shape[0], 1), elements=floats(bound, dtype)), label="shift")
    out = nnref.Softmax().forward(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert np.all((out >= 0) & (out <= 1))
    # A sum of k values in [0, 1] carries at most ~k rounding errors of one ulp of 1.
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=4 * x.shape[1] * eps(dtype))
    shifted = nnref.Softmax().forward(x + shift)
    # exp turns an absolute error d in (z - max z) into a relative error d; d <= a few ulp(2B).
    np.testing.assert_allclose(shifted, out, rtol=64 * eps(dtype) * bound, atol=4 * eps(dtype))


# ------------------------------------------------------------ combined output + loss objects


@pytest.mark.parametrize("dtype", FLOATS, ids=DTYPE_IDS)
@pytest.mark.parametrize("targets", ["sparse", "one-hot"])
@PROFILE
@given(data=st.data())
@counted
def test_softmax_cross_entropy_finite_for_huge_logits(dtype, targets, data):
    """Softmax + CCE: loss in [0, -log 1e-7] and gradient (y_hat - y)/N finite, bounded, rows summing to 0, for |z| <= 1e4."""
    z = data.draw(matrices(dtype, 1e4), label="logits")
    n, k = z.shape
    labels = labels_for(data.draw, n, k)
    y = labels if targets == "sparse" else np.eye(k, dtype=dtype)[labels]
    combined = nnref.SoftmaxCategoricalCrossentropy()
    with warnings.catch_warnings():
        # numpy's overflow / invalid / divide-by-zero warnings become errors
        warnings.simplefilter("error", RuntimeWarning)
        loss = combined.forward(z, y)
        grad = combined.backward(combined.output, y)
        # The chained path the book first writes (CCE backward, then Softmax backward) stays finite too.
        softmax = nnref.Softmax()
        softmax.forward(z)
        chained = softmax.backward(nnref.CategoricalCrossentropy().backward(softmax.output, y))
    assert np.isfinite(loss) and 0 <= loss <= -math.log(CLIP) * (1 + 1e-6)
    assert grad.shape == z.shape and grad.dtype == dtype and np.isfinite(grad).all()
    # |y_hat - y| <= 1 elementwise, divided by N
    assert np.all(np.abs(grad) <= (1 + 4 * eps(dtype)) / n)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=4 * k * eps(dtype) / n)
    assert chained.shape == z.shape and np.isfinite(chained).all()


@pytest.mark.parametrize("dtype", FLOATS, ids=DTYPE_IDS)
@PROFILE
@given(data=st.data())
@counted
def test_sigmoid_binary_cross_entropy_finite_for_huge_logits(dtype, data):
    """Sigmoid + BCE: loss in [0, -log 1e-7] and gradient (sigma - y)/(NJ) finite and bounded, for |z| <= 1e4."""
    z = data.draw(matrices(dtype, 1e4), label="logits")
    n, j = z.shape
    # hard 0/1 targets and soft targets in [0, 1]
    y = data.draw(arrays(dtype, z.shape, elements=floats(1.0, dtype, low=0.0)), label="targets")
    combined = nnref.SigmoidBinaryCrossentropy()
    with warnings.catch_warnings():
        # numpy's overflow / invalid / divide-by-zero warnings become errors
        warnings.simplefilter("error", RuntimeWarning)
        loss = combined.forward(z, y)
        grad = combined.backward(combined.output, y)
    assert np.isfinite(loss) and 0 <= loss <= -math.log(CLIP) * (1 + 1e-6)
    assert grad.shape == z.shape and np.isfinite(grad).all()
    assert np.all(np.abs(grad) <= (1 + 4 * eps(dtype)) / (n * j))


# ------------------------------------------------------------------------------ every loss

LOSSES = ["cce-sparse", "cce-one-hot", "softmax-cce-sparse", "softmax-cce-one-hot",
          "bce", "sigmoid-bce", "mse", "mae"]
COMBINED = {"softmax-cce-sparse", "softmax-cce-one-hot", "sigmoid-bce"}


def loss_case(draw, name: str, dtype):
    """(loss object, what forward takes as predictions, targets) for one loss."""
    n, k = draw(ROWS), draw(COLS)
    if "cce" in name:
        labels = labels_for(draw, n, k)
        y = labels if name.endswith("sparse") else np.eye(k, dtype=dtype)[labels]
    if name.startswith("cce"):
        # any values in [0, 1], exact 0 and 1 included (clipped before the log)
        return nnref.CategoricalCrossentropy(), draw(arrays(dtype, (n, k), elements=floats(1.0, dtype, low=0.0))), y
    if name.startswith("softmax-cce"):
        return nnref.SoftmaxCategoricalCrossentropy(), draw(arrays(dtype, (n, k), elements=floats(1e4, dtype))), y
    y = draw(arrays(dtype, (n, k), elements=floats(1.0, dtype, low=0.0)))
    if name == "bce":
        return nnref.BinaryCrossentropy(), draw(arrays(dtype, (n, k), elements=floats(1.0, dtype, low=0.0))), y
    if name == "sigmoid-bce":
        return nnref.SigmoidBinaryCrossentropy(), draw(arrays(dtype, (n, k), elements=floats(1e4, dtype))), y
    cls = nnref.MeanSquaredError if name == "mse" else nnref.MeanAbsoluteError
    y = draw(arrays(dtype, (n, k), elements=floats(1e3, dtype)))
    return cls(), draw(arrays(dtype, (n, k), elements=floats(1e3, dtype))), y


@pytest.mark.parametrize("name", LOSSES)
@PROFILE
@given(data=st.data())
@counted
def test_loss_non_negative_and_backward_overwrites(name, data):
    """Per-sample losses are finite and >= 0; backward has the predictions' shape, keeps dvalues, and repeats exactly."""
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    loss_obj, y_pred, y = loss_case(data.draw, name, dtype)
    if name in COMBINED:
        mean = loss_obj.forward(y_pred, y)
        dvalues = loss_obj.output  # the Model hands the combined backward the activation's output
        per_sample = loss_obj.loss.forward(dvalues, y)
        np.testing.assert_allclose(mean, per_sample.mean(), rtol=4 * eps(dtype))
    else:
        dvalues = y_pred
        per_sample = loss_obj.forward(y_pred, y)
    assert per_sample.shape == (y_pred.shape[0],)
    assert np.isfinite(per_sample).all() and np.all(per_sample >= 0)
    kept, y_kept = dvalues.copy(), np.array(y, copy=True)
    first = np.array(loss_obj.backward(dvalues, y), copy=True)
    second = loss_obj.backward(dvalues, y)
    assert first.shape == y_pred.shape and np.isfinite(first).all()
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(dvalues, kept)
    np.testing.assert_array_equal(y, y_kept)


@pytest.mark.parametrize("name", LOSSES)
@PROFILE
@given(data=st.data())
@counted
def test_loss_zero_for_perfect_predictions(name, data):
    """Perfect predictions give loss 0 (MSE, MAE, with zero gradient) or at most the clip floor -log(1 - 1e-7) (cross-entropies)."""
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    loss_obj, y_pred, y = loss_case(data.draw, name, dtype)
    if "cce" in name:
        labels = y if y.ndim == 1 else y.argmax(axis=1)
        perfect = np.eye(y_pred.shape[1], dtype=dtype)[labels]
        if name.startswith("softmax"):
            # logits of +1e4 on the true class and -1e4 elsewhere: softmax gives exactly one-hot rows
            perfect = np.where(perfect == 1, dtype(1e4), dtype(-1e4))
    elif name in ("bce", "sigmoid-bce"):
        y = np.round(y)  # perfect predictions exist for hard targets only
        perfect = y.copy() if name == "bce" else np.where(y == 1, dtype(1e4), dtype(-1e4))
    else:
        perfect = y.copy()
    if name in COMBINED:
        value = loss_obj.forward(perfect, y)
    else:
        value = float(np.max(loss_obj.forward(perfect, y)))
    if name in ("mse", "mae"):
        assert value == 0
        assert not np.any(loss_obj.backward(perfect, y))
    else:
        # -log(1 - CLIP) ~= 1.0e-7: what clipping the prediction 1 to 1 - 1e-7 leaves
        assert 0 <= value <= -math.log1p(-CLIP) * 1.5


# ----------------------------------------------------------------------------- every layer

LAYERS = ["dense", "dense-regularized", "relu", "softmax", "sigmoid", "linear", "dropout-training",
          "dropout-inference"]


def make_layer(draw, name: str, n_inputs: int):
    """A layer and the ``training`` flag to run it with."""
    if name.startswith("dense"):
        regs = {}
        if name == "dense-regularized":
            keys = ("weight_regularizer_l1", "weight_regularizer_l2", "bias_regularizer_l1", "bias_regularizer_l2")
            regs = {key: draw(st.floats(1e-4, 1.0), label=key) for key in keys}
        layer = nnref.Dense(n_inputs, draw(COLS, label="n_neurons"), weight_scale=draw(st.floats(0.01, 2.0)),
                            rng=draw(st.integers(0, 2**32 - 1), label="seed"), **regs)
        if regs:
            # non-zero biases so the bias penalties act (0 included: L1 takes sign +1 there)
            layer.biases = np.linspace(-1.0, 1.0, layer.n_neurons).reshape(1, -1)
        return layer, False
    if name.startswith("dropout"):
        rate = draw(st.floats(0.0, 0.9), label="rate")
        return nnref.Dropout(rate, rng=draw(st.integers(0, 2**32 - 1), label="seed")), name == "dropout-training"
    return {"relu": nnref.ReLU, "softmax": nnref.Softmax, "sigmoid": nnref.Sigmoid,
            "linear": nnref.Linear}[name](), False


@pytest.mark.parametrize("name", LAYERS)
@PROFILE
@given(data=st.data())
@counted
def test_layer_backward_shape_and_overwrite(name, data):
    """backward returns the input's shape, keeps dvalues, and a second call gives the same dinputs (and dweights, dbiases)."""
    x = data.draw(matrices(np.float64, 1e3), label="x")
    layer, training = make_layer(data.draw, name, x.shape[1])
    out = layer.forward(x, training=training)
    assert out.shape[0] == x.shape[0] and np.isfinite(out).all()
    dvalues = data.draw(arrays(np.float64, out.shape, elements=floats(1e3)), label="dvalues")
    kept = dvalues.copy()
    first = np.array(layer.backward(dvalues), copy=True)
    grads = [np.array(getattr(layer, g), copy=True) for g in ("dweights", "dbiases") if hasattr(layer, g)]
    second = layer.backward(dvalues)
    assert first.shape == x.shape and np.isfinite(first).all()
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(dvalues, kept)
    if name.startswith("dense"):
        assert grads[0].shape == layer.weights.shape and grads[1].shape == layer.biases.shape
        np.testing.assert_array_equal(layer.dweights, grads[0])
        np.testing.assert_array_equal(layer.dbiases, grads[1])


@PROFILE
@given(x=matrices(np.float64, 1e3))
@counted
def test_input_hands_inputs_on(x):
    """Input.forward returns the very array it was given, in training and inference."""
    kept = x.copy()
    layer = nnref.Input()
    assert layer.forward(x) is x and layer.forward(x, training=True) is x and layer.output is x
    np.testing.assert_array_equal(x, kept)


# --------------------------------------------------------------------------------- dropout


@PROFILE
@given(x=matrices(np.float64, 1e3), rate=st.floats(0.0, 0.9), seed=st.integers(0, 2**32 - 1))
@counted
def test_dropout_inference_is_identity(x, rate, seed):
    """Dropout with training=False (or rate 0) passes values and gradients through unchanged."""
    layer = nnref.Dropout(rate, rng=seed)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    np.testing.assert_array_equal(layer.backward(x[::-1] * 0.5), x[::-1] * 0.5)
    np.testing.assert_array_equal(nnref.Dropout(0.0, rng=seed).forward(x, training=True), x)


#: Independent masks drawn per example for the expectation check.
DROPOUT_REPEATS = 2000
#: Allowed distance, in standard deviations, between the mean sum and its expectation.
DROPOUT_SIGMAS = 5.0


@PROFILE
@given(x=matrices(np.float64, 1e3), rate=st.floats(0.05, 0.9), seed=st.integers(0, 2**32 - 1))
@counted
def test_dropout_training_keeps_the_expected_sum(x, rate, seed):
    """Training dropout outputs 0 or x/q, and the mean sum over 2000 masks is within 5 sigma of sum(x)."""
    # With keep probability q each output is x m / q, m ~ Bernoulli(q), so one masked
    # sum has mean sum(x) and variance sum(x^2) (1 - q) / q. The mean over R = 2000
    # independent masks has sigma = sqrt(sum(x^2) (1 - q) / (q R)) and must land within
    # 5 sigma (the kept fraction within 5 sqrt(q (1 - q) / (R n)) of q). For a correct
    # layer each bound fails with probability ~6e-7 (normal approximation), ~4e-5 over
    # the 60 examples; seeds are fixed and the examples derandomized, so every run
    # gives the same outcome.
    layer = nnref.Dropout(rate, rng=seed)
    q = 1.0 - rate
    repeated = np.broadcast_to(x, (DROPOUT_REPEATS, *x.shape))
    out = layer.forward(repeated, training=True)
    kept = layer.binary_mask != 0
    # each output is either dropped or scaled by exactly 1/q
    assert not np.any(out[~kept])
    np.testing.assert_allclose(out[kept], np.broadcast_to(x / q, out.shape)[kept], rtol=4 * eps(np.float64))
    sums = out.reshape(DROPOUT_REPEATS, -1).sum(axis=1)
    sigma = math.sqrt(float(np.sum(x * x)) * (1 - q) / (q * DROPOUT_REPEATS))
    slack = 1e-9 * float(np.sum(np.abs(x))) / q  # rounding in the sums themselves
    assert abs(sums.mean() - x.sum()) <= DROPOUT_SIGMAS * sigma + slack
    fraction_sigma = math.sqrt(q * (1 - q) / kept.size)
    assert abs(kept.mean() - q) <= DROPOUT_SIGMAS * fraction_sigma


# ----------------------------------------------------------------------------------- model

HEADS = {
    "softmax": (nnref.Softmax, nnref.CategoricalCrossentropy),
    "sigmoid": (nnref.Sigmoid, nnref.BinaryCrossentropy),
    "linear": (nnref.Linear, nnref.MeanSquaredError),
}


def small_model(n_features: int, hidden: int, n_outputs: int, head: str, seed: int, *, regularized: bool = False):
    """Dense → ReLU → Dropout → Dense → head, finalized with the head's loss."""
    activation, loss = HEADS[head]
    regs = dict(weight_regularizer_l1=1e-3, weight_regularizer_l2=1e-2, bias_regularizer_l1=1e-3,
                bias_regularizer_l2=1e-2) if regularized else {}
    model = nnref.Model(log=None)
    model.add(nnref.Dense(n_features, hidden, weight_scale=0.5, rng=seed, **regs))
    model.add(nnref.ReLU())
    model.add(nnref.Dropout(0.3, rng=seed + 1))
    model.add(nnref.Dense(hidden, n_outputs, weight_scale=0.5, rng=seed + 2, **regs))
    model.add(activation())
    model.set(loss=loss(), optimizer=nnref.SGD(), accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    return model


@pytest.mark.parametrize("head", list(HEADS))
@PROFILE
@given(x=matrices(np.float64, 10.0), hidden=st.integers(1, 6), n_outputs=st.integers(1, 6),
       seed=st.integers(0, 2**31), batch_size=st.integers(1, 8))
@counted
def test_model_predict_deterministic_and_batch_independent(head, x, hidden, n_outputs, seed, batch_size):
    """Model.predict gives the same outputs twice, equals forward(training=False), and does not depend on batch_size."""
    model = small_model(x.shape[1], hidden, n_outputs, head, seed)
    full = model.predict(x)
    assert full.shape == (x.shape[0], n_outputs) and np.isfinite(full).all()
    np.testing.assert_array_equal(model.predict(x), full)
    np.testing.assert_array_equal(model.forward(x, training=False), full)
    if head == "softmax":
        np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=4 * n_outputs * eps(np.float64))
    # Slices may reach BLAS through other kernels (a 1-row product is a gemv), whose summation
    # order can differ in the last bits: in 3,000 random cases about 1 in 9 were not
    # bit-identical, never by more than 4e-15. So: equal up to a few ulps of the output scale.
    batched = model.predict(x, batch_size=batch_size)
    scale = max(1.0, float(np.max(np.abs(full))))
    np.testing.assert_allclose(batched, full, rtol=1e-13, atol=1e-13 * scale)


@pytest.mark.parametrize("head", list(HEADS))
@PROFILE
@given(x=matrices(np.float64, 10.0), hidden=st.integers(1, 6), n_outputs=st.integers(1, 6),
       seed=st.integers(0, 2**31), data=st.data())
@counted
def test_model_backward_overwrites(head, x, hidden, n_outputs, seed, data):
    """Model.backward twice on one training forward gives the same dweights and dbiases (regularizers on)."""
    model = small_model(x.shape[1], hidden, n_outputs, head, seed, regularized=True)
    n = x.shape[0]
    if head == "softmax":
        y = labels_for(data.draw, n, n_outputs)
    elif head == "sigmoid":
        y = data.draw(arrays(np.float64, (n, n_outputs), elements=st.sampled_from([0.0, 1.0])), label="y")
    else:
        y = data.draw(arrays(np.float64, (n, n_outputs), elements=floats(10.0)), label="y")
    output = model.forward(x, training=True)
    model.backward(output, y)
    first = [(np.array(layer.dweights, copy=True), np.array(layer.dbiases, copy=True))
             for layer in model.trainable_layers]
    model.backward(output, y)
    for layer, (dw, db) in zip(model.trainable_layers, first):
        assert dw.shape == layer.weights.shape and np.isfinite(dw).all()
        np.testing.assert_array_equal(layer.dweights, dw)
        np.testing.assert_array_equal(layer.dbiases, db)


# ------------------------------------------------------------------------------- bookkeeping


def _property_tests() -> dict[str, int]:
    """Every hypothesis test in this module and its number of parametrized cases."""
    found = {}
    for name, obj in sorted(globals().items()):
        if name.startswith("test_") and hasattr(obj, "hypothesis"):
            cases = 1
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "parametrize":
                    cases *= len(mark.args[1])
            found[name] = cases
    return found


def test_case_count(request):
    """The docstring's case count is what the settings and the module give, and each test completed that many examples."""
    per_test = PROFILE.max_examples
    n_tests = sum(_property_tests().values())
    stated = re.search(r"there\s+are (\d+) property tests, so one run tries (\d+) × (\d+) = (\d+) cases", __doc__)
    assert stated, "the module docstring must state the case count"
    assert tuple(int(g) for g in stated.groups()) == (n_tests, n_tests, per_test, n_tests * per_test)
    # Each test that ran in this session completed exactly max_examples examples (no shrinking: nothing failed).
    if request.session.testsfailed:
        pytest.skip("a property failed; its shrinking adds calls")
    if not CASES:
        pytest.skip("no property test ran in this session")
    assert set(CASES.values()) == {per_test}, dict(CASES)
    selected = [item for item in request.session.items
                if item.module is request.module and item.originalname in _property_tests()]
    if len(selected) == n_tests:
        assert sum(CASES.values()) == n_tests * per_test
