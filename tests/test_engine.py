"""The fast path (nnref.engine) against the teaching classes, never against itself.

Every test here trains the same network twice: once through ``Model.train``
(which runs :mod:`nnref.engine` when numpy is not patched) and once through a
plain loop written in this file that calls only the teaching classes'
``forward``, ``backward`` and ``update_params``, as chapters 9-10 do. The
engine's kernels are separate code (in-place products, one parameter block,
folded Adam), so agreement is evidence.

Tolerances:

* SGD (with and without momentum), Adagrad and RMSprop: **bit-identical**
  weights, biases and optimizer memory (``assert_array_equal``), because each
  kernel does the teaching class's operations in the same order and dtype;
* Adam: the engine folds the bias corrections into the step size and epsilon
  (see the Performance page), which changes rounding by a few units in the last
  place per step; after the steps below the weights agree to ``rtol`` 1e-4 in
  float32 and 1e-10 in float64 (chaotic growth of those ulps bounds how far this
  can be tightened), and the single step is held tighter in
  :func:`test_folded_adam_step_agrees_with_the_textbook_step`.

No test here is timed; speed is measured by ``bench/run.py``.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnref
from nnref import engine
from nnref.data import spiral_data
from nnref.model import Model

from bench.bookstyle import BookMLP

OPTIMIZERS = {
    "SGD": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2),
    "SGD+momentum": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2, momentum=0.9),
    "Adagrad": lambda: nnref.Adagrad(learning_rate=0.5, decay=1e-3),
    "RMSprop": lambda: nnref.RMSprop(learning_rate=0.01, decay=1e-3, rho=0.99),
    "Adam": lambda: nnref.Adam(learning_rate=0.01, decay=1e-3),
}

#: output head → (last activation, loss, accuracy, kind of targets)
HEADS = {
    "softmax+CCE labels": (nnref.Softmax, nnref.CategoricalCrossentropy, nnref.CategoricalAccuracy, "labels"),
    "softmax+CCE one-hot": (nnref.Softmax, nnref.CategoricalCrossentropy, nnref.CategoricalAccuracy, "onehot"),
    "sigmoid+BCE": (nnref.Sigmoid, nnref.BinaryCrossentropy, lambda: nnref.CategoricalAccuracy(binary=True),
                    "binary"),
    "linear+MSE": (nnref.Linear, nnref.MeanSquaredError, nnref.RegressionAccuracy, "values"),
    "linear+MAE": (nnref.Linear, nnref.MeanAbsoluteError, nnref.RegressionAccuracy, "values"),
}

ADAM_RTOL = {np.float32: 1e-4, np.float64: 1e-10}
SIZES = (5, 12, 8, 3)
EPOCHS, BATCH = 3, 16


def _data(kind, dtype, n=56, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, SIZES[0])).astype(dtype)
    scores = X @ rng.standard_normal((SIZES[0], SIZES[-1]))
    if kind == "labels":
        return X, np.argmax(scores, axis=1)
    if kind == "onehot":
        return X, np.eye(SIZES[-1], dtype=dtype)[np.argmax(scores, axis=1)]
    if kind == "binary":
        return X, (scores > 0).astype(dtype)
    return X, np.tanh(scores).astype(dtype)


def _layers(head, dtype):
    """The same network for both sides: regularized Dense layers, ReLU, dropout with its own stream."""
    activation = HEADS[head][0]
    return [
        nnref.Dense(SIZES[0], SIZES[1], rng=1, dtype=dtype, weight_regularizer_l2=1e-3, bias_regularizer_l1=1e-4),
        nnref.ReLU(),
        nnref.Dropout(0.2, rng=7),
        nnref.Dense(SIZES[1], SIZES[2], rng=2, dtype=dtype, weight_regularizer_l1=1e-4),
        nnref.ReLU(),
        nnref.Dense(SIZES[2], SIZES[3], rng=3, dtype=dtype, weight_scale=0.1),
        activation(),
    ]


def _through_model(head, opt_name, dtype):
    X, y = _data(HEADS[head][3], dtype)
    model = Model(log=None, dtype=dtype)
    for layer in _layers(head, dtype):
        model.add(layer)
    _, loss, accuracy, _ = HEADS[head]
    model.set(loss=loss(), optimizer=OPTIMIZERS[opt_name](), accuracy=accuracy())
    model.finalize()
    assert engine.supports(model)  # else this would compare the plain classes with themselves
    history = model.train(X, y, epochs=EPOCHS, batch_size=BATCH)
    return model.trainable_layers, model.optimizer, history.data_loss


def _through_plain_classes(head, opt_name, dtype):
    """Chapters 9-10 by hand: forward, the loss's (or combined) backward, each layer's backward, update."""
    X, y = _data(HEADS[head][3], dtype)
    layers = _layers(head, dtype)
    dense = [layer for layer in layers if isinstance(layer, nnref.Dense)]
    loss = HEADS[head][1]()
    combined = {"softmax+CCE labels": nnref.SoftmaxCategoricalCrossentropy,
                "softmax+CCE one-hot": nnref.SoftmaxCategoricalCrossentropy,
                "sigmoid+BCE": nnref.SigmoidBinaryCrossentropy}.get(head)
    optimizer = OPTIMIZERS[opt_name]()
    epoch_losses = []
    for _ in range(EPOCHS):
        loss.new_pass()
        for start in range(0, len(X), BATCH):
            xb, yb = X[start:start + BATCH], y[start:start + BATCH]
            a = xb
            for layer in layers:
                a = layer.forward(a, training=True)
            loss.calculate(a, yb)
            if combined is not None:
                d = combined().backward(a, yb)
                rest = layers[:-1]
            else:
                d = loss.backward(a, yb)
                rest = layers
            for layer in reversed(rest):
                d = layer.backward(d)
            optimizer.pre_update_params()
            for layer in dense:
                optimizer.update_params(layer)
            optimizer.post_update_params()
        epoch_losses.append(float(loss.calculate_accumulated()))
    return dense, optimizer, epoch_losses


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("head", list(HEADS))
def test_engine_trains_what_the_plain_classes_train(head, opt_name, dtype):
    """N steps through Model.train's engine equal N steps of the plain classes (bits, or Adam's rtol)."""
    fast_layers, fast_opt, fast_losses = _through_model(head, opt_name, dtype)
    plain_layers, plain_opt, plain_losses = _through_plain_classes(head, opt_name, dtype)
    assert fast_opt.iterations == plain_opt.iterations == EPOCHS * -(-56 // BATCH)
    pairs = []
    for fast, plain in zip(fast_layers, plain_layers):
        assert fast.weights.dtype == plain.weights.dtype == dtype
        pairs += [(fast.weights, plain.weights), (fast.biases, plain.biases)]
        fast_mem, plain_mem = fast_opt.state(fast), plain_opt.state(plain)
        assert sorted(fast_mem) == sorted(plain_mem)
        pairs += [(fast_mem[key], plain_mem[key]) for key in sorted(plain_mem)]
    assert not np.array_equal(plain_layers[0].weights, _layers(head, dtype)[0].weights)  # training moved them
    if opt_name == "Adam":
        for mine, theirs in pairs:
            np.testing.assert_allclose(mine, theirs, rtol=ADAM_RTOL[dtype], atol=ADAM_RTOL[dtype] * 1e-3)
        np.testing.assert_allclose(fast_losses, plain_losses, rtol=ADAM_RTOL[dtype])
    else:
        for mine, theirs in pairs:
            np.testing.assert_array_equal(mine, theirs)
        assert fast_losses == plain_losses


def test_folded_adam_step_agrees_with_the_textbook_step():
    """One float32 step from the same state: the engine's folded Adam and Adam.update_params agree to 2e-6."""
    rng = np.random.default_rng(1)
    for iterations in (0, 1, 9, 999, 50_000):
        grad = rng.standard_normal((30, 20)).astype(np.float32) * 1e-3
        momentums = rng.standard_normal((30, 20)).astype(np.float32) * 1e-3
        cache = rng.random((30, 20), dtype=np.float32) * 1e-6
        steps = []
        for fast in (False, True):
            # zero weights: after the update they hold the step itself, with no rounding of w + step
            model = Model(log=None, dtype=np.float32)
            model.add(nnref.Dense(30, 20, rng=0, dtype=np.float32))
            model.add(nnref.Linear())
            model.set(loss=nnref.MeanSquaredError(), optimizer=nnref.Adam(learning_rate=0.01))
            model.finalize()
            layer, optimizer = model.layers[0], model.optimizer
            layer.weights[...] = 0
            layer.dweights, layer.dbiases = grad.copy(), np.full((1, 20), 1e-3, np.float32)
            optimizer.iterations = iterations
            memory = optimizer.state(layer)
            memory["weight_momentums"][...] = momentums
            memory["weight_cache"][...] = cache
            if fast:
                block = engine.Engine(model, np.float32)
                block.grads[:grad.size] = grad.ravel()
                block.grads[grad.size:] = 1e-3
                block.update()
            else:
                optimizer.update_params(layer)
            steps.append(layer.weights.copy())
        assert np.abs(steps[0]).min() > 0
        np.testing.assert_allclose(steps[1], steps[0], rtol=2e-6, atol=0)


