r"""The smoothed LLG auction's equilibrium in the locals' affine class, by deterministic quadrature.

The game is the one the LLG learner ascends (:class:`~diffauction.game.llg.LLG`): two locals
(values U[0, 1]) bid b_i = max(0, a + w v_i), the global bidder bids its value t ~ U[0, T],
T = 2 (truthful, dominant under both rules), and each local's smoothed utility is
ũ_i = (v_i − p_i) σ(β(b_i + b_j − t)) with the exact price p_i of the rule. The gradient the
learner follows is E[∂ũ_i/∂b_i · 1{b_i > 0} · (1, v_i)] (the affine policy's ReLU passes no
gradient where it clamps), with

    ∂ũ_i/∂b_i = (v_i − p_i) β σ'(x) − σ(x) ∂p_i/∂b_i,   x = β(b_i + b_j − t).

Given the two locals' bids, both rules' prices are affine in t on the pieces between the
breakpoints 0, min(b_i, b_j), max(b_i, b_j), T (VCG: p_i = (t − b_j)⁺; nearest-VCG: t/2, then
b_i/2 or t − b_j/2, then (t + b_i − b_j)/2), and ∂p_i/∂b_i is constant on each. On a piece
where p = α + γ t the integral over t is exact in σ and the softplus sp(x) = ln(1 + eˣ):

    ∫ βσ'(x) dt = −σ(x),   ∫ t βσ'(x) dt = −s σ(x) + h(x)/β,   ∫ σ(x) dt = −sp(x)/β,

with s = b_i + b_j and h(x) = x σ(x) − sp(x) (even in x, so it is evaluated at −|x| without
cancellation). The prices and their slopes are read from the game layer's
:meth:`~diffauction.game.llg.LLG.local_prices` and
:meth:`~diffauction.game.llg.LLG.local_price_slopes` at the ends and middle of each piece, so a
new core-selecting rule needs no change here. The remaining integral over (v_i, v_j) ∈ [0, 1]²
is a composite Gauss–Legendre rule with panels clustered on the 1/(βw) scale around every place
the integrand bends: each bid's clamp (b = 0), the swap of the two bids' order (b_j = b_i, where
the pieces change) and the corner where b_i + b_j meets T.

The symmetric fixed point (ã, w̃) solves E[∂ũ_i/∂(a, w)] = 0 at own = others (scipy's hybrid
Powell from the BNE); a central-difference Hessian of the own utility in the own (a, w), the
others held fixed, tells whether it is a local maximum (a best response in the class near it),
not only a stationary point. Its β → ∞ limit is the BNE of :mod:`.llg` (:func:`.llg.bne_params`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import root
from scipy.special import expit

from diffauction.equilibria.llg import GLOBAL_HIGH, bne_params
from diffauction.equilibria.smoothed import _clustered_breaks, _composite_rule
from diffauction.game.mechanisms import LLG_MECHANISMS, make_mechanism

DEFAULT_NODES = 10
#: central-difference step of the Hessian check in (a, w)
HESSIAN_STEP = 1e-4
#: the fixed point is accepted where |E[∂ũ/∂(a, w)]| is below this
TOLERANCE = 1e-11


def _check(mechanism: str, beta: float) -> None:
    if mechanism not in LLG_MECHANISMS:
        raise ValueError(f"mechanism: {mechanism!r} is not an LLG rule; allowed: "
                         f"{list(LLG_MECHANISMS)}")
    if not beta > 0:
        raise ValueError(f"beta: must be positive, got {beta}")


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _h(x: np.ndarray) -> np.ndarray:
    """x σ(x) − sp(x), even in x: evaluated at y = −|x| where neither term is large."""
    y = -np.abs(x)
    return y * expit(y) - _softplus(y)


def _price_pieces(mechanism: str, own: np.ndarray, other: np.ndarray):
    """For each piece of t between 0, min(own, other), max(own, other), T: its ends (t1, t2),
    the own price's intercept and slope in t (α, γ) and its slope in the own bid."""
    rule = make_mechanism(mechanism)

    def tensors(t: np.ndarray) -> list[torch.Tensor]:
        return [torch.as_tensor(np.asarray(x, dtype=np.float64)) for x in (own, other, t)]

    def price(t: np.ndarray) -> np.ndarray:
        return rule.local_prices(*tensors(t))[0].numpy()

    def own_slope(t: np.ndarray) -> np.ndarray:
        slopes = rule.local_price_slopes(*tensors(t))
        return np.zeros_like(t) if slopes is None else slopes[0].numpy()

    ends = [np.zeros_like(own), np.clip(np.minimum(own, other), 0.0, GLOBAL_HIGH),
            np.clip(np.maximum(own, other), 0.0, GLOBAL_HIGH), np.full_like(own, GLOBAL_HIGH)]
    for t1, t2 in zip(ends[:-1], ends[1:], strict=True):
        width, start = t2 - t1, price(t1)
        empty = width <= 0.0
        gamma = np.where(empty, 0.0, (price(t2) - start) / np.where(empty, 1.0, width))
        yield t1, t2, start - gamma * t1, gamma, own_slope(0.5 * (t1 + t2))


