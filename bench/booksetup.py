"""The book's own set-up, timed: chapter 10 and 16 loops after a bare ``nnfs.init()``.

A learner runs the book's listings with ``nnfs.init()`` at the top and the
classes taken from ``nnref.book``. This script does exactly that, in its own
process (the patch cannot be undone), and times each loop against the same
loop with book-style classes (our own code with the book's habits, defined
below) in alternating rounds. It prints one JSON object; ``bench/run.py book``
runs it and reports the ratios.

    python bench/booksetup.py [--epochs N] [--rounds R] [--without-input-tests]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import nnfs  # noqa: E402

nnfs.init()

import numpy as np  # noqa: E402
from nnfs.datasets import spiral_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnref import book  # noqa: E402


# ---------------------------------------------------------------- book-style classes (the book's habits)

class Dense:
    def __init__(self, n_in, n_out, l2=0.0):
        self.weights = 0.01 * np.random.randn(n_in, n_out)
        self.biases = np.zeros((1, n_out))
        self.l2 = l2

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        if self.l2 > 0:
            self.dweights += 2 * self.l2 * self.weights
            self.dbiases += 2 * self.l2 * self.biases
        self.dinputs = np.dot(dvalues, self.weights.T)


class ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Sigmoid:
    def forward(self, inputs):
        self.output = 1 / (1 + np.exp(-inputs))

    def backward(self, dvalues):
        self.dinputs = dvalues * (1 - self.output) * self.output


class SoftmaxCCE:
    def forward(self, inputs, y):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        return np.mean(-np.log(clipped[range(len(clipped)), y]))

    def backward(self, dvalues, y):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y] -= 1
        self.dinputs = self.dinputs / samples


class BCE:
    def regularization_loss(self, layer):
        penalty = 0
        if layer.l2 > 0:  # the book's L2 terms for weights and biases
            penalty += layer.l2 * np.sum(layer.weights * layer.weights)
            penalty += layer.l2 * np.sum(layer.biases * layer.biases)
        return penalty

    def calculate(self, y_pred, y):
        clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return np.mean(np.mean(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)), axis=-1))

    def backward(self, dvalues, y):
        samples, outputs = dvalues.shape
        clipped = np.clip(dvalues, 1e-7, 1 - 1e-7)
        self.dinputs = -(y / clipped - (1 - y) / (1 - clipped)) / outputs
        self.dinputs = self.dinputs / samples


class Adam:
    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        self.learning_rate = self.current_learning_rate = learning_rate
        self.decay, self.iterations = decay, 0
        self.epsilon, self.beta_1, self.beta_2 = epsilon, beta_1, beta_2

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_momentums = np.zeros_like(layer.weights)
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_momentums = np.zeros_like(layer.biases)
            layer.bias_cache = np.zeros_like(layer.biases)
        t = self.iterations + 1
        for p, g, m, c in (("weights", "dweights", "weight_momentums", "weight_cache"),
                           ("biases", "dbiases", "bias_momentums", "bias_cache")):
            setattr(layer, m, self.beta_1 * getattr(layer, m) + (1 - self.beta_1) * getattr(layer, g))
            setattr(layer, c, self.beta_2 * getattr(layer, c) + (1 - self.beta_2) * getattr(layer, g) ** 2)
            m_hat = getattr(layer, m) / (1 - self.beta_1 ** t)
            c_hat = getattr(layer, c) / (1 - self.beta_2 ** t)
            getattr(layer, p)[...] += -self.current_learning_rate * m_hat / (np.sqrt(c_hat) + self.epsilon)

    def post_update_params(self):
        self.iterations += 1


# ---------------------------------------------------------------- the two chapters' loops

def chapter10(classes, epochs):
    """Chapter 10's Adam run; ``classes`` is nnref.book (its names) or this module's book-style set."""
    np.random.seed(0)
    X, y = spiral_data(samples=100, classes=3)
    if classes == "nnref":
        dense1, act1 = book.Layer_Dense(2, 64), book.Activation_ReLU()
        dense2, head = book.Layer_Dense(64, 3), book.Activation_Softmax_Loss_CategoricalCrossentropy()
        opt = book.Optimizer_Adam(learning_rate=0.05, decay=5e-7)
    else:
        dense1, act1, dense2, head = Dense(2, 64), ReLU(), Dense(64, 3), SoftmaxCCE()
        opt = Adam(learning_rate=0.05, decay=5e-7)
    sink = io.StringIO()
    for epoch in range(epochs):
        dense1.forward(X)
        act1.forward(dense1.output)
        dense2.forward(act1.output)
        loss = head.forward(dense2.output, y)
        accuracy = np.mean(np.argmax(head.output, axis=1) == y)
        if not epoch % 100:  # the listing's progress line (into a buffer here)
            print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f}, lr: {opt.current_learning_rate}", file=sink)
        head.backward(head.output, y)
        dense2.backward(head.dinputs)
        act1.backward(dense2.dinputs)
        dense1.backward(act1.dinputs)
        opt.pre_update_params()
        opt.update_params(dense1)
        opt.update_params(dense2)
        opt.post_update_params()
    return float(loss), float(accuracy), sink.getvalue()


def chapter16(classes, epochs):
    """Chapter 16's binary logistic regression: Dense(2, 64, L2 5e-4), ReLU, Dense(64, 1), sigmoid, BCE."""
    np.random.seed(0)
    X, y = spiral_data(samples=100, classes=2)
    y = y.reshape(-1, 1)
    if classes == "nnref":
        dense1 = book.Layer_Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
        act1, dense2, act2 = book.Activation_ReLU(), book.Layer_Dense(64, 1), book.Activation_Sigmoid()
        loss_fn, opt = book.Loss_BinaryCrossentropy(), book.Optimizer_Adam(decay=5e-7)
    else:
        dense1, act1, dense2, act2 = Dense(2, 64, l2=5e-4), ReLU(), Dense(64, 1), Sigmoid()
        loss_fn, opt = BCE(), Adam(decay=5e-7)
    sink = io.StringIO()
    for epoch in range(epochs):
        dense1.forward(X)
        act1.forward(dense1.output)
        dense2.forward(act1.output)
        act2.forward(dense2.output)
        data_loss = loss_fn.calculate(act2.output, y)
        # the listing's L2 penalty, its total loss and its progress line (into a buffer here)
        regularization_loss = loss_fn.regularization_loss(dense1) + loss_fn.regularization_loss(dense2)
        loss = data_loss + regularization_loss
        accuracy = np.mean((act2.output > 0.5) * 1 == y)
        if not epoch % 100:
            print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f} (data_loss: {data_loss:.3f}, "
                  f"reg_loss: {regularization_loss:.3f}), lr: {opt.current_learning_rate}", file=sink)
        loss_fn.backward(act2.output, y)
        act2.backward(loss_fn.dinputs)
        dense2.backward(act2.dinputs)
        act1.backward(dense2.dinputs)
        dense1.backward(act1.dinputs)
        opt.pre_update_params()
        opt.update_params(dense1)
        opt.update_params(dense2)
        opt.post_update_params()
    return float(loss), float(accuracy), sink.getvalue()


