"""The neural round of "Learners compared" (diffauction.experiments.learners_neural): distances
of recorded networks to the BNE, a tiny real run of every learner, tables with the auction as the
setting, its config checks, macros and figure."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from diffauction.equilibria.registry import known_bne
from diffauction.experiments import learners_tables as tables
from diffauction.experiments.config import ConfigError, validate_config
from diffauction.experiments.learners_neural import (
    NEURAL_KEYS,
    auction_priors,
    bid_distances,
    neural_settings,
    run_neural_variant,
)
from diffauction.experiments.learners_settings import auction_labels, learner_labels
from diffauction.figures.learners import neural_figure
from diffauction.game.policies import value_grid
from diffauction.learning.recording import TrainResult
from diffauction.report.learners import neural_macros, neural_table

ROOT = Path(__file__).resolve().parents[1]
PLUM = {"agent_priors": [{"name": "uniform", "low": 0.0, "high": 0.5},
                         {"name": "uniform", "low": 0.0, "high": 1.0}]}


@pytest.fixture(scope="module")
def base_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def recorded(bid_grid: torch.Tensor) -> TrainResult:
    k, runs = bid_grid.shape[:2]
    params = torch.zeros((k, runs, bid_grid.shape[-1], 3))
    return TrainResult(steps=torch.arange(k), params=params, final=params[-1],
                       samples_per_step=8, seeds=list(range(runs)), learner="smoothed",
                       bid_grid=bid_grid)


@pytest.mark.parametrize("auction", [{}, PLUM])
def test_bne_on_the_grid_is_at_distance_zero_and_a_shift_at_the_shift(auction):
    """The BNE recorded on the grid is at L2 ≈ 0 (interpolation only); b* + c is at exactly c."""
    priors = auction_priors(auction)
    grid = value_grid(priors.lows, priors.highs, 65)  # [G, agents]
    bne = known_bne("first_price", list(priors))
    star = torch.stack([bne.bid(i, grid[:, i].contiguous()) for i in range(2)], dim=-1)
    shifts = torch.tensor([0.0, 0.01, 0.05])
    bid_grid = star[None, None] + shifts[:, None, None, None]  # [K=3, runs=1, G, agents]
    out = bid_distances(recorded(bid_grid), priors)
    assert out.shape == (3, 1, 2)
    assert out[0].max() < 2e-3  # Plum's BNE is curved: interpolation between 65 points
    assert torch.allclose(out[1:, 0] - out[0, 0], shifts[1:, None].double(), atol=2e-3)


def tiny_section(base_config, **changes) -> dict:
    cfg = copy.deepcopy(base_config)
    neural = cfg["comparison"]["neural"]
    neural.update(seeds=[0, 1], records=8)
    neural["policy"]["pretrain_steps"] = 40
    for spec in neural["learners"].values():
        spec["budget"] = 4 * spec["settings"]["batch_size"] * 2  # four steps
        spec["settings"]["batch_size"] = min(spec["settings"]["batch_size"], 256)
    neural.update(changes)
    return validate_config(cfg)["comparison"]


@pytest.mark.parametrize("variant", ["smoothed", "npga", "reinforce"])
def test_tiny_neural_run_shapes_and_determinism(base_config, variant):
    settings = neural_settings(tiny_section(base_config), variant)
    trajectory, final, wall = run_neural_variant(settings)
    again, _, _ = run_neural_variant(settings)
    pd.testing.assert_frame_equal(trajectory, again)  # same config and seeds: same numbers
    assert set(trajectory["auction"]) == set(settings["auctions"]) == {"symmetric", "plum"}
    steps = trajectory["step"].nunique()
    assert len(trajectory) == len(settings["auctions"]) * steps * 2 * 2  # runs × agents
    assert len(final) == len(settings["auctions"]) * 2 * 2
    assert trajectory["l2_bid"].between(0, 1).all()
    # every learner starts from the same pre-trained networks: w0·v, far from the BNE
    start = trajectory[trajectory["step"] == 0].groupby("auction")["l2_bid"].max()
    assert (start > 0.1).all()
    assert (trajectory["samples"] == trajectory["step"] * 2 * settings["settings"]["batch_size"]
            ).all()
    assert len(wall) == 2 and (wall["total_wall_s"] > 0).all()


def synthetic(crossings: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One run per (variant, auction): the worst agent is 0.1 before its crossing, 0.005 after."""
    rows = []
    for variant, by_auction in crossings.items():
        for auction, cross in by_auction.items():
            for step, s in enumerate([0, 1000, 2000, 4000]):
                below = not math.isnan(cross) and s >= cross
                for agent, l2 in enumerate((0.005 if below else 0.1, 0.001)):
                    rows.append({"variant": variant, "auction": auction, "seed": 0, "run": 0,
                                 "step": step, "samples": s, "agent": agent, "l2_bid": l2})
    return pd.DataFrame(rows)


