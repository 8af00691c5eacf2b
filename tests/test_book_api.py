"""The public API: what ``nnref`` and ``nnref.book`` export, and that the book's names are our objects."""
from __future__ import annotations

import importlib

import pytest

import nnref
import nnref.book as book

# The core of chapters 2-10 plus the later objects the core modules already hold.
CORE_ALL = {
    "Accuracy", "Adagrad", "Adam", "BinaryCrossentropy", "CallOrderError", "CategoricalAccuracy",
    "CategoricalCrossentropy", "Dense", "Dropout", "Input", "Linear", "Loss", "MeanAbsoluteError",
    "MeanSquaredError", "Optimizer", "RMSprop", "ReLU", "RegressionAccuracy", "SGD", "Sigmoid",
    "SigmoidBinaryCrossentropy", "Softmax", "SoftmaxCategoricalCrossentropy", "book_mode",
    "categorical_accuracy", "softmax_backward_loop",
}

# book name -> nnref name: the classes a chapter 2-10 listing (and the later chapters) define.
BOOK_NAMES = {
    "Layer_Dense": "Dense",
    "Activation_ReLU": "ReLU",
    "Activation_Softmax": "Softmax",
    "Loss": "Loss",
    "Loss_CategoricalCrossentropy": "CategoricalCrossentropy",
    "Activation_Softmax_Loss_CategoricalCrossentropy": "SoftmaxCategoricalCrossentropy",
    "Optimizer_SGD": "SGD",
    "Optimizer_Adagrad": "Adagrad",
    "Optimizer_RMSprop": "RMSprop",
    "Optimizer_Adam": "Adam",
    "Layer_Dropout": "Dropout",
    "Layer_Input": "Input",
    "Activation_Sigmoid": "Sigmoid",
    "Activation_Linear": "Linear",
    "Loss_BinaryCrossentropy": "BinaryCrossentropy",
    "Loss_MeanSquaredError": "MeanSquaredError",
    "Loss_MeanAbsoluteError": "MeanAbsoluteError",
    "Accuracy": "Accuracy",
    "Accuracy_Categorical": "CategoricalAccuracy",
    "Accuracy_Regression": "RegressionAccuracy",
}

# Modules of the later chapters (model, data, persistence) are added by other work;
# names they export may join the top-level and book namespaces, nothing else may.
LATER_MODULES = ("nnref.model", "nnref.data", "nnref.persistence", "nnref.torch_bridge")


def _later_names() -> set[str]:
    names: set[str] = set()
    for mod_name in LATER_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        names |= set(getattr(mod, "__all__", ()))
    return names


def test_nnref_all_is_the_core_plus_later_modules():
    """``nnref.__all__`` holds every core name and nothing beyond the later modules' own exports."""
    exported = set(nnref.__all__)
    assert CORE_ALL <= exported, f"missing from nnref.__all__: {sorted(CORE_ALL - exported)}"
    extra = exported - CORE_ALL
    assert extra <= _later_names(), f"unexpected names in nnref.__all__: {sorted(extra - _later_names())}"


def test_nnref_all_has_no_duplicates_and_every_name_resolves():
    """Each name in ``nnref.__all__`` appears once and is an attribute of the package."""
    assert len(nnref.__all__) == len(set(nnref.__all__))
    for name in nnref.__all__:
        assert hasattr(nnref, name), name


def test_star_import_gives_exactly_all():
    """``from nnref import *`` binds exactly the names of ``nnref.__all__``."""
    ns: dict = {}
    exec("from nnref import *", ns)
    assert set(ns) - {"__builtins__"} == set(nnref.__all__)


def test_book_all_is_the_book_names():
    """``nnref.book.__all__`` is the book's class names (plus the later chapters' names, if present)."""
    exported = set(book.__all__)
    assert set(BOOK_NAMES) <= exported, f"missing from nnref.book.__all__: {sorted(set(BOOK_NAMES) - exported)}"
    extra = exported - set(BOOK_NAMES)
    assert extra <= _later_names() | {"Model"}, f"unexpected names in nnref.book.__all__: {sorted(extra)}"
    assert len(book.__all__) == len(exported)


@pytest.mark.parametrize("book_name, ours", sorted(BOOK_NAMES.items()))
def test_book_names_are_the_same_objects(book_name, ours):
    """Each book name is the very nnref object (identity, not a subclass or copy)."""
    assert getattr(book, book_name) is getattr(nnref, ours)


def test_book_star_import_binds_only_book_names():
    """``from nnref.book import *`` binds the book's names and leaks no PEP 8 names into a listing."""
    ns: dict = {}
    exec("from nnref.book import *", ns)
    bound = set(ns) - {"__builtins__"}
    assert bound == set(book.__all__)
    assert "Dense" not in bound and "np" not in bound


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Layer_Dense", dict(n_inputs=2, n_neurons=3, weight_regularizer_l1=0, weight_regularizer_l2=5e-4,
                             bias_regularizer_l1=0, bias_regularizer_l2=5e-4)),
        ("Layer_Dropout", dict(rate=0.1)),
        ("Optimizer_SGD", dict(learning_rate=1.0, decay=1e-3, momentum=0.9)),
        ("Optimizer_Adagrad", dict(learning_rate=1.0, decay=1e-4, epsilon=1e-7)),
        ("Optimizer_RMSprop", dict(learning_rate=0.02, decay=1e-5, epsilon=1e-7, rho=0.999)),
        ("Optimizer_Adam", dict(learning_rate=0.05, decay=5e-7, epsilon=1e-7, beta_1=0.9, beta_2=0.999)),
    ],
)
def test_book_constructor_keywords_are_accepted(name, kwargs):
    """The keyword arguments the book's listings pass are accepted under the book's names."""
    obj = getattr(book, name)(**kwargs)
    for key, value in kwargs.items():
        if key not in ("n_inputs", "n_neurons", "rate"):
            assert getattr(obj, key) == value


def test_book_attributes_used_by_listings_exist():
    """The attributes chapter 10's loop reads (``current_learning_rate``, ``iterations``, ``dinputs``) exist."""
    opt = book.Optimizer_Adam(learning_rate=0.05, decay=5e-7)
    assert opt.current_learning_rate == 0.05 and opt.iterations == 0
    combined = book.Activation_Softmax_Loss_CategoricalCrossentropy()
    assert combined.output is None and combined.dinputs is None
    for method in ("pre_update_params", "update_params", "post_update_params"):
        assert callable(getattr(opt, method))
