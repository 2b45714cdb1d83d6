"""Figures of the section "Non-linear and asymmetric strategies", one function each.

They read the tidy tables of :mod:`diffauction.experiments.nonlinear` (``bid_functions.csv``,
``revenue.csv``, ``convergence.csv``) and share :mod:`diffauction.figures.style`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from diffauction.figures import style as plotstyle

PANELS = [  # (experiment, n_agents, title) of the symmetric settings' bid-function figure
    ("nl_crra", 2, "CRRA, $N=2$"),
    ("nl_crra", 3, "CRRA, $N=3$"),
    ("nl_beta", 2, "Beta(2, 5), $N=2$"),
    ("nl_beta", 3, "Beta(2, 5), $N=3$"),
    ("nl_allpay", 2, "all-pay, $N=2$"),
    ("nl_allpay", 3, "all-pay, $N=3$"),
]


def _band(ax, rows: pd.DataFrame, color, label: str) -> None:
    ax.plot(rows["v"], rows["bid_mean"], color=color, lw=1.2, label=label)
    ax.fill_between(rows["v"], rows["bid_min"], rows["bid_max"], color=color,
                    alpha=plotstyle.BAND_ALPHA, lw=0)
    ax.plot(rows["v"], rows["bid_bne"], **plotstyle.BNE_STYLE)


def nonlinear_asymmetric(bids: pd.DataFrame, revenue: pd.DataFrame, *paths) -> None:
    """Left: both bidders' learned bid functions (mean, min–max band over seeds) over Plum's
    BNE (dashed). Right: expected revenue of the learned first price (min–max over seeds), of
    its BNE and of the second-price auction with truthful bids."""
    plotstyle.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN),
                                      gridspec_kw={"width_ratios": [1.4, 1]})
    rows = bids[bids["experiment"] == "nl_asymmetric"]
    names = {0: "weak", 1: "strong"}
    for (agent, group), color in zip(rows.groupby("agent"), plotstyle.colors(2), strict=True):
        label = f"{names.get(int(agent), agent)} bidder, {group['prior'].iloc[0]}"
        _band(left, group, color, label)
    left.plot([], [], **plotstyle.BNE_STYLE, label="BNE (Plum)")
    left.set_xlabel("value $v$")
    left.set_ylabel("bid $b_i(v)$")
    left.set_title("Learned bid functions, asymmetric first price")
    left.legend(loc="upper left")

    colors = plotstyle.colors(3)
    x = np.arange(len(revenue))
    low = (revenue["revenue"] - revenue["revenue_min"]).fillna(0).to_numpy()
    high = (revenue["revenue_max"] - revenue["revenue"]).fillna(0).to_numpy()
    right.bar(x, revenue["revenue"], color=colors, width=0.6, yerr=[low, high], capsize=3)
    for xi, value in zip(x, revenue["revenue"], strict=True):
        right.text(xi, value + 0.004, f"{value:.4f}", ha="center", va="bottom", fontsize=7)
    right.set_xticks(x, [a.replace(", ", ",\n") for a in revenue["auction"]], fontsize=7)
    right.set_ylim(0.0, float(revenue["revenue"].max()) * 1.2)
    right.set_ylabel("expected revenue")
    right.set_title("Revenue equivalence fails")
    fig.tight_layout()
    plotstyle.save(fig, *paths)


def nonlinear_bids(bids: pd.DataFrame, *paths) -> None:
    """Learned bid functions (mean, min–max band over seeds and agents) over the BNE (dashed),
    one panel per symmetric setting; CRRA panels show ρ = 0.5 and ρ = 1."""
    plotstyle.apply()
    fig, axes = plt.subplots(2, 3, figsize=(plotstyle.WIDTH_IN, 2 * plotstyle.HEIGHT_IN * 0.85))
    colors = plotstyle.colors(2)
    for ax, (experiment, n, title) in zip(axes.T.flat, PANELS, strict=True):
        rows = bids[(bids["experiment"] == experiment) & (bids["n_agents"] == n)]
        for (rho, group), color in zip(rows.groupby("risk_aversion"), colors, strict=False):
            label = rf"$\rho={rho:g}$" if experiment == "nl_crra" else "learned"
            _band(ax, group, color, label)
        ax.plot([], [], **plotstyle.BNE_STYLE, label="BNE")
        ax.set_title(title)
        ax.set_xlabel("value $v$")
        ax.legend(loc="upper left", fontsize=6.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("bid $b(v)$")
    fig.tight_layout()
    plotstyle.save(fig, *paths)


def nonlinear_convergence(curves: pd.DataFrame, tolerance: float, *paths) -> None:
    """L2 distance to the BNE against sampled valuations per run: worst over seeds and agents
    (solid) and mean (dotted), one line per setting, with the target (dashed)."""
    plotstyle.apply()
    fig, ax = plt.subplots(figsize=(plotstyle.WIDTH_IN * 0.62, plotstyle.HEIGHT_IN))
    keys = list(curves.groupby(["experiment", "n_agents", "risk_aversion"], sort=False).groups)
    colors = plotstyle.colors(len(keys))
    for (experiment, n, rho), color in zip(keys, colors, strict=True):
        rows = curves[(curves["experiment"] == experiment) & (curves["n_agents"] == n)
                      & (curves["risk_aversion"] == rho)]
        rows = rows[rows["samples"] > 0]
        label = f"{experiment.removeprefix('nl_')}, $N={n}$" + (
            rf", $\rho={rho:g}$" if experiment == "nl_crra" else "")
        ax.plot(rows["samples"], rows["l2_max"], color=color, lw=1.1, label=label)
        ax.plot(rows["samples"], rows["l2_mean"], color=color, lw=0.8, ls=":")
    ax.axhline(tolerance, **plotstyle.BNE_STYLE, label=f"target {tolerance:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sampled valuations per run")
    ax.set_ylabel("$L_2$ to the BNE")
    ax.set_title("Convergence (worst over seeds and agents; mean dotted)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=6.5)
    fig.tight_layout()
    plotstyle.save(fig, *paths)
