"""Tests for diffauction.equilibria.closed_form: closed forms, revenue equivalence, Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from diffauction.analysis.metrics import SymmetricOpponents
from diffauction.equilibria.closed_form import (
    bne_bid,
    bne_linear_coefficient,
    bne_revenue,
    bne_utility,
)
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior, value_midpoints

F64 = torch.float64
PRIOR = UniformPrior()
NAMES = ["first_price", "second_price", "all_pay"]


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_bne_bids_closed_forms(n):
    v = torch.linspace(0, 1, 101, dtype=F64)
    assert torch.allclose(bne_bid("first_price", n, PRIOR, v), (n - 1) / n * v, atol=1e-15)
    assert torch.equal(bne_bid("second_price", n, PRIOR, v), v)
    assert torch.allclose(bne_bid("all_pay", n, PRIOR, v), (n - 1) / n * v**n, atol=1e-15)
    assert bne_linear_coefficient("first_price", n, PRIOR) == pytest.approx((n - 1) / n)
    assert bne_linear_coefficient("second_price", n, PRIOR) == 1.0
    assert bne_linear_coefficient("all_pay", n, PRIOR) is None


@pytest.mark.parametrize("n", [2, 3, 5, 10])
@pytest.mark.parametrize("name", NAMES)
def test_bne_utility_and_revenue_equivalence(name, n):
    assert bne_utility(name, n, PRIOR) == pytest.approx(1 / (n * (n + 1)), rel=1e-14)
    assert bne_revenue(name, n, PRIOR) == pytest.approx((n - 1) / (n + 1), rel=1e-14)
    # welfare: E[max v] = n/(n+1) = revenue + n·utility
    assert bne_revenue(name, n, PRIOR) + n * bne_utility(name, n, PRIOR) == pytest.approx(
        n / (n + 1), rel=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [2, 3, 5])
def test_bne_utility_and_revenue_monte_carlo(name, n):
    """1e6 hard auctions at the BNE; tolerance 5 standard errors."""
    draws = 1_000_000
    gen = torch.Generator().manual_seed(1000 + n)
    mechanism = make_mechanism(name)
    values = PRIOR.sample((draws, n), generator=gen)
    bids = bne_bid(name, n, PRIOR, values)
    allocation, payment = mechanism.hard_outcome(bids, gen)
    utility_row = (values * allocation - payment).mean(-1)  # rows are iid
    revenue_row = payment.sum(-1)
    se_u = utility_row.std().item() / math.sqrt(draws)
    se_r = revenue_row.std().item() / math.sqrt(draws)
    assert abs(utility_row.mean().item() - bne_utility(name, n, PRIOR)) < 5 * se_u
    assert abs(revenue_row.mean().item() - bne_revenue(name, n, PRIOR)) < 5 * se_r
    assert se_u < 2e-4  # the check is sharp enough to tell n from n+1 (1/(n(n+1)) changes > 5e-3)


@pytest.mark.parametrize("name", ["first_price", "all_pay", "second_price"])
def test_scaled_prior(name):
    prior = UniformPrior(0.0, 2.0)
    n = 3
    assert bne_utility(name, n, prior) == pytest.approx(2 / 12)
    assert bne_revenue(name, n, prior) == pytest.approx(2 * 2 / 4)
    draws = 400_000
    gen = torch.Generator().manual_seed(77)
    values = prior.sample((draws, n), generator=gen)
    bids = bne_bid(name, n, prior, values)
    allocation, payment = make_mechanism(name).hard_outcome(bids, gen)
    u = (values * allocation - payment).mean(-1)
    assert abs(u.mean().item() - 2 / 12) < 5 * u.std().item() / math.sqrt(draws)


@pytest.mark.parametrize("n", [2, 4])
def test_first_price_bne_with_positive_low_matches_integral_formula(n):
    prior = UniformPrior(0.25, 1.0)

    def cdf(x):
        return (x - 0.25) / 0.75

    for v in [0.3, 0.5, 0.8, 1.0]:
        integral, _ = quad(lambda x: cdf(x) ** (n - 1), 0.25, v)
        expected = v - integral / cdf(v) ** (n - 1)
        got = bne_bid("first_price", n, prior, torch.tensor([v], dtype=F64)).item()
        assert got == pytest.approx(expected, abs=1e-10)
    assert bne_linear_coefficient("first_price", n, prior) is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [2, 3])
def test_bne_bid_is_a_best_response_against_itself(name, n):
    """Against n−1 opponents playing b*, no bid on a fine grid beats b*(v) (up to grid error)."""
    mechanism = make_mechanism(name)
    opponents = SymmetricOpponents(lambda y: bne_bid(name, n, PRIOR, y), PRIOR, n - 1,
                                   quantiles=65536)
    v = value_midpoints(PRIOR, 64)
    grid = torch.linspace(0.0, 1.0, 2049, dtype=F64)
    own = mechanism.interim_utility(v, bne_bid(name, n, PRIOR, v), opponents)
    best = mechanism.interim_utility(v[:, None], grid[None, :], opponents).amax(-1)
    assert (best - own).max() < 5e-5
    # a distorted strategy is not a best response
    distorted = mechanism.interim_utility(v, 0.5 * bne_bid(name, n, PRIOR, v), opponents)
    assert (best - distorted).max() > 1e-3


def test_invalid_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        bne_bid("first_price", 1, PRIOR, torch.zeros(1))
    with pytest.raises(ValueError):
        bne_bid("all_pay", 2, UniformPrior(0.5, 1.0), torch.zeros(1))
    with pytest.raises(ValueError):
        bne_utility("first_price", 2, UniformPrior(0.5, 1.0))
    with pytest.raises(ValueError):
        bne_utility("dutch", 2, PRIOR)
    with pytest.raises(ValueError):
        bne_revenue("first_price", 1, PRIOR)
    assert np.isfinite(bne_revenue("all_pay", 2, PRIOR))
