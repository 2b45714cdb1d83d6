"""Tests for diffauction.game.mechanisms: hard outcomes, smoothed relaxations, their gradients."""

from __future__ import annotations

import math

import pytest
import torch

from diffauction.analysis.metrics import LinearOpponents
from diffauction.game.mechanisms import (
    MECHANISMS,
    AllPay,
    FirstPrice,
    SecondPrice,
    hard_allocation,
    highest_competing_bid,
    make_mechanism,
)
from diffauction.game.priors import UniformPrior

F64 = torch.float64
ALL = sorted(MECHANISMS)


def brute_force_competing(bids: torch.Tensor) -> torch.Tensor:
    """m_i = max_{j != i} b_j by explicit loops (rows x agents)."""
    rows, n = bids.shape
    out = torch.empty_like(bids)
    for r in range(rows):
        for i in range(n):
            out[r, i] = max(float(bids[r, j]) for j in range(n) if j != i)
    return out


# --- highest competing bid ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5])
def test_highest_competing_bid_matches_brute_force_with_ties(n):
    gen = torch.Generator().manual_seed(n)
    # a coarse lattice makes ties (also at the top) frequent
    bids = torch.randint(0, 4, (400, n), generator=gen).to(F64) / 4
    continuous = torch.rand((100, n), generator=gen, dtype=F64)
    bids = torch.cat([bids, continuous])
    top_ties = (bids == bids.amax(-1, keepdim=True)).sum(-1) >= 2
    assert top_ties.any(), "the lattice must produce ties at the top"
    assert torch.equal(highest_competing_bid(bids), brute_force_competing(bids))


def test_highest_competing_bid_leading_shape():
    gen = torch.Generator().manual_seed(1)
    bids = torch.rand((3, 7, 4), generator=gen, dtype=F64)
    expected = brute_force_competing(bids.reshape(-1, 4)).reshape(3, 7, 4)
    assert torch.equal(highest_competing_bid(bids), expected)


# --- hard outcomes on hand-worked profiles ------------------------------------------------------

PROFILE = torch.tensor([[0.3, 0.7, 0.5]], dtype=F64)
VALUES = torch.tensor([[0.4, 0.9, 0.8]], dtype=F64)


@pytest.mark.parametrize(
    "mechanism, payments",
    [
        (FirstPrice(), [0.0, 0.7, 0.0]),
        (SecondPrice(), [0.0, 0.5, 0.0]),
        (AllPay(), [0.3, 0.7, 0.5]),
    ],
    ids=["first_price", "second_price", "all_pay"],
)
def test_hard_outcome_hand_worked(mechanism, payments):
    allocation, payment = mechanism.hard_outcome(PROFILE, torch.Generator().manual_seed(0))
    assert allocation.tolist() == [[0.0, 1.0, 0.0]]
    assert torch.allclose(payment, torch.tensor([payments], dtype=F64), atol=0, rtol=0)
    utility = mechanism.hard_utility(VALUES, PROFILE, torch.Generator().manual_seed(0))
    expected = VALUES * torch.tensor([[0.0, 1.0, 0.0]], dtype=F64) - torch.tensor(
        [payments], dtype=F64)
    assert torch.allclose(utility, expected, atol=1e-15, rtol=0)


@pytest.mark.parametrize(
    "mechanism, winner_pays, loser_pays",
    [(FirstPrice(), 0.6, 0.0), (SecondPrice(), 0.6, 0.0), (AllPay(), 0.6, 0.6)],
    ids=["first_price", "second_price", "all_pay"],
)
def test_hard_outcome_two_way_tie_is_fair(mechanism, winner_pays, loser_pays):
    draws = 200_000
    bids = torch.tensor([0.6, 0.6, 0.2], dtype=F64).expand(draws, 3)
    allocation, payment = mechanism.hard_outcome(bids, torch.Generator().manual_seed(42))
    assert torch.all(allocation.sum(-1) == 1.0)
    assert torch.all(allocation[:, 2] == 0.0)
    share = allocation[:, 0].mean().item()
    se = math.sqrt(0.25 / draws)
    assert abs(share - 0.5) < 5 * se
    won = allocation == 1.0
    assert torch.all(payment[won] == winner_pays)
    tied_loser = (~won)[:, :2]
    assert torch.all(payment[:, :2][tied_loser] == loser_pays)
    expected_low = 0.2 if isinstance(mechanism, AllPay) else 0.0
    assert torch.all(payment[:, 2] == expected_low)


