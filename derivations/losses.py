"""Losses: categorical and binary cross-entropy (alone and fused with their activation), MSE, MAE.

Every loss is proved twice:

* per element, with the batch size $N$ and the number of outputs $J$ kept as
  symbols, which gives the short equations shown on the pages;
* on a whole small batch (concrete $N$, $J$), where SymPy differentiates the
  full mean-over-samples, mean-over-outputs loss with respect to every entry,
  so a missing or doubled normalisation cannot hide.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._core import Checker, Proof, Symbolic, lambdify, register
from ._sym import all_zero, is_zero, latex, matrix

CLIP = 1e-7
N_SYM, J_SYM = sp.symbols("N J", positive=True, integer=True)
Y_IJ = sp.Symbol("y_ij", real=True)
YHAT_IJ = sp.Symbol("yhat_ij", positive=True)
Z_IJ = sp.Symbol("z_ij", real=True)

LEGEND = (r"$N$ is the number of samples in the batch, $J$ the number of outputs per sample, "
          r"$\hat{y}_{ij}$ the prediction (`dvalues`) and $y_{ij}$ the target")


def _mean_loss(per_element, yhat: sp.Matrix, y: sp.Matrix, *, over_outputs: bool) -> sp.Expr:
    """The book's normalisation: mean over samples, and for element-wise losses also over outputs."""
    n, j = yhat.shape
    total = sum(per_element(y[a, b], yhat[a, b]) for a in range(n) for b in range(j))
    return total / n / (j if over_outputs else 1)


def _grad(loss: sp.Expr, wrt: sp.Matrix) -> sp.Matrix:
    return sp.Matrix(*wrt.shape, lambda a, b: sp.diff(loss, wrt[a, b]))


def _one_hot(rng: np.random.Generator, n: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, j, size=n)
    return labels, np.eye(j)[labels]


