"""Bid functions of any shape, the highest competing bid they make, and the metrics built on
them (Bichler et al. 2021), in the *hard* auction, float64.

A bid function maps values [M] (or [P, M]) to bids [P, M], one row per profile. The highest
competing bid m = max_{j≠i} b_j(v_j) of independent opponents is an object with
``cdf(b) = P(m < b)`` and ``partial_mean(b) = E[m·1{m < b}]`` for bids [P, ...], and
``select(rows)``, the same opponents for a slice of the profiles; ``Mechanism.interim_utility``
takes it. :class:`CompetingBids` (any bid functions, from their quantiles) is one;
:class:`~diffauction.analysis.metrics.LinearOpponents` and
:class:`~diffauction.analysis.metrics.SymmetricOpponents` are the others.

:class:`CompetingBids` describes m by its CDF G(x) = Π_j G_j(x), where G_j is the CDF of
b_j(v_j), built from b_j at the quantiles F_j⁻¹(k/K), k = 0..K: sorted, they are the quantile
function of b_j(v_j), and linear interpolation between them gives G_j with error O(K⁻²) for
smooth bid functions (exact at the nodes; flat pieces of b_j become atoms).

ε-Nash (:func:`grid_best_response`): loss(v) = max_{b ∈ grid ∪ {b_i(v)}} u(v, b) − u(v, b_i(v))
against the opponents; ex-ante ℓ̂ = E_v loss(v), ex-interim ε̂ = max_v loss(v), relative
1 − u/(u + ℓ̂). Including the agent's own bid among the candidates keeps the loss ≥ 0 when the
grid misses the exact best response.
"""

from __future__ import annotations

import math

import torch

from diffauction.game.priors import value_midpoints

DTYPE = torch.float64


def grid_bid_function(v_grid: torch.Tensor, bids: torch.Tensor):
    """b(v) for every profile: ``bids`` [P, G] on the common grid ``v_grid`` [G]; the returned
    function maps values [M] or [P, M] to bids [P, M] by linear interpolation."""
    v_grid, bids = v_grid.to(DTYPE), bids.to(DTYPE)

    def evaluate(values: torch.Tensor) -> torch.Tensor:
        values = values.to(DTYPE)
        flat = values if values.dim() == 2 else values.expand(bids.shape[0], -1)
        idx = torch.searchsorted(v_grid, flat.contiguous()).clamp(1, v_grid.numel() - 1)
        x0, x1 = v_grid[idx - 1], v_grid[idx]
        t = ((flat - x0) / (x1 - x0)).clamp(0.0, 1.0)
        f0, f1 = bids.gather(1, idx - 1), bids.gather(1, idx)
        return f0 + (f1 - f0) * t

    return evaluate


def bid_quantiles(bid_function, prior, count: int) -> torch.Tensor:
    """Sorted b(F⁻¹(k/K)), k = 0..K, for every profile: [P, K+1], the quantile function of b(v)."""
    values = prior.transform(torch.linspace(0.0, 1.0, count + 1, dtype=DTYPE))
    return torch.sort(bid_function(values), dim=-1).values


def partial_mean_from_cdf(cdf, b: torch.Tensor, top: float, nodes: int, profiles: int
                          ) -> torch.Tensor:
    """E[m·1{m < b}] = b·G(b) − ∫₀^b G(x) dx for a highest competing bid m ≥ 0 with CDF G =
    ``cdf`` (per profile), the integral by the trapezoid rule on ``nodes`` points of [0, top]."""
    x = torch.linspace(0.0, top, nodes, dtype=DTYPE)
    g = cdf(x.expand(profiles, -1))
    area = torch.cat([g.new_zeros(g.shape[0], 1),
                      torch.cumulative_trapezoid(g, x, dim=-1)], dim=-1)
    flat = b.to(DTYPE).reshape(b.shape[0], -1).contiguous()
    idx = torch.searchsorted(x, flat).clamp(1, nodes - 1)
    x0, x1 = x[idx - 1], x[idx]
    a0, a1 = area.gather(1, idx - 1), area.gather(1, idx)
    integral = a0 + (a1 - a0) * ((flat - x0) / (x1 - x0)).clamp(0, 1)
    return (flat * cdf(flat) - integral).reshape(b.shape)


