"""Theory of the k-unit auctions: the pay-as-bid BNE, revenue and welfare identities, the
linear-restricted equilibrium."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import binom

from diffauction.equilibria import multiunit
from diffauction.equilibria.registry import bne_bid
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior

F64 = torch.float64


@pytest.mark.parametrize("n, k", [(3, 1), (3, 2), (4, 2), (5, 3), (6, 5)])
def test_win_probability_is_the_binomial_tail(n, k):
    g = multiunit.win_probability_polynomial(n, k)
    for y in np.linspace(0.0, 1.0, 11):
        # fewer than k of the n−1 opponents above y
        assert g(y) == pytest.approx(binom.cdf(k - 1, n - 1, 1.0 - y), abs=1e-12)


def test_pay_as_bid_closed_forms():
    v = torch.linspace(0.0, 1.0, 101, dtype=F64)
    expected = (v - 2 * v**2 / 3) / (2 - v)  # Krishna (2009), ch. 12; n = 3, k = 2
    assert torch.allclose(multiunit.pay_as_bid_bne(v, 3, 2), expected, atol=1e-12)
    for n in (2, 3, 5):  # k = 1 is first price
        assert torch.allclose(multiunit.pay_as_bid_bne(v, n, 1), (n - 1) / n * v, atol=1e-12)
    small = torch.tensor([1e-9, 1e-7], dtype=F64)
    assert torch.allclose(multiunit.pay_as_bid_bne(small, 5, 3), 2 / 3 * small, rtol=1e-6)
    # scaling: b_h(v) = h·b_1(v/h)
    assert torch.allclose(multiunit.pay_as_bid_bne(2 * v, 4, 2, high=2.0),
                          2 * multiunit.pay_as_bid_bne(v, 4, 2), atol=1e-12)
    assert torch.equal(bne_bid("uniform_price", 3, UniformPrior(), v, units=2), v)
    with pytest.raises(ValueError, match="units"):
        multiunit.pay_as_bid_bne(v, 3, 3)
    with pytest.raises(ValueError, match="units"):
        bne_bid("pay_as_bid", 3, UniformPrior(), v, units=3)


@pytest.mark.parametrize("n, k", [(3, 2), (4, 2), (5, 3)])
def test_pay_as_bid_bne_is_a_best_response_to_itself(n, k):
    """Against opponents playing the increasing b*, a bid b wins with G(b*⁻¹(b)); no bid on a
    fine grid beats b*(v)."""
    g = multiunit.win_probability_polynomial(n, k)
    grid_v = torch.linspace(0.0, 1.0, 20001, dtype=F64)
    grid_b = multiunit.pay_as_bid_bne(grid_v, n, k).numpy()
    bids = np.linspace(0.0, grid_b[-1], 4001)
    inverse = np.interp(bids, grid_b, grid_v.numpy())
    for v in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        b_star = multiunit.pay_as_bid_bne(torch.tensor([v], dtype=F64), n, k).item()
        u_star = (v - b_star) * g(float(np.interp(b_star, grid_b, grid_v.numpy())))
        u_grid = (v - bids) * g(inverse)
        assert u_grid.max() <= u_star + 2e-5, (v, bids[u_grid.argmax()], b_star)


@pytest.mark.parametrize("name", ["pay_as_bid", "uniform_price"])
@pytest.mark.parametrize("n, k", [(3, 2), (4, 1), (5, 2)])
def test_revenue_equivalence_and_welfare_by_monte_carlo(name, n, k):
    draws = 400_000
    gen = torch.Generator().manual_seed(100 * n + k)
    values = torch.rand((draws, n), generator=gen, dtype=F64)
    bids = bne_bid(name, n, UniformPrior(), values, units=k)
    allocation, payment = make_mechanism(name, k=k).hard_outcome(bids, gen)
    revenue = payment.sum(-1)
    welfare = (values * allocation).sum(-1)
    for sample, exact in ((revenue, multiunit.bne_revenue(n, k)),
                          (welfare, multiunit.efficient_welfare(n, k))):
        se = sample.std().item() / math.sqrt(draws)
        assert abs(sample.mean().item() - exact) < 5 * se, (sample.mean(), exact)
    utility = (values * allocation - payment).mean().item()
    assert utility == pytest.approx(multiunit.bne_utility(n, k), abs=3e-3)


def test_identities_in_closed_form():
    assert multiunit.bne_revenue(3, 2) == pytest.approx(0.5)
    assert multiunit.bne_revenue(3, 1) == pytest.approx(0.5)  # (n−1)/(n+1)
    assert multiunit.efficient_welfare(3, 2) == pytest.approx(1.25)
    assert multiunit.efficient_welfare(4, 1) == pytest.approx(0.8)
    assert multiunit.bne_utility(3, 2, high=2.0) == pytest.approx(2 * 0.25)


def test_linear_restricted_slope():
    for n in (2, 3, 5):
        assert multiunit.linear_restricted_slope("pay_as_bid", n, 1) == pytest.approx((n - 1) / n)
    assert multiunit.linear_restricted_slope("pay_as_bid", 3, 2) == pytest.approx(2 / 7)
    assert multiunit.linear_restricted_slope("uniform_price", 3, 2) == 1.0
    assert multiunit.linear_restricted_slope("all_pay", 3, 1) is None


@pytest.mark.parametrize("n, k", [(3, 2), (4, 2), (5, 3)])
def test_linear_restricted_slope_is_a_global_best_response(n, k):
    w = multiunit.linear_restricted_slope("pay_as_bid", n, k)
    own = np.linspace(0.0, 1.0, 401)
    utility = [multiunit.linear_restricted_utility(x, w, n, k) for x in own]
    assert abs(own[int(np.argmax(utility))] - w) <= 2.5e-3
    assert max(utility) <= multiunit.linear_restricted_utility(w, w, n, k) + 1e-9


def test_best_linear_fit_is_not_the_restricted_equilibrium():
    fit = multiunit.best_linear_fit("pay_as_bid", 3, 2)
    assert 0.35 < fit < 0.45
    assert fit != pytest.approx(multiunit.linear_restricted_slope("pay_as_bid", 3, 2), abs=0.05)
