"""The speed-ups of issue 6 change no result: in-place Adam, float32 training, the Model's shortcuts.

No test here is timed; speed is measured only by ``bench/run.py``. These tests
pin that what makes nnref fast leaves what it computes alone:

* inside ``book_mode`` Adam (through reused work arrays) gives the same bits as
  the textbook formula with fresh temporaries; outside it, the folded form
  (bias corrections folded into the step size and epsilon) agrees with that
  formula to float rounding;
* the Model (first layer without an input gradient, checks switched off,
  batches as views) trains exactly the weights of a plain chapter-by-chapter
  loop, and those of the book-style code of the benchmark;
* float32 training reaches the accuracy of float64 training within a stated
  tolerance;
* an epoch's peak memory stays near the size of the data.
"""
from __future__ import annotations

import contextlib
import tracemalloc

import numpy as np
import pytest

import nnref
from nnref.data import spiral_data
from nnref.model import Model

from bench.bookstyle import BookMLP


class _Params:
    """A stand-in layer: just the attributes an optimizer reads and writes."""

    trainable = True

    def __init__(self, weights, biases):
        self.weights, self.biases = weights, biases
        self.dweights = self.dbiases = None


def _adam_reference(params, grads, state, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """Adam written with fresh temporaries, the expression order of chapter 10."""
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = state[i]
        m *= beta_1
        m += (1 - beta_1) * g
        v *= beta_2
        v += (1 - beta_2) * g**2
        p += -lr * (m / (1 - beta_1 ** (t + 1))) / (np.sqrt(v / (1 - beta_2 ** (t + 1))) + eps)


def _adam_against_reference(param_dtype, grad_dtype, steps=40):
    """Run nnref's Adam and :func:`_adam_reference` on the same gradients; return both sides."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 5)).astype(param_dtype)
    b = rng.standard_normal((1, 5)).astype(param_dtype)
    layer = _Params(w.copy(), b.copy())
    optimizer = nnref.Adam(learning_rate=0.05, decay=1e-2)
    ref_params = [w.copy(), b.copy()]
    for t in range(40):
        grads = [rng.standard_normal(w.shape).astype(grad_dtype), rng.standard_normal(b.shape).astype(grad_dtype)]
        layer.dweights, layer.dbiases = grads
        if t == 0:  # the reference keeps its memory in the dtype the optimizer chose for its own
            st = optimizer.state(layer)
            ref_state = [(np.zeros_like(st["weight_momentums"]), np.zeros_like(st["weight_cache"])),
                         (np.zeros_like(st["bias_momentums"]), np.zeros_like(st["bias_cache"]))]
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        lr = optimizer.current_learning_rate
        optimizer.post_update_params()
        _adam_reference(ref_params, grads, ref_state, t, lr)
    assert layer.weights.dtype == param_dtype
    st = optimizer.state(layer)
    mine = [layer.weights, layer.biases, st["weight_momentums"], st["weight_cache"]]
    return mine, [ref_params[0], ref_params[1], ref_state[0][0], ref_state[0][1]]


DTYPE_PAIRS = [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64)]


@pytest.mark.parametrize("param_dtype, grad_dtype", DTYPE_PAIRS)
def test_book_mode_adam_is_bit_identical_to_fresh_temporaries(param_dtype, grad_dtype):
    """In book_mode, Adam's out= buffers reproduce the fresh-temporary formula bit for bit, mixed dtypes too."""
    with nnref.book_mode():
        mine, ref = _adam_against_reference(param_dtype, grad_dtype)
    for a, b in zip(mine, ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("param_dtype, grad_dtype", DTYPE_PAIRS)
def test_folded_adam_agrees_with_the_formula_to_rounding(param_dtype, grad_dtype):
    """Outside book_mode, folded Adam stays within float rounding (rtol 1e-5 / 1e-12) of the formula over 40 steps."""
    in_float32 = np.result_type(param_dtype, grad_dtype) == np.float32
    rtol = 1e-5 if in_float32 else 1e-12
    mine, ref = _adam_against_reference(param_dtype, grad_dtype)
    # the moments do not depend on the form of the step: still bit for bit
    np.testing.assert_array_equal(mine[2], ref[2])
    np.testing.assert_array_equal(mine[3], ref[3])
    np.testing.assert_allclose(mine[0], ref[0], rtol=rtol, atol=0)
    np.testing.assert_allclose(mine[1], ref[1], rtol=rtol, atol=0)
    if in_float32:  # the forms really are different computations (else this test would prove nothing)
        assert not np.array_equal(mine[0], ref[0])


def test_folded_adam_step_agrees_with_the_formula_step():
    """One float32 step from the same state: folded and book-formula steps agree to rtol 2e-6, early and late."""
    rng = np.random.default_rng(1)
    for iterations in (0, 1, 9, 999, 50_000):
        grad = rng.standard_normal((30, 20)).astype(np.float32) * 1e-3
        momentums = rng.standard_normal((30, 20)).astype(np.float32) * 1e-3
        cache = rng.random((30, 20), dtype=np.float32) * 1e-6
        steps = []
        for scope in (nnref.book_mode, contextlib.nullcontext):
            # zero weights: after the update they hold the step itself, with no rounding of w + step
            layer = _Params(np.zeros((30, 20), np.float32), np.zeros((1, 20), np.float32))
            layer.dweights, layer.dbiases = grad.copy(), np.full((1, 20), 1e-3, np.float32)
            optimizer = nnref.Adam(learning_rate=0.01)
            optimizer.iterations = iterations
            st = optimizer.state(layer)
            st["weight_momentums"][...] = momentums
            st["weight_cache"][...] = cache
            with scope():
                optimizer.update_params(layer)
            steps.append(layer.weights)
        assert np.abs(steps[0]).min() > 0
        np.testing.assert_allclose(steps[1], steps[0], rtol=2e-6, atol=0)


def _adam_with_a_dead_column(steps, scope=contextlib.nullcontext):
    """Adam on a float32 layer whose last column always gets a zero gradient (a dead ReLU unit)."""
    rng = np.random.default_rng(2)
    layer = _Params(rng.standard_normal((6, 4)).astype(np.float32), np.zeros((1, 4), np.float32))
    optimizer = nnref.Adam(learning_rate=0.01)
    with scope():
        for t in range(steps):
            grad = rng.standard_normal((6, 4)).astype(np.float32) * 1e-3
            grad[:, -1] = 0 if t >= 5 else grad[:, -1]  # alive for five steps, then dead
            layer.dweights, layer.dbiases = grad, np.zeros((1, 4), np.float32)
            optimizer.pre_update_params()
            optimizer.update_params(layer)
            optimizer.post_update_params()
    return layer, optimizer.state(layer)["weight_momentums"]


def _subnormal_count(arr):
    return int(np.count_nonzero((arr != 0) & (np.abs(arr) < np.finfo(arr.dtype).tiny)))


def test_adam_flushes_stuck_subnormal_momentums_without_changing_the_weights(monkeypatch):
    """Outside book_mode a dead unit's momentum ends at exactly 0, not stuck subnormal; the weights are the same bits."""
    flushed_layer, flushed_m = _adam_with_a_dead_column(1200)
    assert _subnormal_count(flushed_m) == 0
    assert np.all(flushed_m[:, -1] == 0)
    monkeypatch.setattr(nnref.optimizers, "SUBNORMAL_FLUSH_EVERY", 10**9)
    plain_layer, plain_m = _adam_with_a_dead_column(1200)
    assert _subnormal_count(plain_m) > 0  # without the flush they really do stick (else this test proves nothing)
    np.testing.assert_array_equal(flushed_layer.weights, plain_layer.weights)


def test_book_mode_adam_keeps_subnormal_momentums():
    """Inside book_mode nothing is flushed: the momentums are exactly those of the book's formula."""
    _, m = _adam_with_a_dead_column(1200, scope=nnref.book_mode)
    assert _subnormal_count(m) > 0


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


def _teacher_data(n, n_features, n_classes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_features), dtype=dtype)  # drawn in its dtype: no float64 temporary
    X *= 2
    X -= 1
    y = np.argmax(X @ rng.standard_normal((n_features, n_classes)).astype(dtype), axis=1)
    return X, y


def test_model_trains_the_weights_of_a_plain_layer_by_layer_loop():
    """Model.train (no first dinputs, checks off, views) gives bit-identical weights to the chapter 9-10 loop."""
    sizes, batch = (12, 16, 16, 4), 32
    X, y = _teacher_data(200, sizes[0], sizes[-1], dtype=np.float64)
    model = _chapter19_model(sizes, seed=3)
    model.train(X, y, epochs=2, batch_size=batch)

    rng = np.random.default_rng(3)
    dense = [nnref.Dense(a, b, rng=rng) for a, b in zip(sizes[:-1], sizes[1:])]
    relus = [nnref.ReLU(), nnref.ReLU()]
    head = nnref.SoftmaxCategoricalCrossentropy()
    optimizer = nnref.Adam(decay=1e-3)
    for _ in range(2):
        for start in range(0, len(X), batch):
            xb, yb = X[start:start + batch], y[start:start + batch]
            out = relus[1].forward(dense[1].forward(relus[0].forward(dense[0].forward(xb))))
            head.forward(dense[2].forward(out), yb)
            head.backward(head.output, yb)
            dvalues = dense[2].backward(head.dinputs)
            dvalues = dense[1].backward(relus[1].backward(dvalues))
            dense[0].backward(relus[0].backward(dvalues))
            optimizer.pre_update_params()
            for layer in dense:
                optimizer.update_params(layer)
            optimizer.post_update_params()
    for mine, plain in zip(model.trainable_layers, dense):
        np.testing.assert_array_equal(mine.weights, plain.weights)
        np.testing.assert_array_equal(mine.biases, plain.biases)


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
    """float32 data: outputs, gradients, parameters and Adam's state are all float32 (no silent upcast)."""
    X, y = _teacher_data(64, 8, 3)
    model = _chapter19_model((8, 16, 3), seed=0)
    model.train(X, y, epochs=1, batch_size=16)
    for layer in model.trainable_layers:
        for arr in (layer.weights, layer.biases, layer.dweights, layer.dbiases, layer.output,
                    *model.optimizer.state(layer).values()):
            assert arr.dtype == np.float32
    for layer in model.layers[1:]:
        assert layer.dinputs.dtype == np.float32


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
    np.array([_F32_MAX, _F32_MAX], dtype=np.float32),  # finite values whose sum overflows
    np.array([60000, 60000], dtype=np.float16),
    np.zeros((0, 3)),
])
@pytest.mark.parametrize("large", [False, True])
def test_sum_based_finite_check_agrees_with_the_elementwise_one(values, large):
    """The finite check used by validation answers exactly as np.isfinite(x).all(), small arrays and large."""
    from nnref._validate import SMALL_ARRAY, all_finite

    if large:  # past the size where the one-pass sum is used: the same values among many ones
        values = np.concatenate([values.ravel(), np.ones(SMALL_ARRAY + 1, dtype=values.dtype)])
        assert values.size > SMALL_ARRAY
    with np.errstate(all="raise"):  # and it warns about nothing, overflow included
        assert all_finite(values) == bool(np.isfinite(values).all())


