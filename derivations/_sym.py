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


def _exp_as_symbols(expr: Any) -> Any:
    """Replace each ``exp(k z)`` by ``E_z**k``, ``E_z`` a positive symbol (so ``exp(-z)`` is ``1/E_z``).

    Softmax, sigmoid and their losses are rational functions of the ``exp(z)``
    terms, and ``cancel`` is far faster on plain rational functions. The
    replacement is an exact change of variables (``exp`` is injective), so a
    zero after it is a zero before it.
    """
    reps = {}
    for atom in expr.atoms(sp.exp):
        # exp(k z) with an integer k (SymPy writes exp(z)**2 as exp(2 z)) -> E_z**k
        coeff, rest = atom.args[0].as_coeff_Mul()
        if rest.is_Symbol and coeff.is_Integer:
            reps[atom] = sp.Symbol(f"E_{rest.name}", positive=True) ** coeff
    return expr.xreplace(reps)


def is_zero(expr: Any) -> bool:
    """Exact zero test for rational functions of symbols and exp terms.

    ``exp(a + b)`` is first split into ``exp(a) exp(b)``, then every
    ``exp(symbol)`` becomes a symbol, and ``cancel`` decides (a full ``expand``
    and ``cancel`` on the exponentials is 10-20 times slower on softmax sums).
    """
    expr = sp.expand_power_exp(sp.sympify(expr))
    return sp.cancel(_exp_as_symbols(expr)) == 0


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


def latex(expr: Any, **settings: Any) -> str:
    """SymPy's LaTeX with the ``\\text{for}\\:`` of Piecewise shortened to plain cases.

    ``order="none"`` keeps the order in which a sum was written (``yhat - y``
    rather than SymPy's canonical ``-y + yhat``).
    """
    return sp.latex(expr, **settings).replace(r"\text{for}\: ", "")
