"""Closed-form Bayes-Nash equilibria of the single-item auctions (Krishna 2009, ch. 2–3).

The table covers the symmetric uniform case; the second half of the module adds asymmetric
uniform bidders (Plum 1992), CRRA bidders, general iid priors (integral formulas) and
:func:`known_bne`, which returns every agent's BNE bid function for a setting, or None.

Values are iid U[low, high] with low = 0 unless stated; n is the number of bidders.

========================  ============================  ==========================
mechanism                 BNE bid b*(v)                 bidder utility u*
========================  ============================  ==========================
first price, U[0, h]      (n−1)/n · v                   h / (n(n+1))
second price (= VCG)      v (truthful, dominant)        h / (n(n+1))
all-pay, U[0, 1]          (n−1)/n · vⁿ                  1 / (n(n+1))
third price, U[0, h]      (n−1)/(n−2) · v, n ≥ 3        h / (n(n+1))
========================  ============================  ==========================

Second price: Vickrey (1961). Revenue equivalence (Myerson 1981; Riley & Samuelson 1981): every
row has expected revenue h·(n−1)/(n+1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffauction.game.priors import UniformPrior


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
    if mechanism == "third_price":
        return third_price_coefficient(n_agents)
    return None


def third_price_coefficient(n_agents: int) -> float:
    """Slope (n−1)/(n−2) of the third-price BNE on U[0, h], n ≥ 3: b*(v) = v + F(v)/((n−2)f(v))
    (Kagel & Levin 1993), which over-bids the value."""
    if n_agents < 3:
        raise ValueError(f"n_agents: third_price needs at least 3 bidders, got {n_agents}; "
                         "allowed: n_agents >= 3")
    return (n_agents - 1) / (n_agents - 2)


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
    if mechanism == "third_price":
        # b(v) = v + F(v)/((n−2)f(v)) = v + (v − low)/(n − 2) for a uniform prior
        return values + (values - prior.low) * (third_price_coefficient(n) - 1.0)
    raise ValueError(
        f"no closed-form BNE known for mechanism={mechanism!r} with prior {prior}"
    )


def bne_utility(mechanism: str, n_agents: int, prior: UniformPrior) -> float:
    """Ex-ante expected utility of one bidder when everybody plays the BNE."""
    _check(n_agents)
    if mechanism == "third_price":
        third_price_coefficient(n_agents)  # n ≥ 3
    if prior.low != 0.0 or mechanism not in ("first_price", "second_price", "all_pay",
                                             "third_price"):
        raise ValueError(f"no closed-form BNE utility for {mechanism!r} with prior {prior}")
    return prior.high / (n_agents * (n_agents + 1))


def bne_revenue(mechanism: str, n_agents: int, prior: UniformPrior) -> float:
    """Expected seller revenue at the BNE: h·(n−1)/(n+1) for all three (revenue equivalence)."""
    bne_utility(mechanism, n_agents, prior)  # same support check
    return prior.high * (n_agents - 1) / (n_agents + 1)


# --- settings beyond the symmetric uniform case ------------------------------------------------
#
# first price, CRRA u(x) = x^ρ, U[0, h]    b*(v) = (n−1)/(n−1+ρ) · v
#     (Riley & Samuelson 1981; Maskin & Riley 1984; Krishna 2009, ch. 4)
# first price, any iid prior F              b*(v) = v − ∫_low^v F^{n−1} / F(v)^{n−1}
# all-pay, any iid prior F                  b*(v) = v·F(v)^{n−1} − ∫_low^v F^{n−1} = ∫ x dF^{n−1}(x)
#     (both integral formulas: Krishna 2009, ch. 2–3)
# first price, weak U[0, a] vs strong U[0, b], a < b (Plum 1992), c = 1/a² − 1/b²:
#     weak  b₁(v) = v / (1 + √(1 − c v²)),  inverse φ₁(β) = 2β / (1 + c β²)
#     strong b₂(v) = v / (1 + √(1 + c v²)), inverse φ₂(β) = 2β / (1 − c β²)
#     both bid at most ab/(a + b)
# second price (any independent priors, any ρ): truthful, a dominant strategy (Vickrey 1961)

BNE_TABLE_NODES = 1 << 14


def interpolate(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing, 1-D); constant outside."""
    xp = xp.to(x.dtype) if x.is_floating_point() else xp
    fp = fp.to(xp.dtype)
    flat = x.reshape(-1).contiguous()
    idx = torch.searchsorted(xp, flat).clamp(1, xp.numel() - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    f0, f1 = fp[idx - 1], fp[idx]
    t = ((flat - x0) / (x1 - x0)).clamp(0.0, 1.0)
    return (f0 + (f1 - f0) * t).reshape(x.shape)


def crra_coefficient(n_agents: int, risk_aversion: float) -> float:
    """Slope of the first-price BNE with CRRA utility x^ρ on U[0, h]: (n−1)/(n−1+ρ)."""
    _check(n_agents)
    if not 0.0 < risk_aversion <= 1.0:
        raise ValueError(f"risk_aversion must lie in (0, 1], got {risk_aversion}")
    return (n_agents - 1) / (n_agents - 1 + risk_aversion)


def crra_utility(n_agents: int, risk_aversion: float, high: float = 1.0) -> float:
    """Ex-ante BNE utility of a CRRA bidder on U[0, h]: E[((1−k)v)^ρ (v/h)^{n−1}]
    = h^ρ (ρ/(n−1+ρ))^ρ / (n+ρ), with k the BNE slope."""
    k = crra_coefficient(n_agents, risk_aversion)
    return high**risk_aversion * (1 - k) ** risk_aversion / (n_agents + risk_aversion)


def plum_constant(weak_high: float, strong_high: float) -> float:
    """c = 1/a² − 1/b² of Plum's two-bidder equilibrium (a the weak, b the strong upper bound)."""
    if not 0.0 < weak_high < strong_high:
        raise ValueError(f"Plum's equilibrium needs 0 < a < b, got a={weak_high}, b={strong_high}")
    return 1.0 / weak_high**2 - 1.0 / strong_high**2


def plum_bid(values: torch.Tensor, weak_high: float, strong_high: float, weak: bool
             ) -> torch.Tensor:
    """Plum's BNE bid of the weak (U[0, a]) or strong (U[0, b]) bidder."""
    c = plum_constant(weak_high, strong_high)
    sign = -1.0 if weak else 1.0
    return values / (1.0 + torch.sqrt(1.0 + sign * c * values**2))


def plum_inverse_bid(bids: torch.Tensor, weak_high: float, strong_high: float, weak: bool
                     ) -> torch.Tensor:
    """φ(β), the value that bids β in Plum's equilibrium: 2β/(1 ± cβ²) (+ weak, − strong)."""
    c = plum_constant(weak_high, strong_high)
    sign = 1.0 if weak else -1.0
    return 2.0 * bids / (1.0 + sign * c * bids**2)


def plum_max_bid(weak_high: float, strong_high: float) -> float:
    """The common top bid ab/(a + b) of both bidders."""
    plum_constant(weak_high, strong_high)
    return weak_high * strong_high / (weak_high + strong_high)


def _power_cdf_integral(prior, n_agents: int, nodes: int):
    """Grid v on [low, high], F(v)^{n−1} and ∫_low^v F^{n−1} (trapezoid), float64.

    The grid v = low + (high − low)·s², s uniform, is dense near ``low``, where F^{n−1} is flat
    and the ratio ∫F^{n−1}/F^{n−1} would inherit the first cells' relative trapezoid error.
    """
    s = torch.linspace(0.0, 1.0, nodes + 1, dtype=torch.float64)
    v = prior.low + (prior.high - prior.low) * s * s
    g = prior.cdf(v) ** (n_agents - 1)
    integral = torch.cat([g.new_zeros(1), torch.cumulative_trapezoid(g, v)])
    return v, g, integral


def first_price_bne_table(prior, n_agents: int, nodes: int = BNE_TABLE_NODES):
    """(v, b*(v)) on a grid: b* = v − ∫_low^v F^{n−1} / F(v)^{n−1}, b*(low) = low."""
    _check(n_agents)
    v, g, integral = _power_cdf_integral(prior, n_agents, nodes)
    positive = g > 1e-300
    shade = torch.where(positive, integral / torch.where(positive, g, 1.0), 0.0)
    return v, v - shade


def all_pay_bne_table(prior, n_agents: int, nodes: int = BNE_TABLE_NODES):
    """(v, b*(v)) on a grid: b* = v·F(v)^{n−1} − ∫_low^v F^{n−1}."""
    _check(n_agents)
    v, g, integral = _power_cdf_integral(prior, n_agents, nodes)
    return v, v * g - integral


def _tabulated(table):
    v, b = table
    return lambda values: interpolate(values, v.to(values.dtype), b.to(values.dtype))


@dataclass(frozen=True)
class KnownBNE:
    """An equilibrium the code knows: one bid function per agent and a LaTeX formula; ``slope``
    is w* when every agent's BNE is the linear bid w*·v (set by
    :func:`diffauction.equilibria.registry.known_bne`), else None."""

    kind: str
    formula: str
    bid_functions: tuple
    slope: float | None = None

    def bid(self, agent: int, values: torch.Tensor) -> torch.Tensor:
        return self.bid_functions[agent](values)


def _uniform_from_zero(prior) -> bool:
    return isinstance(prior, UniformPrior) and prior.low == 0.0


def known_bne(mechanism: str, priors, risk_aversion: float = 1.0) -> KnownBNE | None:
    """The BNE of (mechanism, per-agent priors, CRRA ρ) when the code knows it, else None.

    ``priors`` is a sequence with one prior per agent (e.g. :class:`~diffauction.game.priors.
    AgentPriors`). Known: second price (truthful, any priors and ρ); first price with identical
    U[0, h] priors and ρ ∈ (0, 1] (closed form); first price or all-pay with identical priors of
    any kind and ρ = 1 (integral formulas, tabulated); first price with two uniform priors U[0, a],
    U[0, b], a ≠ b, and ρ = 1 (Plum).
    """
    priors = list(priors)
    n = len(priors)
    _check(n)
    rho = float(risk_aversion)
    symmetric = all(p == priors[0] for p in priors)
    first = priors[0]
    if mechanism == "second_price":
        return KnownBNE("truthful", r"$b(v)=v$", tuple(lambda x: x.clone() for _ in priors))
    if mechanism == "first_price" and symmetric and _uniform_from_zero(first):
        k = crra_coefficient(n, rho)
        kind = "uniform" if rho == 1.0 else "crra"
        formula = r"$\tfrac{N-1}{N}\,v$" if rho == 1.0 else r"$\tfrac{N-1}{N-1+\rho}\,v$"
        return KnownBNE(kind, formula, tuple(lambda x: k * x for _ in priors))
    if mechanism == "third_price" and rho == 1.0 and symmetric and _uniform_from_zero(first) \
            and n >= 3:
        k = third_price_coefficient(n)
        return KnownBNE("third_price", r"$\tfrac{N-1}{N-2}\,v$",
                        tuple(lambda x: k * x for _ in priors))
    if rho != 1.0:
        return None
    if mechanism == "first_price" and symmetric:
        f = _tabulated(first_price_bne_table(first, n))
        return KnownBNE("first_price_integral",
                        r"$v-\int_0^v F^{N-1}/F(v)^{N-1}$", tuple(f for _ in priors))
    if mechanism == "all_pay" and symmetric:
        if _uniform_from_zero(first):
            h = first.high
            return KnownBNE("all_pay", r"$\tfrac{N-1}{N}\,v^N$",
                            tuple(lambda x: h * (n - 1) / n * (x / h) ** n for _ in priors))
        f = _tabulated(all_pay_bne_table(first, n))
        return KnownBNE("all_pay_integral", r"$vF(v)^{N-1}-\int_0^v F^{N-1}$",
                        tuple(f for _ in priors))
    if (mechanism == "first_price" and n == 2 and all(_uniform_from_zero(p) for p in priors)):
        a, b = sorted(p.high for p in priors)
        weak_agent = 0 if priors[0].high < priors[1].high else 1
        functions = tuple(
            (lambda x, w=(i == weak_agent): plum_bid(x, a, b, weak=w)) for i in range(2))
        return KnownBNE("plum", r"$v/(1+\sqrt{1\mp c v^2})$", functions)
    return None
