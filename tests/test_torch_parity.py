"""Parity with PyTorch (float64, randomised shapes): layers, activations, losses and one optimizer step.

Failure messages print "mine vs theirs". Skipped where torch is not installed.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import import_torch_or_skip

torch = import_torch_or_skip()  # skipped with "PyTorch not installed: ..." in the -ra summary
F = torch.nn.functional

import nnref  # noqa: E402

pytestmark = pytest.mark.torch
SEEDS = range(5)
TOL = dict(rtol=1e-10, atol=1e-12)


def _shapes(seed):
    rng = np.random.default_rng(seed)
    return rng, int(rng.integers(1, 9)), int(rng.integers(1, 7)), int(rng.integers(2, 6))


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _close(mine, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(mine, theirs, **TOL, err_msg=f"{what}: mine vs theirs\nmine:\n{mine}\ntheirs:\n{theirs}")


@pytest.mark.parametrize("seed", SEEDS)
def test_dense(seed):
    """Dense forward and dweights/dbiases/dinputs equal torch's linear layer and autograd."""
    rng, n, n_in, n_out = _shapes(seed)
    layer = nnref.Dense(n_in, n_out, weight_scale=1.0, rng=seed)
    layer.biases = rng.standard_normal((1, n_out))
    x, g = rng.standard_normal((n, n_in)), rng.standard_normal((n, n_out))
    tx, tw, tb = _t(x, True), _t(layer.weights, True), _t(layer.biases[0], True)
    out = F.linear(tx, tw.T, tb)
    (out * _t(g)).sum().backward()
    _close(layer.forward(x), out, "Dense forward")
    layer.backward(g)
    _close(layer.dinputs, tx.grad, "Dense dinputs")
    _close(layer.dweights, tw.grad, "Dense dweights")
    _close(layer.dbiases[0], tb.grad, "Dense dbiases")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["ReLU", "Softmax", "Sigmoid"])
def test_activations(seed, name):
    """ReLU, Softmax and Sigmoid forward and backward equal torch's."""
    rng, n, _, k = _shapes(seed)
    x, g = 3 * rng.standard_normal((n, k)), rng.standard_normal((n, k))
    ours = getattr(nnref, name)()
    fn = {"ReLU": torch.relu, "Softmax": lambda z: torch.softmax(z, dim=1), "Sigmoid": torch.sigmoid}[name]
    tx = _t(x, True)
    out = fn(tx)
    (out * _t(g)).sum().backward()
    _close(ours.forward(x), out, f"{name} forward")
    _close(ours.backward(g), tx.grad, f"{name} backward")


def _loss_case(seed):
    rng, n, _, k = _shapes(seed)
    return rng, n, k


@pytest.mark.parametrize("seed", SEEDS)
def test_categorical_crossentropy(seed):
    """CCE (sparse and one-hot) equals torch's nll_loss of log-probabilities; gradients too."""
    rng, n, k = _loss_case(seed)
    p = 0.05 + rng.random((n, k))
    p /= p.sum(1, keepdims=True)
    labels = rng.integers(0, k, n)
    tp = _t(p, True)
    theirs = F.nll_loss(torch.log(tp), torch.tensor(labels))
    theirs.backward()
    for y in (labels, np.eye(k)[labels]):
        cce = nnref.CategoricalCrossentropy()
        _close(np.mean(cce.forward(p, y)), theirs, "CCE loss")
        _close(cce.backward(p, y), tp.grad, "CCE backward")


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_categorical_crossentropy(seed):
    """Combined softmax+CCE equals torch's cross_entropy on logits, loss and dlogits."""
    rng, n, k = _loss_case(seed)
    z, labels = 2 * rng.standard_normal((n, k)), rng.integers(0, k, n)
    tz = _t(z, True)
    theirs = F.cross_entropy(tz, torch.tensor(labels))
    theirs.backward()
    ours = nnref.SoftmaxCategoricalCrossentropy()
    _close(ours.forward(z, labels), theirs, "softmax+CCE loss")
    _close(ours.backward(ours.output, labels), tz.grad, "softmax+CCE backward")


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_crossentropy_and_sigmoid_combined(seed):
    """BCE equals torch's binary_cross_entropy; sigmoid+BCE equals binary_cross_entropy_with_logits."""
    rng, n, k = _loss_case(seed)
    p, y = 0.05 + 0.9 * rng.random((n, k)), rng.integers(0, 2, (n, k)).astype(float)
    tp = _t(p, True)
    theirs = F.binary_cross_entropy(tp, _t(y))
    theirs.backward()
    bce = nnref.BinaryCrossentropy()
    _close(np.mean(bce.forward(p, y)), theirs, "BCE loss")
    _close(bce.backward(p, y), tp.grad, "BCE backward")
    z = 2 * rng.standard_normal((n, k))
    tz = _t(z, True)
    theirs = F.binary_cross_entropy_with_logits(tz, _t(y))
    theirs.backward()
    combined = nnref.SigmoidBinaryCrossentropy()
    _close(combined.forward(z, y), theirs, "sigmoid+BCE loss")
    _close(combined.backward(combined.output, y), tz.grad, "sigmoid+BCE backward")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, fn", [("MeanSquaredError", F.mse_loss), ("MeanAbsoluteError", F.l1_loss)])
