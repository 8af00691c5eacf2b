r"""From nnref to PyTorch and back: the same network, the same numbers.

Not in the book. When a network outgrows numpy on one CPU, the natural next
step is PyTorch; this module carries a trained nnref model across, and back.

* :func:`to_torch` builds a ``torch.nn.Sequential`` that computes the same
  predictions. With ``training=True`` it also returns the matching loss, a
  ``torch.optim`` optimizer holding nnref's optimizer state (step count,
  momentums, caches) and, where nnref decays the learning rate, a scheduler,
  so that training goes on in PyTorch exactly where nnref stopped.
* :func:`from_torch` turns a ``Sequential`` of the supported pieces into an
  nnref :class:`~nnref.model.Model`, and, given the optimizer (and
  scheduler), the training state too, so that nnref goes on where PyTorch
  stopped.
* :func:`save_state_dict` and :func:`save_onnx` write a model for PyTorch or
  for any ONNX runtime (the ``nnref export`` command).

PyTorch is optional: ``import nnref`` never imports it. These functions import
it when called and, where it is missing, raise an ``ImportError`` that names
the extra to install (``pip install nnref[torch]``; ONNX needs ``nnref[onnx]``).

How each piece maps is listed in :data:`COUNTERPARTS` (the site's "From nnref
to PyTorch" page prints it as a table). The points that need care:

* ``Dense`` keeps $W$ as (n_inputs, n_neurons) and computes $XW + b$;
  ``nn.Linear`` keeps ``weight`` as (out, in) and computes $x W^\top + b$, so
  the weights are transposed on the way and the biases lose their leading axis.
* nnref's L2 penalty $\lambda_2 \sum w^2$ adds $2\lambda_2 w$ to the gradient;
  PyTorch's ``weight_decay`` adds ``weight_decay * w``: hence
  ``weight_decay = 2 * lambda_2``, in one parameter group per distinct value.
  L1 has no ``torch.optim`` counterpart and goes into the returned loss.
* SGD with momentum: nnref keeps a velocity $v \leftarrow \mu v - \eta_t g$,
  $w \leftarrow w + v$; PyTorch a buffer $b \leftarrow \mu b + g$,
  $w \leftarrow w - \eta_t b$. With a constant learning rate $b = -v/\eta$; with
  decay the exported buffer is $-v/\eta_t$ and the scheduler rescales it
  whenever $\eta$ changes (``InverseTimeDecay``, the scheduler :func:`to_torch`
  returns).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout
from .losses import BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError
from .optimizers import SGD, Adagrad, Adam, RMSprop

__all__ = [
    "COUNTERPARTS",
    "REGULARIZATION_NOTES",
    "Counterpart",
    "TorchTraining",
    "correspondence_markdown",
    "from_torch",
    "save_onnx",
    "save_state_dict",
    "to_torch",
]


def _import_torch():
    """torch, or an ImportError that says how to get it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError("this needs PyTorch, which nnref does not install by default; install it with "
                          "`pip install nnref[torch]` (or see https://pytorch.org for a CPU-only build)") from exc
    return torch


def _torch_modules():
    _import_torch()
    from . import _torch_modules

    return _torch_modules


# --------------------------------------------------------------------------- the mapping

@dataclass(frozen=True)
class Counterpart:
    """One nnref class and its PyTorch counterpart.

    Attributes
    ----------
    kind : str
        ``"layer"``, ``"loss"`` or ``"optimizer"``.
    nnref_class : type
        The nnref class.
    torch : str
        What :func:`to_torch` builds for it, as PyTorch code.
    note : str
        What has to be translated on the way.
    """

    kind: str
    nnref_class: type
    torch: str
    note: str
    build: Callable[..., Any] = field(repr=False, compare=False, default=None)