def _subnormal_count(arr):
    return int(np.count_nonzero((arr != 0) & (np.abs(arr) < np.finfo(arr.dtype).tiny)))


def test_flush_subnormals_zeroes_only_subnormal_values():
    """flush_subnormals sets values below float32's smallest normal to 0 and leaves every other value alone."""
    tiny = np.finfo(np.float32).tiny
    values = np.array([0.0, tiny, tiny / 2, -tiny / 8, 1e-30, -3.0, np.float32(1e-45)], dtype=np.float32)
    before = values.copy()
    assert _subnormal_count(values) == 3
    engine.flush_subnormals(values)
    np.testing.assert_array_equal(values, np.where(np.abs(before) < tiny, 0, before))


def _adam_with_a_dead_column(steps, fast):
    """Adam on a float32 layer whose last column gets zero gradients after five steps (a unit that died)."""
    rng = np.random.default_rng(2)
    model = Model(log=None, dtype=np.float32)
    model.add(nnref.Dense(6, 4, rng=0, dtype=np.float32))
    model.add(nnref.Linear())
    model.set(loss=nnref.MeanSquaredError(), optimizer=nnref.Adam(learning_rate=0.01))
    model.finalize()
    layer, optimizer = model.layers[0], model.optimizer
    block = engine.Engine(model, np.float32) if fast else None
    for t in range(steps):
        grad = rng.standard_normal((6, 4)).astype(np.float32) * 1e-3
        grad[:, -1] = 0 if t >= 5 else grad[:, -1]
        optimizer.pre_update_params()
        if fast:
            block.grads[:grad.size] = grad.ravel()
            block.grads[grad.size:] = 0
            block.update()
        else:
            layer.dweights, layer.dbiases = grad, np.zeros((1, 4), np.float32)
            optimizer.update_params(layer)
        optimizer.post_update_params()
    return optimizer.state(layer)["weight_momentums"][:, -1]


