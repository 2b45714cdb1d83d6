"""The learners' error against the smoothing bias (section "The smoothing bias, in every
mechanism")."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from diffauction.figures import style

GROUPS = {"overshading": "first price, $\\beta\\times N$ sweep", "tradeoff": "first price, iid",
          "annealing_n2": "annealed, $N=2$", "annealing_n5": "annealed, $N=5$",
          "nl_crra": "CRRA, annealed", "nl_allpay": "all-pay, networks",
          "nl_beta": "Beta(2,5), networks", "nl_asymmetric": "Plum, networks"}
#: the mechanism comparison's formats, prefixed "comparison:"
MECHANISM_NAMES = {"all_pay": "all-pay", "llg_vcg": "LLG VCG", "llg_nearest_vcg": "LLG nearest-VCG"}
#: markers cycled beside the colours, so that more groups than colours stay distinct
MARKERS = ("o", "s", "^", "D")


def _label(row: pd.Series) -> str:
    if row["experiment"] == "mechanism_comparison":
        name = str(row["mechanism"])
        return "comparison: " + MECHANISM_NAMES.get(name, name.replace("_", " "))
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
    markers = {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(labels)}
    lo = float(known[["l2_smoothing", "l2_total_mean"]].min().min())
    hi = float(known[["l2_smoothing", "l2_total_mean"]].max().max())
    line = np.array([lo / 2, hi * 2])
    noise_lo = float(known["l2_to_smoothed_mean"].min())
    for label, group in known.groupby("label", sort=False):
        axes[0].scatter(group["l2_smoothing"], group["l2_total_mean"], s=14,
                        color=palette[label], marker=markers[label], label=label)
        axes[1].scatter(group["l2_total_mean"], group["l2_to_smoothed_mean"], s=14,
                        color=palette[label], marker=markers[label])
    axes[0].plot(line, line, **style.BNE_STYLE)
    axes[1].plot(line, line, **style.BNE_STYLE)
    axes[1].set_ylim(noise_lo / 2, hi * 2)
    axes[0].set(xscale="log", yscale="log", xlabel=r"smoothing $\|\tilde b_\beta - b^*\|$",
                ylabel=r"total $L_2(b, b^*)$")
    axes[1].set(xscale="log", yscale="log", xlabel=r"total $L_2(b, b^*)$",
                ylabel=r"noise $L_2(b, \tilde b_\beta)$")
    fig.tight_layout()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=4, fontsize=6.5,
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    style.save(fig, *paths)


SETTING_TITLES = {"first_price_n2": "first price, U[0,1], $N=2$",
                  "nl_beta_n2": "first price, Beta(2,5), $N=2$",
                  "nl_beta_n3": "first price, Beta(2,5), $N=3$",
                  "mechanisms_pay_as_bid": "pay as bid, $N=3$, $k=2$",
                  "nl_asymmetric_n2": "Plum, weak / strong bidder",
                  "nl_allpay_n2": "all-pay, $N=2$", "nl_allpay_n3": "all-pay, $N=3$",
                  "mechanisms_all_pay": "all-pay, $N=3$"}


def _title(setting: str) -> str:
    return SETTING_TITLES.get(setting, setting.replace("_", " "))


def spaced_labels(ticks, ratio: float = 3.0) -> list[str]:
    """Labels of log-scale ticks, each at least ``ratio`` times the last labelled one (the others
    blank), so that they do not overlap."""
    labels, last = [], None
    for tick in sorted(ticks):
        keep = last is None or tick >= ratio * last
        labels.append(f"{tick:g}" if keep else "")
        last = tick if keep else last
    return labels


def smoothed_functions(table: pd.DataFrame, curves: pd.DataFrame, rates: pd.DataFrame,
                       *paths) -> None:
    """b̃_β → b*: one panel per setting with a converged solution, b̃_β(v) − b*(v) for each
    converged β (darker for larger β; the weak bidder dashed where there are two); last panel
    ‖b̃_β − b*‖ against β on log axes with the fitted power law."""
    style.apply()
    settings = list(dict.fromkeys(curves["setting"]))
    columns = 3
    rows = -(-(len(settings) + 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(style.WIDTH_IN, 2.1 * rows),
                             squeeze=False)
    axes = axes.ravel()
    betas = sorted(curves["beta"].unique())
    shade = dict(zip(betas, plt.cm.viridis(np.linspace(0.85, 0.1, len(betas))), strict=True))
    for ax, setting in zip(axes, settings, strict=False):
        own = curves[curves["setting"] == setting]
        last = own["agent"].max()
        for (beta, agent), part in own.groupby(["beta", "agent"]):
            ax.plot(part["value"], part["bid"] - part["bne"], color=shade[beta], lw=1.0,
                    ls="--" if agent < last else "-",
                    label=f"$\\beta={beta:g}$" if agent == last else None)
        ax.axhline(0.0, **style.BNE_STYLE)
        ax.set(title=_title(setting), xlabel="value $v$")
        ax.legend(fontsize=6, loc="lower left")
    axes[0].set_ylabel(r"$\tilde b_\beta(v) - b^*(v)$")
    ax = axes[len(settings)]
    palette = dict(zip(settings, style.colors(len(settings)), strict=True))
    # the weak bidder of an asymmetric setting is drawn lighter
    done = table[table["converged"] & table["setting"].isin(settings)]
    for (setting, agent), group in done.groupby(["setting", "agent"], sort=False):
        label = _title(setting) + (f" ({'weak' if agent == 0 else 'strong'})"
                                   if done.loc[done["setting"] == setting, "agent"].nunique() > 1
                                   else "")
        ax.plot(group["beta"], group["l2_bne"], "o", ms=3, color=palette[setting],
                alpha=1.0 if agent == group["agent"].max() else 0.5, label=label)
        fit = rates[(rates["setting"] == setting) & (rates["agent"] == agent)]
        if len(fit):
            beta = np.geomspace(fit["beta_min"].iloc[0], fit["beta_max"].iloc[0], 20)
            ax.plot(beta, fit["constant"].iloc[0] * beta ** -fit["rate"].iloc[0], lw=0.8,
                    color=palette[setting])
    ax.set(xscale="log", yscale="log", xlabel=r"$\beta$",
           ylabel=r"$\|\tilde b_\beta - b^*\|$", title="distance to the BNE")
    ax.set_xticks(betas, spaced_labels(betas), minor=False)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=6.5,
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    for extra in axes[len(settings) + 1:]:
        extra.set_visible(False)
    fig.tight_layout()
    style.save(fig, *paths)
