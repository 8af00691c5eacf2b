"""nnref.torch_bridge: the same network in PyTorch, its predictions, and training continued there.

"Relative" below is max |ours - theirs| / max |theirs| over an array: the
difference measured against the size of the numbers compared. Tolerances:
1e-12 in float64 and 1e-6 in float32. The torch tests skip where PyTorch is
not installed; the import tests run everywhere.

Tests that take several steps on each side use learning rates at which
training is stable: where steps are large enough to amplify small
differences (SGD with momentum 0.9 at learning rate 0.5 on these models), the
rounding differences between the two libraries grow about threefold per step,
in float64 as in float32.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnref
from nnref import torch_bridge

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the CPU wheel where it can
    torch = None

ROOT = Path(__file__).resolve().parents[1]
needs_torch = [pytest.mark.torch,
               pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install nnref[torch])")]
TOL = {np.float64: 1e-12, np.float32: 1e-6}
DTYPES = [np.float64, np.float32]
N_TRAIN = 15  # nnref steps before the export


def _torch_test(fn):
    """Mark a test as needing torch (skipped with the reason where it is missing)."""
    for mark in needs_torch:
        fn = mark(fn)
    return fn


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def _rel(ours, theirs) -> float:
    ours = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


# --------------------------------------------------------------------------- optional dependency

def test_import_nnref_does_not_import_torch():
    """`import nnref` (and nnref.torch_bridge) leaves torch out of sys.modules."""
    proc = _python("import sys, nnref, nnref.torch_bridge, nnref.cli; "
                   "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_torch_the_error_names_the_extra():
    """With torch unimportable, to_torch and from_torch raise ImportError naming nnref[torch]."""
    proc = _python("import sys; sys.modules['torch'] = None\n"
                   "import nnref\n"
                   "for call in (lambda: nnref.to_torch([nnref.ReLU()]), lambda: nnref.from_torch(None)):\n"
                   "    try:\n"
                   "        call()\n"
                   "    except ImportError as exc:\n"
                   "        print(exc)\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all("pip install nnref[torch]" in line for line in lines), proc.stdout


# --------------------------------------------------------------------------- models used below

def _model(dtype, loss: str, optimizer, *, regularize: bool = True, dropout: float = 0.0, seed: int = 0):
    """A small model with every layer kind in it, its data and its targets for ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((48, 5)).astype(dtype)
    reg = dict(weight_regularizer_l1=1e-3, weight_regularizer_l2=2e-3,
               bias_regularizer_l1=5e-4, bias_regularizer_l2=1e-3) if regularize else {}
    model = nnref.Model(log=None)
    model.add(nnref.Dense(5, 12, weight_scale=0.5, rng=seed + 1, **reg))
    model.add(nnref.ReLU())
    if dropout:
        model.add(nnref.Dropout(dropout, rng=seed))
    model.add(nnref.Dense(12, 8, weight_scale=0.5, rng=seed + 2, weight_regularizer_l2=4e-3 if regularize else 0))
    model.add(nnref.Sigmoid())
    if loss == "cce":
        model.add(nnref.Dense(8, 3, weight_scale=0.5, rng=seed + 3))
        model.add(nnref.Softmax())
        y = rng.integers(0, 3, len(X))
        objects = nnref.CategoricalCrossentropy(), nnref.CategoricalAccuracy()
    elif loss == "bce":
        model.add(nnref.Dense(8, 2, weight_scale=0.5, rng=seed + 3))
        model.add(nnref.Sigmoid())
        y = rng.integers(0, 2, (len(X), 2))
        objects = nnref.BinaryCrossentropy(), nnref.CategoricalAccuracy(binary=True)
    else:
        model.add(nnref.Dense(8, 2, weight_scale=0.5, rng=seed + 3))
        model.add(nnref.Linear())
        y = rng.standard_normal((len(X), 2)).astype(dtype)
        cls = nnref.MeanSquaredError if loss == "mse" else nnref.MeanAbsoluteError
        objects = cls(), nnref.RegressionAccuracy()
    model.set(loss=objects[0], optimizer=optimizer, accuracy=objects[1])
    model.finalize()
    return model, X, y


