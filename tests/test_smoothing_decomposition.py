"""The learners' error split (diffauction.experiments.smoothing_decomposition) and the section's
macros (diffauction.report.smoothing), on synthetic profiles whose answer theory fixes."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from diffauction.equilibria.smoothed import smoothed_symmetric_equilibrium
from diffauction.equilibria.smoothed_linear import LinearGame, stationary_points
from diffauction.equilibria.smoothed_llg import fixed_point
from diffauction.experiments.mechanisms_analysis import linear_reference_facts
from diffauction.experiments.smoothing import fixed_point_table, scaling_table
from diffauction.experiments.smoothing_decomposition import decompose, mechanism_profiles
from diffauction.report.smoothing import decomposition_macros, smoothing_outputs

SECTION = {"n_agents": 3, "units": 2, "prior": {"name": "uniform", "low": 0.0, "high": 1.0}}


def profile(mechanism, n, k, beta, w, policy="linear", l2=math.nan):
    return {"section": "s", "experiment": "e", "mechanism": mechanism, "n_agents": n, "units": k,
            "risk_aversion": 1.0, "sampler": "", "beta_final": beta, "policy": policy, "w": w,
            "l2_bne": l2, "uniform_high": 1.0}


def test_a_profile_on_the_smoothed_equilibrium_is_all_smoothing():
    w_tilde = smoothed_symmetric_equilibrium(50.0, 2, tol=1e-14)
    row = decompose(pd.DataFrame([profile("first_price", 2, 1, 50.0, w_tilde)])).iloc[0]
    assert row["l2_to_smoothed_mean"] == pytest.approx(0.0, abs=1e-10)
    assert row["l2_total_mean"] == pytest.approx((0.5 - w_tilde) / math.sqrt(3), rel=1e-6)
    assert row["l2_smoothing"] == pytest.approx(row["l2_total_mean"], rel=1e-6)
    assert row["l2_class"] == pytest.approx(0.0, abs=1e-6)


def test_crra_bidders_are_split_against_their_own_smoothed_equilibrium():
    """First price with CRRA bidders (ρ = 0.5): a profile on the smoothed fixed point of the
    CRRA game is all smoothing, measured from Maskin and Riley's b* = (N−1)/(N−1+ρ) v."""
    game = LinearGame("first_price", 2, risk_aversion=0.5)
    w_tilde = stationary_points(game, 3000.0)[0][0]
    crra = {**profile("first_price", 2, 1, 3000.0, w_tilde), "risk_aversion": 0.5}
    row = decompose(pd.DataFrame([crra])).iloc[0]
    assert row["w_limit"] == pytest.approx(2 / 3) and row["w_smoothed"] == w_tilde
    assert row["l2_to_smoothed_mean"] == pytest.approx(0.0, abs=1e-12)
    assert row["l2_total_mean"] == pytest.approx((2 / 3 - w_tilde) / math.sqrt(3), rel=1e-6)
    assert row["l2_smoothing"] == pytest.approx(row["l2_total_mean"], rel=1e-6)


def test_second_price_three_bidders_has_no_smoothing_part():
    row = decompose(pd.DataFrame([profile("second_price", 3, 1, 200.0, 0.99)])).iloc[0]
    assert row["l2_smoothing"] == pytest.approx(0.0, abs=1e-7)
    assert row["l2_to_smoothed_mean"] == pytest.approx(0.01 / math.sqrt(3), rel=1e-9)


def test_pay_as_bid_class_part_is_the_restricted_slopes_distance():
    row = decompose(pd.DataFrame([profile("pay_as_bid", 3, 2, 200.0, 0.3)])).iloc[0]
    facts = linear_reference_facts(SECTION)
    assert row["l2_class"] == pytest.approx(facts["pab_restricted_l2_bne"], rel=1e-3)
    assert row["w_limit"] == pytest.approx(facts["pab_restricted_slope"])


