"""Tests for nnref.persistence: round trips for every layer, loss, accuracy and optimizer; no pickle."""
from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnref
from nnref import persistence as P
from nnref.model import Model

RNG = np.random.default_rng(0)
X_CLS = RNG.standard_normal((60, 4))
Y_CLS = (X_CLS[:, 0] + X_CLS[:, 1] > 0).astype(int) + (X_CLS[:, 2] > 1).astype(int)
Y_BIN = (X_CLS[:, :2].sum(axis=1, keepdims=True) > 0).astype(int)
Y_REG = np.sin(X_CLS[:, :1])

OPTIMIZERS = {
    "sgd": lambda: nnref.SGD(learning_rate=0.5, decay=1e-2),
    "sgd_momentum": lambda: nnref.SGD(learning_rate=0.1, decay=1e-3, momentum=0.9),
    "adagrad": lambda: nnref.Adagrad(learning_rate=0.5, decay=1e-4, epsilon=1e-6),
    "rmsprop": lambda: nnref.RMSprop(learning_rate=0.01, decay=1e-4, epsilon=1e-7, rho=0.95),
    "adam": lambda: nnref.Adam(learning_rate=0.02, decay=1e-3, epsilon=1e-7, beta_1=0.85, beta_2=0.99),
}


def _regularized_dense(n_in, n_out, seed):
    return nnref.Dense(n_in, n_out, weight_scale=0.1, weight_regularizer_l1=1e-4, weight_regularizer_l2=5e-4,
                       bias_regularizer_l1=2e-4, bias_regularizer_l2=5e-4, rng=seed)


def _classifier(optimizer):
    m = Model(log=None)
    for layer in (_regularized_dense(4, 16, 1), nnref.ReLU(), nnref.Dropout(0.1), nnref.Dense(16, 3, rng=2),
                  nnref.Softmax()):
        m.add(layer)
    m.set(loss=nnref.CategoricalCrossentropy(), optimizer=optimizer, accuracy=nnref.CategoricalAccuracy())
    return m, Y_CLS


def _binary(optimizer):
    m = Model(log=None)
    for layer in (_regularized_dense(4, 8, 3), nnref.ReLU(), nnref.Dense(8, 1, rng=4), nnref.Sigmoid()):
        m.add(layer)
    m.set(loss=nnref.BinaryCrossentropy(), optimizer=optimizer, accuracy=nnref.CategoricalAccuracy(binary=True))
    return m, Y_BIN


def _regression(optimizer, loss):
    m = Model(log=None)
    for layer in (nnref.Dense(4, 8, weight_scale=0.1, rng=5), nnref.ReLU(), nnref.Dense(8, 8, rng=6),
                  nnref.ReLU(), nnref.Dropout(0.05), nnref.Dense(8, 1, weight_scale=0.1, rng=7), nnref.Linear()):
        m.add(layer)
    m.set(loss=loss, optimizer=optimizer, accuracy=nnref.RegressionAccuracy(precision_divisor=100))
    return m, Y_REG


BUILDERS = {
    "softmax_cce": _classifier,
    "sigmoid_bce": _binary,
    "linear_mse": lambda opt: _regression(opt, nnref.MeanSquaredError()),
    "linear_mae": lambda opt: _regression(opt, nnref.MeanAbsoluteError()),
}


def _trained(kind, opt_name, dtype=None):
    model, y = BUILDERS[kind](OPTIMIZERS[opt_name]())
    if dtype is not None:
        model.dtype = np.dtype(dtype)
    model.finalize()
    np.random.seed(11)  # dropout draws from numpy's global RNG
    model.train(X_CLS, y, epochs=6, batch_size=16)
    return model, y


