# Chapter 12, Validation Data: the complete program.
#
# Choosing a hyperparameter without looking at the test data. A fifth of
# the training set is held out as validation data; the network of
# chapters 10-11 is trained on the rest once per candidate learning rate
# and scored on the held-out part; the learning rate with the lowest
# validation loss wins. Then, as the chapter suggests when data are scarce,
# the network is trained again with that learning rate on all of the
# training data, and only this final model meets the test data, once.
#
# Run it with `python chapter_12.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 every run
# trains 1,001 epochs instead of 10,001.
import nnfs

nnfs.init()

import os

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

EPOCHS = 1_001 if os.environ.get("NNREF_SHORT") == "1" else 10_001
CANDIDATE_LEARNING_RATES = [0.005, 0.02, 0.05]


def build_network():
    """Chapter 10's 2-64-3 network, freshly initialised."""
    return Layer_Dense(2, 64), Activation_ReLU(), Layer_Dense(64, 3), \
        Activation_Softmax_Loss_CategoricalCrossentropy()


def forward(network, X, y):
    """Loss and accuracy of the network on (X, y); the outputs stay in the layers."""
    dense1, activation1, dense2, loss_activation = network
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    loss = loss_activation.forward(dense2.output, y)
    accuracy = np.mean(np.argmax(loss_activation.output, axis=1) == y)
    return accuracy, loss


def train(X, y, learning_rate):
    """A new network trained with Adam for EPOCHS epochs; returns it and its last training numbers."""
    network = build_network()
    dense1, activation1, dense2, loss_activation = network
    optimizer = Optimizer_Adam(learning_rate=learning_rate, decay=5e-7)
    for epoch in range(EPOCHS):
        accuracy, loss = forward(network, X, y)
        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)
        optimizer.pre_update_params()
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)
        optimizer.post_update_params()
    return network, accuracy, loss


X, y = spiral_data(samples=100, classes=3)
# The test data are made now and left alone until the very end.
X_test, y_test = spiral_data(samples=100, classes=3)

# spiral_data returns the samples ordered by class: shuffle before
# splitting, with one permutation for X and y so pairs stay together.
keys = np.array(range(X.shape[0]))
np.random.shuffle(keys)
n_validation = X.shape[0] // 5
X_val, y_val = X[keys[:n_validation]], y[keys[:n_validation]]
X_train, y_train = X[keys[n_validation:]], y[keys[n_validation:]]
print(f"training samples: {len(X_train)}, validation samples: {len(X_val)}, "
      f"test samples: {len(X_test)}")

results = []
for learning_rate in CANDIDATE_LEARNING_RATES:
    network, accuracy, loss = train(X_train, y_train, learning_rate)
    print(f"learning_rate: {learning_rate}, training, acc: {accuracy:.3f}, loss: {loss:.3f}")
    val_accuracy, val_loss = forward(network, X_val, y_val)
    print(f"learning_rate: {learning_rate}, validation, acc: {val_accuracy:.3f}, loss: {val_loss:.3f}")
    results.append((val_loss, learning_rate))

best_loss, best_learning_rate = min(results)
print(f"chosen learning_rate: {best_learning_rate}")

# The chosen setting, trained on every training sample (validation part included).
network, accuracy, loss = train(X, y, best_learning_rate)
print(f"training, acc: {accuracy:.3f}, loss: {loss:.3f}")
test_accuracy, test_loss = forward(network, X_test, y_test)
print(f"test, acc: {test_accuracy:.3f}, loss: {test_loss:.3f}")
