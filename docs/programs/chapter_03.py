# Chapter 3, Adding Layers: the complete program.
#
# Two hand-written layers in a row on a batch of three samples, then the
# Layer_Dense class (here nnref's Dense under the book's name) on the
# spiral dataset: 2 inputs per sample, 3 neurons, the first five rows of
# its output printed.
#
# Run it with `python chapter_03.py`. It needs numpy, nnfs and nnref.
import nnfs

nnfs.init()

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

# Two layers by hand: the outputs of the first are the inputs of the second.
inputs = np.array([[1.0, 2.0, 3.0, 2.5],
                   [2.0, 5.0, -1.0, 2.0],
                   [-1.5, 2.7, 3.3, -0.8]])
weights = np.array([[0.2, 0.8, -0.5, 1.0],
                    [0.5, -0.91, 0.26, -0.5],
                    [-0.26, -0.27, 0.17, 0.87]])
biases = np.array([2.0, 3.0, 0.5], dtype=np.float32)
weights2 = np.array([[0.1, -0.14, 0.5],
                     [-0.5, 0.12, -0.33],
                     [-0.44, 0.73, -0.13]])
biases2 = np.array([-1.0, 2.0, -0.5], dtype=np.float32)
layer1_outputs = np.dot(inputs, weights.T) + biases
layer2_outputs = np.dot(layer1_outputs, weights2.T) + biases2
print("two hand-written layers:")
print(layer2_outputs)

# 100 points per class on 3 spiral arms: X has shape (300, 2).
X, y = spiral_data(samples=100, classes=3)

# A dense layer with 2 inputs and 3 neurons. Its weights are stored as
# (inputs, neurons), so the forward pass needs no transpose; they start as
# 0.01 * standard normal draws and the biases as zeros.
dense1 = Layer_Dense(2, 3)
dense1.forward(X)

print("dense1.output[:5]:")
print(dense1.output[:5])
