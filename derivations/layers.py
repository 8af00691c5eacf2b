"""Layers: the single-neuron chain rule, the dense layer, dropout, and L1/L2 regularization."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._core import Checker, Proof, Symbolic, lambdify, register
from ._sym import all_zero, is_zero, latex, matrix, piecewise_zero


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 1e-3,
                    high: float = 1.0) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


# ---------------------------------------------------------------- chain rule, one neuron
def _build_chain_rule() -> Symbolic:
    x = sp.symbols("x_1:4", real=True)
    w = sp.symbols("w_1:4", real=True)
    b = sp.Symbol("b", real=True)
    z = sum(wi * xi for wi, xi in zip(w, x)) + b
    relu = sp.Piecewise((z, z > 0), (0, True))
    step = sp.Heaviside(z, 0)
    d_w = [sp.diff(relu, wi) for wi in w]
    d_x = [sp.diff(relu, xi) for xi in x]
    d_b = sp.diff(relu, b)
    # chain rule: dReLU/dz · dz/dparameter, with dz/dw_i = x_i, dz/dx_i = w_i, dz/db = 1
    proofs = [Proof(f"d relu(z) / d{v} == [z > 0] * dz/d{v} (= {dz})", piecewise_zero(d - step * dz))
              for v, d, dz in [*zip(("w_1", "w_2", "w_3"), d_w, x), *zip(("x_1", "x_2", "x_3"), d_x, w),
                               ("b", d_b, 1)]]
    params = [*x, *w, b]
    fn = {
        "forward": lambdify(params, relu),
        "dw": lambdify(params, sp.Matrix(d_w)),
        "dx": lambdify(params, sp.Matrix(d_x)),
        "db": lambdify(params, d_b),
    }
    latex_ = {
        "forward": rf"y = \max(0, z), \qquad z = {latex(z)}",
        "derivative": rf"\frac{{\partial y}}{{\partial w_1}} = {latex(d_w[0])}",
        "closed_form": r"\frac{\partial y}{\partial w_i} = \underbrace{[z > 0]}_{\partial y / \partial z}"
                       r"\cdot \underbrace{x_i}_{\partial z / \partial w_i}, \qquad "
                       r"\frac{\partial y}{\partial x_i} = [z > 0]\, w_i, \qquad "
                       r"\frac{\partial y}{\partial b} = [z > 0]",
    }
    return Symbolic(latex_, proofs, fn)


@register(
    "chain_rule", title="Chain rule for one neuron", chapter=9, build=_build_chain_rule,
    summary="The chain rule of chapter 8 applied to the single ReLU neuron that opens chapter 9: "
            "each partial derivative is the ReLU's slope times the derivative of the weighted sum.",
    closed_form_text="dw_i = [z>0] x_i, dx_i = [z>0] w_i, db = [z>0]",
    objects=("nnref.layers.Dense", "nnref.activations.ReLU"),
    where=r"$[z > 0]$ is 1 when the weighted sum is positive and 0 otherwise; the gradient arriving "
          r"at the neuron's output is 1.",
    notes="nnref computes these with a `Dense(3, 1)` layer followed by `ReLU`: `ReLU.backward` "
          "supplies the first factor and `Dense.backward` multiplies by the inputs (for the "
          "weights) or the weights (for the inputs). The check includes the book's neuron, "
          "$x = (1, -2, 3)$, $w = (-3, -1, 2)$, $b = 1$.",
)
def _check_chain_rule(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import ReLU
    from nnref.layers import Dense

    def neuron(x: np.ndarray, w: np.ndarray, b: float, label: str, kind: str) -> None:
        args = (*x, *w, b)
        dense, relu = Dense(3, 1, rng=0), ReLU()
        dense.set_parameters(w.reshape(3, 1), np.array([[b]]))
        out = relu.forward(dense.forward(x.reshape(1, 3)))
        dense.backward(relu.backward(np.ones_like(out)))
        c.compare(f"{label}: output", out[0, 0], sym.fn["forward"](*args), kind=kind)
        c.compare(f"{label}: dweights", dense.dweights[:, 0], sym.fn["dw"](*args)[:, 0], kind=kind)
        c.compare(f"{label}: dinputs", dense.dinputs[0], sym.fn["dx"](*args)[:, 0], kind=kind)
        c.compare(f"{label}: dbiases", dense.dbiases[0, 0], sym.fn["db"](*args), kind=kind)

    for _ in range(4 * c.draws):
        x, w = c.rng.normal(size=3), c.rng.normal(size=3)
        b = float(c.rng.normal())
        if abs(x @ w + b) < 1e-3:  # keep off the kink
            continue
        neuron(x, w, b, "random neuron", "random")
    neuron(np.array([1.0, -2.0, 3.0]), np.array([-3.0, -1.0, 2.0]), 1.0, "the book's neuron", "convention")


# ---------------------------------------------------------------- dense layer
DENSE_SIZES = (4, 3, 2)  # samples, inputs, neurons


def _build_dense() -> Symbolic:
    n, n_in, n_out = DENSE_SIZES
    X, W = sp.MatrixSymbol("X", n, n_in), sp.MatrixSymbol("W", n_in, n_out)
    b, G = sp.MatrixSymbol("b", 1, n_out), sp.MatrixSymbol("G", n, n_out)
    ones_col, ones_row = sp.OneMatrix(n, 1), sp.OneMatrix(1, n)
    Z = X * W + ones_col * b
    # phi = sum_ij G_ij Z_ij: its gradient is the vector-Jacobian product backward computes
    phi = sp.Trace(G.T * Z)
    dW, db, dX = sp.diff(phi, W), sp.diff(phi, b), sp.diff(phi, X)
    proofs = [
        Proof("matrix calculus: d tr(G^T (X W + 1 b)) / dW == X^T G", dW == X.T * G),
        Proof("matrix calculus: d tr(G^T (X W + 1 b)) / db == 1^T G (column sums of G)", db == ones_row * G),
        Proof("matrix calculus: d tr(G^T (X W + 1 b)) / dX == G W^T", dX == G * W.T),
    ]
    # the same three, entry by entry, with plain scalar calculus on explicit matrices
    Xm, Wm = matrix("x", n, n_in), matrix("w", n_in, n_out)
    bm, Gm = matrix("b", 1, n_out), matrix("g", n, n_out)
    Zm = Xm * Wm + sp.ones(n, 1) * bm
    phim = sum(Gm[i, j] * Zm[i, j] for i in range(n) for j in range(n_out))
    # the matrix forms proved above, written out (as_explicit() on them is 10x slower)
    explicit = {"dW": Xm.T * Gm, "db": sp.ones(1, n) * Gm, "dX": Gm * Wm.T}
    grads = {}
    for name, sym_m in (("dW", Wm), ("db", bm), ("dX", Xm)):
        scalar = sp.Matrix(*sym_m.shape, lambda i, j: sp.diff(phim, sym_m[i, j]))
        proofs.append(Proof(f"entry by entry ({n} samples, {n_in} inputs, {n_out} neurons): "
                            f"scalar d phi / d {name[1:]} == the matrix form", all_zero(scalar - explicit[name])))
        grads[name] = scalar
    args = [Xm, Wm, bm, Gm]
    fn = {"forward": lambdify(args, Zm), **{k: lambdify(args, v) for k, v in grads.items()}}
    latex_ = {
        "forward": r"z_{ij} = \sum_{k} x_{ik}\, w_{kj} + b_j, \qquad Z = X W + \mathbf{1} b",
        "derivative": r"\phi = \operatorname{tr}\bigl(G^{\top} (X W + \mathbf{1} b)\bigr):" rf" \quad \frac{{\partial \phi}}{{\partial W}} = {latex(dW)}, \quad "
                      rf"\frac{{\partial \phi}}{{\partial b}} = \mathbf{{1}}^{{\top}} G, \quad "
                      rf"\frac{{\partial \phi}}{{\partial X}} = {latex(dX)}",
        "closed_form": r"\frac{\partial L}{\partial w_{kj}} = \sum_i x_{ik}\, g_{ij}, \qquad "
                       r"\frac{\partial L}{\partial b_j} = \sum_i g_{ij}, \qquad "
                       r"\frac{\partial L}{\partial x_{ik}} = \sum_j g_{ij}\, w_{kj}",
    }
    return Symbolic(latex_, proofs, fn)


@register(
    "dense", title="Dense layer", chapter=9, build=_build_dense,
    summary="The three gradients of a fully connected layer: inputs transposed times the incoming "
            "gradient for the weights, its column sums for the biases, and the gradient times the "
            "transposed weights for the inputs.",
    closed_form_text="dW = X^T G, db = sum_i G, dX = G W^T",
    objects=("nnref.layers.Dense",),
    where=r"$X$ is the batch of inputs (one sample per row), $G = \partial L / \partial Z$ is `dvalues`, "
          r"$\mathbf{1}$ a column of ones; $\phi = \operatorname{tr}(G^\top Z) = \sum_{ij} g_{ij} z_{ij}$ "
          r"has exactly the gradients the backward pass must return.",
    notes="SymPy's matrix calculus gives the batch formulas directly; the proof is repeated with "
          "ordinary scalar derivatives on explicit $4 \\times 3$ and $3 \\times 2$ matrices so that "
          "it does not rest on the matrix-calculus rules alone.",
)
def _check_dense(sym: Symbolic, c: Checker) -> None:
    from nnref.layers import Dense

    n, n_in, n_out = DENSE_SIZES
    for _ in range(c.draws):
        x = c.rng.normal(size=(n, n_in))
        w, b = c.rng.normal(size=(n_in, n_out)), c.rng.normal(size=(1, n_out))
        g = c.rng.normal(size=(n, n_out))
        layer = Dense(n_in, n_out, rng=0)
        layer.set_parameters(w, b)
        args = (x, w, b, g)
        c.compare("forward", layer.forward(x), sym.fn["forward"](*args))
        layer.backward(g)
        c.compare("dweights", layer.dweights, sym.fn["dW"](*args))
        c.compare("dbiases", layer.dbiases, sym.fn["db"](*args))
        c.compare("dinputs", layer.dinputs, sym.fn["dX"](*args))


# ---------------------------------------------------------------- dropout
def _build_dropout() -> Symbolic:
    x, g = sp.symbols("x g", real=True)
    m = sp.Symbol("m", nonnegative=True)  # the Bernoulli mask value, 0 or 1
    q = sp.Symbol("q", positive=True)  # keep probability, 1 - rate
    forward = m * x / q
    derivative = sp.diff(forward, x)
    expectation = q * forward.subs(m, 1) + (1 - q) * forward.subs(m, 0)
    proofs = [
        Proof("d (m x / q) / dx == m / q", is_zero(derivative - m / q)),
        Proof("inverted dropout keeps the mean: q (x / q) + (1 - q) 0 == x", is_zero(expectation - x)),
    ]
    latex_ = {
        "forward": rf"y = {latex(forward)}, \qquad m \sim \operatorname{{Bernoulli}}(q),\ q = 1 - \text{{rate}}",
        "derivative": rf"\frac{{\partial y}}{{\partial x}} = {latex(derivative)}, \qquad "
                      r"\mathbb{E}[y] = q \cdot \frac{x}{q} + (1 - q) \cdot 0 = x",
        "closed_form": rf"\frac{{\partial L}}{{\partial x}} = {latex(g * m / q)}",
    }
    fn = {"forward": lambdify([x, m, q], forward), "grad": lambdify([x, m, q, g], g * derivative)}
    return Symbolic(latex_, proofs, fn)


@register(
    "dropout", title="Dropout", chapter=15, build=_build_dropout,
    summary="Inverted dropout multiplies each value by its mask divided by the keep probability; "
            "the backward pass multiplies the gradient by the same factor.",
    closed_form_text="dx = g * m / q",
    objects=("nnref.layers.Dropout",),
    where=r"$m \in \{0, 1\}$ is the value's mask entry, $q$ the keep probability and "
          r"$g$ the incoming gradient.",
    notes="The check reads the mask off nnref's own output (an input that is never 0 comes out "
          "non-zero exactly where it was kept) and compares forward and backward with SymPy's "
          "expressions for that mask. With `training=False` the layer is the identity, in both "
          "directions.",
)
def _check_dropout(sym: Symbolic, c: Checker) -> None:
    from nnref.layers import Dropout

    for k in range(c.draws):
        rate = (0.1, 0.3, 0.5, 0.7)[k % 4]
        q = 1.0 - rate
        x = _away_from_zero(c.rng, (6, 5), high=3.0)
        g = c.rng.normal(size=x.shape)
        layer = Dropout(rate, rng=int(c.rng.integers(2**31)))
        out = layer.forward(x, training=True)
        mask = (out != 0).astype(float)
        c.compare("forward (mask from the output)", out, sym.fn["forward"](x, mask, q))
        c.compare("backward", layer.backward(g), sym.fn["grad"](x, mask, q, g))
    layer = Dropout(0.5, rng=1)
    c.compare("training=False: forward is the identity", layer.forward(x, training=False), x, kind="convention")
    c.compare("training=False: backward is the identity", layer.backward(g), g, kind="convention")


# ---------------------------------------------------------------- L1 / L2 regularization
REG_SHAPES = ((4, 3), (1, 3))  # weights, biases


def _reg_check(sym: Symbolic, c: Checker, kind: str) -> None:
    """Dense with only this penalty: backward(0) leaves the penalty's gradient in dweights/dbiases."""
    from nnref.layers import Dense
    from nnref.losses import Loss

    n_in, n_out = REG_SHAPES[0]
    lam_w, lam_b = 5e-4, 2e-3
    kwargs = {f"weight_regularizer_{kind}": lam_w, f"bias_regularizer_{kind}": lam_b}

    def layer_with(w: np.ndarray, b: np.ndarray) -> Dense:
        layer = Dense(n_in, n_out, rng=0, **kwargs)
        layer.set_parameters(w, b)
        layer.forward(c.rng.normal(size=(5, n_in)))
        # zero data gradient: what is left is the penalty's gradient alone
        layer.backward(np.zeros((5, n_out)))
        return layer

    for _ in range(c.draws):
        w, b = _away_from_zero(c.rng, (n_in, n_out)), _away_from_zero(c.rng, (1, n_out))
        layer = layer_with(w, b)
        penalty = np.sum(sym.fn["penalty"](w, lam_w)) + np.sum(sym.fn["penalty"](b, lam_b))
        c.compare("penalty (Dense.regularization_loss)", layer.regularization_loss(), penalty)
        c.compare("penalty (Loss.regularization_loss(layer))", Loss().regularization_loss(layer), penalty)
        c.compare("dweights", layer.dweights, sym.fn["grad"](w, lam_w))
        c.compare("dbiases", layer.dbiases, sym.fn["grad"](b, lam_b))
    if kind == "l1":
        w, b = _away_from_zero(c.rng, (n_in, n_out)), _away_from_zero(c.rng, (1, n_out))
        w[0, 0] = w[2, 1] = 0.0
        b[0, 1] = 0.0
        layer = layer_with(w, b)
        c.compare("planted zeros: gradient +lambda at w = 0 (the book's convention)",
                  layer.dweights, sym.fn["closed"](w, lam_w), kind="convention")
        c.compare("planted zeros: gradient +lambda at b = 0", layer.dbiases, sym.fn["closed"](b, lam_b),
                  kind="convention")
        c.note(f"at w = 0 SymPy's sign gives {sym.fn['grad'](np.zeros(1), lam_w)[0]:g}, nnref and the book "
               f"give +lambda = {layer.dweights[0, 0]:g}")


