"""Non-linear policies in the trainer, the bid-function analysis, and the new config keys."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest
import torch

from diffauction.analysis.bid_functions import CompetingBids, bid_quantiles, revenue
from diffauction.analysis.metrics import LinearOpponents
from diffauction.equilibria.closed_form import known_bne
from diffauction.experiments.config import (
    GRID_POINTS,
    ConfigError,
    expand_experiment,
    resolve_experiment,
    select_runs,
    uses_bid_functions,
    validate_config,
)
from diffauction.experiments.nonlinear import BID_COLUMNS, NO_BNE_NOTE, analyse
from diffauction.experiments.nonlinear_tables import settings_summary
from diffauction.experiments.runs import analyse_experiment, run_training
from diffauction.game.priors import UniformPrior, make_agent_priors
from diffauction.game.risk import RiskAverseFirstPrice
from diffauction.learning import trainer as learners
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64
PLUM_PRIORS = [{"name": "uniform", "low": 0.0, "high": 0.5},
               {"name": "uniform", "low": 0.0, "high": 1.0}]
MLP = {"name": "mlp", "hidden": [6], "activation": "tanh", "w0": 0.5, "pretrain_steps": 30}


def mlp_setup(**overrides) -> RunBatch:
    runs = len(overrides.get("seeds", [0, 1]))
    base = dict(n_agents=2, seeds=[0, 1], beta_start=[50.0] * runs, beta_end=[50.0] * runs,
                lr_start=[1e-2] * runs, lr_end=[1e-2] * runs, w0=[0.5] * runs, batch_size=256,
                steps=6, dtype="float64", gradient="autograd", policy=dict(MLP),
                agent_priors=PLUM_PRIORS, grid_points=17)
    base.update(overrides)
    return RunBatch(**base)


# --- the trainer with neural policies ------------------------------------------------------------


def own_utility(values, own, competing, beta):
    """ũ_i of the first price written out without diffauction (nothing detached)."""
    return (values - own) * torch.sigmoid(beta * (own - competing))


def per_agent_and_cartel_gradients(policy, values, params, beta):
    """(Σ_i ∂ũ_i/∂θ through agent i's own bid only, ∂Σ_i ũ_i/∂θ through every bid)."""
    agents = values.shape[-1]
    own_paths = torch.zeros_like(params)
    for i in range(agents):
        theta = params.detach().clone().requires_grad_(True)
        bids = policy.bids(values, theta)
        others = torch.cat([bids[..., :i], bids[..., i + 1:]], -1).detach().amax(-1)
        u = own_utility(values[..., i], bids[..., i], others, beta[:, :, 0]).mean(1).sum()
        (g,) = torch.autograd.grad(u, theta)
        own_paths += g
    theta = params.detach().clone().requires_grad_(True)
    bids = policy.bids(values, theta)
    total = sum(own_utility(values[..., i], bids[..., i],
                            torch.cat([bids[..., :i], bids[..., i + 1:]], -1).amax(-1),
                            beta[:, :, 0]).mean(1).sum() for i in range(agents))
    (cartel,) = torch.autograd.grad(total, theta)
    return own_paths, cartel


@pytest.mark.parametrize("shared", [False, True])
def test_mlp_training_gradient_is_non_cooperative(monkeypatch, shared):
    calls = []
    original = learners.make_estimator

    def spying(*args, **kwargs):
        estimator = original(*args, **kwargs)

        def spy(values, params, beta, runs, out):
            grad = estimator(values, params, beta, runs, out)
            calls.append((estimator.policy, values.clone(), params.clone(), beta.clone(),
                          grad.clone()))
            return grad
        return spy

    monkeypatch.setattr(learners, "make_estimator", spying)
    setup = mlp_setup(n_agents=3, agent_priors=None, optimizer="sgd", lr_start=[0.05] * 2,
                      lr_end=[0.05] * 2, steps=3,
                      policy={**MLP, "shared": shared})
    train(setup)
    assert len(calls) == 3
    for policy, values, params, beta, grad in calls:
        expected, cartel = per_agent_and_cartel_gradients(policy, values, params, beta)
        assert torch.allclose(grad, expected, atol=1e-12, rtol=1e-9)
        assert (cartel - expected).abs().max() > 1e-3


def test_mlp_runs_do_not_depend_on_their_batch_mates():
    together = train(mlp_setup(seeds=[3, 4, 5], sampler="sobol"))
    alone = train(mlp_setup(seeds=[4], sampler="sobol"))
    assert torch.equal(together.params[:, 1:2], alone.params)
    assert torch.equal(together.bid_grid[:, 1:2], alone.bid_grid)
    assert together.params.shape[1:] == (3, 2, alone.params.shape[-1])
    assert together.bid_grid.shape == (7, 3, 17, 2)
    assert together.value_grid[-1].tolist() == [0.5, 1.0]
    # the bids recorded on the grid respect each agent's bounds
    assert (together.bid_grid >= 0).all()
    assert (together.bid_grid <= together.value_grid).all()


def test_analytic_gradient_is_refused_for_non_linear_policies():
    with pytest.raises(ValueError, match="gradient.*analytic"):
        train(mlp_setup(gradient="analytic"))


def test_linear_risk_averse_paths_agree_and_rho_one_is_risk_neutral():
    base = dict(n_agents=3, seeds=[0, 1], beta_start=[50.0] * 2, beta_end=[50.0] * 2,
                lr_start=[1e-2] * 2, lr_end=[1e-2] * 2, w0=[0.9, 0.6], batch_size=256, steps=15,
                dtype="float64", risk_aversion=[0.5, 0.8])
    analytic = train(RunBatch(**base))
    autograd = train(RunBatch(**base, gradient="autograd"))
    assert torch.allclose(analytic.params, autograd.params, atol=1e-10, rtol=0)
    assert (analytic.params[-1] - analytic.params[0]).abs().max() > 0.02
    neutral = train(RunBatch(**{**base, "risk_aversion": [1.0, 1.0]}))
    plain = train(RunBatch(**{**base, "risk_aversion": None}))
    assert torch.allclose(neutral.params, plain.params, atol=1e-9, rtol=0)


def test_crra_utility_is_concave_in_the_surplus():
    mech = RiskAverseFirstPrice(0.5)
    v = torch.tensor([[[1.0, 1.0]]], dtype=F64)
    b = torch.tensor([[[0.75, 0.0]]], dtype=F64)
    utility = mech.smoothed_utility(v, b, 1e6)  # agent 0 wins surely with surplus 0.25
    assert utility[0, 0, 0].item() == pytest.approx(0.5)
    assert utility[0, 0, 1].item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow
def test_mlp_learns_plums_equilibrium():
    """The nl_asymmetric experiment in miniature: both bidders within L2 0.01 of Plum (~4 s)."""
    runs = 4
    setup = mlp_setup(seeds=list(range(runs)), beta_start=[50.0] * runs,
                      beta_end=[1000.0] * runs, beta_schedule="geometric",
                      lr_start=[0.01] * runs, lr_end=[0.0005] * runs, lr_schedule="geometric",
                      w0=[0.5] * runs, batch_size=1024, steps=1000, sampler="sobol",
                      dtype="float32", policy={"name": "mlp", "hidden": [10],
                                               "activation": "tanh", "w0": 0.5},
                      grid_points=GRID_POINTS, record_every=100)
    result = train(setup)
    priors = make_agent_priors({"name": "uniform"}, PLUM_PRIORS, 2)
    bne = known_bne("first_price", priors)
    for i in range(2):
        grid = result.value_grid[:, i].double()
        error = result.bid_grid_tail[:, :, i].double() - bne.bid(i, grid)
        assert error.pow(2).mean(dim=1).sqrt().max() < 0.01


# --- the highest competing bid and revenue -------------------------------------------------------


def test_competing_bids_match_linear_opponents():
    prior = UniformPrior()
    w = torch.tensor([[0.5, 0.8], [0.3, 0.9]], dtype=F64)
    exact = LinearOpponents(w, prior)
    quantiles = [bid_quantiles(lambda x, j=j: w[:, j:j + 1] * x, prior, 4096) for j in range(2)]
    approx = CompetingBids(quantiles)
    b = torch.linspace(0.0, 1.0, 57, dtype=F64).expand(2, -1)
    assert torch.allclose(approx.cdf(b), exact.cdf(b), atol=1e-9)
    assert torch.allclose(approx.partial_mean(b), exact.partial_mean(b), atol=1e-6)


def test_competing_bids_with_an_atom_at_zero():
    prior = UniformPrior()
    quantiles = [bid_quantiles(lambda x: torch.clamp(x - 0.25, min=0.0)[None, :], prior, 4096)]
    competing = CompetingBids(quantiles)
    cdf = competing.cdf(torch.tensor([[0.0, 1e-9, 0.25, 0.75, 0.8]], dtype=F64))
    assert cdf[0].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0, 1.0], abs=1e-6)


