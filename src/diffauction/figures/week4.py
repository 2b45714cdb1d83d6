"""The week-4 figure: the learned slopes over training and the learned bid functions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from diffauction.figures import style as plotstyle


def week4_convergence(trajectory: pd.DataFrame, summary: pd.DataFrame, w_smoothed: float,
                      *paths) -> None:
    """Left: w_i against step, mean over seeds with a min–max band, BNE and smoothed fixed point.
    Right: learned bid functions b_i(v) = w_i·v (mean and band over seeds) against the BNE."""
    plotstyle.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN))
    agents = sorted(trajectory["agent"].unique())
    colors = plotstyle.colors(len(agents))
    w_bne = float(summary["w_bne"].iloc[0])
    stats = trajectory.groupby(["agent", "step"])["w"].agg(["mean", "min", "max"]).reset_index()
    for agent, color in zip(agents, colors, strict=True):
        s = stats[stats["agent"] == agent]
        left.plot(s["step"], s["mean"], color=color, lw=1.2, label=f"agent {agent + 1}")
        left.fill_between(s["step"], s["min"], s["max"], color=color, alpha=plotstyle.BAND_ALPHA,
                          lw=0)
    left.axhline(w_bne, **plotstyle.BNE_STYLE, label=f"BNE $w^*={w_bne:g}$")
    left.axhline(w_smoothed, **plotstyle.SMOOTHED_STYLE,
                 label=rf"smoothed eq. $\tilde w={w_smoothed:.4f}$")
    left.set_xlabel("step (epoch)")
    left.set_ylabel("bid slope $w_i$")
    left.set_title("Convergence (mean, min–max over seeds)")
    left.legend(loc="upper right")

    v = np.linspace(0.0, 1.0, 101)
    for agent, color in zip(agents, colors, strict=True):
        w = summary[summary["agent"] == agent]["w_tail"].to_numpy()
        right.plot(v, w.mean() * v, color=color, lw=1.2, label=f"agent {agent + 1}")
        right.fill_between(v, w.min() * v, w.max() * v, color=color, alpha=plotstyle.BAND_ALPHA,
                           lw=0)
    right.plot(v, w_bne * v, **plotstyle.BNE_STYLE, label=f"BNE $b^*(v)={w_bne:g}\\,v$")
    right.set_xlabel("value $v$")
    right.set_ylabel("bid $b_i(v)$")
    right.set_title("Learned bid functions")
    right.legend(loc="upper left")
    fig.tight_layout()
    plotstyle.save(fig, *paths)
