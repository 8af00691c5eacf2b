# Chapter 18, Model Object: the complete program.
#
# Chapter 15's dropout network again, now as a Model: layers are added in
# order, the loss, optimizer and accuracy are set once, finalize() links
# everything, and train() runs the forward pass, the backward pass and the
# update for every epoch, printing a line every 100 epochs and the
# validation result at the end. Softmax with categorical cross-entropy gets
# the combined backward pass of chapter 9 automatically.
#
# Run it with `python chapter_18.py`. It needs numpy, nnfs and nnref.
# Short setting: with the environment variable NNREF_SHORT=1 it trains
# 1,000 epochs instead of 10,000, on 100 points per class instead of 1,000,
# with 64 hidden neurons instead of 512.
import nnfs

nnfs.init()

import os

from nnfs.datasets import spiral_data

from nnref.book import *

SHORT = os.environ.get("NNREF_SHORT") == "1"
EPOCHS = 1_000 if SHORT else 10_000
SAMPLES = 100 if SHORT else 1_000
NEURONS = 64 if SHORT else 512

X, y = spiral_data(samples=SAMPLES, classes=3)
X_test, y_test = spiral_data(samples=100, classes=3)

model = Model()
model.add(Layer_Dense(2, NEURONS, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
model.add(Activation_ReLU())
model.add(Layer_Dropout(0.1))
model.add(Layer_Dense(NEURONS, 3))
model.add(Activation_Softmax())

model.set(
    loss=Loss_CategoricalCrossentropy(),
    optimizer=Optimizer_Adam(learning_rate=0.05, decay=5e-5),
    accuracy=Accuracy_Categorical(),
)
model.finalize()

# Epochs count from 1 here; a line every 100 epochs, then the validation line.
model.train(X, y, validation_data=(X_test, y_test), epochs=EPOCHS, print_every=100)
