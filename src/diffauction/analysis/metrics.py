"""Equilibrium-quality metrics (Bichler et al. 2021), evaluated in the *hard* auction, float64.

Expectations over an agent's own value use the quantile midpoint rule: v_k = F⁻¹((k + ½)/K), so
E[g(v)] ≈ mean_k g(v_k) for any prior (for U[0,1] it is the midpoint rule, error O(K⁻²)).
Uncertainty about the opponents enters through the distribution of the highest competing bid m,
described by ``cdf(b) = P(m < b)`` and ``partial_mean(b) = E[m·1{m < b}]``:

* :class:`LinearOpponents` — independent opponents bidding w_j·v_j: P(m < b) = Π_j F(b / w_j),
  exact;
* :class:`SymmetricOpponents` — n−1 iid opponents with a monotone bid function β(v): m = β(Y),
  Y the highest of n−1 values, represented by K deterministic quantiles of Y (CDF error ≤ 1/K).

Metrics
-------
L2 to BNE            sqrt(E_v[(b(v) − b*(v))²]); linear b = w·v on U[0,1]: |w − w*|/√3
utility loss         𝓛 = 1 − û(b_i, β*_{−i}) / u*(β*): learned agent against BNE opponents
ε-Nash (grid BR)     loss(v) = max_{b ∈ grid ∪ {b_i(v)}} u(v, b) − u(v, b_i(v)) against the
                     *learned* opponents; ex-ante ℓ̂ = E_v loss(v), ex-interim ε̂ = max_v loss(v),
                     relative 1 − u/(u + ℓ̂). Including the agent's own bid among the candidates
                     keeps the loss ≥ 0 when the grid misses the exact best response.
strategy movement    d_t = (1/N) Σ_i |θ_i,t − θ_i,t−1| (recorded by the trainer)
"""

from __future__ import annotations

import math

import torch

from diffauction.equilibria.closed_form import bne_bid, bne_utility
from diffauction.game.mechanisms import Mechanism
from diffauction.game.priors import UniformPrior, value_midpoints

DTYPE = torch.float64


class LinearOpponents:
    """Highest competing bid of independent opponents bidding w_j·v_j, v_j ~ prior.

    ``w_others`` is [P, n−1] for P independent profiles; ``b`` passed to the methods is
    [P, ...]. A slope w_j = 0 bids 0 surely, so it loses to every positive bid.
    """

    def __init__(self, w_others: torch.Tensor, prior: UniformPrior, integration_nodes: int = 4096):
        self.w = w_others.to(DTYPE)
        self.prior = prior
        self.nodes = integration_nodes

    def cdf(self, b: torch.Tensor) -> torch.Tensor:
        shape = (self.w.shape[0],) + (1,) * (b.dim() - 1) + (self.w.shape[1],)
        w = self.w.reshape(shape)
        # a zero slope bids 0 surely: every positive bid beats it, a zero bid does not (m < b
        # is strict; the tie itself has no weight in this continuous model)
        never_below = torch.where(b[..., None] > 0, torch.inf, -torch.inf)
        ratio = torch.where(w > 0, b[..., None] / w.clamp_min(1e-300), never_below)
        return self.prior.cdf(ratio).prod(dim=-1)

    def partial_mean(self, b: torch.Tensor) -> torch.Tensor:
        """E[m·1{m < b}] = b·G(b) − ∫₀^b G(x) dx, the integral by the trapezoid rule."""
        top = float(b.amax()) if b.numel() else 0.0
        x = torch.linspace(0.0, max(top, 1e-12), self.nodes, dtype=DTYPE)
        g = self.cdf(x.expand(self.w.shape[0], -1))
        area = torch.cat([g.new_zeros(g.shape[0], 1),
                          torch.cumulative_trapezoid(g, x, dim=-1)], dim=-1)
        flat = b.reshape(b.shape[0], -1)
        idx = torch.searchsorted(x, flat.contiguous()).clamp(1, self.nodes - 1)
        x0, x1 = x[idx - 1], x[idx]
        a0, a1 = area.gather(1, idx - 1), area.gather(1, idx)
        integral = a0 + (a1 - a0) * ((flat - x0) / (x1 - x0)).clamp(0, 1)
        return (flat * self.cdf(flat) - integral).reshape(b.shape)


class SymmetricOpponents:
    """m = β(Y), Y the highest of ``n_opponents`` iid values, by K deterministic quantiles of Y.

    The quantiles of Y are F⁻¹(q^{1/(n−1)}) at q = (k + ½)/K, so the empirical CDF of m is within
    1/(2K) of the truth for any monotone β. The same m is shared by all P profiles.
    """

    def __init__(self, bid_function, prior: UniformPrior, n_opponents: int, quantiles: int = 65536):
        q = (torch.arange(quantiles, dtype=DTYPE) + 0.5) / quantiles
        y = prior.transform(q ** (1.0 / n_opponents))
        self.sorted = torch.sort(bid_function(y).to(DTYPE)).values
        self.prefix = torch.cat([self.sorted.new_zeros(1), torch.cumsum(self.sorted, 0)])

    def cdf(self, b: torch.Tensor) -> torch.Tensor:
        count = torch.searchsorted(self.sorted, b.contiguous())
        return count.to(DTYPE) / self.sorted.numel()

    def partial_mean(self, b: torch.Tensor) -> torch.Tensor:
        count = torch.searchsorted(self.sorted, b.contiguous())
        return self.prefix[count] / self.sorted.numel()


