r"""Linear smoothed equilibria of every single-item and k-unit format, by deterministic quadrature.

The smoothed games are exactly those the trainer ascends (:mod:`diffauction.game.single_item`,
:mod:`diffauction.game.multi_unit`): only the win indicator is replaced by σ(β(b_i − m_i)), where
m_i is the competing bid that decides the win (the highest competing bid; the k-th highest for k
units); the price stays exact. ``N`` bidders with values U[0, 1] bid linearly, agent i ``w_i v``
and its opponents ``w v``. Since opponents bid one common slope, the competing bid is ``w Z``
with Z the k-th highest of the N − 1 opponents' values, of density
f(z) = (N−1)!/((k−1)!(N−1−k)!)·z^{N−1−k}(1−z)^{k−1} (k = 1: the highest). With
x = β(w_i v − w Z), σ = σ(x) and σ' its derivative, agent i's smoothed utility and its derivative
in w_i (``E[v·∂ũ/∂b]``, the gradient the trainer follows) are

============== ================================ ===========================================
format         ũ_i                              ∂ũ_i/∂w_i
============== ================================ ===========================================
first price,   (1 − w_i) v σ                    v(−σ + (1 − w_i) v β σ')
pay as bid
first price,   ((1 − w_i) v)^ρ σ                v^ρ(−ρ(1 − w_i)^(ρ−1) σ + (1 − w_i)^ρ v β σ')
CRRA u = x^ρ
second price,  (v − w Z) σ                      v (v − w Z) β σ'
uniform price
third price    (v − w c Z) σ                    v (v − w c Z) β σ'
all-pay        v σ − w_i v                      v (v β σ' − 1)
============== ================================ ===========================================

Third price (N ≥ 3) pays the second-highest competing value Y₂ times w; ũ is linear in Y₂ and
E[Y₂ | Y₁ = z] = c z with c = (N − 2)/(N − 1) (Y₂ is the highest of N − 2 values uniform on
[0, z]), so the price w Y₂ may be replaced by w c Z with Z = Y₁. CRRA bidders (u(x) = x^ρ,
0 < ρ ≤ 1, :mod:`diffauction.game.risk`) are modelled for first price, where the surplus
(1 − w_i) v factors out of u. Every expectation is then
∫₀¹ dv ∫₀¹ dz f(z) v^a z^b K(x) with K ∈ {σ, βσ'}, a, b ∈ {0, 1, 2}, and it is computed by the
layer-clustered composite Gauss–Legendre rule of :mod:`.smoothed` (panels clustered around the
logistic layer z = w_i v / w in the inner integral and around v = 0 and v = w / w_i in the
outer), vectorised over any array of slopes. :mod:`.smoothing_bias` gives the β → ∞ expansion of
the fixed points; tests check both against each other and against Monte-Carlo gradients of the
game layer's mechanisms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from diffauction.equilibria.smoothed import _LAYER_OFFSETS, _clustered_breaks, _composite_rule

FORMATS = ("first_price", "second_price", "third_price", "all_pay", "pay_as_bid",
           "uniform_price")
MULTI_UNIT_FORMATS = ("pay_as_bid", "uniform_price")
#: formats whose price does not depend on the own bid (the own bid only decides the win)
TRUTHFUL_LIKE = ("second_price", "third_price", "uniform_price")
DEFAULT_NODES = 10
#: panels halving towards v = 0 in the outer rule of CRRA bidders (v^ρ is not smooth there)
GRADED_PANELS = 30


@dataclass(frozen=True)
class LinearGame:
    """A symmetric smoothed auction on U[0, 1] in the linear class: format, N, k units and the
    bidders' CRRA coefficient ρ (u(x) = x^ρ; 1 risk neutral, first price only otherwise)."""

    mechanism: str
    n_agents: int
    units: int = 1
    risk_aversion: float = 1.0

    def __post_init__(self) -> None:
        if self.mechanism not in FORMATS:
            raise ValueError(f"mechanism: {self.mechanism!r} has no linear smoothed theory; "
                             f"allowed: {list(FORMATS)}")
        check_agents_and_units(self.mechanism, self.n_agents, self.units)
        if not 0.0 < self.risk_aversion <= 1.0:
            raise ValueError(f"risk_aversion: rho must lie in (0, 1], got {self.risk_aversion}")
        if self.risk_aversion != 1.0 and self.mechanism != "first_price":
            raise ValueError(f"risk_aversion: CRRA bidders are modelled for first_price only, "
                             f"got {self.mechanism!r}")

    @property
    def price_factor(self) -> float:
        """c in the price w·c·Z of the formats whose price is a competing bid (else 0)."""
        if self.mechanism == "third_price":
            return (self.n_agents - 2) / (self.n_agents - 1)
        return 1.0 if self.mechanism in TRUTHFUL_LIKE else 0.0

    def density(self, z: np.ndarray) -> np.ndarray:
        """Density of Z, the k-th highest of N − 1 iid U[0, 1] values (Beta(N − k, k))."""
        others, k = self.n_agents - 1, self.units
        coef = math.factorial(others) / (math.factorial(k - 1) * math.factorial(others - k))
        return coef * _power(z, others - k) * _power(1.0 - z, k - 1)

    def second_moment(self) -> float:
        """E[Z²] = (N − k)(N − k + 1)/(N(N + 1))."""
        n, k = self.n_agents, self.units
        return (n - k) * (n - k + 1) / (n * (n + 1))


