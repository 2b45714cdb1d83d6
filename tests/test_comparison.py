"""Tests for diffauction.experiments.learners (learners compared), its config block and the README's
"Use the environment from your own MARL code" snippets."""

from __future__ import annotations

import copy
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diffauction.analysis.convergence import reach_and_stay
from diffauction.experiments.config import ConfigError, load_config, validate_config
from diffauction.experiments.learners import run_variant
from diffauction.experiments.learners_settings import variant_settings
from diffauction.experiments.learners_tables import (
    band,
    ratio_table,
    reach_table,
    summary_table,
    worst_agent,
)
from diffauction.figures.learners import figure
from diffauction.report.learners import camel, learners_macros, learners_tables

ROOT = Path(__file__).resolve().parents[1]
NAN = math.nan


# --- reach and stay ----------------------------------------------------------------------------


@pytest.mark.parametrize("l2, expected", [
    ([0.5, 0.1, 0.02, 0.009, 0.005], 4000),  # crosses once
    ([0.5, 0.008, 0.02, 0.009, 0.005], 4000),  # dips below, comes back: the dip does not count
    ([0.5, 0.1, 0.02, 0.009, 0.011], NAN),  # leaves again at the end: not reached
    ([0.005, 0.004, 0.003, 0.002, 0.001], 1000),  # below from the first record on
    ([0.5, 0.1, 0.01, 0.01, 0.01], 3000),  # "≤ tolerance" includes the tolerance
    ([0.5, 0.1, NAN, 0.009, 0.005], 4000),  # a NaN distance counts as above
])
def test_reach_and_stay(l2, expected):
    samples = [1000, 2000, 3000, 4000, 5000]
    result = reach_and_stay(samples, l2, 0.01)
    assert (math.isnan(result) and math.isnan(expected)) or result == expected


def test_reach_and_stay_rejects_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        reach_and_stay([0, 2, 1], [1, 1, 1], 0.01)
    with pytest.raises(ValueError, match="no recorded"):
        reach_and_stay([], [], 0.01)


def synthetic_trajectory(crossings: dict[str, list[float]], budget: int = 10_000,
                         agents: int = 2) -> pd.DataFrame:
    """Per variant, one crossing sample count per seed (NaN: never below 0.01). The first agent
    follows l2 = 0.1 before the crossing and 0.001 from it on; the other agent is always at
    0.002, so the worst agent decides."""
    rows = []
    samples = [0, 100, 500, 1000, 2000, 5000, budget]
    for variant, crossing in crossings.items():
        for run, cross in enumerate(crossing):
            for step, s in enumerate(samples):
                for agent in range(agents):
                    if agent == 0:
                        l2 = 0.001 if not math.isnan(cross) and s >= cross else 0.1
                    else:
                        l2 = 0.002
                    rows.append({"variant": variant, "n_agents": 2, "mechanism": "first_price",
                                 "seed": 10 + run, "run": run, "step": step, "samples": s,
                                 "agent": agent, "w": 0.5, "l2_bid": l2})
    return pd.DataFrame(rows)


def test_worst_agent_takes_the_largest_distance():
    frame = synthetic_trajectory({"a": [1000]})
    per_point = worst_agent(frame)
    assert len(per_point) == 7
    assert per_point["l2"].tolist() == [0.1, 0.1, 0.1, 0.002, 0.002, 0.002, 0.002]