def _dense_to_torch(layer: Dense, torch, dtype):
    linear = torch.nn.Linear(layer.n_inputs, layer.n_neurons, dtype=dtype)
    with torch.no_grad():
        # nn.Linear computes x Wᵀ + b with weight shaped (out, in): Wᵀ of nnref's (in, out)
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weights.T)))
        linear.bias.copy_(torch.from_numpy(np.ascontiguousarray(layer.biases[0])))
    return linear


def _cce_to_torch(loss, torch):
    return _torch_modules().CategoricalCrossentropyLoss()


def _bce_to_torch(loss, torch):
    return _torch_modules().BinaryCrossentropyLoss()


#: Every nnref class :func:`to_torch` translates, with its PyTorch counterpart.
#: :func:`from_torch` reads the layer rows the other way.
COUNTERPARTS: tuple[Counterpart, ...] = (
    Counterpart("layer", Dense, "nn.Linear(n_inputs, n_neurons)",
                "`weight` = `weights.T`, shape (out, in); `bias` = `biases[0]`",
                _dense_to_torch),
    Counterpart("layer", ReLU, "nn.ReLU()", "", lambda layer, torch, dtype: torch.nn.ReLU()),
    Counterpart("layer", Sigmoid, "nn.Sigmoid()", "", lambda layer, torch, dtype: torch.nn.Sigmoid()),
    Counterpart("layer", Softmax, "nn.Softmax(dim=1)", "over each row (sample)",
                lambda layer, torch, dtype: torch.nn.Softmax(dim=1)),
    Counterpart("layer", Linear, "nn.Identity()", "the linear activation changes nothing",
                lambda layer, torch, dtype: torch.nn.Identity()),
    Counterpart("layer", Dropout, "nn.Dropout(p=rate)",
                "both take the fraction **dropped** and scale the kept values by 1 / (1 − rate) "
                "while training (the book's class stores the kept fraction instead)",
                lambda layer, torch, dtype: torch.nn.Dropout(p=layer.rate)),
    Counterpart("loss", CategoricalCrossentropy, "nn.NLLLoss() of log(clamp(ŷ, 1e-7, 1 − 1e-7))",
                "on probabilities, clipped like nnref; `nn.CrossEntropyLoss()` on the logits "
                "(no Softmax layer) is the same loss where nothing is clipped", _cce_to_torch),
    Counterpart("loss", BinaryCrossentropy, "nn.BCELoss() of clamp(ŷ, 1e-7, 1 − 1e-7)",
                "mean over all outputs = nnref's mean of per-sample means; "
                "`nn.BCEWithLogitsLoss()` on the logits is the same loss where nothing is clipped",
                _bce_to_torch),
    Counterpart("loss", MeanSquaredError, "nn.MSELoss()", "",
                lambda loss, torch: torch.nn.MSELoss()),
    Counterpart("loss", MeanAbsoluteError, "nn.L1Loss()",
                "gradient sign(ŷ − y), as nnref computes it (the book's code has the opposite sign)",
                lambda loss, torch: torch.nn.L1Loss()),
    Counterpart("optimizer", SGD, "optim.SGD(lr, momentum)",
                "buffer = −velocity / lr; decay: `InverseTimeDecay` scheduler that also rescales "
                "the buffers when the learning rate changes"),
    Counterpart("optimizer", Adagrad, "optim.Adagrad(lr, lr_decay=decay, eps=epsilon)",
                "`sum` = cache, `step` = iterations; torch's `lr_decay` is nnref's 1 / (1 + d t) "
                "decay, counted by the optimizer itself"),
    Counterpart("optimizer", RMSprop, "optim.RMSprop(lr, alpha=rho, eps=epsilon)",
                "`square_avg` = cache; decay: `InverseTimeDecay` scheduler"),
    Counterpart("optimizer", Adam, "optim.Adam(lr, betas=(beta_1, beta_2), eps=epsilon)",
                "`exp_avg` = momentums, `exp_avg_sq` = cache, `step` = iterations; ε is added "
                "after the square root in both; decay: `InverseTimeDecay` scheduler"),
)

_BY_CLASS = {c.nnref_class: c for c in COUNTERPARTS}

