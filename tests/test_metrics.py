"""Tests for diffauction.analysis.metrics against closed forms (Bichler et al. 2021)."""

from __future__ import annotations

import math

import pytest
import torch

from diffauction.analysis.convergence import stabilisation_step
from diffauction.analysis.distance import l2_distance, l2_linear, linf_distance
from diffauction.analysis.metrics import (
    LinearOpponents,
    SymmetricOpponents,
    best_response_gap,
    relative_utility_loss,
    utility_against_bne,
)
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior, value_midpoints

F64 = torch.float64
PRIOR = UniformPrior()
FIRST = make_mechanism("first_price")
SECOND = make_mechanism("second_price")


def t(x):
    return torch.tensor(x, dtype=F64)


# --- L2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5])
def test_l2_linear_closed_form_and_grid(n):
    w_star = (n - 1) / n
    w = t([0.0, 0.3, w_star, 0.48, 0.9, 1.0])
    l2 = l2_linear(w, w_star, PRIOR)
    assert torch.allclose(l2, (w - w_star).abs() / math.sqrt(3), atol=1e-15, rtol=0)
    v = value_midpoints(PRIOR, 4096)
    on_grid = l2_distance(w[:, None] * v, w_star * v)
    assert torch.allclose(on_grid, l2, atol=1e-6, rtol=0)
    assert torch.allclose(linf_distance(w[:, None] * v, w_star * v),
                          (w - w_star).abs() * v.max(), atol=1e-15)


def test_l2_linear_scaled_prior():
    prior = UniformPrior(0.0, 2.0)
    # E[v²] = 4/3 on U[0, 2]
    assert l2_linear(t(0.7), 0.5, prior).item() == pytest.approx(0.2 * math.sqrt(4 / 3), rel=1e-14)
    v = value_midpoints(prior, 4096)
    assert l2_distance(0.7 * v, 0.5 * v).item() == pytest.approx(0.2 * math.sqrt(4 / 3), abs=1e-6)


def test_value_midpoints_are_midpoints():
    v = value_midpoints(PRIOR, 4)
    assert torch.allclose(v, t([0.125, 0.375, 0.625, 0.875]), atol=1e-15)
    assert value_midpoints(PRIOR, 1000).mean().item() == pytest.approx(0.5, abs=1e-14)


# --- relative utility loss against BNE opponents --------------------------------------------------


def first_price_utility_vs_bne(w: float, n: int) -> float:
    """û(w) = E[(1−w)v·min(1, c v)^{n−1}], c = w n/(n−1), opponents bid (n−1)/n·v.

    P(m < b) = P(Y < b n/(n−1)) = min(1, b n/(n−1))^{n−1} with Y the highest of n−1 U[0,1].
    c ≤ 1: û = (1−w) c^{n−1} E[v^n] = (1−w) c^{n−1}/(n+1).
    c > 1: split at v = 1/c: (1−w)[c^{n−1}∫₀^{1/c} v^n dv + ∫_{1/c}^1 v dv]
           = (1−w)[1/(c²(n+1)) + (1 − 1/c²)/2].
    """
    c = w * n / (n - 1)
    if c <= 1:
        return (1 - w) * c ** (n - 1) / (n + 1)
    return (1 - w) * (1 / (c * c * (n + 1)) + (1 - 1 / c**2) / 2)


