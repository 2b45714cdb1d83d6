"""The neural round of "Learners compared" (issue 16): the smoothed gradient, NPGA and REINFORCE
on the neural policy, with the linear round's accounting, reach-and-stay and ratios.

Every learner trains one network per bidder (``comparison.neural.policy``: the non-linear
section's MLP, bids v·σ(f), pre-trained to the comparison's w0·v) by the one training loop
(:func:`diffauction.learning.trainer.train`) with its own estimator: the smoothed gradient by
autograd through the network (annealed β), NPGA and REINFORCE on the hard auction
(:mod:`diffauction.learning.estimators`); each agent's update sees only its own utility. The
auctions (``comparison.neural.auctions``) are first price with two bidders whose BNE is known:
U[0, 1] values (b* = v/2) and Plum's (1992) asymmetric bidders, U[0, 0.5] against U[0, 1].

A run's distance at a recorded step is the worst bidder's L2 distance to its BNE bid under its
own prior (:func:`bid_distances`), from the bid function recorded on a grid of
:data:`GRID_POINTS` values of the bidder's support (linear interpolation, :data:`L2_NODES`
quantile midpoints). Samples, reach-and-stay, summaries and ratios are those of the linear
round (:mod:`.learners_tables`) with the auction's name as the setting key.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from diffauction.analysis.bid_functions import grid_bid_function
from diffauction.analysis.distance import l2_distance
from diffauction.equilibria.registry import known_bne
from diffauction.experiments.learners_settings import PRIOR, label_of
from diffauction.experiments.seeds import seed_values
from diffauction.game.policies import value_grid
from diffauction.game.priors import make_agent_priors, value_midpoints
from diffauction.learning.baselines import TRAINERS, make_config
from diffauction.learning.recording import TrainResult, log_record_steps

MECHANISM = "first_price"
N_AGENTS = 2
#: the setting key of the neural round's tables: the auction's name
NEURAL_KEYS = ["variant", "auction"]
GRID_POINTS = 65  # recorded bid function: values per bidder's support
L2_NODES = 512  # quantile midpoints of the L2 distance


def auction_priors(auction: dict):
    """The bidders' priors of one auction of ``comparison.neural.auctions``."""
    return make_agent_priors(PRIOR, auction.get("agent_priors"), N_AGENTS)


def neural_settings(section: dict, variant: str) -> dict:
    """Everything one neural variant's training job depends on (a Snakemake ``params`` value)."""
    neural = section["neural"]
    spec = neural["learners"][variant]
    return {"variant": variant, "learner": spec["learner"], "label": label_of(variant, spec),
            "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
            "policy": dict(neural["policy"]), "seeds": seed_values(neural["seeds"]),
            "auctions": {name: dict(a) for name, a in neural["auctions"].items()},
            "w0": section["w0"], "records": neural["records"]}


def bid_distances(result: TrainResult, priors) -> torch.Tensor:
    """[K, runs, agents]: every recorded bid function's L2 distance to the BNE bid, each bidder
    under its own prior (float64)."""
    bne = known_bne(MECHANISM, list(priors))
    k, runs, points, agents = result.bid_grid.shape
    grid = value_grid(priors.lows, priors.highs, points)
    out = torch.empty((k, runs, agents), dtype=torch.float64)
    for i in range(agents):
        v = value_midpoints(priors[i], L2_NODES)
        own = result.bid_grid[..., i].reshape(k * runs, points)
        bids = grid_bid_function(grid[:, i].contiguous(), own)
        out[..., i] = l2_distance(bids(v), bne.bid(i, v)[None, :]).reshape(k, runs)
    return out


def train_auction(settings: dict, auction: str) -> TrainResult:
    """One variant's runs (every seed, one batched program) on one auction."""
    cfg = make_config(settings["learner"], settings["settings"])
    steps = max(1, settings["budget"] // cfg.samples_per_step(N_AGENTS))
    overrides = {"policy": settings["policy"], "grid_points": GRID_POINTS,
                 "agent_priors": settings["auctions"][auction].get("agent_priors")}
    return TRAINERS[settings["learner"]](
        N_AGENTS, settings["seeds"], steps, w0=settings["w0"], mechanism=MECHANISM, config=cfg,
        prior=PRIOR, record_steps=log_record_steps(steps, settings["records"]),
        overrides=overrides)


def neural_frame(result: TrainResult, variant: str, auction: str, priors) -> pd.DataFrame:
    """Tidy frame, one row per (run, recorded step, agent): the linear round's columns
    (variant, learner, n_agents, mechanism, seed, run, step, samples, agent, l2_bid) and the
    auction's name."""
    l2 = bid_distances(result, priors)
    k, runs, agents = l2.shape
    idx_k, idx_r, idx_a = torch.meshgrid(torch.arange(k), torch.arange(runs),
                                         torch.arange(agents), indexing="ij")
    return pd.DataFrame({
        "variant": variant, "auction": auction, "learner": result.learner,
        "n_agents": agents, "mechanism": MECHANISM,
        "seed": torch.tensor(result.seeds)[idx_r].reshape(-1).numpy(),
        "run": idx_r.reshape(-1).numpy(),
        "step": result.steps[idx_k].reshape(-1).numpy(),
        "samples": result.samples[idx_k].reshape(-1).numpy(),
        "agent": idx_a.reshape(-1).numpy(),
        "l2_bid": l2.reshape(-1).numpy(),
        "evaluations_per_sample": result.evaluations_per_sample,
    })


def run_neural_variant(settings: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train one variant on every auction: its trajectory, the final point of every run and
    agent, and the wall time per auction (not reproducible: kept apart from the results)."""
    frames, walls = [], []
    for auction in settings["auctions"]:
        start = time.perf_counter()
        result = train_auction(settings, auction)
        frames.append(neural_frame(result, settings["variant"], auction,
                                   auction_priors(settings["auctions"][auction])))
        walls.append({"variant": settings["variant"], "learner": settings["learner"],
                      "auction": auction, "runs": len(settings["seeds"]),
                      "budget": settings["budget"], "total_wall_s": time.perf_counter() - start})
    trajectory = pd.concat(frames, ignore_index=True)
    final = trajectory[trajectory["step"] == trajectory.groupby("auction")["step"]
                       .transform("max")].reset_index(drop=True)
    return trajectory, final, pd.DataFrame(walls)
