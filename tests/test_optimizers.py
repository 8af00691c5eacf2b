"""Optimizers: decay schedule, each update rule against its equation, state kept by the optimizer."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import nnref


def _layer_with_grads(seed: int = 0, n_in: int = 3, n_out: int = 2) -> nnref.Dense:
    rng = np.random.default_rng(seed)
    layer = nnref.Dense(n_in, n_out, weight_scale=0.5, rng=seed)
    layer.biases = rng.standard_normal((1, n_out))
    layer.forward(rng.standard_normal((4, n_in)))
    layer.backward(rng.standard_normal((4, n_out)))
    return layer


def _new_grads(layer: nnref.Dense, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer.dweights = rng.standard_normal(layer.weights.shape)
    layer.dbiases = rng.standard_normal(layer.biases.shape)


def _run(opt, layer, steps: int):
    """Take ``steps`` steps with fresh gradients; return the parameter history (copies)."""
    history = []
    for t in range(steps):
        _new_grads(layer, 100 + t)
        opt.pre_update_params()
        opt.update_params(layer)
        opt.post_update_params()
        history.append((layer.weights.copy(), layer.biases.copy()))
    return history


def _reference(rule: str, w0, b0, steps: int, lr0: float, decay: float, **hp):
    """The update equations of chapter 10, written directly in float64 for a single parameter pair."""
    params = [np.array(w0, dtype=float), np.array(b0, dtype=float)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    out = []
    for t in range(steps):
        probe = nnref.Dense(*params[0].shape, rng=0)
        _new_grads(probe, 100 + t)
        grads = [probe.dweights, probe.dbiases]
        lr = lr0 / (1 + decay * t)
        for i, (p, g) in enumerate(zip(params, grads)):
            if rule == "sgd":
                p -= lr * g
            elif rule == "momentum":
                m[i] = hp["momentum"] * m[i] - lr * g
                p += m[i]
            elif rule == "adagrad":
                v[i] = v[i] + g**2
                p -= lr * g / (np.sqrt(v[i]) + hp["epsilon"])
            elif rule == "rmsprop":
                v[i] = hp["rho"] * v[i] + (1 - hp["rho"]) * g**2
                p -= lr * g / (np.sqrt(v[i]) + hp["epsilon"])
            elif rule == "adam":
                m[i] = hp["beta_1"] * m[i] + (1 - hp["beta_1"]) * g
                v[i] = hp["beta_2"] * v[i] + (1 - hp["beta_2"]) * g**2
                m_hat = m[i] / (1 - hp["beta_1"] ** (t + 1))
                v_hat = v[i] / (1 - hp["beta_2"] ** (t + 1))
                p -= lr * m_hat / (np.sqrt(v_hat) + hp["epsilon"])
        out.append((params[0].copy(), params[1].copy()))
    return out


CASES = [
    ("sgd", lambda: nnref.SGD(learning_rate=0.5, decay=0.1), dict()),
    ("momentum", lambda: nnref.SGD(learning_rate=0.5, decay=0.1, momentum=0.9), dict(momentum=0.9)),
    ("adagrad", lambda: nnref.Adagrad(learning_rate=0.5, decay=0.1, epsilon=1e-7), dict(epsilon=1e-7)),
    ("rmsprop", lambda: nnref.RMSprop(learning_rate=0.5, decay=0.1, epsilon=1e-7, rho=0.9),
     dict(epsilon=1e-7, rho=0.9)),
    ("adam", lambda: nnref.Adam(learning_rate=0.5, decay=0.1, epsilon=1e-7, beta_1=0.9, beta_2=0.999),
     dict(epsilon=1e-7, beta_1=0.9, beta_2=0.999)),
]


@pytest.mark.parametrize("rule, make, hp", CASES, ids=[c[0] for c in CASES])
def test_update_rule_matches_equations(rule, make, hp):
    """Five steps with decay match the chapter 10 equations written out in float64 (to 1e-12)."""
    layer = _layer_with_grads()
    w0, b0 = layer.weights.copy(), layer.biases.copy()
    ours = _run(make(), layer, 5)
    theirs = _reference(rule, w0, b0, 5, lr0=0.5, decay=0.1, **hp)
    for step, ((w, b), (rw, rb)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(w, rw, rtol=1e-12, atol=1e-14, err_msg=f"{rule} weights, step {step}")
        np.testing.assert_allclose(b, rb, rtol=1e-12, atol=1e-14, err_msg=f"{rule} biases, step {step}")


def test_defaults_are_the_books():
    """The book's defaults: SGD lr 1, Adagrad lr 1, RMSprop lr 0.001 rho 0.9, Adam lr 0.001 betas 0.9/0.999, eps 1e-7."""
    sgd, ada, rms, adam = nnref.SGD(), nnref.Adagrad(), nnref.RMSprop(), nnref.Adam()
    assert (sgd.learning_rate, sgd.decay, sgd.momentum) == (1.0, 0.0, 0.0)
    assert (ada.learning_rate, ada.epsilon) == (1.0, 1e-7)
    assert (rms.learning_rate, rms.epsilon, rms.rho) == (0.001, 1e-7, 0.9)
    assert (adam.learning_rate, adam.epsilon, adam.beta_1, adam.beta_2) == (0.001, 1e-7, 0.9, 0.999)