def test_bid_functions_keep_only_the_total_and_affine_bids_get_the_llg_theory():
    runs = pd.DataFrame({"mechanism": ["first_price", "llg_vcg", "all_pay"], "beta": [50] * 3,
                         "bidders": [3] * 3, "w_tail": [0.6, 0.9, np.nan],
                         "a_tail": [0.0, 0.1, np.nan], "l2_bne_tail": [0.03, 0.02, 0.05],
                         "bid_000": [np.nan, np.nan, 0.0]})
    table = decompose(mechanism_profiles(runs, SECTION))
    assert list(table["policy"]) == ["linear", "affine", "bid function"]
    assert math.isfinite(table.loc[0, "l2_smoothing"])
    llg = table.loc[1]
    point = fixed_point("llg_vcg", 50.0)
    assert llg["a_smoothed"] == point.a and llg["w_smoothed"] == point.w
    assert (llg["a_limit"], llg["w_limit"], llg["l2_class"]) == (0.0, 1.0, 0.0)
    # 0.1 + 0.9 v against v on U[0, 1]: sqrt(E[(0.1 − 0.1 v)²]) = 0.1/sqrt(3)
    assert llg["l2_total_mean"] == pytest.approx(0.1 / math.sqrt(3), rel=1e-6)
    kink = -point.a / point.w  # the smoothed bid is clamped at 0 below it
    squared = quad(lambda v: (max(0.0, point.a + point.w * v) - v) ** 2, 0.0, 1.0,
                   points=[kink], epsabs=1e-16)[0]
    assert llg["l2_smoothing"] == pytest.approx(math.sqrt(squared), rel=1e-4)  # 4096 midpoints
    assert math.isnan(table.loc[2, "l2_smoothing"]) and "no smoothed" in table.loc[2, "note"]


def test_an_llg_profile_on_the_smoothed_equilibrium_is_all_smoothing():
    """Nearest-VCG locals on (ã, w̃): nothing left to noise, the total is ‖b̃_β − b*‖."""
    point = fixed_point("llg_nearest_vcg", 100.0)
    runs = pd.DataFrame({"mechanism": ["llg_nearest_vcg"] * 2, "beta": [100.0] * 2,
                         "bidders": [3] * 2, "agent": [0, 1], "w_tail": [point.w] * 2,
                         "a_tail": [point.a] * 2, "l2_bne_tail": [0.0] * 2})
    row = decompose(mechanism_profiles(runs, SECTION)).iloc[0]
    assert row["profiles"] == 2 and row["note"] == "converged"
    assert row["l2_to_smoothed_mean"] == pytest.approx(0.0, abs=1e-12)
    assert row["l2_total_mean"] == pytest.approx(row["l2_smoothing"], rel=1e-12)
    assert 3e-4 < row["l2_smoothing"] < 1e-3  # nearest-VCG: about 0.06/β


