"""Figure of the section "Learners compared": L2 to the BNE against sampled valuations."""

from __future__ import annotations

import pandas as pd

from diffauction.experiments.learners_settings import MECHANISM_LABELS, MECHANISMS
from diffauction.figures import style as plotstyle


def figure(band_frame: pd.DataFrame, labels: dict[str, str], tolerance: float, *paths) -> None:
    """L2 to the BNE (log) against sampled valuations per run (log), one line per learner
    variant (mean of the worst-agent distance over seeds, band: min to max over seeds), one
    panel per (N, mechanism)."""
    import matplotlib.pyplot as plt

    plotstyle.apply()
    ns = sorted(band_frame["n_agents"].unique())
    mechanisms = [m for m in MECHANISMS if m in set(band_frame["mechanism"])]
    variants = list(labels)
    colors = dict(zip(variants, plotstyle.colors(len(variants)), strict=True))
    smoothed = [v for v in variants if v.startswith("smoothed")]
    # smoothed learners solid, the baselines dashed, so neighbouring colours stay apart
    styles = {v: "-" if v in smoothed else "--" for v in variants}
    fig, axes = plt.subplots(len(ns), len(mechanisms), squeeze=False, sharex=True, sharey=True,
                             figsize=(plotstyle.WIDTH_IN, 2.3 * len(ns) + 0.5))
    for r, n in enumerate(ns):
        for c, mechanism in enumerate(mechanisms):
            ax = axes[r][c]
            panel = band_frame[(band_frame["n_agents"] == n)
                               & (band_frame["mechanism"] == mechanism)]
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
            ax.set_title(f"$N={n}$, {MECHANISM_LABELS[mechanism]}")
            if r == len(ns) - 1:
                ax.set_xlabel("sampled valuations per run")
            if c == 0:
                ax.set_ylabel("L2 to BNE (worst bidder)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    plotstyle.save(fig, *paths)