def _build_l1() -> Symbolic:
    w = sp.Symbol("w", real=True)
    lam = sp.Symbol("lambda", positive=True)
    p = sp.Symbol("p", positive=True)
    penalty = lam * sp.Abs(w)
    derivative = sp.diff(penalty, w)
    # nnref / the book: +1 where w >= 0, -1 where w < 0
    closed = sp.Piecewise((lam, w >= 0), (-lam, True))
    proofs = [
        Proof("d (lambda |w|) / dw == lambda sign(w)", sp.simplify(derivative - lam * sp.sign(w)) == 0),
        Proof("for w > 0: lambda sign(w) == the book's +lambda", is_zero((derivative - closed).subs(w, p))),
        Proof("for w < 0: lambda sign(w) == the book's -lambda", is_zero((derivative - closed).subs(w, -p))),
        Proof("at w = 0 they differ: SymPy's sign(0) = 0, the book's convention gives +lambda",
              derivative.subs(w, 0) == 0 and closed.subs(w, 0) == lam),
    ]
    latex_ = {
        "forward": r"L_{1} = \lambda \sum_{k} |w_k|",
        "derivative": rf"\frac{{\partial L_1}}{{\partial w_k}} = {latex(derivative.subs(w, sp.Symbol('w_k', real=True)))}",
        "closed_form": r"\frac{\partial L_1}{\partial w_k} = \begin{cases} \lambda & w_k \ge 0 \\ -\lambda & w_k < 0 "
                       r"\end{cases}",
    }
    fn = {"penalty": lambdify([w, lam], penalty), "grad": lambdify([w, lam], derivative),
          "closed": lambdify([w, lam], closed)}
    return Symbolic(latex_, proofs, fn)