OPTIMIZERS = {
    "SGD": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2),
    "SGD-momentum": lambda: nnref.SGD(learning_rate=0.2, decay=1e-2, momentum=0.9),
    "Adagrad": lambda: nnref.Adagrad(learning_rate=0.1, decay=1e-2),
    "RMSprop": lambda: nnref.RMSprop(learning_rate=0.01, decay=1e-2, rho=0.95),
    "Adam": lambda: nnref.Adam(learning_rate=0.02, decay=1e-2, beta_1=0.85, beta_2=0.99),
}
LOSSES = ["cce", "bce", "mse", "mae"]


def _torch_step(tt, X, y) -> float:
    """One training step in PyTorch, as a PyTorch user writes it."""
    tt.optimizer.zero_grad()
    loss = tt.loss(tt.module(torch.from_numpy(X)), torch.from_numpy(np.asarray(y)))
    loss.backward()
    tt.optimizer.step()
    if tt.scheduler is not None:
        tt.scheduler.step()
    return float(loss.detach())


def _weight_gap(model, module) -> float:
    """Largest relative difference between nnref's and torch's weights and biases, layer by layer."""
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(model.trainable_layers)
    return max(max(_rel(lin.weight.T, layer.weights), _rel(lin.bias, layer.biases[0]))
               for lin, layer in zip(linears, model.trainable_layers))


# --------------------------------------------------------------------------- predictions

@_torch_test
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
def test_predictions_match(dtype, loss):
    """to_torch(model) predicts what model.predict does (every layer kind, dropout off), float32 and float64."""
    model, X, y = _model(dtype, loss, nnref.Adam(learning_rate=0.02), dropout=0.3)
    model.train(X, y, epochs=5)
    module = nnref.to_torch(model)
    assert not module.training
    assert next(module.parameters()).dtype == {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    theirs = module(torch.from_numpy(X))
    assert _rel(model.predict(X), theirs) <= TOL[dtype]



# --------------------------------------------------------------------------- continued training

@_torch_test
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_one_more_step_gives_the_same_weights(dtype, loss, opt):
    """Train in nnref, export with the optimizer state, one more step in each: the same weights."""
    model, X, y = _model(dtype, loss, OPTIMIZERS[opt]())
    model.train(X, y, epochs=N_TRAIN)
    tt = nnref.to_torch(model, training=True)
    assert tt.module.training
    assert _weight_gap(model, tt.module) == 0.0  # exported exactly
    model.train(X, y, epochs=1)
    _torch_step(tt, X, y)
    gap = _weight_gap(model, tt.module)
    assert gap <= TOL[dtype], f"{opt}, {loss}: relative weight difference {gap:.2e} after the extra step"


@_torch_test
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_an_untrained_model_starts_the_same_in_both(opt):
    """Exported before any step (empty optimizer state), three steps in each still agree (float64)."""
    model, X, y = _model(np.float64, "cce", OPTIMIZERS[opt]())
    tt = nnref.to_torch(model, training=True)
    for _ in range(3):
        model.train(X, y, epochs=1)
        _torch_step(tt, X, y)
    assert _weight_gap(model, tt.module) <= TOL[np.float64]


@_torch_test
@pytest.mark.parametrize("opt", ["SGD-momentum", "Adam"])
def test_a_saved_and_loaded_model_continues_in_torch(opt, tmp_path):
    """A model saved with its optimizer state and loaded back exports that state: the next steps agree."""
    model, X, y = _model(np.float64, "cce", OPTIMIZERS[opt]())
    model.train(X, y, epochs=N_TRAIN)
    model.save(tmp_path / "m.nnref")
    loaded = nnref.Model.load(tmp_path / "m.nnref", log=None)
    tt = nnref.to_torch(loaded, training=True)
    model.train(X, y, epochs=1)
    _torch_step(tt, X, y)
    assert _weight_gap(model, tt.module) <= TOL[np.float64]


@_torch_test
def test_dtype_argument_sets_the_torch_dtype():
    """to_torch(..., dtype=float64) of a float32 model gives float64 parameters holding the same values."""
    model, X, y = _model(np.float32, "mse", OPTIMIZERS["Adam"]())
    model.train(X, y, epochs=2)
    module = nnref.to_torch(model, dtype=np.float64)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert np.array_equal(module[0].weight.detach().numpy().T, model.trainable_layers[0].weights)
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        nnref.to_torch(model, dtype=np.int32)


@_torch_test
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("opt", ["SGD-momentum", "Adam", "RMSprop"])
def test_l2_in_the_loss_trains_the_same(dtype, opt):
    """With l2_as_weight_decay=False the L2 penalty moves into the loss; three more steps still agree."""
    model, X, y = _model(dtype, "cce", OPTIMIZERS[opt]())
    model.train(X, y, epochs=N_TRAIN)
    tt = nnref.to_torch(model, training=True, l2_as_weight_decay=False)
    assert all(group["weight_decay"] == 0 for group in tt.optimizer.param_groups)
    for _ in range(3):
        model.train(X, y, epochs=1)
        _torch_step(tt, X, y)
    assert _weight_gap(model, tt.module) <= TOL[dtype]


@_torch_test
def test_the_continued_step_is_sensitive_to_the_optimizer_state():
    """Control: a fresh torch Adam on the exported weights does not reproduce nnref's next step."""
    model, X, y = _model(np.float64, "cce", OPTIMIZERS["Adam"]())
    model.train(X, y, epochs=N_TRAIN)
    tt = nnref.to_torch(model, training=True)
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in tt.optimizer.param_groups]
    fresh = torch.optim.Adam(groups, lr=model.optimizer.current_learning_rate, betas=(0.85, 0.99), eps=1e-7)
    tt = tt._replace(optimizer=fresh, scheduler=None)
    model.train(X, y, epochs=1)
    _torch_step(tt, X, y)
    assert _weight_gap(model, tt.module) > 1e-4


