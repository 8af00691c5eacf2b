"""Bad input raises ValueError/TypeError naming the object, what it expected and what it got."""
from __future__ import annotations

import numpy as np
import pytest

import nnref
from nnref import CallOrderError

X = np.arange(12, dtype=float).reshape(4, 3) / 10


def _raises(exc, *fragments):
    """pytest.raises whose message must contain every fragment (regex-escaped)."""
    import re

    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=re.compile(pattern, re.S))


# ---------------------------------------------------------------- shapes between layers
def test_wrong_feature_count_between_layers():
    """A (4, 3) batch into Dense(2, ...) names the layer, the 2 features expected and the shape received."""
    with _raises(ValueError, "Dense.forward", "2 features", "(4, 3)"):
        nnref.Dense(2, 5, rng=0).forward(X)


def test_chained_layers_with_mismatched_sizes():
    """Dense(3, 4) followed by Dense(5, 2) fails at the second layer with both numbers in the message."""
    first, second = nnref.Dense(3, 4, rng=0), nnref.Dense(5, 2, rng=0)
    first.forward(X)
    with _raises(ValueError, "Dense.forward", "5 features", "(4, 4)"):
        second.forward(first.output)


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((2, 3, 1))])
def test_dense_rejects_non_matrix_inputs(bad):
    """Dense wants a 2-D batch; 1-D and 3-D inputs are rejected with their shape."""
    with _raises(ValueError, "Dense.forward", "2-D", str(bad.shape)):
        nnref.Dense(3, 2, rng=0).forward(bad)


def test_dense_backward_dvalues_shape():
    """dvalues of the wrong shape are named against the output's shape."""
    layer = nnref.Dense(3, 2, rng=0)
    layer.forward(X)
    with _raises(ValueError, "Dense.backward", "(4, 2)", "(4, 3)"):
        layer.backward(np.ones((4, 3)))


@pytest.mark.parametrize("cls", [nnref.ReLU, nnref.Softmax, nnref.Sigmoid, nnref.Linear])
def test_activation_backward_dvalues_shape(cls):
    """An activation rejects dvalues whose shape is not its output's."""
    act = cls()
    act.forward(X)
    with _raises(ValueError, f"{cls.__name__}.backward", "(4, 3)", "(4, 2)"):
        act.backward(np.ones((4, 2)))


def test_set_parameters_wrong_shape():
    """set_parameters names the expected and received shapes."""
    layer = nnref.Dense(3, 2, rng=0)
    with _raises(ValueError, "Dense.set_parameters", "(3, 2)", "(2, 3)"):
        layer.set_parameters(np.ones((2, 3)), np.zeros((1, 2)))
    with _raises(ValueError, "Dense.set_parameters", "(1, 2)", "(1, 3)"):
        layer.set_parameters(np.ones((3, 2)), np.zeros((1, 3)))


# ---------------------------------------------------------------- call order
@pytest.mark.parametrize(
    "obj, name",
    [(nnref.Dense(3, 2, rng=0), "Dense"), (nnref.Dropout(0.5, rng=0), "Dropout"), (nnref.ReLU(), "ReLU"),
     (nnref.Softmax(), "Softmax"), (nnref.Sigmoid(), "Sigmoid"), (nnref.Linear(), "Linear")],
)
def test_backward_before_forward(obj, name):
    """backward before forward raises CallOrderError (a ValueError) naming the object."""
    with _raises(CallOrderError, f"{name}.backward", "before", f"{name}.forward"):
        obj.backward(np.ones((4, 2)))
    assert issubclass(CallOrderError, ValueError)


@pytest.mark.parametrize("opt", [nnref.SGD(), nnref.SGD(momentum=0.9), nnref.Adagrad(), nnref.RMSprop(), nnref.Adam()])
def test_update_before_backward(opt):
    """An optimizer step on a layer without gradients names the optimizer and the layer."""
    layer = nnref.Dense(3, 2, rng=0)
    with _raises(CallOrderError, f"{type(opt).__name__}.update_params", "Dense(3, 2)", "backward"):
        opt.update_params(layer)