@pytest.mark.parametrize("n, tol", [(2, 1e-6), (3, 1e-6), (5, 5e-6)])
def test_relative_utility_loss_first_price_closed_form(n, tol):
    # slopes on both sides of the BNE: c ≤ 1 (shading more) and c > 1 (shading less)
    slopes = [0.1, 0.3, 0.45, (n - 1) / n, 0.7, 0.85, 0.9, 0.99]
    u_star = 1 / (n * (n + 1))
    rows = [[w] * n for w in slopes]
    loss = relative_utility_loss(FIRST, PRIOR, t(rows))
    for k, w in enumerate(slopes):
        expected = 1 - first_price_utility_vs_bne(w, n) / u_star
        assert loss[k, 0].item() == pytest.approx(expected, abs=tol), (w, n)
        assert torch.allclose(loss[k], loss[k, :1].expand(n), atol=1e-15)
    # the closed form has both branches in play
    assert any(w * n / (n - 1) > 1 for w in slopes) and any(w * n / (n - 1) < 1 for w in slopes)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_relative_utility_loss_zero_at_bne(n):
    w = t([[(n - 1) / n] * n])
    assert relative_utility_loss(FIRST, PRIOR, w).abs().max() < 1e-6
    assert relative_utility_loss(SECOND, PRIOR, t([[1.0] * n])).abs().max() < 5e-6
    # and positive off the BNE (the BNE is a strict best response)
    assert (relative_utility_loss(FIRST, PRIOR, t([[(n - 1) / n - 0.1] * n])) > 1e-3).all()


def test_utility_against_bne_second_price_closed_form():
    """SPSB, N=2, own bid w·v against truthful opponent: E[v·min(wv,1) − min(wv,1)²/2]."""
    w = t([[0.5, 1.0], [1.0, 1.0]])
    u = utility_against_bne(SECOND, PRIOR, w)
    # w = 0.5: E[v·v/2 − v²/8] = 3/8·1/3 = 1/8; w = 1: E[v²/2] = 1/6
    assert u[0, 0].item() == pytest.approx(1 / 8, abs=1e-6)
    assert u[0, 1].item() == pytest.approx(1 / 6, abs=1e-6)
    assert u[1, 0].item() == pytest.approx(1 / 6, abs=1e-6)


# --- best response gap ----------------------------------------------------------------------------


def grid_best_response(mechanism, v: torch.Tensor, w_opponent: float, grid: torch.Tensor):
    """Grid argmax and max of the ex-interim utility against one linear opponent."""
    opponents = LinearOpponents(t([[w_opponent]]), PRIOR)
    u = mechanism.interim_utility(v[None, :, None], grid.expand(1, 1, -1), opponents)[0]
    best, idx = u.max(dim=-1)
    return grid[idx], best


def br_closed_form(v: torch.Tensor, w: float):
    """N=2 first price against w·v: BR min(v/2, w), utility v²/(4w) if v/2 ≤ w else v − w."""
    bid = torch.minimum(v / 2, torch.full_like(v, w))
    utility = torch.where(v / 2 <= w, v**2 / (4 * w), v - w)
    return bid, utility


def own_closed_form(v: torch.Tensor, w_own: float, w: float):
    return (v - w_own * v) * torch.clamp(w_own * v / w, max=1.0)


@pytest.mark.parametrize("w_opp", [0.2, 0.3, 0.45, 0.5, 0.8])
def test_grid_argmax_within_one_step_of_closed_form(w_opp):
    grid = torch.linspace(0.0, 1.0, 1024, dtype=F64)
    step = 1 / 1023
    v = value_midpoints(PRIOR, 128)
    bid, best = grid_best_response(FIRST, v, w_opp, grid)
    br_bid, br_u = br_closed_form(v, w_opp)
    assert (bid - br_bid).abs().max() <= step + 1e-12
    # the grid max is below the true max by at most one step times the utility's slope
    slope = max(1.0, (1 - 2 * w_opp) / w_opp)
    assert torch.all(best <= br_u + 1e-12)
    assert torch.all(best >= br_u - step * slope)


