"""Chapter 8: the chain rule through the chapter's composite function h(x) = 3 (2x^2)^5."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._core import Checker, Proof, Symbolic, lambdify, register
from ._sym import is_zero, latex

#: Central differences of a degree-10 polynomial on [-1, 1] with step 1e-5 are
#: accurate to about 1e-9 in the mixed error (truncation ~h^2 h'''/6, rounding
#: ~1e-16 |h| / step); 1e-7 keeps a margin and still catches a relative 1e-6.
COMPOSITE_TOLERANCE = 1e-7

#: Points where the page shows the values (SymPy's exact numbers).
SHOWN_AT = (sp.Rational(1, 2), sp.Integer(1))


def _build_chain_rule_composite() -> Symbolic:
    x, y = sp.symbols("x y", real=True)
    g = 2 * x**2                 # the inner function
    f = 3 * y**5                 # the outer function, of y = g(x)
    h = f.subs(y, g)             # h(x) = f(g(x)) = 3 (2x^2)^5
    dh = sp.diff(h, x)           # SymPy differentiates the whole composite
    f_prime_at_g = sp.diff(f, y).subs(y, g)
    g_prime = sp.diff(g, x)
    chain = f_prime_at_g * g_prime
    with sp.evaluate(False):
        written = 15 * (2 * x**2) ** 4 * (4 * x)   # the form worked by hand
        h_written = 3 * (2 * x**2) ** 5            # shown as written, not expanded to 96 x^10
    proofs = [
        Proof("dh/dx == f'(g(x)) * g'(x) (the chain rule)", is_zero(dh - chain)),
        Proof("f'(g(x)) == 15 (2x^2)^4 and g'(x) == 4x",
              is_zero(f_prime_at_g - 15 * g**4) and is_zero(g_prime - 4 * x)),
        Proof("dh/dx == 15 (2x^2)^4 * 4x == 960 x^9", is_zero(dh - written) and sp.expand(dh) == 960 * x**9),
        Proof("forgetting the inner derivative (f'(g(x)) alone) gives the same function",
              is_zero(dh - f_prime_at_g), expected=False),
    ]
    values = ", ".join(rf"h'({latex(v)}) = {latex(dh.subs(x, v))}" for v in SHOWN_AT)
    latex_ = {
        "forward": rf"h(x) = f\bigl(g(x)\bigr) = {latex(h_written)} = {latex(h)}, \qquad g(x) = {latex(g)}, \qquad f(y) = {latex(f)}",
        "derivative": rf"\frac{{dh}}{{dx}} = {latex(dh)}",
        "closed_form": r"\frac{dh}{dx} = \underbrace{15\,(2x^2)^4}_{f'(g(x))} \cdot \underbrace{4x}_{g'(x)} "
                       rf"= 960\,x^9, \qquad {values}",
    }
    fn = {"h": lambdify([x], h), "dh": lambdify([x], dh), "inner_forgotten": lambdify([x], f_prime_at_g)}
    return Symbolic(latex_, proofs, fn)


@register(
    "chain_rule_composite", title="Chain rule through a composite function", chapter=8,
    build=_build_chain_rule_composite,
    summary="The chapter's composite $h(x) = 3(2x^2)^5$: SymPy differentiates it whole, proves the "
            "result equal to the product of the outer derivative (at the inner function) and the "
            "inner derivative, and evaluates it; nnref's central-difference gradient agrees.",
    closed_form_text="h'(x) = 15 (2x^2)^4 * 4x = 960 x^9",
    objects=("nnref.gradcheck.numerical_gradient",),
    where=r"$g$ is the inner function, $f$ the outer one, and $y = g(x)$ is what $f$ receives.",
    notes="The chain rule keeps the inner function unchanged inside the outer derivative "
          "($15\\,(2x^2)^4$, not $15\\,x^4$) and multiplies by the inner derivative ($4x$); the "
          "fourth statement refutes the form that forgets that factor. nnref has no symbolic "
          "differentiation: its counterpart is the gradient checker's central difference "
          "(`nnref.gradcheck.numerical_gradient`), compared here with SymPy's derivative at random "
          "points of $[-1, 1]$ and at $x = 0$, where the derivative is 0.",
    tolerance=COMPOSITE_TOLERANCE,
)
def _check_chain_rule_composite(sym: Symbolic, c: Checker) -> None:
    from nnref.gradcheck import numerical_gradient

    def at(points: np.ndarray, label: str, kind: str) -> None:
        x = np.array(points, dtype=np.float64)
        numeric = numerical_gradient(lambda: float(np.sum(sym.fn["h"](x))), x)
        c.compare(label, numeric, sym.fn["dh"](np.array(points, dtype=np.float64)), kind=kind)

    for _ in range(c.draws):
        at(c.rng.uniform(-1, 1, size=5), "central differences of h at random x in [-1, 1]", "random")
    at(np.array([0.0]), "x = 0: h'(0) = 0", "convention")
    gap = np.max(np.abs(sym.fn["inner_forgotten"](np.array([0.5, 1.0])) - sym.fn["dh"](np.array([0.5, 1.0]))))
    c.note(f"forgetting the inner derivative would be off by up to {gap:.4g} at x = 0.5 and 1")
