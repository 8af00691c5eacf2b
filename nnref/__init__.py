"""nnref: a tested reference implementation of *Neural Networks from Scratch in Python*.

``import nnref`` gives the library under PEP 8 names (``nnref.Dense``,
``nnref.Adam``); ``from nnref.book import *`` gives the same objects under the
book's names (``Layer_Dense``, ``Optimizer_Adam``). ``nnref.book_mode()``
reproduces the book's printed numbers inside a ``with`` block.

Randomness, everywhere in nnref, is chosen with one keyword, ``rng``: ``None``
draws from numpy's global generator (what ``nnfs.init()`` seeds, so the book's
numbers come out; the default of ``Dense`` and ``Dropout``), an ``int`` is a
seed, and a ``numpy.random.Generator`` is used as it is (``Dense``,
``Dropout``, ``data.load_digits``, ``gradcheck.check_layer``).
"""
from __future__ import annotations

from ._validate import CallOrderError
from .accuracy import Accuracy, CategoricalAccuracy, RegressionAccuracy, categorical_accuracy
from .activations import Linear, ReLU, Sigmoid, Softmax, softmax_backward_loop
from .layers import Dense, Dropout, Input
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SigmoidBinaryCrossentropy,
    SoftmaxCategoricalCrossentropy,
)
from .model import History, Metrics, Model, TrainingDivergedError
from .optimizers import SGD, Adagrad, Adam, Optimizer, RMSprop
from .persistence import ModelFileError, load_model, load_parameters, save_model, save_parameters
from .persistence import _register_model_class
from . import data  # nnref.data.load_digits etc.; Pillow and scikit-learn are imported lazily
from .repro import book_mode
from ._version import __version__
from .torch_bridge import from_torch, to_torch  # PyTorch is imported only when they are called

# persistence never imports nnref.model (model imports persistence): hand it the class it builds.
_register_model_class(Model)
del _register_model_class

__all__ = [
    "Accuracy",
    "Adagrad",
    "Adam",
    "BinaryCrossentropy",
    "CallOrderError",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "Dense",
    "Dropout",
    "History",
    "Input",
    "Linear",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metrics",
    "Model",
    "ModelFileError",
    "Optimizer",
    "RMSprop",
    "ReLU",
    "RegressionAccuracy",
    "SGD",
    "Sigmoid",
    "SigmoidBinaryCrossentropy",
    "Softmax",
    "SoftmaxCategoricalCrossentropy",
    "TrainingDivergedError",
    "book_mode",
    "categorical_accuracy",
    "from_torch",
    "load_model",
    "load_parameters",
    "save_model",
    "save_parameters",
    "softmax_backward_loop",
    "to_torch",
]