def test_reach_summary_and_ratio():
    frame = synthetic_trajectory({
        "ref": [500, 500, 1000, 1000],  # median 750, worst 1000
        "fast": [100, 100, 100, 100],  # faster than the reference: ratio < 1
        "slow": [5000, 5000, 5000, NAN],  # median 5000, worst not reached
        "never": [NAN, NAN, NAN, 2000],  # median not reached: lower bound budget / 750
    })
    reach = reach_table(frame, 0.01)
    assert len(reach) == 16 and set(reach["budget"]) == {10_000}
    summary = summary_table(reach).set_index("variant")
    assert summary.loc["ref", "median"] == 750 and summary.loc["ref", "worst"] == 1000
    assert summary.loc["slow", "median"] == 5000 and math.isnan(summary.loc["slow", "worst"])
    assert summary.loc["slow", "reached"] == 3 and summary.loc["slow", "seeds"] == 4
    assert math.isnan(summary.loc["never", "median"])
    ratios = ratio_table(summary.reset_index(), "ref").set_index("variant")
    assert ratios.loc["fast", "ratio_median"] == pytest.approx(100 / 750)
    assert ratios.loc["slow", "ratio_median"] == pytest.approx(5000 / 750)
    assert ratios.loc["slow", "bound_median"] == "="
    assert ratios.loc["slow", "bound_worst"] == ">"
    assert ratios.loc["slow", "ratio_worst"] == pytest.approx(10_000 / 1000)
    assert ratios.loc["never", "bound_median"] == ">"
    assert ratios.loc["never", "ratio_median"] == pytest.approx(10_000 / 750)
    assert "ref" not in ratios.index


def test_no_ratio_when_the_reference_does_not_reach():
    frame = synthetic_trajectory({"ref": [NAN, NAN, NAN], "other": [100, 100, 100]})
    summary = summary_table(reach_table(frame, 0.01))
    ratios = ratio_table(summary, "ref")
    assert ratios["bound_median"].tolist() == ["none"]
    assert math.isnan(ratios["ratio_median"].iloc[0])


def test_band_is_mean_min_max_over_seeds():
    frame = synthetic_trajectory({"a": [100, 5000]})
    out = band(worst_agent(frame))
    at_1000 = out[out["samples"] == 1000].iloc[0]
    assert at_1000["mean"] == pytest.approx((0.002 + 0.1) / 2)
    assert at_1000["low"] == 0.002 and at_1000["high"] == 0.1


# --- report numbers and figure -------------------------------------------------------------------


def section(**overrides) -> dict:
    base = {"n_agents": [2], "mechanisms": ["first_price"], "seeds": {"count": 4}, "w0": 0.9,
            "tolerance": 0.01, "records": 20, "reference": "ref",
            "learners": {"ref": {"learner": "smoothed", "label": "smoothed", "budget": 1e4},
                         "slow": {"learner": "npga", "label": "NPGA", "budget": 1e4}}}
    return {**base, **overrides}


def test_macros_and_tables_from_synthetic_results():
    frame = synthetic_trajectory({"ref": [500, 500, 1000, 1000], "slow": [5000, 5000, 5000, NAN]})
    summary = summary_table(reach_table(frame, 0.01), evaluations={"ref": 1, "slow": 65})
    summary["loss_ex_ante"] = [1e-4, NAN]
    ratios = ratio_table(summary, "ref")
    macros = learners_macros(summary, ratios, section())
    names = re.findall(r"\\newcommand\{\\([^}]*)\}", macros)
    assert all(re.fullmatch(r"[A-Za-z]+", name) for name in names)
    assert len(names) == len(set(names))
    assert r"\newcommand{\LCRatioSlowTwoFirstPrice}{6.7}" in macros
    assert r"\newcommand{\LCWorstSlowTwoFirstPrice}{not reached}" in macros
    assert r"\newcommand{\LCFasterSlow}{1}" in macros
    tables = learners_tables(summary, ratios, section())
    assert tables.count(r"\begin{table}") == 2
    assert "tab:learners-reach" in tables and "ref." in tables and "not reached" in tables
    assert "65" in tables  # NPGA's utility evaluations per valuation