def test_dead_unit_momentums_are_flushed_by_the_engine_and_kept_by_the_textbook():
    """A dead unit's Adam momentums stick subnormal under Adam.update_params and end at exactly 0 in the engine."""
    assert _subnormal_count(_adam_with_a_dead_column(1200, fast=False)) > 0  # they really do stick
    assert np.all(_adam_with_a_dead_column(1200, fast=True) == 0)


def test_book_arithmetic_never_uses_the_engine(monkeypatch):
    """Inside book_mode (numpy patched) Model.train, evaluate and predict never build an Engine."""
    built = []
    monkeypatch.setattr(engine.Engine, "__init__", lambda self, *a, **k: built.append(1) or None)
    X, y = _data("labels", np.float64)
    with nnref.book_mode():
        model = Model(log=None)
        for layer in _layers("softmax+CCE labels", None):
            model.add(layer)
        model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(), accuracy=nnref.CategoricalAccuracy())
        model.finalize()
        model.train(X, y, epochs=2, batch_size=BATCH, validation_data=(X, y))
        model.evaluate(X, y)
        model.predict(X)
    assert built == []


def test_engine_memory_carries_on_into_the_textbook_update():
    """After Model.train, Adam.update_params continues from the engine's memory (views of its block)."""
    X, y = _data("labels", np.float64)
    model = Model(log=None)
    for layer in _layers("softmax+CCE labels", np.float64):
        model.add(layer)
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.SGD(learning_rate=0.1, momentum=0.9),
              accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    model.train(X, y, epochs=1)
    layer = model.trainable_layers[0]
    velocity = model.optimizer.state(layer)["weight_momentums"].copy()
    assert np.abs(velocity).max() > 0
    before = layer.weights.copy()
    model.optimizer.update_params(layer)  # the gradient of the last step is still there
    np.testing.assert_array_equal(layer.weights, before + (0.9 * velocity - 0.1 * layer.dweights))
    model.train(X, y, epochs=1)  # and the engine picks the memory up again
    assert model.optimizer.iterations == 2


