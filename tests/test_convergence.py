"""The mechanism comparison: config errors, convergence steps, L2 distances, the tables and
macros of the report section, and the workflow rules."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from workflow_utils import REPO, dry_run_with_config, snakemake, workflow_copy

from diffauction.analysis.distance import l2_affine_on_grid, l2_linear_on_grid
from diffauction.experiments import mechanisms as conv
from diffauction.experiments import mechanisms_analysis as analysis
from diffauction.experiments.config import ConfigError, validate_config
from diffauction.experiments.nonlinear import BID_COLUMNS
from diffauction.report.mechanisms import (
    MACRO_NAMES,
    hypothesis,
    mechanism_macros,
    mechanism_tables,
)

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
TINY = dict(n_agents=3, units=2, prior={"name": "uniform", "low": 0.0, "high": 1.0},
            mechanisms=["first_price", "second_price", "all_pay", "pay_as_bid", "uniform_price",
                        "llg_vcg", "llg_nearest_vcg"],
            beta=[50, 200], beta_main=200, lr_start=0.02, lr_end=0.002,
            lr_schedule="geometric", batch_size=128, steps=40, seeds={"count": 2},
            w0={"low": 0.25, "high": 1.25}, record_every=5, tolerance=[0.05, 0.02],
            tail_fraction=0.1, grid_points=64, outcome_points=4096,
            diagnostic_samples=4096, dtype="float32",
            neural=dict(mechanisms=["all_pay", "pay_as_bid"],
                        policy={"name": "mlp", "hidden": [4], "activation": "tanh",
                                "shared": True},
                        w0_max=0.9, lr_start=0.02, lr_end=0.002, sampler="sobol", pairings=2,
                        ema_decay=0.9))
LINEAR_ONLY = {**TINY, "neural": {**TINY["neural"], "mechanisms": []}}


def comparison(**change) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["mechanism_comparison"] = {**cfg.get("mechanism_comparison", {}), **change}
    return cfg


# --- bad input: config errors naming the key ----------------------------------------------------


@pytest.mark.parametrize("change, key, allowed", [
    ({"units": 3}, "mechanism_comparison.units", "1 <= k < N"),
    ({"units": 5, "n_agents": 3}, "mechanism_comparison.units", "from 1 to 2"),
    ({"units": 0}, "mechanism_comparison.units", "1 <= k < n_agents"),
    ({"mechanisms": ["first_price", "dutch"]}, "mechanism_comparison.mechanisms.1",
     "allowed: first_price"),
    ({"n_agents": 4}, "mechanism_comparison.n_agents", "exactly 3 bidders"),
    ({"n_agents": 2, "mechanisms": ["llg_vcg"]}, "mechanism_comparison.n_agents", "allowed: 3"),
    ({"prior": {"name": "beta"}}, "mechanism_comparison.prior.name", "allowed: uniform"),
    ({"prior": {"name": "lognormal"}}, "mechanism_comparison.prior.name", "unknown prior"),
    ({"prior": {"name": "uniform", "low": 0.2}}, "mechanism_comparison.prior.low", "allowed: 0"),
    ({"prior": {"name": "uniform", "high": 2.0}}, "mechanism_comparison.prior.high",
     "allowed: 1"),
    ({"beta_main": 7}, "mechanism_comparison.beta_main", "one of them"),
    ({"w0": {"low": 1.0, "high": 0.5}}, "mechanism_comparison.w0.high", "high >= low"),
    ({"neural": {"mechanisms": ["llg_vcg"]}}, "mechanism_comparison.neural.mechanisms",
     "allowed: first_price"),
    ({"neural": {"policy": {"name": "linear"}}}, "mechanism_comparison.neural.policy.name",
     "allowed: mlp"),
    ({"neural": {"w0_max": 1.2}}, "mechanism_comparison.neural.w0_max", "(0, 1)"),
    ({"neural": {"sampler": "halton"}}, "mechanism_comparison.neural.sampler", "sobol"),
])
def test_bad_comparison_settings_name_the_key(change, key, allowed):
    with pytest.raises(ConfigError) as info:
        validate_config(comparison(**change))
    message = str(info.value)
    assert key in message and allowed in message, message


def test_k_unit_settings_without_k_unit_mechanisms_are_fine():
    cfg = validate_config(comparison(n_agents=2, units=5,
                                     mechanisms=["first_price", "second_price"]))
    assert cfg["mechanism_comparison"]["units"] == 5


def test_defaults_are_filled():
    cfg = validate_config({k: v for k, v in BASE.items() if k != "mechanism_comparison"})
    section = cfg["mechanism_comparison"]
    assert section["n_agents"] == 3 and section["units"] == 2
    assert section["prior"] == {"name": "uniform", "low": 0.0, "high": 1.0}
    assert section["w0"] == {"low": 0.25, "high": 1.25}
    assert conv.validate_section(section) == []


# --- references and distances -------------------------------------------------------------------


def test_targets():
    # with linear bids: pay as bid can reach only the linear-restricted equilibrium, all-pay none
    assert conv.target("all_pay", LINEAR_ONLY) == ("none", None)
    kind, ref = conv.target("pay_as_bid", LINEAR_ONLY)
    assert kind == "linear-restricted equilibrium"
    assert ref(torch.tensor(1.0, dtype=torch.float64)).item() == pytest.approx(2 / 7)
    # with the network both have their BNE: (N-1)/N v^N and (v - 2v^2/3)/(2 - v) for N=3, k=2
    v = torch.tensor([0.3, 0.8], dtype=torch.float64)
    kind, ref = conv.target("all_pay", TINY)
    assert kind == "BNE" and torch.allclose(ref(v), 2 / 3 * v**3)
    kind, ref = conv.target("pay_as_bid", TINY)
    assert kind == "BNE" and torch.allclose(ref(v), (v - 2 * v**2 / 3) / (2 - v))
    assert conv.policy_name("all_pay", TINY) == "mlp[4] tanh, shared"
    assert conv.policy_name("llg_vcg", TINY) == "affine"
    assert conv.policy_name("all_pay", LINEAR_ONLY) == "linear"
    kind, ref = conv.target("first_price", TINY)
    assert kind == "BNE" and ref(torch.tensor(0.9, dtype=torch.float64)).item() == \
        pytest.approx(0.6)
    kind, ref = conv.target("llg_nearest_vcg", TINY)
    assert ref(torch.tensor(0.1, dtype=torch.float64)).item() == 0.0


def test_l2_distances():
    grid = conv.value_grid(TINY, 4096)
    w = torch.tensor([0.5, 0.6, 1.0], dtype=torch.float64)
    l2 = l2_linear_on_grid(w, 2 / 3 * grid, grid)
    assert torch.allclose(l2, (w - 2 / 3).abs() / math.sqrt(3), atol=1e-6)
    params = torch.tensor([[0.0, 0.5], [-0.1, 1.0], [-0.3, 0.2]], dtype=torch.float64)
    ref = (grid - 0.17).clamp_min(0.0)
    brute = torch.stack([((p[0] + p[1] * grid).clamp_min(0.0) - ref).pow(2).mean().sqrt()
                         for p in params])
    assert torch.allclose(l2_affine_on_grid(params, ref, grid), brute, atol=1e-12)


def test_initial_slopes_and_run_table():
    assert conv.initial_slopes({**TINY, "seeds": {"count": 4}}) == [0.375, 0.625, 0.875, 1.125]
    runs = conv.run_table(TINY)
    assert len(runs) == 4 and runs["run"].tolist() == [0, 1, 2, 3]
    assert runs["beta"].tolist() == [50.0, 50.0, 200.0, 200.0]
    assert runs["w0"].tolist() == [0.5, 1.0, 0.5, 1.0]


# --- convergence steps on hand-made trajectories ------------------------------------------------


def hand_trajectory(series: dict[tuple[int, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (run, agent), values in series.items():
        for k, l2 in enumerate(values):
            rows.append({"mechanism": "m", "run": run, "beta": 50.0, "seed": run, "w0": 0.5,
                         "agent": agent, "step": 10 * k, "samples": 100 * k, "l2_target": l2})
    return pd.DataFrame(rows)


def test_convergence_step_is_the_first_step_after_the_last_exit():
    traj = hand_trajectory({
        (0, 0): [0.5, 0.009, 0.02, 0.008, 0.007],  # leaves once: converged at step 30
        (0, 1): [0.5, 0.001, 0.001, 0.001, 0.001],
        (1, 0): [0.005, 0.004, 0.003, 0.002, 0.001],  # inside from the start: step 0
        (1, 1): [0.005, 0.004, 0.003, 0.002, 0.001],
        (2, 0): [0.5, 0.001, 0.001, 0.001, 0.02],  # outside at the end: censored
        (2, 1): [0.5, 0.001, 0.001, 0.001, 0.001],
        (3, 0): [0.5, 0.001, 0.001, 0.001, float("nan")],  # no target: censored
        (3, 1): [0.5, 0.001, 0.001, 0.001, 0.001],
    })
    steps = analysis.convergence_steps(traj, 0.01).set_index("run")
    assert steps.loc[0, "converged_step"] == 30 and steps.loc[0, "converged_samples"] == 300
    assert steps.loc[1, "converged_step"] == 0
    assert math.isnan(steps.loc[2, "converged_step"])
    assert math.isnan(steps.loc[3, "converged_step"])
    assert steps.loc[0, "final_l2_target"] == 0.007  # the worst agent


def test_hypothesis_verdicts():
    summary = pd.DataFrame([
        {"mechanism": m, "beta": 50.0, "tolerance": 0.01, "target": t, "median_step": s}
        for m, t, s in [("second_price", "BNE", 40.0), ("uniform_price", "BNE", 45.0),
                        ("first_price", "BNE", 300.0), ("pay_as_bid", "x", 100.0),
                        ("all_pay", "none", np.inf), ("llg_nearest_vcg", "BNE", 700.0)]])
    out = hypothesis(summary, 0.01, 50.0)
    assert out["truthful_fastest"] is True
    assert out["first_slowest"] is False and out["slowest"] == ["llg_nearest_vcg"]
    assert out["fastest"] == ["second_price"]
    summary.loc[summary["mechanism"] == "pay_as_bid", "median_step"] = 42.0
    assert hypothesis(summary, 0.01, 50.0)["truthful_fastest"] is False


# --- the whole chain on a tiny setting ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_results():
    torch.set_num_threads(1)
    trajectories, runs = [], []
    for mechanism in TINY["mechanisms"]:
        traj, summary = conv.train_mechanism(TINY, mechanism)
        trajectories.append(traj)
        runs.append(summary)
    return pd.concat(trajectories, ignore_index=True), pd.concat(runs, ignore_index=True)


def test_train_mechanism_tables(tiny_results):
    trajectory, runs = tiny_results
    assert set(trajectory["mechanism"]) == set(TINY["mechanisms"])
    per_mechanism = trajectory.groupby("mechanism")["agent"].nunique()
    assert per_mechanism["llg_vcg"] == 2 and per_mechanism["first_price"] == 3
    assert trajectory["step"].max() == TINY["steps"]
    assert trajectory["l2_bne"].notna().all() and trajectory["l2_target"].notna().all()
    # step 0 is the initial profile: w = w0, a = 0 (linear and affine bids)
    neural = trajectory["mechanism"].isin(TINY["neural"]["mechanisms"])
    first = trajectory[(trajectory["step"] == 0) & ~neural]
    assert np.allclose(first["w"], first["w0"]) and (first["a"] == 0).all()
    assert trajectory[neural][["a", "w"]].isna().all().all()
    assert set(runs["target"]) == {"BNE"}
    # a network's runs record its bid function on the grid; the others record none
    net = runs["mechanism"].isin(TINY["neural"]["mechanisms"])
    assert runs.loc[net, BID_COLUMNS].notna().all().all()
    assert runs.loc[~net, BID_COLUMNS].isna().all().all()
    assert (runs.loc[net, "bid_000"] == 0).all()  # v·σ(f) at v = 0
    assert runs.loc[net, "w_tail"].isna().all()
    assert {"git_commit", "torch_version", "samples_per_run"} <= set(runs.columns)
    llg_runs = runs[runs["mechanism"] == "llg_vcg"]
    assert (llg_runs["samples_per_run"] == TINY["steps"] * TINY["batch_size"] * 3).all()


def test_tables_figures_and_macros(tiny_results, tmp_path):
    trajectory, runs = tiny_results
    per_run, summary = analysis.convergence_table(trajectory, runs, TINY["tolerance"])
    assert len(summary) == len(TINY["mechanisms"]) * 2 * 2
    assert (summary["runs"] == 2).all()
    outcomes = analysis.outcome_table(runs, TINY)
    theory = outcomes.set_index("mechanism")
    assert theory.loc["first_price", "revenue_bne"] == pytest.approx(0.5)
    assert theory.loc["pay_as_bid", "welfare_bne"] == pytest.approx(1.25)
    assert theory.loc["llg_vcg", "welfare_bne"] == pytest.approx(31 / 24, abs=1e-3)
    assert theory.loc["second_price", "welfare_mean"] == pytest.approx(0.75, abs=0.02)
    noise = analysis.gradient_diagnostics(TINY)
    assert set(noise["mechanism"]) == set(TINY["mechanisms"])  # every run class has a target
    assert (noise["curvature"] > 0).all()
    assert "all_pay" not in set(analysis.gradient_diagnostics(LINEAR_ONLY)["mechanism"])
    curves = analysis.l2_curves(trajectory, TINY["beta_main"])
    from diffauction.figures.mechanisms import bid_function_figure, convergence_figure
    convergence_figure(curves, summary, noise, TINY["tolerance"], TINY["steps"],
                       tmp_path / "c.pdf")
    bid_function_figure(runs, TINY, tmp_path / "b.png")
    assert (tmp_path / "c.pdf").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
    text = mechanism_macros(TINY, summary, per_run, outcomes, noise, runs)
    names = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", text)
    assert len(names) == len(set(names))
    for name in MACRO_NAMES.values():
        assert f"Mech{name}Steps" in names and f"Mech{name}Revenue" in names
        assert f"Mech{name}LTwoBNEMax" in names
    worst = summary[(summary["tolerance"] == TINY["tolerance"][0])
                    & (summary["beta"] == TINY["beta_main"])]["l2_bne_tail_max"].max()
    assert f"\\newcommand{{\\MechWorstLTwoBNE}}{{{worst:.4f}}}" in text
    assert "\\newcommand{\\MechNeuralNames}{all-pay and pay as bid}" in text
    # a mechanism left out still gets its macros ("--"), so the section compiles
    small = {**TINY, "mechanisms": ["first_price", "second_price"]}
    keep = runs["mechanism"].isin(small["mechanisms"])
    sub_per_run, sub_summary = analysis.convergence_table(
        trajectory[trajectory["mechanism"].isin(small["mechanisms"])], runs[keep],
        TINY["tolerance"])
    partial = mechanism_macros(small, sub_summary, sub_per_run, outcomes[
        outcomes["mechanism"].isin(small["mechanisms"])], noise[noise["mechanism"].isin(
            small["mechanisms"])], runs[keep])
    assert re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", partial) == names
    assert "\\newcommand{\\MechLlgVcgSteps}{--}" in partial
    tables = mechanism_tables(TINY, summary, outcomes, noise)
    assert set(tables) == {"convergence", "outcomes", "noise"}
    assert "\\label{tab:mechconv}" in tables["convergence"]
    assert "the target is the BNE for every mechanism" in tables["convergence"]
    linear_tables = mechanism_tables(LINEAR_ONLY, summary.assign(
        target=summary["mechanism"].map(lambda m: conv.target(m, LINEAR_ONLY)[0])),
        outcomes, noise)
    assert "except for all-pay (none), pay as bid (linear-restricted" in \
        linear_tables["convergence"]


# --- the workflow -------------------------------------------------------------------------------


def test_dry_run_lists_the_mechanism_rules(tmp_path):
    work = workflow_copy(tmp_path)
    result = snakemake(work, "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout + result.stderr
    for rule in ["mechanism_train", "mechanism_gradient_noise", "mechanism_analysis",
                 "figure_mechanism_convergence", "figure_mechanism_bids", "macros_mechanisms"]:
        assert rule in out


def test_bad_units_fail_the_dry_run_naming_the_key(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["mechanism_comparison"]["units"] = 3
    result, out = dry_run_with_config(tmp_path, config)
    assert result.returncode != 0
    assert "mechanism_comparison.units" in out and "Traceback" not in out


# --- networks for the non-linear equilibria -----------------------------------------------------


def test_neural_runs_start_from_the_clipped_shading_and_repeat_exactly():
    section = {**TINY, "steps": 10, "beta": [200], "seeds": {"count": 2}}
    setup = conv.neural_setup(section, "all_pay", conv.run_table(section))
    assert setup.w0 == [0.5, 0.9]  # 1.0 is clipped: the network bids below value
    assert setup.gradient == "autograd" and setup.gradient_options == {"pairings": 2}
    assert setup.policy["pretrain"] == "linear" and setup.ema_decay == 0.9
    traj, runs = conv.train_mechanism(section, "all_pay")
    # step 0 is the pre-trained network: its L2 to the BNE is that of w0·v, to a few 1e-3
    grid = conv.value_grid(section, section["grid_points"])
    bne = 2 / 3 * grid**3
    start = traj[traj["step"] == 0].groupby("run")["l2_bne"].max()
    expected = l2_linear_on_grid(torch.tensor(setup.w0, dtype=torch.float64), bne, grid)
    assert np.allclose(start.to_numpy(), expected.numpy(), atol=0.01)
    again_traj, again_runs = conv.train_mechanism(section, "all_pay")
    pd.testing.assert_frame_equal(traj, again_traj)
    pd.testing.assert_frame_equal(runs.drop(columns="git_commit"),
                                  again_runs.drop(columns="git_commit"))


def test_grid_profiles_reproduce_linear_outcomes():
    """A linear bid function recorded on the grid gives the linear profile's outcomes (linear
    interpolation is exact)."""
    w = torch.tensor([[0.6, 0.7, 0.65], [0.5, 0.5, 0.5]], dtype=torch.float64)
    grid = torch.linspace(0.0, 1.0, len(BID_COLUMNS), dtype=torch.float64)
    rows = [{"run": r, "agent": i, **dict(zip(BID_COLUMNS, (w[r, i] * grid).tolist(),
                                              strict=True))}
            for r in range(2) for i in range(3)]
    group = pd.DataFrame(rows)
    assert analysis.records_bid_functions(group)
    for mechanism in ("first_price", "pay_as_bid", "all_pay"):
        a = analysis.profile_outcome(mechanism, TINY, analysis.grid_profiles(group, TINY), 4096)
        b = analysis.profile_outcome(mechanism, TINY, analysis.linear_profiles(w), 4096)
        for key in a:
            assert torch.allclose(a[key], b[key], atol=1e-12), (mechanism, key)