# ---------------------------------------------------------------- the parameter block

OPTIMIZERS = {
    "SGD": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2),
    "SGD+momentum": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2, momentum=0.9),
    "Adagrad": lambda: nnref.Adagrad(learning_rate=0.5, decay=1e-3),
    "RMSprop": lambda: nnref.RMSprop(learning_rate=0.01, decay=1e-3, rho=0.99),
    "Adam": lambda: nnref.Adam(learning_rate=0.01, decay=1e-3),
}


def _regularized_model(sizes, seed, optimizer, dtype):
    rng = np.random.default_rng(seed)
    model = Model(dtype=dtype, log=None)
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        model.add(nnref.Dense(n_in, n_out, rng=rng, weight_regularizer_l2=1e-3, bias_regularizer_l1=1e-4))
        model.add(nnref.ReLU() if i < len(sizes) - 2 else nnref.Softmax())
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=optimizer, accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    return model


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_step_trains_the_bits_of_the_layer_by_layer_step(name, dtype, monkeypatch):
    """Model.train with the ParameterBlock gives the weights and optimizer state of per-layer updates, bit for bit."""
    sizes, batch = (9, 12, 12, 4), 16
    X, y = _teacher_data(150, sizes[0], sizes[-1], dtype=dtype)
    blocked = _regularized_model(sizes, 4, OPTIMIZERS[name](), dtype)
    calls = []
    real_update_block = type(blocked.optimizer).update_block
    monkeypatch.setattr(type(blocked.optimizer), "update_block",
                        lambda self, block: (calls.append(block), real_update_block(self, block)))
    blocked.train(X, y, epochs=3, batch_size=batch)
    assert len(calls) == 3 * 10  # every step went through the block ...
    block = blocked._block
    for layer in blocked.trainable_layers:  # ... whose views the layers hold
        assert np.shares_memory(layer.weights, block.values) and np.shares_memory(layer.biases, block.values)
    monkeypatch.undo()

    # the same model stepped layer by layer: no block
    per_layer = _regularized_model(sizes, 4, OPTIMIZERS[name](), dtype)
    monkeypatch.setattr(Model, "_parameter_block",
                        lambda self, dtype: contextlib.nullcontext(setattr(self, "_block", None)))
    per_layer.train(X, y, epochs=3, batch_size=batch)
    assert per_layer._block is None
    for a, b in zip(blocked.trainable_layers, per_layer.trainable_layers):
        assert a.weights.dtype == dtype
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.biases, b.biases)
        state_a, state_b = blocked.optimizer.state(a), per_layer.optimizer.state(b)
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            np.testing.assert_array_equal(state_a[key], state_b[key])
            if name != "SGD":  # the per-layer state is a view of the block's state
                assert np.shares_memory(state_a[key], blocked.optimizer._block_state[block][0]) or \
                    np.shares_memory(state_a[key], blocked.optimizer._block_state[block][-1])


