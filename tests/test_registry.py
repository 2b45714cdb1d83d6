"""One equilibrium registry, one L2 and one reach-and-stay criterion."""

from __future__ import annotations

import math

import pytest
import torch

from diffauction.analysis.convergence import first_stable_index, reach_and_stay
from diffauction.analysis.distance import (
    l2_distance,
    l2_linear,
    l2_linear_on_grid,
    l2_under_prior,
)
from diffauction.equilibria import multiunit
from diffauction.equilibria.llg import GLOBAL_HIGH, NEAREST_VCG_SHIFT
from diffauction.equilibria.registry import bne_bid, known_bne, linear_coefficient
from diffauction.game.mechanisms import ALL_MECHANISMS, LLG_MECHANISMS, MULTI_UNIT
from diffauction.game.priors import UniformPrior, value_midpoints

F64 = torch.float64
U = UniformPrior(0.0, 1.0)
V = torch.linspace(0.0, 1.0, 101, dtype=F64)


def setting(mechanism: str) -> tuple[list, int | None]:
    if mechanism in LLG_MECHANISMS:
        return [U, U, UniformPrior(0.0, GLOBAL_HIGH)], None
    return [U] * 3, (2 if mechanism in MULTI_UNIT else None)


@pytest.mark.parametrize("mechanism", sorted(ALL_MECHANISMS))
def test_every_mechanism_with_a_known_bne_resolves(mechanism):
    priors, units = setting(mechanism)
    bne = known_bne(mechanism, priors, units=units)
    assert bne is not None and bne.formula
    assert len(bne.bid_functions) == len(priors)
    bids = bne.bid(0, V)
    assert bids.shape == V.shape and bool(torch.isfinite(bids).all())
    assert bool((bids >= 0).all())
    if mechanism == "third_price":  # the one format whose bidders over-bid (Kagel & Levin 1993)
        assert bool((bids >= V).all())
    else:
        assert bool((bids <= V + 1e-12).all())
    # the symmetric lookup is the same bid function
    assert torch.allclose(bne_bid(mechanism, 3, U, V, units=units), bids, atol=1e-15)


def test_slopes():
    assert known_bne("first_price", [U] * 4).slope == pytest.approx(0.75)
    assert known_bne("second_price", [U] * 3).slope == 1.0
    assert known_bne("all_pay", [U] * 3).slope is None
    assert known_bne("first_price", [U] * 3, 0.5).slope == pytest.approx(2 / 2.5)
    assert known_bne("uniform_price", [U] * 3, units=2).slope == 1.0
    assert known_bne("pay_as_bid", [U] * 3, units=2).slope is None
    assert known_bne("pay_as_bid", [U] * 3, units=1).slope == pytest.approx(2 / 3)
    assert known_bne("llg_vcg", [U, U, UniformPrior(0, 2)]).slope == 1.0
    assert known_bne("llg_nearest_vcg", [U, U, UniformPrior(0, 2)]).slope is None
    assert linear_coefficient("first_price", 3, U) == 2 / 3


def test_k_unit_pay_as_bid_n3_k2_closed_form():
    v = torch.linspace(0.01, 1.0, 50, dtype=F64)
    expected = (v - 2 * v**2 / 3) / (2 - v)
    bne = known_bne("pay_as_bid", [U] * 3, units=2)
    assert torch.allclose(bne.bid(1, v), expected, atol=1e-12)
    assert torch.allclose(bne_bid("pay_as_bid", 3, UniformPrior(0.0, 2.0), 2 * v, units=2),
                          2 * expected, atol=1e-12)
    assert known_bne("pay_as_bid", [U] * 3) is None  # k-unit formats need the units
    assert known_bne("pay_as_bid", [U, U, UniformPrior(0.0, 0.5)], units=2) is None
    assert torch.equal(bne_bid("pay_as_bid", 3, U, v, units=2),
                       multiunit.pay_as_bid_bne(v, 3, 2))


def test_llg_nearest_vcg_shift():
    assert NEAREST_VCG_SHIFT == pytest.approx(3.0 - math.sqrt(8.0), abs=1e-15)
    bne = known_bne("llg_nearest_vcg", [U, U, UniformPrior(0.0, 2.0)])
    assert torch.allclose(bne.bid(0, V), (V - (3.0 - math.sqrt(8.0))).clamp_min(0.0))
    assert torch.equal(bne.bid(2, 2 * V), 2 * V)  # the global bids its value
    assert torch.equal(known_bne("llg_vcg", [U, U, UniformPrior(0.0, 2.0)]).bid(1, V), V)
    assert known_bne("llg_vcg", [U, U]) is None


def test_plum():
    a, b = 0.5, 1.0
    bne = known_bne("first_price", [UniformPrior(0.0, b), UniformPrior(0.0, a)])
    assert bne.kind == "plum" and bne.slope is None
    c = 1 / a**2 - 1 / b**2
    v = torch.linspace(0.0, a, 11, dtype=F64)
    assert torch.allclose(bne.bid(1, v), v / (1 + torch.sqrt(1 - c * v**2)))  # weak
    assert torch.allclose(bne.bid(0, 2 * v), 2 * v / (1 + torch.sqrt(1 + c * 4 * v**2)))
    assert float(bne.bid(1, torch.tensor([a], dtype=F64))) == pytest.approx(a * b / (a + b))


def test_unknown_settings():
    with pytest.raises(ValueError):
        bne_bid("all_pay", 2, UniformPrior(0.5, 1.0), V)
    with pytest.raises(ValueError, match="units"):
        bne_bid("uniform_price", 3, U, V, units=3)
    assert known_bne("all_pay", [UniformPrior(0, 0.5), U]) is None


def test_l2_of_a_bid_function_to_itself_is_zero_and_linear_closed_form():
    bne = known_bne("first_price", [U] * 3)
    assert float(l2_under_prior(lambda x: bne.bid(0, x), lambda x: bne.bid(0, x), U)) == 0.0
    w = torch.tensor([0.2, 0.5, 2 / 3, 0.9], dtype=F64)
    w_star = 2 / 3
    exact = (w - w_star).abs() / math.sqrt(3)
    by_prior = l2_under_prior(lambda x: w[:, None] * x, lambda x: w_star * x, U, 4096)
    assert torch.allclose(by_prior, exact, rtol=1e-6, atol=1e-12)
    assert torch.allclose(l2_linear(w, w_star, U), exact, atol=1e-15)
    grid = value_midpoints(U, 4096)
    assert torch.allclose(l2_linear_on_grid(w, w_star * grid, grid), by_prior, atol=1e-7)
    assert torch.allclose(l2_distance(w[:, None] * grid, w_star * grid), by_prior, atol=0)


@pytest.mark.parametrize(("distances", "expected"), [
    ([0.5, 0.2, 0.05, 0.01, 0.005], 40.0),  # reached at the 4th record and stays
    ([0.001, 0.002, 0.001], 10.0),  # inside from the first record
    ([0.5, 0.4, 0.3], math.nan),  # never reached
    ([0.5, 0.005, 0.001, 0.02], math.nan),  # reached, then left: censored
    ([0.5, 0.005, 0.02, 0.001], 40.0),  # left and came back: counted from the return
    ([0.5, float("nan"), 0.001], 30.0),  # NaN counts as outside
])
def test_reach_and_stay(distances, expected):
    points = [10.0 * (k + 1) for k in range(len(distances))]
    got = reach_and_stay(points, distances, 0.01)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_first_stable_index_is_batched():
    outside = torch.tensor([[True, False, True], [False, False, True], [False, True, True]])
    assert first_stable_index(outside).tolist() == [1, 3, 3]
