"""Closed-form Bayes-Nash equilibria of the symmetric single-item auctions (ANCHORS.md §1).

Values are iid U[low, high] with low = 0 unless stated; n is the number of bidders.

========================  ============================  ==========================
mechanism                 BNE bid b*(v)                 bidder utility u*
========================  ============================  ==========================
first price, U[0, h]      (n−1)/n · v                   h / (n(n+1))
second price (= VCG)      v (truthful, dominant)        h / (n(n+1))
all-pay, U[0, 1]          (n−1)/n · vⁿ                  1 / (n(n+1))
========================  ============================  ==========================

Revenue equivalence: every row has expected revenue h·(n−1)/(n+1).
"""

from __future__ import annotations

import torch

from .priors import UniformPrior


def _check(n_agents: int) -> None:
    if n_agents < 2:
        raise ValueError(f"n_agents must be at least 2, got {n_agents}")


def bne_linear_coefficient(mechanism: str, n_agents: int, prior: UniformPrior) -> float | None:
    """The slope w* of a linear BNE b*(v) = w*·v, or None if the equilibrium is not linear."""
    _check(n_agents)
    if prior.low != 0.0:
        return None
    if mechanism == "first_price":
        return (n_agents - 1) / n_agents
    if mechanism == "second_price":
        return 1.0
    return None


def bne_bid(mechanism: str, n_agents: int, prior: UniformPrior, values: torch.Tensor
            ) -> torch.Tensor:
    """b*(v) for the supported (mechanism, prior) pairs; raises ValueError otherwise."""
    _check(n_agents)
    n = n_agents
    if mechanism == "first_price":
        # b(v) = v − ∫_low^v F^{n−1} / F(v)^{n−1} = v − (v − low)/n for a uniform prior
        return values - (values - prior.low) / n
    if mechanism == "second_price":
        return values.clone()
    if mechanism == "all_pay" and prior.low == 0.0:
        scale = prior.high
        return scale * (n - 1) / n * (values / scale) ** n
    raise ValueError(
        f"no closed-form BNE known for mechanism={mechanism!r} with prior {prior}"
    )


def bne_utility(mechanism: str, n_agents: int, prior: UniformPrior) -> float:
    """Ex-ante expected utility of one bidder when everybody plays the BNE."""
    _check(n_agents)
    if prior.low != 0.0 or mechanism not in ("first_price", "second_price", "all_pay"):
        raise ValueError(f"no closed-form BNE utility for {mechanism!r} with prior {prior}")
    return prior.high / (n_agents * (n_agents + 1))


def bne_revenue(mechanism: str, n_agents: int, prior: UniformPrior) -> float:
    """Expected seller revenue at the BNE: h·(n−1)/(n+1) for all three (revenue equivalence)."""
    bne_utility(mechanism, n_agents, prior)  # same support check
    return prior.high * (n_agents - 1) / (n_agents + 1)
