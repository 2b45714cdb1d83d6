"""LaTeX of the section "Learners compared": macros (prefix ``LC``; PPO ``LCPPO``; the neural round
``LN``) and the tables."""

from __future__ import annotations

import math

import pandas as pd

from diffauction.experiments.learners_settings import (
    KEYS,
    MECHANISM_LABELS,
    MECHANISM_SHORT,
    auction_labels,
    learner_labels,
)
from diffauction.experiments.seeds import seed_values
from diffauction.learning.baselines import make_config
from diffauction.report.latex import camel, latex_table, macro, sci


def ratio_tex(ratio: float, bound: str) -> str:
    """``--`` where there is no ratio, or only a lower bound below one (which says nothing)."""
    if bound == "none" or math.isnan(ratio) or (bound == ">" and ratio < 1):
        return "--"
    text = f"{ratio:.1f}" if ratio < 10 else f"{ratio:.0f}"
    return f"$>${text}" if bound == ">" else text


def samples_tex(x: float) -> str:
    return "not reached" if math.isnan(x) else sci(x)


def _setting_name(n: int, mechanism: str) -> str:
    return camel(n) + camel(mechanism)


def learners_macros(summary: pd.DataFrame, ratios: pd.DataFrame, section: dict) -> str:
    """Macros of the section "Learners compared" (prefix ``LC``)."""

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
        lines.append(macro(f"LCBudget{name}", sci(float(group["budget"].max()))))
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
         ("budget", "valuations per run", lambda x: sci(float(x))),
         ("evaluations", "utility evaluations per valuation", lambda x: f"{int(x)}"),
         ("reached_text", f"runs holding $L_2 \\le {tol}$", str)],
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
         ("final_l2_worst", "final $L_2$", lambda x: f"{x:.4f}"),
         ("loss_ex_ante", "$\\hat\\ell$", lambda x: "--" if math.isnan(x) else sci(x))],
        caption=(f"Sampled valuations per run until the worst bidder's $L_2$ distance to the BNE "
                 f"(FP/SP: first/second price; runs: runs that reach it, of all) "
                 f"reaches ${tol}$ and stays there to the end of the budget (median and worst "
                 f"over seeds; ``not reached'': not within the learner's budget). Ratio: "
                 f"median samples of the learner over those of the reference "
                 f"({labels[reference]}), ``$>$'' a lower bound (the learner did not reach "
                 f"it within its budget), ``--'' none; eval.\\ ratio: the same in "
                 f"utility evaluations (Table~\\ref{{tab:learners-accounting}}). Final $L_2$: "
                 f"worst run at the "
                 f"end of the budget; $\\hat\\ell$: median ex-ante utility loss of the final "
                 f"linear profile against a grid best response (Bichler et al.\\ 2021)."),
        label="tab:learners-reach")
    return accounting + "\n" + reach




def ppo_macros(summary: pd.DataFrame, tolerance: float, section: dict) -> str:
    """Macros of the PPO paragraph (prefix ``LCPPO``): the report's run in the first setting
    (the configuration's first N and mechanism), the reference's distance after as many
    valuations, and the budget of the larger target."""
    from diffauction.learning.ppo import PPOConfig  # a plain dataclass: needs no torchrl

    spec = section["ppo"]
    per_batch = int(spec["settings"].get("frames_per_batch", PPOConfig().frames_per_batch))
    row = summary.iloc[0]
    frames = row["budget"] / row["n_agents"]
    lines = [
        macro("LCPPOSetting", f"$N={row['n_agents']}$, {MECHANISM_LABELS[row['mechanism']]}"),
        macro("LCPPOSeeds", int(row["seeds"])),
        macro("LCPPOFrames", sci(frames)),
        macro("LCPPOSamples", sci(float(row["budget"]))),
        macro("LCPPOFramesPerBatch", per_batch),
        macro("LCPPOIterations", int(math.ceil(frames / per_batch))),
        macro("LCPPOInitialMedian", f"{row['initial_l2_median']:.3f}"),
        macro("LCPPOFinalMedian", f"{row['final_l2_median']:.3f}"),
        macro("LCPPOFinalWorst", f"{row['final_l2_worst']:.3f}"),
        macro("LCPPOReached", int(row["reached"])),
        macro("LCPPOMedian", samples_tex(row["median"])),
        macro("LCPPORatio", ratio_tex(row["ratio_median"], row["bound_median"])),
        macro("LCPPOReferenceMedian", samples_tex(row["reference_median"])),
        macro("LCPPOReferenceSamplesAt", sci(float(row["reference_samples_at"]))),
        macro("LCPPOReferenceAt", f"{row['reference_l2_at']:.3f}"),
        macro("LCPPOLargeSamples", sci(float(spec["large_budget"]))),
        macro("LCPPOLargeSeeds", len(seed_values(spec["large_seeds"]))),
        macro("LCPPOTolerance", f"{tolerance:g}"),
    ]
    return "".join(lines)


# --- the neural round ----------------------------------------------------------------------------


