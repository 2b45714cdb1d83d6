"""Single-item sealed-bid auctions, hard and smoothed, batched over ``[..., agents]``.

Shape convention: ``values`` and ``bids`` are ``[runs, batch, agents]`` (any leading shape works);
the agent axis is always last. ``beta`` is a float or a tensor broadcastable to the bids
(``[runs, 1, 1]`` when runs use different temperatures).

Each mechanism offers

* ``hard_outcome``: the true auction, allocation (0/1, random tie-break) and payments;
* ``smoothed_utility``: the differentiable relaxation used for learning. Agent i's utility sees the
  highest competing bid m_i as a constant (it is detached), so back-propagating the sum of all
  agents' smoothed utilities gives every agent only its own ∂ũ_i/∂b_i: the non-cooperative
  gradient, never the cartel's;
* ``smoothed_bid_gradient``: the same derivative in closed form (the fast path for linear policies;
  a test checks it against autograd);
* ``interim_utility``: the hard ex-interim utility of a bid against sorted draws of the highest
  competing bid, used by the grid best response.
"""

from __future__ import annotations

import torch


def highest_competing_bid(bids: torch.Tensor) -> torch.Tensor:
    """m_i = max_{j≠i} b_j for every agent (agent axis last), exactly, ties included.

    Computed from prefix and suffix maxima over the agent slices, m_i = max(max_{j<i} b_j,
    max_{j>i} b_j): 2(N−1) elementwise maxima, no sort and no reduction over the short agent
    axis. The trainer stores values agent-major in memory (a [runs, agents, batch] buffer viewed
    as [runs, batch, agents]), so every slice ``bids[..., i]`` is contiguous and each maximum runs
    at full vector speed.
    """
    n = bids.shape[-1]
    if n < 2:
        raise ValueError(f"an auction needs at least 2 bidders, got bids with {n} on the last axis")
    if n == 2:
        return bids.flip(-1)
    out = torch.empty_like(bids)
    running = bids[..., 0]
    for i in range(1, n):  # out[..., i] = max_{j<i} b_j
        out[..., i] = running
        if i < n - 1:
            running = torch.maximum(running, bids[..., i])
    running = bids[..., n - 1]
    for i in range(n - 2, -1, -1):  # fold in max_{j>i} b_j
        if i == 0:
            out[..., 0] = running
        else:
            torch.maximum(out[..., i], running, out=out[..., i])
        running = torch.maximum(running, bids[..., i])
    return out


def hard_allocation(bids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One-hot allocation to the highest bid, ties broken uniformly at random.

    Among the agents whose bid equals the maximum, the one with the largest independent U[0,1)
    priority wins, which picks each tied agent with equal probability.
    """
    is_top = bids == bids.amax(dim=-1, keepdim=True)
    priority = torch.rand(bids.shape, generator=generator, dtype=bids.dtype, device=bids.device)
    score = torch.where(is_top, priority, torch.full_like(priority, -1.0))
    winner = score.argmax(dim=-1, keepdim=True)
    return torch.zeros_like(bids).scatter_(-1, winner, 1.0)


def smoothed_win_probability(bids: torch.Tensor, beta) -> torch.Tensor:
    """σ(β(b_i − m_i)) with the competing bid m_i detached (opponents are constants)."""
    competing = highest_competing_bid(bids.detach())
    return torch.sigmoid(beta * (bids - competing))


class Mechanism:
    """A single-item auction: its hard rule and its sigmoid relaxation."""

    name: str = "mechanism"
    #: whether truthful bidding is the equilibrium (second price) — informs metrics and plots
    truthful: bool = False

    def payments(self, bids: torch.Tensor, allocation: torch.Tensor,
                 competing: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hard_outcome(self, bids: torch.Tensor, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(allocation, payments), both shaped like ``bids``."""
        allocation = hard_allocation(bids, generator)
        return allocation, self.payments(bids, allocation, highest_competing_bid(bids))

    def hard_utility(self, values: torch.Tensor, bids: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Quasi-linear utility v_i·x_i − p_i in the true auction."""
        allocation, payment = self.hard_outcome(bids, generator)
        return values * allocation - payment

    def smoothed_utility(self, values: torch.Tensor, bids: torch.Tensor, beta) -> torch.Tensor:
        raise NotImplementedError

    def smoothed_bid_gradient(self, values: torch.Tensor, bids: torch.Tensor,
                              beta) -> torch.Tensor:
        raise NotImplementedError

    def interim_utility(self, values: torch.Tensor, bids: torch.Tensor, competing) -> torch.Tensor:
        """Hard ex-interim utility E_m[u(v, b; m)] against a competing-bid distribution.

        ``values`` and ``bids`` broadcast against each other (pairs v, b(v), or a value column
        against a bid row for a best-response grid). ``competing`` describes the highest competing
        bid m by ``cdf(b) = P(m < b)`` and ``partial_mean(b) = E[m·1{m < b}]``
        (:mod:`diffauction.metrics`); m is continuous, so ties have probability zero.
        """
        raise NotImplementedError


class FirstPrice(Mechanism):
    """First-price sealed bid: the winner pays its own bid.

    Smoothed (the seed's form): ũ_i = (v_i − b_i)·σ(β(b_i − m_i)); only the win probability is
    smoothed, the payment b_i is exact.
    """

    name = "first_price"

    def payments(self, bids, allocation, competing):
        return allocation * bids

    def smoothed_utility(self, values, bids, beta):
        return (values - bids) * smoothed_win_probability(bids, beta)

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = −σ + (v_i − b_i)·β·σ(1 − σ)."""
        p = smoothed_win_probability(bids, beta)
        return (values - bids) * beta * p * (1.0 - p) - p

    def interim_utility(self, values, bids, competing):
        return (values - bids) * competing.cdf(bids)


class SecondPrice(Mechanism):
    """Second-price sealed bid (= VCG for one item): the winner pays the highest competing bid.

    Smoothed: ũ_i = (v_i − m_i)·σ(β(b_i − m_i)); only the win probability is smoothed.
    """

    name = "second_price"
    truthful = True

    def payments(self, bids, allocation, competing):
        return allocation * competing

    def smoothed_utility(self, values, bids, beta):
        competing = highest_competing_bid(bids.detach())
        return (values - competing) * torch.sigmoid(beta * (bids - competing))

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = (v_i − m_i)·β·σ(1 − σ)."""
        competing = highest_competing_bid(bids)
        p = torch.sigmoid(beta * (bids - competing))
        return (values - competing) * beta * p * (1.0 - p)

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - competing.partial_mean(bids)


class AllPay(Mechanism):
    """All-pay: every bidder pays its bid, the highest bid wins.

    Smoothed: ũ_i = v_i·σ(β(b_i − m_i)) − b_i; only the win probability is smoothed.
    """

    name = "all_pay"

    def payments(self, bids, allocation, competing):
        return bids.clone()

    def smoothed_utility(self, values, bids, beta):
        return values * smoothed_win_probability(bids, beta) - bids

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = v_i·β·σ(1 − σ) − 1."""
        p = smoothed_win_probability(bids, beta)
        return values * beta * p * (1.0 - p) - 1.0

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - bids


MECHANISMS: dict[str, type[Mechanism]] = {
    cls.name: cls for cls in (FirstPrice, SecondPrice, AllPay)
}


def make_mechanism(name: str) -> Mechanism:
    try:
        return MECHANISMS[name]()
    except KeyError:
        raise ValueError(
            f"mechanism: unknown mechanism {name!r}; allowed: {sorted(MECHANISMS)}"
        ) from None
