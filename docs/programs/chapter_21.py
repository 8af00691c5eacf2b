# Chapter 21, Saving and Loading Models and Their Parameters: the complete program.
#
# Chapter 19's Fashion-MNIST model, trained, then carried over to new
# models three ways, each evaluated on the test data (the same numbers
# every time):
#   1. get_parameters() / set_parameters(): copy the weights and biases
#      into a second model built with the same layers;
#   2. save_parameters() / load_parameters(): the same through a file,
#      fashion_mnist.parms;
#   3. save() / Model.load(): the whole model (layers, loss, optimizer,
#      accuracy and parameters) in one file, fashion_mnist.model, loaded
#      without defining anything first.
# Neither file is a pickle (the parameters are a numpy .npz archive, the
# model a zip of a JSON description and .npy arrays), so loading one cannot
# run code. Both are written to the current folder, where chapter 22's
# program reads fashion_mnist.model.
#
# Run it with `python chapter_21.py`. It needs numpy, nnfs, nnref and Pillow.
# The data: set NNREF_DATA to the folder holding train/ and test/ (default
# ./fashion_mnist_images). If that folder does not exist,
# nnref.data.load_fashion_mnist downloads the archive once into nnref's
# cache folder (~/.cache/nnref).
# Short setting: with the environment variable NNREF_SHORT=1 it trains
# 3 epochs instead of 10, on the first 6,000 shuffled training samples, and
# validates on 1,000 test samples (every 10th) when there are more.
import nnfs

nnfs.init()

import os

import numpy as np

from nnref.book import *
from nnref.data import load_fashion_mnist

SHORT = os.environ.get("NNREF_SHORT") == "1"
DATA = os.environ.get("NNREF_DATA", "fashion_mnist_images")
EPOCHS = 3 if SHORT else 10

X, y, X_test, y_test = load_fashion_mnist(DATA if os.path.isdir(os.path.join(DATA, "train")) else None)

keys = np.array(range(X.shape[0]))
np.random.shuffle(keys)
X = X[keys]
y = y[keys]

if SHORT:
    X, y = X[:6_000], y[:6_000]
    step = max(1, len(X_test) // 1_000)
    X_test, y_test = X_test[::step], y_test[::step]


def build_model():
    """The chapter's 784-128-128-10 classifier, finalized and untrained."""
    model = Model()
    model.add(Layer_Dense(X.shape[1], 128))
    model.add(Activation_ReLU())
    model.add(Layer_Dense(128, 128))
    model.add(Activation_ReLU())
    model.add(Layer_Dense(128, 10))
    model.add(Activation_Softmax())
    model.set(
        loss=Loss_CategoricalCrossentropy(),
        optimizer=Optimizer_Adam(decay=1e-3),
        accuracy=Accuracy_Categorical(),
    )
    model.finalize()
    return model


model = build_model()
model.train(X, y, validation_data=(X_test, y_test), epochs=EPOCHS, batch_size=128, print_every=100)
model.evaluate(X_test, y_test)

# 1. Parameters in memory: a list of (weights, biases), one pair per dense layer.
parameters = model.get_parameters()
print("parameter shapes:", [(w.shape, b.shape) for w, b in parameters])
model = build_model()
model.set_parameters(parameters)
model.evaluate(X_test, y_test)

# 2. Parameters through a file. The new model must have the same layers.
model.save_parameters("fashion_mnist.parms")
model = build_model()
model.load_parameters("fashion_mnist.parms")
model.evaluate(X_test, y_test)

# 3. The whole model through a file: nothing needs to be built first.
model.save("fashion_mnist.model")
model = Model.load("fashion_mnist.model")
model.evaluate(X_test, y_test)

for name in ("fashion_mnist.parms", "fashion_mnist.model"):
    print(f"{name}: {os.path.getsize(name)} bytes")
