"""ReLU, Softmax, Sigmoid, Linear: values, edge cases, predictions, and hypothesis invariants."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nnref

FINITE = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=64)


def batches(min_cols: int = 1):
    shape = st.tuples(st.integers(1, 6), st.integers(min_cols, 6))
    return shape.flatmap(lambda s: arrays(np.float64, s, elements=FINITE))


def test_relu_values_and_gradient_at_zero():
    """ReLU zeroes negatives; its gradient is 0 at and below 0, 1 above."""
    relu = nnref.ReLU()
    x = np.array([[0.0, 2.0, -1.0, 3.3, -2.7, 1.1, 2.2, -100.0]])
    np.testing.assert_array_equal(relu.forward(x), [[0, 2, 0, 3.3, 0, 1.1, 2.2, 0]])
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), [[0, 1, 0, 1, 0, 1, 1, 0]])


def test_softmax_is_stable_for_large_inputs():
    """Subtracting the row maximum keeps exp from overflowing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nnref.Softmax().forward([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4]])
    np.testing.assert_allclose(out[0], nnref.Softmax().forward([[0.0, 1.0, 2.0]])[0], rtol=1e-15)
    np.testing.assert_array_equal(out[1], [0.0, 0.0, 1.0])


def test_sigmoid_extremes_without_warnings():
    """Sigmoid of ±1000 gives 0 and 1 without an overflow warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nnref.Sigmoid().forward([[-1000.0, 0.0, 1000.0]])
    np.testing.assert_array_equal(out, [[0.0, 0.5, 1.0]])


def test_linear_backward_is_a_copy():
    """Linear passes values through and returns a copy of dvalues (not the caller's array)."""
    lin = nnref.Linear()
    x = np.array([[1.0, -2.0]])
    np.testing.assert_array_equal(lin.forward(x), x)
    g = np.array([[3.0, 4.0]])
    d = lin.backward(g)
    np.testing.assert_array_equal(d, g)
    assert d is not g


def test_predictions():
    """Softmax predicts argmax, Sigmoid thresholds at 0.5, ReLU and Linear return outputs."""
    out = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(nnref.Softmax().predictions(out), [1, 0])
    np.testing.assert_array_equal(nnref.Sigmoid().predictions(np.array([[0.2], [0.51], [0.5]])), [[0], [1], [0]])
    assert nnref.Linear().predictions(out) is out and nnref.ReLU().predictions(out) is out


def test_softmax_accepts_one_dimensional_input():
    """A single 1-D row is normalised along its only axis."""
    out = nnref.Softmax().forward([1.0, 2.0, 3.0])
    assert out.shape == (3,) and out.sum() == pytest.approx(1.0)


@given(batches())
@settings(max_examples=60, deadline=None)
def test_softmax_rows_sum_to_one(x):
    """Every softmax row is a probability distribution."""
    out = nnref.Softmax().forward(x)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(out >= 0) and np.all(out <= 1)


@given(batches(), st.floats(-100, 100, allow_nan=False))
@settings(max_examples=60, deadline=None)
def test_softmax_shift_invariance(x, c):
    """Adding a constant to a row does not change its softmax."""
    sm = nnref.Softmax()
    np.testing.assert_allclose(sm.forward(x + c), nnref.Softmax().forward(x), rtol=1e-9, atol=1e-12)


@given(batches(min_cols=2))
@settings(max_examples=40, deadline=None)
def test_softmax_backward_equals_jacobian_loop(x):
    """The vectorised softmax backward equals the book's Jacobian loop for any input."""
    sm = nnref.Softmax()
    sm.forward(x)
    g = np.cos(np.arange(x.size)).reshape(x.shape)
    np.testing.assert_allclose(sm.backward(g), nnref.softmax_backward_loop(sm.output, g), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cls", [nnref.ReLU, nnref.Softmax, nnref.Sigmoid, nnref.Linear])
@given(x=batches())
@settings(max_examples=25, deadline=None)
def test_backward_shape_equals_input_shape(cls, x):
    """dinputs has the shape of the inputs."""
    act = cls()
    out = act.forward(x)
    assert out.shape == x.shape
    assert act.backward(np.ones_like(out)).shape == x.shape


@given(batches())
@settings(max_examples=40, deadline=None)
def test_sigmoid_range_and_symmetry(x):
    """sigma(x) lies in [0, 1] and sigma(-x) = 1 - sigma(x)."""
    s = nnref.Sigmoid().forward(x)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(nnref.Sigmoid().forward(-x), 1 - s, atol=1e-15)