def check_agents_and_units(mechanism: str, n, k) -> None:
    """ValueError naming the key unless N ≥ 2 is an integer (≥ 3 for third price) and k fits
    the format (1 ≤ k < N for the k-unit formats, k = 1 otherwise)."""
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n_agents: an integer >= 2 is needed, got {n!r}")
    if mechanism == "third_price" and n < 3:
        raise ValueError(f"n_agents: third_price needs at least 3 bidders, got {n}")
    if mechanism in MULTI_UNIT_FORMATS:
        if not 1 <= k < n:
            raise ValueError(f"units: k must satisfy 1 <= k < N, got k={k} with N={n}")
    elif k != 1:
        raise ValueError(f"units: {mechanism} sells one item, got units={k}")


def _power(x: np.ndarray, p: int) -> np.ndarray:
    """x**p for a small integer p ≥ 0 by repeated multiplication (numpy's float power is
    ~20 times slower on large arrays)."""
    out = np.ones_like(x)
    for _ in range(p):
        out = out * x
    return out


def limit_slope(game: LinearGame) -> float:
    """The β → ∞ limit of the linear class: the hard game's symmetric linear stationary point.

    With m₂ = E[Z²]: own-bid payment (first price, pay as bid) 2m₂/(1 + m₂) — (N−1)/N for one
    item, the restricted slope of :func:`.multiunit.linear_restricted_slope` for k units;
    (N − 1)/(N − 1 + ρ) for CRRA bidders in first price (the BNE, Maskin & Riley 1984);
    second and uniform price 1; third price (N − 1)/(N − 2); all-pay 2m₂ = 2(N − 1)/(N + 1)
    (an equilibrium of the linear class only for N = 2; for N ≥ 3 the hard utility is convex
    in the own slope and this stationary point is a minimum).
    """
    m2 = game.second_moment()
    if game.risk_aversion != 1.0:
        return (game.n_agents - 1) / (game.n_agents - 1 + game.risk_aversion)
    if game.mechanism in ("first_price", "pay_as_bid"):
        return 2.0 * m2 / (1.0 + m2)
    if game.mechanism == "all_pay":
        return 2.0 * m2
    return 1.0 / game.price_factor


def _outer_rule(w_own: np.ndarray, w_others: np.ndarray, beta: float, nodes: int,
                graded: bool = False):
    """Composite Gauss–Legendre in v, panels clustered (width 1/(β w_own)) at v = 0 and at
    v = min(w_others/w_own, 1), where the inner integral has its layers; a fixed panel count
    per slope (clipped breaks make empty panels), so any array of slopes is one array program.
    ``graded``: panels halving towards v = 0 (:data:`GRADED_PANELS` of them), for the
    integrable singularity of v^ρ's derivatives there (CRRA bidders)."""
    width = 1.0 / (beta * np.maximum(np.abs(w_own), 1e-300))
    kink = np.minimum(w_others / np.maximum(w_own, 1e-300), 1.0)
    offsets = _LAYER_OFFSETS[_LAYER_OFFSETS >= 0]
    if graded:
        offsets = np.concatenate([np.exp2(-np.arange(1.0, GRADED_PANELS + 1)), offsets])
    near_zero = np.clip(width[..., None] * offsets, 0.0, 1.0)
    near_kink = np.clip(kink[..., None] + width[..., None] * _LAYER_OFFSETS, 0.0, 1.0)
    ends = np.zeros(w_own.shape + (1,))
    breaks = np.sort(np.concatenate([ends, near_zero, near_kink, ends + 1.0], axis=-1), axis=-1)
    return _composite_rule(breaks, nodes)


