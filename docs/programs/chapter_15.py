# Chapter 15, Dropout: the complete program.
#
# Chapter 14's network with a dropout layer after the hidden ReLU: in every
# training step a random 10% of the hidden outputs are set to zero and the
# rest scaled up by 1 / 0.9, so no unit can rely on any other one. 512
# hidden neurons, 1,000 points per class, Adam with learning rate 0.05 and
# decay 5e-5, as at the end of the chapter. The test pass skips dropout.
#
# Run it with `python chapter_15.py`. It needs numpy, nnfs and nnref.
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

dense1 = Layer_Dense(2, NEURONS, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
activation1 = Activation_ReLU()
dropout1 = Layer_Dropout(0.1)  # the fraction of values to drop
dense2 = Layer_Dense(NEURONS, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
optimizer = Optimizer_Adam(learning_rate=0.05, decay=5e-5)

for epoch in range(EPOCHS):
    dense1.forward(X)
    activation1.forward(dense1.output)
    # A new random mask every step (drawn from numpy's global generator).
    dropout1.forward(activation1.output)
    dense2.forward(dropout1.output)
    data_loss = loss_activation.forward(dense2.output, y)

    regularization_loss = (loss_activation.loss.regularization_loss(dense1)
                           + loss_activation.loss.regularization_loss(dense2))
    loss = data_loss + regularization_loss

    # Measured with units dropped, so training accuracy reads lower than
    # the network's real accuracy.
    predictions = np.argmax(loss_activation.output, axis=1)
    if len(y.shape) == 2:
        y = np.argmax(y, axis=1)
    accuracy = np.mean(predictions == y)

    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f} "
              f"(data_loss: {data_loss:.3f}, reg_loss: {regularization_loss:.3f}), "
              f"lr: {optimizer.current_learning_rate}")

    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    # The gradient passes only where the mask let the value through.
    dropout1.backward(dense2.dinputs)
    activation1.backward(dropout1.dinputs)
    dense1.backward(activation1.dinputs)

    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.post_update_params()

X_test, y_test = spiral_data(samples=100, classes=3)

# No dropout when testing: every unit takes part.
dense1.forward(X_test)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
loss = loss_activation.forward(dense2.output, y_test)

predictions = np.argmax(loss_activation.output, axis=1)
if len(y_test.shape) == 2:
    y_test = np.argmax(y_test, axis=1)
accuracy = np.mean(predictions == y_test)

print(f"validation, acc: {accuracy:.3f}, loss: {loss:.3f}")