def test_decay_counts_steps_not_layers():
    """lr_t = lr_0 / (1 + d t), with t the number of post_update_params calls."""
    opt = nnref.SGD(learning_rate=2.0, decay=0.5)
    a, b = _layer_with_grads(1), _layer_with_grads(2)
    seen = []
    for _ in range(4):
        opt.pre_update_params()
        seen.append(opt.current_learning_rate)
        opt.update_params(a)
        opt.update_params(b)
        opt.post_update_params()
    assert seen == [2.0, 2.0 / 1.5, 2.0 / 2.0, 2.0 / 2.5]
    assert opt.iterations == 4


def test_no_decay_keeps_the_learning_rate():
    """Without decay current_learning_rate stays at learning_rate."""
    opt = nnref.Adam(learning_rate=0.02)
    _run(opt, _layer_with_grads(), 3)
    assert opt.current_learning_rate == 0.02


def test_state_lives_on_the_optimizer_not_the_layer():
    """The optimizer keeps momentums/caches; no attribute is glued onto the layer."""
    layer = _layer_with_grads()
    before = set(vars(layer))
    opt = nnref.Adam()
    _run(opt, layer, 2)
    assert set(vars(layer)) == before
    st = opt.state(layer)
    assert set(st) == {"weight_momentums", "weight_cache", "bias_momentums", "bias_cache"}
    assert st["weight_cache"].shape == layer.weights.shape and np.all(st["weight_cache"] > 0)


def test_second_optimizer_starts_clean():
    """A layer handed to a fresh optimizer does not inherit the first one's momentum."""
    layer = _layer_with_grads()
    first = nnref.SGD(learning_rate=0.1, momentum=0.9)
    _run(first, layer, 3)
    second = nnref.SGD(learning_rate=0.1, momentum=0.9)
    assert np.all(second.state(layer)["weight_momentums"] == 0)
    w = layer.weights.copy()
    second.pre_update_params()
    second.update_params(layer)
    # first momentum step from zero velocity: w - lr * g exactly
    np.testing.assert_allclose(layer.weights, w - 0.1 * layer.dweights, rtol=1e-15)


def test_state_is_per_layer():
    """Two layers of the same shape keep separate state."""
    a, b = _layer_with_grads(1), _layer_with_grads(2)
    opt = nnref.RMSprop()
    opt.update_params(a)
    opt.update_params(b)
    assert opt.state(a)["weight_cache"] is not opt.state(b)["weight_cache"]
    assert not np.array_equal(opt.state(a)["weight_cache"], opt.state(b)["weight_cache"])


def test_state_does_not_keep_layers_alive():
    """The optimizer's state is keyed weakly: a dropped layer is freed with its state."""
    opt = nnref.Adam()
    layer = _layer_with_grads()
    opt.update_params(layer)
    assert len(opt._state) == 1
    del layer
    gc.collect()
    assert len(opt._state) == 0


def test_updates_are_in_place():
    """update_params changes the layer's own weight arrays (references held elsewhere see the step)."""
    layer = _layer_with_grads()
    w_ref = layer.weights
    nnref.SGD(learning_rate=0.1).update_params(layer)
    assert layer.weights is w_ref


def test_plain_sgd_keeps_no_state():
    """SGD without momentum needs no memory."""
    opt = nnref.SGD()
    layer = _layer_with_grads()
    opt.update_params(layer)
    assert opt.state(layer) == {}


def test_adam_first_step_size_is_learning_rate():
    """Adam's bias correction makes the first step ±lr per parameter (up to epsilon)."""
    layer = _layer_with_grads()
    w = layer.weights.copy()
    opt = nnref.Adam(learning_rate=0.01)
    opt.update_params(layer)
    np.testing.assert_allclose(np.abs(layer.weights - w), 0.01, rtol=1e-5)


def test_float32_parameters_stay_float32():
    """Updating float32 parameters with float32 gradients keeps them float32 (as in the book's runs)."""
    for make in (lambda: nnref.SGD(momentum=0.5), nnref.Adagrad, nnref.RMSprop, nnref.Adam):
        layer = nnref.Dense(3, 2, rng=0, dtype=np.float32)
        layer.forward(np.ones((2, 3), dtype=np.float32))
        layer.backward(np.ones((2, 2), dtype=np.float32))
        make().update_params(layer)
        assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32


def test_repr_names_the_settings():
    """repr shows the class, learning rate and decay."""
    assert repr(nnref.Adam(learning_rate=0.05, decay=5e-7)) == "Adam(learning_rate=0.05, decay=5e-07)"


def test_sgd_momentum_can_be_switched_on_after_construction():
    """Setting opt.momentum = 0.9 on a plain SGD (as in a notebook) starts a velocity instead of failing."""
    layer = nnref.Dense(3, 2, rng=0)
    layer.forward(np.ones((4, 3)))
    layer.backward(np.ones((4, 2)))
    optimizer = nnref.SGD(learning_rate=0.1)
    optimizer.update_params(layer)
    assert optimizer.state(layer) == {}
    optimizer.momentum = 0.9
    before = layer.weights.copy()
    optimizer.update_params(layer)
    velocity = optimizer.state(layer)["weight_momentums"]
    np.testing.assert_array_equal(velocity, -0.1 * layer.dweights)  # 0.9 · 0 − η g on the first momentum step
    np.testing.assert_array_equal(layer.weights, before + velocity)


def test_optimizer_memory_takes_the_parameters_dtype_before_any_gradient():
    """state(layer) made before backward (as loading a model does) is in the parameters' dtype, not float64."""
    layer = nnref.Dense(3, 2, rng=0, dtype=np.float32)
    memory = nnref.Adam().state(layer)
    assert {arr.dtype for arr in memory.values()} == {np.dtype(np.float32)}
    assert sorted(memory) == ["bias_cache", "bias_momentums", "weight_cache", "weight_momentums"]