#: Regularization, which lives on Dense in nnref and in the optimizer or loss in PyTorch.
REGULARIZATION_NOTES = (
    ("Dense(weight_regularizer_l2=λ₂)", "weight_decay = 2 λ₂ (biases likewise)",
     "one parameter group per distinct value; or in the loss with `l2_as_weight_decay=False`"),
    ("Dense(weight_regularizer_l1=λ₁)", "λ₁ Σ abs(w) added to the returned loss (biases likewise)",
     "no optimizer counterpart; its gradient is λ₁ · sign(w) with +1 at 0, as in nnref"),
)


def _counterpart(obj: Any, kind: str, owner: str) -> Counterpart:
    rule = _BY_CLASS.get(type(obj))
    if rule is None or rule.kind != kind:
        known = ", ".join(c.nnref_class.__name__ for c in COUNTERPARTS if c.kind == kind)
        raise TypeError(f"{owner}: no PyTorch counterpart for the {kind} {obj!r} "
                        f"(type {type(obj).__name__}); supported: {known}")
    return rule


# --------------------------------------------------------------------------- to_torch

class TorchTraining(NamedTuple):
    """What :func:`to_torch` returns with ``training=True``.

    Attributes
    ----------
    module : torch.nn.Sequential
        The network, in training mode.
    loss : torch.nn.Module
        ``loss(module(X), y)``: nnref's data loss plus its L1 penalties (and
        the L2 penalties when they are not the optimizer's weight decay).
    optimizer : torch.optim.Optimizer
        Holding nnref's hyperparameters and state.
    scheduler : torch.optim.lr_scheduler.LRScheduler or None
        nnref's learning-rate decay; call ``scheduler.step()`` after every
        ``optimizer.step()``. None where the learning rate is constant (and for
        Adagrad, whose ``lr_decay`` does the same).
    """

    module: Any
    loss: Any
    optimizer: Any
    scheduler: Any


def _torch_dtype(torch, dtype: DTypeLike | None, layers: Sequence[Any]):
    if dtype is None:
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        dtype = np.result_type(*(layer.weights for layer in dense)) if dense else np.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    np_dtype = np.dtype(dtype)
    table = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
             np.dtype(np.float64): torch.float64}
    if np_dtype not in table:
        raise TypeError(f"to_torch: dtype must be float16, float32 or float64, got {np_dtype}")
    return table[np_dtype]


def _layers_of(model: Any, owner: str) -> list[Any]:
    from .model import Model

    if isinstance(model, Model):
        if not model.layers:
            raise ValueError(f"{owner}: the model has no layers")
        return list(model.layers)
    if isinstance(model, (list, tuple)):
        if not model:
            raise ValueError(f"{owner}: got an empty list of layers")
        return list(model)
    raise TypeError(f"{owner}: expected an nnref Model or a list of nnref layers, got {type(model).__name__}")


