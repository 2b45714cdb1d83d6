r"""Numbers and the table of the report section "Non-linear and asymmetric strategies".

Macro names start with ``NL`` (``\NLAsymLTwoWeakMax`` …); every number comes from the tables of
:mod:`diffauction.experiments.nonlinear` (``summary.csv``, ``revenue.csv``) or the experiments'
resolved settings, nothing is typed.
"""

from __future__ import annotations

import math

import pandas as pd

from diffauction.equilibria.closed_form import plum_max_bid
from diffauction.report.latex import MISSING, fmt, fmt_sci, latex_table, macro, number_name, sci

EXPERIMENT_KEYS = {"nl_asymmetric": "Asym", "nl_crra": "CRRA", "nl_beta": "Beta",
                   "nl_allpay": "AllPay"}
PLUM_FORMULA = {0: r"$v/(1+\sqrt{1-cv^2})$", 1: r"$v/(1+\sqrt{1+cv^2})$"}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _num(x: float, digits: int = 4) -> str:
    return fmt(x, digits) if isinstance(x, int | float) and math.isfinite(x) else MISSING


def _policy(label: str) -> str:
    """``mlp[10] tanh, shared`` → ``MLP 10 (shared)``."""
    if not label.startswith("mlp["):
        return label
    hidden, rest = label[4:].split("]", 1)
    return "MLP " + hidden.replace("x", r"$\times$") + (" (shared)" if "shared" in rest else "")


SETTING_LABELS = {"nl_crra": "CRRA", "nl_allpay": "all-pay"}


def _setting_label(row) -> str:
    """``weak U[0, 0.5]``, ``Beta(2, 5)``, ``CRRA``, ``all-pay``."""
    if row["agent"] >= 0:
        names = {0: "weak", 1: "strong"}
        return f"{names.get(int(row['agent']), row['agent'])} {row['prior']}"
    if row["experiment"] in SETTING_LABELS:
        return SETTING_LABELS[row["experiment"]]
    return row["prior"]


def _formula(row) -> str:
    if row["bne"] == "plum":
        return PLUM_FORMULA.get(int(row["agent"]), row["formula"])
    return row["formula"] if isinstance(row["formula"], str) and row["formula"] else "unknown"


def nonlinear_table(summary: pd.DataFrame, tolerance: float) -> str:
    """The settings table: closed form, L2 (mean, worst), utility loss, ε."""
    frame = summary.copy()
    frame["label"] = frame.apply(_setting_label, axis=1)
    frame["closed"] = frame.apply(_formula, axis=1)
    frame["policy_label"] = frame["policy"].map(_policy)
    frame["rho"] = frame["risk_aversion"]
    columns = [
        ("label", "setting", str),
        ("n_agents", "$N$", lambda x: f"{int(x)}"),
        ("rho", r"$\rho$", lambda x: f"{x:g}"),
        ("policy_label", "policy", str),
        ("closed", "BNE $b^*(v)$", str),
        ("l2_mean", "$L_2$ mean", lambda x: _num(x)),
        ("l2_max", "$L_2$ worst", lambda x: _num(x)),
        ("utility_loss_mean", r"$\mathcal{L}$ mean", sci),
        ("eps_ex_ante_mean", r"$\hat\ell$ mean", sci),
        ("eps_ex_interim_max", r"$\hat\varepsilon$ worst", sci),
    ]
    caption = (
        "Settings with a known BNE and what gradient ascent on the smoothed auction reaches: "
        "Plum's weak and strong bidders (first price, one network each), CRRA bidders (first "
        "price, $U[0,1]$), Beta values (first price, one network shared by the bidders) and "
        "all-pay ($U[0,1]$). Tail-averaged bid functions, mean and worst over the seeds and, in "
        r"symmetric settings, over the identical agents: $L_2$ distance to the BNE, relative "
        r"utility loss $\mathcal{L}$ against BNE opponents, ex-ante $\hat\ell$ and worst "
        r"ex-interim $\hat\varepsilon$ grid best-response gaps against the learned opponents. "
        rf"Target: $L_2 \le {tolerance:g}$ for every agent. For Plum, $c = 1/a^2 - 1/b^2$.")
    table = latex_table(frame, columns, caption=caption, label="tab:nonlinear")
    # group rows by experiment, not by the first column's text
    return table.replace(r"\begin{tabular}{rrrrrrrrrr}", r"\begin{tabular}{lrrllrrrrr}")