def test_hard_allocation_three_way_tie_uniform_and_seeded():
    draws = 300_000
    bids = torch.full((draws, 3), 0.4, dtype=F64)
    allocation = hard_allocation(bids, torch.Generator().manual_seed(7))
    shares = allocation.mean(0)
    se = math.sqrt((1 / 3) * (2 / 3) / draws)
    assert torch.all((shares - 1 / 3).abs() < 5 * se), shares
    again = hard_allocation(bids, torch.Generator().manual_seed(7))
    assert torch.equal(allocation, again)
    other = hard_allocation(bids, torch.Generator().manual_seed(8))
    assert not torch.equal(allocation, other)


def test_hard_allocation_never_picks_a_non_top_bid():
    gen = torch.Generator().manual_seed(3)
    bids = torch.randint(0, 3, (5000, 4), generator=gen).to(F64)
    allocation = hard_allocation(bids, gen)
    assert torch.all(allocation.sum(-1) == 1)
    winner_bid = (allocation * bids).sum(-1)
    assert torch.equal(winner_bid, bids.amax(-1))


# --- smoothed utility -> hard utility ------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_smoothed_utility_tends_to_hard_utility(name):
    mechanism = make_mechanism(name)
    gen = torch.Generator().manual_seed(11)
    values = torch.rand((2000, 3), generator=gen, dtype=F64)
    bids = torch.rand((2000, 3), generator=gen, dtype=F64) * values
    # keep profiles whose every bid is at least 1e-4 away from its competing bid (no near ties)
    gap = (bids - highest_competing_bid(bids)).abs().amin(-1)
    keep = gap > 1e-4
    values, bids = values[keep], bids[keep]
    assert values.shape[0] > 1500
    hard = mechanism.hard_utility(values, bids)
    smooth = mechanism.smoothed_utility(values, bids, 1e6)
    assert torch.allclose(smooth, hard, atol=1e-12, rtol=0)
    # and at a moderate temperature it is visibly different (the test can fail)
    assert (mechanism.smoothed_utility(values, bids, 10.0) - hard).abs().max() > 1e-2


# --- closed-form bid gradient vs autograd --------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("beta", [3.0, 50.0])
@pytest.mark.parametrize("n", [2, 4])
def test_smoothed_bid_gradient_equals_autograd(name, beta, n):
    mechanism = make_mechanism(name)
    gen = torch.Generator().manual_seed(5)
    values = torch.rand((2, 300, n), generator=gen, dtype=F64)
    bids = (torch.rand((2, 300, n), generator=gen, dtype=F64) * values).requires_grad_(True)
    utility = mechanism.smoothed_utility(values, bids, beta)
    (grad,) = torch.autograd.grad(utility.sum(), bids)
    closed = mechanism.smoothed_bid_gradient(values, bids.detach(), beta)
    assert torch.allclose(closed, grad, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ALL)