def _describe(model):
    return [(type(layer).__name__, {k: v for k, v in vars(layer).items()
                                    if isinstance(v, (int, float, bool)) and not k.startswith("_")})
            for layer in model.layers]


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_round_trip_predictions_and_state(tmp_path, kind, opt_name):
    """Saving then loading gives identical predictions, metrics, hyperparameters and optimizer state."""
    model, y = _trained(kind, opt_name)
    path = tmp_path / "model.nnref"
    model.save(path)
    loaded = Model.load(path)
    np.testing.assert_array_equal(loaded.predict(X_CLS), model.predict(X_CLS))
    assert _describe(loaded) == _describe(model)
    assert type(loaded.loss) is type(model.loss) and type(loaded.accuracy) is type(model.accuracy)
    assert vars(loaded.accuracy).get("binary") == vars(model.accuracy).get("binary")
    assert getattr(loaded.accuracy, "precision", None) == getattr(model.accuracy, "precision", None)
    assert loaded.evaluate(X_CLS, y) == model.evaluate(X_CLS, y)
    opt, opt2 = model.optimizer, loaded.optimizer
    assert type(opt2) is type(opt)
    for attr in ("learning_rate", "decay", "iterations", "current_learning_rate", "momentum", "epsilon", "rho",
                 "beta_1", "beta_2"):
        assert getattr(opt2, attr, None) == getattr(opt, attr, None), attr
    for a, b in zip(model.trainable_layers, loaded.trainable_layers):
        st, st2 = opt.state(a), opt2.state(b)
        assert sorted(st) == sorted(st2)
        for key in st:
            np.testing.assert_array_equal(st2[key], st[key])


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_training_resumes_identically(tmp_path, kind):
    """A loaded model trains on exactly as the original does (Adam moments, step count, decay)."""
    model, y = _trained(kind, "adam")
    model.save(tmp_path / "m.nnref")
    loaded = Model.load(tmp_path / "m.nnref")
    loaded._log = None
    for m in (model, loaded):
        np.random.seed(12)
        m.train(X_CLS, y, epochs=3, batch_size=16)
    np.testing.assert_array_equal(loaded.predict(X_CLS), model.predict(X_CLS))


def test_float32_model_round_trip(tmp_path):
    """A float32 model loads as float32 with bit-identical predictions."""
    model, _ = _trained("softmax_cce", "adam", dtype=np.float32)
    assert model.layers[0].weights.dtype == np.float32
    model.save(tmp_path / "m.nnref")
    loaded = P.load_model(tmp_path / "m.nnref")
    assert loaded.layers[0].weights.dtype == np.float32 and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict(X_CLS), model.predict(X_CLS))


def test_model_without_optimizer_or_accuracy(tmp_path):
    """A model set with only a loss (as chapter 21 does for inference) saves and loads."""
    m = Model(log=None)
    m.add(nnref.Dense(4, 3, rng=0))
    m.add(nnref.Softmax())
    m.set(loss=nnref.CategoricalCrossentropy())
    m.finalize()
    m.save(tmp_path / "m.nnref")
    loaded = Model.load(tmp_path / "m.nnref")
    assert loaded.optimizer is None and loaded.accuracy is None
    np.testing.assert_array_equal(loaded.predict(X_CLS), m.predict(X_CLS))



def test_load_takes_the_models_log(tmp_path, capsys):
    """Model.load and load_model pass ``log`` to the loaded model: a callable gets its lines, None silences it, print is the default."""
    m = Model(log=None)
    m.add(nnref.Dense(4, 3, rng=0))
    m.add(nnref.Softmax())
    m.set(loss=nnref.CategoricalCrossentropy(), accuracy=nnref.CategoricalAccuracy())
    m.finalize()
    m.save(tmp_path / "m.nnref")
    lines = []
    Model.load(tmp_path / "m.nnref", log=lines.append).evaluate(X_CLS, Y_CLS)
    assert len(lines) == 1 and lines[0].startswith("validation, acc: ")
    P.load_model(tmp_path / "m.nnref", log=None).evaluate(X_CLS, Y_CLS)
    Model.load(tmp_path / "m.nnref", log=None).evaluate(X_CLS, Y_CLS)
    assert capsys.readouterr().out == ""
    Model.load(tmp_path / "m.nnref").evaluate(X_CLS, Y_CLS)
    assert capsys.readouterr().out == lines[0] + "\n"
    with pytest.raises(TypeError, match="log"):
        Model.load(tmp_path / "m.nnref", log="quiet")