def nonlinear_macros(summary: pd.DataFrame, revenue: pd.DataFrame, settings: dict[str, dict],
                     tolerance: float) -> str:
    """Macros of the section; ``settings`` maps each experiment to its resolved settings."""
    lines = []
    for name, key in EXPERIMENT_KEYS.items():
        exp = settings.get(name)
        if exp is None:
            continue
        beta, lr = exp["beta"], exp["optimizer"]["lr"]
        lines += [
            macro(f"NL{key}Steps", exp["steps"]),
            macro(f"NL{key}Batch", exp["batch_size"]),
            macro(f"NL{key}BetaStart", f"{beta['start']:g}" if isinstance(beta, dict) else beta),
            macro(f"NL{key}BetaEnd", f"{beta['end']:g}" if isinstance(beta, dict) else beta),
            macro(f"NL{key}LrStart", f"{lr['start']:g}" if isinstance(lr, dict) else lr),
            macro(f"NL{key}LrEnd", f"{lr['end']:g}" if isinstance(lr, dict) else lr),
            macro(f"NL{key}Hidden", ", ".join(str(h) for h in exp["policy"].get("hidden", []))
                  or MISSING),
            macro(f"NL{key}WZero", f"{exp['policy']['w0']:g}"),
            macro(f"NL{key}Ns", ", ".join(str(n) for n in _as_list(exp["n_agents"]))),
            macro(f"NL{key}Seeds", summary.loc[summary["experiment"] == name, "runs"].min()
                  if (summary["experiment"] == name).any() else MISSING),
        ]
        if name == "nl_crra":
            lines.append(macro("NLCRRARhos", ", ".join(
                f"{r:g}" for r in _as_list(exp.get("risk_aversion", 1.0)))))
        if name == "nl_beta":
            lines += [macro("NLBetaA", f"{exp['prior'].get('a', math.nan):g}"),
                      macro("NLBetaB", f"{exp['prior'].get('b', math.nan):g}")]
        rows = summary[summary["experiment"] == name]
        lines += [macro(f"NL{key}LTwoMax", _num(rows["l2_max"].max())),
                  macro(f"NL{key}LTwoMean", _num(rows["l2_mean"].mean())),
                  macro(f"NL{key}EpsMax", sci(rows["eps_ex_interim_max"].max())),
                  macro(f"NL{key}LossMax", sci(rows["utility_loss_mean"].max()))]
        lines.append(macro(f"NL{key}BestLinearMin", _num(rows["l2_best_linear"].min())))
        for n, group in rows.groupby("n_agents"):
            lines.append(macro(f"NL{key}LTwoMax{number_name(n)}", _num(group["l2_max"].max())))
    asym = summary[summary["experiment"] == "nl_asymmetric"]
    for agent, label in ((0, "Weak"), (1, "Strong")):
        row = asym[asym["agent"] == agent]
        if len(row):
            lines += [macro(f"NLAsymLTwo{label}Mean", _num(row["l2_mean"].iloc[0])),
                      macro(f"NLAsymLTwo{label}Max", _num(row["l2_max"].iloc[0])),
                      macro(f"NLAsymLInf{label}Max", _num(row["linf_max"].iloc[0], 3))]
    learned = revenue[revenue["auction"] == "first price, learned"].iloc[0]
    by_name = revenue.set_index("auction")["revenue"]
    lines += [
        macro("NLRevenueLearned", _num(learned["revenue"])),
        macro("NLRevenueLearnedMin", _num(learned["revenue_min"])),
        macro("NLRevenueLearnedMax", _num(learned["revenue_max"])),
        macro("NLRevenueBNE", _num(by_name["first price, BNE"])),
        macro("NLRevenueSecond", _num(by_name["second price, truthful"])),
        macro("NLUtilityWeakBNE", _num(learned["utility_bne_0"])),
        macro("NLUtilityStrongBNE", _num(learned["utility_bne_1"])),
        macro("NLUtilityWeakLearned", _num(learned["utility_learned_0"])),
        macro("NLUtilityStrongLearned", _num(learned["utility_learned_1"])),
        macro("NLUtilityGapMax", _num(max(
            abs(learned["utility_learned_0"] - learned["utility_bne_0"]),
            abs(learned["utility_learned_1"] - learned["utility_bne_1"])))),
        macro("NLRevenueVerdict",
              "on every seed above" if learned["revenue_min"] > by_name["second price, truthful"]
              else "not on every seed above"),
    ]
    asym_settings = settings.get("nl_asymmetric")
    if asym_settings is not None:
        highs = sorted(p.get("high", 1.0) for p in asym_settings["agent_priors"])
        lines += [macro("NLWeakHigh", f"{highs[0]:g}"), macro("NLStrongHigh", f"{highs[1]:g}"),
                  macro("NLPlumTopBid", _num(plum_max_bid(highs[0], highs[1])))]
    any_settings = next(iter(settings.values()), None)
    if any_settings is not None:
        lines += [macro("NLTail", f"{100 * any_settings['tail_fraction']:g}"),
                  macro("NLBRValues", any_settings["analysis"]["br_values"]),
                  macro("NLBRBids", any_settings["analysis"]["br_bids"])]
    known = summary[summary["bne"] != "unknown"]
    lines += [
        macro("NLSeeds", int(summary["runs"].min())),
        macro("NLTolerance", f"{tolerance:g}"),
        macro("NLRows", len(summary)),
        macro("NLRowsWithin", int((known["l2_max"] <= tolerance).sum())),
        macro("NLLTwoWorst", _num(known["l2_max"].max())),
        macro("NLLTwoWorstSetting", known.loc[known["l2_max"].idxmax(), "setting"]),
        macro("NLLTwoMeanWorst", _num(known["l2_mean"].max())),
        macro("NLEpsWorst", sci(summary["eps_ex_interim_max"].max())),
        macro("NLLossWorst", sci(known["utility_loss_mean"].max())),
        macro("NLSamplesMin", fmt_sci(summary["samples_per_run"].min())),
        macro("NLSamplesMax", fmt_sci(summary["samples_per_run"].max())),
    ]
    return "% generated by diffauction.report.nonlinear.nonlinear_macros — do not edit\n" + \
        "".join(lines)
