"""Activations: ReLU, Linear, Sigmoid, and the softmax (Jacobian, vector–Jacobian product, shift)."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._core import Checker, Proof, Symbolic, lambdify, register
from ._sym import all_zero, is_zero, latex, piecewise_zero, row, softmax

G_LEGEND = r"$g = \partial L / \partial y$ is the gradient arriving from the next layer (`dvalues`)"


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 1e-3,
                    high: float = 3.0) -> np.ndarray:
    """Uniform magnitudes in [low, high] with random signs: keeps points off the kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


# ---------------------------------------------------------------- ReLU
def _build_relu() -> Symbolic:
    z, g = sp.symbols("z g", real=True)
    forward = sp.Piecewise((z, z > 0), (0, True))
    derivative = sp.diff(forward, z)
    # nnref: dvalues * (inputs > 0), i.e. the step function with value 0 at 0
    closed = sp.Heaviside(z, 0)
    sympy_max_slope = sp.diff(sp.Max(0, z), z)
    proofs = [
        Proof("max(0, z) == Piecewise((z, z > 0), (0, True))", piecewise_zero(sp.Max(0, z) - forward)),
        Proof("diff(forward, z) == Heaviside(z, 0), the step nnref codes", piecewise_zero(derivative - closed)),
        Proof("diff(Max(0, z), z) at z = 0 is 1/2, not the book's 0 (why we use the Piecewise form)",
              sympy_max_slope.subs(z, 0) == sp.Rational(1, 2)),
    ]
    latex_ = {
        "forward": rf"y = {latex(sp.Max(0, z))} = {latex(forward)}",
        "derivative": rf"\frac{{\partial y}}{{\partial z}} = {latex(derivative)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial z}} = {latex(g * sp.Piecewise((1, z > 0), (0, True)))}",
    }
    fn = {"forward": lambdify([z], forward), "grad": lambdify([z, g], g * derivative),
          "closed": lambdify([z, g], g * closed)}
    return Symbolic(latex_, proofs, fn)


