# Chapter 13, Training Dataset: the complete program.
#
# Preparing a real dataset before any training: Fashion-MNIST's 28x28
# grayscale images read from the book's folder layout
# (fashion_mnist_images/train/<label>/NNNN.png and .../test/...), pixel
# values scaled from 0..255 to -1..1 with parameters taken from the
# training data and applied unchanged to the test data, every image
# flattened into a row of 784 features, and the training samples shuffled
# with one permutation shared by images and labels.
#
# Run it with `python chapter_13.py`. It needs numpy, nnfs, nnref and Pillow.
# The data: set NNREF_DATA to the folder holding train/ and test/ (default
# ./fashion_mnist_images, the unzipped https://nnfs.io/datasets/fashion_mnist_images.zip).
# Short setting: with the environment variable NNREF_SHORT=1 it reads at
# most 100 images per class and split instead of all 70,000.
import nnfs

nnfs.init()

import os

import numpy as np
from PIL import Image

from nnref.data import scale_pixels

SHORT = os.environ.get("NNREF_SHORT") == "1"
DATA = os.environ.get("NNREF_DATA", "fashion_mnist_images")

if not os.path.isdir(os.path.join(DATA, "train")):
    raise SystemExit(f"{DATA}/train not found: unzip https://nnfs.io/datasets/fashion_mnist_images.zip "
                     "here, or set NNREF_DATA to the folder that holds train/ and test/")


def load_split(split):
    """Every image of one split as a (n, 28, 28) uint8 array, and its labels."""
    images, labels = [], []
    # Sorted listings: os.listdir's order depends on the file system.
    for label in sorted(os.listdir(os.path.join(DATA, split)), key=int):
        files = sorted(os.listdir(os.path.join(DATA, split, label)))
        if SHORT:
            files = files[:100]
        for file in files:
            with Image.open(os.path.join(DATA, split, label, file)) as image:
                images.append(np.array(image))
            labels.append(int(label))
    return np.array(images), np.array(labels).astype("uint8")


X, y = load_split("train")
X_test, y_test = load_split("test")
print(f"train: {X.shape} {X.dtype}, pixels {X.min()}..{X.max()}; labels {y.shape}")
print(f"test: {X_test.shape} {X_test.dtype}, pixels {X_test.min()}..{X_test.max()}; labels {y_test.shape}")
print("images per class (train):", np.bincount(y, minlength=10).tolist())

# Scaling. The parameters come from the training data only and the same
# ones are used for every other set (test data, and later any image the
# model is asked about). Half the maximum pixel value centres the data on 0.
X_pixels = X
half_range = np.float32(X.max()) / 2
print("scaling parameter (half the training maximum):", half_range)
# float32 first: uint8 arithmetic would wrap around, and float64 doubles the memory.
X = (X.astype(np.float32) - half_range) / half_range
X_test = (X_test.astype(np.float32) - half_range) / half_range
print(f"scaled train: {X.dtype}, {X.min():.3f}..{X.max():.3f}, mean {X.mean():.3f}")
print(f"scaled test: {X_test.dtype}, {X_test.min():.3f}..{X_test.max():.3f}, mean {X_test.mean():.3f}")
# The other common choice, dividing by the maximum, gives 0..1 instead.
X_01 = X_pixels.astype(np.float32) / np.float32(X_pixels.max())
print(f"the 0..1 alternative: {X_01.min():.3f}..{X_01.max():.3f}, mean {X_01.mean():.3f}")
if half_range == 127.5:
    # nnref.data.scale_pixels computes the same (x - 127.5) / 127.5 for 8-bit images.
    print("same as nnref.data.scale_pixels:", np.array_equal(X, scale_pixels(X_pixels)))

# Flattening: dense layers take one row of features per sample, so each
# 28x28 image becomes 784 numbers, row after row.
X = X.reshape(X.shape[0], -1)
X_test = X_test.reshape(X_test.shape[0], -1)
print("flattened:", X.shape, X_test.shape)

# Shuffling. The samples come ordered by class; trained in batches, a model
# would see one class at a time. One permutation of the indices (keys)
# reorders images and labels together, so every image keeps its label.
keys = np.array(range(X.shape[0]))
print("keys before shuffling:", keys[:10])
np.random.shuffle(keys)
print("keys after shuffling:", keys[:10])
X_unshuffled, y_unshuffled = X, y
X = X[keys]
y = y[keys]
print("labels of the first 10 shuffled samples:", y[:10])
print("pairs kept together:", bool(np.array_equal(X[5], X_unshuffled[keys[5]]) and y[5] == y_unshuffled[keys[5]]))