@pytest.mark.parametrize("profile", [(0.45, 0.3), (0.3, 0.45), (0.6, 0.25), (0.2, 0.9)])
def test_best_response_gap_first_price_n2_closed_form(profile):
    w_i, w_j = profile
    gap = best_response_gap(FIRST, PRIOR, t([list(profile)]), value_nodes=128, bid_nodes=1024)
    v = value_midpoints(PRIOR, 128)
    grid = torch.linspace(0.0, 1.0, 1024, dtype=F64)
    own = own_closed_form(v, w_i, w_j)
    # exact for the metric's own grid (own bid included among the candidates)
    _, grid_best = grid_best_response(FIRST, v, w_j, grid)
    grid_loss = torch.maximum(grid_best, own) - own
    assert gap["loss_ex_ante"][0, 0].item() == pytest.approx(grid_loss.mean().item(), abs=1e-12)
    assert gap["loss_ex_interim"][0, 0].item() == pytest.approx(grid_loss.max().item(), abs=1e-12)
    assert gap["utility"][0, 0].item() == pytest.approx(own.mean().item(), abs=1e-12)
    # and the closed form up to the grid error
    _, br_u = br_closed_form(v, w_j)
    loss = br_u - own
    assert torch.all(loss >= -1e-12)
    tol = (1 / 1023) * max(1.0, (1 - 2 * w_j) / w_j)
    assert gap["loss_ex_ante"][0, 0].item() == pytest.approx(loss.mean().item(), abs=tol)
    assert gap["loss_ex_interim"][0, 0].item() == pytest.approx(loss.max().item(), abs=tol)
    u, ell = gap["utility"][0, 0].item(), gap["loss_ex_ante"][0, 0].item()
    assert gap["relative_loss"][0, 0].item() == pytest.approx(1 - u / (u + ell), abs=1e-14)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_best_response_gap_zero_at_bne(n):
    gap = best_response_gap(FIRST, PRIOR, t([[(n - 1) / n] * n]))
    assert gap["loss_ex_interim"].abs().max() < 1e-6
    assert gap["utility"][0, 0].item() == pytest.approx(1 / (n * (n + 1)), abs=1e-4)
    sp = best_response_gap(SECOND, PRIOR, t([[1.0] * n]))
    assert sp["loss_ex_interim"].abs().max() < 1e-6
    # off the BNE the gap is clearly positive
    off = best_response_gap(FIRST, PRIOR, t([[0.3] + [(n - 1) / n] * (n - 1)]))
    assert off["loss_ex_ante"][0, 0] > 1e-3


def test_best_response_gap_profiles_are_independent_across_runs_and_chunks():
    w = t([[0.45, 0.3], [0.5, 0.5], [0.2, 0.9]])
    together = best_response_gap(FIRST, PRIOR, w, chunk=4)
    for r in range(3):
        alone = best_response_gap(FIRST, PRIOR, w[r:r + 1], chunk=1)
        for key, value in alone.items():
            assert torch.allclose(together[key][r:r + 1], value, atol=1e-14), key


@pytest.mark.parametrize("name", ["first_price", "all_pay"])
def test_best_response_gap_zero_slopes(name):
    # Every agent bids 0: the hard auction ties and each agent wins with probability 1/2.
    # For first price: utility E[v/2] = 0.25; any bid ε > 0 wins surely, so the gap is ≈ 0.25.
    gap = best_response_gap(make_mechanism(name), PRIOR, t([[0.0, 0.0]]))
    assert gap["utility"][0, 0].item() < 0.3
    assert gap["loss_ex_ante"][0, 0].item() > 0.2


def test_linear_opponents_zero_slope_cdf_at_zero():
    opponents = LinearOpponents(t([[0.0]]), PRIOR)
    assert opponents.cdf(t([[0.0, 0.1]])).tolist() == [[0.0, 1.0]]


def test_partial_mean_at_zero_bids_is_zero():
    opponents = LinearOpponents(t([[0.5]]), PRIOR)
    assert torch.equal(opponents.partial_mean(torch.zeros(1, 3, dtype=F64)),
                       torch.zeros(1, 3, dtype=F64))
    gap = best_response_gap(SECOND, PRIOR, t([[0.0, 0.0]]))
    assert all(torch.isfinite(v).all() for v in gap.values())