def test_block_is_remade_after_set_parameters_and_keeps_the_optimizer_state():
    """set_parameters gives the layers new arrays: the next train makes a new block, carrying Adam's state over."""
    sizes = (6, 8, 3)
    X, y = _teacher_data(64, sizes[0], sizes[-1])
    model = _chapter19_model(sizes, seed=1)
    model.train(X, y, epochs=1, batch_size=16)
    first = model._block
    state_before = {k: v.copy() for k, v in model.optimizer.state(model.trainable_layers[0]).items()}
    model.set_parameters(model.get_parameters())
    assert not first.holds_parameters()
    weights_before = [layer.weights.copy() for layer in model.trainable_layers]
    model.train(X, y, epochs=1, batch_size=16)
    assert model._block is not first and model._block.holds_parameters()
    # the new block started from the same weights and the same optimizer memory
    twin = _chapter19_model(sizes, seed=1)
    twin.train(X, y, epochs=2, batch_size=16)
    for mine, theirs in zip(model.trainable_layers, twin.trainable_layers):
        np.testing.assert_array_equal(mine.weights, theirs.weights)
    assert any(not np.array_equal(a, layer.weights) for a, layer in zip(weights_before, model.trainable_layers))
    assert all(np.any(v != 0) for v in state_before.values())