@_torch_test
def test_sgd_momentum_with_decay_stays_equal_over_many_steps():
    """SGD with momentum and decay: the scheduler's buffer rescaling keeps 30 more steps equal (and is needed)."""
    gaps = {}
    for keep in (True, False):
        model, X, y = _model(np.float64, "mse", OPTIMIZERS["SGD-momentum"]())
        model.train(X, y, epochs=N_TRAIN)
        tt = nnref.to_torch(model, training=True)
        tt.scheduler.keep_velocity = keep
        for _ in range(30):
            model.train(X, y, epochs=1)
            _torch_step(tt, X, y)
        gaps[keep] = _weight_gap(model, tt.module)
    assert gaps[True] <= 1e-12
    assert gaps[False] > 1e-6  # PyTorch's own momentum buffer semantics drift from nnref's velocity


@_torch_test
@pytest.mark.parametrize("opt", ["SGD", "RMSprop", "Adam"])
def test_scheduler_follows_nnrefs_learning_rate(opt):
    """The scheduler's learning rates are nnref's current_learning_rate, step for step, bit for bit."""
    model, X, y = _model(np.float64, "mse", OPTIMIZERS[opt]())
    model.train(X, y, epochs=7)
    tt = nnref.to_torch(model, training=True)
    for _ in range(5):
        model.train(X, y, epochs=1)
        lr_used = tt.optimizer.param_groups[0]["lr"]
        _torch_step(tt, X, y)
        assert lr_used == model.optimizer.current_learning_rate


@_torch_test
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("weight_decay", [True, False])
def test_loss_value_is_nnrefs(loss, weight_decay):
    """The returned loss is nnref's data loss plus L1 penalties (plus L2 penalties without weight decay)."""
    model, X, y = _model(np.float64, loss, OPTIMIZERS["Adam"]())
    model.train(X, y, epochs=3)
    tt = nnref.to_torch(model, training=True, l2_as_weight_decay=weight_decay)
    data_loss = model.loss.calculate(model.predict(X), y)
    l1 = sum(layer.weight_regularizer_l1 * np.abs(layer.weights).sum()
             + layer.bias_regularizer_l1 * np.abs(layer.biases).sum() for layer in model.trainable_layers)
    l2 = sum(layer.weight_regularizer_l2 * (layer.weights ** 2).sum()
             + layer.bias_regularizer_l2 * (layer.biases ** 2).sum() for layer in model.trainable_layers)
    expected = data_loss + l1 + (0.0 if weight_decay else l2)
    theirs = tt.loss(tt.module.eval()(torch.from_numpy(X)), torch.from_numpy(np.asarray(y)))
    assert abs(float(theirs.detach()) - expected) <= 1e-12 * abs(expected)


