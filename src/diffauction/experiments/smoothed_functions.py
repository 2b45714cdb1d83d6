"""The smoothed game's equilibrium as a bid function (report section "The smoothing bias, in every
mechanism"): b̃_β of :mod:`diffauction.equilibria.smoothed_function` for every neural setting of
the non-linear and mechanism sections and for first price on U[0, 1], on the temperatures of
``smoothing_theory.function_solver.beta`` and each setting's own final β; its distance to the BNE
b* and the rate of b̃_β → b*; the curves b̃_β the learners' error decomposition reads.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from diffauction.equilibria.smoothed_function import (
    FunctionGame,
    SolverSettings,
    l2_to_bne,
    solve,
)
from diffauction.game.priors import make_prior

TABLE_COLUMNS = ["setting", "mechanism", "n_agents", "units", "priors", "beta", "agent",
                 "converged", "status", "start", "residual", "gap", "grid_change", "splits",
                 "cells", "l2_bne"]
CURVE_POINTS = 257
CURVE_COLUMNS = ["setting", "beta", "agent", "value", "bid", "bne"]
SOLVER_KEYS = ("cell", "nodes", "residual_tol", "gap_tol", "grid_tol", "max_cells",
               "max_halvings")


def solver_settings(section: dict) -> SolverSettings:
    """The solver's discretisation and tolerances from ``smoothing_theory.function_solver``."""
    return SolverSettings(**{k: section[k] for k in SOLVER_KEYS if k in section})


def _label(priors: list) -> str:
    return " vs ".join(f"{p['name']}({', '.join(str(v) for k, v in p.items() if k != 'name')})"
                       for p in priors)


def function_cases(section: dict, experiments: dict, mechanisms: dict) -> list[dict]:
    """Every (setting, β) to solve: first price on U[0, 1] with N = 2; each experiment of
    ``experiments`` (resolved settings) whose policy is a network, per N; each neural mechanism
    of the mechanism comparison — at the temperatures of ``section["beta"]`` and the
    setting's own final β (the mechanism comparison: its β grid)."""
    grid = [float(b) for b in section["beta"]]
    uniform = [{"name": "uniform", "low": 0.0, "high": 1.0}]
    cases = [dict(setting="first_price_n2", mechanism="first_price", n_agents=2, units=1,
                  priors=uniform, betas=grid)]
    for name, s in experiments.items():
        if s["policy"]["name"] == "linear":
            continue
        for n in np.atleast_1d(s["n_agents"]).tolist():
            priors = s.get("agent_priors") or [s["prior"]]
            end = float(s["beta"]["end"] if isinstance(s["beta"], dict) else s["beta"])
            cases.append(dict(setting=f"{name}_n{n}", mechanism=s["mechanism"], n_agents=n,
                              units=int(s.get("units") or 1), priors=priors,
                              betas=sorted(set(grid) | {end})))
    for mechanism in mechanisms["neural"]["mechanisms"]:
        k = mechanisms["units"] if mechanism == "pay_as_bid" else 1
        cases.append(dict(setting=f"mechanisms_{mechanism}", mechanism=mechanism,
                          n_agents=mechanisms["n_agents"], units=k,
                          priors=[mechanisms["prior"]],
                          betas=sorted(float(b) for b in mechanisms["beta"])))
    return cases


def _game(case: dict) -> FunctionGame:
    return FunctionGame(case["mechanism"], int(case["n_agents"]),
                        tuple(make_prior(p) for p in case["priors"]), int(case["units"]))


def function_groups(section: dict, experiments: dict, mechanisms: dict) -> dict[str, list]:
    """The cases of :func:`function_cases` grouped by game (cases of one game share its
    solutions, so each game is solved in one job): {the first case's setting: its cases}, in
    the order of the cases."""
    groups, names = {}, {}
    for case in function_cases(section, experiments, mechanisms):
        name = names.setdefault(_game(case), case["setting"])
        groups.setdefault(name, []).append(case)
    return groups


