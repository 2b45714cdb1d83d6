"""Tables of the learners comparison (:mod:`.learners`): reach-and-stay per run, summaries over
seeds, ratios against the reference learner, the figure's bands, PPO's summary.

A setting is (N, mechanism) in the linear round (``keys`` = :data:`KEYS`); the neural round
(:mod:`.learners_neural`) passes its own ``keys``: the variant, then what names its setting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from diffauction.analysis.convergence import reach_and_stay
from diffauction.experiments.learners_settings import KEYS, RUN_KEYS


def _run_keys(keys: list[str]) -> list[str]:
    return keys + [k for k in RUN_KEYS if k not in KEYS]


def worst_agent(trajectory: pd.DataFrame, metric: str = "l2_bid", keys: list[str] = KEYS
                ) -> pd.DataFrame:
    """Per run and recorded point, the largest distance over the run's agents (column ``l2``)."""
    return (trajectory.groupby(_run_keys(keys) + ["step", "samples"], sort=True)[metric].max()
            .rename("l2").reset_index())


def reach_table(trajectory: pd.DataFrame, tolerance: float, keys: list[str] = KEYS
                ) -> pd.DataFrame:
    """One row per run: budget (its last record), samples to reach-and-stay (NaN: not within
    the budget) and the final worst-agent distance."""
    per_point = worst_agent(trajectory, keys=keys)
    run_keys = _run_keys(keys)
    rows = []
    for key, run in per_point.groupby(run_keys, sort=True):
        run = run.sort_values("samples")
        rows.append({**dict(zip(run_keys, key, strict=True)),
                     "budget": int(run["samples"].iloc[-1]),
                     "samples_to_reach": reach_and_stay(run["samples"], run["l2"], tolerance),
                     "final_l2": float(run["l2"].iloc[-1])})
    return pd.DataFrame(rows)


def _median_with_censoring(x: np.ndarray) -> float:
    """Median with NaN (censored) read as +∞; +∞ comes back as NaN."""
    value = float(np.median(np.where(np.isnan(x), np.inf, x)))
    return value if math.isfinite(value) else math.nan


def summary_table(reach: pd.DataFrame, finals: pd.DataFrame | None = None,
                  evaluations: dict[str, int] | None = None, keys: list[str] = KEYS
                  ) -> pd.DataFrame:
    """Per (variant, N, mechanism): seeds, seeds reached, median and worst samples to reach
    (NaN: not reached by half / by every seed), budget, worst final distance; with ``finals``
    the median ex-ante utility loss ℓ̂ and the worst ex-interim ε̂ of the final profiles; with
    ``evaluations`` (variant → utility evaluations per sample) the evaluations to reach."""
    rows = []
    for key, group in reach.groupby(keys, sort=False):
        x = group["samples_to_reach"].to_numpy(dtype=float)
        worst = math.nan if np.isnan(x).any() else float(x.max())
        rows.append({**dict(zip(keys, key, strict=True)), "seeds": len(x),
                     "reached": int((~np.isnan(x)).sum()), "median": _median_with_censoring(x),
                     "worst": worst, "budget": int(group["budget"].max()),
                     "final_l2_worst": float(group["final_l2"].max())})
    out = pd.DataFrame(rows)
    if finals is not None:
        eps = finals.groupby(keys, sort=False).agg(
            loss_ex_ante=("loss_ex_ante", "median"),
            loss_ex_interim=("loss_ex_interim", "max")).reset_index()
        out = out.merge(eps, on=keys, how="left")
    if evaluations is not None:
        out["evaluations_per_sample"] = out["variant"].map(evaluations)
        out["median_evaluations"] = out["median"] * out["evaluations_per_sample"]
    return out


