"""Bid functions, batched over independent runs and agents.

A policy holds its parameters as one tensor whose first two axes are ``[runs, agents]`` and maps
values ``[runs, batch, agents]`` to bids of the same shape.
"""

from __future__ import annotations

import torch


class LinearPolicy:
    """b_i = w_i · v_i with one scalar w per (run, agent); parameters shaped [runs, agents]."""

    name = "linear"

    def __init__(self, w0: torch.Tensor):
        self.params = w0.clone()

    def bids(self, values: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        w = self.params if params is None else params
        return w[:, None, :] * values

    @staticmethod
    def chain_rule(values: torch.Tensor, bid_gradient: torch.Tensor) -> torch.Tensor:
        """∂E[ũ_i]/∂w_i = E[v_i · ∂ũ_i/∂b_i]: average over the batch axis, shape [runs, agents]."""
        return (values * bid_gradient).mean(dim=1)

    def bid_function(self, grid: torch.Tensor) -> torch.Tensor:
        """b(v) on a value grid [G] for every run and agent: [runs, G, agents]."""
        return self.params[:, None, :] * grid[None, :, None].to(self.params)


POLICIES = {"linear": LinearPolicy}