def test_report_macros_are_unique_and_tables_render():
    settings = {"mechanisms": ["second_price", "all_pay"], "n_agents": [2, 3], "units": [2],
                "beta": [5.0, 100.0, 200.0], "nodes": 10}
    table = fixed_point_table(settings)
    assert table.loc[(table["mechanism"] == "all_pay") & (table["beta"] == 5.0),
                     "w_smoothed"].isna().all()
    decomposition = decompose(pd.DataFrame([profile("second_price", 2, 1, 100.0, 1.0)]))
    functions = pd.DataFrame({
        "setting": ["first_price_n2", "first_price_n2", "nl_asymmetric_n2", "nl_asymmetric_n2"],
        "beta": [25.0, 50.0, 50.0, 50.0], "agent": [0, 0, 0, 1],
        "converged": [True, False, True, True],
        "status": ["converged", "Newton: residual 1e-2", "converged", "converged"],
        "start": ["b*", "b*", "ladder from beta=25", "ladder from beta=25"],
        "splits": [0, 0, 0, 0], "cells": [120, math.nan, 96, 96],
        "l2_bne": [0.018, math.nan, 0.0078, 0.0079]})
    rates = pd.DataFrame({"setting": ["first_price_n2"], "agent": [0], "betas": [3],
                          "beta_min": [50.0], "beta_max": [200.0], "rate": [1.4],
                          "constant": [1.5]})
    solver = {"beta": [25, 50], "residual_tol": 1e-10, "gap_tol": 1e-8, "grid_tol": 1e-4,
              "max_cells": 900, "max_halvings": 2, "rate_beta_min": 50}
    out = smoothing_outputs(table, scaling_table(table), decomposition, functions, rates, solver)
    names = re.findall(r"\\newcommand\{\\(\w+)\}", out["macros"])
    assert len(names) == len(set(names)) and "SMWSecondPriceTwoBetaOneZeroZero" in names
    assert {"SMFnLTwoFirstPriceTwoBetaTwoFive", "SMFnLTwoPlumStrongBetaFiveZero",
            "SMFnRateFirstPriceTwo", "SMFnFailedFirstPriceTwo"} <= set(names)
    # a setting the text names but this configuration lacks gets "--", not an undefined macro
    assert r"\newcommand{\SMFnRateBetaThree}{--}" in out["macros"]
    assert r"\newcommand{\SMFnConvergedPayAsBid}{--}" in out["macros"]
    assert r"\newcommand{\SMFnRateFirstPriceTwo}{1.40}" in out["macros"]
    # the temperatures reached by the β ladder rather than from b*
    assert r"\newcommand{\SMFnLadderPlum}{50}" in out["macros"]
    assert r"\newcommand{\SMFnLadderFirstPriceTwo}{none}" in out["macros"]
    # the cells of the solution at the highest β; none where it did not converge there
    assert r"\newcommand{\SMFnCellsTopPlum}{96}" in out["macros"]
    assert r"\newcommand{\SMFnCellsTopFirstPriceTwo}{--}" in out["macros"]
    assert r"\newcommand{\SMFnWindow}{40}" in out["macros"]
    assert r"\newcommand{\SMDecompositionSettings}{1}" in out["macros"]
    assert r"\newcommand{\SMNonlinearSmoothingNlAllpayTwo}{--}" in out["macros"]
    assert r"\newcommand{\SMMechNoiseAllPay}{--}" in out["macros"]
    assert r"\label{tab:smfixed}" in out["fixed"]
    assert r"\label{tab:smdecomp}" in out["decomposition"]
    assert r"\label{tab:smfunctions}" in out["functions"] and "strong" in out["functions"]


def test_a_learned_bid_function_on_the_smoothed_equilibrium_is_all_smoothing():
    """A network profile recorded exactly on b̃_β: its L2 to b̃_β vanishes and its total is
    the smoothing part."""
    from diffauction.equilibria.smoothed_function import FunctionGame, l2_to_bne, solve
    from diffauction.experiments.nonlinear import BID_COLUMNS
    from diffauction.game.priors import UniformPrior

    game = FunctionGame("pay_as_bid", 3, (UniformPrior(),), 2)
    solution = solve(game, 50.0)
    grid = np.linspace(0.0, 1.0, len(BID_COLUMNS))
    functions = pd.DataFrame([{"setting": "mechanisms_pay_as_bid", "beta": 50.0, "agent": 0,
                               "converged": True, "status": "converged",
                               "l2_bne": l2_to_bne(solution)}])
    v = np.linspace(0.0, 1.0, 4097)
    curves = pd.DataFrame({"setting": "mechanisms_pay_as_bid", "beta": 50.0, "agent": 0,
                           "value": v, "bid": solution.bid(0, v), "bne": game.bne(0, v)})
    runs = pd.DataFrame({"mechanism": ["pay_as_bid"] * 3, "beta": [50] * 3, "bidders": [3] * 3,
                         "agent": [0, 1, 2], "l2_bne_tail": [l2_to_bne(solution)] * 3,
                         **dict(zip(BID_COLUMNS, solution.bid(0, grid), strict=True))})
    row = decompose(mechanism_profiles(runs, SECTION), functions=functions,
                    curves=curves).iloc[0]
    assert row["note"] == "converged"
    assert row["l2_to_smoothed_max"] < 2e-4  # the 129-point record's interpolation error
    assert row["l2_smoothing"] == pytest.approx(row["l2_total_mean"])


