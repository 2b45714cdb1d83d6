"""The report's PPO run (learners compared): its settings, its summary against the reference and
its macros. PPO's own training is tested in test_marl.py."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from diffauction.experiments.config import ConfigError, validate_config
from diffauction.experiments.learners_settings import variant_settings
from diffauction.experiments.learners_tables import (
    distance_at,
    ppo_summary,
    reach_table,
    summary_table,
)
from diffauction.report.learners import ppo_macros

ROOT = Path(__file__).resolve().parents[1]


def trajectory(variant: str, l2_by_seed: list[list[float]], samples: list[int]) -> pd.DataFrame:
    """Two agents per run; agent 1 is always at half of agent 0's distance."""
    rows = []
    for run, l2s in enumerate(l2_by_seed):
        for step, (s, l2) in enumerate(zip(samples, l2s, strict=True)):
            for agent, d in enumerate((l2, l2 / 2)):
                rows.append({"variant": variant, "n_agents": 2, "mechanism": "first_price",
                             "seed": run, "run": run, "step": step, "samples": s,
                             "agent": agent, "w": 0.5, "l2_bid": d})
    return pd.DataFrame(rows)


def finals(frame: pd.DataFrame) -> pd.DataFrame:
    last = frame[frame["step"] == frame["step"].max()]
    return last.assign(loss_ex_ante=math.nan, loss_ex_interim=math.nan)


def test_distance_at_takes_the_last_record_within_the_budget():
    ref = trajectory("ref", [[0.3, 0.2, 0.05, 0.001], [0.3, 0.4, 0.07, 0.002],
                             [0.3, 0.3, 0.09, 0.003]], [0, 2048, 4096, 10_000])
    at = distance_at(ref, 5000).iloc[0]
    assert at["samples_at"] == 4096 and at["l2_at"] == pytest.approx(0.07)  # median of 3 seeds
    assert distance_at(ref, 4096).iloc[0]["samples_at"] == 4096  # "at or below" the budget


def test_ppo_summary_against_the_reference():
    ppo = trajectory("ppo", [[0.29, 0.2, 0.13], [0.29, 0.25, 0.2]], [0, 2048, 4096])
    ref_traj = trajectory("ref", [[0.3, 0.22, 0.005], [0.3, 0.24, 0.004]], [0, 4096, 20_000])
    ref_summary = summary_table(reach_table(ref_traj, 0.01))
    out = ppo_summary(ppo, finals(ppo), ref_summary, 0.01, ref_traj)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["initial_l2_median"] == pytest.approx(0.29)
    assert row["final_l2_median"] == pytest.approx(0.165) and row["final_l2_worst"] == 0.2
    assert row["reached"] == 0 and math.isnan(row["median"])
    assert row["reference_median"] == 20_000
    # PPO did not reach it: the ratio is a lower bound, budget / reference median
    assert row["bound_median"] == ">" and row["ratio_median"] == pytest.approx(4096 / 20_000)
    assert row["reference_samples_at"] == 4096
    assert row["reference_l2_at"] == pytest.approx(0.23)
    macros = ppo_macros(out, 0.01, {"ppo": {"settings": {"frames_per_batch": 128},
                                            "large_budget": 1.2e5,
                                            "large_seeds": {"count": 2}}})
    names = re.findall(r"\\newcommand\{\\([^}]*)\}", macros)
    assert len(names) == len(set(names)) and all(n.startswith("LCPPO") for n in names)
    assert r"\newcommand{\LCPPOIterations}{16}" in macros  # 2048 auctions / 128
    assert r"\newcommand{\LCPPOReferenceAt}{0.230}" in macros
    assert r"\newcommand{\LCPPORatio}{--}" in macros  # a lower bound below one says nothing
    assert r"\newcommand{\LCPPOLargeSeeds}{2}" in macros


@pytest.fixture(scope="module")
def base_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_report_run_and_large_target_settings(base_config):
    section = validate_config(copy.deepcopy(base_config))["comparison"]
    small, large = variant_settings(section, "ppo"), variant_settings(section, "ppo_large")
    assert small["learner"] == large["learner"] == "ppo"
    assert small["budget"] == int(section["ppo"]["budget"]) < large["budget"]
    assert large["budget"] == int(section["ppo"]["large_budget"])
    assert len(large["seeds"]) >= len(small["seeds"]) >= 1
    assert small["settings"] == large["settings"]  # one PPO, two budgets


def test_ppo_large_is_a_reserved_learner_name(base_config):
    cfg = copy.deepcopy(base_config)
    cfg["comparison"]["learners"]["ppo_large"] = {"learner": "npga", "budget": 1e6}
    with pytest.raises(ConfigError, match=r"comparison\.learners\.ppo_large: the name is reserved"):
        validate_config(cfg)
