"""Convergence-rate comparison across mechanisms (issue 5; metrics of Bichler et al. 2021).

One learner, one initialisation family, one budget, one β grid and one set of seeds for every
mechanism: Adam ascent on the smoothed utility, each agent's gradient taken with its opponents'
bids held fixed, a fresh batch of values every step.

* first price, second price, all-pay (N bidders) and the k-unit pay-as-bid and uniform-price
  auctions train with the project's trainer (:func:`diffauction.learning.trainer.train`),
  bids b = w·v;
* the LLG auction's two locals train with :func:`diffauction.learning.llg.train_llg`, bids
  max(0, a + w·v) (the family that holds both LLG equilibria; the global bids its value).

Every run starts from the same slope w0 for a given seed index (evenly spread over
``w0.low..w0.high``; a = 0 for LLG) and draws its values from its seed, so runs of different
mechanisms and temperatures are paired.

Target
------
The L2 distance (Bichler et al. 2021) of a learned bid function to a reference b_ref is
sqrt(E_v[(b(v) − b_ref(v))²]), evaluated on ``grid_points`` midpoint quantiles of the prior
(:mod:`diffauction.analysis.distance`). The *target* is the equilibrium the policy family can
represent: the BNE where it is linear (first, second, uniform price) or affine (LLG); for
pay-as-bid with k ≥ 2 the BNE is not linear and the target is the symmetric equilibrium of the
game restricted to linear bids (:func:`diffauction.equilibria.multiunit.
linear_restricted_slope`); all-pay restricted to linear bids has no equilibrium for N ≥ 3 (a
bidder's utility is convex in its own slope), so it has no target. The L2 to the true BNE is
recorded for every mechanism as well. Convergence and outcomes: :mod:`.mechanisms_analysis`.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from diffauction.analysis.distance import l2_affine_on_grid, l2_linear_on_grid
from diffauction.equilibria import multiunit, registry
from diffauction.experiments.seeds import seed_values
from diffauction.game.mechanisms import ALL_MECHANISMS, LLG_MECHANISMS, MULTI_UNIT, make_mechanism
from diffauction.game.priors import PRIORS, UniformPrior
from diffauction.io import provenance
from diffauction.learning import llg
from diffauction.learning.trainer import RunBatch, train

LABELS = {
    "first_price": "first price",
    "second_price": "second price",
    "all_pay": "all-pay",
    "pay_as_bid": "pay as bid",
    "uniform_price": "uniform price",
    "llg_vcg": "LLG VCG",
    "llg_nearest_vcg": "LLG nearest-VCG",
}
TRUTHFUL = ("second_price", "uniform_price", "llg_vcg")
SINGLE_ITEM = ("first_price", "second_price", "all_pay")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --- settings ------------------------------------------------------------------------------------


def validate_section(section: dict, key: str = "mechanism_comparison") -> list[str]:
    """What the schema cannot say about the comparison's settings: one message per problem,
    each naming its key."""
    messages = []
    n, k = section["n_agents"], section["units"]
    mechanisms = section["mechanisms"]
    unknown = [m for m in mechanisms if m not in ALL_MECHANISMS]
    for m in unknown:
        messages.append(f"{key}.mechanisms: unknown mechanism {m!r}; "
                        f"allowed: {sorted(ALL_MECHANISMS)}")
    if any(m in MULTI_UNIT for m in mechanisms) and not 1 <= k < n:
        messages.append(f"{key}.units: k={k} units for N={n} bidders; the k-unit auctions need "
                        f"1 <= k < N; allowed: an integer from 1 to {n - 1}")
    if any(m in LLG_MECHANISMS for m in mechanisms) and n != 3:
        messages.append(f"{key}.n_agents: the LLG auction has exactly 3 bidders (2 locals, 1 "
                        f"global), got n_agents={n}; allowed: 3, or drop "
                        f"{[m for m in mechanisms if m in LLG_MECHANISMS]}")
    prior = section["prior"]
    if prior["name"] not in PRIORS:
        messages.append(f"{key}.prior.name: unknown prior {prior['name']!r}; "
                        f"allowed: {sorted(PRIORS)}")
    elif prior["name"] != "uniform":
        messages.append(f"{key}.prior.name: the mechanisms {mechanisms} have known equilibria "
                        f"only for uniform values, got {prior['name']!r}; allowed: uniform")
    else:
        if prior.get("low", 0.0) != 0.0:
            messages.append(f"{key}.prior.low: the equilibria used as targets are for values "
                            f"on U[0, h], got low={prior['low']}; allowed: 0")
        if prior.get("high", 1.0) <= 0:
            messages.append(f"{key}.prior.high: must be > 0, got {prior['high']}")
        llg_here = [m for m in mechanisms if m in LLG_MECHANISMS]
        if llg_here and prior.get("high", 1.0) != 1.0:
            messages.append(f"{key}.prior.high: {llg_here} fix the locals' values to U[0, 1] "
                            f"(and the global's to U[0, 2]), got high={prior['high']}; "
                            "allowed: 1")
    if section["beta_main"] not in section["beta"]:
        messages.append(f"{key}.beta_main: {section['beta_main']} is not in beta "
                        f"{section['beta']}; allowed: one of them")
    w0 = section["w0"]
    if w0["high"] < w0["low"]:
        messages.append(f"{key}.w0.high: {w0['high']} is below w0.low {w0['low']}; "
                        "allowed: high >= low")
    return messages


def initial_slopes(section: dict) -> list[float]:
    """w0 of seed index j out of S: low + (high − low)·(j + ½)/S."""
    seeds = seed_values(section["seeds"])
    low, high = section["w0"]["low"], section["w0"]["high"]
    return [low + (high - low) * (j + 0.5) / len(seeds) for j in range(len(seeds))]


def run_table(section: dict) -> pd.DataFrame:
    """One row per run: β × seed (seed-major within β), with the seed's initial slope."""
    seeds = seed_values(section["seeds"])
    w0 = initial_slopes(section)
    rows = [{"run": len(seeds) * b + j, "beta": float(beta), "seed": seed, "w0": w0[j]}
            for b, beta in enumerate(section["beta"]) for j, seed in enumerate(seeds)]
    return pd.DataFrame(rows)


