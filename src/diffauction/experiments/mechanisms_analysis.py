"""Analysis of the mechanism comparison (:mod:`.mechanisms`): convergence steps, outcomes against
the BNE, gradient noise and curvature, L2 curves, the linear family's reference numbers.

A run's convergence step for a tolerance τ is the first recorded step from which the L2 to the
target of *every* learning agent stays ≤ τ up to the end of the budget
(:func:`diffauction.analysis.convergence.reach_and_stay`); a run still outside at the end is
censored (NaN). The valuations it took are step × batch × bidders.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from diffauction.analysis import outcomes
from diffauction.analysis.bid_functions import grid_bid_function
from diffauction.analysis.convergence import reach_and_stay
from diffauction.analysis.distance import l2_linear_on_grid, least_squares_slope
from diffauction.analysis.outcomes import sobol_unit
from diffauction.equilibria import multiunit
from diffauction.equilibria.llg import bne_params
from diffauction.equilibria.registry import bne_bid
from diffauction.experiments.mechanisms import LABELS, high_of, target, value_grid
from diffauction.experiments.nonlinear import BID_COLUMNS
from diffauction.game.mechanisms import LLG_MECHANISMS, MULTI_UNIT, make_mechanism
from diffauction.game.priors import UniformPrior


def convergence_steps(trajectory: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Per (mechanism, run): the first recorded step from which every agent's L2 to the target
    stays ≤ ``tolerance`` to the end (NaN if it is outside at the end or has no target)."""
    keys = ["mechanism", "run", "beta", "seed", "w0", "step"]
    worst = (trajectory.assign(missing=trajectory["l2_target"].isna()).groupby(keys, sort=True)
             .agg(l2=("l2_target", "max"), missing=("missing", "any"),
                  samples=("samples", "first")).reset_index())
    worst.loc[worst["missing"], "l2"] = math.nan  # an agent without a target: no target
    rows = []
    for (mechanism, run), group in worst.groupby(["mechanism", "run"], sort=False):
        group = group.sort_values("step")
        first_row = group.iloc[0]
        rows.append({"mechanism": mechanism, "run": run, "beta": first_row["beta"],
                     "seed": first_row["seed"], "w0": first_row["w0"], "tolerance": tolerance,
                     "converged_step": reach_and_stay(group["step"], group["l2"], tolerance),
                     "converged_samples": reach_and_stay(group["samples"], group["l2"],
                                                         tolerance),
                     "final_l2_target": float(group["l2"].iloc[-1])})
    return pd.DataFrame(rows)


