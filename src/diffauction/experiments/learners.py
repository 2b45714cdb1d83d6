"""Learners compared (issue 6): how many sampled valuations each learner needs to reach L2 ≤ τ.

The comparison runs every learner of :mod:`diffauction.learning.baselines` (the smoothed
gradient with a fixed and with an annealed β, NPGA, REINFORCE, Hedge; PPO from
:mod:`diffauction.learning.ppo` at a small budget) on the same settings — N bidders ×
mechanism, U[0, 1] values, linear bids from the same w0 (Hedge: weights peaked at w0·v) — with
one budget of sampled valuations per learner; :mod:`.learners_tables` aggregates the
trajectories, :mod:`.learners_settings` checks and expands the configuration.

Accounting
----------
``samples`` are valuations drawn per run (batch · bidders per step, every learner); how often a
learner evaluates the utility on each of them is reported beside it (``evaluations_per_sample``:
NPGA its population, Hedge its bid grid) and wall time goes to a separate file, since it is
not reproducible.

Reach and stay (:mod:`.learners_tables`)
----------------------------------------
A run's distance to the BNE at a recorded point is the L2 distance of the *worst* bidder's bid
function (``l2_bid``: RMSE over the prior of b(v) − b*(v), Bichler et al. 2021). The run reaches
tolerance τ at the first recorded sample count from which every later recorded distance, up to
the end of its budget, is ≤ τ; a run still (or again) above τ at its last record has not reached
it (censored, NaN). "Stay" is checked at the recorded points only (about ``records`` per run,
log-spaced in steps).

Over seeds, the median and the worst (largest) sample count are reported; a censored run
counts as +∞, so the worst is "not reached" as soon as one seed fails, and the median as soon
as half of them do.

Ratios
------
"The reference needs X× fewer samples than learner b" is median_b / median_ref per setting
(and the same with the worst seeds). When b did not reach τ within its budget B_b, the ratio is
a lower bound, > B_b / median_ref; when the reference did not reach τ there is no ratio.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace

import pandas as pd
import torch

from diffauction.analysis.distance import l2_distance, l2_linear
from diffauction.analysis.metrics import best_response_gap
from diffauction.equilibria.registry import bne_bid
from diffauction.equilibria.registry import linear_coefficient as bne_linear_coefficient
from diffauction.experiments.learners_settings import LINEAR, PRIOR, RUN_KEYS
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_prior, value_midpoints
from diffauction.learning.baselines import (
    DEFAULT_PRIOR,
    TRAINERS,
    TrainResult,
    log_record_steps,
    make_config,
)

# --- training ------------------------------------------------------------------------------------


def final_epsilon(frame: pd.DataFrame, mechanism: str) -> pd.DataFrame:
    """ε-Nash of each run's final linear profile by grid best response
    (:func:`diffauction.analysis.metrics.best_response_gap`): one row per run and agent with the
    ex-ante utility loss ℓ̂ and the ex-interim ε̂."""
    last = frame[frame["step"] == frame["step"].max()].sort_values(["run", "agent"])
    runs, agents = last["run"].nunique(), last["agent"].nunique()
    w = torch.tensor(last["w"].to_numpy(), dtype=torch.float64).reshape(runs, agents)
    gap = best_response_gap(make_mechanism(mechanism), make_prior(PRIOR), w)
    out = last[["run", "agent"]].copy()
    out["loss_ex_ante"] = gap["loss_ex_ante"].reshape(-1).numpy()
    out["loss_ex_interim"] = gap["loss_ex_interim"].reshape(-1).numpy()
    return out


def run_variant(settings: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train one variant on every (N, mechanism) of its settings.

    Returns the tidy trajectory (one row per setting, run, recorded step and agent), the final
    profile of every run and agent (w, L2, ε-Nash where the policy is linear) and the wall time
    per setting (not reproducible: keep it apart from the results).
    """
    frames, finals, walls = [], [], []
    for n_agents in settings["n_agents"]:
        for mechanism in settings["mechanisms"]:
            start = time.perf_counter()
            frame = run_learner(
                settings["learner"], n_agents, mechanism, seeds=settings["seeds"],
                budget_samples=settings["budget"], w0=settings["w0"],
                config=settings["settings"], prior=PRIOR, records=settings["records"],
                spacing="log")
            wall = time.perf_counter() - start
            frame.insert(0, "variant", settings["variant"])
            last = frame[frame["step"] == frame["step"].max()]
            final = last[RUN_KEYS + ["agent", "samples", "w", "l2_bid"]].copy()
            if settings["learner"] in LINEAR:
                final = final.merge(final_epsilon(frame, mechanism), on=["run", "agent"])
            else:
                final["loss_ex_ante"] = math.nan
                final["loss_ex_interim"] = math.nan
            frames.append(frame)
            finals.append(final)
            walls.append({"variant": settings["variant"], "learner": settings["learner"],
                          "n_agents": n_agents, "mechanism": mechanism,
                          "runs": len(settings["seeds"]), "budget": settings["budget"],
                          "train_wall_s": frame.attrs["wall_s"], "total_wall_s": wall})
    trajectory = pd.concat(frames, ignore_index=True)
    trajectory["evaluations_per_sample"] = frames[0].attrs["evaluations_per_sample"]
    return trajectory, pd.concat(finals, ignore_index=True), pd.DataFrame(walls)


