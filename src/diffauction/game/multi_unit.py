"""k identical units, unit demand: the k highest bids win one unit each (pay as bid, uniform
price)."""

from __future__ import annotations

import torch

from diffauction.game.core import Mechanism, hard_allocation, kth_highest_competing_bid


def unit_demand_allocation(bids: torch.Tensor, k: int,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """0/1 allocation of k identical units to the k highest bids, ties broken uniformly at random.

    Every agent draws an independent U[0,1) priority; j outranks i if b_j > b_i, or b_j = b_i and
    j's priority is larger; i wins iff fewer than k agents outrank it. Tied agents are therefore
    ordered uniformly at random, and for k = 1 the draw is the one :func:`hard_allocation` makes.
    """
    n = bids.shape[-1]
    if not 1 <= k < n:
        raise ValueError(f"units: k must satisfy 1 <= k < N, got k={k} with N={n} bidders")
    if k == 1:
        return hard_allocation(bids, generator)
    priority = torch.rand(bids.shape, generator=generator, dtype=bids.dtype, device=bids.device)
    mine, theirs = bids[..., :, None], bids[..., None, :]
    outranked = (theirs > mine) | ((theirs == mine)
                                   & (priority[..., None, :] > priority[..., :, None]))
    return (outranked.sum(dim=-1) < k).to(bids.dtype)


def _check_units(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"units: k must be an integer >= 1, got {k!r}")
    return k


class MultiUnitMechanism(Mechanism):
    """k identical units, unit-demand bidders: the k highest bids win one unit each.

    Agent i wins iff b_i beats m_i^(k), the k-th highest competing bid
    (:func:`kth_highest_competing_bid`), so every formula of the single-item auctions carries over
    with m_i replaced by m_i^(k); ``interim_utility``'s ``competing`` describes m_i^(k). The number
    of bidders is only known from the bids: k ≥ N raises ValueError naming ``units``.
    """

    def __init__(self, k: int):
        self.k = _check_units(k)

    def competing(self, bids: torch.Tensor) -> torch.Tensor:
        return kth_highest_competing_bid(bids, self.k)

    def smoothed_win_probability(self, bids: torch.Tensor, beta) -> torch.Tensor:
        """σ(β(b_i − m_i^(k))) with m_i^(k) detached (opponents are constants)."""
        return torch.sigmoid(beta * (bids - self.competing(bids.detach())))

    def hard_outcome(self, bids, generator=None):
        allocation = unit_demand_allocation(bids, self.k, generator)
        return allocation, self.payments(bids, allocation, self.competing(bids))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class PayAsBid(MultiUnitMechanism):
    """Discriminatory (pay-as-bid) k-unit auction: every winner pays its own bid.

    Smoothed: ũ_i = (v_i − b_i)·σ(β(b_i − m_i^(k))); only the win probability is smoothed, the
    payment b_i is exact. k = 1 is first price.
    """

    name = "pay_as_bid"

    def payments(self, bids, allocation, competing):
        return allocation * bids

    def smoothed_utility(self, values, bids, beta):
        return (values - bids) * self.smoothed_win_probability(bids, beta)

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = −σ + (v_i − b_i)·β·σ(1 − σ)."""
        p = self.smoothed_win_probability(bids, beta)
        return (values - bids) * beta * p * (1.0 - p) - p

    def interim_utility(self, values, bids, competing):
        return (values - bids) * competing.cdf(bids)


class UniformPrice(MultiUnitMechanism):
    """Uniform-price k-unit auction: every winner pays the (k+1)-th highest bid, which is its
    k-th highest competing bid m_i^(k); with unit demand this is VCG, so truthful bidding is
    dominant.

    Smoothed: ũ_i = (v_i − m_i^(k))·σ(β(b_i − m_i^(k))); only the win probability is smoothed,
    the price m_i^(k) is exact (and a constant for agent i). k = 1 is second price.
    """

    name = "uniform_price"
    truthful = True

    def payments(self, bids, allocation, competing):
        return allocation * competing

    def smoothed_utility(self, values, bids, beta):
        competing = self.competing(bids.detach())
        return (values - competing) * torch.sigmoid(beta * (bids - competing))

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = (v_i − m_i^(k))·β·σ(1 − σ)."""
        competing = self.competing(bids)
        p = torch.sigmoid(beta * (bids - competing))
        return (values - competing) * beta * p * (1.0 - p)

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - competing.partial_mean(bids)