# --- references ----------------------------------------------------------------------------------


def high_of(section: dict) -> float:
    return float(section["prior"].get("high", 1.0))


def bne_function(mechanism: str, section: dict):
    """b*(v) of the learning bidders, as a function of a float64 tensor of values
    (:func:`diffauction.equilibria.registry.bne_function`)."""
    if mechanism not in ALL_MECHANISMS:
        raise ValueError(f"mechanism: unknown mechanism {mechanism!r}")
    return registry.bne_function(mechanism, section["n_agents"],
                                 UniformPrior(0.0, high_of(section)), units=section["units"])


def target(mechanism: str, section: dict) -> tuple[str, object]:
    """(kind, b_ref) of the equilibrium the policy family can represent; b_ref is None where
    there is none (all-pay with linear bids)."""
    n, k = section["n_agents"], section["units"]
    if mechanism == "pay_as_bid" and k >= 2:
        w = multiunit.linear_restricted_slope(mechanism, n, k)
        return "linear-restricted equilibrium", (lambda v: w * v)
    if mechanism == "all_pay":
        return "none", None
    return "BNE", bne_function(mechanism, section)


def value_grid(section: dict, points: int) -> torch.Tensor:
    return high_of(section) * (torch.arange(points, dtype=torch.float64) + 0.5) / points


# --- training ------------------------------------------------------------------------------------


