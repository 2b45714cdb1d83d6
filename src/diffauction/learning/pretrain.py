"""Pre-training of neural policies (bnelearn's), and the trainer's policy factory.

The game layer builds a policy at its initial parameters
(:func:`diffauction.game.policies.make_policy`); :func:`make_policy` here also applies the
config's pre-training, with the package's one Adam (:mod:`diffauction.learning.optimizers`).
"""

from __future__ import annotations

import torch

from diffauction.game import policies
from diffauction.game.policies import value_grid
from diffauction.learning.optimizers import Adam


def pretrain(policy, target, lows, highs, steps: int = 300, lr: float = 0.01,
             points: int = 64) -> torch.Tensor:
    """Regress every run's and agent's network on ``target`` (bnelearn's pre-training; Bichler
    et al. 2021).

    ``target(values)`` maps a value tensor [runs, G, agents] to target bids of that shape (e.g.
    truthful, or a linear shading w0·v); the values are a per-agent grid of ``points`` on
    [low_i, high_i]. Minimises L = Σ_{runs, agents} mean_G (π_θ(v) − target(v))² by Adam ascent
    on −L (so each network only sees its own error; all runs and agents in one batched program).
    Returns the final RMSE [runs, agents].
    """
    params = policy.params
    grid = value_grid(lows, highs, points, params.dtype, params.device)
    values = grid.unsqueeze(0).expand(params.shape[0], -1, -1)
    goal = target(values)
    adam = Adam(params)
    for _ in range(steps):
        theta = params.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = ((policy.bids(values, theta) - goal) ** 2).mean(dim=1).sum()
            (grad,) = torch.autograd.grad(loss, theta)
        adam.step(params, grad.neg_(), lr)
    with torch.no_grad():
        return ((policy.bids(values) - goal) ** 2).mean(dim=1).sqrt()


def make_policy(spec: dict, seeds: list[int], n_agents: int, w0: torch.Tensor, priors,
                dtype: torch.dtype, device):
    """:func:`diffauction.game.policies.make_policy`, then an MLP's pre-training: ``pretrain``
    (``linear``: fit w0·v, the default; ``truthful``: fit v; ``none``), ``pretrain_steps`` (300).
    """
    policy = policies.make_policy(spec, seeds, n_agents, w0, priors, dtype, device)
    mode = spec.get("pretrain", "linear")
    if policy.name == "mlp" and mode != "none":
        slope = w0[:, None, None] if mode == "linear" else 1.0
        pretrain(policy, lambda v: slope * v, priors.lows, priors.highs,
                 steps=int(spec.get("pretrain_steps", 300)))
    return policy