def test_predict_returns_fresh_arrays_from_the_engine():
    """Two predict calls never hand back the engine's reused buffer."""
    X, _ = _data("labels", np.float64)
    model = Model(log=None)
    for layer in _layers("softmax+CCE labels", np.float64):
        model.add(layer)
    model.finalize()
    first = model.predict(X[:8])
    again = first.copy()
    model.predict(X[8:16])
    np.testing.assert_array_equal(first, again)


# ---------------------------------------------------------------- independent peers


def _teacher_data(n, n_features, n_classes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_features), dtype=dtype)  # drawn in its dtype: no float64 temporary
    X *= 2
    X -= 1
    y = np.argmax(X @ rng.standard_normal((n_features, n_classes)).astype(dtype), axis=1)
    return X, y


def _chapter19_model(sizes, seed, dtype=None):
    rng = np.random.default_rng(seed)
    model = Model(dtype=dtype, log=None)
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        model.add(nnref.Dense(n_in, n_out, rng=rng))
        model.add(nnref.ReLU() if i < len(sizes) - 2 else nnref.Softmax())
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(decay=1e-3),
              accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    return model


def test_model_float64_matches_the_book_style_code_of_the_benchmark():
    """In float64, nnref's Model and bench/bookstyle.py (the book's habits) train the same weights to 1e-12."""
    sizes, batch = (20, 16, 16, 5), 25
    X, y = _teacher_data(300, sizes[0], sizes[-1], dtype=np.float32)
    model = _chapter19_model(sizes, seed=5, dtype=np.float64)
    model.train(X, y, epochs=2, batch_size=batch)
    book = BookMLP(sizes, learning_rate=0.001, decay=1e-3, seed=5)
    for _ in range(2):
        book.train_epoch(X, y, batch)
    for mine, theirs in zip(model.trainable_layers, book.dense_layers):
        np.testing.assert_allclose(mine.weights, theirs.weights, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(mine.biases, theirs.biases, rtol=1e-12, atol=1e-15)


def test_float32_training_everything_stays_float32():
    """float32 data: parameters, gradients and Adam's memory are all float32 (no silent upcast)."""
    X, y = _teacher_data(64, 8, 3)
    model = _chapter19_model((8, 16, 3), seed=0)
    model.train(X, y, epochs=1, batch_size=16)
    for layer in model.trainable_layers:
        for arr in (layer.weights, layer.biases, layer.dweights, layer.dbiases,
                    *model.optimizer.state(layer).values()):
            assert arr.dtype == np.float32


# float32 and float64 runs start from the same weights and follow the same
# equations; rounding makes their trajectories drift apart slowly, so the
# final accuracies may differ by a few points and the losses a little.
ACCURACY_TOLERANCE = 0.04
LOSS_TOLERANCE = 0.05


@pytest.mark.slow
def test_float32_training_reaches_float64_accuracy_on_spiral_data():
    """Chapter 10's spiral run, 1000 epochs of Adam: float32 ends within 0.04 accuracy and 0.05 loss of float64."""
    state = np.random.get_state()
    np.random.seed(0)
    X, y = spiral_data(samples=100, classes=3)
    np.random.set_state(state)
    results = {}
    for dtype in (np.float64, np.float32):
        rng = np.random.default_rng(0)
        model = Model(dtype=dtype, log=None)
        model.add(nnref.Dense(2, 64, rng=rng))
        model.add(nnref.ReLU())
        model.add(nnref.Dense(64, 3, rng=rng))
        model.add(nnref.Softmax())
        model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(learning_rate=0.05, decay=5e-7),
                  accuracy=nnref.CategoricalAccuracy())
        model.finalize()
        history = model.train(X, y, epochs=1000, print_every=1000).as_dict()
        results[dtype] = (history["accuracy"][-1], history["data_loss"][-1])
        assert model.trainable_layers[0].weights.dtype == dtype
    (acc64, loss64), (acc32, loss32) = results[np.float64], results[np.float32]
    assert acc64 > 0.8  # the run learns at all, otherwise agreement would mean nothing
    assert abs(acc32 - acc64) <= ACCURACY_TOLERANCE, results
    assert abs(loss32 - loss64) <= LOSS_TOLERANCE, results