def to_torch(model: Any, *, training: bool = False, dtype: DTypeLike | None = None,
             l2_as_weight_decay: bool = True):
    r"""Build the PyTorch counterpart of an nnref model.

    Parameters
    ----------
    model : Model or list of layers
        A Model (for ``training=True`` one with its loss and optimizer set),
        or just its layers. Layers, loss and optimizer must be among
        :data:`COUNTERPARTS`; anything else raises ``TypeError`` naming it.
    training : bool, default False
        Also build the loss, the optimizer (with nnref's state) and the
        learning-rate scheduler, and return them in a :class:`TorchTraining`.
    dtype : dtype, optional
        Of the PyTorch parameters; by default that of the nnref weights.
    l2_as_weight_decay : bool, default True
        Carry the L2 penalties as the optimizer's ``weight_decay``
        ($2\lambda_2$), the PyTorch way; with False they are added to the loss,
        whose value then equals nnref's data loss plus regularization loss.

    Returns
    -------
    torch.nn.Sequential or TorchTraining
        Without ``training``, the network in evaluation mode (dropout off, as
        nnref's ``predict``); with it, the network in training mode and the rest.

    Notes
    -----
    The network computes what the nnref layers compute: for a Dense layer
    $X W + b$ becomes ``x @ weight.T + bias`` with ``weight`` $= W^\top$.
    One more training step in both frameworks, from the state exported here,
    gives the same weights up to rounding (the tests check $10^{-12}$ relative
    in float64 and $10^{-6}$ in float32 for every layer, loss and optimizer).

    Examples
    --------
    >>> import numpy as np, nnref
    >>> layers = [nnref.Dense(3, 2, rng=0), nnref.Softmax()]
    >>> net = nnref.to_torch(layers)           # doctest: +SKIP
    >>> net                                    # doctest: +SKIP
    Sequential(
      (0): Linear(in_features=3, out_features=2, bias=True)
      (1): Softmax(dim=1)
    )
    """
    owner = "to_torch"
    torch = _import_torch()
    layers = _layers_of(model, owner)
    rules = [_counterpart(layer, "layer", owner) for layer in layers]
    tdtype = _torch_dtype(torch, dtype, layers)
    module = torch.nn.Sequential(*(rule.build(layer, torch, tdtype) for rule, layer in zip(rules, layers)))
    if not training:
        return module.eval()
    from .model import Model

    if not isinstance(model, Model) or model.loss is None or model.optimizer is None:
        raise ValueError(f"{owner}: training=True needs a Model with its loss and optimizer set "
                         "(model.set(loss=..., optimizer=...))")
    pairs = [(layer, part) for layer, part in zip(layers, module) if isinstance(layer, Dense)]
    loss = _loss_to_torch(model.loss, pairs, torch, l2_as_weight_decay)
    optimizer, scheduler = _optimizer_to_torch(model.optimizer, pairs, torch, l2_as_weight_decay)
    return TorchTraining(module.train(), loss, optimizer, scheduler)


def _penalties(layer: Dense, linear) -> list[tuple[Any, float, float]]:
    return [(linear.weight, layer.weight_regularizer_l1, layer.weight_regularizer_l2),
            (linear.bias, layer.bias_regularizer_l1, layer.bias_regularizer_l2)]


def _loss_to_torch(loss: Any, pairs, torch, l2_as_weight_decay: bool):
    data_loss = _counterpart(loss, "loss", "to_torch").build(loss, torch)
    penalties = [(p, l1, 0.0 if l2_as_weight_decay else l2)
                 for layer, linear in pairs for p, l1, l2 in _penalties(layer, linear)]
    if not any(l1 > 0 or l2 > 0 for _, l1, l2 in penalties):
        return data_loss
    return _torch_modules().RegularizedLoss(data_loss, penalties)


def _param_groups(pairs, l2_as_weight_decay: bool) -> list[dict[str, Any]]:
    """One parameter group per distinct weight decay 2 λ₂, in the order of the parameters."""
    groups: dict[float, list] = {}
    for layer, linear in pairs:
        for p, _, l2 in _penalties(layer, linear):
            # nnref adds 2 λ₂ w to the gradient; torch adds weight_decay · w
            wd = 2.0 * l2 if l2_as_weight_decay else 0.0
            groups.setdefault(wd, []).append(p)
    return [{"params": params, "weight_decay": wd} for wd, params in groups.items()]


def _next_learning_rate(opt: Any) -> float:
    """The learning rate nnref's next step will use (its pre_update_params)."""
    if opt.decay:
        return opt.learning_rate * (1.0 / (1.0 + opt.decay * opt.iterations))
    return opt.learning_rate


def _state_tensor(torch, arr: np.ndarray, dtype, transpose: bool):
    """An nnref state array as PyTorch lays out the parameter: Wᵀ for weights, the row for biases."""
    arr = arr.T if transpose else arr[0]
    return torch.tensor(np.ascontiguousarray(arr), dtype=dtype)


