"""Pipeline steps as plain functions: block splitting, determinism, table layout."""

from __future__ import annotations

import filecmp

import pandas as pd

from diffauction.experiments.config import count_runs, resolve_experiment, validate_config
from diffauction.experiments.runs import run_training
from diffauction.io import concatenate_csv


def small_config(**overrides) -> dict:
    experiment = {
        "n_agents": [2, 3], "beta": [25, 100], "sampler": ["iid", "sobol"],
        "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 64, "steps": 30,
        "seeds": {"count": 2}, "record_every": 10, **overrides,
    }
    return validate_config({"experiments": {"sweep": experiment}})


def test_blocks_merge_to_the_unsplit_tables(tmp_path):
    resolved = resolve_experiment(small_config(), "sweep")
    assert count_runs(resolved) == 2 * 2 * 2 * 2
    whole = tmp_path / "whole"
    run_training(resolved, whole / "trajectory.csv", whole / "runs.csv")
    size = 3  # deliberately not a divisor of the 16 runs, and cutting across programs
    blocks = range(-(-16 // size))
    parts = tmp_path / "parts"
    for block in blocks:
        run_training(resolved, parts / f"{block}.trajectory.csv", parts / f"{block}.runs.csv",
                     block=block, runs_per_job=size)
    for name in ["trajectory", "runs"]:
        concatenate_csv([parts / f"{b}.{name}.csv" for b in blocks], tmp_path / f"{name}.csv")
        assert filecmp.cmp(whole / f"{name}.csv", tmp_path / f"{name}.csv", shallow=False), name


def test_same_config_same_seed_identical_tables(tmp_path):
    resolved = resolve_experiment(small_config(), "sweep")
    for name in ["a", "b"]:
        run_training(resolved, tmp_path / name / "trajectory.csv", tmp_path / name / "runs.csv")
    for table in ["trajectory.csv", "runs.csv"]:
        assert filecmp.cmp(tmp_path / "a" / table, tmp_path / "b" / table, shallow=False)


def test_tables_record_seed_config_and_versions(tmp_path):
    resolved = resolve_experiment(small_config(), "sweep")
    run_training(resolved, tmp_path / "trajectory.csv", tmp_path / "runs.csv")
    runs = pd.read_csv(tmp_path / "runs.csv")
    for column in ["experiment", "config_hash", "seed", "package_version", "git_commit",
                   "torch_version", "python_version", "device", "beta_start", "sampler",
                   "lr_start"]:
        assert column in runs, column
    trajectory = pd.read_csv(tmp_path / "trajectory.csv")
    assert list(trajectory[["run", "step", "agent"]].itertuples(index=False)) == sorted(
        trajectory[["run", "step", "agent"]].itertuples(index=False))
    assert set(trajectory["seed"]) == {0, 1}
    # the sample count is exact: steps × batch × agents
    last = trajectory[trajectory["step"] == 30]
    assert (last["samples"] == 30 * 64 * last["n_agents"]).all()


def test_gradient_options_reach_the_trainer_and_the_config_hash(tmp_path):
    """An experiment's autograd options (re-pairings, per-value weights) change its runs and its
    configuration hash; an experiment without them keeps the hash it had."""
    plain = resolve_experiment(small_config(n_agents=3, gradient="autograd"), "sweep")
    weighted = resolve_experiment(small_config(
        n_agents=3, gradient="autograd",
        gradient_options={"pairings": 2, "value_power": 1.0, "value_floor": 0.2}), "sweep")
    assert "gradient_options" not in plain
    for name, resolved in [("plain", plain), ("weighted", weighted)]:
        run_training(resolved, tmp_path / name / "trajectory.csv", tmp_path / name / "runs.csv")
    a, b = (pd.read_csv(tmp_path / name / "runs.csv") for name in ["plain", "weighted"])
    assert a["config_hash"].nunique() == b["config_hash"].nunique() == 1
    assert a["config_hash"][0] != b["config_hash"][0]
    ta, tb = (pd.read_csv(tmp_path / name / "trajectory.csv") for name in ["plain", "weighted"])
    assert not ta["w"].equals(tb["w"])