def _with_ratios(summary: pd.DataFrame, ratios: pd.DataFrame, reference: str) -> pd.DataFrame:
    table = summary.merge(ratios, on=["variant", "auction"], how="left")
    for column in ("median", "evaluations"):
        table[f"{column}_text"] = [
            "ref." if v == reference else ratio_tex(r, b)
            for v, r, b in zip(table["variant"], table[f"ratio_{column}"],
                               table[f"bound_{column}"], strict=True)]
    return table


def _reference_macros(neural: dict) -> list[str]:
    """The reference's temperature and learning-rate schedule (its settings, else the smoothed
    learner's defaults)."""
    spec = neural["learners"][neural["reference"]]
    cfg = make_config("smoothed", spec.get("settings", {}))
    return [macro("LNBetaStart", f"{cfg.beta:g}"),
            macro("LNBetaEnd", f"{cfg.beta_end or cfg.beta:g}"),
            macro("LNLrStart", sci(cfg.lr)),
            macro("LNLrEnd", sci(cfg.lr_end or cfg.lr))]


def neural_macros(summary: pd.DataFrame, ratios: pd.DataFrame, reach: pd.DataFrame,
                  neural: dict) -> str:
    """Macros of the neural round (prefix ``LN``): settings, per learner its budget, runs
    reached and the range of its runs' final distances, per learner and auction the samples to
    reach, ratio and worst final distance."""
    labels, reference = learner_labels(neural), neural["reference"]
    policy = neural["policy"]
    lines = [
        macro("LNTolerance", f"{neural['tolerance']:g}"),
        macro("LNSeeds", len(seed_values(neural["seeds"]))),
        macro("LNRecords", neural["records"]),
        macro("LNReference", labels[reference]),
        macro("LNHidden", ", ".join(str(h) for h in policy.get("hidden", [10, 10]))),
        macro("LNActivation", policy.get("activation", "selu")),
        *_reference_macros(neural),
    ]
    final = reach.groupby("variant")["final_l2"]
    for variant, low in final.min().items():
        lines += [macro(f"LNFinalMin{camel(variant)}", f"{low:.3f}"),
                  macro(f"LNFinalMax{camel(variant)}", f"{final.max()[variant]:.3f}")]
    for auction, title in auction_labels(neural).items():
        lines.append(macro(f"LNAuction{camel(auction)}", title))
    table = _with_ratios(summary, ratios, reference)
    for variant, group in table.groupby("variant", sort=False):
        name = camel(variant)
        lines += [macro(f"LNLabel{name}", labels[variant]),
                  macro(f"LNBudget{name}", sci(float(group["budget"].max()))),
                  macro(f"LNEvaluations{name}", int(group["evaluations_per_sample"].max())),
                  macro(f"LNReached{name}", int(group["reached"].sum())),
                  macro(f"LNRuns{name}", int(group["seeds"].sum()))]
        for _, row in group.iterrows():
            at = f"{name}{camel(row['auction'])}"
            lines += [macro(f"LNMedian{at}", samples_tex(row["median"])),
                      macro(f"LNWorst{at}", samples_tex(row["worst"])),
                      macro(f"LNFinal{at}", f"{row['final_l2_worst']:.3f}"),
                      macro(f"LNRatio{at}", row["median_text"]),
                      macro(f"LNEvalRatio{at}", row["evaluations_text"])]
    return "".join(lines)


def neural_table(summary: pd.DataFrame, ratios: pd.DataFrame, neural: dict) -> str:
    """The neural round's table: samples to reach τ per auction and learner, ratios against the
    reference, final distance."""
    labels, reference = learner_labels(neural), neural["reference"]
    auctions = auction_labels(neural)
    tol = f"{neural['tolerance']:g}"
    table = _with_ratios(summary, ratios, reference)
    order = {v: i for i, v in enumerate(labels)}
    table["order"] = table["variant"].map(order)
    table["auction_order"] = table["auction"].map({a: i for i, a in enumerate(auctions)})
    table = table.sort_values(["auction_order", "order"], kind="stable")
    table["auction_text"] = table["auction"].map(auctions)
    table["label"] = table["variant"].map(labels)
    table["reached_text"] = [f"{r}/{s}" for r, s in
                             zip(table["reached"], table["seeds"], strict=True)]
    return latex_table(
        table,
        [("auction_text", "auction", str), ("label", "learner", str),
         ("budget", "budget", lambda x: sci(float(x))),
         ("reached_text", "runs", str),
         ("median", "median", samples_tex), ("worst", "worst", samples_tex),
         ("median_text", "ratio", str), ("evaluations_text", "eval.\\ ratio", str),
         ("final_l2_worst", "final $L_2$", lambda x: f"{x:.3f}")],
        caption=(f"Neural round: one network per bidder, first price, two bidders. Sampled "
                 f"valuations per run until the worst bidder's $L_2$ distance to the BNE reaches "
                 f"${tol}$ and stays there to the end of the budget (median and worst over "
                 f"seeds); ratio and eval.\\ ratio against {labels[reference]} as in "
                 f"Table~\\ref{{tab:learners-reach}}; final $L_2$: worst run at the end of the "
                 f"budget."),
        label="tab:learners-neural")
