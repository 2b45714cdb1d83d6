"""The LLG auction's equilibria, outcomes and learner."""

from __future__ import annotations

import math

import pytest
import torch

from diffauction.analysis import outcomes
from diffauction.equilibria import llg as equilibrium
from diffauction.equilibria.registry import bne_bid
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior
from diffauction.learning import llg

F64 = torch.float64


def nearest_vcg_bid(values):
    return bne_bid("llg_nearest_vcg", 3, UniformPrior(), values)


def test_bne_params_and_bids():
    assert equilibrium.bne_params("llg_vcg") == (0.0, 1.0)
    a, w = equilibrium.bne_params("llg_nearest_vcg")
    assert a == pytest.approx(-(3 - math.sqrt(8))) and w == 1.0
    v = torch.tensor([0.0, 0.1, 0.5, 1.0], dtype=F64)
    assert torch.allclose(nearest_vcg_bid(v),
                          (v - 0.171572875).clamp_min(0.0), atol=1e-9)
    with pytest.raises(ValueError, match="mechanism"):
        equilibrium.bne_params("first_price")


def test_vcg_outcome_matches_closed_forms():
    """Truthful VCG: welfare E[max(v0 + v1, v2)] = 31/24; revenue and utilities by an
    independent plain Monte-Carlo estimate."""
    out = outcomes.bne_outcome("llg_vcg", points=2**18)
    assert out["welfare"] == pytest.approx(31 / 24, abs=2e-4)
    assert out["efficiency"] == pytest.approx(1.0)
    draws = 1_000_000
    gen = torch.Generator().manual_seed(1)
    values = torch.rand((draws, 3), generator=gen, dtype=F64) * torch.tensor([1, 1, 2.0],
                                                                            dtype=F64)
    allocation, pay = make_mechanism("llg_vcg").hard_outcome(values, gen)
    revenue = pay.sum(-1)
    se = revenue.std().item() / math.sqrt(draws)
    assert abs(revenue.mean().item() - out["revenue"]) < 5 * se + 2e-4


def test_nearest_vcg_bne_utilities_match_the_literature():
    out = outcomes.bne_outcome("llg_nearest_vcg", points=2**18)
    local, global_ = equilibrium.ANCHOR_UTILITIES["llg_nearest_vcg"]
    assert out["utility_local"] == pytest.approx(local, abs=2e-4)
    assert out["utility_global"] == pytest.approx(global_, abs=2e-4)
    assert out["efficiency"] < 1.0  # shading makes the global win inefficiently


@pytest.mark.parametrize("v", [0.1, 0.3, 0.6, 0.9])
def test_nearest_vcg_bne_is_a_best_response_per_value(v):
    """Local 0 with value v against the BNE local and the truthful global: the BNE bid is within
    the grid error of the best bid on a grid (quasi-Monte-Carlo over the opponents)."""
    mechanism = make_mechanism("llg_nearest_vcg")
    opponents = outcomes.sobol_values(2**15, seed=3)[:, 1:]  # (v1, v2)
    other = nearest_vcg_bid(opponents[:, 0])

    def utility(b):
        bids = torch.stack([torch.full_like(other, b), other, opponents[:, 1]], dim=-1)
        allocation, pay = mechanism.hard_outcome(bids)
        return (v * allocation[:, 0] - pay[:, 0]).mean().item()

    grid = [i / 200 for i in range(201)]
    best = max(utility(b) for b in grid)
    b_star = nearest_vcg_bid(torch.tensor(v, dtype=F64)).item()
    assert utility(b_star) >= best - 5e-4


def test_expected_outcome_is_batched_over_profiles():
    params = torch.tensor([[[0.0, 1.0], [0.0, 1.0]], [[-0.1, 1.0], [-0.2, 0.9]]], dtype=F64)
    batched = outcomes.expected_outcome("llg_nearest_vcg", params, points=2**12)
    for p in range(2):
        single = outcomes.expected_outcome("llg_nearest_vcg", params[p:p + 1], points=2**12)
        for key in batched:
            assert batched[key][p].item() == pytest.approx(single[key][0].item(), abs=1e-12)


@pytest.mark.parametrize("mechanism, target", [("llg_vcg", (0.0, 1.0)),
                                               ("llg_nearest_vcg", (-0.1716, 1.0))])
def test_train_llg_reaches_the_bne(mechanism, target):
    result = llg.train_llg(mechanism, seeds=[0, 1], beta=[100.0, 100.0], w0=[0.6, 1.1],
                           steps=600, batch_size=2048, lr_start=0.02, lr_end=0.001,
                           record_every=50, dtype=torch.float64)
    assert result.params.shape == (len(result.steps), 2, 2, 2)
    assert result.samples_per_run == 600 * 2048 * 3
    assert result.learner == "llg" and result.seeds == [0, 1]
    assert result.gradient.shape == result.params.shape
    assert torch.allclose(result.tail_average[..., 0], torch.full((2, 2), target[0],
                                                                  dtype=F64), atol=0.03)
    assert torch.allclose(result.tail_average[..., 1], torch.full((2, 2), target[1],
                                                                  dtype=F64), atol=0.05)


def test_train_llg_is_seeded_and_rejects_other_mechanisms():
    kwargs = dict(seeds=[5], beta=[50.0], w0=[0.8], steps=20, batch_size=64, lr_start=0.01,
                  lr_end=0.01, lr_schedule="constant")
    a = llg.train_llg("llg_vcg", **kwargs)
    b = llg.train_llg("llg_vcg", **kwargs)
    assert torch.equal(a.params, b.params)
    with pytest.raises(ValueError, match="mechanism.*LLG"):
        llg.train_llg("first_price", **kwargs)
    with pytest.raises(ValueError, match="one entry per run"):
        llg.train_llg("llg_vcg", **{**kwargs, "beta": [1.0, 2.0]})