@pytest.mark.parametrize("n", [2, 4])
def test_revenue_of_symmetric_uniform_formats(n):
    prior = UniformPrior()
    bne = known_bne("first_price", [prior] * n)
    q = [bid_quantiles(lambda x: bne.bid(0, x)[None, :], prior, 4096)] * n
    assert revenue("first_price", q).item() == pytest.approx((n - 1) / (n + 1), abs=1e-6)
    assert torch.isnan(revenue("pay_as_bid", q)).all()


# --- analysis of bid functions -------------------------------------------------------------------


def synthetic_summary(resolved: dict, bids_of, runs: int = 2) -> pd.DataFrame:
    """A runs.csv as the trainer writes it, with given bid functions on the grid."""
    rows = []
    n = resolved["n_agents"]
    priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n)
    for r in range(runs):
        for i in range(n):
            grid = torch.linspace(priors[i].low, priors[i].high, GRID_POINTS, dtype=F64)
            rows.append({"experiment": resolved["name"], "config_hash": "x", "run": r, "seed": r,
                         "n_agents": n, "sampler": "iid", "beta_start": 1.0, "beta_end": 1.0,
                         "risk_aversion": 1.0, "agent": i, "policy": "mlp[4] tanh",
                         "prior": "p", "w_tail": float("nan"), "samples_per_run": 10,
                         **dict(zip(BID_COLUMNS, bids_of(r, i, grid).tolist(), strict=True))})
    return pd.DataFrame(rows)