def test_an_unconverged_smoothed_equilibrium_leaves_the_total_with_its_reason():
    functions = pd.DataFrame([{"setting": "mechanisms_all_pay", "beta": 50.0, "agent": 0,
                               "converged": False, "status": "Newton: residual 1e-2",
                               "l2_bne": math.nan}])
    runs = pd.DataFrame({"mechanism": ["all_pay"], "beta": [50], "bidders": [3], "agent": [0],
                         "l2_bne_tail": [0.01], "bid_000": [0.0], "bid_001": [0.3]})
    row = decompose(mechanism_profiles(runs, SECTION), functions=functions,
                    curves=pd.DataFrame()).iloc[0]
    assert row["l2_total_mean"] == 0.01 and math.isnan(row["l2_smoothing"])
    assert "Newton" in row["note"]


def test_a_decomposed_network_gets_its_split_macros_once():
    """A non-linear run with a converged smoothed equilibrium replaces the "--" default of a run
    the text names: each macro is defined once, with the run's numbers."""
    row = {"section": "nonlinear", "experiment": "nl_allpay", "n_agents": 2, "sampler": "sobol",
           "risk_aversion": 1.0, "beta_final": 200.0, "l2_total_mean": 0.0019,
           "l2_to_smoothed_mean": 0.0025, "l2_to_smoothed_max": 0.004, "l2_smoothing": 0.0016}
    # CRRA runs of both risk attitudes: the risk-averse one has macros of its own
    crra = [{**row, "experiment": "nl_crra", "risk_aversion": rho, "beta_final": 3000.0,
             "l2_smoothing": smoothing} for rho, smoothing in [(0.5, 1.1e-4), (1.0, 2.0e-4)]]
    text = "".join(decomposition_macros(pd.DataFrame([row] + crra)))
    names = re.findall(r"\\newcommand\{\\(\w+)\}", text)
    assert len(names) == len(set(names))
    assert r"\newcommand{\SMNonlinearSmoothingNlAllpayTwo}{1.6\times10^{-3}}" in text
    assert r"\newcommand{\SMNonlinearBetaNlAllpayTwo}{200}" in text
    assert r"\newcommand{\SMNonlinearSmoothingNlCrraRiskAverseTwo}{1.1\times10^{-4}}" in text
    assert r"\newcommand{\SMNonlinearSmoothingNlCrraTwo}{2.0\times10^{-4}}" in text
    assert r"\newcommand{\SMNonlinearSmoothingNlCrraRiskAverseThree}{--}" in text


def test_llg_macros_read_the_order_and_constants_off_the_decomposition():
    """VCG: order 2 and β²(w̃ − 1) → π²/2, β²ã → −π²/3; '--' where a rule is absent."""
    runs = pd.DataFrame({"mechanism": ["llg_vcg"] * 3, "beta": [100.0, 200.0, 400.0],
                         "bidders": [3] * 3, "w_tail": [1.0] * 3, "a_tail": [0.01] * 3,
                         "l2_bne_tail": [0.01] * 3})
    table = decompose(mechanism_profiles(runs, SECTION))
    macros = dict(re.findall(r"\\newcommand\{\\(\w+)\}\{([^\n]*)\}\n",
                             "".join(decomposition_macros(table))))
    assert float(macros["SMLlgOrderLlgVcg"]) == pytest.approx(2.0, abs=0.02)
    assert float(macros["SMLlgConstWLlgVcg"]) == pytest.approx(math.pi**2 / 2, rel=0.01)
    assert float(macros["SMLlgConstALlgVcg"]) == pytest.approx(-math.pi**2 / 3, rel=0.01)
    assert macros["SMLlgBetaTopLlgVcg"] == "400" and macros["SMLlgWLlgVcg"] == "1.000125"
    assert macros["SMLlgOrderLlgNearestVcg"] == "--" and macros["SMLlgALlgNearestVcg"] == "--"
