"""The chapter registry: which book chapter introduces which nnref objects.

This list is the single source for the chapter map on the site's home page,
for ``nnref chapters`` on the command line, and for the tests that check every
chapter has its page and every listed object exists.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chapter", "CHAPTERS", "chapter"]


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book and what it contributes to nnref."""

    number: int
    title: str
    slug: str
    #: Dotted names, relative to the ``nnref`` package, of the objects the chapter introduces.
    objects: tuple[str, ...] = ()

    @property
    def page(self) -> str:
        """Path of the chapter's page, relative to ``docs/``."""
        return f"chapters/{self.number:02d}-{self.slug}.md"


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(1, "Introducing Neural Networks", "introducing-neural-networks"),
    Chapter(2, "Coding Our First Neurons", "coding-our-first-neurons"),
    Chapter(3, "Adding Layers", "adding-layers", ("layers.Dense", "data.spiral_data", "repro.book_mode")),
    Chapter(4, "Activation Functions", "activation-functions", ("activations.ReLU", "activations.Softmax")),
    Chapter(5, "Calculating Network Error with Loss", "calculating-network-error-with-loss",
            ("losses.Loss", "losses.CategoricalCrossentropy", "accuracy.categorical_accuracy")),
    Chapter(6, "Introducing Optimization", "introducing-optimization", ("data.vertical_data",)),
    Chapter(7, "Derivatives", "derivatives"),
    Chapter(8, "Gradients, Partial Derivatives, and the Chain Rule", "gradients-partial-derivatives-and-the-chain-rule"),
    Chapter(9, "Backpropagation", "backpropagation",
            ("losses.SoftmaxCategoricalCrossentropy", "activations.softmax_backward_loop",
             "gradcheck.check_layer")),
    Chapter(10, "Optimizers", "optimizers",
            ("optimizers.Optimizer", "optimizers.SGD", "optimizers.Adagrad", "optimizers.RMSprop", "optimizers.Adam")),
    Chapter(11, "Testing with Out-of-Sample Data", "testing-with-out-of-sample-data"),
    Chapter(12, "Validation Data", "validation-data"),
    Chapter(13, "Training Dataset", "training-dataset"),
    Chapter(14, "L1 and L2 Regularization", "l1-and-l2-regularization"),
    Chapter(15, "Dropout", "dropout", ("layers.Dropout",)),
    Chapter(16, "Binary Logistic Regression", "binary-logistic-regression",
            ("activations.Sigmoid", "losses.BinaryCrossentropy", "losses.SigmoidBinaryCrossentropy")),
    Chapter(17, "Regression", "regression",
            ("activations.Linear", "losses.MeanSquaredError", "losses.MeanAbsoluteError",
             "accuracy.RegressionAccuracy", "data.sine_data")),
    Chapter(18, "Model Object", "model-object",
            ("model.Model", "layers.Input", "accuracy.Accuracy", "accuracy.CategoricalAccuracy")),
    Chapter(19, "A Real Dataset", "a-real-dataset", ("data.load_fashion_mnist", "data.load_digits")),
    Chapter(20, "Model Evaluation", "model-evaluation"),
    Chapter(21, "Saving and Loading Models and Their Parameters", "saving-and-loading-models-and-their-parameters",
            ("persistence.save_model", "persistence.load_model")),
    Chapter(22, "Prediction / Inference", "prediction-inference", ("data.prepare_image",)),
)


def chapter(number: int) -> Chapter:
    """The chapter with this number (1–22)."""
    for ch in CHAPTERS:
        if ch.number == number:
            return ch
    raise ValueError(f"chapter: the book has chapters 1 to {len(CHAPTERS)}, got {number!r}")
