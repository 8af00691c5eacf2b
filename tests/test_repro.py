"""book_mode(): the book's numpy state inside a ``with`` block, and nothing left behind after it."""
from __future__ import annotations

import numpy as np
import pytest

import nnref
from nnref.repro import book_mode, book_mode_active


def _functions():
    return np.dot, np.zeros, np.eye, np.random.randn


def test_patch_is_active_inside_and_gone_after():
    """Inside the block numpy behaves as after nnfs.init(); afterwards the original functions are back."""
    before = _functions()
    with book_mode():
        assert book_mode_active()
        assert np.random.randn(2, 2).dtype == np.float32
        assert np.zeros((2, 2)).dtype == np.float32
        assert np.eye(2).dtype == np.float32
        assert np.dot(np.ones((2, 2)), np.ones((2, 2))).dtype == np.float32
    assert not book_mode_active()
    assert _functions() == before
    assert np.random.randn(2).dtype == np.float64
    assert np.zeros(2).dtype == np.float64


def test_seeds_the_global_rng_with_zero():
    """The first draw is numpy's seed-0 stream (the book prints 1.7640524 first), cast to float32."""
    with book_mode():
        draw = np.random.randn(2, 5)
    expected = np.random.RandomState(0).randn(2, 5).astype(np.float32)
    np.testing.assert_array_equal(draw, expected)


def test_restores_global_random_state():
    """The global RNG continues after the block exactly as if the block had not run."""
    np.random.seed(123)
    reference = np.random.RandomState(123).randn(3)
    with book_mode():
        np.random.randn(10)
    np.testing.assert_array_equal(np.random.randn(3), reference)


def test_restores_after_an_exception():
    """An exception inside the block still restores numpy."""
    before = _functions()
    with pytest.raises(RuntimeError, match="boom"):
        with book_mode():
            raise RuntimeError("boom")
    assert _functions() == before and not book_mode_active()


def test_nested_blocks_do_not_wrap_twice():
    """A nested block reseeds without wrapping the wrappers; leaving it keeps the outer patch."""
    with book_mode():
        outer = _functions()
        with book_mode(seed=0):
            assert _functions() == outer
            first = np.random.randn(3)
        assert _functions() == outer and book_mode_active()
    np.testing.assert_array_equal(first, np.random.RandomState(0).randn(3).astype(np.float32))


def test_dense_created_outside_computes_in_book_mode_inside():
    """Layers look np.dot up at call time, so a forward inside the block gives the book's float32 result."""
    layer = nnref.Dense(2, 3, rng=0, dtype=np.float32)
    x = np.ones((4, 2), dtype=np.float32)
    with book_mode():
        inside = layer.forward(x)
    expected = (np.dot(x.astype(np.float64), layer.weights.astype(np.float64))).astype(np.float32) + layer.biases
    np.testing.assert_array_equal(inside, expected)
    assert inside.dtype == np.float32


def test_dense_default_init_draws_from_the_patched_randn():
    """Dense() without rng draws 0.01 * randn from the seeded global stream (chapter 3's printed weights)."""
    with book_mode():
        layer = nnref.Dense(2, 4)
    expected = 0.01 * np.random.RandomState(0).randn(2, 4).astype(np.float32)
    np.testing.assert_array_equal(layer.weights, expected)
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32


def test_different_seed():
    """``seed`` chooses the global stream."""
    with book_mode(seed=7):
        draw = np.random.randn(3)
    np.testing.assert_array_equal(draw, np.random.RandomState(7).randn(3).astype(np.float32))