def own_bid_gradient(mechanism: str, values: np.ndarray, own: np.ndarray, other: np.ndarray,
                     beta: float) -> np.ndarray:
    """E_t[∂ũ_i/∂b_i] over the global's bid t ~ U[0, T], exact in t, for a local of value
    ``values`` bidding ``own`` against the other local's ``other`` (broadcast arrays)."""
    values, own, other = (np.asarray(x, dtype=np.float64)
                          for x in np.broadcast_arrays(values, own, other))
    s = own + other
    total = np.zeros_like(s)
    for t1, t2, alpha, gamma, slope in _price_pieces(mechanism, own, other):
        x1, x2 = beta * (s - t1), beta * (s - t2)
        i0 = expit(x1) - expit(x2)
        i1 = s * i0 + (_h(x2) - _h(x1)) / beta
        i2 = (_softplus(x1) - _softplus(x2)) / beta
        total += (values - alpha) * i0 - gamma * i1 - slope * i2
    return total / GLOBAL_HIGH


def _breaks(centres: list[np.ndarray], width: float) -> np.ndarray:
    """Sorted panel breaks on [0, 1] clustered around each centre (arrays of one shape)."""
    parts = [_clustered_breaks(np.clip(c, 0.0, 1.0), width) for c in centres]
    return np.sort(np.concatenate(parts, axis=-1), axis=-1)


def gradient(mechanism: str, own: tuple[float, float], others: tuple[float, float], beta: float,
             nodes: int = DEFAULT_NODES) -> np.ndarray:
    """E[∂ũ_i/∂(a, w)] of a local bidding max(0, a + w v) with ``own`` = (a, w) while the other
    local bids with ``others`` = (a, w) and the global truthfully; shape (2,)."""
    _check(mechanism, beta)
    (a1, w1), (a, w) = own, others
    if not (w1 > 0 and w > 0):
        raise ValueError(f"w: the affine bids' slopes must be positive, got {w1} and {w}")
    width = 1.0 / (beta * w1)
    v, wv = _composite_rule(np.unique(_breaks(
        [np.array(-a1 / w1), np.array((GLOBAL_HIGH - a - w - a1) / w1)], width)), nodes)
    bids = a1 + w1 * v
    active = bids > 0.0
    v, wv, bids = v[active], wv[active], bids[active]
    inner = _breaks([np.full_like(v, -a / w), (bids - a) / w, (GLOBAL_HIGH - bids - a) / w],
                    1.0 / (beta * w))
    u, wu = _composite_rule(inner, nodes)
    g = own_bid_gradient(mechanism, v[:, None], bids[:, None], np.maximum(a + w * u, 0.0),
                         beta)
    per_value = (g * wu).sum(axis=-1) * wv
    return np.array([per_value.sum(), (per_value * v).sum()])


@dataclass(frozen=True)
class FixedPoint:
    """The symmetric smoothed equilibrium of the locals' affine class at one β."""

    mechanism: str
    beta: float
    a: float
    w: float
    residual: float  # max |E[∂ũ/∂(a, w)]| at (a, w)
    local_max: bool  # the own utility's Hessian in (a, w) is negative definite there
    converged: bool

    @property
    def status(self) -> str:
        if not self.converged:
            return f"no fixed point found (residual {self.residual:.1e})"
        return "converged" if self.local_max else "converged, stationary but not a local maximum"


def own_hessian(mechanism: str, a: float, w: float, beta: float,
                nodes: int = DEFAULT_NODES) -> np.ndarray:
    """Central-difference Hessian of a local's utility in its own (a, w) at (a, w), the other
    local at (a, w) too (symmetrised)."""
    columns = []
    for step in np.eye(2) * HESSIAN_STEP:
        up = gradient(mechanism, (a + step[0], w + step[1]), (a, w), beta, nodes)
        down = gradient(mechanism, (a - step[0], w - step[1]), (a, w), beta, nodes)
        columns.append((up - down) / (2 * HESSIAN_STEP))
    hessian = np.stack(columns, axis=1)
    return 0.5 * (hessian + hessian.T)


@functools.cache
def fixed_point(mechanism: str, beta: float, nodes: int = DEFAULT_NODES) -> FixedPoint:
    """(ã, w̃): E[∂ũ_i/∂(a, w)] = 0 at own = others, from the BNE (cached per argument)."""
    _check(mechanism, beta)
    start = np.array(bne_params(mechanism), dtype=np.float64)
    solution = root(lambda p: gradient(mechanism, (p[0], p[1]), (p[0], p[1]), beta, nodes),
                    start, method="hybr", options={"xtol": 1e-14})
    a, w = (float(x) for x in solution.x)
    residual = float(np.abs(gradient(mechanism, (a, w), (a, w), beta, nodes)).max())
    converged = residual < TOLERANCE
    local_max = converged and bool(np.all(np.linalg.eigvalsh(
        own_hessian(mechanism, a, w, beta, nodes)) < 0.0))
    return FixedPoint(mechanism, float(beta), a, w, residual, local_max, converged)
