"""Learners compared (issue 6): how many sampled valuations each learner needs to reach L2 ≤ τ.

The comparison runs every learner of :mod:`diffauction.baselines` (the smoothed gradient with a
fixed and with an annealed β, NPGA, REINFORCE, Hedge; PPO from :mod:`diffauction.marl` outside
the default build) on the same settings — N bidders × mechanism, U[0, 1] values, linear bids
from the same w0 (Hedge: weights peaked at w0·v) — with one budget of sampled valuations per
learner, and aggregates the trajectories here.

Accounting
----------
``samples`` are valuations drawn per run (batch · bidders per step, every learner); how often a
learner evaluates the utility on each of them is reported beside it (``evaluations_per_sample``:
NPGA its population, Hedge its bid grid) and wall time goes to a separate file, since it is
not reproducible.

Reach and stay
--------------
A run's distance to the BNE at a recorded point is the L2 distance of the *worst* bidder's bid
function (``l2_bid``: RMSE over the prior of b(v) − b*(v), ANCHORS.md §2). The run reaches
tolerance τ at the first recorded sample count from which every later recorded distance, up to
the end of its budget, is ≤ τ; a run still (or again) above τ at its last record has not reached
it (censored, NaN). "Stay" is checked at the recorded points only (about ``records`` per run,
log-spaced in steps).

Over seeds, the median and the worst (largest) sample count are reported; a censored run
counts as +∞, so the worst is "not reached" as soon as one seed fails, and the median as soon
as half of them do.

Ratios
------
"The reference needs X× fewer samples than learner b" is median_b / median_ref per setting
(and the same with the worst seeds). When b did not reach τ within its budget B_b, the ratio is
a lower bound, > B_b / median_ref; when the reference did not reach τ there is no ratio.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd
import torch

from .baselines import CONFIGS, make_config, run_learner
from .mechanisms import make_mechanism
from .metrics import best_response_gap
from .priors import make_prior

PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}
#: learners a comparison variant may use; PPO is configured separately (``comparison.ppo``)
VARIANT_LEARNERS = ("smoothed", "npga", "reinforce", "hedge")
#: learners whose policy is a linear bid w·v (their ε-Nash has a closed-form evaluation)
LINEAR = ("smoothed", "npga", "reinforce")
MECHANISMS = ("first_price", "second_price", "all_pay")
MECHANISM_LABELS = {"first_price": "first price", "second_price": "second price",
                    "all_pay": "all-pay"}
MECHANISM_SHORT = {"first_price": "FP", "second_price": "SP", "all_pay": "AP"}
KEYS = ["variant", "n_agents", "mechanism"]
RUN_KEYS = KEYS + ["seed", "run"]


# --- settings ------------------------------------------------------------------------------------


def seed_values(seeds) -> list[int]:
    """A list of seeds, or ``{count, start}``."""
    if isinstance(seeds, dict):
        start = seeds.get("start", 0)
        return list(range(start, start + seeds["count"]))
    return list(seeds)


def _learner_errors(spec: dict, key: str, n_agents: list[int], allowed: tuple[str, ...]
                    ) -> list[str]:
    messages = []
    learner = spec["learner"]
    if learner not in allowed:
        hint = (" (PPO is slow: configure it under comparison.ppo, outside rule all)"
                if learner == "ppo" else "")
        return [f"{key}.learner: unknown learner {learner!r}{hint}; allowed: {list(allowed)}"]
    if learner == "ppo":
        from .marl import PPOConfig  # needs no torchrl: a plain dataclass

        defaults = dataclasses.asdict(PPOConfig())
    else:
        defaults = dataclasses.asdict(CONFIGS[learner]())
    settings = spec.get("settings", {})
    for name in sorted(set(settings) - set(defaults)):
        messages.append(f"{key}.settings.{name}: not a setting of {learner!r}; "
                        f"allowed: {sorted(defaults)}")
    for name in sorted(set(settings) & set(defaults)):
        allowed = _setting_type(defaults[name])
        if allowed and not _has_type(settings[name], allowed):
            messages.append(f"{key}.settings.{name}: {settings[name]!r} is not {allowed}")
    if messages or learner == "ppo":
        return messages
    cfg = make_config(learner, settings)
    if learner == "smoothed":
        from .learners import SAMPLERS
        from .schedules import SCHEDULES

        for field in ("beta_schedule", "lr_schedule"):
            if getattr(cfg, field) not in SCHEDULES:
                messages.append(f"{key}.settings.{field}: unknown schedule "
                                f"{getattr(cfg, field)!r}; allowed: {sorted(SCHEDULES)}")
        if cfg.sampler not in SAMPLERS:
            messages.append(f"{key}.settings.sampler: unknown sampler {cfg.sampler!r}; "
                            f"allowed: {list(SAMPLERS)}")
        if cfg.beta_end is not None and cfg.beta_end < cfg.beta:
            messages.append(f"{key}.settings.beta_end: {cfg.beta_end} is below beta {cfg.beta}; "
                            "allowed: beta_end >= beta")
    for n in n_agents:
        per_step = cfg.samples_per_step(n)
        if spec["budget"] < per_step:
            messages.append(f"{key}.budget: {spec['budget']:g} valuations is less than one step "
                            f"({per_step} for N={n}); allowed: a budget >= {per_step}")
    return messages


def _setting_type(default) -> str | None:
    """What a setting must be, from its default (None: not checked here)."""
    if isinstance(default, bool):
        return "a boolean"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if default is None:
        return "a number or null"
    if isinstance(default, str):
        return "a string"
    return None


def _has_type(value, allowed: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {"a boolean": isinstance(value, bool),
            "an integer": isinstance(value, int) and not isinstance(value, bool),
            "a number": number and math.isfinite(value),
            "a number or null": value is None or (number and math.isfinite(value)),
            "a string": isinstance(value, str)}[allowed]


def validate_section(section: dict, key: str = "comparison") -> list[str]:
    """What the schema cannot say about the comparison block: one message per problem, each
    naming its key."""
    messages = []
    learners = section["learners"]
    if "ppo" in learners:  # results/learners/ppo/ belongs to the PPO target
        messages.append(f"{key}.learners.ppo: the name is reserved for comparison.ppo; "
                        "allowed: any other name")
    for name, spec in learners.items():
        messages += _learner_errors(spec, f"{key}.learners.{name}", section["n_agents"],
                                    VARIANT_LEARNERS)
    if section["reference"] not in learners:
        messages.append(f"{key}.reference: {section['reference']!r} is not one of the learners; "
                        f"allowed: {sorted(learners)}")
    elif learners[section["reference"]]["learner"] != "smoothed":
        messages.append(f"{key}.reference: the reference must be a smoothed-gradient variant, "
                        f"got {learners[section['reference']]['learner']!r}")
    ppo = section["ppo"]
    messages += _learner_errors({"learner": "ppo", **ppo}, f"{key}.ppo", ppo["n_agents"],
                                ("ppo",))
    return messages


def label_of(name: str, spec: dict) -> str:
    """A learner's name in the report: its ``label`` (LaTeX), else its key without underscores
    (an underscore is a LaTeX error outside math)."""
    return spec.get("label", name.replace("_", " "))


def learner_labels(section: dict) -> dict[str, str]:
    """Variant → label, in the configuration's order."""
    return {name: label_of(name, spec) for name, spec in section["learners"].items()}


