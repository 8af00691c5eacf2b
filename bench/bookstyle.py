"""The baseline of the benchmark: numpy code written the way the book writes it.

This is *our own* code, not the book's listings, but it keeps every habit of
the book's implementation that costs time, so that the benchmark measures what
a learner who follows the book gets:

* parameters start as ``0.01 * np.random.randn(...)`` (float64), so a float32
  batch is promoted to float64 at the first ``np.dot``;
* every layer computes ``dinputs``, including the first one;
* ReLU copies its gradient and then zeroes entries;
* the combined softmax + cross-entropy backward indexes with ``range(N)``;
* Adam builds fresh arrays for every intermediate and stores its state on the
  layers;
* each step computes the loss (with the regularization sum) and the accuracy,
  as the chapter 19 ``Model.train`` does.

Used only by ``bench/run.py``; nothing in ``nnref`` imports it.
"""
from __future__ import annotations

import numpy as np


class BookDense:
    """Dense layer with float64 parameters and an always-computed input gradient."""

    def __init__(self, n_inputs: int, n_neurons: int, rng: np.random.Generator) -> None:
        self.weights = 0.01 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))
        self.weight_regularizer_l1 = self.weight_regularizer_l2 = 0.0
        self.bias_regularizer_l1 = self.bias_regularizer_l2 = 0.0

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class BookReLU:
    """ReLU whose backward copies the gradient and zeroes the negative inputs."""

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class BookSoftmaxCCE:
    """Softmax, cross-entropy on clipped probabilities, and the combined backward."""

    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        losses = -np.log(clipped[range(len(clipped)), y_true])
        return np.mean(losses)

    def backward(self, dvalues, y_true):
        n_samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(n_samples), y_true] -= 1
        self.dinputs = self.dinputs / n_samples


class BookAdam:
    """Adam with per-step decay; state lives on the layers, every step allocates."""

    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        self.learning_rate = learning_rate
        self.current_learning_rate = learning_rate
        self.decay = decay
        self.iterations = 0
        self.epsilon = epsilon
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_momentums = np.zeros_like(layer.weights)
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_momentums = np.zeros_like(layer.biases)
            layer.bias_cache = np.zeros_like(layer.biases)
        b1, b2, t = self.beta_1, self.beta_2, self.iterations + 1
        layer.weight_momentums = b1 * layer.weight_momentums + (1 - b1) * layer.dweights
        layer.bias_momentums = b1 * layer.bias_momentums + (1 - b1) * layer.dbiases
        weight_momentums_hat = layer.weight_momentums / (1 - b1**t)
        bias_momentums_hat = layer.bias_momentums / (1 - b1**t)
        layer.weight_cache = b2 * layer.weight_cache + (1 - b2) * layer.dweights**2
        layer.bias_cache = b2 * layer.bias_cache + (1 - b2) * layer.dbiases**2
        weight_cache_hat = layer.weight_cache / (1 - b2**t)
        bias_cache_hat = layer.bias_cache / (1 - b2**t)
        layer.weights += -self.current_learning_rate * weight_momentums_hat / (
            np.sqrt(weight_cache_hat) + self.epsilon)
        layer.biases += -self.current_learning_rate * bias_momentums_hat / (
            np.sqrt(bias_cache_hat) + self.epsilon)

    def post_update_params(self):
        self.iterations += 1


class BookMLP:
    """Dense → ReLU → … → Dense → softmax + CCE, trained the chapter 19 way."""

    def __init__(self, sizes, *, learning_rate=0.001, decay=0.0, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(BookDense(n_in, n_out, rng))
            if i < len(sizes) - 2:
                self.layers.append(BookReLU())
        self.dense_layers = [layer for layer in self.layers if isinstance(layer, BookDense)]
        self.loss = BookSoftmaxCCE()
        self.optimizer = BookAdam(learning_rate=learning_rate, decay=decay)

    def step(self, X, y):
        """One forward, backward and update on a batch; returns (loss, accuracy)."""
        inputs = X
        for layer in self.layers:
            layer.forward(inputs)
            inputs = layer.output
        data_loss = self.loss.forward(inputs, y)
        # the chapter 19 Model asks every layer for its penalty each step; with all
        # four lambdas at 0 that costs only the checks
        regularization_loss = 0.0
        for layer in self.dense_layers:
            for lam in (layer.weight_regularizer_l1, layer.weight_regularizer_l2,
                        layer.bias_regularizer_l1, layer.bias_regularizer_l2):
                if lam > 0:  # pragma: no cover - the benchmark trains without penalties
                    regularization_loss += lam * np.sum(np.abs(layer.weights))
        predictions = np.argmax(self.loss.output, axis=1)
        accuracy = np.mean(predictions == y)
        self.loss.backward(self.loss.output, y)
        dvalues = self.loss.dinputs
        for layer in reversed(self.layers):
            layer.backward(dvalues)
            dvalues = layer.dinputs
        self.optimizer.pre_update_params()
        for layer in self.dense_layers:
            self.optimizer.update_params(layer)
        self.optimizer.post_update_params()
        return data_loss + regularization_loss, accuracy

    def train_epoch(self, X, y, batch_size):
        """One pass over the data in order, as the chapter 19 Model does without shuffling."""
        n_steps = -(-len(X) // batch_size)
        losses, accuracies = 0.0, 0.0
        for step in range(n_steps):
            batch_X = X[step * batch_size:(step + 1) * batch_size]
            batch_y = y[step * batch_size:(step + 1) * batch_size]
            loss, accuracy = self.step(batch_X, batch_y)
            losses += loss * len(batch_X)
            accuracies += accuracy * len(batch_X)
        return losses / len(X), accuracies / len(X)
