r"""Numbers and tables of the report section "Mechanism comparison", from the tables
:mod:`diffauction.experiments.mechanisms` writes. Macro names start with ``Mech``; every
compared mechanism has its own block (``\MechFirstPriceSteps`` …), and a mechanism left out of
the configuration gets ``--`` so the section still compiles.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from diffauction.equilibria.llg import ANCHOR_UTILITIES, NEAREST_VCG_SHIFT
from diffauction.experiments.mechanisms import LABELS, TRUTHFUL
from diffauction.experiments.mechanisms_analysis import linear_reference_facts
from diffauction.experiments.seeds import seed_values
from diffauction.report.latex import MISSING, fmt, fmt_sci, latex_table, macro

MACRO_NAMES = {
    "first_price": "FirstPrice", "second_price": "SecondPrice", "all_pay": "AllPay",
    "pay_as_bid": "PayAsBid", "uniform_price": "UniformPrice", "llg_vcg": "LlgVcg",
    "llg_nearest_vcg": "LlgNearestVcg",
}


def _steps(x: float) -> str:
    return f"{int(x)}" if math.isfinite(x) else MISSING


def _list(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def hypothesis(summary: pd.DataFrame, tolerance: float, beta: float) -> dict[str, object]:
    """The week-4 note's hypothesis at one temperature: do the truthful mechanisms (second price,
    uniform price, LLG VCG) reach the tolerance fastest, and first price slowest? Compared by
    median convergence step among the mechanisms that have a target (censored runs count as
    never); ties count for the hypothesis."""
    s = summary[(summary["tolerance"] == tolerance) & (summary["beta"] == beta)
                & (summary["target"] != "none")].set_index("mechanism")["median_step"]
    truthful = s[[m for m in s.index if m in TRUTHFUL]]
    others = s[[m for m in s.index if m not in TRUTHFUL]]
    out: dict[str, object] = {}
    out["truthful_fastest"] = (bool(truthful.max() <= others.min())
                               if len(truthful) and len(others) else None)
    slowest = s[s == s.max()].index.tolist()
    fastest = s[s == s.min()].index.tolist()
    out["slowest"], out["fastest"] = slowest, fastest
    out["first_slowest"] = "first_price" in slowest if "first_price" in s.index else None
    out["slowest_step"], out["fastest_step"] = float(s.max()), float(s.min())
    return out


def _verdict(flag) -> str:
    return MISSING if flag is None else ("holds" if flag else "fails")


def _names(mechanisms: list[str]) -> str:
    return " and ".join(LABELS[m] for m in mechanisms)


def paired_faster(per_run: pd.DataFrame, fast: str, slow: str, beta: float,
                  tolerance: float) -> str:
    """'x/S': seeds at β whose run of ``fast`` converged strictly before ``slow``'s run with the
    same seed (a censored run counts as never)."""
    sel = per_run[(per_run["beta"] == beta) & (per_run["tolerance"] == tolerance)]
    a = sel[sel["mechanism"] == fast].set_index("seed")["converged_step"].fillna(np.inf)
    b = sel[sel["mechanism"] == slow].set_index("seed")["converged_step"].fillna(np.inf)
    common = a.index.intersection(b.index)
    if not len(common):
        return MISSING
    return f"{int((a[common] < b[common]).sum())}/{len(common)}"


def mechanism_macros(section: dict, summary: pd.DataFrame, per_run: pd.DataFrame,
                     outcomes: pd.DataFrame, noise: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Every number the section quotes."""
    tol = section["tolerance"][0]
    beta_main = float(section["beta_main"])
    betas = [float(b) for b in section["beta"]]
    seeds = seed_values(section["seeds"])
    lines = [
        macro("MechN", section["n_agents"]),
        macro("MechUnits", section["units"]),
        macro("MechSteps", section["steps"]),
        macro("MechBatch", section["batch_size"]),
        macro("MechSeeds", len(seeds)),
        macro("MechBetaList", _list(section["beta"])),
        macro("MechBetaMain", f"{beta_main:g}"),
        macro("MechBetaCount", len(betas)),
        macro("MechLrStart", f"{section['lr_start']:g}"),
        macro("MechLrEnd", f"{section['lr_end']:g}"),
        macro("MechLrSchedule", section["lr_schedule"].replace("_", " ")),
        macro("MechWzeroLow", f"{section['w0']['low']:g}"),
        macro("MechWzeroHigh", f"{section['w0']['high']:g}"),
        macro("MechTol", f"{tol:g}"),
        macro("MechTolTwo", f"{section['tolerance'][1]:g}" if len(section["tolerance"]) > 1
              else MISSING),
        macro("MechRecordEvery", section["record_every"]),
        macro("MechTail", f"{100 * section['tail_fraction']:g}"),
        macro("MechGridPoints", section["grid_points"]),
        macro("MechOutcomePoints", section["outcome_points"]),
        macro("MechDiagSamples", section["diagnostic_samples"]),
        macro("MechNvcgShift", fmt(NEAREST_VCG_SHIFT, 4)),
        macro("MechAnchorLocal", f"{ANCHOR_UTILITIES['llg_nearest_vcg'][0]:.4f}"),
        macro("MechAnchorGlobal", f"{ANCHOR_UTILITIES['llg_nearest_vcg'][1]:.4f}"),
    ]
    main = summary[(summary["tolerance"] == tol) & (summary["beta"] == beta_main)]
    main = main.set_index("mechanism")
    noise_main = noise[noise["beta"] == beta_main].set_index("mechanism")
    for mechanism, name in MACRO_NAMES.items():
        present = mechanism in main.index
        row = main.loc[mechanism] if present else None
        lines += [
            macro(f"Mech{name}Steps", _steps(row["median_step"]) if present else MISSING),
            macro(f"Mech{name}Reached",
                  f"{int(row['reached'])}/{int(row['runs'])}" if present else MISSING),
            macro(f"Mech{name}LTwo", fmt(row["l2_target_tail_median"], 4)
                  if present and math.isfinite(row["l2_target_tail_median"]) else MISSING),
            macro(f"Mech{name}LTwoBNE", fmt(row["l2_bne_tail_median"], 4)
                  if present else MISSING),
        ]
        has_noise = mechanism in noise_main.index
        nrow = noise_main.loc[mechanism] if has_noise else None
        lines += [
            macro(f"Mech{name}Curv", fmt(nrow["curvature"], 3) if has_noise else MISSING),
            macro(f"Mech{name}Noise", fmt(nrow["noise_sd"], 3) if has_noise else MISSING),
            macro(f"Mech{name}Ratio", fmt(nrow["noise_to_curvature"], 3)
                  if has_noise else MISSING),
            macro(f"Mech{name}Bias", fmt(nrow["smoothing_bias"], 4)
                  if has_noise else MISSING),
        ]
        for which, beta in (("Low", min(betas)), ("High", max(betas))):
            g = noise[(noise["mechanism"] == mechanism) & (noise["beta"] == beta)]
            lines.append(macro(f"Mech{name}Ratio{which}",
                               fmt(g["noise_to_curvature"].iloc[0], 3) if len(g) else MISSING))
        mine = summary[(summary["mechanism"] == mechanism) & (summary["tolerance"] == tol)]
        never = mine[mine["reached"] == 0]["beta"].tolist()
        lines.append(macro(f"Mech{name}NeverBetas", _list(never) if never else "none"))
        finite = mine["median_step"][np.isfinite(mine["median_step"])]
        lines.append(macro(f"Mech{name}StepsRange",
                           f"{int(finite.min())}--{int(finite.max())}" if len(finite)
                           else MISSING))

    verdict = hypothesis(summary, tol, beta_main)
    holds_at = [b for b in betas if hypothesis(summary, tol, b)["truthful_fastest"]]
    first_slowest_at = [b for b in betas if hypothesis(summary, tol, b)["first_slowest"]]
    lines += [
        macro("MechVerdictTruthful", _verdict(verdict["truthful_fastest"])),
        macro("MechVerdictFirstSlowest", _verdict(verdict["first_slowest"])),
        macro("MechTruthfulFastestCount", len(holds_at)),
        macro("MechTruthfulFastestBetas", _list(holds_at) if holds_at else "none"),
        macro("MechFirstSlowestCount", len(first_slowest_at)),
        macro("MechSlowest", _names(verdict["slowest"])),
        macro("MechSlowestSteps", _steps(verdict["slowest_step"])),
        macro("MechFastest", _names(verdict["fastest"])),
        macro("MechFastestSteps", _steps(verdict["fastest_step"])),
        macro("MechPairedSecondFirst",
              paired_faster(per_run, "second_price", "first_price", beta_main, tol)),
        macro("MechPairedUniformPayAsBid",
              paired_faster(per_run, "uniform_price", "pay_as_bid", beta_main, tol)),
        macro("MechPairedVcgNearest",
              paired_faster(per_run, "llg_vcg", "llg_nearest_vcg", beta_main, tol)),
    ]

    facts = linear_reference_facts(section)
    lines += [
        macro("MechPabRestrictedSlope", fmt(facts.get("pab_restricted_slope", math.nan), 4)),
        macro("MechPabRestrictedLTwoBNE", fmt(facts.get("pab_restricted_l2_bne", math.nan), 4)),
        macro("MechPabFitSlope", fmt(facts.get("pab_fit_slope", math.nan), 4)),
        macro("MechPabFitLTwo", fmt(facts.get("pab_fit_l2_bne", math.nan), 4)),
        macro("MechPabBneTop", fmt(facts.get("pab_bne_top", math.nan), 4)),
        macro("MechPabRestrictedRevenue", fmt(facts.get("pab_restricted_revenue", math.nan), 4)),
        macro("MechAllPayFitLTwo", fmt(facts["allpay_fit_l2_bne"], 4)),
    ]
    at_main = runs[runs["beta"] == beta_main]
    for mechanism, name in (("llg_nearest_vcg", "LlgNearestVcg"), ("llg_vcg", "LlgVcg")):
        g = at_main[at_main["mechanism"] == mechanism]
        lines += [
            macro(f"Mech{name}SlopeMean", fmt(g["w_tail"].mean(), 4) if len(g) else MISSING),
            macro(f"Mech{name}InterceptMean", fmt(g["a_tail"].mean(), 4)
                  if len(g) else MISSING),
        ]
    lines += neural_macros(section, summary)
    out = outcomes.set_index("mechanism")
    for mechanism, name in MACRO_NAMES.items():
        present = mechanism in out.index
        for key, label in (("revenue", "Revenue"), ("welfare", "Welfare"),
                           ("utility", "Utility")):
            lines += [
                macro(f"Mech{name}{label}BNE", fmt(out.loc[mechanism, f"{key}_bne"], 4)
                      if present else MISSING),
                macro(f"Mech{name}{label}", fmt(out.loc[mechanism, f"{key}_mean"], 4)
                      if present else MISSING),
            ]
    return "% generated by diffauction.report.mechanisms.mechanism_macros — do not edit\n" + \
        "".join(lines)


