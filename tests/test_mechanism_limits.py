"""The k-unit and LLG mechanisms: hand-worked outcomes (ties included), VCG identities, the
β → ∞ limit of every relaxation, closed-form gradients, and the trainer running them unchanged."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from diffauction.game.mechanisms import (
    ALL_MECHANISMS,
    LLG_MECHANISMS,
    LLGVCG,
    MECHANISMS,
    FirstPrice,
    LLGNearestVCG,
    PayAsBid,
    SecondPrice,
    UniformPrice,
    kth_highest_competing_bid,
    make_mechanism,
    unit_demand_allocation,
)
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64)


def brute_kth_competing(bids: torch.Tensor, k: int) -> torch.Tensor:
    rows, n = bids.shape
    out = torch.empty_like(bids)
    for r, i in itertools.product(range(rows), range(n)):
        others = sorted((float(bids[r, j]) for j in range(n) if j != i), reverse=True)
        out[r, i] = others[k - 1]
    return out


# --- registry -----------------------------------------------------------------------------------


def test_single_item_registry_is_unchanged_and_all_mechanisms_extend_it():
    assert sorted(MECHANISMS) == ["all_pay", "first_price", "second_price"]
    assert set(ALL_MECHANISMS) == set(MECHANISMS) | {
        "third_price", "pay_as_bid", "uniform_price", "llg_vcg", "llg_nearest_vcg"}


def test_make_mechanism_params_and_instances():
    pab = make_mechanism("pay_as_bid", k=2)
    assert isinstance(pab, PayAsBid) and pab.k == 2
    assert make_mechanism(pab) is pab
    with pytest.raises(ValueError, match="units"):
        make_mechanism("uniform_price")  # k is required
    with pytest.raises(ValueError, match="units"):
        make_mechanism("pay_as_bid", k=0)
    with pytest.raises(ValueError, match="units"):
        make_mechanism("pay_as_bid", k=1.5)
    with pytest.raises(ValueError, match="mechanism.*already built"):
        make_mechanism(pab, k=3)
    with pytest.raises(ValueError, match="mechanism.*bad parameters"):
        make_mechanism("first_price", k=2)
    with pytest.raises(ValueError, match="mechanism.*dutch.*allowed.*llg_nearest_vcg"):
        make_mechanism("dutch")


@pytest.mark.parametrize("name", ["pay_as_bid", "uniform_price"])
def test_k_at_least_n_is_rejected_at_call_time(name):
    mechanism = make_mechanism(name, k=3)
    bids = t([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="units.*k=3.*N=3"):
        mechanism.hard_outcome(bids)
    with pytest.raises(ValueError, match="units"):
        mechanism.smoothed_utility(bids, bids, 10.0)


@pytest.mark.parametrize("name", LLG_MECHANISMS)
def test_llg_needs_three_bidders(name):
    with pytest.raises(ValueError, match="n_agents.*exactly 3"):
        make_mechanism(name).hard_outcome(t([[0.1, 0.2, 0.3, 0.4]]))
    with pytest.raises(ValueError, match="n_agents"):
        make_mechanism(name).smoothed_bid_gradient(t([[0.1, 0.2]]), t([[0.1, 0.2]]), 5.0)


# --- the k-th highest competing bid and the k-unit allocation -----------------------------------


@pytest.mark.parametrize("n", [3, 4, 5])
def test_kth_highest_competing_bid_matches_brute_force_with_ties(n):
    gen = torch.Generator().manual_seed(n)
    bids = torch.cat([torch.randint(0, 3, (300, n), generator=gen).to(F64) / 2,
                      torch.rand((50, n), generator=gen, dtype=F64)])
    for k in range(1, n):
        assert torch.equal(kth_highest_competing_bid(bids, k), brute_kth_competing(bids, k)), k
    with pytest.raises(ValueError, match="units"):
        kth_highest_competing_bid(bids, n)


def test_unit_demand_allocation_gives_k_units_to_the_top_bids():
    gen = torch.Generator().manual_seed(2)
    bids = torch.randint(0, 4, (4000, 5), generator=gen).to(F64)
    for k in (1, 2, 3, 4):
        allocation = unit_demand_allocation(bids, k, gen)
        assert torch.all(allocation.sum(-1) == k)
        # every winner's bid is at least every loser's bid
        lowest_winner = torch.where(allocation == 1, bids, torch.inf).amin(-1)
        highest_loser = torch.where(allocation == 0, bids, -torch.inf).amax(-1)
        assert torch.all(lowest_winner >= highest_loser)


@pytest.mark.parametrize("bids, k, shares", [
    ([0.7, 0.4, 0.4], 2, [1.0, 0.5, 0.5]),
    ([0.5, 0.5, 0.5, 0.2], 2, [2 / 3, 2 / 3, 2 / 3, 0.0]),
    ([0.3, 0.3, 0.3, 0.3], 3, [0.75, 0.75, 0.75, 0.75]),
    ([0.9, 0.2, 0.2, 0.2], 2, [1.0, 1 / 3, 1 / 3, 1 / 3]),
])
def test_ties_at_the_last_unit_are_broken_uniformly(bids, k, shares):
    draws = 120_000
    profile = t(bids).expand(draws, len(bids))
    allocation = unit_demand_allocation(profile, k, torch.Generator().manual_seed(11))
    got = allocation.mean(0)
    for share, value in zip(shares, got.tolist(), strict=True):
        se = math.sqrt(max(share * (1 - share), 1e-12) / draws)
        assert abs(value - share) <= 5 * se + 1e-12, (got, shares)
    again = unit_demand_allocation(profile, k, torch.Generator().manual_seed(11))
    assert torch.equal(allocation, again)


# --- hand-worked k-unit outcomes ----------------------------------------------------------------


def test_k_unit_payments_hand_worked():
    bids = t([[0.3, 0.9, 0.6, 0.5]])
    gen = torch.Generator().manual_seed(0)
    allocation, pay = PayAsBid(2).hard_outcome(bids, gen)
    assert allocation.tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert pay.tolist() == [[0.0, 0.9, 0.6, 0.0]]
    allocation, pay = UniformPrice(2).hard_outcome(bids, gen)
    assert allocation.tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert pay.tolist() == [[0.0, 0.5, 0.5, 0.0]]  # the third-highest bid
    allocation, pay = UniformPrice(3).hard_outcome(bids, gen)
    assert allocation.tolist() == [[0.0, 1.0, 1.0, 1.0]]
    assert pay.tolist() == [[0.0, 0.3, 0.3, 0.3]]


@pytest.mark.parametrize("mechanism, winner_pays", [(PayAsBid(2), 0.4), (UniformPrice(2), 0.4)])
def test_k_unit_tie_for_the_last_unit(mechanism, winner_pays):
    """Bids (0.7, 0.4, 0.4), k = 2: agent 0 wins, one of the tied agents wins the second unit;
    either way the uniform price is the third bid 0.4 and pay-as-bid charges the bids."""
    draws = 50_000
    bids = t([0.7, 0.4, 0.4]).expand(draws, 3)
    allocation, pay = mechanism.hard_outcome(bids, torch.Generator().manual_seed(3))
    assert torch.all(allocation[:, 0] == 1) and torch.all(allocation[:, 1:].sum(-1) == 1)
    first = 0.7 if isinstance(mechanism, PayAsBid) else 0.4
    assert torch.all(pay[:, 0] == first)
    won = allocation[:, 1:] == 1
    assert torch.all(pay[:, 1:][won] == winner_pays) and torch.all(pay[:, 1:][~won] == 0)
    assert abs(allocation[:, 1].mean().item() - 0.5) < 5 * math.sqrt(0.25 / draws)


def test_uniform_price_is_vcg_with_unit_demand():
    """Each winner pays its externality: the others' best welfare without it minus their
    welfare with it (brute force over all allocations of k units)."""
    gen = torch.Generator().manual_seed(4)
    for n, k in [(3, 2), (4, 2), (5, 3)]:
        bids = torch.rand((30, n), generator=gen, dtype=F64)
        _, pay = UniformPrice(k).hard_outcome(bids, gen)
        for r in range(bids.shape[0]):
            b = bids[r].tolist()

            def best(agents, units, b=b):
                return sum(sorted((b[j] for j in agents), reverse=True)[:units])

            winners = sorted(range(n), key=lambda j: -b[j])[:k]
            for i in range(n):
                others = [j for j in range(n) if j != i]
                with_i = sum(b[j] for j in winners if j != i)
                externality = best(others, k) - with_i
                assert pay[r, i].item() == pytest.approx(externality, abs=1e-12)


@pytest.mark.parametrize("pair", [(PayAsBid(1), FirstPrice()), (UniformPrice(1), SecondPrice())])
def test_one_unit_is_the_single_item_auction(pair):
    mine, single = pair
    gen = torch.Generator().manual_seed(5)
    values = torch.rand((3, 400, 4), generator=gen, dtype=F64)
    bids = torch.randint(0, 5, (3, 400, 4), generator=gen).to(F64) / 5  # many ties
    assert all(torch.equal(a, b) for a, b in zip(
        mine.hard_outcome(bids, torch.Generator().manual_seed(9)),
        single.hard_outcome(bids, torch.Generator().manual_seed(9)), strict=True))
    assert torch.allclose(mine.smoothed_utility(values, bids, 30.0),
                          single.smoothed_utility(values, bids, 30.0), atol=1e-15, rtol=0)
    assert torch.allclose(mine.smoothed_bid_gradient(values, bids, 30.0),
                          single.smoothed_bid_gradient(values, bids, 30.0), atol=1e-15, rtol=0)


# --- hand-worked LLG outcomes --------------------------------------------------------------------

LLG_PROFILES = [
    # (b0, b1, b2), VCG local prices, nearest-VCG local prices (locals win in all four)
    ((0.5, 0.4, 0.6), (0.2, 0.1), (0.35, 0.25)),  # both VCG prices positive
    ((0.3, 0.7, 0.5), (0.0, 0.2), (0.15, 0.35)),  # b2 <= b1: local 0's VCG price is 0
    ((0.6, 0.7, 0.2), (0.0, 0.0), (0.1, 0.1)),  # b2 below both: VCG pays 0, core splits b2
    ((0.5, 0.5, 0.9), (0.4, 0.4), (0.45, 0.45)),
]


@pytest.mark.parametrize("profile, vcg, nearest", LLG_PROFILES)
def test_llg_payments_hand_worked(profile, vcg, nearest):
    bids = t([profile])
    for mechanism, prices in ((LLGVCG(), vcg), (LLGNearestVCG(), nearest)):
        allocation, pay = mechanism.hard_outcome(bids, torch.Generator().manual_seed(0))
        assert allocation.tolist() == [[1.0, 1.0, 0.0]]
        assert pay[0, :2].tolist() == pytest.approx(list(prices), abs=1e-15)
        assert pay[0, 2].item() == 0.0


def test_llg_global_wins_and_pays_the_locals_bids():
    bids = t([[0.2, 0.3, 0.9]])
    for mechanism in (LLGVCG(), LLGNearestVCG()):
        allocation, pay = mechanism.hard_outcome(bids)
        assert allocation.tolist() == [[0.0, 0.0, 1.0]]
        assert pay[0].tolist() == pytest.approx([0.0, 0.0, 0.5], abs=1e-15)


@pytest.mark.parametrize("mechanism", [LLGVCG(), LLGNearestVCG()])
def test_llg_exact_tie_is_a_fair_coin(mechanism):
    draws = 100_000
    bids = t([0.25, 0.5, 0.75]).expand(draws, 3)  # 0.25 + 0.5 == 0.75 exactly
    allocation, pay = mechanism.hard_outcome(bids, torch.Generator().manual_seed(6))
    locals_win = allocation[:, 0] == 1
    assert torch.all(allocation[:, 1] == allocation[:, 0])
    assert torch.all(allocation[:, 2] == 1 - allocation[:, 0])
    assert abs(locals_win.double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / draws)
    # VCG prices (0.75 − 0.5, 0.75 − 0.25) already meet the core constraint: both rules agree
    assert torch.all(pay[locals_win] == t([0.25, 0.5, 0.0]))
    assert torch.all(pay[~locals_win] == t([0.0, 0.0, 0.75]))


def test_llg_vcg_prices_are_externalities_and_nearest_vcg_is_in_the_core():
    gen = torch.Generator().manual_seed(7)
    bids = torch.rand((5000, 3), generator=gen, dtype=F64) * t([1.0, 1.0, 2.0])
    _, vcg = LLGVCG().hard_outcome(bids, gen)
    _, core = LLGNearestVCG().hard_outcome(bids, gen)
    win = bids[:, 0] + bids[:, 1] > bids[:, 2]
    b = bids[win]
    # externality of local 0: best welfare of others without it, max(b1, b2), minus b1
    assert torch.allclose(vcg[win, 0], torch.maximum(b[:, 1], b[:, 2]) - b[:, 1], atol=1e-15)
    assert torch.allclose(vcg[win, 1], torch.maximum(b[:, 0], b[:, 2]) - b[:, 0], atol=1e-15)
    p = core[win, :2]
    assert torch.all(p.sum(-1) >= b[:, 2] - 1e-12)  # core: the global cannot block
    assert torch.all(p <= b[:, :2] + 1e-12)  # individually rational
    assert torch.all(p >= vcg[win, :2] - 1e-12)  # at least VCG
    # minimum revenue: the core constraint binds whenever VCG falls short of it
    short = vcg[win, :2].sum(-1) < b[:, 2]
    assert torch.allclose(p[short].sum(-1), b[short, 2], atol=1e-12)


# --- smoothed relaxations -----------------------------------------------------------------------

NEW = [(PayAsBid, 1), (PayAsBid, 2), (UniformPrice, 1), (UniformPrice, 2), (LLGVCG, None),
       (LLGNearestVCG, None)]


def build(cls, k):
    return cls(k) if k is not None else cls()


def random_profile(cls, k, seed, rows=3000):
    gen = torch.Generator().manual_seed(seed)
    n = 3 if k is None else 4
    scale = t([1.0, 1.0, 2.0]) if k is None else torch.ones(n, dtype=F64)
    values = torch.rand((rows, n), generator=gen, dtype=F64) * scale
    bids = torch.rand((rows, n), generator=gen, dtype=F64) * values
    if k is None:
        margin = (bids[:, 0] + bids[:, 1] - bids[:, 2]).abs()
    else:
        margin = (bids - kth_highest_competing_bid(bids, k)).abs().amin(-1)
    keep = margin > 1e-4
    return values[keep], bids[keep]


@pytest.mark.parametrize("cls, k", NEW)
def test_smoothed_utility_tends_to_hard_utility(cls, k):
    mechanism = build(cls, k)
    values, bids = random_profile(cls, k, 12)
    assert values.shape[0] > 2000
    hard = mechanism.hard_utility(values, bids)
    assert torch.allclose(mechanism.smoothed_utility(values, bids, 1e7), hard, atol=1e-12,
                          rtol=0)
    errors = [(mechanism.smoothed_utility(values, bids, beta) - hard).abs().mean().item()
              for beta in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2] > 0  # and it does converge, not jump


@pytest.mark.parametrize("cls, k", NEW)
@pytest.mark.parametrize("beta", [3.0, 50.0, "per_run"])
def test_smoothed_bid_gradient_equals_autograd(cls, k, beta):
    mechanism = build(cls, k)
    gen = torch.Generator().manual_seed(13)
    n = 3 if k is None else 4
    scale = t([1.0, 1.0, 2.0]) if k is None else torch.ones(n, dtype=F64)
    values = torch.rand((2, 300, n), generator=gen, dtype=F64) * scale
    bids = (torch.rand((2, 300, n), generator=gen, dtype=F64) * values).requires_grad_(True)
    if beta == "per_run":
        beta = t([5.0, 80.0])[:, None, None]
    (grad,) = torch.autograd.grad(mechanism.smoothed_utility(values, bids, beta).sum(), bids)
    closed = mechanism.smoothed_bid_gradient(values, bids.detach(), beta)
    assert torch.allclose(closed, grad, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("cls, k", NEW)
def test_smoothed_utility_detaches_opponents(cls, k):
    mechanism = build(cls, k)
    values, bids = random_profile(cls, k, 14, rows=20)
    for r in range(5):
        def utility(b, r=r):
            return mechanism.smoothed_utility(values[r][None], b[None], 20.0)[0]

        jac = torch.autograd.functional.jacobian(utility, bids[r])
        assert torch.all(jac - torch.diag(torch.diagonal(jac)) == 0.0), jac


def test_llg_fast_local_gradients_match_the_mechanism():
    gen = torch.Generator().manual_seed(15)
    for mechanism in (LLGVCG(), LLGNearestVCG()):
        values = torch.rand((4, 100, 3), generator=gen, dtype=F64) * t([1.0, 1.0, 2.0])
        bids = torch.rand((4, 100, 3), generator=gen, dtype=F64) * values
        beta = t([5.0, 20.0, 80.0, 300.0])[:, None, None]
        full = mechanism.smoothed_bid_gradient(values, bids, beta)
        g0, g1 = mechanism.local_bid_gradients(values[..., 0], values[..., 1], bids[..., 0],
                                               bids[..., 1], bids[..., 2], beta[..., 0])
        assert torch.allclose(g0, full[..., 0], atol=1e-14) and torch.allclose(
            g1, full[..., 1], atol=1e-14)


# --- the k-unit formats train with the project's trainer, unchanged ----------------------------


@pytest.mark.parametrize("name, target", [("pay_as_bid", 2 / 7), ("uniform_price", 1.0)])
def test_trainer_runs_k_unit_mechanisms(name, target):
    runs = 2
    setup = RunBatch(n_agents=3, seeds=[0, 1], beta_start=[400.0] * runs,
                     beta_end=[400.0] * runs, lr_start=[0.01] * runs, lr_end=[0.001] * runs,
                     lr_schedule="geometric", w0=[0.6] * runs, batch_size=2048, steps=400,
                     mechanism=make_mechanism(name, k=2), dtype="float64")
    result = train(setup)
    assert torch.allclose(result.tail_average, torch.full_like(result.tail_average, target),
                          atol=0.01), result.tail_average