def test_figure_writes_pdf_and_png(tmp_path):
    frame = synthetic_trajectory({"ref": [500, 1000], "slow": [5000, NAN]})
    frame = pd.concat([frame, frame.assign(mechanism="second_price")])
    out = band(worst_agent(frame))
    figure(out, {"ref": "smoothed", "slow": "NPGA"}, 0.01, tmp_path / "f.pdf", tmp_path / "f.png")
    assert (tmp_path / "f.pdf").stat().st_size > 0 and (tmp_path / "f.png").stat().st_size > 0


def test_camel_names():
    assert camel("smoothed_fixed") == "SmoothedFixed"
    assert camel(5) == "Five" and camel(12) == "OneTwo"
    assert camel("second_price") == "SecondPrice"


# --- a tiny real run ---------------------------------------------------------------------------


@pytest.mark.parametrize("learner, settings", [
    ("smoothed", {"batch_size": 64, "beta": 100.0}),
    ("hedge", {"batch_size": 32, "value_bins": 8, "bid_points": 17}),
])
def test_run_variant_tiny(learner, settings):
    cfg = validate_config({"experiments": {"x": {"n_agents": 2, "beta": 50, "batch_size": 8,
                                                 "steps": 1, "seeds": [0],
                                                 "optimizer": {"name": "adam", "lr": 0.01}}},
                           "comparison": {"n_agents": [2, 3], "seeds": [0, 1], "records": 8,
                                          "learners": {"smoothed_annealed": {
                                              "learner": "smoothed", "budget": 2e4,
                                              "settings": {"batch_size": 64}},
                                              "v": {"learner": learner, "budget": 2e4,
                                                    "settings": settings}}}})
    trajectory, final, wall = run_variant(variant_settings(cfg["comparison"], "v"))
    assert set(trajectory["variant"]) == {"v"}
    assert set(zip(trajectory["n_agents"], trajectory["mechanism"], strict=True)) == {
        (n, m) for n in (2, 3) for m in ("first_price", "second_price")}
    assert len(final) == 2 * 2 * (2 + 3)  # settings × seeds × agents
    assert np.isfinite(final["l2_bid"]).all()
    if learner == "smoothed":  # linear policies get an ε-Nash
        assert (final["loss_ex_ante"] >= 0).all() and (final["loss_ex_interim"] >= 0).all()
    else:
        assert final["loss_ex_ante"].isna().all()
    assert len(wall) == 4 and (wall["train_wall_s"] > 0).all()
    assert trajectory["samples"].max() <= 2e4


# --- config validation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_config():
    import yaml

    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def with_comparison(base: dict, **changes) -> dict:
    cfg = copy.deepcopy(base)
    block = cfg.setdefault("comparison", {})
    for key, value in changes.items():
        block[key] = value
    return cfg


def test_default_config_has_a_valid_comparison():
    cfg = load_config(ROOT / "config" / "config.yaml")
    block = cfg["comparison"]
    assert block["reference"] in block["learners"]
    assert set(block["n_agents"]) >= {2, 5}
    assert set(block["mechanisms"]) >= {"first_price", "second_price"}
    assert len(block["seeds"]["count"] * [0] if isinstance(block["seeds"], dict)
               else block["seeds"]) >= 8
    learners = {spec["learner"] for spec in block["learners"].values()}
    assert learners == {"smoothed", "npga", "reinforce", "hedge"}


def test_comparison_defaults_fill_a_missing_block(base_config):
    cfg = copy.deepcopy(base_config)
    cfg.pop("comparison", None)
    block = validate_config(cfg)["comparison"]
    assert block["tolerance"] == 0.01 and block["reference"] == "smoothed_annealed"
    assert "ppo" in block and block["ppo"]["n_agents"] == [2]


def learners_with(base: dict, name: str, spec: dict) -> dict:
    cfg = validate_config(base)["comparison"]["learners"]
    return {**cfg, name: spec}


