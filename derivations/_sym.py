"""Small SymPy helpers shared by the topic modules (techniques from notes/derivations.md)."""
from __future__ import annotations

from typing import Any

import sympy as sp


def matrix(prefix: str, rows: int, cols: int, **assumptions: Any) -> sp.Matrix:
    """A ``rows x cols`` matrix of scalar symbols ``prefix_ij`` (real unless told otherwise)."""
    assumptions.setdefault("real", True)
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{prefix}_{i}{j}", **assumptions))


def row(prefix: str, n: int, **assumptions: Any) -> sp.Matrix:
    """A column vector of symbols ``prefix_1 .. prefix_n`` (1-based, as on the pages)."""
    assumptions.setdefault("real", True)
    return sp.Matrix([sp.Symbol(f"{prefix}_{k + 1}", **assumptions) for k in range(n)])


def is_zero(expr: Any) -> bool:
    """Exact zero test for rational functions of symbols, exp and log terms.

    ``exp(a + b)`` is first split into ``exp(a) exp(b)`` so that ``cancel`` sees
    common factors (a full ``expand`` is 10-20 times slower on softmax sums).
    """
    return sp.cancel(sp.expand_power_exp(expr)) == 0


def all_zero(m: sp.MatrixBase) -> bool:
    """Every entry of ``m`` is exactly zero (cheap structural test first, then ``cancel``)."""
    return all(e == 0 or is_zero(e) for e in m)


def piecewise_zero(expr: Any) -> bool:
    """Zero test for expressions with Max/Heaviside/Piecewise (ReLU and the chain rule)."""
    e = sp.piecewise_fold(sp.sympify(expr).rewrite(sp.Piecewise))
    return sp.simplify(e) == 0


def softmax(z: sp.MatrixBase) -> sp.Matrix:
    """Softmax of a vector of symbols, written the textbook way (no max shift)."""
    denom = sum(sp.exp(zk) for zk in z)
    return sp.Matrix([sp.exp(zk) / denom for zk in z])


def latex(expr: Any) -> str:
    """SymPy's LaTeX with the ``\\text{for}\\:`` of Piecewise shortened to plain cases."""
    return sp.latex(expr).replace(r"\text{for}\: ", "")
