# Chapter 8, Gradients, Partial Derivatives, and the Chain Rule: the complete program.
#
# The chapter's partial derivatives, gradient and chain-rule example, each
# written out analytically and checked against a numerical slope: nudge one
# input by a tiny step in both directions while holding the others still.
#
# Run it with `python chapter_08.py`. It needs numpy and nnfs.
import nnfs

nnfs.init()

import numpy as np

H = 1e-6  # the step of the central differences


def numerical_gradient(f, point):
    """Partial derivatives of f at point, one input at a time: (f(p + h e_i) - f(p - h e_i)) / 2h."""
    point = np.asarray(point, dtype=np.float64)
    grad = np.empty_like(point)
    for i in range(point.size):
        step = np.zeros_like(point)
        step[i] = H
        grad[i] = (f(*(point + step)) - f(*(point - step))) / (2 * H)
    return grad


# (function, its analytical gradient, where to evaluate)
examples = [
    ("x + y", lambda x, y: x + y, lambda x, y: [1, 1], (2.0, -1.0)),
    ("2x + 3y^2", lambda x, y: 2 * x + 3 * y**2, lambda x, y: [2, 6 * y], (2.0, -1.0)),
    ("3x^3 - y^2 + 5x + 2", lambda x, y: 3 * x**3 - y**2 + 5 * x + 2,
     lambda x, y: [9 * x**2 + 5, -2 * y], (2.0, -1.0)),
    ("x * y", lambda x, y: x * y, lambda x, y: [y, x], (2.0, -1.0)),
    ("3x^3 z - y^2 + 5z + 2yz", lambda x, y, z: 3 * x**3 * z - y**2 + 5 * z + 2 * y * z,
     lambda x, y, z: [9 * x**2 * z, -2 * y + 2 * z, 3 * x**3 + 5 + 2 * y], (1.0, 2.0, 3.0)),
    # max passes on the slope of whichever input is larger: 1(x > y) and 1(y > x)
    ("max(x, y)", lambda x, y: max(x, y), lambda x, y: [float(x > y), float(y > x)], (2.0, -1.0)),
]
for name, f, gradient, point in examples:
    analytical = np.array(gradient(*point), dtype=np.float64)
    numerical = numerical_gradient(f, point)
    agree = np.allclose(analytical, numerical, rtol=1e-6, atol=1e-6)
    print(f"gradient of {name} at {point}: analytical {analytical.tolist()}, "
          f"numerical {np.round(numerical, 6).tolist()}, agree: {agree}")

# ReLU is max(x, 0): its derivative is 1 where x > 0 and 0 elsewhere.
x = np.array([-2.0, -0.5, 0.5, 3.0])
relu_derivative = (x > 0).astype(np.float64)
relu_numerical = (np.maximum(x + H, 0) - np.maximum(x - H, 0)) / (2 * H)
print(f"d/dx max(x, 0) at {x.tolist()}: {relu_derivative.tolist()}, numerical "
      f"{np.round(relu_numerical, 6).tolist()}")

# The chain rule: h(x) = f(g(x)) with g(x) = 2x^2 and f(u) = 3u^5.
# h'(x) = f'(g(x)) * g'(x) = 15 (2x^2)^4 * 4x, which simplifies to 960 x^9.
def g(x):
    return 2 * x**2


def h(x):
    return 3 * g(x) ** 5


for x in (0.5, 1.0, 1.2):
    chained = 15 * g(x) ** 4 * 4 * x
    simplified = 960 * x**9
    numerical = (h(x + H) - h(x - H)) / (2 * H)
    print(f"chain rule at x = {x}: 15(2x^2)^4 * 4x = {chained:.6f}, 960x^9 = {simplified:.6f}, "
          f"numerical {numerical:.6f}")
