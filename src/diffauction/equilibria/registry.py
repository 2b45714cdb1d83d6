"""One lookup for every Bayes-Nash equilibrium the code knows (Krishna 2009; Plum 1992;
Ausubel & Baranov 2020).

:func:`known_bne` answers for a setting — mechanism, one prior per agent, CRRA ρ and, for the
k-unit auctions, the number of units — with one :class:`KnownBNE` (a bid function per agent,
the formula, the slope w* where the BNE is linear) or None:

* single item (first price, second price, all-pay, ...): :mod:`.closed_form`;
* k units with unit demand (pay as bid, uniform price) on U[0, h]: :mod:`.multiunit`;
* LLG (VCG, nearest-VCG): :mod:`.llg`, the locals' affine BNE; the global bids its value.

:func:`bne_bid` is the same lookup for a symmetric setting given by (N, one prior): b*(v) of a
learning bidder, or ValueError. The single-item symmetric-uniform bids come from the closed-form
table :func:`.closed_form.bne_bid` (v − (v − low)/N for first price), as the experiments
compare against them.
"""

from __future__ import annotations

import dataclasses

import torch

from diffauction.equilibria import closed_form, multiunit
from diffauction.equilibria.closed_form import KnownBNE
from diffauction.equilibria.llg import bne_params
from diffauction.game.mechanisms import LLG_MECHANISMS, MULTI_UNIT
from diffauction.game.priors import UniformPrior

__all__ = ["KnownBNE", "bne_bid", "bne_function", "known_bne", "linear_coefficient"]


def _uniform_from_zero(prior) -> bool:
    return isinstance(prior, UniformPrior) and prior.low == 0.0


def _llg_bid(mechanism: str):
    a, w = bne_params(mechanism)
    return lambda values: (a + w * values).clamp_min(0.0)


def _multi_unit_bid(mechanism: str, n: int, k: int, high: float):
    if mechanism == "pay_as_bid":
        return lambda values: multiunit.pay_as_bid_bne(values, n, k, high)
    return lambda values: values.clone()


def bne_function(mechanism: str, n_agents: int, prior, units: int | None = None):
    """b*(·) of a learning bidder in the symmetric setting (N bidders, values ~ ``prior``; LLG:
    the locals, whatever ``prior``); raises ValueError where no BNE is known."""
    if mechanism in LLG_MECHANISMS:
        return _llg_bid(mechanism)
    if mechanism in MULTI_UNIT:
        if not _uniform_from_zero(prior):
            raise ValueError(f"no closed-form BNE known for {mechanism!r} with prior {prior}")
        multiunit.check_units(n_agents, units or 1)
        return _multi_unit_bid(mechanism, n_agents, units or 1, float(prior.high))
    return lambda values: closed_form.bne_bid(mechanism, n_agents, prior, values)


def bne_bid(mechanism: str, n_agents: int, prior, values: torch.Tensor,
            units: int | None = None) -> torch.Tensor:
    """b*(v) of a learning bidder in the symmetric setting (see :func:`bne_function`)."""
    return bne_function(mechanism, n_agents, prior, units)(values)


def linear_coefficient(mechanism: str, n_agents: int, prior, risk_aversion: float = 1.0,
                       units: int | None = None) -> float | None:
    """w* of a linear BNE b*(v) = w*·v in the symmetric setting, or None."""
    if mechanism in LLG_MECHANISMS:
        a, w = bne_params(mechanism)
        return w if a == 0.0 else None
    if mechanism in MULTI_UNIT:
        if risk_aversion != 1.0 or not _uniform_from_zero(prior):
            return None
        if mechanism == "uniform_price":
            return 1.0
        return (n_agents - 1) / n_agents if (units or 1) == 1 else None
    if risk_aversion != 1.0:
        crra = mechanism == "first_price" and _uniform_from_zero(prior)
        return closed_form.crra_coefficient(n_agents, risk_aversion) if crra else None
    return closed_form.bne_linear_coefficient(mechanism, n_agents, prior)


def _symmetric(mechanism: str, priors: list, formula: str, units: int | None) -> KnownBNE:
    bid = bne_function(mechanism, len(priors), priors[0], units)
    kind = "truthful" if mechanism == "uniform_price" else mechanism
    return KnownBNE(kind, formula, tuple(bid for _ in priors))


def _llg(mechanism: str, priors: list) -> KnownBNE | None:
    if len(priors) != 3:
        return None
    local = _llg_bid(mechanism)
    formula = r"$v$" if mechanism == "llg_vcg" else r"$\max(0, v-(3-\sqrt{8}))$"
    return KnownBNE(mechanism, formula, (local, local, lambda x: x.clone()))


def known_bne(mechanism: str, priors, risk_aversion: float = 1.0,
              units: int | None = None) -> KnownBNE | None:
    """The BNE of (mechanism, one prior per agent, CRRA ρ[, units k]) when the code knows it,
    else None. k-unit formats need ``units`` (without it: None) and identical U[0, h] priors,
    ρ = 1; LLG needs three agents (the global's prior is not checked)."""
    priors = list(priors)
    if mechanism in LLG_MECHANISMS:
        found = _llg(mechanism, priors)
    elif mechanism in MULTI_UNIT:
        symmetric = all(p == priors[0] for p in priors)
        usable = units is not None and risk_aversion == 1.0 and symmetric
        found = (_symmetric(mechanism, priors, multiunit.FORMULAS[mechanism], units)
                 if usable and _uniform_from_zero(priors[0]) else None)
    else:
        found = closed_form.known_bne(mechanism, priors, risk_aversion)
    if found is None:
        return None
    symmetric = all(p == priors[0] for p in priors)
    slope = (linear_coefficient(mechanism, len(priors), priors[0], risk_aversion, units)
             if symmetric or mechanism in LLG_MECHANISMS else None)
    return dataclasses.replace(found, slope=slope)
