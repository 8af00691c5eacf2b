"""Optimizers: Adam's bias correction."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._core import Checker, Proof, Symbolic, lambdify, register
from ._sym import is_zero, latex

ADAM_STEPS = 4


def _build_adam() -> Symbolic:
    beta = sp.Symbol("beta", positive=True)
    g = sp.symbols(f"g_1:{ADAM_STEPS + 1}", real=True)
    # the recurrence m_t = beta m_{t-1} + (1 - beta) g_t from m_0 = 0, unrolled by SymPy
    m = [sp.Integer(0)]
    for t in range(1, ADAM_STEPS + 1):
        m.append(beta * m[-1] + (1 - beta) * g[t - 1])
    # closed form: an exponentially weighted sum of the gradients seen so far
    closed = [sum((1 - beta) * beta ** (t - k) * g[k - 1] for k in range(1, t + 1)) for t in range(ADAM_STEPS + 1)]
    weights_sum = [sum((1 - beta) * beta ** (t - k) for k in range(1, t + 1)) for t in range(ADAM_STEPS + 1)]
    # general t, constant gradient: SymPy solves the recurrence itself
    t_sym = sp.Symbol("t", positive=True, integer=True)
    gc = sp.Symbol("g", real=True)
    mf = sp.Function("m")
    solved = sp.rsolve(mf(t_sym) - beta * mf(t_sym - 1) - (1 - beta) * gc, mf(t_sym), {mf(0): 0})
    proofs = [
        Proof(f"unrolled m_t == (1 - beta) sum_k beta^(t-k) g_k for t = 1..{ADAM_STEPS}",
              all(is_zero(m[t] - closed[t]) for t in range(1, ADAM_STEPS + 1))),
        Proof(f"the weights (1 - beta) beta^(t-k) sum to 1 - beta^t for t = 1..{ADAM_STEPS}, "
              "so m_t / (1 - beta^t) is a weighted mean of the gradients",
              all(is_zero(weights_sum[t] - (1 - beta**t)) for t in range(1, ADAM_STEPS + 1))),
        Proof("for every t, rsolve gives m_t = (1 - beta^t) g for a constant gradient g, "
              "so the corrected m_t / (1 - beta^t) is exactly g",
              solved is not None and is_zero(solved / (1 - beta**t_sym) - gc)),
    ]
    steps = list(range(1, ADAM_STEPS + 1))
    fn = {
        # m_t for t = 1..T as a function of (beta, g_1..g_T); v_t is the same with g^2 and beta_2
        "m": lambdify([beta, *g], sp.Matrix([m[t] for t in steps])),
        "corrected": lambdify([beta, *g], sp.Matrix([closed[t] / (1 - beta**t) for t in steps])),
    }
    b1 = sp.Symbol("beta_1", positive=True)
    latex_ = {
        "forward": r"m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad "
                   r"v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \qquad m_0 = v_0 = 0",
        "derivative": rf"m_3 = {latex(sp.expand(m[3]).subs(beta, b1))}, \qquad "
                      rf"\text{{constant }} g:\ m_t = {latex(sp.factor(solved).subs(beta, b1))}",
        "closed_form": r"\hat{m}_t = \frac{m_t}{1 - \beta_1^{t}} = \frac{(1 - \beta_1) \sum_{k=1}^{t} "
                       r"\beta_1^{t-k} g_k}{1 - \beta_1^{t}}, \qquad \hat{v}_t = \frac{v_t}{1 - \beta_2^{t}}, "
                       r"\qquad w_t = w_{t-1} - \eta\, \frac{\hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon}",
    }
    return Symbolic(latex_, proofs, fn)


@register(
    "adam_bias_correction", title="Adam's bias correction", chapter=10, build=_build_adam,
    summary="Adam's running averages start at zero, so early on they are too small by the factor "
            "$1 - \\beta^t$; dividing by it turns them into true weighted means of the gradients.",
    closed_form_text="mhat = m / (1 - b1^t), vhat = v / (1 - b2^t)",
    objects=("nnref.optimizers.Adam",),
    headings={"forward": "The running averages", "derivative": "SymPy's unrolled and solved recurrence"},
    where=r"$g_t$ is the gradient at step $t$ (counted from 1), $\beta_1$, $\beta_2$ the decay rates, "
          r"$\eta$ the learning rate.",
    notes="This is not a derivative of a forward pass: it is the identity that justifies dividing "
          "by $1 - \\beta^t$. nnref counts `iterations` from 0 and so divides by "
          "$1 - \\beta^{\\text{iterations} + 1}$. The check feeds nnref's `Adam` a sequence of "
          f"{ADAM_STEPS} random gradients and compares its stored averages and every weight update "
          "with SymPy's unrolled recurrence; with a constant gradient the first step moves each "
          "weight by almost exactly the learning rate.",
)
def _check_adam(sym: Symbolic, c: Checker) -> None:
    from nnref.layers import Dense
    from nnref.optimizers import Adam

    lr, beta_1, beta_2, eps = 0.01, 0.9, 0.999, 1e-7
    for _ in range(c.draws // 2):
        layer = Dense(3, 2, rng=int(c.rng.integers(2**31)))
        opt = Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps)
        gw = c.rng.normal(size=(ADAM_STEPS, 3, 2))
        gb = c.rng.normal(size=(ADAM_STEPS, 1, 2))
        # each call returns shape (steps, 1, *param shape): one column of SymPy values per entry
        m_w, v_w = sym.fn["m"](beta_1, *gw)[:, 0], sym.fn["m"](beta_2, *gw**2)[:, 0]
        mhat_w, vhat_w = sym.fn["corrected"](beta_1, *gw)[:, 0], sym.fn["corrected"](beta_2, *gw**2)[:, 0]
        mhat_b, vhat_b = sym.fn["corrected"](beta_1, *gb)[:, 0], sym.fn["corrected"](beta_2, *gb**2)[:, 0]
        for t in range(ADAM_STEPS):
            w_before, b_before = layer.weights.copy(), layer.biases.copy()
            layer.dweights, layer.dbiases = gw[t].copy(), gb[t].copy()
            opt.pre_update_params()
            opt.update_params(layer)
            opt.post_update_params()
            state = opt.state(layer)
            c.compare("weight momentums m_t", state["weight_momentums"], m_w[t])
            c.compare("weight cache v_t", state["weight_cache"], v_w[t])
            c.compare("weight update -lr mhat / (sqrt(vhat) + eps)", layer.weights - w_before,
                      -lr * mhat_w[t] / (np.sqrt(vhat_w[t]) + eps))
            c.compare("bias update", layer.biases - b_before, -lr * mhat_b[t] / (np.sqrt(vhat_b[t]) + eps))
    # constant gradient: mhat = g at every step, so the first update is -lr g / (|g| + eps)
    layer = Dense(3, 2, rng=5)
    opt = Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps)
    grad = c.rng.normal(size=(3, 2))
    w_before = layer.weights.copy()
    layer.dweights, layer.dbiases = grad.copy(), np.zeros((1, 2))
    opt.pre_update_params()
    opt.update_params(layer)
    opt.post_update_params()
    c.compare("constant gradient, step 1: update is -lr g / (|g| + eps)", layer.weights - w_before,
              -lr * grad / (np.abs(grad) + eps), kind="convention")
