"""The workflow's steps as plain functions: each reads files, calls the science, writes files.

Snakemake scripts (``workflow/scripts``) and the command line (``python -m diffauction``) are
thin wrappers around these, so every step can be re-run and tested on its own.
"""

from __future__ import annotations

import pandas as pd
import torch

from diffauction.analysis.convergence import stabilisation_step
from diffauction.analysis.distance import l2_linear
from diffauction.analysis.metrics import best_response_gap, relative_utility_loss
from diffauction.equilibria.registry import linear_coefficient
from diffauction.equilibria.smoothed import smoothed_symmetric_equilibrium
from diffauction.experiments import nonlinear
from diffauction.experiments.config import (
    config_hash,
    expand_experiment,
    select_runs,
    uses_bid_functions,
)
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_prior
from diffauction.io import provenance, write_csv
from diffauction.learning.trainer import TrainResult, device_label, resolve_device, train

RUN_KEYS = ["experiment", "config_hash", "run", "seed", "n_agents", "sampler", "beta_start",
            "beta_end"]


def trajectory_table(result: TrainResult, runs: list[dict], meta: dict, batch_size: int
                     ) -> pd.DataFrame:
    """Tidy per-step table: one row per (recorded step, run, agent)."""
    k, n_runs, agents = result.params.shape
    index = pd.MultiIndex.from_product([range(k), range(n_runs), range(agents)],
                                       names=["k", "run_index", "agent"])
    frame = index.to_frame(index=False)
    run_meta = pd.DataFrame(runs)
    frame = frame.join(run_meta, on="run_index")
    frame["step"] = result.steps.numpy()[frame["k"]]
    frame["samples"] = frame["step"] * batch_size * agents  # valuations drawn so far, per run
    frame["w"] = result.params.double().reshape(-1).numpy()
    frame["gradient"] = result.gradient.double().reshape(-1).numpy()
    frame["beta"] = result.beta.double().numpy()[frame["k"], frame["run_index"]]
    frame["lr"] = result.lr.double().numpy()[frame["k"], frame["run_index"]]
    frame["movement"] = result.movement.double().numpy()[frame["k"], frame["run_index"]]
    for key, value in meta.items():
        frame[key] = value
    return frame[RUN_KEYS + ["step", "samples", "agent", "w", "gradient", "beta", "lr",
                             "movement"]]


def summary_table(result: TrainResult, runs: list[dict], meta: dict, resolved: dict,
                  setup) -> pd.DataFrame:
    """One row per (run, agent): final and tail-averaged slope, the BNE, the sampling cost."""
    prior = make_prior(resolved["prior"])
    rows = []
    for r, run in enumerate(runs):
        w_bne = linear_coefficient(resolved["mechanism"], run["n_agents"], prior)
        for i in range(setup.n_agents):
            rows.append({
                **meta, **run, "agent": i,
                "mechanism": resolved["mechanism"],
                "lr_start": setup.lr_start[r], "lr_end": setup.lr_end[r],
                "beta_schedule": setup.beta_schedule, "lr_schedule": setup.lr_schedule,
                "optimizer": setup.optimizer, "batch_size": setup.batch_size,
                "steps": setup.steps, "samples_per_run": result.samples_per_run,
                "w0": setup.w0[r],
                "w_final": float(result.final[r, i]),
                "w_tail": float(result.tail_average[r, i]),
                "w_bne": w_bne,
            })
    frame = pd.DataFrame(rows)
    for key, value in provenance().items():
        frame[key] = value
    return frame


def run_training(resolved: dict, trajectory_path, summary_path, block: int = 0,
                 runs_per_job: int = 0) -> None:
    """Train an experiment's runs (all, or block ``block`` of ``runs_per_job`` runs) and write
    their trajectory and summary tables, rows sorted by (run, step, agent)."""
    torch.set_num_threads(resolved["threads"])
    meta = {"experiment": resolved["name"], "config_hash": config_hash(resolved),
            "device": device_label(resolve_device(resolved["device"]))}
    programs = expand_experiment(resolved)
    if runs_per_job:
        programs = select_runs(programs, block * runs_per_job, (block + 1) * runs_per_job)
    trajectories, summaries = [], []
    general = uses_bid_functions(resolved)  # bid functions on a value grid (nonlinear.py)
    for setup, runs in programs:
        result = train(setup)
        if general:
            trajectories.append(nonlinear.trajectory_table(result, runs, meta, setup))
            summaries.append(nonlinear.summary_table(result, runs, meta, resolved, setup))
            continue
        trajectories.append(trajectory_table(result, runs, meta, setup.batch_size))
        summaries.append(summary_table(result, runs, meta, resolved, setup))
    trajectory = pd.concat(trajectories, ignore_index=True).sort_values(
        ["run", "step", "agent"], kind="stable")
    summary = pd.concat(summaries, ignore_index=True).sort_values(["run", "agent"], kind="stable")
    write_csv(trajectory, trajectory_path)
    write_csv(summary, summary_path)