def test_epoch_peak_memory_stays_near_the_data_size():
    """An epoch allocates no copy of the data: tracemalloc's peak is under 1.5 × (data + parameters)."""
    tracemalloc.start()
    try:
        X, y = _teacher_data(20_000, 64, 10)
        model = _chapter19_model((64, 32, 10), seed=0)
        model.train(X, y, epochs=1, batch_size=128)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    params = sum(w.nbytes + b.nbytes for w, b in model.get_parameters())
    assert peak <= 1.5 * (X.nbytes + y.nbytes + params), (peak, X.nbytes)


_F32_MAX = np.finfo(np.float32).max


@pytest.mark.parametrize("values", [
    np.ones((4, 3)),
    np.array([1.0, np.nan]),
    np.array([1.0, np.inf]),
    np.array([np.inf, -np.inf]),  # the sum is NaN
    np.array([-np.inf]),
    np.array([_F32_MAX, _F32_MAX], dtype=np.float32),  # finite values whose Σ x² overflows
    np.array([3e19, 1.0], dtype=np.float32),  # a single square overflows
    np.array([60000, 60000], dtype=np.float16),
    np.array([1.0, np.nan], dtype=np.longdouble),
    np.ones((6, 4))[:, ::2],  # not contiguous
    np.zeros((0, 3)),
])
@pytest.mark.parametrize("large", [False, True])
def test_sum_of_squares_finite_check_agrees_with_the_elementwise_one(values, large):
    """The finite check used by validation answers exactly as np.isfinite(x).all(), small arrays and large."""
    from nnref._validate import all_finite

    if large:  # the same values among many ones
        values = np.concatenate([values.ravel(), np.ones(100_000, dtype=values.dtype)])
    with np.errstate(all="raise"):  # and it warns about nothing, overflow included
        assert all_finite(values) == bool(np.isfinite(values).all())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_check_finds_one_bad_value_at_every_position(dtype, bad):
    """BLAS kernels work in blocks and tails; a NaN or inf in any lane of any length is found."""
    from nnref._validate import all_finite

    rng = np.random.default_rng(0)
    for n in list(range(1, 70)) + [127, 128, 129, 1000, 4099]:
        x = rng.standard_normal(n).astype(dtype)
        assert all_finite(x)
        for position in (range(n) if n < 70 else (0, n // 2, n - 1)):
            y = x.copy()
            y[position] = bad
            assert not all_finite(y), (n, position)
            assert not all_finite(y.reshape(1, n)[:, ::-1]), (n, position)  # a strided view too
