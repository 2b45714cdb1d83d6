"""Figures of the over-shading section, one function each, from the pipeline's tidy tables."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from diffauction.figures import style as plotstyle


def overshading_theory(sweep: pd.DataFrame, table: pd.DataFrame, *paths) -> None:
    """Learned slope (mean, min–max over seeds and agents) and the smoothed game's fixed point
    w̃(β, N) against β, one panel per N, with the BNE."""
    plotstyle.apply()
    ns = sorted(table["n_agents"].unique())
    fig, axes = plt.subplots(1, len(ns), figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN),
                             sharex=True)
    color = plotstyle.colors(2)
    for ax, n in zip(np.atleast_1d(axes), ns, strict=True):
        theory = table[table["n_agents"] == n]
        learned = sweep[sweep["n_agents"] == n]
        ax.plot(theory["beta"], theory["w_smoothed"], color=color[0], lw=1.2, marker="o", ms=3,
                label=r"smoothed eq. $\tilde w$")
        ax.errorbar(learned["beta"], learned["w_mean"],
                    yerr=[learned["w_mean"] - learned["w_min"],
                          learned["w_max"] - learned["w_mean"]],
                    fmt="x", color=color[1], ms=4, lw=0.8, label="learned")
        ax.axhline((n - 1) / n, **plotstyle.BNE_STYLE, label="BNE")
        ax.set_xscale("log")
        ax.set_title(f"$N={n}$")
        ax.set_xlabel(r"$\beta$")
    np.atleast_1d(axes)[0].set_ylabel("bid slope $w$")
    np.atleast_1d(axes)[0].legend(loc="lower right")
    fig.tight_layout()
    plotstyle.save(fig, *paths)


def overshading_scaling(table: pd.DataFrame, fit: pd.DataFrame, sweep: pd.DataFrame,
                        tradeoff: pd.DataFrame, *paths) -> None:
    """Left: β·(w* − w̃) against β per N (quadrature: lines; learned: markers) with the
    first-order constant c(N) = (1 + 1/N) ln 2. Right: the bias–variance trade-off at fixed batch
    and steps — error of the learned slope against β, beside the pure smoothing bias."""
    plotstyle.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN))
    ns = sorted(table["n_agents"].unique())
    for n, color in zip(ns, plotstyle.colors(len(ns)), strict=True):
        theory = table[table["n_agents"] == n]
        learned = sweep[sweep["n_agents"] == n]
        left.plot(theory["beta"], theory["beta"] * (theory["w_bne"] - theory["w_smoothed"]),
                  color=color, lw=1.2, label=f"$N={n}$")
        left.plot(learned["beta"], learned["beta"] * learned["gap_learned"], "x", color=color,
                  ms=4)
        c = float(fit.loc[fit["n_agents"] == n, "c_theory"].iloc[0])
        left.axhline(c, color=color, lw=0.8, ls="--")
    left.set_xscale("log")
    left.set_xlabel(r"$\beta$")
    left.set_ylabel(r"$\beta\,(w^* - \tilde w)$")
    left.set_title(r"Scaling law: gap $\approx c(N)/\beta$ (dashed)")
    left.legend(loc="lower right", ncol=2)

    colors = plotstyle.colors(3)
    right.plot(tradeoff["beta"], tradeoff["gap_theory"], color="black", lw=1.0, ls="--",
               label=r"bias $w^* - \tilde w$")
    right.plot(tradeoff["beta"], tradeoff["abs_error_final_mean"], marker="o", ms=3,
               color=colors[0], label="last iterate, mean")
    right.plot(tradeoff["beta"], tradeoff["abs_error_final_max"], marker="v", ms=3,
               color=colors[0], ls=":", label="last iterate, worst")
    right.plot(tradeoff["beta"], tradeoff["abs_error_tail_max"], marker="s", ms=3,
               color=colors[2], label="tail average, worst")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel(r"$\beta$")
    right.set_ylabel(r"$|w - w^*|$")
    right.set_title("Bias vs noise at fixed batch and steps")
    right.legend(loc="upper right")
    fig.tight_layout()
    plotstyle.save(fig, *paths)


def overshading_annealing(trajectory: pd.DataFrame, tolerance: float, *paths) -> None:
    """Left: worst-agent error |w − w*| of every annealed run against sampled valuations, per N
    and sampler. Right: the strategy movement d_t over training (median over runs)."""
    plotstyle.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN))
    frame = trajectory[trajectory["step"] > 0].copy()
    frame["err"] = (frame["w"] - (frame["n_agents"] - 1) / frame["n_agents"]).abs()
    per_run = frame.groupby(["n_agents", "sampler", "run", "step"], sort=True).agg(
        err=("err", "max"), movement=("movement", "first"), samples=("samples", "first")
    ).reset_index()
    keys = list(per_run.groupby(["n_agents", "sampler"]).groups)
    samplers = sorted(per_run["sampler"].unique())
    styles = dict(zip(samplers, ["-", "--", ":"], strict=False))
    ns = sorted(per_run["n_agents"].unique())
    colors = dict(zip(ns, plotstyle.colors(len(ns)), strict=True))
    for n, sampler in keys:
        sel = per_run[(per_run["n_agents"] == n) & (per_run["sampler"] == sampler)]
        worst = sel.groupby("samples")["err"].max()
        left.plot(worst.index, worst.to_numpy(), color=colors[n], ls=styles[sampler], lw=1.1,
                  label=f"$N={n}$, {sampler}")
        move = sel.groupby("step")["movement"].median()
        right.plot(move.index, move.to_numpy(), color=colors[n], ls=styles[sampler], lw=1.0)
    left.axhline(tolerance, **plotstyle.BNE_STYLE, label=f"target {tolerance:g}")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("sampled valuations per run")
    left.set_ylabel(r"worst $|w_i - w^*|$ over seeds")
    left.set_title(r"Annealed $\beta$: error against samples")
    left.legend(loc="lower left", fontsize=6.5)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel(r"movement $d_t$")
    right.set_title("Strategy movement (median over runs)")
    fig.tight_layout()
    plotstyle.save(fig, *paths)