@pytest.mark.parametrize("name, spec, key", [
    ("sgd", {"learner": "sgd", "budget": 1e6}, "comparison.learners.sgd.learner"),
    ("ppo", {"learner": "ppo", "budget": 1e6}, "comparison.learners.ppo.learner"),
    ("ppo", {"learner": "npga", "budget": 1e6}, "comparison.learners.ppo: the name is reserved"),
    ("npga", {"learner": "npga", "budget": 1e6, "settings": {"popsize": 8}},
     "comparison.learners.npga.settings.popsize"),
    ("hedge", {"learner": "hedge", "budget": 10}, "comparison.learners.hedge.budget"),
    ("npga", {"learner": "npga", "budget": 1e6, "settings": {"batch_size": "big"}},
     "comparison.learners.npga.settings.batch_size"),
    ("npga", {"learner": "npga", "budget": 1e6, "settings": {"lr": True}},
     "comparison.learners.npga.settings.lr"),
    ("smoothed_fixed", {"learner": "smoothed", "budget": 1e6, "settings": {"sampler": "halton"}},
     "comparison.learners.smoothed_fixed.settings.sampler"),
    ("smoothed_fixed", {"learner": "smoothed", "budget": 1e6,
                        "settings": {"beta_schedule": "cosine"}},
     "comparison.learners.smoothed_fixed.settings.beta_schedule"),
])
def test_bad_learner_is_a_config_error_naming_the_key(base_config, name, spec, key):
    cfg = with_comparison(base_config, learners=learners_with(base_config, name, spec))
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert key in str(info.value)
    if spec["learner"] == "sgd":
        assert "allowed" in str(info.value) and "npga" in str(info.value)


@pytest.mark.parametrize("changes, key", [
    ({"reference": "npga"}, "comparison.reference"),
    ({"reference": "missing"}, "comparison.reference"),
    ({"n_agents": [1, 2]}, "comparison.n_agents.0"),
    ({"n_agents": []}, "comparison.n_agents"),
    ({"mechanisms": ["dutch"]}, "comparison.mechanisms.0"),
    ({"seeds": {"count": 0}}, "comparison.seeds"),
    ({"tolerance": 0}, "comparison.tolerance"),
    ({"learners": {}}, "comparison.learners"),
    ({"budgets": 3}, "comparison.budgets"),
    ({"ppo": {"budget": 0}}, "comparison.ppo.budget"),
    ({"ppo": {"settings": {"hidden_units": 3}}}, "comparison.ppo.settings.hidden_units"),
])
def test_bad_comparison_block_is_a_config_error(base_config, changes, key):
    with pytest.raises(ConfigError) as info:
        validate_config(with_comparison(base_config, **changes))
    assert key in str(info.value)


def test_missing_budget_is_a_config_error(base_config):
    learners = learners_with(base_config, "npga", {"learner": "npga"})
    with pytest.raises(ConfigError, match=r"comparison\.learners\.npga.*budget"):
        validate_config(with_comparison(base_config, learners=learners))


# --- the README snippets -----------------------------------------------------------------------


def readme_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Use the environment from your own MARL code\n(.*?)(?=^## )", text,
                        re.S | re.M)
    assert section, "README.md lost its section 'Use the environment from your own MARL code'"
    return re.findall(r"```python\n(.*?)```", section.group(1), re.S)


def test_readme_marl_snippets_run(capsys):
    snippets = readme_snippets()
    assert len(snippets) == 2
    namespace: dict = {}
    exec(compile(snippets[0], "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    bne, truthful = (eval(line) for line in out.strip().splitlines()[-2:])  # noqa: S307
    assert all(abs(u - 1 / 12) < 0.01 for u in bne.values())  # 2000 auctions: se ≈ 0.002
    assert all(abs(u) < 1e-12 for u in truthful.values())
    if importlib.util.find_spec("torchrl") is None:
        pytest.skip("torchrl not installed (optional extra [marl]): second snippet not run")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(snippets[1], "README.md", "exec"), namespace)
    assert namespace["rollout"].batch_size == (4,)
