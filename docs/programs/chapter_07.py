# Chapter 7, Derivatives: the complete program.
#
# The slope of f(x) = 2x^2 measured numerically: take a second point a tiny
# step delta to the right and divide the rise by the run. At x = 0..4 this
# is printed beside the tangent line's intercept and the exact (analytical)
# derivative 4x. Then the chapter's analytical rules (constant, power, sum)
# are checked the same way on its example functions.
#
# Run it with `python chapter_07.py`. It needs numpy and nnfs.
import nnfs

nnfs.init()

import numpy as np


def f(x):
    return 2 * x**2


# The step: small enough to approximate the tangent, large enough that
# x + delta still differs from x in floating point.
p2_delta = 0.0001

for x1 in range(5):
    x2 = x1 + p2_delta
    y1, y2 = f(x1), f(x2)
    print((x1, y1), (x2, y2))
    approximate_derivative = (y2 - y1) / (x2 - x1)
    # The tangent y = m*x + b passes through (x2, y2): b = y2 - m*x2.
    b = y2 - approximate_derivative * x2
    print(f"Approximate derivative for f(x) where x = {x1} is {approximate_derivative}"
          f" (tangent intercept b = {b:.6f}, analytical 4x = {4 * x1})")

# The analytical rules on the chapter's examples: each derivative, written
# by hand with the power, constant-multiple and sum rules, against a
# central difference at a few points.
examples = [
    ("1", lambda x: np.ones_like(x), "0", lambda x: np.zeros_like(x)),
    ("2x", lambda x: 2 * x, "2", lambda x: 2 * np.ones_like(x)),
    ("3x^2", lambda x: 3 * x**2, "6x", lambda x: 6 * x),
    ("3x^2 + 5x", lambda x: 3 * x**2 + 5 * x, "6x + 5", lambda x: 6 * x + 5),
    ("5x^5 + 4x^3 - 5", lambda x: 5 * x**5 + 4 * x**3 - 5, "25x^4 + 12x^2",
     lambda x: 25 * x**4 + 12 * x**2),
    ("x^3 + 2x^2 - 5x + 7", lambda x: x**3 + 2 * x**2 - 5 * x + 7, "3x^2 + 4x - 5",
     lambda x: 3 * x**2 + 4 * x - 5),
]
points = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
h = 1e-5
for name, func, derivative_name, derivative in examples:
    numerical = (func(points + h) - func(points - h)) / (2 * h)
    analytical = derivative(points)
    error = np.max(np.abs(numerical - analytical) / np.maximum(1.0, np.abs(analytical)))
    print(f"d/dx [{name}] = {derivative_name}: at x = {points.tolist()} "
          f"analytical {analytical.tolist()}, largest relative gap to the numerical slope {error:.1e}")
