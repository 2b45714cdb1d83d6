"""Aggregations behind the over-shading analysis: theory vs learned, the bias–variance trade-off
of β, and the annealing result. Inputs are the pipeline's tidy tables; outputs are tables for
figures and the report."""

from __future__ import annotations

import pandas as pd

from diffauction.analysis.scaling import fit_gap_scaling
from diffauction.equilibria.smoothed import (
    gap_constant_theory,
    smoothed_equilibrium_table,
)

GROUP = ["n_agents", "beta_start"]


def theory_tables(betas, n_agents) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(w̃ table, gap-scaling fit): columns ``n_agents,beta,w_smoothed,w_bne`` and, per N, the
    least-squares constants of gap ≈ c/β (+ d/β² with ``second_order``) beside c(N) from theory."""
    table = smoothed_equilibrium_table(betas, n_agents)
    first = fit_gap_scaling(table)
    second = fit_gap_scaling(table, second_order=True)
    fit = first.rename(columns={"constant_c": "c_first_order",
                                "max_rel_residual": "max_rel_residual_first_order"})
    fit["c_second_order"] = second["constant_c"].to_numpy()
    fit["d_second_order"] = second["constant_d"].to_numpy()
    fit["max_rel_residual_second_order"] = second["max_rel_residual"].to_numpy()
    fit["c_theory"] = [gap_constant_theory(int(n)) for n in fit["n_agents"]]
    return table, fit


def sweep_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (N, β): learned slope over seeds and agents against w̃ and the BNE, and the
    hard-auction quality metrics (means, and worst cases where a bound matters)."""
    grouped = metrics.groupby(GROUP, sort=True)
    out = grouped.agg(
        w_mean=("w_tail", "mean"), w_sd=("w_tail", "std"), w_min=("w_tail", "min"),
        w_max=("w_tail", "max"), w_smoothed=("w_smoothed", "first"), w_bne=("w_bne", "first"),
        l2_mean=("l2_bne", "mean"), utility_loss_mean=("utility_loss_vs_bne", "mean"),
        eps_ex_ante_mean=("eps_ex_ante", "mean"), eps_ex_interim_max=("eps_ex_interim", "max"),
        eps_ex_interim_mean=("eps_ex_interim", "mean"),
        runs=("seed", "nunique"),
    ).reset_index().rename(columns={"beta_start": "beta"})
    final_err = (metrics["w_final"] - metrics["w_bne"]).abs()
    tail_err = (metrics["w_tail"] - metrics["w_bne"]).abs()
    dev = (metrics["w_tail"] - metrics["w_smoothed"]).abs()
    extra = metrics.assign(final_err=final_err, tail_err=tail_err, dev=dev).groupby(
        GROUP, sort=True).agg(abs_error_final_mean=("final_err", "mean"),
                              abs_error_final_max=("final_err", "max"),
                              abs_error_tail_mean=("tail_err", "mean"),
                              abs_error_tail_max=("tail_err", "max"),
                              dev_smoothed_max=("dev", "max")).reset_index()
    out = out.merge(extra.rename(columns={"beta_start": "beta"}), on=["n_agents", "beta"])
    out["gap_learned"] = out["w_bne"] - out["w_mean"]
    out["gap_theory"] = out["w_bne"] - out["w_smoothed"]
    return out


def annealing_summary(metrics: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Per (N, sampler): worst and mean |w − w*| over seeds and agents, the share of runs whose
    every agent is within ``tolerance``, and the valuations sampled per run."""
    frame = metrics.assign(err=(metrics["w_tail"] - metrics["w_bne"]).abs(),
                           err_final=(metrics["w_final"] - metrics["w_bne"]).abs())
    per_run = frame.groupby(["n_agents", "sampler", "run"]).agg(
        err=("err", "max"), err_final=("err_final", "max"))
    per_run["ok"] = per_run["err"] <= tolerance
    out = per_run.groupby(["n_agents", "sampler"]).agg(
        max_error=("err", "max"), mean_error=("err", "mean"),
        max_error_last_iterate=("err_final", "max"),
        runs_within=("ok", "sum"), runs=("ok", "size")).reset_index()
    samples = frame.groupby(["n_agents", "sampler"])["samples_per_run"].first().reset_index()
    return out.merge(samples, on=["n_agents", "sampler"])