def _crra(x: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """(u(x), u'(x)) of CRRA utility with the game layer's odd extension
    (:func:`diffauction.game.risk.crra`): sign(x)|x|^ρ and ρ|x|^(ρ−1) (this module stays
    torch-free for the table jobs, so the game layer is not imported)."""
    size = np.abs(x)
    return np.sign(x) * size**rho, rho * size ** (rho - 1.0)


def moments(game: LinearGame, w_own, w_others, beta: float, nodes: int = DEFAULT_NODES
            ) -> dict[str, np.ndarray]:
    r"""The expectations every utility and gradient is built from, for arrays of slopes.

    ``s10 = E[v σ]``, ``s01 = E[Z σ]``, ``d20 = E[v² βσ']``, ``d11 = E[v Z βσ']`` with
    x = β(w_own v − w_others Z) (``w_own`` and ``w_others`` broadcast; every result has their
    broadcast shape); for CRRA bidders s10 and d20 carry v^ρ for v: E[v^ρ σ], E[v^(1+ρ) βσ'].
    """
    w_own, w_others = np.broadcast_arrays(np.asarray(w_own, float), np.asarray(w_others, float))
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite, got {beta!r}")
    if np.any(w_others <= 0) or np.any(w_own <= 0):
        raise ValueError("slopes must be positive")
    v, wv = _outer_rule(w_own, w_others, beta, nodes, game.risk_aversion != 1.0)  # [..., V]
    a = w_own[..., None] * v
    width = 1.0 / (beta * w_others)[..., None, None]
    y, wy = _composite_rule(_clustered_breaks(a / w_others[..., None], width), nodes)
    x = beta * (a[..., None] - w_others[..., None, None] * y)  # [..., V, Y]
    s = expit(x)
    ds = beta * s * expit(-x)
    wy = wy * game.density(y)
    wys = wy * y
    own = v if game.risk_aversion == 1.0 else v ** game.risk_aversion
    return {"s10": np.sum(wv * own * np.sum(wy * s, axis=-1), axis=-1),
            "s01": np.sum(wv * np.sum(wys * s, axis=-1), axis=-1),
            "d20": np.sum(wv * v * own * np.sum(wy * ds, axis=-1), axis=-1),
            "d11": np.sum(wv * v * np.sum(wys * ds, axis=-1), axis=-1)}


def utility(game: LinearGame, w_own, w_others, beta: float, nodes: int = DEFAULT_NODES
            ) -> np.ndarray:
    """Agent i's smoothed ex-ante utility Ũ(w_own; w_others) (module table), vectorised."""
    m = moments(game, w_own, w_others, beta, nodes)
    w_own = np.asarray(w_own, float)
    if game.risk_aversion != 1.0:
        return _crra(1.0 - w_own, game.risk_aversion)[0] * m["s10"]
    if game.mechanism in ("first_price", "pay_as_bid"):
        return (1.0 - w_own) * m["s10"]
    if game.mechanism == "all_pay":
        return m["s10"] - 0.5 * w_own
    return m["s10"] - np.asarray(w_others, float) * game.price_factor * m["s01"]


def gradient(game: LinearGame, w_own, w_others, beta: float, nodes: int = DEFAULT_NODES
             ) -> np.ndarray:
    """∂Ũ/∂w_own = E[v·∂ũ/∂b] at b = w_own·v (module table), vectorised over slopes."""
    m = moments(game, w_own, w_others, beta, nodes)
    w_own = np.asarray(w_own, float)
    if game.risk_aversion != 1.0:
        u, du = _crra(1.0 - w_own, game.risk_aversion)
        return -du * m["s10"] + u * m["d20"]
    if game.mechanism in ("first_price", "pay_as_bid"):
        return -m["s10"] + (1.0 - w_own) * m["d20"]
    if game.mechanism == "all_pay":
        return m["d20"] - 0.5
    return m["d20"] - np.asarray(w_others, float) * game.price_factor * m["d11"]


def symmetric_gradient(game: LinearGame, w, beta: float, nodes: int = DEFAULT_NODES
                       ) -> np.ndarray:
    """g(w) = ∂Ũ_i/∂w_i at w_i = w_others = w; its roots are the symmetric fixed points."""
    return gradient(game, w, w, beta, nodes)


def stationary_points(game: LinearGame, beta: float, *, nodes: int = DEFAULT_NODES,
                      scan: int = 24, tol: float = 1e-13) -> tuple[list[float], float]:
    """(every root of g on (0, 2.5·w_lim], the largest |g| on the scan): roots bracketed by a
    sign scan of ``scan`` slopes with a coarse rule (5 nodes per panel), then refined by Brent's
    method to ``tol`` with ``nodes``."""
    grid = limit_slope(game) * np.linspace(0.02, 2.5, scan)
    values = symmetric_gradient(game, grid, beta, 5)
    roots = []
    for i in np.nonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0]:
        lo, hi = grid[i], grid[i + 1]
        f = lambda w: float(symmetric_gradient(game, w, beta, nodes))  # noqa: E731
        if f(lo) * f(hi) > 0:  # the coarse rule's sign change was spurious
            continue
        roots.append(float(brentq(f, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps)))
    return roots, float(np.abs(values).max())


def classify(game: LinearGame, w: float, beta: float, nodes: int = 6,
             deviations: int = 24) -> str:
    """Whether the stationary point w is a symmetric equilibrium of the smoothed linear game:
    ``equilibrium`` (w is a best response to itself among own slopes in (0, 3w]), ``minimum``
    (the own utility is convex there: a saddle of the game that gradient ascent leaves), or
    ``local maximum, not a best response`` (a distant own slope does better)."""
    step = 1e-4 * w
    curvature = float(np.diff(gradient(game, np.array([w - step, w + step]), w, beta, nodes))[0])
    if curvature >= 0:
        return "minimum"
    own = utility(game, np.linspace(3.0 * w / deviations, 3.0 * w, deviations), w, beta, nodes)
    best = float(utility(game, w, w, beta, nodes))
    return "equilibrium" if own.max() <= best + 1e-9 * max(1.0, abs(best)) else \
        "local maximum, not a best response"