def ratio_table(summary: pd.DataFrame, reference: str, keys: list[str] = KEYS) -> pd.DataFrame:
    """Per setting and baseline: how many times fewer samples the reference needs.

    ``ratio_median`` = median_b / median_ref (``bound_median`` "=" exact, ">" a lower bound
    budget_b / median_ref because b did not reach τ, "none": no ratio, the reference did not
    reach it); the same for the worst seeds, and, when ``summary`` has
    ``evaluations_per_sample``, for the median counted in utility evaluations
    (``ratio_evaluations``, ``bound_evaluations``).
    """
    setting = [k for k in keys if k != "variant"]
    rows = []
    for key, group in summary.groupby(setting, sort=False):
        ref = group[group["variant"] == reference]
        if ref.empty:
            raise ValueError(f"reference variant {reference!r} missing for setting {key}")
        ref = ref.iloc[0]
        for _, row in group[group["variant"] != reference].iterrows():
            out = {**dict(zip(setting, key, strict=True)), "variant": row["variant"]}
            for stat in ("median", "worst"):
                ratio, bound = _ratio(row[stat], row["budget"], ref[stat])
                out[f"ratio_{stat}"] = ratio
                out[f"bound_{stat}"] = bound
            if "evaluations_per_sample" in row:
                ratio, bound = _ratio(row["median"] * row["evaluations_per_sample"],
                                      row["budget"] * row["evaluations_per_sample"],
                                      ref["median"] * ref["evaluations_per_sample"])
                out["ratio_evaluations"] = ratio
                out["bound_evaluations"] = bound
            rows.append(out)
    return pd.DataFrame(rows)


def _ratio(baseline: float, budget: float, reference: float) -> tuple[float, str]:
    if math.isnan(reference):
        return math.nan, "none"
    if math.isnan(baseline):
        return budget / reference, ">"
    return baseline / reference, "="


def band(per_point: pd.DataFrame, keys: list[str] = KEYS) -> pd.DataFrame:
    """Per (variant, N, mechanism, samples): mean, min and max over seeds of the worst-agent
    distance (the figure's line and band)."""
    return (per_point.groupby(keys + ["samples"], sort=True)["l2"]
            .agg(mean="mean", low="min", high="max").reset_index())


# --- PPO ------------------------------------------------------------------------------------------


def distance_at(trajectory: pd.DataFrame, samples: float) -> pd.DataFrame:
    """Per (N, mechanism): the last recorded point at or below ``samples`` valuations
    (``samples_at``) and the median over seeds of the worst-agent distance there (``l2_at``)."""
    per_point = worst_agent(trajectory)
    per_point = per_point[per_point["samples"] <= samples]
    last = per_point.groupby(["n_agents", "mechanism"])["samples"].transform("max")
    at = per_point[per_point["samples"] == last]
    return (at.groupby(["n_agents", "mechanism"], sort=True)
            .agg(samples_at=("samples", "first"), l2_at=("l2", "median")).reset_index())


def ppo_summary(trajectory: pd.DataFrame, finals: pd.DataFrame, reference: pd.DataFrame,
                tolerance: float, reference_trajectory: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """PPO's summary per (N, mechanism), as :func:`summary_table`, with the median initial and
    final distances, the reference learner's median samples in the same setting and the ratio
    against it (NaN where it has none); with ``reference_trajectory`` also the reference's
    distance after PPO's budget (:func:`distance_at`: ``reference_samples_at``,
    ``reference_l2_at``)."""
    reach = reach_table(trajectory, tolerance)
    summary = summary_table(reach, finals, {variant: 1 for variant in reach["variant"].unique()})
    final = reach.groupby(KEYS)["final_l2"].median().rename("final_l2_median").reset_index()
    summary = summary.merge(final, on=KEYS)
    start = worst_agent(trajectory)
    start = start[start["samples"] == 0]
    initial = start.groupby(KEYS)["l2"].median().rename("initial_l2_median").reset_index()
    summary = summary.merge(initial, on=KEYS)
    ref = reference[["n_agents", "mechanism", "median"]].rename(
        columns={"median": "reference_median"})
    summary = summary.merge(ref, on=["n_agents", "mechanism"], how="left")
    bounds = [_ratio(m, b, r) for m, b, r in zip(summary["median"], summary["budget"],
                                                  summary["reference_median"], strict=True)]
    summary["ratio_median"] = [r for r, _ in bounds]
    summary["bound_median"] = [b for _, b in bounds]
    if reference_trajectory is not None:
        at = distance_at(reference_trajectory, float(summary["budget"].max())).rename(
            columns={"samples_at": "reference_samples_at", "l2_at": "reference_l2_at"})
        summary = summary.merge(at, on=["n_agents", "mechanism"], how="left")
    return summary
