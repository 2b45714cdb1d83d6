"""Figures of the mechanism comparison (report section "Mechanism comparison"), from the tables
:mod:`diffauction.experiments.mechanisms` writes; styled by :mod:`diffauction.figures.style`."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import NullLocator, ScalarFormatter

from diffauction.experiments.mechanisms import (
    LABELS,
    TRUTHFUL,
    bne_function,
    linear_restricted,
    value_grid,
)
from diffauction.experiments.mechanisms_analysis import grid_profiles, records_bid_functions
from diffauction.figures import style as plotstyle

MARKERS = {True: "o", False: "s"}
#: index into the 10-colour palette per mechanism: distinct hues, grey for all-pay
COLOR_INDEX = {"first_price": 0, "second_price": 1, "all_pay": 7, "pay_as_bid": 3,
               "uniform_price": 4, "llg_vcg": 5, "llg_nearest_vcg": 2}


def mechanism_colors(mechanisms) -> dict[str, tuple]:
    """One colour per mechanism, the same in every figure."""
    palette = plotstyle.colors(10)
    return {m: palette[COLOR_INDEX[m]] for m in LABELS if m in set(mechanisms)}


def _beta_axis(ax, betas) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(betas))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


def _l2_panel(ax, curves: pd.DataFrame, mechanisms, colors, tolerances) -> None:
    """(a) L2 to the target against steps (median, interquartile band); a mechanism without a
    target (all-pay with linear bids) against its BNE (dashed)."""
    for m in mechanisms:
        c = curves[curves["mechanism"] == m].sort_values("step")
        column, style = ("l2_target", "-") if c["l2_target_median"].notna().all() else (
            "l2_bne", "--")
        ax.plot(c["step"], c[f"{column}_median"], style, color=colors[m], lw=1.1,
                label=LABELS[m] + (" (to BNE)" if column == "l2_bne" else ""))
        ax.fill_between(c["step"], c[f"{column}_q25"], c[f"{column}_q75"], color=colors[m],
                        alpha=plotstyle.BAND_ALPHA, lw=0)
    for i, tol in enumerate(tolerances):
        ax.axhline(tol, color="0.3", lw=0.8, ls="-" if i == 0 else ":")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("$L_2$ to target (worst agent)")
    ax.set_title(rf"$L_2$ against steps, $\beta={float(curves['beta'].iloc[0]):g}$")


def _steps_panel(ax, summary: pd.DataFrame, mechanisms, colors, tolerance: float,
                 steps: int) -> None:
    """(b) median steps until L2 stays ≤ the tolerance against β, interquartile bars; runs that
    never got there marked (open) above the budget."""
    s = summary[summary["tolerance"] == tolerance]
    for m in mechanisms:
        g = s[s["mechanism"] == m].sort_values("beta")
        if g["target"].iloc[0] == "none":
            continue
        marker = MARKERS[m in TRUTHFUL]
        finite = np.isfinite(g["median_step"].to_numpy())
        lower = (g["median_step"] - g["q25_step"]).to_numpy()
        upper = np.where(np.isfinite(g["q75_step"]), g["q75_step"] - g["median_step"], 0.0)
        ax.errorbar(g["beta"][finite], g["median_step"][finite],
                    yerr=[lower[finite], upper[finite]], color=colors[m], marker=marker,
                    ms=3.5, lw=1.0, capsize=2, label=LABELS[m])
        if (~finite).any():
            ax.scatter(g["beta"][~finite], [steps * 1.4] * int((~finite).sum()),
                       facecolors="none", edgecolors=colors[m], marker=marker, s=18)
    ax.axhline(steps, color="0.3", lw=0.8, ls=":")
    _beta_axis(ax, sorted(s["beta"].unique()))
    ax.set_yscale("log")
    ax.set_xlabel(r"$\beta$")
    ax.set_ylabel(f"steps until $L_2 \\leq {tolerance:g}$ for good")
    ax.set_title("Convergence step (median, IQR)")


def _noise_panel(ax, noise: pd.DataFrame, mechanisms, colors) -> None:
    """(c) gradient noise over curvature at the target against β."""
    for m in mechanisms:
        g = noise[noise["mechanism"] == m].sort_values("beta")
        if g.empty:
            continue
        ax.plot(g["beta"], g["noise_to_curvature"], color=colors[m],
                marker=MARKERS[m in TRUTHFUL], ms=3.5, lw=1.0, label=LABELS[m])
    _beta_axis(ax, sorted(noise["beta"].unique()))
    ax.set_yscale("log")
    ax.set_xlabel(r"$\beta$")
    ax.set_ylabel(r"$\sigma_g / \kappa$ at the target")
    ax.set_title("Gradient noise / curvature")


def convergence_figure(curves: pd.DataFrame, summary: pd.DataFrame, noise: pd.DataFrame,
                       tolerances: list[float], steps: int, *paths) -> None:
    """Three panels: L2 against steps at β_main, the convergence step against β (main
    tolerance), and gradient noise over curvature against β."""
    plotstyle.apply()
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(plotstyle.WIDTH_IN, plotstyle.HEIGHT_IN * 1.2),
        gridspec_kw={"width_ratios": [1.3, 1, 1]})
    mechanisms = [m for m in LABELS if m in set(curves["mechanism"])]
    colors = mechanism_colors(mechanisms)
    _l2_panel(left, curves, mechanisms, colors, tolerances)
    _steps_panel(middle, summary, mechanisms, colors, tolerances[0], steps)
    _noise_panel(right, noise, mechanisms, colors)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    plotstyle.save(fig, *paths)


def bid_function_figure(runs: pd.DataFrame, section: dict, *paths) -> None:
    """Learned bid functions at β_main (tail-averaged parameters, or a network's recorded bid
    function), mean over seeds and learning agents with a min–max band, against the BNE
    (dashed) and, where it differs from the BNE, the linear-restricted equilibrium (dotted)."""
    plotstyle.apply()
    beta_main = float(section["beta_main"])
    mechanisms = [m for m in LABELS if m in set(runs["mechanism"])]
    colors = mechanism_colors(mechanisms)
    cols = 4
    rows = math.ceil((len(mechanisms) + 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(plotstyle.WIDTH_IN, 1.75 * rows),
                             sharex=True, sharey=True)
    axes = np.atleast_1d(axes).reshape(-1)
    grid = value_grid(section, 201)
    v = grid.numpy()
    high = float(section["prior"].get("high", 1.0))
    for ax, m in zip(axes, mechanisms, strict=False):
        g = runs[(runs["mechanism"] == m) & (runs["beta"] == beta_main)]
        if records_bid_functions(g):  # a network: its recorded bid function, interpolated
            bids = grid_profiles(g.assign(run=range(len(g)), agent=0), section)(
                grid[:, None])[..., 0]
        else:
            a = torch.tensor(g["a_tail"].to_numpy())[:, None]
            w = torch.tensor(g["w_tail"].to_numpy())[:, None]
            bids = (a + w * grid).clamp_min(0.0) if m.startswith("llg") else w * grid
        bids = bids.numpy()
        ax.fill_between(v, bids.min(0), bids.max(0), color=colors[m],
                        alpha=plotstyle.BAND_ALPHA, lw=0)
        ax.plot(v, bids.mean(0), color=colors[m], lw=1.3, label="learned")
        ax.plot(v, bne_function(m, section)(grid).numpy(), **plotstyle.BNE_STYLE, label="BNE")
        restricted = linear_restricted(m, section)
        if restricted is not None:
            ax.plot(v, restricted(grid).numpy(), **plotstyle.SMOOTHED_STYLE, zorder=5,
                    label="linear-restricted eq.")
        ax.set_title(LABELS[m])
        ax.set_ylim(-0.05 * high, 1.05 * high)
    for ax in axes[len(mechanisms):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color="0.2", lw=1.3, label="learned (mean, min–max)"),
               plt.Line2D([], [], **plotstyle.BNE_STYLE, label="BNE"),
               plt.Line2D([], [], **plotstyle.SMOOTHED_STYLE, label="linear-restricted eq.")]
    axes[len(mechanisms)].legend(handles=handles, loc="center", frameon=False)
    for ax in axes[::cols]:
        ax.set_ylabel("bid")
    for ax in axes[-cols:]:
        ax.set_xlabel("value $v$")
    fig.suptitle(rf"Learned bid functions at $\beta={beta_main:g}$", fontsize=9)
    fig.tight_layout()
    plotstyle.save(fig, *paths)
