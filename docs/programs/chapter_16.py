# Chapter 16, Binary Logistic Regression: the complete program.
#
# Two spiral classes and one output neuron with a sigmoid: the output is
# the probability of class 1, and binary cross-entropy scores it. Targets
# become a column, shape (samples, 1), one value per output neuron. The
# hidden layer keeps chapter 14's L2 penalty; Adam with decay 5e-7.
#
# Run it with `python chapter_16.py`. It needs numpy, nnfs and nnref.
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

X, y = spiral_data(samples=100, classes=2)
# A list of labels becomes a list of one-label rows, [[0], [0], ..., [1]].
y = y.reshape(-1, 1)

dense1 = Layer_Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(64, 1)
activation2 = Activation_Sigmoid()
loss_function = Loss_BinaryCrossentropy()
optimizer = Optimizer_Adam(decay=5e-7)

for epoch in range(EPOCHS):
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)

    data_loss = loss_function.calculate(activation2.output, y)
    regularization_loss = (loss_function.regularization_loss(dense1)
                           + loss_function.regularization_loss(dense2))
    loss = data_loss + regularization_loss

    # A probability above 0.5 means class 1.
    predictions = (activation2.output > 0.5) * 1
    accuracy = np.mean(predictions == y)

    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f} "
              f"(data_loss: {data_loss:.3f}, reg_loss: {regularization_loss:.3f}), "
              f"lr: {optimizer.current_learning_rate}")

    # Here the loss and the sigmoid each run their own backward pass.
    loss_function.backward(activation2.output, y)
    activation2.backward(loss_function.dinputs)
    dense2.backward(activation2.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)

    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.post_update_params()

X_test, y_test = spiral_data(samples=100, classes=2)
y_test = y_test.reshape(-1, 1)

dense1.forward(X_test)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)
loss = loss_function.calculate(activation2.output, y_test)

predictions = (activation2.output > 0.5) * 1
accuracy = np.mean(predictions == y_test)

print(f"validation, acc: {accuracy:.3f}, loss: {loss:.3f}")
