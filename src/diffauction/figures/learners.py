"""Figures of the section "Learners compared": L2 to the BNE against sampled valuations, for the
linear round (one panel per N and mechanism) and the neural round (one panel per auction)."""

from __future__ import annotations

import pandas as pd

from diffauction.experiments.learners_settings import MECHANISM_LABELS, MECHANISMS
from diffauction.figures import style as plotstyle


def figure(band_frame: pd.DataFrame, labels: dict[str, str], tolerance: float, *paths) -> None:
    """L2 to the BNE (log) against sampled valuations per run (log), one line per learner
    variant (mean of the worst-agent distance over seeds, band: min to max over seeds), one
    panel per (N, mechanism)."""
    ns = sorted(band_frame["n_agents"].unique())
    mechanisms = [m for m in MECHANISMS if m in set(band_frame["mechanism"])]
    panels = [[(f"$N={n}$, {MECHANISM_LABELS[m]}",
                band_frame[(band_frame["n_agents"] == n) & (band_frame["mechanism"] == m)])
               for m in mechanisms] for n in ns]
    _panels_figure(panels, labels, tolerance, paths)


def neural_figure(band_frame: pd.DataFrame, labels: dict[str, str], auctions: dict[str, str],
                  tolerance: float, *paths) -> None:
    """The same for the neural round: one panel per auction (``auctions``: name → title, in
    order)."""
    panels = [[(title, band_frame[band_frame["auction"] == name])
               for name, title in auctions.items()]]
    _panels_figure(panels, labels, tolerance, paths)


def _panels_figure(panels: list[list[tuple[str, pd.DataFrame]]], labels: dict[str, str],
                   tolerance: float, paths) -> None:
    """A grid of panels (rows of (title, band rows)), one line and band per variant; smoothed
    learners solid, the baselines dashed, so neighbouring colours stay apart."""
    import matplotlib.pyplot as plt

    plotstyle.apply()
    variants = list(labels)
    colors = dict(zip(variants, plotstyle.colors(len(variants)), strict=True))
    styles = {v: "-" if v.startswith("smoothed") else "--" for v in variants}
    rows, cols = len(panels), len(panels[0])
    fig, axes = plt.subplots(rows, cols, squeeze=False, sharex=True, sharey=True,
                             figsize=(plotstyle.WIDTH_IN, 2.3 * rows + 0.5))
    for r, row in enumerate(panels):
        for c, (title, panel) in enumerate(row):
            ax = axes[r][c]
            for variant in variants:
                line = panel[(panel["variant"] == variant) & (panel["samples"] > 0)]
                if line.empty:
                    continue
                x = line["samples"].to_numpy()
                ax.plot(x, line["mean"].to_numpy(), color=colors[variant], lw=1.2,
                        ls=styles[variant], label=labels[variant])
                ax.fill_between(x, line["low"].to_numpy(), line["high"].to_numpy(),
                                color=colors[variant], alpha=plotstyle.BAND_ALPHA, lw=0)
            ax.axhline(tolerance, **plotstyle.BNE_STYLE)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(title)
            if r == rows - 1:
                ax.set_xlabel("sampled valuations per run")
            if c == 0:
                ax.set_ylabel("L2 to BNE (worst bidder)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.06 if rows > 1 else 0.1, 1, 1))
    plotstyle.save(fig, *paths)