def test_archive_layout_and_json(tmp_path):
    """The archive holds model.json (format, version, layers, loss, optimizer) and .npy arrays only."""
    model, _ = _trained("softmax_cce", "adam")
    model.save(tmp_path / "m.nnref")
    with zipfile.ZipFile(tmp_path / "m.nnref") as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("model.json"))
    assert names[0] == "model.json" and all(n.endswith(".npy") for n in names[1:])
    assert doc["format"] == "nnref-model" and doc["version"] == P.FORMAT_VERSION
    assert [layer["type"] for layer in doc["layers"]] == ["Dense", "ReLU", "Dropout", "Dense", "Softmax"]
    assert doc["layers"][0]["weight_regularizer_l2"] == 5e-4 and doc["layers"][2]["rate"] == 0.1
    assert doc["loss"] == {"type": "CategoricalCrossentropy"}
    assert doc["optimizer"]["type"] == "Adam" and doc["optimizer"]["iterations"] == 24


def test_save_is_deterministic_and_writes_only_the_target(tmp_path):
    """Saving twice gives identical bytes, and the folder holds only the target afterwards."""
    model, _ = _trained("sigmoid_bce", "rmsprop")
    model.save(tmp_path / "a.nnref")
    model.save(tmp_path / "b.nnref")
    assert (tmp_path / "a.nnref").read_bytes() == (tmp_path / "b.nnref").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nnref", "b.nnref"]


def test_load_does_not_touch_global_rng(tmp_path):
    """Loading builds layers without drawing from numpy's global random state."""
    model, _ = _trained("softmax_cce", "sgd")
    model.save(tmp_path / "m.nnref")
    np.random.seed(3)
    expected = np.random.rand(3)
    np.random.seed(3)
    Model.load(tmp_path / "m.nnref")
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_save_refuses_unknown_objects(tmp_path):
    """Layers, losses or optimizers nnref could not load back are refused at save time."""
    class MyLayer(nnref.ReLU):
        pass

    m = Model(log=None)
    m.add(nnref.Dense(4, 3, rng=0))
    m.add(MyLayer())
    m.set(loss=nnref.CategoricalCrossentropy())
    m.finalize()
    with pytest.raises(TypeError, match="MyLayer"):
        m.save(tmp_path / "m.nnref")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- parameters (.npz)
def test_parameters_round_trip(tmp_path):
    """save_parameters / load_parameters restore the weights into a fresh model of the same shape."""
    model, _ = _trained("softmax_cce", "adam")
    path = tmp_path / "params.anything"
    model.save_parameters(path)
    assert sorted(np.load(path, allow_pickle=False).files) == ["biases_0", "biases_1", "weights_0", "weights_1"]
    fresh, _ = _classifier(nnref.Adam())
    fresh.finalize()
    assert not np.array_equal(fresh.predict(X_CLS), model.predict(X_CLS))
    fresh.load_parameters(path)
    np.testing.assert_array_equal(fresh.predict(X_CLS), model.predict(X_CLS))
    # copies, not shared arrays
    fresh.layers[0].weights[...] = 0
    assert model.layers[0].weights.any()


def test_parameters_shape_mismatch_leaves_model_unchanged(tmp_path):
    """A parameter file for another architecture is refused and no layer is modified."""
    model, _ = _trained("softmax_cce", "adam")
    model.save_parameters(tmp_path / "p.npz")
    other = Model(log=None)
    for layer in (nnref.Dense(4, 16, rng=1), nnref.ReLU(), nnref.Dense(16, 2, rng=2), nnref.Softmax()):
        other.add(layer)
    other.set(loss=nnref.CategoricalCrossentropy())
    other.finalize()
    before = [w.copy() for w, _ in other.get_parameters()]
    with pytest.raises(P.ModelFileError, match=r"shape \(16, 3\).*\(16, 2\)"):
        other.load_parameters(tmp_path / "p.npz")
    for w, (w2, _) in zip(before, other.get_parameters()):
        np.testing.assert_array_equal(w, w2)