def test_after_training_a_layer_backward_makes_fresh_gradient_arrays_again():
    """The gradient block is used only while the Model trains; afterwards backward behaves as the book's."""
    X, y = _teacher_data(32, 5, 3)
    model = _chapter19_model((5, 4, 3), seed=2)
    model.train(X, y, epochs=1, batch_size=8)
    layer = model.trainable_layers[0]
    assert layer.gradient_out is None
    layer.forward(X[:4])
    layer.backward(np.ones((4, 4), np.float32))
    first = layer.dweights
    layer.backward(np.full((4, 4), 2, np.float32))
    assert layer.dweights is not first and not np.shares_memory(first, model._block.grads)
    np.testing.assert_array_equal(layer.dweights, 2 * first)


def test_book_mode_and_foreign_optimizers_step_layer_by_layer():
    """No block inside book_mode (the book's mixed dtypes), and an optimizer with its own update_params keeps it."""
    X, y = _teacher_data(32, 5, 3, dtype=np.float64)
    with nnref.book_mode():
        model = _chapter19_model((5, 4, 3), seed=2)
        model.train(X, y, epochs=1, batch_size=8)
        assert model._block is None

    class Halved(nnref.SGD):
        seen = 0

        def update_params(self, layer):
            Halved.seen += 1
            layer.weights -= 0.5 * self.current_learning_rate * layer.dweights
            layer.biases -= 0.5 * self.current_learning_rate * layer.dbiases

    model = _chapter19_model((5, 4, 3), seed=2)
    model.set(optimizer=Halved())
    model.train(X, y, epochs=1, batch_size=8)
    assert Halved.seen == 4 * 2  # four steps, two layers: its own rule ran, not the block's
