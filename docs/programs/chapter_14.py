# Chapter 14, L1 and L2 Regularization: the complete program.
#
# The spiral classifier with an L2 penalty on the hidden layer's weights and
# biases (lambda = 5e-4 each), trained on 1,000 points per class with 512
# hidden neurons, as at the end of the chapter. The loss minimised is the
# data loss plus the penalty, and both parts are printed every 100 epochs;
# the trained network is then scored on a fresh test set.
#
# Run it with `python chapter_14.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 it trains
# 1,001 epochs instead of 10,001, on 100 points per class instead of 1,000,
# with 64 hidden neurons instead of 512.
import nnfs

nnfs.init()

import os

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

SHORT = os.environ.get("NNREF_SHORT") == "1"
EPOCHS = 1_001 if SHORT else 10_001
SAMPLES = 100 if SHORT else 1_000
NEURONS = 64 if SHORT else 512

X, y = spiral_data(samples=SAMPLES, classes=3)

# Only the hidden layer is penalised: lambda * sum(w^2) and lambda * sum(b^2).
dense1 = Layer_Dense(2, NEURONS, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(NEURONS, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
optimizer = Optimizer_Adam(learning_rate=0.02, decay=5e-7)

for epoch in range(EPOCHS):
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    data_loss = loss_activation.forward(dense2.output, y)

    # The penalty of every layer (zero for dense2, which has no lambda set).
    regularization_loss = (loss_activation.loss.regularization_loss(dense1)
                           + loss_activation.loss.regularization_loss(dense2))
    loss = data_loss + regularization_loss

    predictions = np.argmax(loss_activation.output, axis=1)
    if len(y.shape) == 2:
        y = np.argmax(y, axis=1)
    accuracy = np.mean(predictions == y)

    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f} "
              f"(data_loss: {data_loss:.3f}, reg_loss: {regularization_loss:.3f}), "
              f"lr: {optimizer.current_learning_rate}")

    # The layers' backward passes add the penalty's gradient (2 * lambda * w)
    # to dweights and dbiases themselves.
    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)

    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.post_update_params()

# Test data: 100 new points per class. Only the data loss is reported here.
X_test, y_test = spiral_data(samples=100, classes=3)

dense1.forward(X_test)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
loss = loss_activation.forward(dense2.output, y_test)

predictions = np.argmax(loss_activation.output, axis=1)
if len(y_test.shape) == 2:
    y_test = np.argmax(y_test, axis=1)
accuracy = np.mean(predictions == y_test)

print(f"validation, acc: {accuracy:.3f}, loss: {loss:.3f}")
