"""Activation functions: ReLU, softmax, sigmoid and linear.

Each follows the layer protocol of :mod:`nnref.layers`: ``forward(inputs,
training=True)`` and ``backward(dvalues)`` (gradients overwritten, never
accumulated), plus ``predictions(outputs)`` that turns outputs into the
predicted labels or values (chapter 18).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_float_array, check_same_shape, incoming_gradient

__all__ = ["ReLU", "Softmax", "Sigmoid", "Linear", "softmax_backward_loop"]


#: per float dtype: arguments below this bound (1 under log of the largest float) cannot overflow e^x
_EXP_SAFE: dict[np.dtype, float] = {}


def _exp(x: NDArray) -> NDArray:
    """``np.exp(x)`` without numpy's overflow warning, for the sigmoid.

    e^x overflows to inf once x passes log of the largest float (about 88.7 in
    float32), and there the sigmoid's 1 / (1 + inf) = 0 is the right limit.
    Entering ``np.errstate`` costs more than the exponential of a training
    batch, so it is entered only when the largest argument comes near that bound.
    """
    bound = _EXP_SAFE.get(x.dtype)
    if bound is None:
        bound = _EXP_SAFE[x.dtype] = float(np.log(np.finfo(x.dtype).max)) - 1.0
    if x.max() < bound:
        return np.exp(x)
    with np.errstate(over="ignore"):
        return np.exp(x)


class _Activation:
    """Shared bookkeeping: keep inputs and outputs; check what comes in."""

    trainable = False

    def __init__(self) -> None:
        self.inputs: NDArray | None = None
        self.output: NDArray | None = None
        self.dinputs: NDArray | None = None

    def _take_inputs(self, inputs: ArrayLike) -> NDArray:
        self.inputs = as_float_array(inputs, owner=f"{type(self).__name__}.forward", ndim=(1, 2))
        return self.inputs

    def _take_dvalues(self, dvalues: ArrayLike) -> NDArray:
        return incoming_gradient(dvalues, self.output, owner=f"{type(self).__name__}.backward")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --8<-- [start:relu]
class ReLU(_Activation):
    r"""Rectified linear unit, $y = \max(0, x)$.

    Introduced in chapter 4; backward in chapter 9.

    Notes
    -----
    $$y = \max(0, x), \qquad
      \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,[x > 0]$$

    The derivative at exactly $x = 0$ is taken as 0, as in the book.
    """

    # --8<-- [start:relu_forward]
    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Apply ``max(0, x)`` elementwise.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_features)

        Returns
        -------
        output : ndarray, same shape as ``inputs``
        """
        inputs = self._take_inputs(inputs)
        # y = max(0, x)  — chapter 4
        self.output = np.maximum(0, inputs)
        return self.output
    # --8<-- [end:relu_forward]

    # --8<-- [start:relu_backward]
    def backward(self, dvalues: ArrayLike) -> NDArray:
        """Pass the gradient where the input was positive, zero elsewhere."""
        dvalues = self._take_dvalues(dvalues)
        # ∂L/∂x = ∂L/∂y where x > 0, and 0 where x ≤ 0  — chapter 9
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0
        return self.dinputs
    # --8<-- [end:relu_backward]

    def predictions(self, outputs: NDArray) -> NDArray:
        """ReLU outputs are used as they are."""
        return outputs
# --8<-- [end:relu]