def trajectory_frame(traj: TrainResult, n_agents: int, mechanism: str,
                     prior: dict | None = None) -> pd.DataFrame:
    """Tidy frame: one row per (run, recorded step, agent).

    Columns learner, n_agents, mechanism, seed, run, step, samples, agent, w, l2, l2_bid.
    ``l2`` is the closed-form L2 of the linear bid w·v to the BNE (|w − w*|/√3 on U[0,1];
    NaN where the BNE is not linear); ``l2_bid`` the L2 of the whole bid function to the BNE by
    the midpoint rule (Hedge: on its value-bin midpoints; linear learners: 1024 nodes).
    """
    pri = make_prior(prior or DEFAULT_PRIOR)
    w = traj.params.to(torch.float64)  # [K, R, N]
    w_star = bne_linear_coefficient(mechanism, n_agents, pri)
    l2 = l2_linear(w, w_star, pri) if w_star is not None else torch.full_like(w, math.nan)
    if "bid_function" in traj.extras:  # Hedge, PPO: bids recorded at the value midpoints
        nodes, bids = traj.extras["value_midpoints"], traj.extras["bid_function"]
    else:
        nodes = value_midpoints(pri, 1024)
        bids = w[..., None] * nodes
    try:
        l2_bid = l2_distance(bids, bne_bid(mechanism, n_agents, pri, nodes))
    except ValueError:
        l2_bid = torch.full_like(w, math.nan)
    k, runs, agents = w.shape
    idx_k, idx_r, idx_a = torch.meshgrid(torch.arange(k), torch.arange(runs),
                                         torch.arange(agents), indexing="ij")
    seeds = torch.tensor(traj.seeds)
    return pd.DataFrame({
        "learner": traj.learner,
        "n_agents": n_agents,
        "mechanism": mechanism,
        "seed": seeds[idx_r].reshape(-1).numpy(),
        "run": idx_r.reshape(-1).numpy(),
        "step": traj.steps[idx_k].reshape(-1).numpy(),
        "samples": traj.samples[idx_k].reshape(-1).numpy(),
        "agent": idx_a.reshape(-1).numpy(),
        "w": w.reshape(-1).numpy(),
        "l2": l2.reshape(-1).numpy(),
        "l2_bid": l2_bid.reshape(-1).numpy(),
    })


def run_learner(name: str, n_agents: int, mechanism: str = "first_price", seeds=(0,),
                budget_samples: int = 10_000_000, *, w0=0.9, config=None,
                prior: dict | None = None, records: int = 100,
                spacing: str = "linear") -> pd.DataFrame:
    """Train learner ``name`` on every seed with a budget of sampled valuations per run.

    ``name``: ``smoothed`` | ``npga`` | ``reinforce`` | ``hedge`` | ``ppo``. ``config`` is the
    learner's config dataclass or a mapping of overrides of its defaults. The number of steps is
    ``budget_samples // samples_per_step`` (at least 1); about ``records`` steps are recorded,
    evenly spaced (``spacing="linear"``) or evenly in log(step) (``spacing="log"``).
    Hedge starts from weights peaked at w0·v (uniform weights if ``w0=None``). PPO (TorchRL on
    the PettingZoo env, :func:`diffauction.learning.ppo.train_ppo`) runs one seed at a time, spends
    ``budget_samples // n_agents`` frames and ignores w0.

    Returns the :func:`trajectory_frame` of the run(s); ``df.attrs`` holds ``wall_s`` (training
    wall time), ``steps``, ``samples_per_step``, ``evaluations_per_sample`` and the config used.
    """
    if spacing not in ("linear", "log"):
        raise ValueError(f"spacing: unknown {spacing!r}; allowed: ['linear', 'log']")
    if name == "ppo":
        return _run_ppo(n_agents, mechanism, seeds, budget_samples, config, prior)
    cfg = make_config(name, config)
    per_step = cfg.samples_per_step(n_agents)
    steps = max(1, budget_samples // per_step)
    record_every = max(1, steps // max(1, records))
    record_steps = log_record_steps(steps, records) if spacing == "log" else None
    start = time.perf_counter()
    traj = TRAINERS[name](n_agents, list(seeds), steps, w0=w0, mechanism=mechanism, config=cfg,
                          prior=prior, record_every=record_every, record_steps=record_steps)
    wall = time.perf_counter() - start
    frame = trajectory_frame(traj, n_agents, mechanism, prior)
    frame.attrs.update(wall_s=wall, steps=steps, samples_per_step=per_step,
                       evaluations_per_sample=traj.evaluations_per_sample, config=asdict(cfg))
    return frame


def _run_ppo(n_agents, mechanism, seeds, budget_samples, config, prior) -> pd.DataFrame:
    from diffauction.learning.ppo import PPOConfig, train_ppo  # torchrl only inside train_ppo

    try:
        import torchrl  # noqa: F401  (the extra [marl])
    except ImportError as error:
        raise ImportError("learner 'ppo' (comparison.ppo) needs TorchRL, the extra [marl]: "
                          "pip install -c <(echo \"torch==$(python -c 'import torch; "
                          "print(torch.__version__)')\") -e '.[marl]'") from error

    cfg = config if isinstance(config, PPOConfig) else replace(PPOConfig(), **dict(config or {}))
    frames, wall = [], 0.0
    for run, seed in enumerate(seeds):
        start = time.perf_counter()
        result = train_ppo(n_agents, mechanism, int(seed),
                           frames=max(1, budget_samples // n_agents), config=cfg, prior=prior)
        wall += time.perf_counter() - start
        frame = trajectory_frame(result, n_agents, mechanism, prior)
        frame["run"] = run
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    per_step = cfg.frames_per_batch * n_agents
    out.attrs.update(wall_s=wall, steps=int(out["step"].max()), samples_per_step=per_step,
                     evaluations_per_sample=1, config=asdict(cfg))
    return out