def _optimizer_to_torch(opt: Any, pairs, torch, l2_as_weight_decay: bool):
    owner = "to_torch"
    _counterpart(opt, "optimizer", owner)
    mods = _torch_modules()
    groups = _param_groups(pairs, l2_as_weight_decay)
    lr0, decay, t = float(opt.learning_rate), float(opt.decay), int(opt.iterations)
    scheduler = None
    if isinstance(opt, SGD):
        optimizer = torch.optim.SGD(groups, lr=lr0, momentum=float(opt.momentum))
        if decay:
            scheduler = mods.InverseTimeDecay(optimizer, decay, start=t, keep_velocity=bool(opt.momentum))
        states = {"momentums": "momentum_buffer"} if opt.momentum else {}
    elif isinstance(opt, Adagrad):
        # torch's lr / (1 + (step − 1) lr_decay) is nnref's η0 / (1 + d t) with step = t + 1
        optimizer = torch.optim.Adagrad(groups, lr=lr0, lr_decay=decay, eps=float(opt.epsilon),
                                        initial_accumulator_value=0.0)
        states = {"cache": "sum"}
    elif isinstance(opt, RMSprop):
        optimizer = torch.optim.RMSprop(groups, lr=lr0, alpha=float(opt.rho), eps=float(opt.epsilon))
        states = {"cache": "square_avg"}
    else:
        optimizer = torch.optim.Adam(groups, lr=lr0, betas=(float(opt.beta_1), float(opt.beta_2)),
                                     eps=float(opt.epsilon))
        states = {"momentums": "exp_avg", "cache": "exp_avg_sq"}
    if decay and scheduler is None and not isinstance(opt, Adagrad):
        scheduler = mods.InverseTimeDecay(optimizer, decay, start=t)
    if t == 0:
        return optimizer, scheduler  # nothing learned yet: torch starts from zeros as nnref does
    # the step counter as a tensor of the dtype torch's optimizers create it with
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    for layer, linear in pairs:
        mine = opt.state(layer)  # zeros for a layer this optimizer never moved, as nnref's next step would use
        for p, prefix, transpose in ((linear.weight, "weight_", True), (linear.bias, "bias_", False)):
            st = optimizer.state[p]
            if not isinstance(opt, SGD):
                st["step"] = torch.tensor(float(t), dtype=step_dtype)
            for name, theirs in states.items():
                value = _state_tensor(torch, mine[prefix + name], p.dtype, transpose)
                if isinstance(opt, SGD):
                    # w ← w − η b with b = −v/η reproduces nnref's w ← w + v
                    value = value / -_next_learning_rate(opt)
                st[theirs] = value
    return optimizer, scheduler


# --------------------------------------------------------------------------- from_torch

def _flatten(module, torch, prefix: str = ""):
    if isinstance(module, torch.nn.Sequential):
        for name, child in module.named_children():
            yield from _flatten(child, torch, f"{prefix}{name}.")
    else:
        yield prefix.rstrip("."), module