def _train_runs(section: dict, mechanism: str, runs: pd.DataFrame):
    """Train every run of one mechanism; (history [K, runs, agents, 2], tail, final, steps,
    samples per run, bidders) with the parameters as (a, w): affine bids max(0, a + w·v) for the
    LLG locals, linear bids w·v (a = 0) for the others."""
    if mechanism in LLG_MECHANISMS:
        result = llg.train_llg(
            mechanism, runs["seed"].tolist(), runs["beta"].tolist(), runs["w0"].tolist(),
            steps=section["steps"], batch_size=section["batch_size"],
            lr_start=section["lr_start"], lr_end=section["lr_end"],
            lr_schedule=section["lr_schedule"], record_every=section["record_every"],
            tail_fraction=section["tail_fraction"], dtype=DTYPES[section["dtype"]])
        return (result.params, result.tail_average, result.final, result.steps,
                result.samples_per_run, 3)
    params = {"k": section["units"]} if mechanism in MULTI_UNIT else {}
    setup = RunBatch(
        n_agents=section["n_agents"], seeds=runs["seed"].tolist(),
        beta_start=runs["beta"].tolist(), beta_end=runs["beta"].tolist(),
        lr_start=[section["lr_start"]] * len(runs), lr_end=[section["lr_end"]] * len(runs),
        w0=runs["w0"].tolist(), batch_size=section["batch_size"], steps=section["steps"],
        mechanism=make_mechanism(mechanism, **params),
        prior={"name": "uniform", "low": 0.0, "high": high_of(section)},
        lr_schedule=section["lr_schedule"], optimizer="adam",
        record_every=section["record_every"], tail_fraction=section["tail_fraction"],
        dtype=section["dtype"])
    result = train(setup)

    def as_affine(w):  # [..., agents] slopes → [..., agents, 2] (a = 0, w)
        return torch.stack([torch.zeros_like(w), w], dim=-1)

    return (as_affine(result.params), as_affine(result.tail_average), as_affine(result.final),
            result.steps, result.samples_per_run, section["n_agents"])


def train_mechanism(section: dict, mechanism: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every (β, seed) run of one mechanism; returns (trajectory, runs) tables.

    trajectory: one row per recorded step, run and learning agent (a, w, L2 to target and BNE);
    runs: one row per run and learning agent (tail-averaged and final parameters, their L2s).
    """
    runs = run_table(section)
    history, tail, final, steps, samples, bidders = _train_runs(section, mechanism, runs)
    affine = mechanism in LLG_MECHANISMS
    l2 = distances(mechanism, section, history, affine)  # each [K, runs, agents]
    l2_tail = distances(mechanism, section, tail[None], affine)
    kk, n_runs, agents = history.shape[:3]
    index = pd.MultiIndex.from_product([range(kk), range(n_runs), range(agents)],
                                       names=["k", "run", "agent"]).to_frame(index=False)
    traj = index.join(runs.set_index("run"), on="run")
    traj["step"] = steps.numpy()[traj["k"]]
    traj["samples"] = traj["step"] * section["batch_size"] * bidders
    traj["a"] = history[..., 0].double().reshape(-1).numpy()
    traj["w"] = history[..., 1].double().reshape(-1).numpy()
    traj["l2_target"] = l2["target"].reshape(-1).numpy()
    traj["l2_bne"] = l2["bne"].reshape(-1).numpy()
    traj.insert(0, "mechanism", mechanism)
    traj = traj.drop(columns="k")
    rows = [{
        "mechanism": mechanism, **run.to_dict(), "agent": i,
        "a_tail": float(tail[r, i, 0]), "w_tail": float(tail[r, i, 1]),
        "a_final": float(final[r, i, 0]), "w_final": float(final[r, i, 1]),
        "l2_target_tail": float(l2_tail["target"][0, r, i]),
        "l2_bne_tail": float(l2_tail["bne"][0, r, i]),
        "steps": section["steps"], "batch_size": section["batch_size"],
        "samples_per_run": samples, "bidders": bidders,
        "target": target(mechanism, section)[0],
    } for r, run in runs.iterrows() for i in range(agents)]
    summary = pd.DataFrame(rows)
    for key, value in provenance().items():
        summary[key] = value
    return traj, summary


def distances(mechanism: str, section: dict, params: torch.Tensor,
              affine: bool) -> dict[str, torch.Tensor]:
    """L2 to the target and to the BNE of parameters [..., 2] = (a, w): bids max(0, a + w·v)
    if ``affine``, else w·v (a unused)."""
    grid = value_grid(section, section["grid_points"])
    bne = bne_function(mechanism, section)(grid)
    _, reference = target(mechanism, section)

    def l2(ref):
        if not affine:
            return l2_linear_on_grid(params[..., 1], ref, grid)
        return l2_affine_on_grid(params, ref, grid)

    out = {"bne": l2(bne)}
    out["target"] = (l2(reference(grid)) if reference is not None
                     else torch.full(params.shape[:-1], math.nan, dtype=torch.float64))
    return out