def convergence_table(trajectory: pd.DataFrame, runs: pd.DataFrame,
                      tolerances: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-run convergence steps, per (mechanism, β, tolerance) summary).

    The summary's step statistics count censored runs as +∞: the median is finite only when at
    least half the runs converged, the quartiles likewise.
    """
    per_run = pd.concat([convergence_steps(trajectory, tol) for tol in tolerances],
                        ignore_index=True)
    tails = runs.groupby(["mechanism", "run"]).agg(
        l2_bne_tail=("l2_bne_tail", "max"), l2_target_tail=("l2_target_tail", "max"),
        target=("target", "first"), bidders=("bidders", "first"),
        batch_size=("batch_size", "first")).reset_index()
    per_run = per_run.merge(tails, on=["mechanism", "run"])
    rows = []
    for (mechanism, beta, tol), group in per_run.groupby(["mechanism", "beta", "tolerance"],
                                                         sort=False):
        steps = group["converged_step"].fillna(np.inf).to_numpy()
        q25, median, q75 = np.quantile(steps, [0.25, 0.5, 0.75], method="lower")
        reached = np.isfinite(steps)
        per_step = int(group["batch_size"].iloc[0] * group["bidders"].iloc[0])
        rows.append({
            "mechanism": mechanism, "beta": beta, "tolerance": tol,
            "target": group["target"].iloc[0], "runs": len(group),
            "reached": int(reached.sum()),
            "median_step": median, "q25_step": q25, "q75_step": q75,
            "max_step": steps.max(), "min_step": steps.min(),
            "median_samples": median * per_step,
            "l2_target_tail_median": float(group["l2_target_tail"].median()),
            "l2_bne_tail_median": float(group["l2_bne_tail"].median()),
            "l2_bne_tail_max": float(group["l2_bne_tail"].max()),
        })
    summary = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(LABELS)}
    summary = summary.sort_values(["tolerance", "mechanism", "beta"],
                                  key=lambda c: c.map(order) if c.name == "mechanism" else c,
                                  ascending=[False, True, True]).reset_index(drop=True)
    return per_run, summary


def profile_outcome(mechanism: str, section: dict, bids_of, points: int,
                    seed: int = 0) -> dict[str, torch.Tensor]:
    """Hard-auction revenue, welfare and mean bidder utility of P profiles by quasi-Monte-Carlo
    (scrambled Sobol draws shared by every profile); ``bids_of`` maps the values [points, n] to
    every profile's bids [P, points, n]."""
    n, k = section["n_agents"], section["units"]
    mech = make_mechanism(mechanism, **({"k": k} if mechanism in MULTI_UNIT else {}))
    values = high_of(section) * sobol_unit(points, n, seed)  # [points, n]
    bids = bids_of(values)
    allocation, payment = mech.hard_outcome(bids, torch.Generator().manual_seed(seed))
    utility = values * allocation - payment
    return {"revenue": payment.sum(-1).mean(-1), "welfare": (values * allocation).sum(-1).mean(-1),
            "utility": utility.mean(-1).mean(-1)}


def linear_profiles(w: torch.Tensor):
    """``bids_of`` of :func:`profile_outcome` for linear profiles w [P, n]."""
    return lambda values: w.double()[:, None, :] * values


def grid_profiles(group: pd.DataFrame, section: dict):
    """``bids_of`` of :func:`profile_outcome` for the bid functions a runs table records on the
    grid v_j = high·j/(G − 1) (columns ``bid_000`` …; one row per run and agent), linearly
    interpolated."""
    columns = [c for c in BID_COLUMNS if c in group]
    grid = high_of(section) * torch.linspace(0.0, 1.0, len(columns), dtype=torch.float64)
    per_agent = [grid_bid_function(grid, torch.tensor(
        group[group["agent"] == i].sort_values("run")[columns].to_numpy()))
        for i in sorted(group["agent"].unique())]
    return lambda values: torch.stack([f(values[:, i]) for i, f in enumerate(per_agent)], -1)


def records_bid_functions(group: pd.DataFrame) -> bool:
    """Does a runs table record bid functions (a network's) rather than parameters?"""
    return BID_COLUMNS[0] in group and bool(group[BID_COLUMNS[0]].notna().all())


def theory_outcome(mechanism: str, section: dict, points: int) -> dict[str, float]:
    """Revenue, welfare and (learning) bidder utility at the BNE: closed forms for the single-
    item and k-unit formats (all efficient, revenue h·k(N−k)/(N+1) with k = 1 for one item),
    quasi-Monte-Carlo for LLG."""
    n, k, high = section["n_agents"], section["units"], high_of(section)
    if mechanism in LLG_MECHANISMS:
        out = outcomes.bne_outcome(mechanism, points)
        return {"revenue": out["revenue"], "welfare": out["welfare"],
                "utility": out["utility_local"]}
    units = k if mechanism in MULTI_UNIT else 1
    return {"revenue": multiunit.bne_revenue(n, units, high),
            "welfare": multiunit.efficient_welfare(n, units, high),
            "utility": multiunit.bne_utility(n, units, high)}


