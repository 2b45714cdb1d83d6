"""Convergence-rate comparison across mechanisms (issue 5; metrics of Bichler et al. 2021).

One learner, one initialisation family, one budget, one β grid and one set of seeds for every
mechanism: Adam ascent on the smoothed utility, each agent's gradient taken with its opponents'
bids held fixed, a fresh batch of values every step.

* first price, second price, all-pay (N bidders) and the k-unit pay-as-bid and uniform-price
  auctions train with the project's trainer (:func:`diffauction.learning.trainer.train`),
  bids b = w·v;
* the LLG auction's two locals train with :func:`diffauction.learning.llg.train_llg`, bids
  max(0, a + w·v) (the family that holds both LLG equilibria; the global bids its value).

* the mechanisms of ``neural.mechanisms`` (all-pay and the k-unit pay-as-bid auction, whose
  BNEs are not linear) train the network of the non-linear section instead (one hidden tanh
  layer shared by the symmetric bidders, bids v·σ(f), autograd gradient of each bidder's own
  smoothed utility over ``neural.pairings`` re-pairings of the batch, scrambled Sobol draws, an
  EMA of the parameters as the learned profile): the policy class the equilibrium needs.

Every run starts from the same slope w0 for a given seed index (evenly spread over
``w0.low..w0.high``; a = 0 for LLG; a network is pre-trained to min(w0, ``neural.w0_max``)·v,
since it cannot bid above value) and draws its values from its seed, so runs of different
mechanisms and temperatures are paired.

Target
------
The L2 distance (Bichler et al. 2021) of a learned bid function to a reference b_ref is
sqrt(E_v[(b(v) − b_ref(v))²]), evaluated on ``grid_points`` midpoint quantiles of the prior
(:mod:`diffauction.analysis.distance`). The *target* is the equilibrium the policy family can
represent: the BNE where it is linear (first, second, uniform price), affine (LLG) or the policy
is a network (``neural.mechanisms``). Trained with linear bids instead, pay-as-bid with k ≥ 2
can only reach the symmetric equilibrium of the game restricted to linear bids
(:func:`diffauction.equilibria.multiunit.linear_restricted_slope`), which is then its target,
and all-pay restricted to linear bids has no equilibrium for N ≥ 3 (a bidder's utility is convex
in its own slope), so it has no target. The L2 to the true BNE is recorded for every mechanism
as well. Convergence and outcomes: :mod:`.mechanisms_analysis`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from diffauction.analysis.distance import (
    l2_affine_on_grid,
    l2_linear_on_grid,
    policy_l2_history,
)
from diffauction.equilibria import multiunit, registry
from diffauction.experiments.nonlinear import BID_COLUMNS, GRID_POINTS, policy_label
from diffauction.experiments.seeds import seed_values
from diffauction.game.mechanisms import ALL_MECHANISMS, LLG_MECHANISMS, MULTI_UNIT, make_mechanism
from diffauction.game.policies import make_policy
from diffauction.game.priors import PRIORS, UniformPrior, make_agent_priors
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
DTYPE = torch.float64  # evaluation precision


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
    neural = section["neural"]
    trainable = sorted(set(ALL_MECHANISMS) - set(LLG_MECHANISMS))
    for j, m in enumerate(neural["mechanisms"]):
        if m in LLG_MECHANISMS:
            messages.append(f"{key}.neural.mechanisms.{j}: {m!r} trains its affine locals in "
                            f"its own loop, not a network; allowed: {trainable}")
    if neural["policy"].get("name") != "mlp":
        messages.append(f"{key}.neural.policy.name: {neural['policy'].get('name')!r} is not a "
                        "network; allowed: mlp")
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


def is_neural(mechanism: str, section: dict) -> bool:
    """Does ``mechanism`` train the network (``neural.mechanisms``) rather than linear bids?"""
    return mechanism in section["neural"]["mechanisms"]


def linear_restricted(mechanism: str, section: dict):
    """b(v) = w·v at the symmetric equilibrium of the game restricted to linear bids, where it
    differs from the BNE (pay as bid with k ≥ 2); else None."""
    n, k = section["n_agents"], section["units"]
    if mechanism == "pay_as_bid" and k >= 2:
        w = multiunit.linear_restricted_slope(mechanism, n, k)
        return lambda v: w * v
    return None


def target(mechanism: str, section: dict) -> tuple[str, object]:
    """(kind, b_ref) of the equilibrium the run's policy class can represent; b_ref is None
    where there is none (all-pay with linear bids)."""
    if is_neural(mechanism, section):
        return "BNE", bne_function(mechanism, section)
    restricted = linear_restricted(mechanism, section)
    if restricted is not None:
        return "linear-restricted equilibrium", restricted
    if mechanism == "all_pay":
        return "none", None
    return "BNE", bne_function(mechanism, section)


def policy_name(mechanism: str, section: dict) -> str:
    """The policy class of a mechanism's runs, as the tables label it."""
    if is_neural(mechanism, section):
        return policy_label(section["neural"]["policy"])
    return "affine" if mechanism in LLG_MECHANISMS else "linear"


