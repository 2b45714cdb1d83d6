"""Theory of the k-unit auction with unit demand (Krishna 2009, ch. 12–13; Vickrey 1961): n
bidders with iid values on U[0, h], k < n identical units, each bidder wants one.

A bidder with value y wins against n−1 opponents who bid a common increasing b(·) iff fewer than
k of them have a higher value, with probability

    G(y) = Σ_{j<k} C(n−1, j) · y^{n−1−j} · (1 − y)^j        (y on U[0, 1]; G = y^{n−1} for k = 1).

=================  ==========================================  =================================
format             BNE bid b*(v) on U[0, 1]                     note
=================  ==========================================  =================================
pay as bid         v − ∫₀ᵛ G(y) dy / G(v)                       non-linear for k ≥ 2; n=3, k=2:
                                                                (v − 2v²/3)/(2 − v)
uniform price      v (truthful, dominant: it is VCG here)
=================  ==========================================  =================================

Both earn k(n−k)/(n+1)·h in expectation (revenue equivalence) and allocate efficiently, so the
welfare is the expected sum of the k highest values, h·Σ_{j=1..k} (n+1−j)/(n+1). On U[0, h] every
bid scales: b_h(v) = h·b_1(v/h).

The trainer's linear policy b = w·v cannot represent the pay-as-bid BNE for k ≥ 2. The game it
does play, restricted to linear bids, has the symmetric equilibrium
:func:`linear_restricted_slope`; that is the target a linear learner can reach.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.polynomial import Polynomial

FORMATS = ("pay_as_bid", "uniform_price")
#: the BNE's formula on U[0, 1], LaTeX
FORMULAS = {"pay_as_bid": r"$v-\int_0^v G/G(v)$", "uniform_price": r"$b(v)=v$"}


def check_units(n: int, k: int) -> None:
    """ValueError unless 2 ≤ n and 1 ≤ k < n."""
    if n < 2:
        raise ValueError(f"n_agents must be at least 2, got {n}")
    if not 1 <= k < n:
        raise ValueError(f"units: k must satisfy 1 <= k < N, got k={k} with N={n}")


def win_probability_polynomial(n: int, k: int) -> Polynomial:
    """G(y) = P(fewer than k of n−1 iid U[0,1] opponents exceed y), as a polynomial in y."""
    check_units(n, k)
    y = Polynomial([0.0, 1.0])
    return sum((math.comb(n - 1, j) * y ** (n - 1 - j) * (1 - y) ** j for j in range(k)),
               Polynomial([0.0]))


def _horner(poly: Polynomial, x: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(x)
    for c in poly.coef[::-1]:
        out = out * x + float(c)
    return out


def pay_as_bid_bne(values: torch.Tensor, n: int, k: int, high: float = 1.0) -> torch.Tensor:
    """b*(v) = v − ∫₀ᵛ G / G(v) on U[0, high] (scaled from U[0, 1]).

    Near v = 0, G(y) ≈ C(n−1, k−1)·y^{n−k}, so b*(v) → (n−k)/(n−k+1)·v; below v = 1e-6 that
    limit replaces the 0/0 ratio.
    """
    check_units(n, k)
    g = win_probability_polynomial(n, k)
    big_g = g.integ()
    u = (values / high).to(torch.float64)
    safe = u.clamp_min(1e-6)
    ratio = _horner(big_g, safe) / _horner(g, safe)
    slope0 = (n - k) / (n - k + 1)
    bid = torch.where(u > 1e-6, u - ratio, slope0 * u)
    return (high * bid).to(values.dtype)


def bne_revenue(n: int, k: int, high: float = 1.0) -> float:
    """Expected revenue at the BNE of either format: h·k(n−k)/(n+1)."""
    check_units(n, k)
    return high * k * (n - k) / (n + 1)


def efficient_welfare(n: int, k: int, high: float = 1.0) -> float:
    """E[sum of the k highest of n iid U[0, h] values] = h·Σ_{j=1..k} (n+1−j)/(n+1)."""
    check_units(n, k)
    return high * sum(n + 1 - j for j in range(1, k + 1)) / (n + 1)


def bne_utility(n: int, k: int, high: float = 1.0) -> float:
    """One bidder's ex-ante utility at the (efficient, symmetric) BNE: (welfare − revenue)/n."""
    return (efficient_welfare(n, k, high) - bne_revenue(n, k, high)) / n


def linear_restricted_slope(mechanism: str, n: int, k: int) -> float | None:
    """The symmetric equilibrium w of the game in which every bidder bids w·v, on U[0, 1].

    Pay as bid: against opponents bidding w·v, bidding r·w·v (r ≤ 1) earns
    (1 − rw)·H(r) with H(r) = ∫₀¹ v·G(r v) dv = Σ_m g_m r^m/(m+2) for G = Σ_m g_m y^m. The
    first-order condition at r = 1 gives w = H'(1)/(H(1) + H'(1)): (n−1)/n for k = 1 (the BNE),
    2/7 for n = 3, k = 2. (That it is a global best response is tested.) Uniform price: 1
    (truthful is dominant). All-pay and the others: None.
    """
    if mechanism == "uniform_price":
        check_units(n, k)
        return 1.0
    if mechanism != "pay_as_bid":
        return None
    g = win_probability_polynomial(n, k).coef
    h1 = sum(c / (m + 2) for m, c in enumerate(g))
    dh1 = sum(m * c / (m + 2) for m, c in enumerate(g))
    return float(dh1 / (h1 + dh1))


def linear_restricted_utility(w_own: float, w_others: float, n: int, k: int) -> float:
    """Ex-ante pay-as-bid utility of bidding w_own·v against n−1 opponents bidding w_others·v."""
    g = win_probability_polynomial(n, k)
    r = w_own / w_others
    v = (np.arange(20000) + 0.5) / 20000
    win = g(np.minimum(1.0, r * v))
    return float(np.mean((1.0 - w_own) * v * win))


def best_linear_fit(mechanism: str, n: int, k: int, nodes: int = 4096) -> float:
    """argmin_w E[(w·v − b*(v))²] = E[v·b*(v)]/E[v²] on U[0, 1] (midpoint rule)."""
    v = (torch.arange(nodes, dtype=torch.float64) + 0.5) / nodes
    if mechanism not in FORMATS:
        raise ValueError(f"mechanism: not a k-unit format: {mechanism!r}; allowed: {list(FORMATS)}")
    b = pay_as_bid_bne(v, n, k) if mechanism == "pay_as_bid" else v.clone()
    return float((v * b).mean() / (v * v).mean())
