"""Tests for diffauction.learning.baselines: NPGA, REINFORCE and Hedge on the hard auction."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from diffauction.analysis.distance import l2_distance
from diffauction.equilibria.closed_form import bne_bid
from diffauction.experiments.learners import run_learner
from diffauction.game.mechanisms import MECHANISMS, make_mechanism
from diffauction.game.priors import UniformPrior
from diffauction.learning.baselines import (
    HedgeConfig,
    NPGAConfig,
    ReinforceConfig,
    SmoothedConfig,
    TrainResult,
    competing_bids,
    expected_hard_utility,
    grid_feedback,
    grid_feedback_reference,
    npga_gradient,
    train_hedge,
    train_npga,
    train_reinforce,
    train_smoothed,
)

# Small, fast settings that still learn (the defaults are tuned for accuracy, not test time).
FAST = {
    "npga": (train_npga, NPGAConfig(population=16, batch_size=256, lr=0.01), 200),
    "reinforce": (train_reinforce, ReinforceConfig(batch_size=1024, lr=0.005), 400),
    "hedge": (train_hedge, HedgeConfig(value_bins=16, bid_points=33, batch_size=64), 150),
}
LEARNERS = sorted(FAST)


def fast_run(name, seeds, w0=0.9, mechanism="first_price", n_agents=2, steps=None, **kw):
    trainer, cfg, default_steps = FAST[name]
    return trainer(n_agents, seeds, steps or default_steps, w0=w0, mechanism=mechanism,
                   config=cfg, **kw)


# --- the hard utility with ties in expectation ------------------------------------------------


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_expected_utility_equals_hard_utility_without_ties(mechanism):
    gen = torch.Generator().manual_seed(0)
    values = torch.rand((3, 500, 4), generator=gen, dtype=torch.float64)
    bids = values * torch.rand((3, 1, 4), generator=gen, dtype=torch.float64)
    mech = make_mechanism(mechanism)
    torch.testing.assert_close(expected_hard_utility(mech, values, bids),
                               mech.hard_utility(values, bids, gen), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_expected_utility_is_the_tie_break_average(mechanism):
    values = torch.tensor([[[0.9, 0.7, 0.6, 0.2]]], dtype=torch.float64)
    bids = torch.tensor([[[0.4, 0.4, 0.4, 0.1]]], dtype=torch.float64)  # three-way tie at top
    m, k = competing_bids(bids)
    assert k.tolist() == [[[2.0, 2.0, 2.0, 3.0]]]
    mech = make_mechanism(mechanism)
    gen = torch.Generator().manual_seed(1)
    draws = mech.hard_utility(values.expand(1, 60000, 4), bids.expand(1, 60000, 4), gen)
    torch.testing.assert_close(expected_hard_utility(mech, values, bids)[0, 0],
                               draws.mean(1)[0], rtol=0, atol=0.01)


# --- learning on first price (BNE w* = 1/2) and second price (truthful, w* = 1) ---------------


@pytest.mark.parametrize("name", LEARNERS)
def test_moves_to_first_price_bne_from_above(name):
    traj = fast_run(name, [0, 1, 2])
    assert traj.params.shape[1:] == (3, 2)
    assert torch.allclose(traj.params[0], torch.tensor(0.9, dtype=traj.params.dtype), atol=0.01)
    error = (traj.final - 0.5).abs()  # 0.4 at the start
    assert error.max() < 0.1 and error.mean() < 0.05, traj.final


@pytest.mark.parametrize("name", LEARNERS)
def test_moves_to_truthful_in_second_price_from_below(name):
    traj = fast_run(name, [0, 1, 2], w0=0.5, mechanism="second_price")
    assert (traj.final > 0.8).all(), traj.final


def test_hedge_from_uniform_weights_and_three_bidders():
    traj = train_hedge(3, [0, 1], 150, w0=None, config=FAST["hedge"][1])
    assert (traj.final - 2 / 3).abs().max() < 0.06
    mids = traj.extras["value_midpoints"]
    bne = bne_bid("first_price", 3, UniformPrior(0.0, 1.0), mids)
    assert l2_distance(traj.extras["bid_function"][-1], bne).max() < 0.03


# --- accounting, determinism, independence of runs --------------------------------------------


@pytest.mark.parametrize("baseline, evaluations", [("current", 17), ("mean", 16)])
def test_npga_sample_count(baseline, evaluations):
    cfg = NPGAConfig(population=16, batch_size=32, baseline=baseline)
    traj = train_npga(3, [0], 10, config=cfg, record_every=4)
    assert traj.steps.tolist() == [0, 4, 8, 10]
    # samples = valuations drawn; the population's evaluations of them are counted separately
    assert traj.samples.tolist() == [t * 32 * 3 for t in (0, 4, 8, 10)]
    assert traj.samples_per_run == 10 * 32 * 3
    assert traj.evaluations_per_sample == evaluations


@pytest.mark.parametrize("name", ["reinforce", "hedge"])
def test_sample_count_batch_times_agents(name):
    trainer, cfg, _ = FAST[name]
    traj = trainer(3, [0, 1], 7, config=cfg, record_every=3)
    assert traj.steps.tolist() == [0, 3, 6, 7]
    assert traj.samples.tolist() == [t * cfg.batch_size * 3 for t in (0, 3, 6, 7)]


@pytest.mark.parametrize("name", [*LEARNERS, "smoothed"])
def test_every_learner_returns_the_one_result_type(name):
    trainer, cfg = FAST[name][:2] if name in FAST else (train_smoothed,
                                                          SmoothedConfig(batch_size=32))
    result = trainer(2, [3, 4], 5, config=cfg, record_every=2)
    assert isinstance(result, TrainResult)
    assert (result.learner, result.seeds) == (name, [3, 4])
    assert result.params.shape == (4, 2, 2) and torch.equal(result.final, result.params[-1])
    assert result.samples_per_run == 5 * cfg.batch_size * 2
    assert result.evaluations_per_sample == cfg.evaluations_per_sample()
    # the loop's learners carry its gradient, β and learning rate; Hedge has none of them
    assert (result.gradient is None) == (result.beta is None) == (name == "hedge")


@pytest.mark.parametrize("name", LEARNERS)
def test_deterministic_given_seeds(name):
    a = fast_run(name, [3, 4], steps=20)
    b = fast_run(name, [3, 4], steps=20)
    assert torch.equal(a.params, b.params)
    c = fast_run(name, [5, 4], steps=20)
    assert not torch.equal(a.params[:, 0], c.params[:, 0])
    assert torch.equal(a.params[:, 1], c.params[:, 1])


@pytest.mark.parametrize("name", LEARNERS)
def test_runs_are_independent_of_batching(name):
    alone = fast_run(name, [2], steps=30)
    batched = fast_run(name, [0, 1, 2], steps=30)
    torch.testing.assert_close(alone.params[:, 0], batched.params[:, 2], rtol=1e-6, atol=1e-7)


# --- NPGA: non-cooperative pseudo-gradient ----------------------------------------------------


def test_npga_agent_gradient_uses_only_its_own_perturbations():
    mech = make_mechanism("first_price")
    gen = torch.Generator().manual_seed(0)
    values = torch.rand((2, 512, 3), generator=gen, dtype=torch.float64)
    theta = torch.tensor([[0.9, 0.7, 0.6], [0.5, 0.5, 0.8]], dtype=torch.float64)
    eps = torch.randn((2, 32, 3), generator=gen, dtype=torch.float64)
    base = npga_gradient(mech, values, theta, eps, 0.05)
    other = eps.clone()
    other[:, :, 1:] = torch.randn((2, 32, 2), generator=gen, dtype=torch.float64)
    changed = npga_gradient(mech, values, theta, other, 0.05)
    assert torch.equal(changed[:, 0], base[:, 0])  # agent 0 ignores the others' perturbations
    assert not torch.equal(changed[:, 1:], base[:, 1:])


def test_npga_gradient_points_towards_the_best_response():
    # against an opponent at the BNE (w = 0.5), over-bidding (0.9) and under-bidding (0.2) in a
    # first-price auction both lose utility: the pseudo-gradient must point back towards 0.5
    mech = make_mechanism("first_price")
    gen = torch.Generator().manual_seed(0)
    values = torch.rand((1, 4096, 2), generator=gen, dtype=torch.float64)
    eps = torch.randn((1, 256, 2), generator=gen, dtype=torch.float64)
    high = npga_gradient(mech, values, torch.tensor([[0.9, 0.5]], dtype=torch.float64), eps, 0.05)
    low = npga_gradient(mech, values, torch.tensor([[0.2, 0.5]], dtype=torch.float64), eps, 0.05)
    assert high[0, 0] < 0 < low[0, 0]


# --- REINFORCE and Hedge specifics ------------------------------------------------------------


def test_reinforce_sigma_respects_floor_and_fixed_option():
    cfg = ReinforceConfig(batch_size=128, lr=0.05, sigma=0.1, sigma_min=0.05)
    traj = train_reinforce(2, [0], 100, config=cfg)
    assert (traj.extras["sigma"] >= 0.05 - 1e-6).all()
    fixed = train_reinforce(2, [0], 20, config=ReinforceConfig(batch_size=64, learn_sigma=False))
    assert torch.allclose(fixed.extras["sigma"], torch.tensor(0.1))


def test_hedge_weights_normalised_and_bid_function_monotone():
    traj = fast_run("hedge", [0, 1], steps=400)
    weights = traj.extras["weights"]  # [runs, agents, bins, grid]
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=weights.dtype))
    bids = traj.extras["bid_function"][-1]  # [runs, agents, bins]
    steps = bids.diff(dim=-1)
    assert (steps > -0.02).all()  # monotone up to small noise
    assert (steps > 0).float().mean() > 0.8
    mids = traj.extras["value_midpoints"]
    assert (bids - mids / 2).abs().max() < 0.06
    l2 = l2_distance(bids, mids / 2)
    assert l2.max() < 0.03


# --- one interface for the comparison ---------------------------------------------------------

COLUMNS = ["learner", "n_agents", "mechanism", "seed", "run", "step", "samples", "agent", "w",
           "l2"]


@pytest.mark.parametrize("name, config", [
    ("smoothed", SmoothedConfig(batch_size=256)),
    ("npga", {"population": 8, "batch_size": 64}),
    ("reinforce", {"batch_size": 128}),
    ("hedge", {"batch_size": 64, "value_bins": 8, "bid_points": 17}),
])
def test_run_learner_frame(name, config):
    budget = 200_000
    df = run_learner(name, 2, "first_price", seeds=[7, 8], budget_samples=budget, config=config,
                     records=5)
    assert isinstance(df, pd.DataFrame)
    assert set(COLUMNS) <= set(df.columns)
    assert set(df["learner"]) == {name} and set(df["seed"]) == {7, 8}
    assert set(df["run"]) == {0, 1} and set(df["agent"]) == {0, 1}
    per_step, steps = df.attrs["samples_per_step"], df.attrs["steps"]
    assert steps == budget // per_step
    assert df["samples"].max() == steps * per_step <= budget
    assert (df["samples"] == df["step"] * per_step).all()
    first = df[df["step"] == 0]
    assert (first["w"] - 0.9).abs().max() < 0.01
    assert ((df["l2"] - (df["w"] - 0.5).abs() / math.sqrt(3)).abs() < 1e-9).all()
    assert len(df) == df["step"].nunique() * 2 * 2


@pytest.mark.parametrize("name", ["smoothed", "npga", "reinforce", "hedge"])
def test_run_learner_log_spaced_records(name):
    config = {"smoothed": {"batch_size": 64}, "npga": {"population": 4, "batch_size": 32},
              "reinforce": {"batch_size": 64}, "hedge": {"batch_size": 32, "value_bins": 8,
                                                         "bid_points": 9}}[name]
    df = run_learner(name, 2, seeds=[0], budget_samples=64 * 2 * 300, config=config,
                     records=12, spacing="log")
    steps = sorted(df["step"].unique())
    assert steps[0] == 0 and steps[1] == 1 and steps[-1] == df.attrs["steps"]
    assert 8 <= len(steps) <= 14
    gaps = [b / a for a, b in zip(steps[1:-1], steps[2:], strict=True)]
    assert max(gaps) < 4  # roughly even in log(step), not in step
    evaluations = {"smoothed": 1, "npga": 5, "reinforce": 1, "hedge": 9}[name]
    assert df.attrs["evaluations_per_sample"] == evaluations


def test_smoothed_sobol_sampler_is_used():
    iid = run_learner("smoothed", 2, seeds=[0], budget_samples=20_000, config={"batch_size": 64})
    sobol = run_learner("smoothed", 2, seeds=[0], budget_samples=20_000,
                        config={"batch_size": 64, "sampler": "sobol"})
    assert iid["w"].tolist() != sobol["w"].tolist()


def test_run_learner_rejects_unknown_learner():
    with pytest.raises(ValueError, match="learner"):
        run_learner("sgd", 2, seeds=[0], budget_samples=1000)


# --- Hedge's full-information feedback: fast path against brute force --------------------------


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
@pytest.mark.parametrize("n_agents", [2, 4])
def test_grid_feedback_matches_brute_force(mechanism, n_agents):
    gen = torch.Generator().manual_seed(n_agents)
    runs, batch, bins, n_grid = 3, 200, 5, 9  # coarse grid: many ties at the top
    grid = torch.linspace(0.0, 1.0, n_grid, dtype=torch.float64)
    values = torch.rand((runs, batch, n_agents), generator=gen, dtype=torch.float64)
    choice = torch.randint(0, n_grid, (runs, batch, n_agents), generator=gen)
    bins_of = (values * bins).long()
    rows = (torch.arange(runs)[:, None, None] * n_agents + torch.arange(n_agents)) * bins + bins_of
    n_rows = runs * n_agents * bins
    mech = make_mechanism(mechanism)
    fast = grid_feedback(mech, values, choice, grid, rows, n_rows)
    slow = grid_feedback_reference(mech, values, choice, grid, rows, n_rows)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-10)