def variant_settings(section: dict, variant: str) -> dict:
    """Everything one variant's training job depends on (a Snakemake ``params`` value)."""
    if variant == "ppo":
        spec = section["ppo"]
        return {"variant": "ppo", "learner": "ppo", "label": spec["label"],
                "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
                "n_agents": list(spec["n_agents"]), "mechanisms": list(spec["mechanisms"]),
                "seeds": seed_values(spec["seeds"]), "w0": section["w0"],
                "records": section["records"]}
    spec = section["learners"][variant]
    return {"variant": variant, "learner": spec["learner"], "label": label_of(variant, spec),
            "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
            "n_agents": list(section["n_agents"]), "mechanisms": list(section["mechanisms"]),
            "seeds": seed_values(section["seeds"]), "w0": section["w0"],
            "records": section["records"]}


# --- training ------------------------------------------------------------------------------------


def final_epsilon(frame: pd.DataFrame, mechanism: str) -> pd.DataFrame:
    """ε-Nash of each run's final linear profile by grid best response
    (:func:`diffauction.metrics.best_response_gap`): one row per run and agent with the ex-ante
    utility loss ℓ̂ and the ex-interim ε̂."""
    last = frame[frame["step"] == frame["step"].max()].sort_values(["run", "agent"])
    runs, agents = last["run"].nunique(), last["agent"].nunique()
    w = torch.tensor(last["w"].to_numpy(), dtype=torch.float64).reshape(runs, agents)
    gap = best_response_gap(make_mechanism(mechanism), make_prior(PRIOR), w)
    out = last[["run", "agent"]].copy()
    out["loss_ex_ante"] = gap["loss_ex_ante"].reshape(-1).numpy()
    out["loss_ex_interim"] = gap["loss_ex_interim"].reshape(-1).numpy()
    return out