class CompetingBids:
    """The highest competing bid m = max_j b_j(v_j) over independent opponents, per profile.

    ``quantiles`` is a list (one entry per opponent) of [P, K+1] sorted bid quantiles (see
    :func:`bid_quantiles`); methods take bids [P, ...] (module docstring).
    """

    def __init__(self, quantiles: list[torch.Tensor], integration_nodes: int = 4097):
        self.quantiles = [q.to(DTYPE).contiguous() for q in quantiles]
        self.levels = torch.linspace(0.0, 1.0, self.quantiles[0].shape[1], dtype=DTYPE)
        self.nodes = integration_nodes

    def select(self, rows) -> CompetingBids:
        return CompetingBids([q[rows] for q in self.quantiles], self.nodes)

    def _opponent_cdf(self, q: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        idx = torch.searchsorted(q, flat)  # first node ≥ b: P(b_j < node) rises to there
        inside = (idx > 0) & (idx < q.shape[1])
        i1 = idx.clamp(1, q.shape[1] - 1)
        x0, x1 = q.gather(1, i1 - 1), q.gather(1, i1)
        t = torch.where(x1 > x0, (flat - x0) / (x1 - x0), torch.ones_like(flat)).clamp(0.0, 1.0)
        level = self.levels[i1 - 1] + (self.levels[i1] - self.levels[i1 - 1]) * t
        return torch.where(inside, level, (idx >= q.shape[1]).to(DTYPE))

    def cdf(self, b: torch.Tensor) -> torch.Tensor:
        flat = b.to(DTYPE).reshape(b.shape[0], -1).contiguous()
        out = torch.ones_like(flat)
        for q in self.quantiles:
            out = out * self._opponent_cdf(q, flat)
        return out.reshape(b.shape)

    def partial_mean(self, b: torch.Tensor) -> torch.Tensor:
        top = max(float(b.amax()), max(float(q[:, -1].amax()) for q in self.quantiles), 1e-12)
        return partial_mean_from_cdf(self.cdf, b, top, self.nodes, b.shape[0])


def expected_utility(mechanism, prior, own, competing, nodes: int) -> torch.Tensor:
    """Ex-ante hard utility E_v[u(v, b(v); m)] of every profile: own [P, M] → [P]."""
    v = value_midpoints(prior, nodes)
    return mechanism.interim_utility(v, own(v), competing).mean(dim=-1)


def grid_best_response(mechanism, prior, own, opponents, value_nodes: int, bid_nodes: int,
                       chunk: int = 8) -> dict[str, torch.Tensor]:
    """ε-Nash by grid best response (module docstring) of each profile's ``own`` bid function
    [P] against its ``opponents`` (any highest-competing-bid object), ``chunk`` profiles at a
    time. The grid is [0, v̄] with the own bid added as a candidate (loss ≥ 0). Returns tensors
    [P]: ``utility``, ``loss_ex_ante``, ``loss_ex_interim``, ``relative_loss``."""
    v = value_midpoints(prior, value_nodes)
    grid = torch.linspace(0.0, float(prior.v_max), bid_nodes, dtype=DTYPE)
    own_bids = own(v)  # [P, V]
    profiles = own_bids.shape[0]
    out = {k: torch.empty(profiles, dtype=DTYPE)
           for k in ("utility", "loss_ex_ante", "loss_ex_interim")}
    for start in range(0, profiles, chunk):
        sl = slice(start, start + chunk)
        part = opponents.select(sl)
        p = own_bids[sl].shape[0]
        u_own = mechanism.interim_utility(v, own_bids[sl], part)
        u_grid = mechanism.interim_utility(v[None, :, None], grid.expand(p, 1, bid_nodes), part)
        loss = torch.maximum(u_grid.amax(dim=-1), u_own) - u_own
        out["utility"][sl] = u_own.mean(dim=-1)
        out["loss_ex_ante"][sl] = loss.mean(dim=-1)
        out["loss_ex_interim"][sl] = loss.amax(dim=-1)
    out["relative_loss"] = 1.0 - out["utility"] / (out["utility"] + out["loss_ex_ante"])
    return out


def revenue(mechanism: str, quantiles: list[torch.Tensor], nodes: int = 8193) -> torch.Tensor:
    """Expected revenue per profile from every bidder's bid quantiles ([P, K+1] each).

    first price E[max_i b_i], second price E[second-highest b_i] (both ∫ (1 − CDF) over bids ≥ 0),
    all-pay Σ_i E[b_i] (trapezoid over the quantile levels). NaN for other mechanisms.
    """
    if mechanism == "all_pay":
        levels = torch.linspace(0.0, 1.0, quantiles[0].shape[1], dtype=DTYPE)
        return sum(torch.trapezoid(q, levels, dim=-1) for q in quantiles)
    if mechanism not in ("first_price", "second_price"):
        return torch.full((quantiles[0].shape[0],), math.nan, dtype=DTYPE)
    top = max(float(q[:, -1].amax()) for q in quantiles)
    x = torch.linspace(0.0, max(top, 1e-12), nodes, dtype=DTYPE)
    profiles = quantiles[0].shape[0]
    cdfs = [CompetingBids([q]).cdf(x.expand(profiles, -1)) for q in quantiles]  # P(b_i < x)
    highest = torch.stack(cdfs).prod(dim=0)
    if mechanism == "first_price":
        below = highest
    else:  # P(second highest < x) = Π G + Σ_i (1 − G_i) Π_{j≠i} G_j
        below = highest + sum(
            (1 - g) * torch.stack([h for j, h in enumerate(cdfs) if j != i]).prod(dim=0)
            for i, g in enumerate(cdfs))
    return torch.trapezoid(1.0 - below, x, dim=-1)