@pytest.mark.parametrize("layer", [nnref.ReLU(), nnref.Dropout(0.1), nnref.Input()])
def test_update_non_trainable_layer(layer):
    """Handing a layer without weights to an optimizer is a TypeError naming the layer."""
    with _raises(TypeError, "SGD.update_params", repr(layer), "trainable"):
        nnref.SGD().update_params(layer)


# ---------------------------------------------------------------- labels
LOSS_LABEL_CALLS = [
    ("CategoricalCrossentropy.forward", lambda y: nnref.CategoricalCrossentropy().forward(np.full((4, 3), 1 / 3), y)),
    ("CategoricalCrossentropy.backward", lambda y: nnref.CategoricalCrossentropy().backward(np.full((4, 3), 1 / 3), y)),
    ("SoftmaxCategoricalCrossentropy.backward",
     lambda y: nnref.SoftmaxCategoricalCrossentropy().backward(np.full((4, 3), 1 / 3), y)),
    ("categorical_accuracy", lambda y: nnref.categorical_accuracy(np.full((4, 3), 1 / 3), y)),
]


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_label_out_of_range(owner, call):
    """Label 3 with 3 classes: the message gives the valid range and the values received."""
    with _raises(ValueError, owner, "[0, 2]", "3"):
        call(np.array([0, 1, 2, 3]))


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_label_negative(owner, call):
    """A negative label is out of range, not an index from the end."""
    with _raises(ValueError, owner, "[0, 2]", "-1"):
        call(np.array([0, -1, 2, 1]))


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_label_fractional(owner, call):
    """Fractional labels are rejected instead of truncated."""
    with _raises(ValueError, owner, "whole numbers"):
        call(np.array([0.0, 1.5, 2.0, 1.0]))


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_label_count_differs_from_batch(owner, call):
    """Three labels for four samples: both counts appear in the message."""
    with _raises(ValueError, owner, "3 labels", "4 samples"):
        call(np.array([0, 1, 2]))


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_one_hot_wrong_width(owner, call):
    """One-hot rows with the wrong number of columns are named against the class count."""
    with _raises(ValueError, owner, "3 columns", "(4, 2)"):
        call(np.eye(2)[[0, 1, 0, 1]])


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_one_hot_values_outside_unit_interval(owner, call):
    """2-D targets must be one-hot or probability rows: a -1 or a 2 is named with the range found."""
    y = np.eye(3)[[0, 1, 2, 0]]
    y[1, 1] = 2.0
    y[2, 0] = -1.0
    with _raises(ValueError, owner, "[0, 1]", "-1.0", "2.0"):
        call(y)


@pytest.mark.parametrize("owner, call", LOSS_LABEL_CALLS, ids=[c[0] for c in LOSS_LABEL_CALLS])
def test_labels_of_wrong_type(owner, call):
    """String labels are a TypeError."""
    with _raises(TypeError, owner, "numbers"):
        call(np.array(["a", "b", "c", "a"]))


@pytest.mark.parametrize("cls", [nnref.MeanSquaredError, nnref.MeanAbsoluteError, nnref.BinaryCrossentropy])
def test_elementwise_loss_target_shape(cls):
    """(N,) targets for (N, 1) predictions are rejected instead of broadcast to (N, N)."""
    with _raises(ValueError, f"{cls.__name__}.forward", "(4, 1)", "(4,)"):
        cls().forward(np.full((4, 1), 0.5), np.array([0.0, 1.0, 0.0, 1.0]))


@pytest.mark.parametrize("cls", [nnref.BinaryCrossentropy, nnref.SigmoidBinaryCrossentropy])
def test_binary_targets_outside_unit_interval(cls):
    """Binary targets outside [0, 1] are named with their range."""
    obj = cls()
    call = obj.backward if cls is nnref.SigmoidBinaryCrossentropy else obj.forward
    with _raises(ValueError, cls.__name__, "[0, 1]", "2"):
        call(np.full((2, 1), 0.5), np.array([[0.0], [2.0]]))


