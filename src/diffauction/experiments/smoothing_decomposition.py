"""The learners' error split into smoothing bias and the rest (report section "The smoothing
bias, in every mechanism").

For every learned profile the result files record, the L2 distance to the BNE b* (the total) is
set beside the L2 to the smoothed game's equilibrium b̃_β in the learner's policy class at the
run's final temperature (what noise and optimisation leave) and the distance ‖b̃_β − b*‖ itself
(what smoothing and the policy class cost; the class alone costs ‖b_∞ − b*‖, b_∞ the β → ∞ limit
of the class). The inputs are read generically: a profile is linear when its result row records a
slope ``w_tail`` and no bid function, affine when it also records a non-zero intercept ``a_tail``
(the LLG locals), and a bid function when it records ``bid_###`` columns; b̃_β is known for linear
profiles of the formats of :mod:`diffauction.equilibria.smoothed_linear` with symmetric U[0, h]
values (risk-neutral bidders, or CRRA bidders in first price), for the LLG locals' affine bids
(:mod:`diffauction.equilibria.smoothed_llg`), and for bid functions where the bid-function solver
(:mod:`diffauction.experiments.smoothed_functions`, whose curves are passed in) converged at the
run's final β. Elsewhere — an unconverged solver, a format without theory — only the total is
given and ``note`` says why.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import torch

from diffauction.analysis.bid_functions import grid_bid_function
from diffauction.analysis.distance import (
    l2_affine_on_grid,
    l2_linear,
    l2_linear_on_grid,
    l2_under_prior,
)
from diffauction.equilibria import smoothed_llg
from diffauction.equilibria.llg import bne_params
from diffauction.equilibria.registry import bne_function, linear_coefficient
from diffauction.equilibria.smoothed_linear import FORMATS, LinearGame, limit_slope
from diffauction.experiments.smoothed_functions import smoothed_curve
from diffauction.experiments.smoothing import fixed_point_row
from diffauction.game.mechanisms import LLG_MECHANISMS
from diffauction.game.priors import UniformPrior, make_prior, value_midpoints

GRID = 4096
KEYS = ["section", "experiment", "mechanism", "n_agents", "units", "risk_aversion", "sampler",
        "beta_final", "policy"]


@functools.cache
def _smoothed(game: LinearGame, beta: float, nodes: int) -> tuple[float, float, str]:
    row = fixed_point_row(game, beta, nodes)
    return row["w_smoothed"], limit_slope(game), row["status"]


def _reference(game: LinearGame, high: float) -> tuple[torch.Tensor, torch.Tensor]:
    prior = UniformPrior(0.0, high)
    grid = value_midpoints(prior, GRID)
    if game.risk_aversion != 1.0:  # CRRA bidders in first price: b* = (N−1)/(N−1+ρ) v
        return grid, linear_coefficient(game.mechanism, game.n_agents, prior,
                                        game.risk_aversion) * grid
    return grid, bne_function(game.mechanism, game.n_agents, prior, game.units)(grid)


def _linear_game(first: pd.Series) -> LinearGame | None:
    """The linear smoothed game of a result row, or None where there is no such theory (a
    format without one, CRRA bidders outside first price, values not U[0, h])."""
    if first["policy"] != "linear" or not math.isfinite(first["uniform_high"]):
        return None
    try:
        return LinearGame(first["mechanism"], int(first["n_agents"]), int(first["units"]),
                          float(first["risk_aversion"]))
    except ValueError:
        return None


def _linear_parts(group: pd.DataFrame, game: LinearGame, high: float, nodes: int) -> dict:
    first = group.iloc[0]
    w_smoothed, w_limit, status = _smoothed(game, float(first["beta_final"]), nodes)
    grid, bne = _reference(game, high)
    slopes = torch.tensor(group["w"].to_numpy(float))
    total = l2_linear_on_grid(slopes, bne, grid).numpy()
    to_smoothed = l2_linear(slopes, w_smoothed, UniformPrior(0.0, high)).numpy()
    return {"l2_total_mean": total.mean(), "l2_total_max": total.max(),
            "l2_to_smoothed_mean": to_smoothed.mean(), "l2_to_smoothed_max": to_smoothed.max(),
            # float64 slopes: torch.tensor of a Python float is float32, 6e-8 off
            "l2_smoothing": float(l2_linear_on_grid(torch.tensor(w_smoothed, dtype=torch.float64),
                                                    bne, grid)),
            "l2_class": float(l2_linear_on_grid(torch.tensor(w_limit, dtype=torch.float64),
                                                bne, grid)),
            "w_smoothed": w_smoothed, "w_limit": w_limit, "w_mean": group["w"].mean(),
            "note": status}


def _affine_parts(group: pd.DataFrame, nodes: int) -> dict:
    """The LLG locals' affine bids max(0, a + w·v) (values U[0, 1]) against the smoothed game's
    affine fixed point (ã, w̃) at the run's final β and the BNE (a*, w*), the limit of the
    class (so ``l2_class`` is 0)."""
    first = group.iloc[0]
    point = smoothed_llg.fixed_point(first["mechanism"], float(first["beta_final"]), nodes)
    if not point.converged:
        return {"l2_total_mean": group["l2_bne"].mean(), "l2_total_max": group["l2_bne"].max(),
                "note": f"affine LLG bids: {point.status}"}
    prior = UniformPrior(0.0, 1.0)
    grid = value_midpoints(prior, GRID)
    bne = bne_function(first["mechanism"], 3, prior)(grid)
    limit = bne_params(first["mechanism"])
    smoothed = (point.a + point.w * grid).clamp_min(0.0)
    learned = torch.tensor(np.ascontiguousarray(group[["a", "w"]].to_numpy(float)))
    total = l2_affine_on_grid(learned, bne, grid).numpy()
    to_smoothed = l2_affine_on_grid(learned, smoothed, grid).numpy()
    return {"l2_total_mean": total.mean(), "l2_total_max": total.max(),
            "l2_to_smoothed_mean": to_smoothed.mean(), "l2_to_smoothed_max": to_smoothed.max(),
            "l2_smoothing": float(l2_affine_on_grid(torch.tensor([point.a, point.w],
                                                                 dtype=torch.float64), bne, grid)),
            "l2_class": 0.0,  # the affine class holds the BNE
            "w_smoothed": point.w, "w_limit": limit[1], "w_mean": group["w"].mean(),
            "a_smoothed": point.a, "a_limit": limit[0], "a_mean": group["a"].mean(),
            "note": point.status}


def _function_parts(group: pd.DataFrame, functions: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """L2 of each learned bid function to b̃_β of its class, and ‖b̃_β − b*‖ (mean over the
    classes), where the solver converged at the run's final β; else ``note`` says why not."""
    first = group.iloc[0]
    total = {"l2_total_mean": group["l2_bne"].mean(), "l2_total_max": group["l2_bne"].max()}
    beta = float(first["beta_final"])
    rows = functions[(functions["setting"] == first["setting"])
                     & np.isclose(functions["beta"], beta)]
    if rows.empty or not rows["converged"].all():
        why = "; ".join(sorted(set(rows["status"]))) if len(rows) else "not solved"
        return total | {"note": f"bid functions: smoothed equilibrium at beta={beta:g}: {why}"}
    columns = [c for c in group if c.startswith("bid_") and group[c].notna().all()]
    distances = []
    for agent, part in group.groupby("agent"):
        c = int(agent) if len(rows) > 1 else 0
        curve = smoothed_curve(curves, first["setting"], beta, c)
        grid = torch.linspace(float(part["v_low"].iloc[0]), float(part["v_high"].iloc[0]),
                              len(columns), dtype=torch.float64)
        learned = grid_bid_function(grid, torch.tensor(part[columns].to_numpy(float)))
        distances.append(l2_under_prior(learned, lambda v, f=curve: torch.from_numpy(f(v.numpy())),
                                        make_prior(part["prior_spec"].iloc[0])).numpy())
    to_smoothed = np.concatenate(distances)
    return total | {"l2_to_smoothed_mean": to_smoothed.mean(),
                    "l2_to_smoothed_max": to_smoothed.max(),
                    "l2_smoothing": rows["l2_bne"].mean(), "note": "converged"}


