"""Risk-averse bidders: constant relative risk aversion (CRRA) in the first-price auction.

A bidder with CRRA utility u(x) = x^ρ, 0 < ρ ≤ 1, values the winner's surplus x = v − b by u(x)
and losing by u(0) = 0 (Maskin & Riley 1984; ρ = 1 is risk neutral). For x < 0 (a bid above the
value, never optimal) the odd extension u(x) = −|x|^ρ keeps the utility defined and decreasing
in the bid. The mechanism (allocation, payments) is the plain first price; only the bidder's utility
changes, so this class wraps :class:`~diffauction.game.mechanisms.FirstPrice`:

* smoothed  ũ_i = u(v_i − b_i)·σ(β(b_i − m_i)), opponents detached as in the risk-neutral game;
* ∂ũ_i/∂b_i = −u'(v_i − b_i)·σ + u(v_i − b_i)·β·σ(1 − σ) (the analytic fast path);
* hard ex-interim utility u(v − b)·P(m < b).

ρ may be a float or a tensor broadcastable to the bids ([runs, 1, 1]: one ρ per run).
"""

from __future__ import annotations

import torch

from diffauction.game.mechanisms import FirstPrice, Mechanism, smoothed_win_probability

#: |x| is floored here before x^ρ: u'(0) = ∞ for ρ < 1 would give inf·0 = NaN gradients
SURPLUS_FLOOR = 1e-12


def crra(x: torch.Tensor, rho) -> torch.Tensor:
    """u(x) = sign(x)·|x|^ρ (|x| floored at SURPLUS_FLOOR)."""
    return torch.sign(x) * x.abs().clamp_min(SURPLUS_FLOOR) ** rho


def crra_derivative(x: torch.Tensor, rho) -> torch.Tensor:
    """u'(x) = ρ·|x|^(ρ−1) (|x| floored at SURPLUS_FLOOR)."""
    return rho * x.abs().clamp_min(SURPLUS_FLOOR) ** (rho - 1.0)


class RiskAverseFirstPrice(FirstPrice):
    """First price with CRRA bidders; ``name`` stays ``first_price`` (same auction rule)."""

    def __init__(self, risk_aversion):
        rho = risk_aversion
        values = rho.reshape(-1).tolist() if isinstance(rho, torch.Tensor) else [float(rho)]
        if not all(0.0 < r <= 1.0 for r in values):
            raise ValueError(f"risk_aversion: ρ must lie in (0, 1], got {values}")
        self.risk_aversion = rho

    def hard_utility(self, values, bids, generator=None):
        allocation, _ = self.hard_outcome(bids, generator)
        return allocation * crra(values - bids, self.risk_aversion)

    def smoothed_utility(self, values, bids, beta):
        return crra(values - bids, self.risk_aversion) * smoothed_win_probability(bids, beta)

    def smoothed_bid_gradient(self, values, bids, beta):
        p = smoothed_win_probability(bids, beta)
        surplus = values - bids
        return (crra(surplus, self.risk_aversion) * beta * p * (1.0 - p)
                - crra_derivative(surplus, self.risk_aversion) * p)

    def linear_bid_gradient_(self, values, weights, beta, bids, scratch):
        # FirstPrice's fused version is the risk-neutral derivative: take the readable chain rule
        return Mechanism.linear_bid_gradient_(self, values, weights, beta, bids, scratch)

    def interim_utility(self, values, bids, competing):
        return crra(values - bids, self.risk_aversion) * competing.cdf(bids)


def make_risk_averse(mechanism: str, risk_aversion) -> RiskAverseFirstPrice:
    """The CRRA version of ``mechanism``; only first price is supported."""
    if mechanism != "first_price":
        raise ValueError(f"risk_aversion: CRRA bidders are supported for first_price only, got "
                         f"mechanism {mechanism!r}")
    return RiskAverseFirstPrice(risk_aversion)