def value_grid(section: dict, points: int) -> torch.Tensor:
    return high_of(section) * (torch.arange(points, dtype=torch.float64) + 0.5) / points


# --- training ------------------------------------------------------------------------------------


@dataclass
class Trained:
    """One mechanism's runs, trained: L2 to the target and the BNE at every record and of the
    learned profile, and that profile's parameters (a, w) — NaN for a network — or, for a
    network, its bids on the value grid v_j = high·j/(G − 1)."""

    steps: torch.Tensor  # [K] recorded steps
    l2: dict[str, torch.Tensor]  # "target", "bne": [K, runs, agents]
    l2_learned: dict[str, torch.Tensor]  # [runs, agents]: the tail average or the network's EMA
    history: torch.Tensor  # [K, runs, agents, 2] (a, w)
    tail: torch.Tensor  # [runs, agents, 2]
    final: torch.Tensor  # [runs, agents, 2]
    samples_per_run: int
    bidders: int
    bid_grid: torch.Tensor | None = None  # [runs, G, agents]


def _as_affine(w: torch.Tensor) -> torch.Tensor:
    """[..., agents] slopes → [..., agents, 2] (a = 0, w)."""
    return torch.stack([torch.zeros_like(w), w], dim=-1)


def _parametric(section: dict, mechanism: str, runs: pd.DataFrame) -> Trained:
    """Linear bids w·v (the trainer) or, for the LLG locals, affine bids max(0, a + w·v)."""
    if mechanism in LLG_MECHANISMS:
        result = llg.train_llg(
            mechanism, runs["seed"].tolist(), runs["beta"].tolist(), runs["w0"].tolist(),
            steps=section["steps"], batch_size=section["batch_size"],
            lr_start=section["lr_start"], lr_end=section["lr_end"],
            lr_schedule=section["lr_schedule"], record_every=section["record_every"],
            tail_fraction=section["tail_fraction"], dtype=DTYPES[section["dtype"]])
        history, tail, final, bidders = result.params, result.tail_average, result.final, 3
    else:
        params = {"k": section["units"]} if mechanism in MULTI_UNIT else {}
        result = train(RunBatch(
            n_agents=section["n_agents"], seeds=runs["seed"].tolist(),
            beta_start=runs["beta"].tolist(), beta_end=runs["beta"].tolist(),
            lr_start=[section["lr_start"]] * len(runs), lr_end=[section["lr_end"]] * len(runs),
            w0=runs["w0"].tolist(), batch_size=section["batch_size"], steps=section["steps"],
            mechanism=make_mechanism(mechanism, **params),
            prior={"name": "uniform", "low": 0.0, "high": high_of(section)},
            lr_schedule=section["lr_schedule"], optimizer="adam",
            record_every=section["record_every"], tail_fraction=section["tail_fraction"],
            dtype=section["dtype"]))
        history, tail, final = (_as_affine(result.params), _as_affine(result.tail_average),
                                _as_affine(result.final))
        bidders = section["n_agents"]
    affine = mechanism in LLG_MECHANISMS
    return Trained(steps=result.steps, l2=distances(mechanism, section, history, affine),
                   l2_learned={k: v[0] for k, v in
                               distances(mechanism, section, tail[None], affine).items()},
                   history=history, tail=tail, final=final,
                   samples_per_run=result.samples_per_run, bidders=bidders)


def neural_setup(section: dict, mechanism: str, runs: pd.DataFrame) -> RunBatch:
    """The trainer's batch for a network mechanism (module docstring): the comparison's budget,
    β grid, seeds and schedule shape, the ``neural`` block's learning rates and recipe."""
    neural, n = section["neural"], len(runs)
    params = {"k": section["units"]} if mechanism in MULTI_UNIT else {}
    return RunBatch(
        n_agents=section["n_agents"], seeds=runs["seed"].tolist(),
        beta_start=runs["beta"].tolist(), beta_end=runs["beta"].tolist(),
        lr_start=[neural["lr_start"]] * n, lr_end=[neural["lr_end"]] * n,
        w0=[min(w, neural["w0_max"]) for w in runs["w0"]], batch_size=section["batch_size"],
        steps=section["steps"], mechanism=make_mechanism(mechanism, **params),
        prior={"name": "uniform", "low": 0.0, "high": high_of(section)},
        lr_schedule=section["lr_schedule"], optimizer="adam",
        record_every=section["record_every"], tail_fraction=section["tail_fraction"],
        dtype=section["dtype"], gradient="autograd",
        gradient_options={"pairings": neural["pairings"]}, sampler=neural["sampler"],
        policy={**neural["policy"], "pretrain": "linear"}, ema_decay=neural["ema_decay"])