def resolved_setting(**overrides) -> dict:
    exp = {"n_agents": 2, "beta": 50, "optimizer": {"name": "adam", "lr": 0.01},
           "batch_size": 64, "steps": 3, "seeds": [0, 1], "gradient": "autograd",
           "policy": {"name": "mlp", "hidden": [4]}}
    exp.update(overrides)
    cfg = validate_config({"experiments": {"x": exp}, "analysis": {"br_values": 32,
                                                                   "br_bids": 256}})
    return resolve_experiment(cfg, "x")


def test_analysis_of_the_bne_itself_is_zero_and_a_shift_is_measured():
    resolved = resolved_setting(agent_priors=PLUM_PRIORS)
    priors = make_agent_priors(resolved["prior"], PLUM_PRIORS, 2)
    bne = known_bne("first_price", priors)
    shift = 0.01
    frame = synthetic_summary(resolved, lambda r, i, v: bne.bid(i, v) + (shift if r else 0.0))
    metrics = analyse(resolved, frame)
    at_bne = metrics[metrics["run"] == 0]
    assert at_bne["l2_bne"].max() < 1e-5 and at_bne["utility_loss_vs_bne"].abs().max() < 1e-4
    assert at_bne["eps_ex_interim"].max() < 5e-4
    assert (at_bne["metric_note"] == "").all() and (at_bne["bne"] == "plum").all()
    shifted = metrics[metrics["run"] == 1]
    assert shifted["l2_bne"].to_numpy() == pytest.approx([shift, shift], abs=1e-5)
    assert (shifted["utility_loss_vs_bne"] > 0).all() and (shifted["eps_ex_ante"] > 0).all()
    assert metrics["revenue_bne"].iloc[0] == pytest.approx(0.2295, abs=1e-4)
    summary = settings_summary({"x": metrics}, {"x": resolved})
    assert len(summary) == 2 and summary["l2_best_linear"].min() > 0.01


