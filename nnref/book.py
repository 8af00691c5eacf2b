"""The book's names for nnref's objects, so a listing of the book runs unchanged.

Replace a listing's class definitions with ``from nnref.book import *`` and the
rest of the listing runs as printed. Each name below is the *same object* as
the nnref class (``Layer_Dense is nnref.Dense``), not a copy, so what the tests
prove about nnref holds for the book's names too. Where our behaviour differs
from the book's code, the docstring of the nnref class says so and the
"Errata and deviations" page lists it.
"""
from __future__ import annotations

from .accuracy import Accuracy, CategoricalAccuracy, RegressionAccuracy
from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout, Input
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
)
from .model import Model
from .optimizers import SGD, Adagrad, Adam, RMSprop

# Chapters 3–9: layers, activations and losses
Layer_Dense = Dense
Activation_ReLU = ReLU
Activation_Softmax = Softmax
Loss_CategoricalCrossentropy = CategoricalCrossentropy
Activation_Softmax_Loss_CategoricalCrossentropy = SoftmaxCategoricalCrossentropy

# Chapter 10: optimizers
Optimizer_SGD = SGD
Optimizer_Adagrad = Adagrad
Optimizer_RMSprop = RMSprop
Optimizer_Adam = Adam

# Chapters 15–18: dropout, binary and regression outputs, the model's input layer
Layer_Dropout = Dropout
Layer_Input = Input
Activation_Sigmoid = Sigmoid
Activation_Linear = Linear
Loss_BinaryCrossentropy = BinaryCrossentropy
Loss_MeanSquaredError = MeanSquaredError
Loss_MeanAbsoluteError = MeanAbsoluteError
Accuracy_Categorical = CategoricalAccuracy
Accuracy_Regression = RegressionAccuracy

# Chapters 18–22: Model has the same name in the book (imported above).

__all__ = [
    "Layer_Dense",
    "Activation_ReLU",
    "Activation_Softmax",
    "Loss",
    "Loss_CategoricalCrossentropy",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Optimizer_SGD",
    "Optimizer_Adagrad",
    "Optimizer_RMSprop",
    "Optimizer_Adam",
    "Layer_Dropout",
    "Layer_Input",
    "Activation_Sigmoid",
    "Activation_Linear",
    "Loss_BinaryCrossentropy",
    "Loss_MeanSquaredError",
    "Loss_MeanAbsoluteError",
    "Accuracy",
    "Accuracy_Categorical",
    "Accuracy_Regression",
    "Model",
]