def run_variant(settings: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train one variant on every (N, mechanism) of its settings.

    Returns the tidy trajectory (one row per setting, run, recorded step and agent), the final
    profile of every run and agent (w, L2, ε-Nash where the policy is linear) and the wall time
    per setting (not reproducible: keep it apart from the results).
    """
    frames, finals, walls = [], [], []
    for n_agents in settings["n_agents"]:
        for mechanism in settings["mechanisms"]:
            start = time.perf_counter()
            frame = run_learner(
                settings["learner"], n_agents, mechanism, seeds=settings["seeds"],
                budget_samples=settings["budget"], w0=settings["w0"],
                config=settings["settings"], prior=PRIOR, records=settings["records"],
                spacing="log")
            wall = time.perf_counter() - start
            frame.insert(0, "variant", settings["variant"])
            last = frame[frame["step"] == frame["step"].max()]
            final = last[RUN_KEYS + ["agent", "samples", "w", "l2_bid"]].copy()
            if settings["learner"] in LINEAR:
                final = final.merge(final_epsilon(frame, mechanism), on=["run", "agent"])
            else:
                final["loss_ex_ante"] = math.nan
                final["loss_ex_interim"] = math.nan
            frames.append(frame)
            finals.append(final)
            walls.append({"variant": settings["variant"], "learner": settings["learner"],
                          "n_agents": n_agents, "mechanism": mechanism,
                          "runs": len(settings["seeds"]), "budget": settings["budget"],
                          "train_wall_s": frame.attrs["wall_s"], "total_wall_s": wall})
    trajectory = pd.concat(frames, ignore_index=True)
    trajectory["evaluations_per_sample"] = frames[0].attrs["evaluations_per_sample"]
    return trajectory, pd.concat(finals, ignore_index=True), pd.DataFrame(walls)


# --- reach and stay ------------------------------------------------------------------------------


def worst_agent(trajectory: pd.DataFrame, metric: str = "l2_bid") -> pd.DataFrame:
    """Per run and recorded point, the largest distance over the run's agents (column ``l2``)."""
    return (trajectory.groupby(RUN_KEYS + ["step", "samples"], sort=True)[metric].max()
            .rename("l2").reset_index())


def reach_and_stay(samples, l2, tolerance: float) -> float:
    """Samples at the first record from which every later record has ``l2 ≤ tolerance``.

    ``samples`` ascending, ``l2`` aligned with it; NaN if the last record is above tolerance
    (not reached within the budget).
    """
    samples, l2 = np.asarray(samples, dtype=float), np.asarray(l2, dtype=float)
    if samples.size == 0:
        raise ValueError("reach_and_stay: no recorded points")
    if np.any(np.diff(samples) <= 0):
        raise ValueError("reach_and_stay: samples must be strictly increasing")
    above = ~(l2 <= tolerance)  # NaN counts as above
    if above[-1]:
        return math.nan
    if not above.any():
        return float(samples[0])
    return float(samples[np.flatnonzero(above)[-1] + 1])


def reach_table(trajectory: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """One row per run: budget (its last record), samples to reach-and-stay (NaN: not within
    the budget) and the final worst-agent distance."""
    per_point = worst_agent(trajectory)
    rows = []
    for key, run in per_point.groupby(RUN_KEYS, sort=True):
        run = run.sort_values("samples")
        rows.append({**dict(zip(RUN_KEYS, key, strict=True)),
                     "budget": int(run["samples"].iloc[-1]),
                     "samples_to_reach": reach_and_stay(run["samples"], run["l2"], tolerance),
                     "final_l2": float(run["l2"].iloc[-1])})
    return pd.DataFrame(rows)


def _median_with_censoring(x: np.ndarray) -> float:
    """Median with NaN (censored) read as +∞; +∞ comes back as NaN."""
    value = float(np.median(np.where(np.isnan(x), np.inf, x)))
    return value if math.isfinite(value) else math.nan


def summary_table(reach: pd.DataFrame, finals: pd.DataFrame | None = None,
                  evaluations: dict[str, int] | None = None) -> pd.DataFrame:
    """Per (variant, N, mechanism): seeds, seeds reached, median and worst samples to reach
    (NaN: not reached by half / by every seed), budget, worst final distance; with ``finals``
    the median ex-ante utility loss ℓ̂ and the worst ex-interim ε̂ of the final profiles; with
    ``evaluations`` (variant → utility evaluations per sample) the evaluations to reach."""
    rows = []
    for key, group in reach.groupby(KEYS, sort=False):
        x = group["samples_to_reach"].to_numpy(dtype=float)
        worst = math.nan if np.isnan(x).any() else float(x.max())
        rows.append({**dict(zip(KEYS, key, strict=True)), "seeds": len(x),
                     "reached": int((~np.isnan(x)).sum()), "median": _median_with_censoring(x),
                     "worst": worst, "budget": int(group["budget"].max()),
                     "final_l2_worst": float(group["final_l2"].max())})
    out = pd.DataFrame(rows)
    if finals is not None:
        eps = finals.groupby(KEYS, sort=False).agg(
            loss_ex_ante=("loss_ex_ante", "median"),
            loss_ex_interim=("loss_ex_interim", "max")).reset_index()
        out = out.merge(eps, on=KEYS, how="left")
    if evaluations is not None:
        out["evaluations_per_sample"] = out["variant"].map(evaluations)
        out["median_evaluations"] = out["median"] * out["evaluations_per_sample"]
    return out


def ratio_table(summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per setting and baseline: how many times fewer samples the reference needs.

    ``ratio_median`` = median_b / median_ref (``bound_median`` "=" exact, ">" a lower bound
    budget_b / median_ref because b did not reach τ, "none": no ratio, the reference did not
    reach it); the same for the worst seeds, and, when ``summary`` has
    ``evaluations_per_sample``, for the median counted in utility evaluations
    (``ratio_evaluations``, ``bound_evaluations``).
    """
    rows = []
    for key, group in summary.groupby(["n_agents", "mechanism"], sort=False):
        ref = group[group["variant"] == reference]
        if ref.empty:
            raise ValueError(f"reference variant {reference!r} missing for setting {key}")
        ref = ref.iloc[0]
        for _, row in group[group["variant"] != reference].iterrows():
            out = {"n_agents": key[0], "mechanism": key[1], "variant": row["variant"]}
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


def band(per_point: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, N, mechanism, samples): mean, min and max over seeds of the worst-agent
    distance (the figure's line and band)."""
    return (per_point.groupby(KEYS + ["samples"], sort=True)["l2"]
            .agg(mean="mean", low="min", high="max").reset_index())


# --- figure --------------------------------------------------------------------------------------


def figure(band_frame: pd.DataFrame, labels: dict[str, str], tolerance: float, *paths) -> None:
    """L2 to the BNE (log) against sampled valuations per run (log), one line per learner
    variant (mean of the worst-agent distance over seeds, band: min to max over seeds), one
    panel per (N, mechanism)."""
    import matplotlib.pyplot as plt

    from . import plotstyle

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


# --- report --------------------------------------------------------------------------------------

_DIGITS = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"]


def camel(name: str) -> str:
    """A macro-name part from an identifier or integer: smoothed_fixed → SmoothedFixed,
    5 → Five, 12 → OneTwo."""
    if isinstance(name, int | np.integer):
        return "".join(_DIGITS[int(d)] for d in str(int(name)))
    parts = "".join(ch if ch.isalpha() else " " for ch in str(name)).split()
    return "".join(part[:1].upper() + part[1:] for part in parts)


def sci_tex(x: float) -> str:
    """2.1e+05 → $2.1\\times10^{5}$ (text mode)."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"${mantissa}\\times10^{{{int(exponent)}}}$"


def ratio_tex(ratio: float, bound: str) -> str:
    """``--`` where there is no ratio, or only a lower bound below one (which says nothing)."""
    if bound == "none" or math.isnan(ratio) or (bound == ">" and ratio < 1):
        return "--"
    text = f"{ratio:.1f}" if ratio < 10 else f"{ratio:.0f}"
    return f"$>${text}" if bound == ">" else text


def samples_tex(x: float) -> str:
    return "not reached" if math.isnan(x) else sci_tex(x)


def _setting_name(n: int, mechanism: str) -> str:
    return camel(n) + camel(mechanism)


def learners_macros(summary: pd.DataFrame, ratios: pd.DataFrame, section: dict) -> str:
    """Macros of the section "Learners compared" (prefix ``LC``)."""
    from .report import macro

    reference = section["reference"]
    labels = learner_labels(section)
    lines = [
        macro("LCTolerance", f"{section['tolerance']:g}"),
        macro("LCSeeds", len(seed_values(section["seeds"]))),
        macro("LCWzero", f"{section['w0']:g}"),
        macro("LCRecords", section["records"]),
        macro("LCReference", labels[reference]),
        macro("LCSettings", len(summary.groupby(["n_agents", "mechanism"]))),
    ]
    for variant, group in summary.groupby("variant", sort=False):
        name = camel(variant)
        lines.append(macro(f"LCLabel{name}", labels[variant]))
        lines.append(macro(f"LCBudget{name}", sci_tex(float(group["budget"].max()))))
        lines.append(macro(f"LCReached{name}", int(group["reached"].sum())))
        lines.append(macro(f"LCRuns{name}", int(group["seeds"].sum())))
        for _, row in group.iterrows():
            setting = _setting_name(row["n_agents"], row["mechanism"])
            lines.append(macro(f"LCMedian{name}{setting}", samples_tex(row["median"])))
            lines.append(macro(f"LCWorst{name}{setting}", samples_tex(row["worst"])))
    for variant in labels:  # every learner, the reference too ("--"), so any can be cited
        name = camel(variant)
        group = ratios[ratios["variant"] == variant]
        for _, row in group.iterrows():
            setting = _setting_name(row["n_agents"], row["mechanism"])
            lines.append(macro(f"LCRatio{name}{setting}",
                               ratio_tex(row["ratio_median"], row["bound_median"])))
        for column, prefix in (("median", "LCRatio"), ("evaluations", "LCEvalRatio")):
            exact = (group[group[f"bound_{column}"] != "none"]
                     if f"ratio_{column}" in group else group.iloc[:0])
            for label, pick in (("Min", "idxmin"), ("Max", "idxmax")):
                text = "--"
                if not exact.empty:
                    at = getattr(exact[f"ratio_{column}"], pick)()
                    text = ratio_tex(exact.loc[at, f"ratio_{column}"],
                                     exact.loc[at, f"bound_{column}"])
                lines.append(macro(f"{prefix}{label}{name}", text))
        # settings where the reference needs fewer samples than this learner (ratio > 1)
        compared = group[group["bound_median"] != "none"]
        lines.append(macro(f"LCFaster{name}", int((compared["ratio_median"] > 1).sum())))
        lines.append(macro(f"LCCompared{name}", len(compared)))
    return "".join(lines)


def learners_tables(summary: pd.DataFrame, ratios: pd.DataFrame, section: dict) -> str:
    """The section's two tables: accounting per learner, and samples to reach τ per setting."""
    from .report import latex_table

    labels = learner_labels(section)
    reference = section["reference"]
    tol = f"{section['tolerance']:g}"
    per_learner = (summary.groupby("variant", sort=False)
                   .agg(budget=("budget", "max"), evaluations=("evaluations_per_sample", "max"),
                        reached=("reached", "sum"), seeds=("seeds", "sum")).reset_index())
    order = {variant: i for i, variant in enumerate(labels)}  # the configuration's order
    per_learner = per_learner.sort_values("variant", key=lambda v: v.map(order), kind="stable")
    per_learner["label"] = per_learner["variant"].map(labels)
    per_learner["reached_text"] = [f"{r}/{s}" for r, s in
                                   zip(per_learner["reached"], per_learner["seeds"], strict=True)]
    accounting = latex_table(
        per_learner,
        [("label", "learner", str),
         ("budget", "valuations per run", lambda x: sci_tex(float(x))),
         ("evaluations", "utility evaluations per valuation", lambda x: f"{int(x)}"),
         ("reached_text", f"runs holding L2 $\\le {tol}$", str)],
        caption=("Compute accounting. Every learner is charged the valuations it draws (batch "
                 "$\\times$ bidders per step); the second column says how often it evaluates "
                 "the utility on each of them. Runs are counted over all settings and seeds."),
        label="tab:learners-accounting")
    table = summary.merge(ratios, on=KEYS, how="left")
    table["order"] = table["variant"].map(order)
    table = table.sort_values(["n_agents", "mechanism", "order"], kind="stable")
    table["setting"] = [f"$N{{=}}{n}$, {MECHANISM_SHORT[m]}"
                        for n, m in zip(table["n_agents"], table["mechanism"], strict=True)]
    table["label"] = table["variant"].map(labels)
    table["reached_text"] = [f"{r}/{s}" for r, s in
                             zip(table["reached"], table["seeds"], strict=True)]
    table["ratio_text"] = [
        "ref." if v == reference else ratio_tex(r, b)
        for v, r, b in zip(table["variant"], table["ratio_median"], table["bound_median"],
                           strict=True)]
    table["ratio_evaluations_text"] = [
        "ref." if v == reference else ratio_tex(r, b)
        for v, r, b in zip(table["variant"], table["ratio_evaluations"],
                           table["bound_evaluations"], strict=True)]
    reach = latex_table(
        table,
        [("setting", "setting", str), ("label", "learner", str),
         ("reached_text", "runs", str),
         ("median", "median", samples_tex), ("worst", "worst", samples_tex),
         ("ratio_text", "ratio", str), ("ratio_evaluations_text", "eval.\\ ratio", str),
         ("final_l2_worst", "final L2", lambda x: f"{x:.4f}"),
         ("loss_ex_ante", "$\\hat\\ell$", lambda x: "--" if math.isnan(x) else sci_tex(x))],
        caption=(f"Sampled valuations per run until the worst bidder's L2 distance to the BNE "
                 f"(FP/SP: first/second price; runs: runs that reach it, of all) "
                 f"reaches ${tol}$ and stays there to the end of the budget (median and worst "
                 f"over seeds; ``not reached'': not within the learner's budget). Ratio: "
                 f"median samples of the learner over those of the reference "
                 f"({labels[reference]}), ``$>$'' a lower bound (the learner did not reach "
                 f"it within its budget), ``--'' none; eval.\\ ratio: the same in "
                 f"utility evaluations (Table~\\ref{{tab:learners-accounting}}). Final L2: "
                 f"worst run at the "
                 f"end of the budget; $\\hat\\ell$: median ex-ante utility loss of the final "
                 f"linear profile against a grid best response (ANCHORS \\S2)."),
        label="tab:learners-reach")
    return accounting + "\n" + reach


# --- PPO (outside rule all) ----------------------------------------------------------------------


def ppo_summary(trajectory: pd.DataFrame, finals: pd.DataFrame, reference: pd.DataFrame,
                tolerance: float) -> pd.DataFrame:
    """PPO's summary per (N, mechanism), as :func:`summary_table`, with the reference learner's
    median samples in the same setting and the ratio against it (NaN where it has none)."""
    reach = reach_table(trajectory, tolerance)
    summary = summary_table(reach, finals, {"ppo": 1})
    final = reach.groupby(KEYS)["final_l2"].median().rename("final_l2_median").reset_index()
    summary = summary.merge(final, on=KEYS)
    ref = reference[["n_agents", "mechanism", "median"]].rename(
        columns={"median": "reference_median"})
    summary = summary.merge(ref, on=["n_agents", "mechanism"], how="left")
    bounds = [_ratio(m, b, r) for m, b, r in zip(summary["median"], summary["budget"],
                                                  summary["reference_median"], strict=True)]
    summary["ratio_median"] = [r for r, _ in bounds]
    summary["bound_median"] = [b for _, b in bounds]
    return summary


def ppo_macros(summary: pd.DataFrame, tolerance: float) -> str:
    """Macros for the PPO sentence: ``\\LCPPOAvailable`` and the numbers of the first setting
    (the configuration's first N and mechanism)."""
    from .report import macro

    row = summary.iloc[0]
    lines = [
        macro("LCPPOAvailable", 1),
        macro("LCPPOSetting", f"$N={row['n_agents']}$, {MECHANISM_LABELS[row['mechanism']]}"),
        macro("LCPPOSeeds", int(row["seeds"])),
        macro("LCPPOFrames", sci_tex(row["budget"] / row["n_agents"])),
        macro("LCPPOSamples", sci_tex(float(row["budget"]))),
        macro("LCPPOFinalMedian", f"{row['final_l2_median']:.3f}"),
        macro("LCPPOFinalWorst", f"{row['final_l2_worst']:.3f}"),
        macro("LCPPOReached", int(row["reached"])),
        macro("LCPPOMedian", samples_tex(row["median"])),
        macro("LCPPORatio", ratio_tex(row["ratio_median"], row["bound_median"])),
        macro("LCPPOReferenceMedian", samples_tex(row["reference_median"])),
        macro("LCPPOTolerance", f"{tolerance:g}"),
    ]
    return "".join(lines)