def test_categorical_accuracy_class_shape_mismatch():
    """Accuracy_Categorical without binary=True refuses (N,1) predictions against (N,) targets."""
    with _raises(ValueError, "CategoricalAccuracy.compare", "binary=True"):
        nnref.CategoricalAccuracy().calculate(np.zeros((4, 1)), np.zeros((4, 1)))


def test_regression_accuracy_before_init():
    """RegressionAccuracy needs init(y) before compare."""
    with _raises(ValueError, "RegressionAccuracy.compare", "init"):
        nnref.RegressionAccuracy().calculate(np.zeros((3, 1)), np.zeros((3, 1)))


# ---------------------------------------------------------------- NaN, inf, empty, types
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
@pytest.mark.parametrize(
    "name, call",
    [
        ("Dense.forward", lambda x: nnref.Dense(3, 2, rng=0).forward(x)),
        ("ReLU.forward", lambda x: nnref.ReLU().forward(x)),
        ("Softmax.forward", lambda x: nnref.Softmax().forward(x)),
        ("Sigmoid.forward", lambda x: nnref.Sigmoid().forward(x)),
        ("Dropout.forward", lambda x: nnref.Dropout(0.5, rng=0).forward(x)),
        ("CategoricalCrossentropy.forward", lambda x: nnref.CategoricalCrossentropy().forward(x, [0, 1, 2, 0])),
        ("MeanSquaredError.forward", lambda x: nnref.MeanSquaredError().forward(x, np.zeros((4, 3)))),
    ],
)
def test_non_finite_inputs(name, call, value, word):
    """NaN and ±inf inputs are rejected with the object's name and what was found."""
    bad = X.copy()
    bad[1, 2] = value
    with _raises(ValueError, name, word):
        call(bad)


def test_non_finite_dvalues():
    """A NaN gradient arriving at backward is rejected."""
    layer = nnref.Dense(3, 2, rng=0)
    layer.forward(X)
    g = np.ones((4, 2))
    g[0, 0] = np.nan
    with _raises(ValueError, "Dense.backward", "dvalues", "NaN"):
        layer.backward(g)


@pytest.mark.parametrize(
    "name, call",
    [
        ("Dense.forward", lambda: nnref.Dense(3, 2, rng=0).forward(np.empty((0, 3)))),
        ("ReLU.forward", lambda: nnref.ReLU().forward(np.empty((0, 3)))),
        ("Softmax.forward", lambda: nnref.Softmax().forward(np.empty((0, 3)))),
        ("CategoricalCrossentropy.forward",
         lambda: nnref.CategoricalCrossentropy().forward(np.empty((0, 3)), np.empty(0, dtype=int))),
        ("SoftmaxCategoricalCrossentropy.backward",
         lambda: nnref.SoftmaxCategoricalCrossentropy().backward(np.empty((0, 3)), np.empty(0, dtype=int))),
        ("MeanAbsoluteError.backward", lambda: nnref.MeanAbsoluteError().backward(np.empty((0, 1)), np.empty((0, 1)))),
    ],
)
def test_empty_batch(name, call):
    """An empty batch is an error with the object's name and the shape, not a nan mean."""
    with _raises(ValueError, name, "empty batch", "(0,"):
        call()


def test_non_numeric_inputs():
    """String data and ragged lists are TypeErrors naming the layer."""
    with _raises(TypeError, "Dense.forward", "real numbers"):
        nnref.Dense(3, 2, rng=0).forward(np.array([["a", "b", "c"]]))
    with _raises(TypeError, "ReLU.forward", "array-like"):
        nnref.ReLU().forward([[1, 2], [3]])


