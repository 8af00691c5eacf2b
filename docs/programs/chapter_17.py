# Chapter 17, Regression: the complete program.
#
# Fitting one period of a sine wave: 1 input, two hidden layers of 64 ReLU
# units, 1 linear output, mean squared error. Accuracy for real-valued
# outputs counts the predictions within std(y) / 250 of their target. The
# chapter ends with initial weights drawn with standard deviation 0.1
# instead of 0.01 (the book edits its class; here it is the weight_scale
# argument) and Adam with learning rate 0.005 and decay 1e-3. After
# training, the network's predictions are printed beside the sine at a few
# points, where the book plots them.
#
# Run it with `python chapter_17.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 it trains
# 401 epochs instead of 10,001 (the lines it prints are the same as the
# first lines of the full run; epochs 0-400 are also the ones the book
# prints that reproduce digit for digit).
import nnfs

nnfs.init()

import os

import numpy as np
from nnfs.datasets import sine_data

from nnref.book import *

EPOCHS = 401 if os.environ.get("NNREF_SHORT") == "1" else 10_001

# 1,000 evenly spaced x in [0, 1) and y = sin(2 pi x), both of shape (1000, 1).
X, y = sine_data()

dense1 = Layer_Dense(1, 64, weight_scale=0.1)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(64, 64, weight_scale=0.1)
activation2 = Activation_ReLU()
dense3 = Layer_Dense(64, 1, weight_scale=0.1)
activation3 = Activation_Linear()
loss_function = Loss_MeanSquaredError()
optimizer = Optimizer_Adam(learning_rate=0.005, decay=1e-3)

# How close counts as right: a 250th of the targets' standard deviation.
accuracy_precision = np.std(y) / 250

for epoch in range(EPOCHS):
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)
    dense3.forward(activation2.output)
    activation3.forward(dense3.output)

    data_loss = loss_function.calculate(activation3.output, y)
    regularization_loss = (loss_function.regularization_loss(dense1)
                           + loss_function.regularization_loss(dense2)
                           + loss_function.regularization_loss(dense3))
    loss = data_loss + regularization_loss

    predictions = activation3.output
    accuracy = np.mean(np.absolute(predictions - y) < accuracy_precision)

    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f} "
              f"(data_loss: {data_loss:.3f}, reg_loss: {regularization_loss:.3f}), "
              f"lr: {optimizer.current_learning_rate}")

    loss_function.backward(activation3.output, y)
    activation3.backward(loss_function.dinputs)
    dense3.backward(activation3.dinputs)
    activation2.backward(dense3.dinputs)
    dense2.backward(activation2.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)

    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.update_params(dense3)
    optimizer.post_update_params()

# The trained curve against the sine at every 100th point.
X_test, y_test = sine_data()
dense1.forward(X_test)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)
dense3.forward(activation2.output)
activation3.forward(dense3.output)
for i in range(0, len(X_test), 100):
    print(f"x: {X_test[i, 0]:.3f}, sine: {y_test[i, 0]:+.4f}, prediction: {activation3.output[i, 0]:+.4f}")