def switch_off_input_tests():
    """Replace nnref's input tests by pass-throughs, in this process only: what do they cost?

    A measurement, never a mode of nnref: the library has no switch for this.
    Each name is replaced where the teaching classes look it up.
    """
    from nnref import activations, layers, losses

    def passed(x, *args, **kwargs):
        return x

    for module in (activations, layers, losses):
        for name in ("as_float_array", "layer_inputs"):
            if hasattr(module, name):
                setattr(module, name, passed)
        if hasattr(module, "incoming_gradient"):
            module.incoming_gradient = lambda dvalues, like, **kwargs: dvalues
    losses.Loss._checked = lambda self, y_pred, y_true, owner, backward=False: (y_pred, y_true)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1001)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--without-input-tests", action="store_true",
                        help="replace nnref's input tests by pass-throughs (to measure what they cost)")
    args = parser.parse_args(argv)
    if args.without_input_tests:
        switch_off_input_tests()
    result = {}
    for name, loop in (("chapter 10", chapter10), ("chapter 16", chapter16)):
        times = {"nnref": [], "book-style": []}
        final = {}
        loop("nnref", 50)  # warm-up, uncounted
        for r in range(args.rounds):
            order = ["nnref", "book-style"] if r % 2 == 0 else ["book-style", "nnref"]
            for who in order:
                start = time.perf_counter()
                final[who] = loop(who, args.epochs)
                times[who].append(time.perf_counter() - start)
        ratios = sorted(a / b for a, b in zip(times["nnref"], times["book-style"]))
        printed = {who: final[who][2].splitlines() for who in final}
        result[name] = {"epochs": args.epochs, "seconds": times,
                        "final_loss_accuracy": {who: final[who][:2] for who in final},
                        # the listing's progress lines, nnref.book's against the book-style classes'
                        "same_printed_lines": printed["nnref"] == printed["book-style"],
                        "printed_lines": len(printed["nnref"]),
                        "ratio": ratios[len(ratios) // 2]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