# --- opponent models ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_opponents", [1, 2, 4])
def test_symmetric_opponents_cdf_within_one_over_k(n_opponents):
    k = 1000
    slope = n_opponents / (n_opponents + 1)  # the BNE slope of an (n_opponents+1)-bidder auction
    opponents = SymmetricOpponents(lambda y: slope * y, PRIOR, n_opponents, quantiles=k)
    b = torch.linspace(-0.1, 1.1, 20001, dtype=F64)
    exact = (b / slope).clamp(0, 1) ** n_opponents
    error = (opponents.cdf(b) - exact).abs().max().item()
    assert error <= 1 / (2 * k) + 1e-12  # the documented bound (the brief asks for 1/K)
    # partial mean: E[m 1{m<b}] = slope·(n−1)/n·(b/slope)^n for b ≤ slope, with n−1 = n_opponents
    n = n_opponents + 1
    inside = b[(b >= 0) & (b <= slope)]
    exact_pm = slope * (n - 1) / n * (inside / slope) ** n
    assert (opponents.partial_mean(inside) - exact_pm).abs().max() <= slope / k + 1e-12


@pytest.mark.parametrize("w", [0.3, 0.5, 0.9])
def test_linear_opponents_one_opponent_closed_forms(w):
    opponents = LinearOpponents(t([[w]]), PRIOR)
    b = torch.linspace(0.0, 1.0, 201, dtype=F64)[None]
    cdf = opponents.cdf(b)
    assert torch.allclose(cdf, (b / w).clamp(max=1.0), atol=1e-15)
    pm = opponents.partial_mean(b)
    expected = torch.where(b <= w, b**2 / (2 * w), torch.full_like(b, w / 2))
    assert torch.allclose(pm[b > 0], expected[b > 0], atol=1e-7, rtol=0)


def test_linear_opponents_two_opponents_product():
    opponents = LinearOpponents(t([[0.4, 0.8], [0.5, 0.5]]), PRIOR)
    b = t([[0.2, 0.6], [0.25, 0.7]])
    expected = t([[0.5 * 0.25, 1.0 * 0.75], [0.25, 1.0]])
    assert torch.allclose(opponents.cdf(b), expected, atol=1e-15)
    # E[m 1{m<b}] with G(x) = (x/0.5)² on [0, .5]: ∫ x dG = (2/3)·4·b³ for b ≤ 0.5
    two = LinearOpponents(t([[0.5, 0.5]]), PRIOR)
    pm = two.partial_mean(t([[0.3, 0.5]]))
    assert torch.allclose(pm, t([[8 / 3 * 0.3**3, 8 / 3 * 0.5**3]]), atol=1e-7)


# --- stabilisation step ---------------------------------------------------------------------------


def test_stabilisation_step_synthetic():
    steps = torch.arange(0, 100, 10)  # [0, 10, ..., 90]
    reference = t([0.5, 0.5, 0.5, 0.5])
    traj = torch.full((10, 4), 0.5, dtype=F64)
    # column 0: always inside -> step 0
    # column 1: inside from index 4 on -> step 40
    traj[:4, 1] = 0.9
    # column 2: enters at 2, leaves at 6, back for good at 8 -> step 80
    traj[:2, 2] = 0.9
    traj[6:8, 2] = 0.8
    # column 3: exactly on the band edge counts as inside; outside until the last point
    traj[:3, 3] = 0.75
    traj[3:9, 3] = 0.7500001
    traj[9, 3] = 0.5
    stable = stabilisation_step(steps, traj, reference, tolerance=0.25)
    assert stable.tolist() == [0, 40, 80, 90]
    traj[:, 3] = 0.75
    assert stabilisation_step(steps, traj, reference, tolerance=0.25)[3].item() == 0


def test_stabilisation_step_batched_shape():
    steps = torch.tensor([0, 5, 10])
    traj = t([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    stable = stabilisation_step(steps, traj, torch.zeros(2, 2, dtype=F64), 0.1)
    assert stable.tolist() == [[5, 10], [0, 0]]