def from_torch(module: Any, *, optimizer: Any = None, scheduler: Any = None, dtype: DTypeLike | None = None,
               log: Callable[[str], Any] | None = print):
    r"""Build an nnref Model from a PyTorch ``Sequential`` of supported modules.

    Parameters
    ----------
    module : torch.nn.Module
        A ``Sequential`` (nested ones are flattened) or a single module, made of
        ``nn.Linear`` (with bias), ``nn.ReLU``, ``nn.Sigmoid``,
        ``nn.Softmax(dim=1)`` (or ``dim=-1``), ``nn.Identity`` and
        ``nn.Dropout``. Anything else raises ``TypeError`` naming the module
        and its position.
    optimizer : torch.optim.Optimizer, optional
        Carry training over as well: an ``SGD`` (no Nesterov, no dampening),
        ``Adagrad``, ``RMSprop`` (not centered, no momentum) or ``Adam`` (not
        AMSGrad) over the module's parameters, with one learning rate. It
        becomes the nnref optimizer with its state (step count, momentums,
        caches); each parameter group's ``weight_decay`` becomes the L2
        penalty $\lambda_2 = \text{weight\_decay} / 2$ of its layers.
        L1 penalties live in a PyTorch loss, which this cannot see: set them
        on the returned layers if you had them.
    scheduler : optional
        The ``InverseTimeDecay`` scheduler :func:`to_torch` returned, which
        becomes nnref's ``decay``; any other scheduler is refused (nnref has
        only this one schedule).
    dtype : dtype, optional
        Of the nnref parameters; by default that of the PyTorch ones.
    log : callable or None, default print
        The Model's ``log`` (see :class:`~nnref.model.Model`).

    Returns
    -------
    Model
        Finalized, with copies of the weights (and the optimizer, if given);
        set its loss and accuracy with ``model.set(...)`` before training.
    """
    owner = "from_torch"
    torch = _import_torch()
    from .model import Model

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{owner}: expected a torch.nn.Module, got {type(module).__name__}")
    model = Model(log=log)
    linears = []
    for position, child in _flatten(module, torch):
        where = f"module {position}" if position else "the module"
        layer = _layer_from_torch(child, torch, dtype, f"{owner}: {where}")
        model.add(layer)
        if isinstance(layer, Dense):
            linears.append((layer, child))
    if not model.layers:
        raise ValueError(f"{owner}: the Sequential is empty")
    if optimizer is not None:
        model.set(optimizer=_optimizer_from_torch(optimizer, scheduler, linears, torch))
    elif scheduler is not None:
        raise ValueError(f"{owner}: a scheduler was given without its optimizer")
    model.finalize()
    return model