def test_loss_accumulated_without_batches():
    """calculate_accumulated before any batch says so instead of dividing by zero."""
    with _raises(ValueError, "CategoricalCrossentropy.calculate_accumulated", "new_pass"):
        nnref.CategoricalCrossentropy().calculate_accumulated()
    with _raises(ValueError, "CategoricalAccuracy.calculate_accumulated"):
        nnref.CategoricalAccuracy().calculate_accumulated()


# ---------------------------------------------------------------- hyperparameters
@pytest.mark.parametrize("n_in, n_out, name, exc", [
    (0, 3, "n_inputs", ValueError), (-2, 3, "n_inputs", ValueError), (2, 0, "n_neurons", ValueError),
    (2.5, 3, "n_inputs", TypeError), (2, "3", "n_neurons", TypeError), (True, 3, "n_inputs", TypeError),
])
def test_dense_sizes(n_in, n_out, name, exc):
    """Layer sizes must be positive integers; the message names the argument and the value."""
    with _raises(exc, "Dense", name, "positive integer"):
        nnref.Dense(n_in, n_out)


@pytest.mark.parametrize("kwarg, value, exc", [
    ("weight_scale", 0.0, ValueError), ("weight_scale", -0.1, ValueError),
    ("weight_regularizer_l1", -1e-4, ValueError), ("weight_regularizer_l2", -1e-4, ValueError),
    ("bias_regularizer_l1", -1.0, ValueError), ("bias_regularizer_l2", float("nan"), ValueError),
    ("weight_regularizer_l2", "5e-4", TypeError), ("rng", "seed", TypeError),
])
def test_dense_hyperparameters(kwarg, value, exc):
    """Negative, zero (scale), non-finite or non-numeric Dense settings are rejected by name."""
    with _raises(exc, "Dense", kwarg):
        nnref.Dense(2, 3, **{kwarg: value})


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate(rate):
    """Dropout rate must lie in [0, 1): rate 1 would divide by a zero keep probability."""
    with _raises(ValueError, "Dropout", "rate", "[0, 1.0)", str(float(rate))):
        nnref.Dropout(rate)


@pytest.mark.parametrize("cls, kwargs, name", [
    (nnref.SGD, dict(learning_rate=-1.0), "learning_rate"),
    (nnref.SGD, dict(learning_rate=0.0), "learning_rate"),
    (nnref.SGD, dict(decay=-1e-3), "decay"),
    (nnref.SGD, dict(momentum=-0.5), "momentum"),
    (nnref.SGD, dict(momentum=1.0), "momentum"),
    (nnref.Adagrad, dict(learning_rate=-0.5), "learning_rate"),
    (nnref.Adagrad, dict(epsilon=0.0), "epsilon"),
    (nnref.RMSprop, dict(decay=-1e-4), "decay"),
    (nnref.RMSprop, dict(rho=1.0), "rho"),
    (nnref.RMSprop, dict(rho=-0.1), "rho"),
    (nnref.Adam, dict(learning_rate=float("inf")), "learning_rate"),
    (nnref.Adam, dict(beta_1=1.0), "beta_1"),
    (nnref.Adam, dict(beta_2=1.5), "beta_2"),
    (nnref.Adam, dict(epsilon=-1e-7), "epsilon"),
])
def test_optimizer_hyperparameters(cls, kwargs, name):
    """Invalid optimizer settings raise ValueError naming the optimizer, the setting and the value."""
    value = next(iter(kwargs.values()))
    with _raises(ValueError, cls.__name__, name, str(float(value))):
        cls(**kwargs)


def test_optimizer_hyperparameter_types():
    """A learning rate given as a string or a bool is a TypeError."""
    with _raises(TypeError, "Adam", "learning_rate", "str"):
        nnref.Adam(learning_rate="0.01")
    with _raises(TypeError, "SGD", "decay", "bool"):
        nnref.SGD(decay=True)


def test_regression_accuracy_divisor():
    """precision_divisor must be > 0."""
    with _raises(ValueError, "RegressionAccuracy", "precision_divisor", "> 0"):
        nnref.RegressionAccuracy(precision_divisor=0)
