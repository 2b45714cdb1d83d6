"""Closed forms of the non-linear and asymmetric settings (equilibria.closed_form, issue 4)."""

from __future__ import annotations

import pytest
import torch

from diffauction.analysis.bid_functions import (
    CompetingBids,
    bid_quantiles,
    expected_utility,
    grid_best_response,
    revenue,
)
from diffauction.equilibria.closed_form import (
    all_pay_bne_table,
    crra_coefficient,
    crra_utility,
    first_price_bne_table,
    interpolate,
    known_bne,
    plum_bid,
    plum_constant,
    plum_inverse_bid,
    plum_max_bid,
)
from diffauction.experiments.nonlinear import setting_mechanism
from diffauction.game.priors import AgentPriors, BetaPrior, UniformPrior

F64 = torch.float64
A, B = 0.5, 1.0  # the weak U[0, 0.5] and strong U[0, 1]
PLUM = AgentPriors([UniformPrior(0.0, A), UniformPrior(0.0, B)])


def quantiles_of(bne, priors, count=4096):
    return [bid_quantiles(lambda x, i=i: bne.bid(i, x)[None, :], p, count)
            for i, p in enumerate(priors)]


# --- Plum's asymmetric first price ---------------------------------------------------------------


@pytest.mark.parametrize("a, b", [(0.5, 1.0), (0.3, 2.0), (0.9, 1.0)])
def test_plum_inverse_bids_and_common_top_bid(a, b):
    for weak, high in ((True, a), (False, b)):
        v = torch.linspace(0.0, high, 1001, dtype=F64)
        bids = plum_bid(v, a, b, weak)
        assert torch.allclose(plum_inverse_bid(bids, a, b, weak), v, atol=1e-12)
        assert (bids[1:] > bids[:-1]).all()  # strictly increasing
    top = a * b / (a + b)
    assert plum_max_bid(a, b) == pytest.approx(top)
    assert plum_bid(torch.tensor(a, dtype=F64), a, b, True).item() == pytest.approx(top, abs=1e-14)
    assert plum_bid(torch.tensor(b, dtype=F64), a, b, False).item() == pytest.approx(top, abs=1e-14)
    assert plum_constant(a, b) == pytest.approx(1 / a**2 - 1 / b**2)


@pytest.mark.parametrize("a, b", [(0.5, 1.0), (0.3, 2.0)])
def test_plum_inverse_bids_satisfy_the_first_order_conditions(a, b):
    """Bidder 1 with value φ₁(β) facing P(win) = φ₂(β)/b: (φ₁ − β)·φ₂'(β) = φ₂(β), and
    symmetrically for bidder 2."""
    beta = torch.linspace(1e-3, plum_max_bid(a, b) - 1e-3, 500, dtype=F64).requires_grad_(True)
    phi1 = plum_inverse_bid(beta, a, b, weak=True)
    phi2 = plum_inverse_bid(beta, a, b, weak=False)
    (d1,) = torch.autograd.grad(phi1.sum(), beta, retain_graph=True)
    (d2,) = torch.autograd.grad(phi2.sum(), beta)
    beta, phi1, phi2 = beta.detach(), phi1.detach(), phi2.detach()
    assert torch.allclose((phi1 - beta) * d2, phi2, rtol=1e-10, atol=1e-12)
    assert torch.allclose((phi2 - beta) * d1, phi1, rtol=1e-10, atol=1e-12)


def test_plum_utilities_and_revenue_match_the_anchors():
    bne = known_bne("first_price", PLUM)
    assert bne.kind == "plum"
    quantiles = quantiles_of(bne, PLUM)
    mechanism = setting_mechanism("first_price", 1.0)
    utilities = [expected_utility(mechanism, PLUM[i], lambda x, i=i: bne.bid(i, x)[None, :],
                                  CompetingBids([quantiles[1 - i]]), 4096).item()
                 for i in range(2)]
    assert utilities == pytest.approx([0.0485, 0.2534], abs=5e-5)
    assert revenue("first_price", quantiles).item() == pytest.approx(0.2295, abs=5e-5)
    truthful = [bid_quantiles(lambda x: x[None, :], p, 4096) for p in PLUM]
    assert revenue("second_price", truthful).item() == pytest.approx(5 / 24, abs=1e-6)
    # welfare = revenue + utilities = E[winner's value] falls short of E[max(v₁, v₂)] = 13/24:
    # the weak bidder sometimes wins with the lower value (the equilibrium is inefficient)
    welfare = revenue("first_price", quantiles).item() + sum(utilities)
    assert 0.5 < welfare < 13 / 24 - 5e-3


def test_plum_is_a_best_response_on_the_grid():
    bne = known_bne("first_price", PLUM)
    quantiles = quantiles_of(bne, PLUM, 8192)
    mechanism = setting_mechanism("first_price", 1.0)
    for i in range(2):
        gap = grid_best_response(mechanism, PLUM[i], lambda x, i=i: bne.bid(i, x)[None, :],
                                 CompetingBids([quantiles[1 - i]]), 64, 2048)
        assert gap["loss_ex_interim"].item() < 2e-5
        assert gap["relative_loss"].item() < 1e-4


def test_plum_agent_order_does_not_matter():
    swapped = known_bne("first_price", [UniformPrior(0.0, B), UniformPrior(0.0, A)])
    v = torch.linspace(0, 0.5, 11, dtype=F64)
    assert torch.equal(swapped.bid(1, v), plum_bid(v, A, B, weak=True))
    assert torch.equal(swapped.bid(0, v), plum_bid(v, A, B, weak=False))


