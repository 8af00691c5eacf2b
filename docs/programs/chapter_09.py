# Chapter 9, Backpropagation: the complete program.
#
# One forward and one backward pass of the chapter 5 network on the spiral
# data. The softmax and the cross-entropy loss are one object here, whose
# backward pass is simply (predicted - true) / samples; the gradients then
# flow back through the second dense layer, the ReLU and the first dense
# layer. The program prints the loss, the accuracy and every gradient of
# the weights and biases.
#
# Run it with `python chapter_09.py`. It needs numpy, nnfs and nnref.
import nnfs

nnfs.init()

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

X, y = spiral_data(samples=100, classes=3)

dense1 = Layer_Dense(2, 3)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(3, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()

# Forward: the combined object applies the softmax and returns the mean loss.
dense1.forward(X)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
loss = loss_activation.forward(dense2.output, y)

print(loss_activation.output[:5])
print("loss:", loss)

predictions = np.argmax(loss_activation.output, axis=1)
if len(y.shape) == 2:
    y = np.argmax(y, axis=1)
accuracy = np.mean(predictions == y)
print("acc:", accuracy)

# Backward, last object first: each backward takes the gradient with
# respect to its output and stores the one with respect to its input
# in dinputs (and, for a dense layer, dweights and dbiases).
loss_activation.backward(loss_activation.output, y)
dense2.backward(loss_activation.dinputs)
activation1.backward(dense2.dinputs)
dense1.backward(activation1.dinputs)

print(dense1.dweights)
print(dense1.dbiases)
print(dense2.dweights)
print(dense2.dbiases)