def analyse_experiment(resolved: dict, summary: pd.DataFrame, trajectory: pd.DataFrame
                       ) -> pd.DataFrame:
    """Hard-auction equilibrium quality of every learned profile (tail-averaged slopes)."""
    if uses_bid_functions(resolved):  # per-agent metrics of bid functions (nonlinear.py)
        return nonlinear.analyse(resolved, summary, trajectory)
    analysis = resolved["analysis"]
    prior = make_prior(resolved["prior"])
    mechanism = make_mechanism(resolved["mechanism"])
    out = []
    for n_agents, group in summary.groupby("n_agents", sort=True):
        group = group.sort_values(["run", "agent"])
        wide = group.pivot(index="run", columns="agent", values="w_tail")
        w = torch.tensor(wide.to_numpy(), dtype=torch.float64)
        w_star = linear_coefficient(mechanism.name, int(n_agents), prior)
        gap = best_response_gap(mechanism, prior, w, value_nodes=analysis["br_values"],
                                bid_nodes=analysis["br_bids"])
        loss = relative_utility_loss(mechanism, prior, w)
        traj = trajectory[trajectory["n_agents"] == n_agents]
        steps = torch.tensor(sorted(traj["step"].unique()))
        cube = traj.sort_values(["step", "run", "agent"])["w"].to_numpy().reshape(
            len(steps), len(wide.index), int(n_agents))
        stable = stabilisation_step(steps, torch.tensor(cube), w, analysis["stable_tolerance"])
        final_move = traj[traj["step"] == steps[-1].item()].sort_values(["run", "agent"])
        for r, run in enumerate(wide.index):
            for i in range(int(n_agents)):
                row = group[(group["run"] == run) & (group["agent"] == i)].iloc[0]
                out.append({
                    **{k: row[k] for k in RUN_KEYS + ["agent"]},
                    "w_tail": row["w_tail"], "w_final": row["w_final"], "w_bne": w_star,
                    "abs_error": abs(row["w_tail"] - w_star),
                    "l2_bne": float(l2_linear(w[r, i], w_star, prior)),
                    "utility_loss_vs_bne": float(loss[r, i]),
                    "utility_vs_learned": float(gap["utility"][r, i]),
                    "eps_ex_ante": float(gap["loss_ex_ante"][r, i]),
                    "eps_ex_interim": float(gap["loss_ex_interim"][r, i]),
                    "eps_relative": float(gap["relative_loss"][r, i]),
                    "stable_step": int(stable[r, i]),
                    "final_movement": float(final_move[final_move["run"] == run]
                                            ["movement"].iloc[0]),
                })
    frame = pd.DataFrame(out)
    frame["w_smoothed"] = smoothed_prediction(resolved, frame)
    frame["samples_per_run"] = int(summary["samples_per_run"].iloc[0])
    return frame


def smoothed_prediction(resolved: dict, frame: pd.DataFrame) -> list[float]:
    """w̃(β, N) for runs the quadrature covers (seed's smoothed first price, U[0,1], constant β);
    NaN for the others."""
    prior = resolved["prior"]
    covered = (resolved["mechanism"] == "first_price" and prior["low"] == 0.0
               and prior["high"] == 1.0)
    cache: dict[tuple[float, int], float] = {}
    values = []
    for beta0, beta1, n in zip(frame["beta_start"], frame["beta_end"], frame["n_agents"],
                               strict=True):
        if not covered or beta0 != beta1:
            values.append(float("nan"))
            continue
        key = (float(beta0), int(n))
        if key not in cache:
            cache[key] = smoothed_symmetric_equilibrium(*key)
        values.append(cache[key])
    return values