def neural_macros(section: dict, summary: pd.DataFrame) -> list[str]:
    """The network mechanisms' recipe, every mechanism's worst seed at β_main (L2 of the learned
    profile to the BNE) and the worst of them all."""
    neural, tol = section["neural"], section["tolerance"][0]
    policy = neural["policy"]
    compared = [m for m in neural["mechanisms"] if m in section["mechanisms"]]
    lines = [
        macro("MechNeuralNames", _names(compared) if compared else "none"),
        macro("MechNeuralHidden", ", ".join(str(h) for h in policy.get("hidden", [10, 10]))),
        macro("MechNeuralActivation", policy.get("activation", "selu")),
        macro("MechNeuralLrStart", f"{neural['lr_start']:g}"),
        macro("MechNeuralLrEnd", f"{neural['lr_end']:g}"),
        macro("MechNeuralPairings", neural["pairings"]),
        macro("MechNeuralEma", f"{neural['ema_decay']:g}"),
        macro("MechNeuralWzeroMax", f"{neural['w0_max']:g}"),
        macro("MechNeuralSampler", neural["sampler"]),
    ]
    main = summary[(summary["tolerance"] == tol) & (summary["beta"] == float(section["beta_main"]))]
    main = main.set_index("mechanism")["l2_bne_tail_max"]
    for mechanism, name in MACRO_NAMES.items():
        lines.append(macro(f"Mech{name}LTwoBNEMax", fmt(main[mechanism], 4)
                           if mechanism in main.index else MISSING))
    worst = main.idxmax() if len(main) else None
    within = int((main <= tol).sum())
    lines += [
        macro("MechWorstLTwoBNE", fmt(main.max(), 4) if worst else MISSING),
        macro("MechWorstLTwoBNEName", LABELS[worst] if worst else MISSING),
        macro("MechWithinTolCount", f"{within} of {len(main)}"),
    ]
    return lines