def _probabilities(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Predictions in [0.01, 0.99], away from the clip zone at 1e-7."""
    return rng.uniform(0.01, 0.99, size=shape)


# ---------------------------------------------------------------- categorical cross-entropy
CCE_SHAPE = (3, 4)


def _build_cce() -> Symbolic:
    def term(y, yh):
        return -y * sp.log(yh)

    # per element, general N
    per_elem = term(Y_IJ, YHAT_IJ) / N_SYM
    d_elem = sp.diff(per_elem, YHAT_IJ)
    closed_elem = -Y_IJ / (N_SYM * YHAT_IJ)
    # whole batch
    yhat, y = matrix("yhat", *CCE_SHAPE, positive=True), matrix("y", *CCE_SHAPE)
    loss = _mean_loss(term, yhat, y, over_outputs=False)
    grad = _grad(loss, yhat)
    closed = sp.Matrix(*CCE_SHAPE, lambda a, b: -y[a, b] / yhat[a, b] / CCE_SHAPE[0])
    proofs = [
        Proof("per element: d/dyhat_ij of -y_ij log(yhat_ij) / N == -y_ij / (N yhat_ij)", is_zero(d_elem - closed_elem)),
        Proof(f"whole batch {CCE_SHAPE}: gradient of the mean loss == -y / yhat / N, entry by entry",
              all_zero(grad - closed)),
    ]
    latex_ = {
        "forward": rf"L = -\frac{{1}}{{N}} \sum_{{i=1}}^{{N}} \sum_{{j=1}}^{{J}} {latex(-term(Y_IJ, YHAT_IJ))}",
        "derivative": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(d_elem)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(closed_elem)}, \qquad "
                       rf"\hat{{y}}_{{ij}} \leftarrow \operatorname{{clip}}(\hat{{y}}_{{ij}}, 10^{{-7}}, 1 - 10^{{-7}})",
    }
    fn = {"loss": lambdify([yhat, y], loss), "grad": lambdify([yhat, y], grad)}
    return Symbolic(latex_, proofs, fn)


@register(
    "cce", title="Categorical cross-entropy", chapter=9, build=_build_cce,
    summary="The gradient of categorical cross-entropy with respect to the predicted probabilities, "
            "on its own (chapter 5's loss, chapter 9's backward pass).",
    closed_form_text="dyhat = -y / clip(yhat) / N",
    objects=("nnref.losses.CategoricalCrossentropy",),
    where=LEGEND + r"; $y$ is one-hot (nnref expands class indices to one-hot rows).",
    notes="Predictions are clipped to $[10^{-7}, 1 - 10^{-7}]$ before the logarithm so that "
          "$\\log 0$ never occurs. The book's backward pass divides by the *unclipped* prediction, "
          "which gives $-\\infty$ for a prediction of exactly 0; nnref divides by the clipped value "
          "(as the book itself does for binary cross-entropy). The check plants predictions of "
          "exactly 0 and 1 and compares nnref with SymPy's formulas at the clipped values.",
)
def _check_cce(sym: Symbolic, c: Checker) -> None:
    from nnref.losses import CategoricalCrossentropy

    n, j = CCE_SHAPE
    for _ in range(c.draws):
        yhat = _probabilities(c.rng, CCE_SHAPE)
        labels, onehot = _one_hot(c.rng, n, j)
        loss = CategoricalCrossentropy()
        c.compare("mean loss (calculate)", loss.calculate(yhat, labels), sym.fn["loss"](yhat, onehot))
        expected = sym.fn["grad"](yhat, onehot)
        c.compare("backward, class-index labels", loss.backward(yhat, labels), expected)
        c.compare("backward, one-hot labels", loss.backward(yhat, onehot), expected)
    # clip zone: the true class gets probability 0 in row 0 and 1 in row 1
    yhat = _probabilities(c.rng, CCE_SHAPE)
    labels, onehot = _one_hot(c.rng, n, j)
    yhat[0, labels[0]] = 0.0
    yhat[1, labels[1]] = 1.0
    clipped = np.clip(yhat, CLIP, 1 - CLIP)
    loss = CategoricalCrossentropy()
    c.compare("clipping at 1e-7: loss at yhat = 0 and 1", loss.calculate(yhat, labels),
              sym.fn["loss"](clipped, onehot), kind="convention")
    c.compare("clipping at 1e-7: backward is the formula at the clipped yhat (finite)",
              loss.backward(yhat, labels), sym.fn["grad"](clipped, onehot), kind="convention")


# ---------------------------------------------------------------- softmax + categorical cross-entropy
SCCE_SHAPE = (2, 3)


def _build_softmax_cce() -> Symbolic:
    n, j = SCCE_SHAPE
    z, y = matrix("z", n, j), matrix("y", n, j)
    # one-hot rows sum to 1: write the last column in terms of the others
    y_free = y[:, : j - 1]
    y1 = sp.Matrix(n, j, lambda a, b: y[a, b] if b < j - 1 else 1 - sum(y[a, k] for k in range(j - 1)))
    s = sp.Matrix(n, j, lambda a, b: sp.exp(z[a, b]) / sum(sp.exp(z[a, k]) for k in range(j)))
    loss = -sum(y1[a, b] * sp.log(s[a, b]) for a in range(n) for b in range(j)) / n
    grad = _grad(loss, z)
    closed = (s - y1) / n
    without_constraint = sp.diff(-sum(y[0, b] * sp.log(s[0, b]) for b in range(j)), z[0, 0])
    proofs = [
        Proof(f"whole batch {SCCE_SHAPE}, rows of y summing to 1: d mean loss / dz == (softmax(z) - y) / N",
              all_zero(grad - closed)),
        Proof("without imposing sum_j y_ij = 1 the gradient is s * sum(y) - y, not s - y",
              is_zero(without_constraint - (s[0, 0] * sum(y[0, :]) - y[0, 0]))),
    ]
    # per element (LaTeX): with S = sum of exponentials of the row
    zs = [sp.Symbol(f"z_{k}", real=True) for k in (1, 2, 3)]
    ys = [sp.Symbol(f"y_{k}", real=True) for k in (1, 2)]
    y3 = 1 - ys[0] - ys[1]
    row_s = [sp.exp(zk) / sum(sp.exp(zl) for zl in zs) for zk in zs]
    row_loss = -(ys[0] * sp.log(row_s[0]) + ys[1] * sp.log(row_s[1]) + y3 * sp.log(row_s[2]))
    row_d = sp.diff(row_loss, zs[0])
    latex_ = {
        "forward": r"L = -\frac{1}{N} \sum_{i=1}^{N} \sum_{j=1}^{J} y_{ij} \log s_{ij}, \qquad "
                   r"s_{ij} = \frac{e^{z_{ij}}}{\sum_{l} e^{z_{il}}}, \qquad \sum_j y_{ij} = 1",
        "derivative": r"\text{one sample, } J = 3,\ y_3 = 1 - y_1 - y_2:\quad "
                      rf"\frac{{\partial L}}{{\partial z_1}} = {latex(sp.together(row_d))}",
        "closed_form": r"\frac{\partial L}{\partial z_{ij}} = \frac{s_{ij} - y_{ij}}{N}",
    }
    fn = {
        "loss": lambdify([z, y_free], loss),
        "grad": lambdify([z, y_free], grad),
        "closed": lambdify([z, y_free], closed),
    }
    return Symbolic(latex_, proofs, fn)


@register(
    "softmax_cce", title="Softmax + categorical cross-entropy", chapter=9, build=_build_softmax_cce,
    summary="Chaining the softmax Jacobian with the cross-entropy gradient collapses to "
            "(probabilities minus targets) over the batch size.",
    closed_form_text="dz = (softmax(z) - y) / N",
    objects=("nnref.losses.SoftmaxCategoricalCrossentropy",),
    where=LEGEND + r"; $z_{ij}$ are the logits and $s_{ij}$ their softmax.",
    notes="The simplification needs the targets of a sample to sum to 1 (one-hot rows do); without "
          "that constraint SymPy's gradient is $s_{ij} \\sum_k y_{ik} - y_{ij}$, which the second "
          "proof confirms. nnref's fused `backward` turns 2-D targets into class indices (argmax), "
          "so it is checked with one-hot rows only: for soft targets it would not give $(s - y)/N$. "
          "The fused gradient needs no division, so it stays finite for any "
          "logits; the check includes a logit gap of 100 and compares the separately chained "
          "`Softmax` and `CategoricalCrossentropy` backward passes at moderate logits.",
)
def _check_softmax_cce(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Softmax
    from nnref.losses import CategoricalCrossentropy, SoftmaxCategoricalCrossentropy

    n, j = SCCE_SHAPE
    for _ in range(c.draws):
        z = c.rng.normal(scale=3.0, size=SCCE_SHAPE)
        labels, onehot = _one_hot(c.rng, n, j)
        free = onehot[:, : j - 1]
        fused = SoftmaxCategoricalCrossentropy()
        c.compare("forward: mean loss", fused.forward(z, labels), sym.fn["loss"](z, free))
        expected = sym.fn["grad"](z, free)
        c.compare("backward, class-index labels", fused.backward(fused.output, labels), expected)
        c.compare("backward, one-hot labels", fused.backward(fused.output, onehot), expected)
        act, loss = Softmax(), CategoricalCrossentropy()
        act.forward(z)
        chained = act.backward(loss.backward(act.output, labels))
        c.compare("Softmax.backward(CategoricalCrossentropy.backward) at moderate logits", chained, expected,
                  tolerance=1e-9)
    z = np.array([[0.0, 50.0, -50.0], [3.0, -1.0, 2.0]])
    labels = np.array([2, 0])
    free = np.eye(j)[labels][:, : j - 1]
    fused = SoftmaxCategoricalCrossentropy()
    fused.forward(z, labels)
    c.compare("logit gap of 100: fused gradient stays finite", fused.backward(fused.output, labels),
              sym.fn["closed"](z, free), kind="convention")


# ---------------------------------------------------------------- binary cross-entropy
BCE_SHAPE = (3, 2)


def _bce_term(y, yh):
    return -(y * sp.log(yh) + (1 - y) * sp.log(1 - yh))


def _build_bce() -> Symbolic:
    per_elem = _bce_term(Y_IJ, YHAT_IJ) / (N_SYM * J_SYM)
    d_elem = sp.diff(per_elem, YHAT_IJ)
    closed_elem = -(Y_IJ / YHAT_IJ - (1 - Y_IJ) / (1 - YHAT_IJ)) / (N_SYM * J_SYM)
    yhat, y = matrix("yhat", *BCE_SHAPE, positive=True), matrix("y", *BCE_SHAPE)
    loss = _mean_loss(_bce_term, yhat, y, over_outputs=True)
    grad = _grad(loss, yhat)
    n, j = BCE_SHAPE
    closed = sp.Matrix(n, j, lambda a, b: -(y[a, b] / yhat[a, b] - (1 - y[a, b]) / (1 - yhat[a, b])) / j / n)
    proofs = [
        Proof("per element: derivative == -(y/yhat - (1-y)/(1-yhat)) / (N J)", is_zero(d_elem - closed_elem)),
        Proof(f"whole batch {BCE_SHAPE}: gradient of the mean over samples and outputs == the same, entry by entry",
              all_zero(grad - closed)),
    ]
    latex_ = {
        "forward": rf"L = \frac{{1}}{{N}} \sum_{{i=1}}^{{N}} \frac{{1}}{{J}} \sum_{{j=1}}^{{J}} "
                   rf"\Bigl[{latex(_bce_term(Y_IJ, YHAT_IJ))}\Bigr]",
        "derivative": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(d_elem)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = "
                       r"-\frac{1}{N J}\left(\frac{y_{ij}}{\hat{y}_{ij}} - \frac{1 - y_{ij}}{1 - \hat{y}_{ij}}\right),"
                       r" \qquad \hat{y}_{ij} \leftarrow \operatorname{clip}(\hat{y}_{ij}, 10^{-7}, 1 - 10^{-7})",
    }
    fn = {"loss": lambdify([yhat, y], loss), "grad": lambdify([yhat, y], grad)}
    return Symbolic(latex_, proofs, fn)


@register(
    "bce", title="Binary cross-entropy", chapter=16, build=_build_bce,
    summary="The gradient of binary cross-entropy, averaged over the outputs of each sample and "
            "over the samples, with respect to the sigmoid outputs.",
    closed_form_text="dyhat = -(y/yhat - (1-y)/(1-yhat)) / J / N",
    objects=("nnref.losses.BinaryCrossentropy",),
    where=LEGEND + r"; targets may be 0/1 or any value in $[0, 1]$.",
    notes="Both passes clip the prediction to $[10^{-7}, 1 - 10^{-7}]$. The backward pass is the "
          "unclipped formula evaluated at the clipped prediction, as in the book; strictly, the "
          "derivative of the clipped forward pass would be 0 inside the clip zone. The check pins "
          "this convention with predictions of exactly 0 and 1.",
)
def _check_bce(sym: Symbolic, c: Checker) -> None:
    from nnref.losses import BinaryCrossentropy

    for k in range(c.draws):
        yhat = _probabilities(c.rng, BCE_SHAPE)
        # half the draws with 0/1 targets, half with soft targets
        y = c.rng.integers(0, 2, size=BCE_SHAPE).astype(float) if k % 2 == 0 else c.rng.uniform(size=BCE_SHAPE)
        loss = BinaryCrossentropy()
        c.compare("mean loss (calculate)", loss.calculate(yhat, y), sym.fn["loss"](yhat, y))
        c.compare("backward", loss.backward(yhat, y), sym.fn["grad"](yhat, y))
    yhat = _probabilities(c.rng, BCE_SHAPE)
    y = c.rng.integers(0, 2, size=BCE_SHAPE).astype(float)
    yhat[0, 0], yhat[1, 1], yhat[2, 0] = 0.0, 1.0, 0.0
    y[0, 0], y[1, 1], y[2, 0] = 1.0, 0.0, 0.0
    clipped = np.clip(yhat, CLIP, 1 - CLIP)
    loss = BinaryCrossentropy()
    c.compare("clipping at 1e-7: loss at yhat = 0 and 1", loss.calculate(yhat, y), sym.fn["loss"](clipped, y),
              kind="convention")
    c.compare("clipping at 1e-7: backward is the formula at the clipped yhat", loss.backward(yhat, y),
              sym.fn["grad"](clipped, y), kind="convention")


# ---------------------------------------------------------------- sigmoid + binary cross-entropy
SBCE_SHAPE = (2, 2)


def _build_sigmoid_bce() -> Symbolic:
    def sig(v):
        return 1 / (1 + sp.exp(-v))

    per_elem = _bce_term(Y_IJ, sig(Z_IJ)) / (N_SYM * J_SYM)
    d_elem = sp.diff(per_elem, Z_IJ)
    closed_elem = (sig(Z_IJ) - Y_IJ) / (N_SYM * J_SYM)
    z, y = matrix("z", *SBCE_SHAPE), matrix("y", *SBCE_SHAPE)
    n, j = SBCE_SHAPE
    loss = sum(_bce_term(y[a, b], sig(z[a, b])) for a in range(n) for b in range(j)) / n / j
    grad = _grad(loss, z)
    closed = sp.Matrix(n, j, lambda a, b: (sig(z[a, b]) - y[a, b]) / j / n)
    proofs = [
        Proof("per element: d/dz of BCE(sigmoid(z)) / (N J) == (sigmoid(z) - y) / (N J)", is_zero(d_elem - closed_elem)),
        Proof(f"whole batch {SBCE_SHAPE}: gradient == (sigmoid(z) - y) / (N J), entry by entry",
              all_zero(grad - closed)),
    ]
    sigma = sp.Function("sigma")
    latex_ = {
        "forward": rf"L = \frac{{1}}{{N J}} \sum_{{i,j}} \Bigl[{latex(_bce_term(Y_IJ, sigma(Z_IJ)))}\Bigr],"
                   r" \qquad \sigma(z) = \frac{1}{1 + e^{-z}}",
        "derivative": rf"\frac{{\partial L}}{{\partial z_{{ij}}}} = {latex(d_elem)}",
        "closed_form": r"\frac{\partial L}{\partial z_{ij}} = \frac{\sigma(z_{ij}) - y_{ij}}{N J}",
    }
    fn = {"loss": lambdify([z, y], loss), "grad": lambdify([z, y], grad), "closed": lambdify([z, y], closed)}
    return Symbolic(latex_, proofs, fn)


@register(
    "sigmoid_bce", title="Sigmoid + binary cross-entropy", chapter=16, build=_build_sigmoid_bce,
    summary="The binary counterpart of the fused softmax + cross-entropy gradient: "
            "(sigmoid output minus target) over samples and outputs.",
    closed_form_text="dz = (sigmoid(z) - y) / J / N",
    objects=("nnref.losses.SigmoidBinaryCrossentropy",),
    where=LEGEND + r"; $z_{ij}$ are the logits fed to the sigmoid.",
    notes="This fused object is nnref's addition; the book chains `Activation_Sigmoid` and "
          "`Loss_BinaryCrossentropy`. The chained path divides by $\\hat{y}(1 - \\hat{y})$ and "
          "multiplies by it again, which loses the gradient once the sigmoid saturates; the fused "
          "form has no division. The check compares both paths at moderate logits and the fused "
          "one at $|z| = 20$ and $30$.",
)
def _check_sigmoid_bce(sym: Symbolic, c: Checker) -> None:
    from nnref.activations import Sigmoid
    from nnref.losses import BinaryCrossentropy, SigmoidBinaryCrossentropy

    for _ in range(c.draws):
        z = c.rng.normal(scale=2.0, size=SBCE_SHAPE)
        y = c.rng.integers(0, 2, size=SBCE_SHAPE).astype(float)
        fused = SigmoidBinaryCrossentropy()
        c.compare("forward: mean loss", fused.forward(z, y), sym.fn["loss"](z, y))
        expected = sym.fn["grad"](z, y)
        c.compare("backward (fused)", fused.backward(fused.output, y), expected)
        act, loss = Sigmoid(), BinaryCrossentropy()
        act.forward(z)
        c.compare("Sigmoid.backward(BinaryCrossentropy.backward) at moderate logits",
                  act.backward(loss.backward(act.output, y)), expected, tolerance=1e-9)
    z = np.array([[20.0, -20.0], [30.0, -30.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    fused = SigmoidBinaryCrossentropy()
    fused.forward(z, y)
    c.compare("saturated logits |z| = 20, 30: fused gradient exact", fused.backward(fused.output, y),
              sym.fn["closed"](z, y), kind="convention")
    act, loss = Sigmoid(), BinaryCrossentropy()
    act.forward(z)
    chained = act.backward(loss.backward(act.output, y))
    c.note(f"at z = 20 with y = 0 the chained Sigmoid/BCE path gives {chained[0, 0]:.4g} where the "
           f"true gradient is {sym.fn['closed'](z, y)[0, 0]:.4g} (why the fused form exists)")


# ---------------------------------------------------------------- MSE
REG_SHAPE = (3, 2)


def _build_mse() -> Symbolic:
    def term(y, yh):
        return (y - yh) ** 2

    yh_real = sp.Symbol("yhat_ij", real=True)
    per_elem = term(Y_IJ, yh_real) / (N_SYM * J_SYM)
    d_elem = sp.diff(per_elem, yh_real)
    closed_elem = -2 * (Y_IJ - yh_real) / (N_SYM * J_SYM)
    yhat, y = matrix("yhat", *REG_SHAPE), matrix("y", *REG_SHAPE)
    n, j = REG_SHAPE
    loss = _mean_loss(term, yhat, y, over_outputs=True)
    grad = _grad(loss, yhat)
    closed = sp.Matrix(n, j, lambda a, b: -2 * (y[a, b] - yhat[a, b]) / j / n)
    proofs = [
        Proof("per element: derivative == -2 (y - yhat) / (N J)", is_zero(d_elem - closed_elem)),
        Proof(f"whole batch {REG_SHAPE}: gradient == -2 (y - yhat) / (N J), entry by entry", all_zero(grad - closed)),
    ]
    latex_ = {
        "forward": rf"L = \frac{{1}}{{N}} \sum_{{i=1}}^{{N}} \frac{{1}}{{J}} \sum_{{j=1}}^{{J}} {latex(term(Y_IJ, yh_real))}",
        "derivative": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(d_elem)}",
        "closed_form": r"\frac{\partial L}{\partial \hat{y}_{ij}} = -\frac{2}{N J}\left(y_{ij} - \hat{y}_{ij}\right)",
    }
    fn = {"loss": lambdify([yhat, y], loss), "grad": lambdify([yhat, y], grad)}
    return Symbolic(latex_, proofs, fn)


@register(
    "mse", title="Mean squared error", chapter=17, build=_build_mse,
    summary="The gradient of the squared error, averaged over outputs and samples.",
    closed_form_text="dyhat = -2 (y - yhat) / J / N",
    objects=("nnref.losses.MeanSquaredError",),
    where=LEGEND + ".",
)
def _check_mse(sym: Symbolic, c: Checker) -> None:
    from nnref.losses import MeanSquaredError

    for _ in range(c.draws):
        yhat = c.rng.normal(size=REG_SHAPE)
        y = c.rng.normal(size=REG_SHAPE)
        loss = MeanSquaredError()
        c.compare("mean loss (calculate)", loss.calculate(yhat, y), sym.fn["loss"](yhat, y))
        c.compare("backward", loss.backward(yhat, y), sym.fn["grad"](yhat, y))


# ---------------------------------------------------------------- MAE
def _build_mae() -> Symbolic:
    def term(y, yh):
        return sp.Abs(y - yh)

    yh_real = sp.Symbol("yhat_ij", real=True)
    per_elem = term(Y_IJ, yh_real) / (N_SYM * J_SYM)
    d_elem = sp.diff(per_elem, yh_real)
    closed_elem = sp.sign(yh_real - Y_IJ) / (N_SYM * J_SYM)
    book_elem = sp.sign(Y_IJ - yh_real) / (N_SYM * J_SYM)
    yhat, y = matrix("yhat", *REG_SHAPE), matrix("y", *REG_SHAPE)
    n, j = REG_SHAPE
    loss = _mean_loss(term, yhat, y, over_outputs=True)
    grad = _grad(loss, yhat)
    closed = sp.Matrix(n, j, lambda a, b: sp.sign(yhat[a, b] - y[a, b]) / j / n)
    # a single point where the two forms differ refutes the book's sign exactly
    book_gap = (d_elem - book_elem).subs({Y_IJ: 0, yh_real: 1})
    proofs = [
        Proof("per element: d|y - yhat| / dyhat / (N J) == sign(yhat - y) / (N J)",
              sp.simplify(d_elem - closed_elem) == 0),
        Proof(f"whole batch {REG_SHAPE}: gradient == sign(yhat - y) / (N J), entry by entry",
              all(sp.simplify(e) == 0 for e in grad - closed)),
        Proof("the book's sign(y - yhat) / (N J) equals the derivative (at y = 0, yhat = 1 they differ by "
              f"{sp.simplify(book_gap)})", bool(book_gap == 0), expected=False),
    ]
    latex_ = {
        "forward": rf"L = \frac{{1}}{{N}} \sum_{{i=1}}^{{N}} \frac{{1}}{{J}} \sum_{{j=1}}^{{J}} {latex(term(Y_IJ, yh_real))}",
        "derivative": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(d_elem)}",
        "closed_form": rf"\frac{{\partial L}}{{\partial \hat{{y}}_{{ij}}}} = {latex(closed_elem, order='none')}"
                       r" \qquad \text{(the book codes } \operatorname{sign}(y_{ij} - \hat{y}_{ij})\text{: wrong sign)}",
    }
    fn = {"loss": lambdify([yhat, y], loss), "grad": lambdify([yhat, y], grad),
          "book": lambdify([yhat, y], sp.Matrix(n, j, lambda a, b: sp.sign(y[a, b] - yhat[a, b]) / j / n))}
    return Symbolic(latex_, proofs, fn)


@register(
    "mae", title="Mean absolute error", chapter=17, build=_build_mae,
    summary="The gradient of the absolute error is the sign of the prediction minus the target, "
            "averaged over outputs and samples. The book prints the opposite sign.",
    closed_form_text="dyhat = sign(yhat - y) / J / N",
    objects=("nnref.losses.MeanAbsoluteError",),
    where=LEGEND + r"; $\operatorname{sign}(0) = 0$.",
    notes="**Erratum.** The book's `Loss_MeanAbsoluteError.backward` computes "
          "$\\operatorname{sign}(y - \\hat{y})$: the gradient with its sign flipped, so a step "
          "along it *raises* the loss. SymPy's derivative of $|y - \\hat{y}|$ with respect to "
          "$\\hat{y}$ is $\\operatorname{sign}(\\hat{y} - y)$, which is what nnref codes; the third "
          "proof refutes the book's form exactly, and the test suite shows that a backward pass "
          "with the book's sign fails this check. Where $\\hat{y} = y$ exactly, both SymPy and "
          "nnref give 0.",
)
def _check_mae(sym: Symbolic, c: Checker) -> None:
    from nnref.losses import MeanAbsoluteError

    for _ in range(c.draws):
        y = c.rng.normal(size=REG_SHAPE)
        # keep |yhat - y| >= 1e-3, away from the kink
        yhat = y + c.rng.choice([-1.0, 1.0], size=REG_SHAPE) * c.rng.uniform(1e-3, 2.0, size=REG_SHAPE)
        loss = MeanAbsoluteError()
        c.compare("mean loss (calculate)", loss.calculate(yhat, y), sym.fn["loss"](yhat, y))
        c.compare("backward: sign(yhat - y) / (N J)", loss.backward(yhat, y), sym.fn["grad"](yhat, y))
        book_err = float(np.max(np.abs(sym.fn["book"](yhat, y) - sym.fn["grad"](yhat, y))))
    c.note(f"the book's sign(y - yhat) would be off by {book_err:.3g} per entry here (twice the gradient)")
    y = c.rng.normal(size=REG_SHAPE)
    yhat = y + 0.5
    yhat[0, 0] = y[0, 0]
    loss = MeanAbsoluteError()
    c.compare("yhat == y exactly: gradient 0", loss.backward(yhat, y), sym.fn["grad"](yhat, y), kind="convention")


# ---------------------------------------------------------------- chapter 5: one sample, and why clipping bounds it
CLIP_CLASSES = 4  # classes per sample in the numeric check


def _build_cce_clipping() -> Symbolic:
    p = sp.Symbol("p", positive=True)          # the predicted probability of the correct class
    eps = sp.Rational(1, 10**7)                # nnref's clip margin, exactly
    loss = -sp.log(p)
    d = sp.diff(loss, p)
    slope_of_magnitude = sp.diff(-d, p)        # d/dp of |dL/dp| = 1/p
    clipped = sp.Min(sp.Max(p, eps), 1 - eps)
    proofs = [
        Proof("d/dp of -ln(p) == -1/p", is_zero(d + 1 / p)),
        Proof("without clipping the gradient is unbounded: lim_{p -> 0+} -1/p == -oo",
              sp.limit(d, p, 0, "+") == -sp.oo),
        Proof("|dL/dp| = 1/p falls as p grows (d/dp (1/p) = -1/p^2 < 0), so on [eps, 1 - eps] "
              "its largest value is at p = eps", bool(slope_of_magnitude.is_negative)),
        Proof("after clipping at eps = 1e-7: |dL/dp| <= 1/eps == 10^7", -d.subs(p, eps) == 10**7),
        Proof("after clipping: the largest loss -ln(eps) == 7 ln 10",
              sp.expand_log(-sp.log(eps), force=True) == 7 * sp.log(10)),
        Proof("a perfect prediction, clipped to 1 - eps, costs -ln(1 - eps) > 0",
              bool((-sp.log(1 - eps)).is_positive)),
        Proof("adding eps instead of clipping: a perfect prediction costs -ln(1 + eps) < 0",
              bool((-sp.log(1 + eps)).is_negative)),
    ]
    latex_ = {
        "forward": r"L = -\ln \operatorname{clip}\bigl(\hat{y}_{c},\ \varepsilon,\ 1 - \varepsilon\bigr), "
                   r"\qquad \varepsilon = 10^{-7}",
        "derivative": rf"\frac{{d}}{{d \hat{{y}}_c}}\bigl(-\ln \hat{{y}}_c\bigr) = {latex(d.subs(p, sp.Symbol('yhat_c', positive=True)))}, "
                      r"\qquad \lim_{\hat{y}_c \to 0^{+}} -\frac{1}{\hat{y}_c} = -\infty",
        "closed_form": r"\Bigl|\frac{\partial L}{\partial \hat{y}_c}\Bigr| = \frac{1}{\operatorname{clip}(\hat{y}_c)} "
                       r"\le \frac{1}{\varepsilon} = 10^{7}, \qquad "
                       r"0 < -\ln(1 - \varepsilon) \le L \le -\ln \varepsilon = 7 \ln 10",
    }
    fn = {"loss": lambdify([p], loss.subs(p, clipped)), "grad": lambdify([p], d.subs(p, clipped)),
          "max_loss": float(-sp.log(eps)), "max_slope": float(-d.subs(p, eps))}
    return Symbolic(latex_, proofs, fn)


@register(
    "cce_clipping", title="Cross-entropy of one sample, and why clipping bounds it", chapter=5,
    build=_build_cce_clipping,
    summary="The loss of one sample is $-\\ln$ of the probability given to its correct class. "
            "Its derivative, $-1/\\hat{y}_c$, has no bound as the probability goes to 0; clipping "
            "the probability to $[10^{-7}, 1 - 10^{-7}]$ bounds both the loss and the gradient.",
    closed_form_text="dL/dyhat_c = -1 / clip(yhat_c); |.| <= 1e7, L <= 7 ln 10",
    objects=("nnref.losses.CategoricalCrossentropy",),
    where=r"$\hat{y}_c$ is the probability the network gives the sample's correct class $c$ "
          r"(one sample, so $N = 1$); $\varepsilon = 10^{-7}$ is the clip margin.",
    notes="The derivative of the *clipped* loss is 0 inside the clip zone (the clip is flat there). "
          "The backward pass of chapter 9 does not use that: it evaluates $-1/\\hat{y}_c$ at the "
          "clipped probability, so a prediction of 0 gets the large but finite gradient "
          "$-10^{7}$ and still pushes the probability up. The check plants predictions of exactly "
          "0, 1 and $10^{-9}$ and compares nnref with SymPy at the clipped value.",
)
def _check_cce_clipping(sym: Symbolic, c: Checker) -> None:
    from nnref.losses import CategoricalCrossentropy

    def one_sample(p: float, label: str, kind: str) -> None:
        cls = int(c.rng.integers(0, CLIP_CLASSES))
        row = np.full((1, CLIP_CLASSES), (1 - p) / (CLIP_CLASSES - 1))
        row[0, cls] = p
        loss = CategoricalCrossentropy()
        c.compare(f"{label}: loss", loss.calculate(row, np.array([cls])), sym.fn["loss"](p), kind=kind)
        grad = loss.backward(row, np.array([cls]))
        expected = np.zeros((1, CLIP_CLASSES))
        expected[0, cls] = sym.fn["grad"](p)
        c.compare(f"{label}: backward", grad, expected, kind=kind)
        c.compare(f"{label}: |backward| within the bound 1/eps", max(np.abs(grad).max() - sym.fn["max_slope"], 0.0),
                  0.0, kind=kind)

    for _ in range(c.draws):
        one_sample(float(c.rng.uniform(0.01, 0.99)), "random probability", "random")
    for p in (0.0, 1e-9, 1.0):
        one_sample(p, f"probability {p:g} (clipped)", "convention")
