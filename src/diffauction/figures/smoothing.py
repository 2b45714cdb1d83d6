"""The learners' error against the smoothing bias (section "The smoothing bias, in every
mechanism")."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from diffauction.figures import style

GROUPS = {"overshading": "first price, $\\beta\\times N$ sweep", "tradeoff": "first price, iid",
          "annealing_n2": "annealed, $N=2$", "annealing_n5": "annealed, $N=5$",
          "nl_crra": "risk-neutral, annealed"}


def _label(row: pd.Series) -> str:
    if row["experiment"] == "mechanism_comparison":
        return str(row["mechanism"]).replace("_", " ")
    return GROUPS.get(row["experiment"], str(row["experiment"]))


def smoothing_decomposition(table: pd.DataFrame, *paths) -> None:
    """Left: L2 of the learned profile to the BNE (total) against ‖b̃_β − b*‖ (smoothing), one
    point per setting; on the diagonal the whole error is smoothing bias. Right: L2 to b̃_β (what
    noise and optimisation leave) against the total."""
    style.apply()
    known = table[table["l2_smoothing"].notna() & (table["l2_smoothing"] > 1e-7)].copy()
    known["label"] = known.apply(_label, axis=1)
    fig, axes = plt.subplots(1, 2, figsize=(style.WIDTH_IN, style.HEIGHT_IN + 0.3))
    labels = list(dict.fromkeys(known["label"]))
    palette = dict(zip(labels, style.colors(len(labels)), strict=True))
    lo = float(known[["l2_smoothing", "l2_total_mean"]].min().min())
    hi = float(known[["l2_smoothing", "l2_total_mean"]].max().max())
    line = np.array([lo / 2, hi * 2])
    noise_lo = float(known["l2_to_smoothed_mean"].min())
    for label, group in known.groupby("label", sort=False):
        axes[0].scatter(group["l2_smoothing"], group["l2_total_mean"], s=14,
                        color=palette[label], label=label)
        axes[1].scatter(group["l2_total_mean"], group["l2_to_smoothed_mean"], s=14,
                        color=palette[label])
    axes[0].plot(line, line, **style.BNE_STYLE)
    axes[1].plot(line, line, **style.BNE_STYLE)
    axes[1].set_ylim(noise_lo / 2, hi * 2)
    axes[0].set(xscale="log", yscale="log", xlabel=r"smoothing $\|\tilde b_\beta - b^*\|$",
                ylabel=r"total $L_2(b, b^*)$")
    axes[1].set(xscale="log", yscale="log", xlabel=r"total $L_2(b, b^*)$",
                ylabel=r"noise $L_2(b, \tilde b_\beta)$")
    fig.tight_layout()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=5, fontsize=6.5,
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    style.save(fig, *paths)