def outcome_table(runs: pd.DataFrame, section: dict) -> pd.DataFrame:
    """Revenue, welfare and bidder utility of the learned profiles (tail-averaged parameters, or
    a network's recorded bid functions) at β_main against the BNE, one row per mechanism (mean
    and sd over seeds)."""
    points = section["outcome_points"]
    main = runs[runs["beta"] == float(section["beta_main"])]
    rows = []
    for mechanism in [m for m in LABELS if m in set(main["mechanism"])]:
        group = main[main["mechanism"] == mechanism].sort_values(["run", "agent"])
        wide_a = group.pivot(index="run", columns="agent", values="a_tail")
        wide_w = group.pivot(index="run", columns="agent", values="w_tail")
        if mechanism in LLG_MECHANISMS:
            params = torch.stack([torch.tensor(wide_a.to_numpy()),
                                  torch.tensor(wide_w.to_numpy())], dim=-1)
            out = outcomes.expected_outcome(mechanism, params, points)
            learned = {"revenue": out["revenue"], "welfare": out["welfare"],
                       "utility": out["utility_local"]}
        elif records_bid_functions(group):
            learned = profile_outcome(mechanism, section, grid_profiles(group, section), points)
        else:
            learned = profile_outcome(mechanism, section,
                                      linear_profiles(torch.tensor(wide_w.to_numpy())), points)
        theory = theory_outcome(mechanism, section, max(points, 2**19))
        row = {"mechanism": mechanism, "runs": len(wide_w)}
        for key in ("revenue", "welfare", "utility"):
            row[f"{key}_bne"] = theory[key]
            row[f"{key}_mean"] = float(learned[key].mean())
            row[f"{key}_sd"] = float(learned[key].std()) if len(wide_w) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def per_sample_gradient(mechanism: str, section: dict, shift: float, beta: float,
                        samples: int, seed: int) -> torch.Tensor:
    """d ũ_0 / d s per sample when agent 0 bids the target's b_ref(v) + s·d(v) with s =
    ``shift`` and everybody else plays the target (float64, scrambled Sobol draws, the same for
    every ``shift``). The direction d(v) = b_ref(v)·v̄/b_ref(v̄) scales the target's own bid
    function to slope units: d(v) = v and s the slope's offset for a linear target."""
    n, k = section["n_agents"], section["units"]
    if mechanism in LLG_MECHANISMS:
        a, w = bne_params(mechanism)
        values = outcomes.sobol_values(samples, seed)
        slopes = torch.tensor([w + shift, w], dtype=torch.float64)
        raw = a + slopes * values[:, :2]
        bids = torch.cat([raw.clamp_min(0.0), values[:, 2:]], dim=-1)
        dudb = make_mechanism(mechanism).smoothed_bid_gradient(values, bids, beta)
        return dudb[:, 0] * values[:, 0] * (raw[:, 0] > 0)
    _, reference = target(mechanism, section)
    high = high_of(section)
    values = high * sobol_unit(samples, n, seed)
    top = float(reference(torch.tensor([high], dtype=torch.float64))[0])
    bids = reference(values)
    direction = bids[:, 0] * (high / top)
    bids[:, 0] += shift * direction
    mech = make_mechanism(mechanism, **({"k": k} if mechanism in MULTI_UNIT else {}))
    dudb = mech.smoothed_bid_gradient(values, bids, beta)
    return dudb[:, 0] * direction