def _label(m: str) -> str:
    return LABELS[m]


def _steps_iqr(row) -> str:
    if not math.isfinite(row["median_step"]):
        return MISSING
    q75 = f"{int(row['q75_step'])}" if math.isfinite(row["q75_step"]) else r"$\infty$"
    return f"{int(row['median_step'])} [{int(row['q25_step'])}, {q75}]"


def _policy_note(section: dict, summary: pd.DataFrame) -> str:
    """Which policy class each mechanism trains and what its target is, for the caption."""
    neural = [m for m in section["neural"]["mechanisms"] if m in set(summary["mechanism"])]
    text = ("linear bids, the LLG locals affine ones, the learned profile their tail average"
            if not neural else
            f"{_names(neural)} train the network, the learned profile its parameters' EMA; the "
            "others linear bids (the LLG locals affine ones), tail-averaged")
    targets = summary.groupby("mechanism")["target"].first()
    other = {m: t for m, t in targets.items() if t != "BNE"}
    if other:
        text += "; the target is the BNE except for " + ", ".join(
            f"{LABELS[m]} ({t})" for m, t in other.items())
    else:
        text += "; the target is the BNE for every mechanism"
    return text


def _compact(table: str) -> str:
    """A wide table in a smaller font with tighter columns (fits the text width)."""
    return table.replace("\\footnotesize", "\\scriptsize").replace(
        "\\setlength{\\tabcolsep}{4pt}", "\\setlength{\\tabcolsep}{3pt}")


