# Chapter 22, Prediction / Inference: the complete program.
#
# Using the trained model. It loads fashion_mnist.model (written by
# chapter 21's program into the current folder), predicts the first five
# test images, turns the confidences into classes and names, and then
# classifies photos: tshirt.png and pants.png in the current folder, or the
# files named in NNREF_IMAGES (separated by the path separator, ":" on
# Linux and macOS). A photo is prepared the way the training images were:
# grayscale, resized to 28x28, inverted (Fashion-MNIST shows light clothes
# on black), scaled to -1..1 and flattened.
#
# Run it with `python chapter_22.py` after chapter_21.py. It needs numpy,
# nnfs, nnref and Pillow. The data: as chapter 21 (NNREF_DATA).
# Short setting: none needed (no training); NNREF_SHORT=1 is accepted and
# changes nothing.
import nnfs

nnfs.init()

import os

import numpy as np

from nnref.book import *
from nnref.data import FASHION_MNIST_LABELS, load_fashion_mnist, prepare_image

DATA = os.environ.get("NNREF_DATA", "fashion_mnist_images")
IMAGES = os.environ.get("NNREF_IMAGES", os.pathsep.join(["tshirt.png", "pants.png"])).split(os.pathsep)

if not os.path.isfile("fashion_mnist.model"):
    raise SystemExit("fashion_mnist.model not found in the current folder: run chapter_21.py here first")

# Class index -> name, as the dataset documents them.
fashion_mnist_labels = FASHION_MNIST_LABELS

X, y, X_test, y_test = load_fashion_mnist(DATA if os.path.isdir(os.path.join(DATA, "train")) else None)

model = Model.load("fashion_mnist.model")

# One row of ten class probabilities per image.
confidences = model.predict(X_test[:5])
print(confidences)
# The output layer (softmax) knows how to turn them into classes: argmax.
predictions = model.output_layer_activation.predictions(confidences)
print("predicted:", predictions)
print("true:     ", y_test[:5])
for prediction in predictions:
    print(fashion_mnist_labels[prediction])

for path in IMAGES:
    if not os.path.isfile(path):
        print(f"{path}: not found, skipped")
        continue
    image_data = prepare_image(path)  # shape (1, 784), the model's input row
    confidences = model.predict(image_data)
    prediction = model.output_layer_activation.predictions(confidences)[0]
    print(f"{path}: {fashion_mnist_labels[prediction]} (confidence {confidences[0, prediction]:.3f})")