def _neural(section: dict, mechanism: str, runs: pd.DataFrame) -> Trained:
    """A network per run (shared by the bidders if the policy says so); the learned profile is
    the EMA of its parameters (the raw parameters without ``ema_decay``)."""
    setup = neural_setup(section, mechanism, runs)
    result = train(setup)
    ema = setup.ema_decay > 0
    history = result.extras["params_ema"] if ema else result.params
    learned = result.extras["final_ema"] if ema else result.final
    n, high = setup.n_agents, high_of(section)
    priors = make_agent_priors(setup.prior, None, n)
    policy = make_policy(setup.policy, setup.seeds, n, torch.ones(setup.runs, dtype=DTYPE),
                         priors, DTYPE, "cpu")  # evaluation only: float64, no pre-training
    nodes = value_grid(section, section["grid_points"])[:, None].expand(-1, n)
    reference = bne_function(mechanism, section)(nodes)
    l2 = {"bne": policy_l2_history(policy, history, nodes, reference)}
    l2_learned = {"bne": policy_l2_history(policy, learned[None], nodes, reference)[0]}
    l2["target"], l2_learned["target"] = l2["bne"], l2_learned["bne"]
    grid = high * torch.linspace(0.0, 1.0, GRID_POINTS, dtype=DTYPE)
    with torch.no_grad():
        bids = policy.bids(grid[None, :, None].expand(setup.runs, -1, n), learned.to(DTYPE))
    nan = torch.full((len(result.steps), setup.runs, n, 2), math.nan, dtype=DTYPE)
    return Trained(steps=result.steps, l2=l2, l2_learned=l2_learned, history=nan,
                   tail=nan[0], final=nan[0], samples_per_run=result.samples_per_run,
                   bidders=n, bid_grid=bids)


def train_mechanism(section: dict, mechanism: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every (β, seed) run of one mechanism; returns (trajectory, runs) tables.

    trajectory: one row per recorded step, run and learning agent (a, w, L2 to target and BNE);
    runs: one row per run and learning agent (the learned profile: tail-averaged and final
    parameters, or a network's EMA bids ``bid_000`` … on v_j = high·j/(G − 1); its L2s).
    """
    runs = run_table(section)
    trained = (_neural if is_neural(mechanism, section) else _parametric)(section, mechanism,
                                                                          runs)
    history, tail, final, l2 = trained.history, trained.tail, trained.final, trained.l2
    kk, n_runs, agents = history.shape[:3]
    index = pd.MultiIndex.from_product([range(kk), range(n_runs), range(agents)],
                                       names=["k", "run", "agent"]).to_frame(index=False)
    traj = index.join(runs.set_index("run"), on="run")
    traj["step"] = trained.steps.numpy()[traj["k"]]
    traj["samples"] = traj["step"] * section["batch_size"] * trained.bidders
    traj["a"] = history[..., 0].double().reshape(-1).numpy()
    traj["w"] = history[..., 1].double().reshape(-1).numpy()
    traj["l2_target"] = l2["target"].reshape(-1).numpy()
    traj["l2_bne"] = l2["bne"].reshape(-1).numpy()
    traj.insert(0, "mechanism", mechanism)
    traj = traj.drop(columns="k")
    rows = [{
        "mechanism": mechanism, **run.to_dict(), "agent": i,
        "policy": policy_name(mechanism, section),
        "a_tail": float(tail[r, i, 0]), "w_tail": float(tail[r, i, 1]),
        "a_final": float(final[r, i, 0]), "w_final": float(final[r, i, 1]),
        "l2_target_tail": float(trained.l2_learned["target"][r, i]),
        "l2_bne_tail": float(trained.l2_learned["bne"][r, i]),
        "steps": section["steps"], "batch_size": section["batch_size"],
        "samples_per_run": trained.samples_per_run, "bidders": trained.bidders,
        "target": target(mechanism, section)[0],
    } for r, run in runs.iterrows() for i in range(agents)]
    summary = pd.DataFrame(rows)
    if trained.bid_grid is not None:
        bids = trained.bid_grid.permute(0, 2, 1).reshape(-1, GRID_POINTS).numpy()
        summary = pd.concat([summary, pd.DataFrame(bids, columns=BID_COLUMNS)], axis=1)
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
