# Chapter 4, Activation Functions: the complete program.
#
# The spiral data through Dense(2, 3) -> ReLU -> Dense(3, 3) -> Softmax.
# Each row of the softmax output is a probability distribution over the
# three classes; before any training they are all close to 1/3.
#
# Run it with `python chapter_04.py`. It needs numpy, nnfs and nnref.
import nnfs

nnfs.init()

import numpy as np
from nnfs.datasets import spiral_data

from nnref.book import *

X, y = spiral_data(samples=100, classes=3)

dense1 = Layer_Dense(2, 3)
activation1 = Activation_ReLU()        # max(0, x), element by element
dense2 = Layer_Dense(3, 3)             # takes the 3 ReLU outputs
activation2 = Activation_Softmax()     # exp, normalised per row

dense1.forward(X)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)

print(activation2.output[:5])
print("rows sum to:", np.sum(activation2.output[:5], axis=1))