@register(
    "l1", title="L1 regularization", chapter=14, build=_build_l1,
    summary="The L1 penalty adds lambda times the sign of each weight (and bias) to its gradient.",
    closed_form_text="dw += lambda * (1 if w >= 0 else -1)",
    objects=("nnref.layers.Dense",),
    where=r"$\lambda$ is `weight_regularizer_l1` (or `bias_regularizer_l1` for the biases).",
    notes="$|w|$ has no derivative at 0. SymPy's $\\operatorname{sign}$ takes 0 there; the book, "
          "and nnref, take $+1$. The check plants exact zeros among the weights and biases to "
          "pin that convention.",
)
def _check_l1(sym: Symbolic, c: Checker) -> None:
    _reg_check(sym, c, "l1")


def _build_l2() -> Symbolic:
    w = sp.Symbol("w", real=True)
    lam = sp.Symbol("lambda", positive=True)
    penalty = lam * w**2
    derivative = sp.diff(penalty, w)
    proofs = [Proof("d (lambda w^2) / dw == 2 lambda w", is_zero(derivative - 2 * lam * w))]
    wk = sp.Symbol("w_k", real=True)
    latex_ = {
        "forward": r"L_{2} = \lambda \sum_{k} w_k^{2}",
        "derivative": rf"\frac{{\partial L_2}}{{\partial w_k}} = {latex(derivative.subs(w, wk))}",
        "closed_form": rf"\frac{{\partial L_2}}{{\partial w_k}} = {latex(2 * lam * wk)}",
    }
    fn = {"penalty": lambdify([w, lam], penalty), "grad": lambdify([w, lam], derivative)}
    return Symbolic(latex_, proofs, fn)


@register(
    "l2", title="L2 regularization", chapter=14, build=_build_l2,
    summary="The L2 penalty adds twice lambda times each weight (and bias) to its gradient.",
    closed_form_text="dw += 2 * lambda * w",
    objects=("nnref.layers.Dense",),
    where=r"$\lambda$ is `weight_regularizer_l2` (or `bias_regularizer_l2` for the biases).",
)
def _check_l2(sym: Symbolic, c: Checker) -> None:
    _reg_check(sym, c, "l2")