# --8<-- [start:softmax]
class Softmax(_Activation):
    r"""Softmax over each row: positive outputs that sum to one.

    Introduced in chapter 4; backward in chapter 9.

    Notes
    -----
    Forward, with the row maximum subtracted first so ``exp`` cannot overflow
    (softmax is unchanged by adding a constant to a row):

    $$s_{ij} = \frac{e^{z_{ij} - \max_k z_{ik}}}{\sum_l e^{z_{il} - \max_k z_{ik}}}$$

    Backward. The Jacobian of one row is
    $\partial s_i / \partial z_k = s_i(\delta_{ik} - s_k)$; multiplying it by
    the incoming gradient $g$ collapses to

    $$\frac{\partial L}{\partial z_{k}} = s_{k}\Bigl(g_{k} - \sum_i s_{i} g_{i}\Bigr)$$

    which is what ``backward`` computes for all rows at once. The book builds
    each row's $n \times n$ Jacobian in a Python loop instead; that form is
    kept as :func:`softmax_backward_loop` and tested equal.
    """

    # --8<-- [start:softmax_forward]
    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Row-wise softmax.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_classes)

        Returns
        -------
        output : ndarray, shape (n_samples, n_classes)
            Each row sums to 1.
        """
        inputs = self._take_inputs(inputs)
        # e^(z − max z): subtracting the row maximum changes nothing but prevents overflow  — chapter 4
        exp_values = np.exp(inputs - np.max(inputs, axis=-1, keepdims=True))
        # s = e^z / Σ e^z, row by row  — chapter 4
        self.output = exp_values / np.sum(exp_values, axis=-1, keepdims=True)
        return self.output
    # --8<-- [end:softmax_forward]

    # --8<-- [start:softmax_backward]
    def backward(self, dvalues: ArrayLike) -> NDArray:
        """Vector–Jacobian product ``s * (g - sum(s * g))``, all rows at once."""
        dvalues = self._take_dvalues(dvalues)
        s = self.output
        # dL/dz = s ⊙ (g − Σ s⊙g)  — the Jacobian diag(s) − s sᵀ applied to g
        self.dinputs = s * (dvalues - np.sum(s * dvalues, axis=-1, keepdims=True))
        return self.dinputs
    # --8<-- [end:softmax_backward]

    def predictions(self, outputs: NDArray) -> NDArray:
        """The class with the highest probability in each row."""
        return np.argmax(outputs, axis=-1)
# --8<-- [end:softmax]


# --8<-- [start:softmax_loop]
def softmax_backward_loop(output: ArrayLike, dvalues: ArrayLike) -> NDArray:
    r"""Softmax backward the way chapter 9 first writes it: one Jacobian per sample.

    Kept as a reference: it is exact but builds an $n \times n$ matrix per row
    in a Python loop, hundreds of times slower than :meth:`Softmax.backward`
    (see the Performance page). The tests check that both agree.

    Parameters
    ----------
    output : array_like, shape (n_samples, n_classes)
        Softmax outputs $s$.
    dvalues : array_like, shape (n_samples, n_classes)
        Incoming gradient $g$.

    Returns
    -------
    dinputs : ndarray, shape (n_samples, n_classes)
        Row $i$ is $(\operatorname{diag}(s_i) - s_i s_i^\top)\, g_i$.
    """
    output = as_float_array(output, owner="softmax_backward_loop", name="output")
    dvalues = as_float_array(dvalues, owner="softmax_backward_loop", name="dvalues")
    check_same_shape(output, dvalues, owner="softmax_backward_loop", a_name="output", b_name="dvalues")
    dinputs = np.empty_like(dvalues)
    for row, (s, g) in enumerate(zip(output, dvalues)):
        column = s.reshape(-1, 1)
        # J = diag(s) − s sᵀ  — chapter 9
        jacobian = np.diagflat(column) - np.dot(column, column.T)
        dinputs[row] = np.dot(jacobian, g)
    return dinputs
# --8<-- [end:softmax_loop]


# --8<-- [start:sigmoid]
class Sigmoid(_Activation):
    r"""Logistic sigmoid, $\sigma(x) = 1 / (1 + e^{-x})$, for independent binary outputs.

    Introduced in chapter 16.

    Notes
    -----
    $$\sigma(x) = \frac{1}{1 + e^{-x}}, \qquad
      \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\sigma(x)\bigl(1 - \sigma(x)\bigr)$$
    """

    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Apply the sigmoid elementwise.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_outputs)

        Returns
        -------
        output : ndarray, same shape, values in (0, 1)
        """
        inputs = self._take_inputs(inputs)
        # σ(x) = 1 / (1 + e^(−x))  — chapter 16. e^(−x) overflows to inf for very
        # negative x, and 1 / (1 + inf) = 0 is the right limit: no warning needed.
        self.output = 1 / (1 + _exp(-inputs))
        return self.output

    def backward(self, dvalues: ArrayLike) -> NDArray:
        """dL/dx = dL/dy · σ(x)(1 − σ(x))."""
        dvalues = self._take_dvalues(dvalues)
        # ∂L/∂x = ∂L/∂y · σ(x)(1 − σ(x))  — chapter 16
        self.dinputs = dvalues * (1 - self.output) * self.output
        return self.dinputs

    def predictions(self, outputs: NDArray) -> NDArray:
        """1 where the output exceeds 0.5, else 0."""
        return (outputs > 0.5) * 1
# --8<-- [end:sigmoid]


# --8<-- [start:linear]
class Linear(_Activation):
    r"""The identity, $y = x$: the output activation of a regression net.

    Introduced in chapter 17.

    Notes
    -----
    $$y = x, \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}$$
    """

    def forward(self, inputs: ArrayLike, training: bool = True) -> NDArray:
        """Return the inputs unchanged.

        Parameters
        ----------
        inputs : array_like, shape (n_samples, n_outputs)
        """
        # y = x  — chapter 17
        self.output = self._take_inputs(inputs)
        return self.output

    def backward(self, dvalues: ArrayLike) -> NDArray:
        """Return a copy of ``dvalues`` (the derivative of x is 1)."""
        # ∂L/∂x = ∂L/∂y · 1  — chapter 17
        self.dinputs = self._take_dvalues(dvalues).copy()
        return self.dinputs

    def predictions(self, outputs: NDArray) -> NDArray:
        """Regression outputs are the predictions."""
        return outputs
# --8<-- [end:linear]
