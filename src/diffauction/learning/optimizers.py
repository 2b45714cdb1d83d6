"""The package's optimisers: Adam and (heavy-ball) SGD *ascent* with one learning rate per run.

Parameters are one tensor [runs, agents, ...] (any trailing shape); the learning rate is a
per-run tensor [runs] (or a float) broadcast over the trailing axes
(:func:`~diffauction.game.mechanisms.broadcast_per_run`). Each step updates the parameters in
place. To *minimise* a loss L (pre-training), ascend −L: pass −∂L/∂θ.
"""

from __future__ import annotations

import math

import torch

from diffauction.game.mechanisms import broadcast_per_run

OPTIMIZERS = ("adam", "sgd")


class Adam:
    """Adam (Kingma & Ba 2015) ascent with a per-run learning rate; state shaped like the
    parameters."""

    def __init__(self, params: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.denom = torch.empty_like(params)
        self.t = 0

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr) -> None:
        """θ += lr·m̂/(√v̂ + ε) with m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g²,
        m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), in few passes over preallocated buffers."""
        self.t += 1
        self.m.lerp_(grad, 1 - self.b1)
        self.v.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        denom = torch.sqrt(self.v, out=self.denom).div_(math.sqrt(1 - self.b2**self.t))
        ratio = torch.div(self.m, denom.add_(self.eps), out=denom)  # m/(√v̂ + ε)
        params.addcmul_(broadcast_per_run(lr, params), ratio, value=1 / (1 - self.b1**self.t))


class SGD:
    """Plain (optionally heavy-ball) gradient ascent: u = μu + g, θ += lr·u."""

    def __init__(self, params: torch.Tensor, momentum: float = 0.0):
        self.momentum = momentum
        self.buffer = torch.zeros_like(params)

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr) -> None:
        self.buffer.mul_(self.momentum).add_(grad)
        params.add_(broadcast_per_run(lr, params) * self.buffer)


def make_optimizer(name: str, params: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999),
                   eps: float = 1e-8, momentum: float = 0.0) -> Adam | SGD:
    """``adam`` (``betas``, ``eps``) or ``sgd`` (``momentum``) for ``params``."""
    if name == "adam":
        return Adam(params, betas, eps)
    if name == "sgd":
        return SGD(params, momentum)
    raise ValueError(f"optimizer.name: unknown optimizer {name!r}; allowed: {list(OPTIMIZERS)}")