def function_tables(section: dict, experiments: dict, mechanisms: dict, group: str | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``results/theory/smoothed_functions.csv``: one row per setting, β and bidder class with
    the solver's record and ‖b̃_β − b*‖ (columns :data:`TABLE_COLUMNS`);
    ``results/theory/smoothed_function_curves.csv``: b̃_β and b* on :data:`CURVE_POINTS` values
    of each class's support, for the converged solutions); with ``group`` (a name of
    :func:`function_groups`), the rows of that group's cases only."""
    settings = solver_settings(section)
    cases = function_cases(section, experiments, mechanisms)
    if group is not None:
        groups = function_groups(section, experiments, mechanisms)
        if group not in groups:
            raise ValueError(f"group: {group!r} is no game of the bid-function cases; "
                             f"allowed: {list(groups)}")
        cases = groups[group]
    rows, curves, solved = [], [], {}
    for case in cases:
        game, below = _game(case), None
        for beta in sorted(case["betas"]):
            if (game, beta) not in solved:  # the same game may come from two sections
                # where b* is no start, the highest converged β below is carried up
                solved[game, beta] = solve(game, beta, settings, below=below)
            solution = solved[game, beta]
            below = solution if solution.converged else below
            for c, prior in enumerate(game.priors):
                rows.append({"setting": case["setting"], "mechanism": case["mechanism"],
                             "n_agents": case["n_agents"], "units": case["units"],
                             "priors": _label(case["priors"]), "beta": beta, "agent": c,
                             "converged": solution.converged, "status": solution.status,
                             "start": solution.start,
                             "residual": solution.residual, "gap": solution.gap,
                             "grid_change": solution.grid_change, "splits": solution.splits,
                             "cells": solution.cells[c] if solution.cells else math.nan,
                             "l2_bne": l2_to_bne(solution, c) if solution.converged
                             else math.nan})
                if solution.converged:
                    v = np.linspace(float(prior.low), float(prior.high), CURVE_POINTS)
                    curves.append(pd.DataFrame({
                        "setting": case["setting"], "beta": beta, "agent": c, "value": v,
                        "bid": solution.bid(c, v), "bne": game.bne(c, v)}))
    return (pd.DataFrame(rows, columns=TABLE_COLUMNS),
            pd.concat(curves, ignore_index=True) if curves
            else pd.DataFrame(columns=CURVE_COLUMNS))


def merge_function_tables(tables: list[pd.DataFrame], curves: list[pd.DataFrame],
                          settings: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups' tables and curves (:func:`function_tables` with ``group``) as one table and
    one set of curves, the settings in the order of ``settings`` (each group keeps its rows'
    order): what :func:`function_tables` gives for all groups at once."""
    rank = {name: i for i, name in enumerate(settings)}

    def merged(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=columns)
        out = pd.concat(frames, ignore_index=True)
        order = out["setting"].map(rank)
        if order.isna().any():
            raise ValueError(f"settings {sorted(set(out['setting'][order.isna()]))} are no "
                             f"bid-function cases; allowed: {settings}")
        return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)

    return merged(tables, TABLE_COLUMNS), merged(curves, CURVE_COLUMNS)


def rate_table(table: pd.DataFrame, beta_min: float = 50.0) -> pd.DataFrame:
    """Per setting and class with at least three converged temperatures ≥ ``beta_min``: the
    exponent p of ‖b̃_β − b*‖ ∝ β^(−p) (least squares of log L2 on log β) and the constant."""
    rows = []
    done = table[table["converged"] & table["l2_bne"].gt(0) & table["beta"].ge(beta_min)]
    for (setting, agent), group in done.groupby(["setting", "agent"], sort=False):
        if len(group) < 3:
            continue
        slope, intercept = np.polyfit(np.log(group["beta"]), np.log(group["l2_bne"]), 1)
        rows.append({"setting": setting, "agent": agent, "betas": len(group),
                     "beta_min": group["beta"].min(), "beta_max": group["beta"].max(),
                     "rate": -slope, "constant": math.exp(intercept)})
    return pd.DataFrame(rows, columns=["setting", "agent", "betas", "beta_min", "beta_max",
                                       "rate", "constant"])


def smoothed_curve(curves: pd.DataFrame, setting: str, beta: float, agent: int):
    """b̃_β of one class as a function v ↦ bid (interpolating the recorded curve), or None."""
    sel = curves[(curves["setting"] == setting) & np.isclose(curves["beta"], beta)
                 & (curves["agent"] == agent)]
    if sel.empty:
        return None
    v, b = sel["value"].to_numpy(float), sel["bid"].to_numpy(float)
    return lambda x: np.interp(x, v, b)

