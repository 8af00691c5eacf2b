# Chapter 2, Coding Our First Neurons: the complete program.
#
# Every example of the chapter, from one neuron written out by hand to a
# batch of samples through a layer with one matrix product. There is no
# class yet and no randomness: numpy alone does the work.
#
# Run it with `python chapter_02.py`. It needs numpy and nnfs.
import nnfs

nnfs.init()

import numpy as np

# One neuron, three inputs: a weighted sum plus a bias.
inputs = [1, 2, 3]
weights = [0.2, 0.8, -0.5]
bias = 2
output = inputs[0] * weights[0] + inputs[1] * weights[1] + inputs[2] * weights[2] + bias
print("one neuron, 3 inputs:", output)

# The same neuron with a fourth input.
inputs = [1.0, 2.0, 3.0, 2.5]
weights = [0.2, 0.8, -0.5, 1.0]
bias = 2.0
output = sum(x * w for x, w in zip(inputs, weights)) + bias
print("one neuron, 4 inputs:", output)

# A layer: three neurons see the same four inputs, each with its own
# weights and bias. Loop over the neurons, and inside over the inputs.
weights = [[0.2, 0.8, -0.5, 1.0],
           [0.5, -0.91, 0.26, -0.5],
           [-0.26, -0.27, 0.17, 0.87]]
biases = [2.0, 3.0, 0.5]
layer_outputs = []
for neuron_weights, neuron_bias in zip(weights, biases):
    neuron_output = 0.0
    for x, w in zip(inputs, neuron_weights):
        neuron_output += x * w
    layer_outputs.append(neuron_output + neuron_bias)
print("layer of 3 neurons, loops:", layer_outputs)

# The dot product of two vectors: multiply element-wise, then add up.
a = [1, 2, 3]
b = [2, 3, 4]
print("dot product by hand:", sum(x * y for x, y in zip(a, b)))

# From here on numpy computes the sums. nnfs.init() makes np.dot work in
# float64 and return float32 (the book's set-up) and expects numpy arrays,
# so the lists are converted first. The biases are float32 too: adding
# float64 biases would turn the float32 sums back into float64 and show
# their rounding (4.799999952316284 instead of 4.8).
inputs = np.array(inputs)
weights = np.array(weights)
biases = np.array(biases, dtype=np.float32)
print("one neuron, np.dot:", np.dot(weights[0], inputs) + biases[0])
# A matrix times a vector: one dot product per row (per neuron).
print("layer of 3 neurons, np.dot:", np.dot(weights, inputs) + biases)

# A row vector times a column vector is a 1x1 matrix holding the dot product.
row = np.array([a])
column = np.array([b]).T
print("row vector shape:", row.shape, "column vector shape:", column.shape)
print("matrix product of row and column:", np.dot(row, column))

# A batch: three samples, one per row. inputs (3, 4) times weights.T (4, 3)
# gives one row of the three neuron outputs per sample; the bias row is
# added to every row.
inputs = np.array([[1.0, 2.0, 3.0, 2.5],
                   [2.0, 5.0, -1.0, 2.0],
                   [-1.5, 2.7, 3.3, -0.8]])
layer_outputs = np.dot(inputs, weights.T) + biases
print("batch of 3 samples through the layer:")
print(layer_outputs)