def gradient_diagnostics(section: dict, shift: float = 0.05) -> pd.DataFrame:
    """Why some mechanisms converge faster: at the target profile, per mechanism and β, the
    smoothed game's curvature κ = −d E[g]/d s in agent 0's own bid along the target's bid
    function (:func:`per_sample_gradient`; the own slope for a linear target; central
    difference with common random numbers),
    the per-sample gradient noise σ_g, their ratio (the distance in w at which one sample's noise
    equals the restoring force; divide by √batch for a step), and the smoothing bias of the
    fixed point, E[g]/κ at the target (positive: the smoothed game's equilibrium lies above)."""
    samples = section["diagnostic_samples"]
    rows = []
    for mechanism in section["mechanisms"]:
        if target(mechanism, section)[1] is None:
            continue
        for beta in section["beta"]:
            g0 = per_sample_gradient(mechanism, section, 0.0, beta, samples, 1)
            up = per_sample_gradient(mechanism, section, shift, beta, samples, 1).mean()
            down = per_sample_gradient(mechanism, section, -shift, beta, samples, 1).mean()
            kappa = float(-(up - down) / (2 * shift))
            sigma = float(g0.std())
            rows.append({"mechanism": mechanism, "beta": float(beta), "curvature": kappa,
                         "noise_sd": sigma, "noise_to_curvature": sigma / kappa,
                         "step_noise": sigma / kappa / math.sqrt(section["batch_size"]),
                         "smoothing_bias": float(g0.mean()) / kappa})
    return pd.DataFrame(rows)


def l2_curves(trajectory: pd.DataFrame, beta: float) -> pd.DataFrame:
    """L2 against step at one temperature, per mechanism: quartiles, min and max over runs of
    the worst learning agent's L2 to the target (``l2_target_*``) and to the BNE (``l2_bne_*``)."""
    at = trajectory[trajectory["beta"] == float(beta)]
    worst = at.groupby(["mechanism", "run", "step"], sort=True).agg(
        l2_target=("l2_target", "max"), l2_bne=("l2_bne", "max"),
        samples=("samples", "first")).reset_index()
    grouped = worst.groupby(["mechanism", "step"], sort=True)
    out = grouped.agg(samples=("samples", "first"), runs=("run", "size"))
    for column in ("l2_target", "l2_bne"):
        q = grouped[column].quantile([0.25, 0.5, 0.75]).unstack()
        out[f"{column}_q25"], out[f"{column}_median"], out[f"{column}_q75"] = (
            q[0.25], q[0.5], q[0.75])
        out[f"{column}_min"] = grouped[column].min()
        out[f"{column}_max"] = grouped[column].max()
    out = out.reset_index()
    out.insert(1, "beta", float(beta))
    return out


def linear_reference_facts(section: dict) -> dict[str, float]:
    """Numbers the report quotes about the linear policy family: the pay-as-bid restricted
    slope, its L2 to the BNE, the best linear fit's slope and L2, and the smallest L2 any linear
    bid reaches against the all-pay BNE."""
    n, k = section["n_agents"], section["units"]
    grid = value_grid(section, 4096)
    prior = UniformPrior(0.0, high_of(section))

    def l2(w: float, reference: torch.Tensor) -> float:
        return float(l2_linear_on_grid(torch.tensor(w, dtype=torch.float64), reference, grid))

    facts = {}
    if 1 <= k < n:
        w_lin = multiunit.linear_restricted_slope("pay_as_bid", n, k)
        bne = bne_bid("pay_as_bid", n, prior, grid, units=k)
        w_fit = float(least_squares_slope(grid, bne))
        top = bne_bid("pay_as_bid", n, UniformPrior(0.0, 1.0), torch.ones(1, dtype=torch.float64),
                      units=k)
        facts.update({"pab_restricted_slope": w_lin, "pab_restricted_l2_bne": l2(w_lin, bne),
                      "pab_fit_slope": w_fit, "pab_fit_l2_bne": l2(w_fit, bne),
                      # a common slope w allocates efficiently: revenue w·E[k highest]
                      "pab_restricted_revenue": w_lin * multiunit.efficient_welfare(
                          n, k, high_of(section)),
                      "pab_bne_top": float(top[0])})
    all_pay = bne_bid("all_pay", n, prior, grid)
    w_fit = float(least_squares_slope(grid, all_pay))
    facts.update({"allpay_fit_slope": w_fit, "allpay_fit_l2_bne": l2(w_fit, all_pay)})
    return facts