@_torch_test
def test_l1_gradient_at_zero_is_plus_lambda():
    """The exported L1 term's gradient at a zero bias is +λ1, nnref's convention (abs would give 0)."""
    model, X, y = _model(np.float64, "mse", OPTIMIZERS["SGD"]())  # biases start at exactly 0
    tt = nnref.to_torch(model, training=True)
    bias = tt.module[0].bias
    tt.loss.penalty().backward()
    assert torch.all(bias.grad == model.trainable_layers[0].bias_regularizer_l1)


@_torch_test
def test_dropout_convention():
    """nn.Dropout gets p = nnref's rate (fraction dropped); both scale the kept values by 1/keep_prob."""
    layer = nnref.Dropout(0.3, rng=0)
    module = nnref.to_torch([layer])
    assert module[0].p == layer.rate == 0.3
    module.train()
    x = np.ones((400, 250))
    ours = layer.forward(x, training=True)
    theirs = module(torch.from_numpy(x)).numpy()
    for out in (ours, theirs):
        kept = out[out != 0]
        np.testing.assert_allclose(kept, 1 / layer.keep_prob, rtol=1e-15)
        assert abs((out == 0).mean() - 0.3) < 0.01  # 100,000 draws: the standard error is 0.0015
    assert np.array_equal(module.eval()(torch.from_numpy(x)).numpy(), x)


# --------------------------------------------------------------------------- refusals

@_torch_test
def test_to_torch_refuses_an_unknown_layer_by_name():
    """A layer with no PyTorch counterpart is refused with its type named."""
    class Swish:
        def forward(self, inputs, training=False):
            return inputs

        def backward(self, dvalues):
            return dvalues

    with pytest.raises(TypeError, match=r"Swish.*supported: Dense, ReLU"):
        nnref.to_torch([nnref.Dense(2, 2, rng=0), Swish()])
    with pytest.raises(TypeError, match=r"SoftmaxCategoricalCrossentropy"):
        nnref.to_torch([nnref.SoftmaxCategoricalCrossentropy()])


@_torch_test
def test_to_torch_training_needs_a_model_with_loss_and_optimizer():
    """training=True on bare layers, or on a Model without an optimizer, is a clear ValueError."""
    with pytest.raises(ValueError, match="loss and optimizer"):
        nnref.to_torch([nnref.Dense(2, 2, rng=0)], training=True)
    model = nnref.Model(log=None)
    model.add(nnref.Dense(2, 2, rng=0))
    model.finalize()
    with pytest.raises(ValueError, match="loss and optimizer"):
        nnref.to_torch(model, training=True)


@_torch_test
@pytest.mark.parametrize("bad, name", [
    (lambda nn: nn.Tanh(), "Tanh"),
    (lambda nn: nn.Conv1d(1, 1, 3), "Conv1d"),
    (lambda nn: nn.Linear(4, 3, bias=False), "no bias"),
    (lambda nn: nn.Softmax(dim=0), "dim 0"),
])
def test_from_torch_refuses_unsupported_modules_by_name(bad, name):
    """from_torch names the module it cannot translate and where it sits."""
    nn = torch.nn
    seq = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), bad(nn)))
    with pytest.raises(TypeError, match=rf"module 1\.1.*{name}"):
        nnref.from_torch(seq)


# --------------------------------------------------------------------------- from_torch

@_torch_test
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_round_trip_keeps_weights_and_predictions(dtype):
    """from_torch(to_torch(model)) has the very same weights and predictions as the model."""
    model, X, y = _model(dtype, "cce", OPTIMIZERS["Adam"](), dropout=0.2)
    model.train(X, y, epochs=2)  # the Model casts its parameters to the data's dtype
    back = nnref.from_torch(nnref.to_torch(model), log=None)
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in model.layers]
    assert back.layers[2].rate == 0.2
    for ours, theirs in zip(model.trainable_layers, back.trainable_layers):
        assert theirs.weights.dtype == dtype
        assert np.array_equal(ours.weights, theirs.weights) and np.array_equal(ours.biases, theirs.biases)
    assert np.array_equal(model.predict(X), back.predict(X))