def test_unknown_bne_falls_back_to_epsilon_nash_and_says_so():
    resolved = resolved_setting(agent_priors=PLUM_PRIORS, mechanism="all_pay")
    frame = synthetic_summary(resolved, lambda r, i, v: 0.5 * v ** 2)
    metrics = analyse(resolved, frame)
    assert (metrics["metric_note"] == NO_BNE_NOTE).all()
    assert metrics[["l2_bne", "linf_bne", "utility_loss_vs_bne"]].isna().all().all()
    assert metrics["eps_ex_ante"].notna().all() and (metrics["eps_ex_ante"] >= 0).all()


def test_metrics_key_limits_the_columns():
    resolved = resolved_setting(metrics=["l2"])
    frame = synthetic_summary(resolved, lambda r, i, v: 0.5 * v)
    metrics = analyse(resolved, frame)
    assert metrics["l2_bne"].max() < 1e-9
    assert metrics[["eps_ex_ante", "utility_loss_vs_bne", "linf_bne"]].isna().all().all()


def test_pipeline_trains_and_analyses_a_general_experiment(tmp_path):
    resolved = resolved_setting(n_agents=[2, 3], prior={"name": "beta", "a": 2, "b": 5},
                                policy={"name": "mlp", "hidden": [4], "shared": True,
                                        "pretrain_steps": 10},
                                seeds=[0, 1], record_every=2, steps=4)
    assert uses_bid_functions(resolved)
    run_training(resolved, tmp_path / "t.csv", tmp_path / "r.csv")
    summary, trajectory = pd.read_csv(tmp_path / "r.csv"), pd.read_csv(tmp_path / "t.csv")
    assert len(summary) == 2 * 2 + 2 * 3 and set(BID_COLUMNS) <= set(summary)
    assert len(trajectory) == 3 * (2 * 2 + 2 * 3)
    assert {"gradient_norm", "movement", "risk_aversion", "policy"} <= set(trajectory)
    metrics = analyse_experiment(resolved, summary, trajectory)
    assert len(metrics) == len(summary)
    assert metrics["l2_bne"].notna().all() and (metrics["bne"] == "first_price_integral").all()


# --- configuration -------------------------------------------------------------------------------


def test_seed_experiments_keep_the_linear_path():
    resolved = resolve_experiment(validate_config({"experiments": {"x": {
        "n_agents": 2, "beta": 50, "optimizer": {"name": "adam", "lr": 0.01},
        "batch_size": 64, "steps": 3, "seeds": [0]}}}), "x")
    assert not uses_bid_functions(resolved)
    (setup, runs), = expand_experiment(resolved)
    assert setup.grid_points == 0 and setup.risk_aversion is None and setup.agent_priors is None
    assert "risk_aversion" not in runs[0]


def test_risk_aversion_sweep_expands_to_runs_and_blocks():
    resolved = resolved_setting(n_agents=[2, 3], risk_aversion=[0.5, 1.0], seeds=[0, 1, 2],
                                policy={"name": "linear"}, gradient="analytic")
    programs = expand_experiment(resolved)
    assert [len(runs) for _, runs in programs] == [6, 6]
    setup, runs = programs[0]
    assert setup.risk_aversion == [0.5] * 3 + [1.0] * 3
    assert [r["risk_aversion"] for r in runs] == setup.risk_aversion
    assert setup.grid_points == GRID_POINTS
    (block, block_runs), = select_runs(programs, 2, 5)
    assert block.risk_aversion == [0.5, 1.0, 1.0] and block.seeds == [2, 0, 1]
    assert [r["run"] for r in block_runs] == [2, 3, 4]


def experiment_with(**changes) -> dict:
    exp = {"n_agents": 2, "beta": 50, "optimizer": {"name": "adam", "lr": 0.01},
           "batch_size": 64, "steps": 3, "seeds": [0]}
    for key, value in changes.items():
        exp[key] = value
    return {"experiments": {"x": exp}}