def test_smoothed_bid_gradient_per_run_beta(name):
    """beta shaped [runs, 1, 1] (per-run temperatures) broadcasts like a scalar per run."""
    mechanism = make_mechanism(name)
    gen = torch.Generator().manual_seed(6)
    values = torch.rand((2, 50, 3), generator=gen, dtype=F64)
    bids = torch.rand((2, 50, 3), generator=gen, dtype=F64) * values
    beta = torch.tensor([5.0, 80.0], dtype=F64)[:, None, None]
    batched = mechanism.smoothed_bid_gradient(values, bids, beta)
    for r, b in enumerate([5.0, 80.0]):
        single = mechanism.smoothed_bid_gradient(values[r:r + 1], bids[r:r + 1], b)
        assert torch.allclose(batched[r:r + 1], single, atol=1e-15, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_smoothed_utility_detaches_opponents(name):
    """d u_j / d b_i = 0 for i != j: the relaxation gives each agent only its own derivative."""
    mechanism = make_mechanism(name)
    gen = torch.Generator().manual_seed(9)
    n = 4
    for _ in range(5):
        values = torch.rand(n, generator=gen, dtype=F64)
        bids = torch.rand(n, generator=gen, dtype=F64) * values

        def utility(b, values=values):
            return mechanism.smoothed_utility(values[None], b[None], 20.0)[0]

        jac = torch.autograd.functional.jacobian(utility, bids)
        off_diagonal = jac - torch.diag(torch.diagonal(jac))
        assert torch.all(off_diagonal == 0.0), jac
        diag = mechanism.smoothed_bid_gradient(values[None], bids[None], 20.0)[0]
        assert torch.allclose(torch.diagonal(jac), diag, atol=1e-12, rtol=0)


def test_undetached_relaxation_would_couple_agents():
    """Control for the test above: without the detach, u_j does depend on b_i (so it has teeth)."""
    values = torch.tensor([0.9, 0.8, 0.3], dtype=F64)
    bids = torch.tensor([0.5, 0.45, 0.2], dtype=F64)

    def coupled(b):
        competing = torch.stack([torch.cat([b[:i], b[i + 1:]]).max() for i in range(3)])
        return (values - b) * torch.sigmoid(20.0 * (b - competing))

    jac = torch.autograd.functional.jacobian(coupled, bids)
    assert jac[0, 1] != 0.0 and jac[1, 0] != 0.0


def test_first_price_smoothed_closed_form():
    values = torch.tensor([[0.8, 0.5]], dtype=F64)
    bids = torch.tensor([[0.4, 0.3]], dtype=F64)
    beta = 10.0
    sig = torch.sigmoid(torch.tensor([beta * 0.1, -beta * 0.1], dtype=F64))
    expected = torch.tensor([[0.4, 0.2]], dtype=F64) * sig
    assert torch.allclose(FirstPrice().smoothed_utility(values, bids, beta), expected,
                          atol=1e-15, rtol=0)
    expected_sp = torch.tensor([[0.8 - 0.3, 0.5 - 0.4]], dtype=F64) * sig
    assert torch.allclose(SecondPrice().smoothed_utility(values, bids, beta), expected_sp,
                          atol=1e-15, rtol=0)
    expected_ap = values * sig - bids
    assert torch.allclose(AllPay().smoothed_utility(values, bids, beta), expected_ap,
                          atol=1e-15, rtol=0)


# --- ex-interim utility vs Monte Carlo with hard outcomes ---------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_interim_utility_matches_monte_carlo(name):
    """E_m[u(v, b; m)] from LinearOpponents equals the mean hard utility over opponent draws."""
    mechanism = make_mechanism(name)
    prior = UniformPrior()
    w_others = torch.tensor([0.6, 0.9], dtype=F64)
    opponents = LinearOpponents(w_others[None], prior)
    own_v = torch.tensor([0.2, 0.5, 0.7, 0.95], dtype=F64)
    own_b = torch.tensor([0.1, 0.45, 0.3, 0.8], dtype=F64)
    exact = mechanism.interim_utility(own_v[None], own_b[None], opponents)[0]
    draws = 400_000
    gen = torch.Generator().manual_seed(21)
    opp_v = torch.rand((draws, 2), generator=gen, dtype=F64)
    for k in range(own_v.numel()):
        bids = torch.cat([own_b[k].expand(draws, 1), opp_v * w_others], dim=1)
        values = torch.cat([own_v[k].expand(draws, 1), opp_v], dim=1)
        u = mechanism.hard_utility(values, bids, gen)[:, 0]
        se = u.std().item() / math.sqrt(draws)
        assert abs(u.mean().item() - exact[k].item()) < 5 * se + 1e-9, (k, exact[k], u.mean())


def test_make_mechanism_unknown_name():
    with pytest.raises(ValueError, match="mechanism.*dutch.*allowed"):
        make_mechanism("dutch")