@_torch_test
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_from_torch_predicts_what_torch_predicts(dtype_name):
    """A PyTorch-made Sequential (nested, Identity, Softmax(dim=-1)) predicts the same in nnref."""
    nn = torch.nn
    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(6, 10), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)), nn.Linear(10, 10),
                        nn.Sigmoid(), nn.Linear(10, 4), nn.Identity(), nn.Softmax(dim=-1)).to(dtype).eval()
    x = torch.randn(30, 6, dtype=dtype)
    model = nnref.from_torch(seq, log=None)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "ReLU", "Dropout", "Dense", "Sigmoid", "Dense", "Linear", "Softmax"]
    tol = TOL[getattr(np, dtype_name)]
    assert _rel(model.predict(x.numpy()), seq(x)) <= tol


@_torch_test
def test_from_torch_model_trains_after_set():
    """The model from_torch returns trains once a loss and optimizer are set."""
    model, X, y = _model(np.float64, "cce", OPTIMIZERS["Adam"]())
    back = nnref.from_torch(nnref.to_torch(model), log=None)
    back.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(learning_rate=0.05),
             accuracy=nnref.CategoricalAccuracy())
    history = back.train(X, y, epochs=30)
    assert history.loss[-1] < history.loss[0]


def _loss_and_accuracy_like(model):
    """Fresh loss and accuracy objects of the kinds ``model`` uses."""
    acc = model.accuracy
    accuracy = nnref.CategoricalAccuracy(binary=acc.binary) if isinstance(acc, nnref.CategoricalAccuracy) \
        else type(acc)()
    return type(model.loss)(), accuracy


@_torch_test
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", ["cce", "mse"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_training_goes_nnref_torch_nnref(dtype, loss, opt):
    """nnref → PyTorch (4 steps) → nnref (2 steps) ends where 6 steps in nnref alone end."""
    def fresh():
        model, X, y = _model(dtype, loss, OPTIMIZERS[opt](), regularize=False)
        for layer in model.trainable_layers:  # L2 only: it travels as weight_decay and back
            layer.weight_regularizer_l2 = layer.bias_regularizer_l2 = 2.0 ** -9
        model.train(X, y, epochs=N_TRAIN)
        return model, X, y

    alone, X, y = fresh()
    alone.train(X, y, epochs=6)
    model, _, _ = fresh()
    tt = nnref.to_torch(model, training=True)
    for _ in range(4):
        _torch_step(tt, X, y)
    back = nnref.from_torch(tt.module, optimizer=tt.optimizer, scheduler=tt.scheduler, log=None)
    back.set(loss=_loss_and_accuracy_like(model)[0], accuracy=_loss_and_accuracy_like(model)[1])
    assert type(back.optimizer) is type(model.optimizer)
    assert back.optimizer.iterations == N_TRAIN + 4
    assert back.trainable_layers[0].weight_regularizer_l2 == 2.0 ** -9
    back.train(X, y, epochs=2)
    gap = max(max(_rel(b.weights, a.weights), _rel(b.biases, a.biases))
              for a, b in zip(alone.trainable_layers, back.trainable_layers))
    assert gap <= TOL[dtype], f"{opt}, {loss}: relative weight difference {gap:.2e}"


@_torch_test
@pytest.mark.parametrize("make, match", [
    (lambda p: torch.optim.AdamW(p), "AdamW"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), "nesterov"),
    (lambda p: torch.optim.RMSprop(p, centered=True), "centered"),
    (lambda p: torch.optim.Adam(p, amsgrad=True), "amsgrad"),
    (lambda p: torch.optim.Adamax(p), "Adamax"),
    (lambda p: torch.optim.SGD([{"params": p[:2], "lr": 0.1}, {"params": p[2:], "lr": 0.2}]),
     "different learning rates"),
    (lambda p: torch.optim.Adam([{"params": p[:2], "eps": 1e-7}, {"params": p[2:], "eps": 1e-8}]), "eps"),
])
def test_from_torch_refuses_optimizers_nnref_cannot_be(make, match):
    """An optimizer setting with no nnref counterpart is refused, naming the setting."""
    nn = torch.nn
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises((TypeError, ValueError), match=match):
        nnref.from_torch(seq, optimizer=make(list(seq.parameters())))