BAD = [
    ("uniform bounds", dict(prior={"name": "uniform", "low": 1.0, "high": 0.5}),
     "experiments.x.prior", "low < high"),
    ("agent bounds", dict(agent_priors=[{"name": "uniform", "low": 0.6, "high": 0.5},
                                        {"name": "uniform"}]),
     "experiments.x.agent_priors.0", "low < high"),
    ("beta shape zero", dict(prior={"name": "beta", "a": 0, "b": 5}),
     "experiments.x.prior.a", "a number > 0"),
    ("beta shape negative", dict(agent_priors=[{"name": "beta", "a": 2, "b": -1},
                                               {"name": "uniform"}]),
     "experiments.x.agent_priors.0.b", "a number > 0"),
    ("beta shape missing", dict(prior={"name": "beta", "a": 2}),
     "experiments.x.prior.name", "beta {a, b"),
    ("uniform with a shape", dict(prior={"name": "uniform", "a": 2}),
     "experiments.x.prior.a", "only a beta prior"),
    ("rho zero", dict(risk_aversion=0), "experiments.x.risk_aversion", "(0, 1]"),
    ("rho above one", dict(risk_aversion=[0.5, 1.5]), "experiments.x.risk_aversion", "(0, 1]"),
    ("rho with all-pay", dict(risk_aversion=0.5, mechanism="all_pay"),
     "experiments.x.risk_aversion", "first_price"),
    ("zero width", dict(policy={"name": "mlp", "hidden": [8, 0]}, gradient="autograd"),
     "experiments.x.policy.hidden.1", ">= 1"),
    ("no layers", dict(policy={"name": "mlp", "hidden": []}, gradient="autograd"),
     "experiments.x.policy.hidden", "non-empty"),
    ("mlp analytic", dict(policy={"name": "mlp"}), "experiments.x.gradient", "autograd"),
    ("hidden on linear", dict(policy={"name": "linear", "hidden": [4]}),
     "experiments.x.policy.hidden", "only for policy mlp"),
    ("shared asymmetric", dict(policy={"name": "mlp", "shared": True}, gradient="autograd",
                               agent_priors=PLUM_PRIORS),
     "experiments.x.policy.shared", "identical priors"),
    ("agent count", dict(n_agents=[2, 3], agent_priors=PLUM_PRIORS),
     "experiments.x.agent_priors", "one prior per agent"),
    ("unknown bne", dict(mechanism="all_pay", agent_priors=PLUM_PRIORS, metrics=["l2"]),
     "experiments.x.metrics", "eps_nash"),
    ("unknown bne crra beta", dict(prior={"name": "beta", "a": 2, "b": 2}, risk_aversion=0.5,
                                   metrics=["utility_loss", "eps_nash"]),
     "experiments.x.metrics", "does not know"),
    ("metric name", dict(metrics=["l3"]), "experiments.x.metrics", "l2, linf"),
]


@pytest.mark.parametrize("name, changes, key, allowed", BAD, ids=[b[0] for b in BAD])
def test_bad_settings_are_config_errors_naming_the_key(name, changes, key, allowed):
    with pytest.raises(ConfigError) as info:
        validate_config(experiment_with(**changes))
    message = str(info.value)
    assert key in message and allowed in message, message


def test_good_settings_validate():
    cfg = validate_config(experiment_with(
        agent_priors=PLUM_PRIORS, policy={"name": "mlp", "hidden": [10], "activation": "tanh"},
        gradient="autograd", metrics=["l2", "eps_nash"]))
    exp = cfg["experiments"]["x"]
    assert exp["policy"] == {"name": "mlp", "hidden": [10], "activation": "tanh", "w0": 0.9}
    validate_config(experiment_with(mechanism="all_pay", agent_priors=PLUM_PRIORS,
                                    metrics="auto"))
    validate_config(experiment_with(risk_aversion=[0.5, 1.0], n_agents=[2, 3]))
    cfg = copy.deepcopy(cfg)
    assert dataclasses.is_dataclass(expand_experiment(resolve_experiment(cfg, "x"))[0][0])