def l2_linear(w: torch.Tensor, w_star: float, prior: UniformPrior) -> torch.Tensor:
    """Closed form of the L2 distance of w·v to w*·v: |w − w*|·sqrt(E[v²])."""
    second_moment = (prior.high**3 - prior.low**3) / (3 * (prior.high - prior.low))
    return (w.to(DTYPE) - w_star).abs() * math.sqrt(second_moment)


def l2_distance(bids: torch.Tensor, bne_bids: torch.Tensor) -> torch.Tensor:
    """sqrt(mean_k (b(v_k) − b*(v_k))²) over the last axis (nodes from :func:`value_midpoints`)."""
    return ((bids.to(DTYPE) - bne_bids.to(DTYPE)) ** 2).mean(dim=-1).sqrt()


def linf_distance(bids: torch.Tensor, bne_bids: torch.Tensor) -> torch.Tensor:
    return (bids.to(DTYPE) - bne_bids.to(DTYPE)).abs().amax(dim=-1)


def utility_against_bne(mechanism: Mechanism, prior: UniformPrior, w: torch.Tensor,
                        value_nodes: int = 4096, quantiles: int = 65536) -> torch.Tensor:
    """û_i: ex-ante hard utility of each learned linear agent when all others play the BNE.

    ``w`` is [runs, agents]; returns [runs, agents].
    """
    runs, agents = w.shape
    v = value_midpoints(prior, value_nodes)
    opponents = SymmetricOpponents(
        lambda x: bne_bid(mechanism.name, agents, prior, x), prior, agents - 1, quantiles)
    bids = w.to(DTYPE)[..., None] * v  # [runs, agents, V]
    return mechanism.interim_utility(v, bids, opponents).mean(dim=-1)


def relative_utility_loss(mechanism: Mechanism, prior: UniformPrior, w: torch.Tensor,
                          **kwargs) -> torch.Tensor:
    """𝓛 = 1 − û(b_i, β*_{−i}) / u*(β*), [runs, agents]."""
    u_star = bne_utility(mechanism.name, w.shape[1], prior)
    return 1.0 - utility_against_bne(mechanism, prior, w, **kwargs) / u_star


def best_response_gap(mechanism: Mechanism, prior: UniformPrior, w: torch.Tensor,
                      value_nodes: int = 128, bid_nodes: int = 1024, chunk: int = 16
                      ) -> dict[str, torch.Tensor]:
    """ε-Nash by grid best response against the learned linear opponents.

    For each run r and agent i, the opponents are the other agents of run r. Returns tensors
    [runs, agents]: ``utility`` (own ex-ante utility), ``loss_ex_ante`` (ℓ̂), ``loss_ex_interim``
    (ε̂), ``relative_loss`` (1 − u/(u + ℓ̂)).
    """
    runs, agents = w.shape
    w = w.to(DTYPE)
    v = value_midpoints(prior, value_nodes)  # [V]
    grid = torch.linspace(0.0, prior.v_max, bid_nodes, dtype=DTYPE)  # [G]
    others = torch.stack([torch.cat([w[:, :i], w[:, i + 1:]], dim=1) for i in range(agents)], 1)
    own = w.reshape(-1)  # profile p = r·agents + i
    others = others.reshape(runs * agents, agents - 1)
    out = {k: torch.empty(runs * agents, dtype=DTYPE)
           for k in ("utility", "loss_ex_ante", "loss_ex_interim")}
    for start in range(0, own.numel(), chunk):
        sl = slice(start, start + chunk)
        opponents = LinearOpponents(others[sl], prior)
        p = own[sl].numel()
        own_bids = own[sl, None] * v  # [p, V]
        u_own = mechanism.interim_utility(v, own_bids, opponents)  # [p, V]
        u_grid = mechanism.interim_utility(
            v[None, :, None], grid.expand(p, 1, bid_nodes), opponents)  # [p, V, G]
        best = torch.maximum(u_grid.amax(dim=-1), u_own)
        loss = best - u_own
        out["utility"][sl] = u_own.mean(dim=-1)
        out["loss_ex_ante"][sl] = loss.mean(dim=-1)
        out["loss_ex_interim"][sl] = loss.amax(dim=-1)
    out = {k: t.reshape(runs, agents) for k, t in out.items()}
    out["relative_loss"] = 1.0 - out["utility"] / (out["utility"] + out["loss_ex_ante"])
    return out


def stabilisation_step(steps: torch.Tensor, trajectory: torch.Tensor, reference: torch.Tensor,
                       tolerance: float) -> torch.Tensor:
    """First recorded step after which |θ_t − reference| ≤ tolerance for good.

    ``trajectory`` is [K, ...], ``reference`` broadcasts to [...]; returns [...] step indices.
    """
    outside = (trajectory - reference).abs() > tolerance  # [K, ...]
    # index of the last recorded step that is outside the band; stable from the next one on
    k = outside.shape[0]
    flipped = outside.flip(0).to(torch.int8)
    last_outside = k - 1 - flipped.argmax(dim=0)
    ever = outside.any(dim=0)
    first_stable = torch.where(ever, last_outside + 1, torch.zeros_like(last_outside))
    first_stable = first_stable.clamp(max=k - 1)
    return steps[first_stable]