def mechanism_tables(section: dict, summary: pd.DataFrame, outcomes: pd.DataFrame,
                     noise: pd.DataFrame) -> dict[str, str]:
    """The section's generated tables, keyed ``convergence``, ``outcomes``, ``noise``."""
    tolerances = section["tolerance"]
    main = summary[summary["tolerance"] == tolerances[0]].copy()
    main["label"] = main["mechanism"].map(_label)
    main["steps_main"] = main.apply(_steps_iqr, axis=1)
    main["reached_main"] = main.apply(lambda r: f"{int(r['reached'])}/{int(r['runs'])}", axis=1)
    main["samples_main"] = main["median_samples"]
    columns = [("label", "mechanism", str), ("beta", r"$\beta$", lambda x: f"{x:g}"),
               ("reached_main", f"runs $\\le{tolerances[0]:g}$", str),
               ("steps_main", "median [IQR] steps", str),
               ("samples_main", "valuations", lambda x: f"${fmt_sci(x)}$"
                if math.isfinite(x) else MISSING)]
    if len(tolerances) > 1:
        second = summary[summary["tolerance"] == tolerances[1]].set_index(
            ["mechanism", "beta"])
        key = list(zip(main["mechanism"], main["beta"], strict=True))
        main["reached_two"] = [f"{int(second.loc[k, 'reached'])}/{int(second.loc[k, 'runs'])}"
                               for k in key]
        main["steps_two"] = [_steps(second.loc[k, "median_step"]) for k in key]
        columns += [("reached_two", f"runs $\\le{tolerances[1]:g}$", str),
                    ("steps_two", "median steps", str)]
    differs = bool((main["target"] != "BNE").any())
    if differs:
        columns.append(("l2_target_tail_median", r"$L_2$ target",
                        lambda x: f"{x:.4f}" if math.isfinite(x) else MISSING))
    columns += [("l2_bne_tail_median", r"$L_2$ BNE", lambda x: f"{x:.4f}"),
                ("l2_bne_tail_max", "worst", lambda x: f"{x:.4f}")]
    convergence = latex_table(
        main, columns,
        caption=(f"Convergence of the same learner across mechanisms ($N={section['n_agents']}$, "
                 f"$k={section['units']}$ units): runs (of the seeds) whose worst agent's $L_2$ "
                 "to the target stays within the tolerance to the end of the budget, the median "
                 "and interquartile range of the step from which it does (censored runs count "
                 "as never; -- when fewer than half converged), the valuations drawn by then, "
                 "and the $L_2$ of the learned profile to the BNE (median and worst run; "
                 + ("the median to the target too; " if differs else "")
                 + _policy_note(section, main) + ")."),
        label="tab:mechconv")

    out = outcomes.copy()
    out["label"] = out["mechanism"].map(_label)
    for key in ("revenue", "welfare", "utility"):
        out[f"{key}_learned"] = [f"${m:.4f} \\pm {s:.4f}$" for m, s in
                                 zip(out[f"{key}_mean"], out[f"{key}_sd"], strict=True)]
    outcome_table = latex_table(
        out,
        [("label", "mechanism", str),
         ("revenue_bne", "revenue BNE", lambda x: f"{x:.4f}"),
         ("revenue_learned", "learned", str),
         ("welfare_bne", "welfare BNE", lambda x: f"{x:.4f}"),
         ("welfare_learned", "learned", str),
         ("utility_bne", "utility BNE", lambda x: f"{x:.4f}"),
         ("utility_learned", "learned", str)],
        caption=("Expected revenue, welfare and utility of a learning bidder in the hard "
                 "auction: the learned profiles at "
                 f"$\\beta={section['beta_main']:g}$ "
                 "(mean $\\pm$ sd over seeds, quasi-Monte-Carlo) against the BNE (closed forms; "
                 "LLG numerically). For LLG the utility is the locals' and the global bidder is "
                 "truthful."),
        label="tab:mechoutcome")

    betas = sorted(noise["beta"].unique())
    wide = noise.pivot(index="mechanism", columns="beta", values="noise_to_curvature")
    main_noise = noise[noise["beta"] == float(section["beta_main"])].set_index("mechanism")
    low_noise = noise[noise["beta"] == betas[0]].set_index("mechanism")
    rows = []
    for m in [m for m in LABELS if m in wide.index]:
        row = {"label": _label(m), "curvature": main_noise.loc[m, "curvature"],
               "noise": main_noise.loc[m, "noise_sd"],
               "bias": low_noise.loc[m, "smoothing_bias"]}
        row.update({f"b{b:g}": wide.loc[m, b] for b in betas})
        rows.append(row)
    frame = pd.DataFrame(rows)
    beta_main = f"{section['beta_main']:g}"
    noise_table = latex_table(
        frame,
        [("label", "mechanism", str),
         ("curvature", "$\\kappa$", lambda x: f"{x:.3f}"),
         ("noise", "$\\sigma_g$", lambda x: f"{x:.3f}"),
         ("bias", "$\\bar g/\\kappa$", lambda x: f"${x:+.4f}$")]
        + [(f"b{b:g}", f"{b:g}", lambda x: f"{x:.3f}") for b in betas],
        caption=("The smoothed gradient at the target: curvature $\\kappa$ of the expected "
                 "gradient in the own slope and per-sample noise $\\sigma_g$ at "
                 f"$\\beta={beta_main}$, the first-order smoothing bias of the fixed point "
                 f"$\\bar g/\\kappa$ at $\\beta={betas[0]:g}$ (positive: above the target), and "
                 "in the last columns the noise-to-curvature ratio $\\sigma_g/\\kappa$ at "
                 f"$\\beta = {_list(betas)}$ (scrambled Sobol draws, common to all "
                 "evaluations)."),
        label="tab:mechnoise")
    return {"convergence": _compact(convergence), "outcomes": _compact(outcome_table),
            "noise": _compact(noise_table)}
