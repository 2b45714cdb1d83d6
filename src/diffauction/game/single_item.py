"""The single-item sealed-bid auctions: first, second and third price, and all-pay.

Each class is the hard rule (payments) and its sigmoid relaxation (only the win probability
σ(β(b_i − m_i)) is smoothed; payments stay exact). Shapes: ``[runs, batch, agents]``.
"""

from __future__ import annotations

import torch

from diffauction.game.core import (
    Mechanism,
    bid_margin,
    broadcast_per_run,
    highest_competing_bid,
    kth_highest_competing_bid,
    smoothed_win_probability,
)


def _linear_win_moments(values: torch.Tensor, weights: torch.Tensor, beta, bids: torch.Tensor,
                        scratch: torch.Tensor):
    """(E[vp], E[v²p(1 − p)], β per run [runs, 1]) over the batch axis, p = σ(β(b_i − m_i)) at the
    linear bids b = w·v, in the work buffers ``bids`` and ``scratch``. β is folded into the bids
    (σ(βb − βm), and max_j βb_j = β·max_j b_j for β > 0); v²p(1 − p) = vp·(v − vp)."""
    beta = broadcast_per_run(beta, weights)
    scaled = torch.mul((weights * beta)[:, None, :], values, out=bids)  # βb
    p = bid_margin(scaled, out=scratch).sigmoid_()
    vp = torch.mul(values, p, out=bids)
    mean_vp = vp.mean(dim=1)
    mean_v2s = torch.sub(values, vp, out=p).mul_(vp).mean(dim=1)
    return mean_vp, mean_v2s, beta


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

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not FirstPrice.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v((v − b)βp(1 − p) − p)] = β(1 − w)·E[v²p(1 − p)] − E[vp]
        mean_vp, mean_v2s, beta = _linear_win_moments(values, weights, beta, bids, scratch)
        return mean_v2s.mul_((1.0 - weights) * beta).sub_(mean_vp)

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

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not SecondPrice.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v(v − m)βp(1 − p)] = −E[v·(βm − βv)·p(1 − p)]
        beta_w = weights * broadcast_per_run(beta, weights)
        scaled = torch.mul(beta_w[:, None, :], values, out=bids)  # βb
        m = highest_competing_bid(scaled, out=scratch)  # βm
        p = torch.sub(scaled, m, out=bids).sigmoid_()  # σ(β(b − m))
        torch.addcmul(p, p, p, value=-1.0, out=p)  # p(1 − p)
        torch.addcmul(m, values, broadcast_per_run(beta, values), value=-1.0, out=m)  # βm − βv
        return torch.mul(m, p, out=p).mul_(values).mean(dim=1).neg_()

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - competing.partial_mean(bids)


class ThirdPrice(Mechanism):
    """Third-price sealed bid (N ≥ 3): the highest bid wins and pays the third-highest bid, i.e.
    its second-highest competing bid m_i^(2).

    Smoothed: ũ_i = (v_i − m_i^(2))·σ(β(b_i − m_i)); only the win probability is smoothed, the
    price is exact and a constant for agent i. Not truthful: in the symmetric BNE bidders bid
    above their value, b*(v) = v + F(v)/((N − 2) f(v)) = (N − 1)/(N − 2)·v on U[0, 1]
    (Kagel & Levin 1993; Krishna 2009, ch. 2).
    """

    name = "third_price"
    min_bidders = 3
    has_interim_utility = False  # needs the joint law of the two highest competing bids

    @staticmethod
    def _competing(bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m_i, m_i^(2)): the highest and second-highest competing bids."""
        if bids.shape[-1] < 3:
            raise ValueError(f"n_agents: third_price needs at least 3 bidders, got "
                             f"{bids.shape[-1]}; allowed: n_agents >= 3")
        return highest_competing_bid(bids), kth_highest_competing_bid(bids, 2)

    def payments(self, bids, allocation, competing):
        return allocation * self._competing(bids)[1]

    def smoothed_utility(self, values, bids, beta):
        highest, price = self._competing(bids.detach())
        return (values - price) * torch.sigmoid(beta * (bids - highest))

    def smoothed_bid_gradient(self, values, bids, beta):
        """∂ũ_i/∂b_i = (v_i − m_i^(2))·β·σ(1 − σ)."""
        highest, price = self._competing(bids)
        p = torch.sigmoid(beta * (bids - highest))
        return (values - price) * beta * p * (1.0 - p)

    def interim_utility(self, values, bids, competing):
        raise NotImplementedError(
            "third_price: the interim utility needs the joint law of the two highest competing "
            "bids, which the competing-bid descriptions (cdf, partial_mean) do not carry")


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

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        if type(self).smoothed_bid_gradient is not AllPay.smoothed_bid_gradient:
            # a subclass changed the derivative: the fused code below no longer applies
            return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)
        # E[v(∂ũ/∂b)] = E[v(vβp(1 − p) − 1)] = β·E[v²p(1 − p)] − E[v]
        _, mean_v2s, beta = _linear_win_moments(values, weights, beta, bids, scratch)
        return mean_v2s.mul_(beta).sub_(values.mean(dim=1))

    def interim_utility(self, values, bids, competing):
        return values * competing.cdf(bids) - bids
