"""Learners compared (issue 6): how many sampled valuations each learner needs to reach L2 ≤ τ.

The comparison runs every learner of :mod:`diffauction.learning.baselines` (the smoothed gradient with a
fixed and with an annealed β, NPGA, REINFORCE, Hedge; PPO from :mod:`diffauction.learning.ppo` outside
the default build) on the same settings — N bidders × mechanism, U[0, 1] values, linear bids
from the same w0 (Hedge: weights peaked at w0·v) — with one budget of sampled valuations per
learner, and aggregates the trajectories here.

Accounting
----------
``samples`` are valuations drawn per run (batch · bidders per step, every learner); how often a
learner evaluates the utility on each of them is reported beside it (``evaluations_per_sample``:
NPGA its population, Hedge its bid grid) and wall time goes to a separate file, since it is
not reproducible.

Reach and stay
--------------
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

import dataclasses
import math
import time
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import torch

from diffauction.analysis.metrics import best_response_gap, l2_distance, l2_linear
from diffauction.equilibria.closed_form import bne_bid, bne_linear_coefficient
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_prior, value_midpoints
from diffauction.learning.baselines import (
    CONFIGS,
    DEFAULT_PRIOR,
    TRAINERS,
    Trajectory,
    log_record_steps,
    make_config,
)

PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}
#: learners a comparison variant may use; PPO is configured separately (``comparison.ppo``)
VARIANT_LEARNERS = ("smoothed", "npga", "reinforce", "hedge")
#: learners whose policy is a linear bid w·v (their ε-Nash has a closed-form evaluation)
LINEAR = ("smoothed", "npga", "reinforce")
MECHANISMS = ("first_price", "second_price", "all_pay")
MECHANISM_LABELS = {"first_price": "first price", "second_price": "second price",
                    "all_pay": "all-pay"}
MECHANISM_SHORT = {"first_price": "FP", "second_price": "SP", "all_pay": "AP"}
KEYS = ["variant", "n_agents", "mechanism"]
RUN_KEYS = KEYS + ["seed", "run"]


# --- settings ------------------------------------------------------------------------------------


def seed_values(seeds) -> list[int]:
    """A list of seeds, or ``{count, start}``."""
    if isinstance(seeds, dict):
        start = seeds.get("start", 0)
        return list(range(start, start + seeds["count"]))
    return list(seeds)


def _learner_errors(spec: dict, key: str, n_agents: list[int], allowed: tuple[str, ...]
                    ) -> list[str]:
    messages = []
    learner = spec["learner"]
    if learner not in allowed:
        hint = (" (PPO is slow: configure it under comparison.ppo, outside rule all)"
                if learner == "ppo" else "")
        return [f"{key}.learner: unknown learner {learner!r}{hint}; allowed: {list(allowed)}"]
    if learner == "ppo":
        from diffauction.learning.ppo import PPOConfig  # needs no torchrl: a plain dataclass

        defaults = dataclasses.asdict(PPOConfig())
    else:
        defaults = dataclasses.asdict(CONFIGS[learner]())
    settings = spec.get("settings", {})
    for name in sorted(set(settings) - set(defaults)):
        messages.append(f"{key}.settings.{name}: not a setting of {learner!r}; "
                        f"allowed: {sorted(defaults)}")
    for name in sorted(set(settings) & set(defaults)):
        allowed = _setting_type(defaults[name])
        if allowed and not _has_type(settings[name], allowed):
            messages.append(f"{key}.settings.{name}: {settings[name]!r} is not {allowed}")
    if messages or learner == "ppo":
        return messages
    cfg = make_config(learner, settings)
    if learner == "smoothed":
        from diffauction.learning.schedules import SCHEDULES
        from diffauction.learning.trainer import SAMPLERS

        for field in ("beta_schedule", "lr_schedule"):
            if getattr(cfg, field) not in SCHEDULES:
                messages.append(f"{key}.settings.{field}: unknown schedule "
                                f"{getattr(cfg, field)!r}; allowed: {sorted(SCHEDULES)}")
        if cfg.sampler not in SAMPLERS:
            messages.append(f"{key}.settings.sampler: unknown sampler {cfg.sampler!r}; "
                            f"allowed: {list(SAMPLERS)}")
        if cfg.beta_end is not None and cfg.beta_end < cfg.beta:
            messages.append(f"{key}.settings.beta_end: {cfg.beta_end} is below beta {cfg.beta}; "
                            "allowed: beta_end >= beta")
    for n in n_agents:
        per_step = cfg.samples_per_step(n)
        if spec["budget"] < per_step:
            messages.append(f"{key}.budget: {spec['budget']:g} valuations is less than one step "
                            f"({per_step} for N={n}); allowed: a budget >= {per_step}")
    return messages


def _setting_type(default) -> str | None:
    """What a setting must be, from its default (None: not checked here)."""
    if isinstance(default, bool):
        return "a boolean"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if default is None:
        return "a number or null"
    if isinstance(default, str):
        return "a string"
    return None


def _has_type(value, allowed: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {"a boolean": isinstance(value, bool),
            "an integer": isinstance(value, int) and not isinstance(value, bool),
            "a number": number and math.isfinite(value),
            "a number or null": value is None or (number and math.isfinite(value)),
            "a string": isinstance(value, str)}[allowed]


def validate_section(section: dict, key: str = "comparison") -> list[str]:
    """What the schema cannot say about the comparison block: one message per problem, each
    naming its key."""
    messages = []
    learners = section["learners"]
    if "ppo" in learners:  # results/learners/ppo/ belongs to the PPO target
        messages.append(f"{key}.learners.ppo: the name is reserved for comparison.ppo; "
                        "allowed: any other name")
    for name, spec in learners.items():
        messages += _learner_errors(spec, f"{key}.learners.{name}", section["n_agents"],
                                    VARIANT_LEARNERS)
    if section["reference"] not in learners:
        messages.append(f"{key}.reference: {section['reference']!r} is not one of the learners; "
                        f"allowed: {sorted(learners)}")
    elif learners[section["reference"]]["learner"] != "smoothed":
        messages.append(f"{key}.reference: the reference must be a smoothed-gradient variant, "
                        f"got {learners[section['reference']]['learner']!r}")
    ppo = section["ppo"]
    messages += _learner_errors({"learner": "ppo", **ppo}, f"{key}.ppo", ppo["n_agents"],
                                ("ppo",))
    return messages


def label_of(name: str, spec: dict) -> str:
    """A learner's name in the report: its ``label`` (LaTeX), else its key without underscores
    (an underscore is a LaTeX error outside math)."""
    return spec.get("label", name.replace("_", " "))


def learner_labels(section: dict) -> dict[str, str]:
    """Variant → label, in the configuration's order."""
    return {name: label_of(name, spec) for name, spec in section["learners"].items()}