def test_regression_losses(seed, name, fn):
    """MSE and MAE (ours with the corrected sign) equal torch's mse_loss and l1_loss, loss and gradient."""
    rng, n, k = _loss_case(seed)
    p, y = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    tp = _t(p, True)
    theirs = fn(tp, _t(y))
    theirs.backward()
    ours = getattr(nnref, name)()
    _close(np.mean(ours.forward(p, y)), theirs, f"{name} loss")
    _close(ours.backward(p, y), tp.grad, f"{name} backward")


# ------------------------------------------------------------------------- optimizers
def _optimizer_pair(name):
    """Matching settings. torch's Adagrad lr_decay is the same 1/(1 + d (t-1)) schedule as our decay;
    its Adam, like ours, adds eps after the square root of the bias-corrected v
    (torch: sqrt(v)/sqrt(1 - b2^t) + eps, ours: sqrt(v/(1 - b2^t)) + eps)."""
    if name == "SGD":
        return (lambda: nnref.SGD(learning_rate=0.1, momentum=0.9),
                lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
    if name == "Adagrad":
        return (lambda: nnref.Adagrad(learning_rate=0.5, decay=0.1, epsilon=1e-7),
                lambda p: torch.optim.Adagrad(p, lr=0.5, lr_decay=0.1, eps=1e-7))
    if name == "RMSprop":
        return (lambda: nnref.RMSprop(learning_rate=0.01, epsilon=1e-7, rho=0.9),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7))
    return (lambda: nnref.Adam(learning_rate=0.01, epsilon=1e-7, beta_1=0.9, beta_2=0.999),
            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-7))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam"])
@pytest.mark.parametrize("steps", [1, 3])
def test_optimizer_steps(seed, name, steps):
    """One (and three) optimizer steps on a Dense layer equal torch.optim's, float64."""
    rng, _, n_in, n_out = _shapes(seed)
    make_ours, make_theirs = _optimizer_pair(name)
    layer = nnref.Dense(n_in, n_out, weight_scale=1.0, rng=seed)
    layer.biases = rng.standard_normal((1, n_out))
    tw, tb = _t(layer.weights, True), _t(layer.biases, True)
    ours, theirs = make_ours(), make_theirs([tw, tb])
    for _ in range(steps):
        gw, gb = rng.standard_normal(layer.weights.shape), rng.standard_normal(layer.biases.shape)
        layer.dweights, layer.dbiases = gw.copy(), gb.copy()
        ours.pre_update_params()
        ours.update_params(layer)
        ours.post_update_params()
        tw.grad, tb.grad = _t(gw), _t(gb)
        theirs.step()
    _close(layer.weights, tw, f"{name} weights after {steps} step(s)")
    _close(layer.biases, tb, f"{name} biases after {steps} step(s)")