# --- CRRA ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("rho", [0.5, 1.0])
def test_crra_closed_form_utility_and_best_response(n, rho):
    priors = AgentPriors([UniformPrior()] * n)
    bne = known_bne("first_price", priors, rho)
    assert bne.kind == ("crra" if rho < 1 else "uniform")
    v = torch.linspace(0, 1, 11, dtype=F64)
    assert torch.allclose(bne.bid(0, v), (n - 1) / (n - 1 + rho) * v)
    assert crra_coefficient(n, rho) == pytest.approx((n - 1) / (n - 1 + rho))
    mechanism = setting_mechanism("first_price", rho)
    quantiles = quantiles_of(bne, priors)
    u = expected_utility(mechanism, priors[0], lambda x: bne.bid(0, x)[None, :],
                         CompetingBids(quantiles[1:]), 4096).item()
    assert u == pytest.approx(crra_utility(n, rho), rel=1e-4)
    assert u == pytest.approx((rho / (n - 1 + rho)) ** rho / (n + rho), rel=1e-4)
    gap = grid_best_response(mechanism, priors[0], lambda x: bne.bid(0, x)[None, :],
                             CompetingBids(quantiles[1:]), 64, 2048)
    assert gap["loss_ex_interim"].item() < 5e-5


def test_crra_rejects_rho_outside_the_unit_interval():
    for rho in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="risk_aversion"):
            crra_coefficient(2, rho)
        with pytest.raises(ValueError, match="risk_aversion"):
            setting_mechanism("first_price", rho)
    with pytest.raises(ValueError, match="first_price"):
        setting_mechanism("all_pay", 0.5)


# --- general iid priors --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5])
def test_beta_formula_reduces_to_the_uniform_bne(n):
    prior = BetaPrior(1.0, 1.0)
    v, b = first_price_bne_table(prior, n)
    assert (b - (n - 1) / n * v).abs().max() < 1e-6
    v, b = all_pay_bne_table(prior, n)
    assert (b - (n - 1) / n * v**n).abs().max() < 1e-6
    bne = known_bne("first_price", [prior] * n)
    assert bne.kind == "first_price_integral"
    x = torch.rand(100, dtype=F64)
    assert torch.allclose(bne.bid(0, x), (n - 1) / n * x, atol=1e-6)
    # a uniform prior with a positive lower bound uses the same integral
    shifted = known_bne("first_price", [UniformPrior(0.2, 1.0)] * n)
    y = 0.2 + 0.8 * x
    assert torch.allclose(shifted.bid(0, y), y - (y - 0.2) / n, atol=1e-6)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("mechanism", ["first_price", "all_pay"])
def test_beta_bne_is_a_best_response_and_revenue_equivalent(n, mechanism):
    priors = AgentPriors([BetaPrior(2.0, 5.0)] * n)
    bne = known_bne(mechanism, priors)
    quantiles = quantiles_of(bne, priors, 8192)
    mech = setting_mechanism(mechanism, 1.0)
    gap = grid_best_response(mech, priors[0], lambda x: bne.bid(0, x)[None, :],
                             CompetingBids(quantiles[1:]), 64, 2048)
    assert gap["loss_ex_interim"].item() < 5e-5
    first = known_bne("first_price", priors)
    assert revenue(mechanism, quantiles).item() == pytest.approx(
        revenue("first_price", quantiles_of(first, priors, 8192)).item(), abs=2e-4)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_all_pay_revenue_equals_first_price_revenue(n):
    priors = AgentPriors([UniformPrior()] * n)
    first = revenue("first_price", quantiles_of(known_bne("first_price", priors), priors)).item()
    all_pay = known_bne("all_pay", priors)
    assert all_pay.kind == "all_pay"
    pay = revenue("all_pay", quantiles_of(all_pay, priors)).item()
    assert first == pytest.approx((n - 1) / (n + 1), abs=1e-5)
    assert pay == pytest.approx((n - 1) / (n + 1), abs=1e-5)
    truthful = revenue("second_price", [bid_quantiles(lambda x: x[None, :], p, 4096)
                                        for p in priors]).item()
    assert truthful == pytest.approx((n - 1) / (n + 1), abs=1e-5)


def test_unknown_equilibria_return_none():
    beta = BetaPrior(2.0, 5.0)
    assert known_bne("all_pay", PLUM) is None  # asymmetric all-pay
    assert known_bne("first_price", [beta] * 2, 0.5) is None  # CRRA with a Beta prior
    assert known_bne("first_price", [UniformPrior(), UniformPrior(), UniformPrior(0, .5)]) is None
    assert known_bne("first_price", [UniformPrior(0.1, 0.5), UniformPrior(0, 1)]) is None
    assert known_bne("pay_as_bid", [UniformPrior()] * 3) is None
    assert known_bne("second_price", PLUM, 0.5).kind == "truthful"


def test_interpolate_is_linear_and_flat_outside():
    xp = torch.tensor([0.0, 1.0, 3.0], dtype=F64)
    fp = torch.tensor([0.0, 2.0, 0.0], dtype=F64)
    x = torch.tensor([[-1.0, 0.5], [2.0, 5.0]], dtype=F64)
    assert interpolate(x, xp, fp).tolist() == [[0.0, 1.0], [1.0, 0.0]]
