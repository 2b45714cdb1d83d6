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
L2 to BNE            sqrt(E_v[(b(v) − b*(v))²]): :mod:`diffauction.analysis.distance`
utility loss         𝓛 = 1 − û(b_i, β*_{−i}) / u*(β*): learned agent against BNE opponents
ε-Nash (grid BR)     against the *learned* opponents, :func:`diffauction.analysis.bid_functions.
                     grid_best_response`
strategy movement    d_t = (1/N) Σ_i |θ_i,t − θ_i,t−1| (recorded by the trainer)
stabilisation        :mod:`diffauction.analysis.convergence`
"""

from __future__ import annotations

import torch

from diffauction.analysis.bid_functions import grid_best_response, partial_mean_from_cdf
from diffauction.equilibria.closed_form import bne_utility
from diffauction.equilibria.registry import bne_bid
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

    def select(self, rows) -> LinearOpponents:
        return LinearOpponents(self.w[rows], self.prior, self.nodes)

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
        return partial_mean_from_cdf(self.cdf, b, max(top, 1e-12), self.nodes, self.w.shape[0])


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

    def select(self, rows) -> SymmetricOpponents:
        return self  # shared by every profile

    def cdf(self, b: torch.Tensor) -> torch.Tensor:
        count = torch.searchsorted(self.sorted, b.contiguous())
        return count.to(DTYPE) / self.sorted.numel()

    def partial_mean(self, b: torch.Tensor) -> torch.Tensor:
        count = torch.searchsorted(self.sorted, b.contiguous())
        return self.prefix[count] / self.sorted.numel()


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
    """ε-Nash by grid best response (:func:`~diffauction.analysis.bid_functions.
    grid_best_response`) of linear profiles against the learned linear opponents.

    For each run r and agent i, the opponents are the other agents of run r. Returns tensors
    [runs, agents]: ``utility`` (own ex-ante utility), ``loss_ex_ante`` (ℓ̂), ``loss_ex_interim``
    (ε̂), ``relative_loss`` (1 − u/(u + ℓ̂)).
    """
    runs, agents = w.shape
    w = w.to(DTYPE)
    others = torch.stack([torch.cat([w[:, :i], w[:, i + 1:]], dim=1) for i in range(agents)], 1)
    own = w.reshape(-1)  # profile p = r·agents + i
    opponents = LinearOpponents(others.reshape(runs * agents, agents - 1), prior)
    out = grid_best_response(mechanism, prior, lambda v: own[:, None] * v, opponents,
                             value_nodes, bid_nodes, chunk)
    return {k: t.reshape(runs, agents) for k, t in out.items()}
