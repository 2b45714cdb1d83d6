r"""The smoothing bias of the linear fixed points in 1/β, derived for every format.

Notation (:mod:`.smoothed_linear`): Z is the k-th highest of the N − 1 opponents' values, with
density f on [0, 1], f₁ = f(1⁻), f₁' = f'(1⁻), f₀ = f(0⁺) and m₂ = E[Z²]; L is a standard
logistic variable, E[L⁺] = ln 2, E[(L⁺)²] = π²/6, E[(L⁺)³] = μ₃ = (9/2)ζ(3). At a symmetric
profile with slope w the logistic layer σ(βw(v − z)) has the scale ε = 1/(βw), and
βσ'(βw(v − z)) = ρ_ε(v − z)/w with ρ_ε the logistic density of scale ε.

**Own-bid payment (first price, pay as bid).** g(w) = −A + (1 − w)/w·B with A = ∫₀¹ v F_ε(v) dv,
B = ∫₀¹ v² f_ε(v) dv, F_ε, f_ε the CDF and density of Z + εL; the root is w = B/(A + B). By parts
B = F_ε(1) − 2A. A Taylor expansion of F(1 − εL) gives F_ε(1) = 1 − f₁ ln2·ε + f₁'π²/12·ε²,
and the one-sided second derivatives of s ↦ ∫₀¹ v F(v − s) dv at 0 (f₁ − 1 for s > 0, −1 for
s < 0) give A = A₀ + α ε² with A₀ = (1 − m₂)/2, α = (π²/12)(f₁ − 2). With q = 1 − A₀ and
w_∞ = 2m₂/(1 + m₂):

    w_∞ − w̃ = d₁/β + d₂/β² + O(β⁻³),   d₁ = A₀ f₁ ln2 / (q² w_∞),
    d₂ = d₁²/w_∞ + [A₀ a₁²/q³ − A₀ (a₂ − α)/q² + α/q] / w_∞²,   a₁ = f₁ ln2, a₂ = f₁'π²/12.

One item: f₁ = N − 1 and d₁ = c(N) = (1 + 1/N) ln2 (:func:`.smoothed.gap_constant_theory`),
under-bidding. k ≥ 2 units: f₁ = 0 — the k-th highest competing value has no mass jump at the
top, the first-order term vanishes and the bias is O(β⁻²).

**Truthful (second price, uniform price).** g(w)·w = K − wM with K = ∬ v² ρ_ε(v − z) f(z),
M = ∬ v z ρ_ε(v − z) f(z), so w̃ = K/M. In D = K − M = ∬ v (v − z) ρ_ε(v − z) f(z) the
interior contributes ε²·E[L²] = ε²π²/3; the ends of [0, 1] cut the layer, giving

    D = ε² (π²/6)(2 − f₁) + ε³ (μ₃/2)(f₁' − f₁ − f₀) + O(ε⁴),   M = m₂ − f₁ ln2·ε + O(ε²),
    w̃ − 1 = e₂/β² + e₃/β³ + O(β⁻⁴),   e₂ = (π²/6)(2 − f₁)/m₂,
    e₃ = (μ₃/2)(f₁' − f₁ − f₀)/m₂ + (π²/6)(2 − f₁) f₁ ln2/m₂²

(ε = 1/β to this order since w̃ − 1 = O(β⁻²)). The bias is second order: the smoothed price
w·Z is exact, only the weighting of the marginal win changes. Its sign is that of 2 − f₁: over-
bidding for N = 2 and for k ≥ 2 units (f₁ = 0), under-bidding for N ≥ 4 at one item. For N = 3
it vanishes **exactly** at every β: v·f(z) = 2vz is symmetric, so the integrand of D is odd under
v ↔ z and D = 0.

**Third price.** E[Y₂ | Y₁ = z] = c z with c = (N − 2)/(N − 1), so g(w)·w = K − wcM and
w̃ = (K/M)/c. K/M depends on β and w only through ε = 1/(βw); hence the exact identity
w̃_third(β, N) = w̃_second(β/c, N)/c, and w̃ − w_∞ = c e₂/β² + c² e₃/β³ with the second-price
e₂, e₃: under-bidding (relative to the over-bidding BNE (N−1)/(N−2)) for N ≥ 4, none for N = 3.

**All-pay.** g(w) = B/w − 1/2, so w̃ = 2B(ε) with B = m₂ − f₁ ln2·ε + b₂ε²,
b₂ = f₁'π²/12 − (π²/6)(f₁ − 2), and w_∞ = 2m₂ (one item: 2(N − 1)/(N + 1)):

    w̃ − w_∞ = −2 f₁ ln2/(β w_∞) + [2b₂/w_∞² − 4 (f₁ ln2)²/w_∞³]/β² + O(β⁻³),

first order, under-bidding, constant −(N + 1) ln 2 for one item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import zeta

from diffauction.equilibria.smoothed_linear import LinearGame, limit_slope

LN2 = math.log(2.0)
PI2 = math.pi**2
#: E[(L⁺)³] for the standard logistic L: half of E|L|³ = 2·3!·η(3) = 9ζ(3)
MU3 = 4.5 * float(zeta(3.0))


@dataclass(frozen=True)
class BiasExpansion:
    """w̃(β) − w_∞ = leading/β^order + next/β^(order+1) + …; ``order`` 0 means the bias is
    exactly zero at every β."""

    order: int
    leading: float
    next: float


def density_ends(game: LinearGame) -> tuple[float, float, float]:
    """(f(1⁻), f'(1⁻), f(0⁺)) of the density of Z (Beta(N − k, k) on [0, 1])."""
    others, k = game.n_agents - 1, game.units
    coef = math.factorial(others) / (math.factorial(k - 1) * math.factorial(others - k))
    a, b = others - k, k - 1  # f = coef·z^a (1 − z)^b
    f1 = coef if b == 0 else 0.0
    df1 = coef * a if b == 0 else (-coef if b == 1 else 0.0)
    f0 = coef if a == 0 else 0.0
    return f1, df1, f0


def _payment_expansion(game: LinearGame) -> BiasExpansion:
    f1, df1, _ = density_ends(game)
    m2, w_inf = game.second_moment(), limit_slope(game)
    a0 = (1.0 - m2) / 2.0
    q = 1.0 - a0
    a1, a2, alpha = f1 * LN2, df1 * PI2 / 12.0, PI2 / 12.0 * (f1 - 2.0)
    d1 = a0 * a1 / (q * q * w_inf)
    d2 = d1 * d1 / w_inf + (a0 * a1**2 / q**3 - a0 * (a2 - alpha) / q**2 + alpha / q) / w_inf**2
    return BiasExpansion(1, -d1, -d2) if f1 > 0 else BiasExpansion(2, -d2, math.nan)


def _truthful_expansion(game: LinearGame) -> tuple[float, float]:
    """(e₂, e₃) of w̃ − 1 for the second-price-like format with the game's Z."""
    f1, df1, f0 = density_ends(game)
    m2 = game.second_moment()
    e2 = PI2 / 6.0 * (2.0 - f1) / m2
    e3 = MU3 / 2.0 * (df1 - f1 - f0) / m2 + PI2 / 6.0 * (2.0 - f1) * f1 * LN2 / m2**2
    return e2, e3


def bias_expansion(game: LinearGame) -> BiasExpansion:
    """The leading terms of w̃(β) − w_∞ in 1/β for ``game`` (module docstring); for CRRA
    bidders not derived (NaN: the quadrature's fixed points stand alone)."""
    if game.risk_aversion != 1.0:
        return BiasExpansion(1, math.nan, math.nan)
    mechanism = game.mechanism
    if mechanism in ("first_price", "pay_as_bid"):
        return _payment_expansion(game)
    if mechanism == "all_pay":
        f1, df1, _ = density_ends(game)
        w_inf = limit_slope(game)
        b2 = df1 * PI2 / 12.0 - PI2 / 6.0 * (f1 - 2.0)
        return BiasExpansion(1, -2.0 * f1 * LN2 / w_inf,
                             2.0 * b2 / w_inf**2 - 4.0 * (f1 * LN2) ** 2 / w_inf**3)
    e2, e3 = _truthful_expansion(game)
    c = game.price_factor
    if mechanism == "third_price":
        e2, e3 = c * e2, c * c * e3
    if e2 == 0.0 and e3 == 0.0 and game.n_agents == 3 and game.units == 1:
        return BiasExpansion(0, 0.0, 0.0)  # exact: the integrand of D is odd under v ↔ z
    return BiasExpansion(2, e2, e3) if e2 != 0.0 else BiasExpansion(3, e3, math.nan)


def predicted_bias(game: LinearGame, beta: float) -> float:
    """The two-term prediction of w̃(β) − w_∞ (NaN terms count as zero)."""
    e = bias_expansion(game)
    if e.order == 0:
        return 0.0
    nxt = 0.0 if math.isnan(e.next) else e.next
    return e.leading / beta**e.order + nxt / beta ** (e.order + 1)
