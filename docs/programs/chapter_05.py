# Chapter 5, Calculating Network Error with Loss: the complete program.
#
# The untrained network of chapter 4, now scored: categorical cross-entropy
# (the mean of -log of the probability given to the correct class) and
# accuracy (how often the most probable class is the correct one).
#
# Run it with `python chapter_05.py`. It needs numpy, nnfs and nnref.
import nnfs

nnfs.init()

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

X, y = spiral_data(samples=100, classes=3)

dense1 = Layer_Dense(2, 3)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(3, 3)
activation2 = Activation_Softmax()
loss_function = Loss_CategoricalCrossentropy()

dense1.forward(X)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)

print(activation2.output[:5])

# calculate() averages the per-sample losses of forward().
loss = loss_function.calculate(activation2.output, y)
print("loss:", loss)

# The predicted class of a sample is the column of its highest probability.
predictions = np.argmax(activation2.output, axis=1)
if len(y.shape) == 2:  # one-hot targets: turn them into class indices
    y = np.argmax(y, axis=1)
accuracy = np.mean(predictions == y)
print("acc:", accuracy)
