"""The PyTorch pieces :mod:`nnref.torch_bridge` builds: nnref's losses and schedule as torch objects.

This module imports torch when it is imported; only :mod:`nnref.torch_bridge`
imports it, and only inside functions, so ``import nnref`` never loads torch.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .losses import CLIP

__all__ = ["CategoricalCrossentropyLoss", "BinaryCrossentropyLoss", "RegularizedLoss", "InverseTimeDecay"]


class CategoricalCrossentropyLoss(nn.Module):
    r"""nnref's :class:`~nnref.losses.CategoricalCrossentropy` on probabilities, clipped as nnref clips them.

    ``forward(probabilities, target)`` with probabilities of shape (N, K) (the
    output of a ``Softmax``) and ``target`` class indices (N,) or rows (N, K):

    $$L = -\frac{1}{N}\sum_n \sum_k y_{nk} \log \operatorname{clip}(\hat{y}_{nk}, 10^{-7}, 1 - 10^{-7})$$

    PyTorch's own ``nn.CrossEntropyLoss`` takes logits instead; the two agree
    where no probability is clipped.
    """

    def forward(self, probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = probabilities.clamp(CLIP, 1 - CLIP).log()
        if target.dim() == 1:
            return F.nll_loss(log_p, target.long())
        return -(target.to(log_p.dtype) * log_p).sum(dim=1).mean()


class BinaryCrossentropyLoss(nn.Module):
    r"""nnref's :class:`~nnref.losses.BinaryCrossentropy`: ``nn.BCELoss`` on predictions clipped to $[10^{-7}, 1 - 10^{-7}]$.

    The mean over every output of every sample equals nnref's mean over the
    samples of each sample's mean over its outputs.
    """

    def forward(self, probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(probabilities.clamp(CLIP, 1 - CLIP), target.to(probabilities.dtype))


class RegularizedLoss(nn.Module):
    r"""A data loss plus nnref's L1 (and optionally L2) penalties on given parameters.

    Parameters
    ----------
    data_loss : nn.Module
        Called as ``data_loss(output, target)``.
    penalties : sequence of (parameter, l1, l2)
        $\lambda_1$ and $\lambda_2$ of each parameter tensor.

    Notes
    -----
    The penalty is $\sum \lambda_1 \sum |p| + \lambda_2 \sum p^2$. The L1 term
    is written as $\lambda_1 \sum p \cdot s(p)$ with $s(p) = +1$ for $p \ge 0$
    and $-1$ below, held constant: its value is $\lambda_1 \sum |p|$ and its
    gradient $\lambda_1 s(p)$, which is nnref's (and the book's) L1
    subgradient, $+1$ at $p = 0$, where ``abs`` would give 0.
    """

    def __init__(self, data_loss: nn.Module, penalties: Sequence[tuple[torch.Tensor, float, float]]) -> None:
        super().__init__()
        self.data_loss = data_loss
        self._penalties = [(p, float(l1), float(l2)) for p, l1, l2 in penalties if l1 > 0 or l2 > 0]

    def penalty(self) -> torch.Tensor:
        """The regularization loss of the current parameters (a scalar tensor)."""
        total = torch.zeros((), dtype=self._penalties[0][0].dtype) if self._penalties else torch.zeros(())
        for p, l1, l2 in self._penalties:
            if l1 > 0:
                sign = torch.where(p < 0, -1.0, 1.0).to(p.dtype).detach()
                total = total + l1 * (p * sign).sum()
            if l2 > 0:
                total = total + l2 * (p * p).sum()
        return total

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.data_loss(output, target) + self.penalty()


class InverseTimeDecay(torch.optim.lr_scheduler.LRScheduler):
    r"""nnref's learning-rate decay as a scheduler: $\eta_t = \eta_0 / (1 + d\,t)$.

    Call ``step()`` after each ``optimizer.step()`` (one optimizer step, not
    one epoch: nnref decays per step). ``start`` is the number of steps
    already taken, so the first learning rate is $\eta_0 / (1 + d \cdot
    \text{start})$.

    With ``keep_velocity`` (used for SGD with momentum), each change of the
    learning rate also rescales the optimizer's momentum buffers by
    $\eta_{t}/\eta_{t+1}$. PyTorch keeps the buffer $b$ with
    $w \leftarrow w - \eta_t b$, nnref the velocity $v = -\eta b$ with
    $w \leftarrow w + v$; the two agree only while $\eta$ is constant. The
    rescaling keeps $v$ the same when $\eta$ changes, so the updates are
    nnref's at every step.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, decay: float, *, start: int = 0,
                 keep_velocity: bool = False, last_epoch: int = -1) -> None:
        self.decay = float(decay)
        self.start = int(start)
        self.keep_velocity = bool(keep_velocity)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t = self.start + self.last_epoch
        # η_t = η_0 · 1 / (1 + d·t), written as nnref's pre_update_params writes it
        return [base * (1.0 / (1.0 + self.decay * t)) for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:  # noqa: D102 - documented on the class
        before = [group["lr"] for group in self.optimizer.param_groups]
        super().step(epoch)
        if not self.keep_velocity:
            return
        for group, old in zip(self.optimizer.param_groups, before):
            ratio = old / group["lr"]
            for p in group["params"]:
                buf = self.optimizer.state.get(p, {}).get("momentum_buffer")
                if buf is not None:
                    buf.mul_(ratio)
