"""The third-price auction, added through the game and equilibria layers only: its hard rule,
its smoothed relaxation against autograd and the β → ∞ limit, its BNE (N−1)/(N−2)·v
(Kagel & Levin 1993), and the trainer learning that over-bidding slope."""

from __future__ import annotations

import pytest
import torch

from diffauction.equilibria.closed_form import (
    bne_bid,
    bne_linear_coefficient,
    bne_revenue,
    known_bne,
)
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import UniformPrior, make_agent_priors
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64


def test_winner_pays_the_third_highest_bid():
    mech = make_mechanism("third_price")
    bids = torch.tensor([[0.3, 0.9, 0.5, 0.1]], dtype=F64)
    allocation, payment = mech.hard_outcome(bids)
    assert allocation.tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert payment.tolist() == [[0.0, 0.3, 0.0, 0.0]]
    values = torch.tensor([[0.4, 0.8, 0.6, 0.2]], dtype=F64)
    assert mech.hard_utility(values, bids)[0].tolist() == pytest.approx([0.0, 0.5, 0.0, 0.0])


def test_two_bidders_are_rejected_with_the_key():
    with pytest.raises(ValueError, match="n_agents: third_price needs at least 3 bidders"):
        make_mechanism("third_price").hard_outcome(torch.rand(4, 2))
    with pytest.raises(ValueError, match="n_agents"):
        bne_linear_coefficient("third_price", 2, UniformPrior())


def test_smoothed_gradient_matches_autograd_and_the_hard_limit():
    mech = make_mechanism("third_price")
    gen = torch.Generator().manual_seed(0)
    values = torch.rand((3, 64, 4), generator=gen, dtype=F64)
    bids = (0.9 * values).requires_grad_(True)
    utility = mech.smoothed_utility(values, bids, 30.0).sum()
    (auto,) = torch.autograd.grad(utility, bids)
    torch.testing.assert_close(mech.smoothed_bid_gradient(values, bids.detach(), 30.0), auto)
    # β → ∞: the smoothed utility tends to the hard one (no ties among continuous bids)
    hard = mech.hard_utility(values, bids.detach())
    smooth = mech.smoothed_utility(values, bids.detach(), 1e7)
    torch.testing.assert_close(smooth, hard, atol=1e-9, rtol=0)


@pytest.mark.parametrize(("n", "slope"), [(3, 2.0), (4, 1.5), (5, 4 / 3)])
def test_bne_is_the_over_bidding_slope(n, slope):
    prior = UniformPrior(0.0, 1.0)
    assert bne_linear_coefficient("third_price", n, prior) == pytest.approx(slope)
    v = torch.linspace(0, 1, 11, dtype=F64)
    torch.testing.assert_close(bne_bid("third_price", n, prior, v), slope * v)
    bne = known_bne("third_price", make_agent_priors({"name": "uniform"}, None, n))
    torch.testing.assert_close(bne.bid(0, v), slope * v)
    assert bne_revenue("third_price", n, prior) == pytest.approx((n - 1) / (n + 1))


def test_bne_is_a_best_response_by_monte_carlo():
    """Against N−1 = 3 opponents bidding 1.5·v, a bidder's expected hard utility over a grid of
    slopes peaks at the BNE slope 1.5 (revenue-equivalent utility 1/(N(N+1)) = 0.05)."""
    n, w_star = 4, 1.5
    gen = torch.Generator().manual_seed(1)
    values = torch.rand((400_000, n), generator=gen, dtype=F64)
    mech = make_mechanism("third_price")
    slopes = torch.tensor([1.2, 1.35, 1.5, 1.65, 1.8], dtype=F64)
    utilities = []
    for w in slopes:
        bids = w_star * values
        bids[:, 0] = w * values[:, 0]
        utilities.append(float(mech.hard_utility(values, bids)[:, 0].mean()))
    assert max(range(len(slopes)), key=utilities.__getitem__) == 2
    assert utilities[2] == pytest.approx(1 / (n * (n + 1)), abs=2e-3)


def test_trainer_learns_the_third_price_equilibrium():
    """Smoothed gradient ascent from w0 = 1 (truthful) climbs to the BNE slope 1.5 for N = 4."""
    setup = RunBatch(n_agents=4, seeds=[0, 1], beta_start=[200.0] * 2, beta_end=[200.0] * 2,
                     lr_start=[0.01] * 2, lr_end=[0.001] * 2, lr_schedule="geometric",
                     w0=[1.0, 1.0], batch_size=4096, steps=1500, mechanism="third_price",
                     dtype="float64")
    result = train(setup)
    w_star = bne_linear_coefficient("third_price", 4, UniformPrior())
    assert (result.tail_average - w_star).abs().max() < 0.03, result.tail_average


def test_a_config_experiment_trains_and_is_scored_against_its_bne(tmp_path):
    """Third price through the pipeline's own steps: a config experiment with the new name trains
    and is analysed (L2 to its BNE; no utility metrics, which need an interim utility)."""
    import pandas as pd

    from diffauction.experiments.config import ConfigError, resolve_experiment, validate_config
    from diffauction.experiments.runs import analyse_experiment, run_training

    exp = {"n_agents": 3, "mechanism": "third_price", "beta": 100,
           "optimizer": {"name": "adam", "lr": 0.01}, "policy": {"name": "linear", "w0": 1.0},
           "batch_size": 1024, "steps": 300, "seeds": [0, 1]}
    analysis = {"br_values": 32, "br_bids": 64}
    resolved = resolve_experiment(validate_config({"experiments": {"x": exp},
                                                   "analysis": analysis}), "x")
    run_training(resolved, tmp_path / "trajectory.csv", tmp_path / "runs.csv")
    summary = pd.read_csv(tmp_path / "runs.csv")
    metrics = analyse_experiment(resolved, summary, pd.read_csv(tmp_path / "trajectory.csv"))
    assert (metrics["bne"] == "third_price").all()
    assert metrics["l2_bne"].between(0.0, 0.15).all(), metrics["l2_bne"]
    assert metrics["utility_loss_vs_bne"].isna().all() and metrics["eps_ex_ante"].isna().all()
    with pytest.raises(ConfigError, match="experiments.x.n_agents: third_price needs at least 3"):
        validate_config({"experiments": {"x": {**exp, "n_agents": [2, 3]}}})