def _optimizer_from_torch(optimizer: Any, scheduler: Any, linears, torch):
    """The nnref optimizer (with its state) equal to a torch optimizer and scheduler; sets the L2 penalties."""
    owner = "from_torch"
    optim = torch.optim
    groups = optimizer.param_groups
    lrs = {float(group["lr"]) for group in groups}
    if len(lrs) != 1:
        raise ValueError(f"{owner}: the optimizer's parameter groups have different learning rates {sorted(lrs)}; "
                         "nnref's optimizers have one")
    (lr,) = lrs
    weight_decay = {p: float(group["weight_decay"]) for group in groups for p in group["params"]}
    missing = [f"{type(linear).__name__} {tuple(linear.weight.shape)}" for _, linear in linears
               if linear.weight not in weight_decay or linear.bias not in weight_decay]
    if missing:
        raise ValueError(f"{owner}: the optimizer does not hold the parameters of {', '.join(missing)}")
    group = groups[0]
    shared = set(group) - {"params", "weight_decay", "initial_lr"}
    differing = sorted(k for g in groups[1:] for k in shared if g.get(k) != group.get(k))
    if differing:
        raise ValueError(f"{owner}: the optimizer's parameter groups differ in {differing}; nnref's optimizers "
                         "use one setting for all parameters (only weight_decay may differ)")
    kind = type(optimizer)
    unsupported = {
        optim.SGD: [("nesterov", False), ("dampening", 0)],
        optim.Adagrad: [("initial_accumulator_value", 0)],
        optim.RMSprop: [("centered", False), ("momentum", 0)],
        optim.Adam: [("amsgrad", False)],
    }.get(kind)
    if unsupported is None:
        raise TypeError(f"{owner}: no nnref optimizer for {kind.__name__}; supported: SGD, Adagrad, RMSprop, Adam")
    for g in groups:
        for key, plain in unsupported + [("maximize", False)]:
            if g.get(key, plain) != plain:
                raise ValueError(f"{owner}: {kind.__name__}({key}={g[key]!r}) has no nnref counterpart")
        if kind is optim.Adam and g.get("decoupled_weight_decay", False):
            raise ValueError(f"{owner}: Adam(decoupled_weight_decay=True) (AdamW) has no nnref counterpart")
    # the step count, from the optimizer's own state where it keeps one
    steps = {int(optimizer.state[p]["step"]) for p in weight_decay if "step" in optimizer.state.get(p, {})}
    if len(steps) > 1:
        raise ValueError(f"{owner}: the optimizer's parameters have taken different numbers of steps {sorted(steps)}")
    t = steps.pop() if steps else 0
    lr0, decay = lr, 0.0
    if scheduler is not None:
        if not isinstance(scheduler, _torch_modules().InverseTimeDecay):
            raise TypeError(f"{owner}: the scheduler {type(scheduler).__name__} has no nnref counterpart; "
                            "only the InverseTimeDecay that to_torch returns does")
        if kind is optim.Adagrad:
            raise ValueError(f"{owner}: Adagrad decays its learning rate through lr_decay; pass no scheduler")
        lr0, decay = float(scheduler.base_lrs[0]), scheduler.decay
        t_scheduler = scheduler.start + scheduler.last_epoch
        if kind is optim.SGD:
            t = t_scheduler  # torch's SGD keeps no step count of its own
        elif t != t_scheduler:
            raise ValueError(f"{owner}: the scheduler counts {t_scheduler} steps but the optimizer {t}")
    if kind is optim.SGD:
        ours = SGD(learning_rate=lr0, decay=decay, momentum=float(group["momentum"]))
        states = {"momentums": "momentum_buffer"} if ours.momentum else {}
    elif kind is optim.Adagrad:
        ours = Adagrad(learning_rate=lr, decay=float(group["lr_decay"]), epsilon=float(group["eps"]))
        states = {"cache": "sum"}
    elif kind is optim.RMSprop:
        ours = RMSprop(learning_rate=lr0, decay=decay, epsilon=float(group["eps"]), rho=float(group["alpha"]))
        states = {"cache": "square_avg"}
    else:
        beta_1, beta_2 = (float(b) for b in group["betas"])
        ours = Adam(learning_rate=lr0, decay=decay, epsilon=float(group["eps"]), beta_1=beta_1, beta_2=beta_2)
        states = {"momentums": "exp_avg", "cache": "exp_avg_sq"}
    for layer, linear in linears:
        # torch adds weight_decay · w to the gradient, nnref 2 λ2 w
        layer.weight_regularizer_l2 = weight_decay[linear.weight] / 2
        layer.bias_regularizer_l2 = weight_decay[linear.bias] / 2
    ours.iterations = t
    if t > 0 and states:
        for layer, linear in linears:
            # state() sizes its arrays by the parameters and gradients: give it gradients of the right dtype
            layer.dweights, layer.dbiases = np.zeros_like(layer.weights), np.zeros_like(layer.biases)
            st = ours.state(layer)
            for p, prefix, transpose in ((linear.weight, "weight_", True), (linear.bias, "bias_", False)):
                theirs = optimizer.state.get(p, {})
                for name, key in states.items():
                    if key not in theirs:
                        continue  # torch has not made it yet: nnref's zeros are the same start
                    value = theirs[key].detach().cpu().numpy()
                    value = value.T if transpose else value[None, :]
                    if kind is optim.SGD:
                        # nnref's velocity v = −η b, with η the learning rate of the next step
                        value = -lr * value
                    st[prefix + name][...] = value
    return ours


