# Chapter 6, Introducing Optimization: the complete program.
#
# Training without calculus: nudge every weight and bias by a small random
# amount, keep the change when the loss goes down and undo it otherwise.
# On the easy vertical dataset (three blobs side by side) this finds a
# usable network in 10,000 tries; a line is printed at every improvement.
#
# Run it with `python chapter_06.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 it makes 1,000
# tries instead of 10,000 (the first lines are the same).
import nnfs

nnfs.init()

import os

import numpy as np
from nnfs.datasets import vertical_data

from nnref.book import *

ITERATIONS = 1_000 if os.environ.get("NNREF_SHORT") == "1" else 10_000

X, y = vertical_data(samples=100, classes=3)

dense1 = Layer_Dense(2, 3)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(3, 3)
activation2 = Activation_Softmax()
loss_function = Loss_CategoricalCrossentropy()

# The best parameters seen so far, and their loss (start above any real loss).
lowest_loss = 9999999
best_dense1_weights = dense1.weights.copy()
best_dense1_biases = dense1.biases.copy()
best_dense2_weights = dense2.weights.copy()
best_dense2_biases = dense2.biases.copy()

for iteration in range(ITERATIONS):
    # A random step away from the best parameters: 0.05 * N(0, 1) each.
    dense1.weights += 0.05 * np.random.randn(2, 3)
    dense1.biases += 0.05 * np.random.randn(1, 3)
    dense2.weights += 0.05 * np.random.randn(3, 3)
    dense2.biases += 0.05 * np.random.randn(1, 3)

    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)

    loss = loss_function.calculate(activation2.output, y)
    predictions = np.argmax(activation2.output, axis=1)
    accuracy = np.mean(predictions == y)

    if loss < lowest_loss:
        # Better: report it and make it the new starting point.
        print("New set of weights found, iteration:", iteration,
              "loss:", loss, "acc:", accuracy)
        best_dense1_weights = dense1.weights.copy()
        best_dense1_biases = dense1.biases.copy()
        best_dense2_weights = dense2.weights.copy()
        best_dense2_biases = dense2.biases.copy()
        lowest_loss = loss
    else:
        # Worse (or equal): go back to the best parameters, all four of them.
        dense1.weights = best_dense1_weights.copy()
        dense1.biases = best_dense1_biases.copy()
        dense2.weights = best_dense2_weights.copy()
        dense2.biases = best_dense2_biases.copy()
