# Chapter 10, Optimizers: the complete program.
#
# The spiral classifier trained by gradient descent with the chapter's
# last optimizer, Adam (momentum plus a per-parameter step size, with bias
# correction), learning rate 0.05 decaying as 1 / (1 + 5e-7 * step). It
# prints accuracy, loss and the current learning rate every 100 epochs.
#
# Run it with `python chapter_10.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 it trains
# 1,001 epochs instead of 10,001 (the lines it prints are the same as the
# first lines of the full run).
import nnfs

nnfs.init()

import os

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

EPOCHS = 1_001 if os.environ.get("NNREF_SHORT") == "1" else 10_001

X, y = spiral_data(samples=100, classes=3)

dense1 = Layer_Dense(2, 64)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(64, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
optimizer = Optimizer_Adam(learning_rate=0.05, decay=5e-7)

for epoch in range(EPOCHS):
    # forward pass and loss
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    loss = loss_activation.forward(dense2.output, y)

    predictions = np.argmax(loss_activation.output, axis=1)
    if len(y.shape) == 2:
        y = np.argmax(y, axis=1)
    accuracy = np.mean(predictions == y)

    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f}, "
              f"lr: {optimizer.current_learning_rate}")

    # backward pass
    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)

    # one optimizer step: decay the learning rate, move both layers, count the step
    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.post_update_params()
