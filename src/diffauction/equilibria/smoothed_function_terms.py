"""The terms of the smoothed game's first-order conditions on a discrete value grid, shared by
:mod:`.smoothed_function` and :mod:`.smoothed_function_system`: cells and their probabilities,
the smoothed win probability against atoms of competing bids and its derivatives, and each
format's utility ũ(v, x) and marginal utility r(v, x) (the table of :mod:`.smoothed_function`);
the same sums on linear profiles (:func:`linear_class_gradient`)."""

from __future__ import annotations

import numpy as np
import torch

from diffauction.equilibria.smoothed import _gauss_legendre_01
from diffauction.equilibria.smoothed_window import windowed_sums


def midpoints(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[1:] + edges[:-1])


def cell_masses(game, c: int, edges: np.ndarray, nodes: int) -> np.ndarray:
    """Probability of each cell of ``edges`` under the density of the value deciding class c's
    win (Gauss–Legendre, ``nodes`` points per cell)."""
    t, w = _gauss_legendre_01(nodes)
    length = np.diff(edges)
    z = edges[:-1, None] + length[:, None] * t
    return (length[:, None] * w * game.deciding_density(c, z.ravel()).reshape(z.shape)).sum(1)


def kernels(x: np.ndarray, m: np.ndarray, weights: np.ndarray, beta: float):
    """(P, P', P'') at bids x against competing bids m_q with weights w_q (the atoms within the
    window of each bid, :data:`.smoothed_window.WINDOW`)."""
    p, s, w, _, _, _ = windowed_sums(np.asarray(x, float), m, weights, beta)
    k1 = beta * s * (1.0 - s) * w
    return p, np.sum(k1, axis=1), np.sum(beta * (1.0 - 2.0 * s) * k1, axis=1)


def win_probability(x, competing_bids, masses, beta: float) -> np.ndarray:
    """P(x) = Σ_j w_j σ(β(x − m_j)) against competing bids m_j of probabilities w_j, x of any
    shape (the atoms within the window of each bid, :data:`.smoothed_window.WINDOW`)."""
    x = np.asarray(x, float)
    return windowed_sums(x.ravel(), competing_bids, masses, beta)[0].reshape(x.shape)


def utility(mechanism: str, v, x, p):
    return (v - x) * p if mechanism != "all_pay" else v * p - x


def condition(mechanism: str, v, x, p, p1, p2):
    """(r, ∂r/∂x) of the first-order condition (module table)."""
    if mechanism == "all_pay":
        return v * p1 - 1.0, v * p2
    return (v - x) * p1 - p, (v - x) * p2 - 2.0 * p1


def linear_class_gradient(game, w, beta: float, cells: int = 2000,
                          nodes: int = 6) -> np.ndarray:
    """E[v ∂ũ/∂x] at x = w v against opponents bidding w v (the symmetric gradient of the
    linear class) of a symmetric :class:`.smoothed_function.FunctionGame`, by the solver's
    discretisation on ``cells`` uniform cells; its root is the linear fixed point w̃ of
    :mod:`.smoothed_linear`."""
    if game.classes != 1:
        raise ValueError("linear_class_gradient: symmetric games only")
    prior = game.priors[0]
    edges = np.linspace(float(prior.low), float(prior.high), cells + 1)
    v = midpoints(edges)
    masses = cell_masses(game, 0, edges, nodes)
    own = np.diff(prior.cdf(torch.from_numpy(edges)).numpy())
    out = []
    for slope in np.atleast_1d(np.asarray(w, float)):
        x = slope * v
        p, p1, p2 = kernels(x, x, masses, beta)
        out.append(float(np.sum(own * v * condition(game.mechanism, v, x, p, p1, p2)[0])))
    return np.asarray(out).reshape(np.shape(w))
