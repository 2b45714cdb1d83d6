"""The bid-function cases solved one game per job (workflow rule ``smoothed_function_group``) and
merged (:mod:`diffauction.experiments.smoothed_functions`): the same tables as one job."""

from __future__ import annotations

import pandas as pd
import pytest

from diffauction.experiments.smoothed_functions import (
    function_cases,
    function_groups,
    function_tables,
    merge_function_tables,
)

UNIFORM = {"name": "uniform", "low": 0.0, "high": 1.0}
SECTION = {"beta": [25.0], "residual_tol": 1e-10, "gap_tol": 1e-8, "grid_tol": 1e-3,
           "max_cells": 900, "max_halvings": 2}
EXPERIMENTS = {
    # the same game as the first-price case on U[0, 1], at another final β
    "nl_first": {"policy": {"name": "mlp"}, "n_agents": 2, "prior": UNIFORM,
                 "mechanism": "first_price", "beta": {"end": 50.0}},
    "linear_one": {"policy": {"name": "linear"}, "n_agents": 2, "prior": UNIFORM,
                   "mechanism": "first_price", "beta": 25.0},
}
MECHANISMS = {"neural": {"mechanisms": ["all_pay"]}, "units": 2, "n_agents": 2,
              "prior": UNIFORM, "beta": [25.0]}


def test_cases_of_one_game_form_one_group():
    """The network case on first price, U[0, 1], N = 2 joins the first-price case (one game,
    solved once); all-pay is a group of its own; linear experiments have no case."""
    groups = function_groups(SECTION, EXPERIMENTS, MECHANISMS)
    assert {name: [c["setting"] for c in cases] for name, cases in groups.items()} == {
        "first_price_n2": ["first_price_n2", "nl_first_n2"],
        "mechanisms_all_pay": ["mechanisms_all_pay"]}


def test_the_groups_merged_are_the_tables_of_one_job():
    """Each group solved alone, then merged in the cases' order: the table and the curves of
    all cases solved at once, row for row."""
    table, curves = function_tables(SECTION, EXPERIMENTS, MECHANISMS)
    parts = [function_tables(SECTION, EXPERIMENTS, MECHANISMS, group=name)
             for name in reversed(list(function_groups(SECTION, EXPERIMENTS, MECHANISMS)))]
    settings = [c["setting"] for c in function_cases(SECTION, EXPERIMENTS, MECHANISMS)]
    merged_table, merged_curves = merge_function_tables([t for t, _ in parts],
                                                        [c for _, c in parts], settings)
    pd.testing.assert_frame_equal(merged_table, table)
    pd.testing.assert_frame_equal(merged_curves, curves)
    assert list(table["setting"].unique()) == settings


def test_an_unknown_group_or_setting_is_named():
    with pytest.raises(ValueError, match="group: 'nl_other_n2'.*allowed"):
        function_tables(SECTION, EXPERIMENTS, MECHANISMS, group="nl_other_n2")
    table = pd.DataFrame({"setting": ["elsewhere"], "beta": [25.0]})
    with pytest.raises(ValueError, match="elsewhere"):
        merge_function_tables([table], [], ["first_price_n2"])