def _why_not(first: pd.Series) -> str:
    if first["policy"] != "linear":
        return f"{first['policy']} profile of {first['mechanism']}: no smoothed theory"
    if first["mechanism"] not in FORMATS:
        return f"{first['mechanism']}: no smoothed theory"
    if first["risk_aversion"] != 1.0 and first["mechanism"] != "first_price":
        return "CRRA bidders outside first price: no smoothed theory"
    return "asymmetric or non-uniform values: no smoothed theory"


def decompose(profiles: pd.DataFrame, nodes: int = 10, functions: pd.DataFrame | None = None,
              curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per setting of :data:`KEYS` (means and worst cases over runs and agents):
    ``l2_total``, ``l2_to_smoothed``, ``l2_smoothing`` = ‖b̃_β − b*‖, ``l2_class`` =
    ‖b_∞ − b*‖ (NaN where the theory is missing, with ``note``), the smoothed and limit
    parameters of a linear (``w_*``) or affine (``a_*``, ``w_*``) class; bid-function profiles
    use the solver's table ``functions`` and ``curves`` when given."""
    rows = []
    for keys, group in profiles.groupby(KEYS, sort=False, dropna=False):
        first = group.iloc[0]
        out = dict(zip(KEYS, keys, strict=True))
        out["profiles"] = len(group)
        game = _linear_game(first)
        if game is not None:
            out.update(_linear_parts(group, game, float(first["uniform_high"]), nodes))
        elif first["policy"] == "affine" and first["mechanism"] in LLG_MECHANISMS:
            out.update(_affine_parts(group, nodes))
        elif first["policy"] not in ("linear", "affine") and functions is not None:
            out.update(_function_parts(group, functions, curves))
        else:
            out.update(l2_total_mean=group["l2_bne"].mean(), l2_total_max=group["l2_bne"].max(),
                       note=_why_not(first))
        rows.append(out)
    columns = KEYS + ["profiles", "w_mean", "w_smoothed", "w_limit", "a_mean", "a_smoothed",
                      "a_limit", "l2_total_mean",
                      "l2_total_max", "l2_to_smoothed_mean", "l2_to_smoothed_max",
                      "l2_smoothing", "l2_class", "note"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _policy(frame: pd.DataFrame, fallback: str) -> pd.Series:
    """'linear' where a row records a slope and no bid function, 'affine' where it records a
    non-zero intercept, else the recorded policy (or ``fallback``, 'bid function' where the row
    records one)."""
    none = pd.Series(False, index=frame.index)
    bid_columns = [c for c in frame if c.startswith("bid_")]
    has_function = frame[bid_columns].notna().any(axis=1) if bid_columns else none
    affine = frame["a_tail"].fillna(0.0).ne(0.0) if "a_tail" in frame else none
    slope = frame["w_tail"].notna() if "w_tail" in frame else none
    recorded = frame["policy"] if "policy" in frame else \
        pd.Series(fallback, index=frame.index).where(~has_function, "bid function")
    return recorded.where(~(slope & ~has_function & ~affine), "linear").where(~affine, "affine")


def experiment_profiles(section: str, name: str, metrics: pd.DataFrame, settings: dict,
                        runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The profiles of one experiment of the ``experiments`` block (its metrics table; its runs
    table, when given, adds the learned bid functions ``bid_###`` by run and agent)."""
    prior = settings["prior"]
    uniform = (prior["name"] == "uniform" and prior.get("low", 0.0) == 0.0
               and not settings.get("agent_priors"))
    specs = settings.get("agent_priors") or [prior] * int(metrics["agent"].max() + 1)
    frame = pd.DataFrame({
        "section": section, "experiment": name, "mechanism": settings["mechanism"],
        "n_agents": metrics["n_agents"], "units": int(settings.get("units") or 1),
        "risk_aversion": metrics.get("risk_aversion", pd.Series(1.0, index=metrics.index)),
        "sampler": metrics.get("sampler", pd.Series("", index=metrics.index)).fillna(""),
        "beta_final": metrics["beta_end"].astype(float),
        "policy": _policy(metrics, settings["policy"]["name"]),
        "w": metrics.get("w_tail"), "a": metrics.get("a_tail"), "l2_bne": metrics["l2_bne"],
        "uniform_high": float(prior.get("high", 1.0)) if uniform else math.nan,
        "setting": name + "_n" + metrics["n_agents"].astype(str), "run": metrics["run"],
        "agent": metrics["agent"], "prior_spec": metrics["agent"].map(lambda i: specs[i])})
    if runs is not None:
        keep = ["run", "agent", "v_low", "v_high"] + [c for c in runs if c.startswith("bid_")]
        frame = frame.merge(runs[keep], on=["run", "agent"], how="left")
    return frame


def mechanism_profiles(runs: pd.DataFrame, section_settings: dict) -> pd.DataFrame:
    """The profiles of the mechanism comparison (its runs table, one row per run and agent)."""
    prior = section_settings["prior"]
    units = runs["mechanism"].map(lambda m: section_settings["units"]
                                  if m in ("pay_as_bid", "uniform_price") else 1)
    return pd.DataFrame({
        "section": "mechanisms", "experiment": "mechanism_comparison",
        "mechanism": runs["mechanism"], "n_agents": runs["bidders"], "units": units,
        "risk_aversion": 1.0, "sampler": "", "beta_final": runs["beta"].astype(float),
        "policy": _policy(runs, "linear"), "w": runs.get("w_tail"), "a": runs.get("a_tail"),
        "l2_bne": runs["l2_bne_tail"], "uniform_high": float(prior.get("high", 1.0)),
        "setting": "mechanisms_" + runs["mechanism"], "agent": runs.get("agent", 0),
        "prior_spec": [prior] * len(runs), "v_low": 0.0, "v_high": float(prior.get("high", 1.0)),
        **{c: runs[c] for c in runs if c.startswith("bid_")}})
