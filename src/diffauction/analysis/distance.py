"""The L2 (and L∞) distance of a bid function to a reference (Bichler et al. 2021), in float64.

The distance is sqrt(E_v[(b(v) − b_ref(v))²]) under the bidder's prior, the expectation a plain
mean over the quantile midpoints v_k = F⁻¹((k + ½)/K) (:func:`~diffauction.game.priors.
value_midpoints`). :func:`l2_under_prior` takes any two bid functions; :func:`l2_distance` works
on bids already evaluated at the nodes. Special cases, kept for their speed (and their digits):

* :func:`l2_linear` — b = w·v against w*·v on U[low, high]: |w − w*|·sqrt(E[v²]) in closed form
  (|w − w*|/√3 on U[0, 1]);
* :func:`l2_linear_on_grid` — b = w·v against any reference sampled on a grid, for any number
  of slopes at once, from the grid moments E[v²], E[v·b_ref], E[b_ref²];
* :func:`l2_affine_on_grid` — b = max(0, a + w·v), in chunks.
"""

from __future__ import annotations

import math

import torch

from diffauction.game.priors import value_midpoints

DTYPE = torch.float64


def l2_distance(bids: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """sqrt(mean_k (b(v_k) − b_ref(v_k))²) over the last axis (nodes from value_midpoints)."""
    return ((bids.to(DTYPE) - reference.to(DTYPE)) ** 2).mean(dim=-1).sqrt()


def linf_distance(bids: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """max_k |b(v_k) − b_ref(v_k)| over the last axis."""
    return (bids.to(DTYPE) - reference.to(DTYPE)).abs().amax(dim=-1)


def l2_under_prior(bid_function, reference, prior, nodes: int = 4096) -> torch.Tensor:
    """L2 of any bid function to any reference under ``prior`` (``nodes`` quantile midpoints);
    ``bid_function`` may return [P, K] for P profiles, the result is then [P]."""
    v = value_midpoints(prior, nodes)
    return l2_distance(bid_function(v), reference(v))


def least_squares_slope(values: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """argmin_w mean_k (w·v_k − b_ref(v_k))² = mean(v·b_ref) / mean(v²)."""
    return (values * reference).mean() / (values * values).mean()


def best_linear_l2(reference, prior, nodes: int = 4096) -> float:
    """L2 from ``reference`` to the closest linear bid w·v (least squares under the prior)."""
    v = value_midpoints(prior, nodes)
    target = reference(v)
    w = least_squares_slope(v, target)
    return float(l2_distance(w * v, target))


def l2_linear(w: torch.Tensor, w_star: float, prior) -> torch.Tensor:
    """Closed form of the L2 distance of w·v to w*·v on U[low, high]: |w − w*|·sqrt(E[v²])."""
    second_moment = (prior.high**3 - prior.low**3) / (3 * (prior.high - prior.low))
    return (w.to(DTYPE) - w_star).abs() * math.sqrt(second_moment)


def l2_linear_on_grid(w: torch.Tensor, reference: torch.Tensor, grid: torch.Tensor
                      ) -> torch.Tensor:
    """sqrt(mean_g (w·v_g − b_ref(v_g))²) for any shape of slopes ``w``, from grid moments."""
    m2 = float((grid * grid).mean())
    mvr = float((grid * reference).mean())
    mrr = float((reference * reference).mean())
    return (w.double() ** 2 * m2 - 2.0 * w.double() * mvr + mrr).clamp_min(0.0).sqrt()


def l2_affine_on_grid(params: torch.Tensor, reference: torch.Tensor, grid: torch.Tensor,
                      chunk: int = 16) -> torch.Tensor:
    """L2 of max(0, a + w·v) to b_ref on the grid; ``params`` [..., 2] = (a, w)."""
    flat = params.double().reshape(-1, 2)
    out = torch.empty(flat.shape[0], dtype=DTYPE)
    for start in range(0, flat.shape[0], chunk * 1024):
        p = flat[start:start + chunk * 1024]
        bids = (p[:, :1] + p[:, 1:] * grid).clamp_min(0.0)
        out[start:start + p.shape[0]] = l2_distance(bids, reference)
    return out.reshape(params.shape[:-1])


def policy_l2_history(policy, params: torch.Tensor, nodes: torch.Tensor,
                      reference: torch.Tensor) -> torch.Tensor:
    """L2 of every recorded parameter set of any policy to the reference bids, in float64.

    ``params`` [K, runs, ...] (a :class:`~diffauction.learning.recording.TrainResult`'s history),
    ``nodes`` [G, agents] each agent's quantile midpoints (:func:`value_midpoints`),
    ``reference`` [G, agents] the reference bids there; returns [K, runs, agents].
    """
    runs = params.shape[1]
    values = nodes.to(DTYPE)[None].expand(runs, -1, -1)
    with torch.no_grad():
        return torch.stack([l2_distance(policy.bids(values, p.to(DTYPE)).transpose(1, 2),
                                        reference.to(DTYPE).T) for p in params])