@register(
    "relu", title="ReLU", chapter=9, build=_build_relu,
    summary="The rectified linear unit passes the gradient where its input was positive and blocks it elsewhere.",
    closed_form_text="dz = g * [z > 0]",
    objects=("nnref.activations.ReLU",),
    where=G_LEGEND + "; the derivative is applied element by element.",
    notes="SymPy differentiates $\\max(0, z)$ to the Heaviside step, whose value at $z = 0$ is "
          "$1/2$. The book, and nnref, use 0 there (the input must be strictly positive for the "
          "gradient to pass); writing the forward pass as a Piecewise gives SymPy the same "
          "convention. The numeric check plants exact zeros in the input to pin it.",
)
def _check_relu(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import ReLU

    for _ in range(c.draws):
        z = _away_from_zero(c.rng, (5, 4))
        g = c.rng.normal(size=z.shape)
        layer = ReLU()
        c.compare("forward", layer.forward(z), sym.fn["forward"](z))
        c.compare("backward at |z| >= 1e-3", layer.backward(g), sym.fn["grad"](z, g))
    z = _away_from_zero(c.rng, (3, 4))
    z[0, 0] = z[1, 2] = z[2, 3] = 0.0
    g = c.rng.normal(size=z.shape)
    layer = ReLU()
    layer.forward(z)
    c.compare("backward with exact zeros: ReLU'(0) = 0", layer.backward(g), sym.fn["closed"](z, g),
              kind="convention")


# ---------------------------------------------------------------- Linear
def _build_linear() -> Symbolic:
    z, g = sp.symbols("z g", real=True)
    forward = z
    derivative = sp.diff(forward, z)
    proofs = [Proof("diff(z, z) == 1, so dL/dz = g", derivative == 1)]
    latex_ = {
        "forward": "y = z",
        "derivative": rf"\frac{{\partial y}}{{\partial z}} = {latex(derivative)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial z}} = {latex(g * derivative)}",
    }
    return Symbolic(latex_, proofs, {"forward": lambdify([z], forward), "grad": lambdify([z, g], g * derivative)})


@register(
    "linear", title="Linear activation", chapter=17, build=_build_linear,
    summary="The identity activation of a regression output hands the gradient back unchanged.",
    closed_form_text="dz = g",
    objects=("nnref.activations.Linear",),
    where=G_LEGEND + ".",
    notes="nnref returns a copy of `dvalues`, so changing the gradient of one layer later cannot "
          "change another's.",
)
def _check_linear(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Linear

    for _ in range(c.draws):
        z = c.rng.normal(scale=3.0, size=(5, 3))
        g = c.rng.normal(size=z.shape)
        layer = Linear()
        c.compare("forward", layer.forward(z), sym.fn["forward"](z))
        dinputs = layer.backward(g)
        c.compare("backward", dinputs, sym.fn["grad"](z, g))
    c.compare("backward returns a new array, not dvalues itself", float(dinputs is g), 0.0, kind="convention")


# ---------------------------------------------------------------- Sigmoid
def _build_sigmoid() -> Symbolic:
    z, g = sp.symbols("z g", real=True)
    sigma = sp.Function("sigma")
    forward = 1 / (1 + sp.exp(-z))
    derivative = sp.diff(forward, z)
    closed_in_sigma = sigma(z) * (1 - sigma(z))
    closed = closed_in_sigma.subs(sigma(z), forward)
    proofs = [Proof("diff(1/(1 + exp(-z)), z) == sigma(z) (1 - sigma(z))", is_zero(derivative - closed))]
    latex_ = {
        "forward": rf"y = \sigma(z) = {latex(forward)}",
        "derivative": rf"\frac{{\partial y}}{{\partial z}} = {latex(derivative)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial z}} = {latex(g * closed_in_sigma)}",
    }
    fn = {"forward": lambdify([z], forward), "grad": lambdify([z, g], g * derivative)}
    return Symbolic(latex_, proofs, fn)


@register(
    "sigmoid", title="Sigmoid", chapter=16, build=_build_sigmoid,
    summary="The logistic sigmoid's derivative is written in terms of its own output, "
            "so the backward pass reuses the forward result.",
    closed_form_text="dz = g * s * (1 - s)",
    objects=("nnref.activations.Sigmoid",),
    where=G_LEGEND + r"; nnref evaluates $\sigma(z)$ once, in the forward pass, and keeps it as `output`.",
)
def _check_sigmoid(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Sigmoid

    for _ in range(c.draws):
        z = c.rng.normal(scale=3.0, size=(5, 3))
        g = c.rng.normal(size=z.shape)
        layer = Sigmoid()
        c.compare("forward", layer.forward(z), sym.fn["forward"](z))
        c.compare("backward", layer.backward(g), sym.fn["grad"](z, g))
    z = np.array([[-30.0, -12.0, 12.0, 30.0]])
    g = np.ones_like(z)
    layer = Sigmoid()
    layer.forward(z)
    c.compare("backward at saturated inputs |z| = 12, 30", layer.backward(g), sym.fn["grad"](z, g),
              kind="convention")


# ---------------------------------------------------------------- softmax helpers
SOFTMAX_LATEX_N = 3
SOFTMAX_PROOF_SIZES = (2, 3, 4, 5)
SOFTMAX_LEGEND = (r"$z$ is one row of logits with $n$ entries, $s = \operatorname{softmax}(z)$, "
                  r"$\delta_{ik}$ is 1 when $i = k$ and 0 otherwise; the proofs run for "
                  r"$n = 2, 3, 4, 5$ and every row of a batch is independent")


def _softmax_row_fn(z: sp.Matrix, expr: sp.MatrixBase):
    """Apply a lambdified function of one row of logits to every row of a batch."""
    f = lambdify([z], expr)

    vector = expr.shape[1] == 1

    def per_row(batch: np.ndarray) -> np.ndarray:
        out = np.stack([f(r.reshape(z.shape)) for r in batch])
        # a column-vector result (softmax itself) becomes one row per sample
        return out[..., 0] if vector else out

    return per_row


def _logits(rng: np.random.Generator, n: int, rows: int = 5) -> np.ndarray:
    """Moderate logits, 3·N(0, 1): a lambdified textbook softmax would overflow near 700."""
    return rng.normal(scale=3.0, size=(rows, n))


# ---------------------------------------------------------------- softmax Jacobian
def _build_softmax_jacobian() -> Symbolic:
    proofs = []
    fn = {}
    for n in SOFTMAX_PROOF_SIZES:
        z = row("z", n)
        s = softmax(z)
        jac = s.jacobian(z)
        closed = sp.diag(*s) - s * s.T
        proofs.append(Proof(f"jacobian(softmax(z), z) == diag(s) - s s^T for n = {n}", all_zero(jac - closed)))
        if n == 4:
            fn["softmax"] = _softmax_row_fn(z, s)
            fn["jacobian"] = _softmax_row_fn(z, jac)
        if n == SOFTMAX_LATEX_N:
            latex_ = {
                "forward": rf"s_i = \frac{{e^{{z_i}}}}{{\sum_{{l=1}}^{{n}} e^{{z_l}}}}, \qquad "
                           rf"\text{{e.g. }} s_1 = {latex(s[0])}",
                "derivative": rf"\frac{{\partial s_1}}{{\partial z_1}} = {latex(jac[0, 0])}, \qquad "
                              rf"\frac{{\partial s_1}}{{\partial z_2}} = {latex(jac[0, 1])}",
                "closed_form": r"\frac{\partial s_i}{\partial z_k} = s_i\,(\delta_{ik} - s_k), \qquad "
                               r"J = \operatorname{diag}(s) - s\,s^\top",
            }
    return Symbolic(latex_, proofs, fn)


@register(
    "softmax_jacobian", title="Softmax Jacobian", chapter=9, build=_build_softmax_jacobian,
    summary="Each softmax output depends on every input of its row; the matrix of those partial "
            "derivatives is $\\operatorname{diag}(s) - s s^\\top$.",
    closed_form_text="J = diag(s) - s s^T",
    objects=("nnref.activations.Softmax",),
    where=SOFTMAX_LEGEND + ".",
    notes="nnref never builds $J$: `Softmax.backward` applies it to the incoming gradient directly "
          "(see the *Softmax backward* derivation). The check recovers $J$ from nnref by feeding "
          "unit vectors as `dvalues`: with $g = e_k$ the backward pass returns row $k$ of $J^\\top$.",
)
def _check_softmax_jacobian(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Softmax

    n = 4
    for _ in range(c.draws):
        z = _logits(c.rng, n)
        layer = Softmax()
        c.compare("forward", layer.forward(z), sym.fn["softmax"](z))
        # backward(e_k) = J^T e_k: stack them to rebuild the transposed Jacobian of every row
        rows_of_jt = [layer.backward(np.tile(np.eye(n)[k], (z.shape[0], 1))) for k in range(n)]
        jac_nnref = np.transpose(np.stack(rows_of_jt, axis=1), (0, 2, 1))
        c.compare("Jacobian from backward(unit vectors)", jac_nnref, sym.fn["jacobian"](z))


# ---------------------------------------------------------------- softmax backward (VJP)
def _build_softmax_backward() -> Symbolic:
    proofs = []
    fn = {}
    for n in SOFTMAX_PROOF_SIZES:
        z, g = row("z", n), row("g", n)
        s = softmax(z)
        jac = s.jacobian(z)
        vjp = jac.T * g
        # Step 1: SymPy's Jacobian is diag(s) - s s^T (no simplification needed at all).
        jac_closed = sp.diag(*s) - s * s.T
        # Step 2: with the s_k as free symbols, (diag(s) - s s^T)^T g is s * (g - sum(s * g)):
        # a polynomial identity, so expand decides it. (cancel on the exponentials directly
        # costs 0.5 s for n = 2..5; this costs milliseconds.)
        sv = row("s", n)
        dot = (sv.T * g)[0, 0]
        closed = sp.Matrix([sv[k] * (g[k] - dot) for k in range(n)])
        identity = ((sp.diag(*sv) - sv * sv.T).T * g - closed).expand()
        proofs.append(Proof(f"J^T g == s * (g - sum(s * g)) for n = {n} "
                            "(J == diag(s) - s s^T, then a polynomial identity in s and g)",
                            all_zero(jac - jac_closed) and identity == sp.zeros(n, 1)))
        if n == 4:
            fn["vjp"] = lambdify([z, g], vjp)
        if n == SOFTMAX_LATEX_N:
            latex_ = {
                "forward": r"\frac{\partial L}{\partial z_k} = \sum_{i=1}^{n} \frac{\partial s_i}{\partial z_k}\, g_i"
                           r" = \bigl(J^\top g\bigr)_k",
                "derivative": rf"\bigl(J^\top g\bigr)_1 = {latex(sp.factor_terms(vjp[0]))}",
                "closed_form": r"\frac{\partial L}{\partial z_k} = s_k \Bigl(g_k - \sum_{i=1}^{n} s_i\, g_i\Bigr)",
            }
    return Symbolic(latex_, proofs, fn)


@register(
    "softmax_backward", title="Softmax backward (vectorised)", chapter=9, build=_build_softmax_backward,
    summary="Multiplying the softmax Jacobian by the incoming gradient collapses to an element-wise "
            "formula, so no $n \\times n$ matrix per sample is needed.",
    closed_form_text="dz = s * (g - sum(s * g))",
    objects=("nnref.activations.Softmax", "nnref.activations.softmax_backward_loop"),
    headings={"forward": "What the backward pass must compute"},
    where=SOFTMAX_LEGEND + r"; $g$ is the row of `dvalues`.",
    notes="The book builds each sample's Jacobian in a Python loop and multiplies; nnref keeps that "
          "version as `softmax_backward_loop` and uses the element-wise form in `Softmax.backward`. "
          "Both are checked here against SymPy's $J^\\top g$.",
)
def _check_softmax_backward(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Softmax, softmax_backward_loop

    n = 4
    vjp = sym.fn["vjp"]
    for _ in range(c.draws):
        z = _logits(c.rng, n)
        g = c.rng.normal(size=z.shape)
        layer = Softmax()
        out = layer.forward(z)
        expected = np.stack([vjp(zr.reshape(n, 1), gr.reshape(n, 1)).ravel() for zr, gr in zip(z, g)])
        c.compare("Softmax.backward", layer.backward(g), expected)
        c.compare("softmax_backward_loop (the book's Jacobian loop)", softmax_backward_loop(out, g), expected)


# ---------------------------------------------------------------- softmax shift invariance
def _build_softmax_shift() -> Symbolic:
    cshift = sp.Symbol("c", real=True)
    proofs = []
    fn = {}
    # n = 5 doubles the cost of this derivation and proves nothing new
    for n in SOFTMAX_PROOF_SIZES[:-1]:
        z = row("z", n)
        s = softmax(z)
        shifted = softmax(z + cshift * sp.ones(n, 1))
        along_c = shifted.diff(cshift)
        proofs.append(Proof(f"softmax(z + c) == softmax(z) for n = {n}", all_zero(shifted - s)))
        proofs.append(Proof(f"d softmax(z + c) / dc == 0 for n = {n}", all_zero(along_c)))
        if n == 4:
            fn["softmax"] = _softmax_row_fn(z, s)
        if n == SOFTMAX_LATEX_N:
            latex_ = {
                "forward": r"s_i(z + c) = \frac{e^{z_i + c}}{\sum_{l} e^{z_l + c}}"
                           r" = \frac{e^{c}\, e^{z_i}}{e^{c} \sum_{l} e^{z_l}} = s_i(z)",
                "derivative": rf"\frac{{\partial s_1(z + c)}}{{\partial c}} = {latex(along_c[0])} = 0",
                "closed_form": r"\operatorname{softmax}(z - \max_l z_l) = \operatorname{softmax}(z), \qquad "
                               r"\sum_k \frac{\partial s_i}{\partial z_k} = s_i\Bigl(1 - \sum_k s_k\Bigr) = 0",
            }
    return Symbolic(latex_, proofs, fn)


@register(
    "softmax_shift", title="Softmax shift invariance", chapter=4, build=_build_softmax_shift,
    summary="Adding the same constant to every logit of a row leaves the softmax unchanged, which is "
            "why nnref may subtract the row maximum before exponentiating.",
    closed_form_text="softmax(z - max z) = softmax(z)",
    objects=("nnref.activations.Softmax",),
    headings={"forward": "The identity", "derivative": "SymPy's derivative along the shift"},
    where=r"$c$ is any real constant added to every entry of the row $z$; the proofs run for $n = 2, 3, 4$.",
    notes="Subtracting the maximum makes every exponent $\\le 0$, so `exp` cannot overflow: logits "
          "around 1000 give the same probabilities as logits around 0. A zero derivative along "
          "$c$ also means every row of the Jacobian sums to 0, which the check confirms through "
          "`Softmax.backward` with a gradient of ones.",
)
def _check_softmax_shift(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Softmax

    n = 4
    for _ in range(c.draws):
        z = _logits(c.rng, n)
        expected = sym.fn["softmax"](z)
        for shift in (-50.0, 7.25, 50.0):
            c.compare("forward of z + c equals SymPy's softmax(z)", Softmax().forward(z + shift), expected)
        layer = Softmax()
        layer.forward(z)
        c.compare("backward(ones): the Jacobian's rows sum to 0", layer.backward(np.ones_like(z)),
                  np.zeros_like(z))
    big = np.array([[1000.0, 1001.0, 1002.0, 999.0]])
    c.compare("logits near 1000 (no overflow)", Softmax().forward(big), sym.fn["softmax"](big - 1000.0),
              kind="convention")