def test_tables_take_the_auction_as_the_setting(tmp_path):
    frame = synthetic({"smoothed": {"symmetric": 1000, "plum": 2000},
                       "npga": {"symmetric": 4000, "plum": math.nan}})
    reach = tables.reach_table(frame, 0.02, NEURAL_KEYS)
    summary = tables.summary_table(reach, evaluations={"smoothed": 1, "npga": 17}, keys=NEURAL_KEYS)
    ratios = tables.ratio_table(summary, "smoothed", NEURAL_KEYS).set_index("auction")
    assert ratios.loc["symmetric", "ratio_median"] == 4.0
    assert ratios.loc["symmetric", "ratio_evaluations"] == 4.0 * 17
    assert ratios.loc["plum", "bound_median"] == ">"
    assert ratios.loc["plum", "ratio_median"] == pytest.approx(4000 / 2000)
    neural = {"tolerance": 0.02, "seeds": [0], "records": 8, "reference": "smoothed",
              "policy": {"name": "mlp", "hidden": [10], "activation": "tanh"},
              "auctions": {"symmetric": {"label": "sym"}, "plum": {"label": "Plum", **PLUM}},
              "learners": {"smoothed": {"learner": "smoothed", "budget": 4000,
                                        "settings": {"beta": 50.0, "beta_end": 1000.0}},
                           "npga": {"learner": "npga", "budget": 4000, "label": "NPGA"}}}
    macros = neural_macros(summary, ratios.reset_index(), reach, neural)
    names = re.findall(r"\\newcommand\{\\([^}]*)\}", macros)
    assert len(names) == len(set(names)) and all(re.fullmatch(r"LN[A-Za-z]+", n) for n in names)
    assert r"\newcommand{\LNRatioNpgaSymmetric}{4.0}" in macros
    assert r"\newcommand{\LNEvalRatioNpgaSymmetric}{68}" in macros
    assert r"\newcommand{\LNBetaEnd}{1000}" in macros
    assert r"\newcommand{\LNFinalMaxNpga}{0.100}" in macros
    table = neural_table(summary, ratios.reset_index(), neural)
    assert "tab:learners-neural" in table and table.count("ref.") == 4
    per_point = tables.band(tables.worst_agent(frame, keys=NEURAL_KEYS), NEURAL_KEYS)
    neural_figure(per_point, learner_labels(neural), auction_labels(neural), 0.02,
                  tmp_path / "n.pdf", tmp_path / "n.png")
    assert (tmp_path / "n.pdf").stat().st_size > 0 and (tmp_path / "n.png").stat().st_size > 0


@pytest.mark.parametrize("block, change, key", [
    ("neural", {"learners": {"smoothed": {"learner": "smoothed", "budget": 1e5}}},
     "comparison.neural.learners.smoothed.settings.gradient"),
    ("neural", {"learners": {"smoothed": {"learner": "smoothed", "budget": 1e5,
                                          "settings": {"gradient": "autograd"}},
                             "hedge": {"learner": "hedge", "budget": 1e5}}},
     "comparison.neural.learners.hedge.learner"),
    ("neural", {"reference": "npga"}, "comparison.neural.reference"),
    ("neural", {"reference": "missing"}, "comparison.neural.reference"),
    ("neural", {"auctions": {"bad": {"agent_priors": [
        {"name": "uniform", "low": 0.5, "high": 0.2}, {"name": "uniform"}]}}},
     "comparison.neural.auctions.bad.agent_priors"),
    ("neural", {"auctions": {"beta": {"agent_priors": [
        {"name": "beta", "a": 2, "b": 5}, {"name": "uniform"}]}}},
     "comparison.neural.auctions.beta.agent_priors.0.name"),
    ("neural", {"policy": {"name": "linear"}}, "comparison.neural.policy.name"),
    ("neural", {"tolerance": 0}, "comparison.neural.tolerance"),
    ("ppo", {"large_budget": 0}, "comparison.ppo.large_budget"),
    ("ppo", {"large_seeds": {"count": 0}}, "comparison.ppo.large_seeds"),
    ("ppo", {"budget": "small"}, "comparison.ppo.budget"),
])
def test_bad_neural_or_ppo_block_names_the_key(base_config, block, change, key):
    cfg = copy.deepcopy(base_config)
    cfg["comparison"][block].update(change)
    with pytest.raises(ConfigError, match=re.escape(key)):
        validate_config(cfg)


def test_default_neural_round(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["comparison"].pop("neural")
    neural = validate_config(cfg)["comparison"]["neural"]  # every key has a default
    assert set(neural["learners"]) == {"smoothed", "npga", "reinforce"}
    assert neural["reference"] == "smoothed" and set(neural["auctions"]) == {"symmetric", "plum"}
    assert neural["learners"]["smoothed"]["settings"]["gradient"] == "autograd"