def test_parameters_missing_or_extra_arrays(tmp_path):
    """An .npz with a missing or an extra array names what does not fit."""
    model, _ = _trained("softmax_cce", "adam")
    w, b = model.layers[0].get_parameters()
    np.savez(tmp_path / "p.npz", weights_0=w, biases_0=b)
    with pytest.raises(P.ModelFileError, match="missing.*weights_1"):
        model.load_parameters(tmp_path / "p.npz")


class _Payload:
    """Unpickling this creates a marker directory: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_payload_really_runs_under_pickle(tmp_path):
    """Control: the crafted payload does create its marker when unpickled (so the refusals below mean something)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_pickle_parameter_file_refused(tmp_path):
    """The book's pickled parameter file (even renamed .npz) is refused and its payload never runs."""
    marker = tmp_path / "ran"
    model, _ = _trained("softmax_cce", "adam")
    path = tmp_path / "params.npz"
    path.write_bytes(pickle.dumps([_Payload(marker)]))
    with pytest.raises(P.ModelFileError, match="pickle"):
        model.load_parameters(path)
    with pytest.raises(P.ModelFileError, match="pickle"):
        Model.load(path)
    assert not marker.exists()


def test_object_array_in_npz_refused(tmp_path):
    """An .npz whose array is an object array (pickled inside) is refused; nothing runs."""
    marker = tmp_path / "ran"
    model, _ = _trained("softmax_cce", "adam")
    arrays = {f"{k}_{i}": v for i, (w, b) in enumerate(model.get_parameters()) for k, v in (("weights", w),
                                                                                            ("biases", b))}
    evil = np.empty((4, 16), dtype=object)
    evil[0, 0] = _Payload(marker)
    arrays["weights_0"] = evil
    np.savez(tmp_path / "p.npz", **arrays)
    with pytest.raises(P.ModelFileError, match="pickle"):
        model.load_parameters(tmp_path / "p.npz")
    assert not marker.exists()


def test_model_file_error_is_value_error():
    """ModelFileError subclasses ValueError, so callers catching bad input catch it too."""
    assert issubclass(P.ModelFileError, ValueError)


@pytest.mark.parametrize("loader", ["load_model", "Model.load", "load_parameters", "Model.load_parameters"])
def test_load_missing_file(tmp_path, loader):
    """A path that does not exist is a FileNotFoundError (not a ModelFileError) whose message holds the path."""
    path = tmp_path / "nope.nnref"
    model, _ = _classifier(nnref.Adam())
    model.finalize()
    call = {"load_model": lambda: P.load_model(path), "Model.load": lambda: Model.load(path, log=None),
            "load_parameters": lambda: P.load_parameters(model, path),
            "Model.load_parameters": lambda: model.load_parameters(path)}[loader]
    with pytest.raises(FileNotFoundError) as info:
        call()
    assert not isinstance(info.value, P.ModelFileError)
    assert str(path) in str(info.value)


def test_bad_content_is_still_a_model_file_error(tmp_path):
    """An existing file with wrong content stays a ModelFileError (a ValueError), not an OSError."""
    path = tmp_path / "junk.nnref"
    path.write_bytes(b"junk")
    with pytest.raises(P.ModelFileError) as info:
        P.load_model(path)
    assert not isinstance(info.value, OSError)


def test_npz_loaded_by_numpy_too(tmp_path):
    """The parameter file is a plain numpy archive readable with allow_pickle=False."""
    model, _ = _trained("linear_mse", "sgd")
    model.save_parameters(tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz", allow_pickle=False) as f:
        np.testing.assert_array_equal(f["weights_2"], model.layers[5].weights)


def test_json_is_readable_text(tmp_path):
    """model.json is indented UTF-8 JSON a person can read (no NaN or binary)."""
    model, _ = _trained("linear_mae", "adagrad")
    model.save(tmp_path / "m.nnref")
    with zipfile.ZipFile(tmp_path / "m.nnref") as zf:
        text = zf.read("model.json").decode("utf-8")
    assert '\n  "layers": [' in text and "NaN" not in text
    doc = json.load(io.StringIO(text))
    assert doc["accuracy"]["type"] == "RegressionAccuracy" and doc["loss"]["type"] == "MeanAbsoluteError"
