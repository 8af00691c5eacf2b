# Chapter 19, A Real Dataset: the complete program.
#
# Fashion-MNIST (60,000 training and 10,000 test images of clothes, 28x28
# grayscale, ten classes) through a 784-128-128-10 Model, trained in
# batches of 128 samples for 10 epochs with Adam (learning rate 0.001,
# decay 1e-3 per step). Each epoch prints a line every 100 steps and at its
# last step, then the whole epoch's training numbers and the validation
# result on the test images.
#
# Run it with `python chapter_19.py`. It needs numpy, nnfs, nnref and Pillow.
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

# Read every PNG in sorted order, scale pixels to -1..1 with
# (x - 127.5) / 127.5 and flatten each image to 784 features (chapter 13).
X, y, X_test, y_test = load_fashion_mnist(DATA if os.path.isdir(os.path.join(DATA, "train")) else None)

# The files come ordered by class: shuffle the training samples, one
# permutation for images and labels, so each batch mixes the classes.
keys = np.array(range(X.shape[0]))
np.random.shuffle(keys)
X = X[keys]
y = y[keys]

if SHORT:
    X, y = X[:6_000], y[:6_000]
    step = max(1, len(X_test) // 1_000)
    X_test, y_test = X_test[::step], y_test[::step]

model = Model()
model.add(Layer_Dense(X.shape[1], 128))
model.add(Activation_ReLU())
model.add(Layer_Dense(128, 128))
model.add(Activation_ReLU())
model.add(Layer_Dense(128, 10))
model.add(Activation_Softmax())

# decay=1e-3: the rate that the chapter's printed learning rates come from
# (its final listing shows 1e-4; see the Errata page).
model.set(
    loss=Loss_CategoricalCrossentropy(),
    optimizer=Optimizer_Adam(decay=1e-3),
    accuracy=Accuracy_Categorical(),
)
model.finalize()

model.train(X, y, validation_data=(X_test, y_test), epochs=EPOCHS, batch_size=128, print_every=100)