@_torch_test
def test_from_torch_refuses_other_schedulers():
    """A scheduler other than InverseTimeDecay is refused by name."""
    nn = torch.nn
    seq = nn.Sequential(nn.Linear(3, 2))
    opt = torch.optim.Adam(seq.parameters())
    with pytest.raises(TypeError, match="StepLR"):
        nnref.from_torch(seq, optimizer=opt, scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=3))


# --------------------------------------------------------------------------- files and the CLI

def _saved_model(tmp_path: Path):
    model, X, y = _model(np.float32, "cce", OPTIMIZERS["Adam"]())
    model.train(X, y, epochs=3)
    path = tmp_path / "model.nnref"
    model.save(path)
    return model, X, path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "nnref.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@_torch_test
def test_cli_export_to_torch_writes_a_weights_only_state_dict(tmp_path, capsys):
    """`nnref export MODEL --to torch OUT.pt` writes a state_dict that torch.load(weights_only=True) reads."""
    from nnref.cli import main

    model, X, path = _saved_model(tmp_path)
    out = tmp_path / "model.pt"
    assert main(["export", str(path), "--to", "torch", str(out)]) == 0
    assert "Sequential" in capsys.readouterr().out
    state = torch.load(out, weights_only=True)
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    # a Sequential of the same layout, built by hand, takes the weights
    nn = torch.nn
    module = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 8), nn.Sigmoid(), nn.Linear(8, 3),
                           nn.Softmax(dim=1))
    module.load_state_dict(state)
    assert _rel(model.predict(X), module(torch.from_numpy(X))) <= TOL[np.float32]


def test_cli_export_help():
    """`nnref export --help` exits 0 and describes the command."""
    proc = _cli("export", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: nnref export")


def _onnx_ready() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return torch is not None


@_torch_test
@pytest.mark.slow
@pytest.mark.skipif(not _onnx_ready(), reason="onnx and onnxscript are not installed (pip install nnref[onnx])")
def test_cli_export_to_onnx_is_checked_and_predicts_the_same(tmp_path, capsys):
    """`--to onnx` writes a graph that passes onnx.checker and, run by onnx's reference evaluator, predicts the same."""
    from onnx.reference import ReferenceEvaluator

    from nnref.cli import main

    model, X, path = _saved_model(tmp_path)
    out = tmp_path / "model.onnx"
    assert main(["export", str(path), "--to", "onnx", str(out)]) == 0
    assert "onnx.checker" in capsys.readouterr().out
    (outputs,) = ReferenceEvaluator(str(out)).run(None, {"inputs": X[:7]})  # a batch size not traced
    assert _rel(outputs, model.predict(X[:7])) <= TOL[np.float32]


@_torch_test
def test_export_to_onnx_without_onnx_names_the_extra(tmp_path, monkeypatch, capsys):
    """Where onnx cannot be imported, export --to onnx exits 1 and names nnref[onnx]."""
    from nnref.cli import main

    _, _, path = _saved_model(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    assert main(["export", str(path), "--to", "onnx", str(tmp_path / "m.onnx")]) == 1
    assert "pip install nnref[onnx]" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_correspondence_table_lists_every_counterpart():
    """The page's table has one row per COUNTERPARTS entry, with the book's name beside nnref's."""
    table = torch_bridge.correspondence_markdown()
    for c in torch_bridge.COUNTERPARTS:
        assert f"`{c.nnref_class.__name__}`" in table
    assert "| `Layer_Dense` | `Dense` | `nn.Linear(n_inputs, n_neurons)` |" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(torch_bridge.COUNTERPARTS) + len(torch_bridge.REGULARIZATION_NOTES)