def _layer_from_torch(child, torch, dtype, where: str):
    nn = torch.nn
    kind = type(child)
    if kind is nn.Linear:
        if child.bias is None:
            raise TypeError(f"{where} ({child!r}) has no bias; nnref's Dense always has one")
        weights = child.weight.detach().cpu().numpy().T
        biases = child.bias.detach().cpu().numpy()[None, :]
        out_dtype = np.dtype(dtype) if dtype is not None else weights.dtype
        # rng=0: the random initial weights are replaced at once; leave numpy's global RNG alone
        dense = Dense(child.in_features, child.out_features, rng=0, dtype=out_dtype)
        dense.set_parameters(weights.astype(out_dtype), biases.astype(out_dtype))
        return dense
    if kind is nn.ReLU:
        return ReLU()
    if kind is nn.Sigmoid:
        return Sigmoid()
    if kind is nn.Identity:
        return Linear()
    if kind is nn.Softmax:
        if child.dim not in (1, -1):
            raise TypeError(f"{where} ({child!r}) normalises over dim {child.dim}; nnref's Softmax "
                            "normalises each row (dim=1)")
        return Softmax()
    if kind is nn.Dropout:
        return Dropout(float(child.p))
    supported = "Linear, ReLU, Sigmoid, Softmax(dim=1), Identity, Dropout"
    raise TypeError(f"{where} is {child!r} ({kind.__name__}), which nnref has no layer for; supported: {supported}")


# --------------------------------------------------------------------------- files

def save_state_dict(model: Any, path: str | Path) -> Any:
    """Write the PyTorch ``state_dict`` of :func:`to_torch(model) <to_torch>` to ``path``.

    Load it with ``torch.load(path, weights_only=True)`` into the ``Sequential``
    that :func:`to_torch` builds (or one of the same layout: the keys are
    ``"0.weight"``, ``"0.bias"``, ... by position).

    Parameters
    ----------
    model : Model or list of layers
        As for :func:`to_torch`.
    path : str or Path
        The file to write (``.pt`` by convention).

    Returns
    -------
    torch.nn.Sequential
        The network whose ``state_dict`` was written.
    """
    torch = _import_torch()
    module = to_torch(model)
    torch.save(module.state_dict(), Path(path))
    return module


def save_onnx(model: Any, path: str | Path, *, n_samples: int = 2) -> Any:
    """Write :func:`to_torch(model) <to_torch>` as an ONNX graph and check it with ``onnx.checker``.

    Uses PyTorch's ``torch.export``-based exporter (``dynamo=True``), which
    needs the ``onnx`` and ``onnxscript`` packages (``pip install nnref[onnx]``).
    The batch axis is dynamic; the graph's input is named ``inputs`` and its
    output ``outputs``.

    Parameters
    ----------
    model : Model or list of layers
        As for :func:`to_torch`; the first layer must be Dense.
    path : str or Path
        The file to write (``.onnx`` by convention).
    n_samples : int, default 2
        Rows of the example batch traced for the export (any number works later).

    Returns
    -------
    onnx.ModelProto
        The graph as written, loaded back and checked.
    """
    torch = _import_torch()
    try:
        import onnx
        import onnxscript  # noqa: F401 - the exporter imports it; say so up front
    except ImportError as exc:
        raise ImportError(f"exporting to ONNX needs the onnx and onnxscript packages ({exc}); install them "
                          "with `pip install nnref[onnx]`") from exc
    module = to_torch(model)
    n_inputs = module[0].in_features if isinstance(module[0], torch.nn.Linear) else None
    if n_inputs is None:
        raise ValueError("save_onnx: the first layer must be Dense, which fixes the number of input features")
    example = torch.zeros((n_samples, n_inputs), dtype=next(module.parameters()).dtype)
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(module, (example,), dynamo=True, input_names=["inputs"],
                                output_names=["outputs"], dynamic_shapes=({0: batch},), verbose=False)
    program.save(str(path))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def correspondence_markdown() -> str:
    """:data:`COUNTERPARTS` as a Markdown table: the book's name, nnref's, PyTorch's, and the notes."""
    from . import book

    book_names = {getattr(book, name): name for name in book.__all__}
    rows = ["| book | nnref | PyTorch | what to know |", "|---|---|---|---|"]
    for c in COUNTERPARTS:
        rows.append(f"| `{book_names.get(c.nnref_class, '')}` | `{c.nnref_class.__name__}` | "
                    f"`{c.torch}` | {c.note} |")
    for ours, theirs, note in REGULARIZATION_NOTES:
        rows.append(f"| | `{ours}` | {theirs} | {note} |")
    return "\n".join(rows)