def variant_settings(section: dict, variant: str) -> dict:
    """Everything one variant's training job depends on (a Snakemake ``params`` value)."""
    if variant == "ppo":
        spec = section["ppo"]
        return {"variant": "ppo", "learner": "ppo", "label": spec["label"],
                "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
                "n_agents": list(spec["n_agents"]), "mechanisms": list(spec["mechanisms"]),
                "seeds": seed_values(spec["seeds"]), "w0": section["w0"],
                "records": section["records"]}
    spec = section["learners"][variant]
    return {"variant": variant, "learner": spec["learner"], "label": label_of(variant, spec),
            "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
            "n_agents": list(section["n_agents"]), "mechanisms": list(section["mechanisms"]),
            "seeds": seed_values(section["seeds"]), "w0": section["w0"],
            "records": section["records"]}


# --- training ------------------------------------------------------------------------------------


def final_epsilon(frame: pd.DataFrame, mechanism: str) -> pd.DataFrame:
    """ε-Nash of each run's final linear profile by grid best response
    (:func:`diffauction.analysis.metrics.best_response_gap`): one row per run and agent with the ex-ante
    utility loss ℓ̂ and the ex-interim ε̂."""
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


def trajectory_frame(traj: Trajectory, n_agents: int, mechanism: str,
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
    from diffauction.learning.ppo import PPOConfig, train_ppo  # optional extra [marl]

    cfg = config if isinstance(config, PPOConfig) else replace(PPOConfig(), **dict(config or {}))
    frames, wall = [], 0.0
    for run, seed in enumerate(seeds):
        start = time.perf_counter()
        result = train_ppo(n_agents, mechanism, int(seed),
                           frames=max(1, budget_samples // n_agents), config=cfg, prior=prior)
        wall += time.perf_counter() - start
        frame = trajectory_frame(result.trajectory, n_agents, mechanism, prior)
        frame["run"] = run
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    per_step = cfg.frames_per_batch * n_agents
    out.attrs.update(wall_s=wall, steps=int(out["step"].max()), samples_per_step=per_step,
                     evaluations_per_sample=1, config=asdict(cfg))
    return out



# --- reach and stay ------------------------------------------------------------------------------


def worst_agent(trajectory: pd.DataFrame, metric: str = "l2_bid") -> pd.DataFrame:
    """Per run and recorded point, the largest distance over the run's agents (column ``l2``)."""
    return (trajectory.groupby(RUN_KEYS + ["step", "samples"], sort=True)[metric].max()
            .rename("l2").reset_index())


def reach_and_stay(samples, l2, tolerance: float) -> float:
    """Samples at the first record from which every later record has ``l2 ≤ tolerance``.

    ``samples`` ascending, ``l2`` aligned with it; NaN if the last record is above tolerance
    (not reached within the budget).
    """
    samples, l2 = np.asarray(samples, dtype=float), np.asarray(l2, dtype=float)
    if samples.size == 0:
        raise ValueError("reach_and_stay: no recorded points")
    if np.any(np.diff(samples) <= 0):
        raise ValueError("reach_and_stay: samples must be strictly increasing")
    above = ~(l2 <= tolerance)  # NaN counts as above
    if above[-1]:
        return math.nan
    if not above.any():
        return float(samples[0])
    return float(samples[np.flatnonzero(above)[-1] + 1])


def reach_table(trajectory: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """One row per run: budget (its last record), samples to reach-and-stay (NaN: not within
    the budget) and the final worst-agent distance."""
    per_point = worst_agent(trajectory)
    rows = []
    for key, run in per_point.groupby(RUN_KEYS, sort=True):
        run = run.sort_values("samples")
        rows.append({**dict(zip(RUN_KEYS, key, strict=True)),
                     "budget": int(run["samples"].iloc[-1]),
                     "samples_to_reach": reach_and_stay(run["samples"], run["l2"], tolerance),
                     "final_l2": float(run["l2"].iloc[-1])})
    return pd.DataFrame(rows)


def _median_with_censoring(x: np.ndarray) -> float:
    """Median with NaN (censored) read as +∞; +∞ comes back as NaN."""
    value = float(np.median(np.where(np.isnan(x), np.inf, x)))
    return value if math.isfinite(value) else math.nan


def summary_table(reach: pd.DataFrame, finals: pd.DataFrame | None = None,
                  evaluations: dict[str, int] | None = None) -> pd.DataFrame:
    """Per (variant, N, mechanism): seeds, seeds reached, median and worst samples to reach
    (NaN: not reached by half / by every seed), budget, worst final distance; with ``finals``
    the median ex-ante utility loss ℓ̂ and the worst ex-interim ε̂ of the final profiles; with
    ``evaluations`` (variant → utility evaluations per sample) the evaluations to reach."""
    rows = []
    for key, group in reach.groupby(KEYS, sort=False):
        x = group["samples_to_reach"].to_numpy(dtype=float)
        worst = math.nan if np.isnan(x).any() else float(x.max())
        rows.append({**dict(zip(KEYS, key, strict=True)), "seeds": len(x),
                     "reached": int((~np.isnan(x)).sum()), "median": _median_with_censoring(x),
                     "worst": worst, "budget": int(group["budget"].max()),
                     "final_l2_worst": float(group["final_l2"].max())})
    out = pd.DataFrame(rows)
    if finals is not None:
        eps = finals.groupby(KEYS, sort=False).agg(
            loss_ex_ante=("loss_ex_ante", "median"),
            loss_ex_interim=("loss_ex_interim", "max")).reset_index()
        out = out.merge(eps, on=KEYS, how="left")
    if evaluations is not None:
        out["evaluations_per_sample"] = out["variant"].map(evaluations)
        out["median_evaluations"] = out["median"] * out["evaluations_per_sample"]
    return out


def ratio_table(summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per setting and baseline: how many times fewer samples the reference needs.

    ``ratio_median`` = median_b / median_ref (``bound_median`` "=" exact, ">" a lower bound
    budget_b / median_ref because b did not reach τ, "none": no ratio, the reference did not
    reach it); the same for the worst seeds, and, when ``summary`` has
    ``evaluations_per_sample``, for the median counted in utility evaluations
    (``ratio_evaluations``, ``bound_evaluations``).
    """
    rows = []
    for key, group in summary.groupby(["n_agents", "mechanism"], sort=False):
        ref = group[group["variant"] == reference]
        if ref.empty:
            raise ValueError(f"reference variant {reference!r} missing for setting {key}")
        ref = ref.iloc[0]
        for _, row in group[group["variant"] != reference].iterrows():
            out = {"n_agents": key[0], "mechanism": key[1], "variant": row["variant"]}
            for stat in ("median", "worst"):
                ratio, bound = _ratio(row[stat], row["budget"], ref[stat])
                out[f"ratio_{stat}"] = ratio
                out[f"bound_{stat}"] = bound
            if "evaluations_per_sample" in row:
                ratio, bound = _ratio(row["median"] * row["evaluations_per_sample"],
                                      row["budget"] * row["evaluations_per_sample"],
                                      ref["median"] * ref["evaluations_per_sample"])
                out["ratio_evaluations"] = ratio
                out["bound_evaluations"] = bound
            rows.append(out)
    return pd.DataFrame(rows)


def _ratio(baseline: float, budget: float, reference: float) -> tuple[float, str]:
    if math.isnan(reference):
        return math.nan, "none"
    if math.isnan(baseline):
        return budget / reference, ">"
    return baseline / reference, "="


def band(per_point: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, N, mechanism, samples): mean, min and max over seeds of the worst-agent
    distance (the figure's line and band)."""
    return (per_point.groupby(KEYS + ["samples"], sort=True)["l2"]
            .agg(mean="mean", low="min", high="max").reset_index())


# --- PPO (outside rule all) ----------------------------------------------------------------------


def ppo_summary(trajectory: pd.DataFrame, finals: pd.DataFrame, reference: pd.DataFrame,
                tolerance: float) -> pd.DataFrame:
    """PPO's summary per (N, mechanism), as :func:`summary_table`, with the reference learner's
    median samples in the same setting and the ratio against it (NaN where it has none)."""
    reach = reach_table(trajectory, tolerance)
    summary = summary_table(reach, finals, {"ppo": 1})
    final = reach.groupby(KEYS)["final_l2"].median().rename("final_l2_median").reset_index()
    summary = summary.merge(final, on=KEYS)
    ref = reference[["n_agents", "mechanism", "median"]].rename(
        columns={"median": "reference_median"})
    summary = summary.merge(ref, on=["n_agents", "mechanism"], how="left")
    bounds = [_ratio(m, b, r) for m, b, r in zip(summary["median"], summary["budget"],
                                                  summary["reference_median"], strict=True)]
    summary["ratio_median"] = [r for r, _ in bounds]
    summary["bound_median"] = [b for _, b in bounds]
    return summary
