"""Macros and tables of the section "The smoothing bias, in every mechanism" (prefix ``SM``)."""

from __future__ import annotations

import math

import pandas as pd

from diffauction.equilibria.smoothed_window import WINDOW
from diffauction.report.latex import (
    MISSING,
    camel,
    fmt,
    fmt_sci,
    latex_table,
    macro,
    number_name,
    sci,
)

LABELS = {"first_price": "first price", "second_price": "second price",
          "third_price": "third price", "all_pay": "all-pay", "pay_as_bid": "pay as bid",
          "uniform_price": "uniform price", "llg_vcg": "LLG VCG",
          "llg_nearest_vcg": "LLG nearest-VCG"}
#: the temperatures of the fixed-point table's columns (those of the grid that exist)
TABLE_BETAS = (10.0, 20.0, 50.0, 100.0, 200.0, 1000.0)
#: (format, N, k, β) whose fixed point the text quotes
QUOTED = [("second_price", n, 1, b) for n in (2, 3) for b in (20.0, 50.0, 100.0)] + [
    ("first_price", 2, 1, 50.0), ("pay_as_bid", 3, 2, 200.0), ("uniform_price", 3, 2, 200.0),
    ("all_pay", 2, 1, 100.0), ("all_pay", 3, 1, 100.0), ("third_price", 5, 1, 100.0),
    ("second_price", 10, 1, 100.0)]


def _key(mechanism: str, n: int, k: int) -> str:
    return f"{camel(mechanism)}{number_name(n)}" + (f"K{number_name(k)}" if k > 1 else "")


def _num(x: float, digits: int = 6) -> str:
    return fmt(x, digits) if math.isfinite(x) else MISSING


def fixed_point_macros(table: pd.DataFrame, scaling: pd.DataFrame) -> list[str]:
    """The quoted fixed points, every derived and fitted constant, and the grid's extent."""
    lines = []
    index = table.set_index(["mechanism", "n_agents", "units", "beta"])
    for mechanism, n, k, beta in QUOTED:
        if (mechanism, n, k, beta) in index.index:
            w = float(index.loc[(mechanism, n, k, beta), "w_smoothed"])
            lines.append(macro(f"SMW{_key(mechanism, n, k)}Beta{number_name(beta)}",
                               _num(w)))
    for _, row in scaling.iterrows():
        key = _key(row["mechanism"], int(row["n_agents"]), int(row["units"]))
        lines += [macro(f"SMOrder{key}", int(row["order"])),
                  macro(f"SMC{key}", _num(row["constant"], 3)),
                  macro(f"SMCFit{key}", _num(row["constant_fitted"], 3))]
    fitted = scaling[scaling["order"] > 0]
    rel = ((fitted["constant_fitted"] - fitted["constant"]).abs() / fitted["constant"].abs())
    exact = scaling[scaling["order"] == 0]
    lines += [
        macro("SMSettings", len(scaling)), macro("SMFixedPoints", int(table["w_smoothed"].notna()
                                                                       .sum())),
        macro("SMBetaMin", f"{table['beta'].min():g}"),
        macro("SMBetaMax", f"{table['beta'].max():g}"),
        macro("SMNList", ", ".join(str(n) for n in sorted(table["n_agents"].unique()))),
        macro("SMUnitsList", ", ".join(str(k) for k in sorted(table["units"].unique()) if k > 1)),
        macro("SMFitMaxRelErr", fmt(100 * rel.max(), 1)),
        macro("SMFitMedianRelErr", fmt(100 * rel.median(), 2)),
        macro("SMExactMaxBias", f"{exact['max_abs_bias'].max():.0e}".replace("e-", r"\times10^{-")
              + "}" if len(exact) else MISSING),
        macro("SMNoneCount", int(table["w_smoothed"].isna().sum())),
    ]
    return lines


def fixed_point_latex(table: pd.DataFrame) -> str:
    """w̃(β) at the table's temperatures beside w_∞, one row per (format, N, k); a fixed point
    that is no equilibrium is marked † (a stationary point only), none: --."""
    betas = [b for b in TABLE_BETAS if b in set(table["beta"])]
    rows = []
    for (mechanism, n, k), group in table.groupby(["mechanism", "n_agents", "units"], sort=False):
        by_beta = group.set_index("beta")
        row = {"mechanism": LABELS[mechanism], "n": int(n), "k": int(k),
               "w_limit": float(group["w_limit"].iloc[0])}
        for beta in betas:
            w, status = by_beta.loc[beta, "w_smoothed"], by_beta.loc[beta, "status"]
            mark = "" if str(status).startswith("equilibrium") or not math.isfinite(w) \
                else r"$^\dagger$"
            row[f"b{beta:g}"] = (f"{w:.5f}" if math.isfinite(w) else MISSING) + mark
        rows.append(row)
    columns = [("mechanism", "format", str), ("n", "$N$", str), ("k", "$k$", str)]
    columns += [(f"b{b:g}", f"$\\beta={b:g}$", str) for b in betas]
    columns.append(("w_limit", r"$w_\infty$", lambda x: f"{x:.5f}"))
    return latex_table(
        pd.DataFrame(rows), columns,
        caption=(r"Symmetric fixed points $\tilde w(\beta)$ of the smoothed games in the linear "
                 r"class ($b = w v$, values $U[0,1]$), by quadrature, and their limit "
                 r"$w_\infty$ as $\beta\to\infty$. $^\dagger$: a stationary point of the own "
                 r"utility that is not a best response (all-pay, $N\ge 3$); --: no interior "
                 r"fixed point (the corner $w=0$)."),
        label="tab:smfixed")


def scaling_latex(scaling: pd.DataFrame) -> str:
    """The derived order and constants of the bias against the constant fitted to quadrature."""
    frame = scaling.assign(label=scaling["mechanism"].map(LABELS))
    return latex_table(
        frame,
        [("label", "format", str), ("n_agents", "$N$", lambda x: f"{int(x)}"),
         ("units", "$k$", lambda x: f"{int(x)}"), ("order", "order $p$", lambda x: f"{int(x)}"),
         ("constant", r"derived $s_p$", lambda x: _num(x, 3)),
         ("constant_fitted", r"fitted $s_p$", lambda x: _num(x, 3)),
         ("next_constant", r"derived $s_{p+1}$", lambda x: _num(x, 2))],
        caption=(r"The smoothing bias $\tilde w(\beta) - w_\infty = s_p\beta^{-p} + "
                 r"s_{p+1}\beta^{-p-1} + \dots$: derived order and constants against the "
                 r"leading constant fitted to the quadrature ($\beta^p(\tilde w - w_\infty)$ "
                 r"on $(1, 1/\beta)$ for $\beta \ge 100$); order 0: no bias at any $\beta$; "
                 r"--: not derived."),
        label="tab:smscaling")


#: the rows of the decomposition table: sweep temperatures, and the mechanism comparison's β
SWEEP_SHOWN = {"n_agents": (2, 10), "beta_final": (25.0, 100.0, 1000.0)}
MECHANISM_BETA = 200.0
EXPERIMENT_LABELS = {"overshading": "sweep", "tradeoff": "trade-off (iid)",
                     "annealing_n2": "annealed", "annealing_n5": "annealed",
                     "nl_crra": "annealed, linear", "nl_asymmetric": "asymmetric, neural",
                     "nl_beta": "Beta(2,5), neural", "nl_allpay": "all-pay, neural",
                     "mechanism_comparison": "comparison"}


def _small(x: float) -> str:
    """:func:`sci`, with 0 for what is zero up to rounding (below 1e-7)."""
    return "$0$" if math.isfinite(x) and abs(x) < 1e-7 else sci(x)


def decomposition_rows(decomposition: pd.DataFrame) -> pd.DataFrame:
    """The rows the report's table shows: a few sweep temperatures, the annealed runs, the
    non-linear runs and every mechanism at the comparison's main β."""
    d = decomposition
    sweep = d[(d["experiment"] == "overshading") & d["n_agents"].isin(SWEEP_SHOWN["n_agents"])
              & d["beta_final"].isin(SWEEP_SHOWN["beta_final"])]
    annealed = d[d["experiment"].str.startswith("annealing")]
    nonlinear = d[d["section"] == "nonlinear"]
    mechanisms = d[(d["experiment"] == "mechanism_comparison")
                   & (d["beta_final"] == MECHANISM_BETA)]
    return pd.concat([sweep, annealed, nonlinear, mechanisms], ignore_index=True)


def decomposition_latex(decomposition: pd.DataFrame) -> str:
    frame = decomposition_rows(decomposition)
    frame = frame.assign(
        label=frame["experiment"].map(EXPERIMENT_LABELS).fillna(frame["experiment"])
        + frame["risk_aversion"].map(lambda r: "" if r == 1.0 else rf", $\rho={r:g}$"),
        fmt=frame["mechanism"].map(LABELS).fillna(frame["mechanism"].str.replace("_", " ")),
        draws=frame["sampler"].fillna("").astype(str))
    return latex_table(
        frame,
        [("label", "experiment", str), ("fmt", "format", str), ("draws", "draws", str),
         ("n_agents", "$N$", lambda x: f"{int(x)}"), ("beta_final", r"final $\beta$",
                                                        lambda x: f"{x:g}"),
         ("l2_total_mean", r"$L_2(b, b^*)$", sci), ("l2_to_smoothed_mean",
                                                    r"$L_2(b, \tilde b_\beta)$", sci),
         ("l2_smoothing", r"$\|\tilde b_\beta - b^*\|$", _small),
         ("l2_class", r"$\|b_\infty - b^*\|$", _small)],
        caption=(r"The learners' error split: $L_2$ of the learned profile $b$ to the BNE (the "
                 r"total) and to the smoothed equilibrium $\tilde b_\beta$ of its policy class "
                 r"at the final $\beta$ (noise and optimisation), means over seeds and agents, "
                 r"beside the smoothing part $\|\tilde b_\beta - b^*\|$ and what the class "
                 r"alone costs, $\|b_\infty - b^*\|$ (for the LLG locals, affine bids "
                 r"$\max(0, a + wv)$). --: no converged bid-function solution (see the status in "
                 r"\texttt{smoothing\_decomposition.csv})."),
        label="tab:smdecomp")


#: the mechanisms of the comparison whose split the text quotes
MECHANISMS_NAMED = ["first_price", "second_price", "uniform_price", "pay_as_bid", "all_pay",
                    "llg_vcg", "llg_nearest_vcg"]

#: the non-linear runs (experiment, N, ρ) whose split the text quotes
NONLINEAR_NAMED = [("nl_allpay", 2, 1.0), ("nl_allpay", 3, 1.0), ("nl_beta", 2, 1.0),
                   ("nl_beta", 3, 1.0), ("nl_crra", 2, 0.5), ("nl_crra", 3, 0.5)]


def _nonlinear_key(experiment: str, n: int, rho: float) -> str:
    """``NlAllpayTwo``; CRRA bidders ``NlCrraRiskAverseTwo`` (ρ < 1)."""
    return f"{camel(experiment)}{'RiskAverse' if rho != 1.0 else ''}{number_name(n)}"


def decomposition_macros(d: pd.DataFrame) -> list[str]:
    """Numbers the text quotes about the split."""
    known = d[d["l2_smoothing"].notna()]
    sweep = known[(known["experiment"] == "overshading") & (known["beta_final"] <= 200)]
    share = sweep["l2_to_smoothed_mean"] / sweep["l2_total_mean"]
    lines = [macro("SMSweepNoiseShareMax", _num(100 * share.max(), 2)),
             macro("SMSweepNoiseMax", _small(sweep["l2_to_smoothed_max"].max()).strip("$")),
             macro("SMNoTheory", int(d["l2_smoothing"].isna().sum())),
             macro("SMDecomposed", int(d["l2_smoothing"].notna().sum())),
             macro("SMDecompositionSettings", len(d))]
    annealed = known[known["experiment"].str.startswith("annealing")]
    for _, row in annealed.iterrows():
        key = f"{number_name(row['n_agents'])}{camel(row['sampler'])}"
        lines += [macro(f"SMAnnealTotal{key}", _small(row["l2_total_mean"]).strip("$")),
                  macro(f"SMAnnealNoise{key}", _small(row["l2_to_smoothed_mean"]).strip("$"))]
    for n, row in annealed.groupby("n_agents").first().iterrows():
        lines += [macro(f"SMAnnealSmoothing{number_name(n)}",
                        _small(row["l2_smoothing"]).strip("$")),
                  macro(f"SMAnnealBeta{number_name(n)}", f"{row['beta_final']:g}")]
    # the networks whose smoothed equilibrium converged; "--" for those the text names
    # (NONLINEAR_NAMED) where a configuration has no such run or no converged solution
    parts = ("Total", "Noise", "Smoothing", "Beta")
    split = {f"SMNonlinear{part}{_nonlinear_key(*named)}": MISSING
             for named in NONLINEAR_NAMED for part in parts}
    for _, row in known[known["section"] == "nonlinear"].iterrows():
        key = _nonlinear_key(row["experiment"], row["n_agents"], row["risk_aversion"])
        values = [_small(row[c]).strip("$") for c in
                  ("l2_total_mean", "l2_to_smoothed_mean", "l2_smoothing")]
        split.update({f"SMNonlinear{part}{key}": value for part, value in
                      zip(parts, values + [f"{row['beta_final']:g}"], strict=True)})
    lines += [macro(name, value) for name, value in split.items()]
    mech = known[(known["experiment"] == "mechanism_comparison")
                 & (known["beta_final"] == MECHANISM_BETA)]
    lines.append(macro("SMMechBeta", f"{MECHANISM_BETA:g}"))
    # the mechanisms the text names get "--" where a configuration has no split for them
    parts = ("Total", "Noise", "Smoothing", "Class")
    columns = ("l2_total_mean", "l2_to_smoothed_mean", "l2_smoothing", "l2_class")
    split = {f"SMMech{part}{camel(m)}": MISSING for m in MECHANISMS_NAMED for part in parts}
    for _, row in mech.iterrows():
        split.update({f"SMMech{part}{camel(row['mechanism'])}": _small(row[c]).strip("$")
                      for part, c in zip(parts, columns, strict=True)})
    return lines + [macro(name, value) for name, value in split.items()] + llg_macros(d)


#: the LLG rules whose smoothed affine fixed point the text quotes
LLG_NAMED = ["llg_vcg", "llg_nearest_vcg"]


def llg_macros(d: pd.DataFrame) -> list[str]:
    """The LLG locals' smoothed affine equilibrium (ã, w̃) at the comparison's main β, and the
    bias's order p in 1/β with its constants β^p(w̃ − w*), β^p(ã − a*) (p the rounded order)
    from the two largest β of the comparison ("--" where a configuration lacks them)."""
    names = ("A", "W", "Order", "ConstW", "ConstA", "BetaTop")
    values = {f"SMLlg{part}{camel(m)}": MISSING for m in LLG_NAMED for part in names}
    needed = {"mechanism", "experiment", "note", "beta_final", "a_smoothed", "a_limit"}
    for m in LLG_NAMED if needed <= set(d.columns) else []:
        key = camel(m)
        rows = d[(d["mechanism"] == m) & (d["note"] == "converged")
                 & (d["experiment"] == "mechanism_comparison")].sort_values("beta_final")
        main = rows[rows["beta_final"] == MECHANISM_BETA]
        if len(main):
            a = main["a_smoothed"].iloc[0]
            values[f"SMLlgA{key}"] = _num(a, 6) if abs(a) >= 1e-3 else fmt_sci(a, 2)
            values[f"SMLlgW{key}"] = _num(main["w_smoothed"].iloc[0], 6)
        if rows["beta_final"].nunique() < 2:
            continue
        low, high = rows.drop_duplicates("beta_final").iloc[-2:].itertuples()
        order = (math.log(abs(low.w_smoothed - low.w_limit) / abs(high.w_smoothed - high.w_limit))
                 / math.log(high.beta_final / low.beta_final))
        scale = high.beta_final ** round(order)
        values.update({f"SMLlgOrder{key}": f"{order:.2f}",
                       f"SMLlgConstW{key}": _num(scale * (high.w_smoothed - high.w_limit), 3),
                       f"SMLlgConstA{key}": _num(scale * (high.a_smoothed - high.a_limit), 3),
                       f"SMLlgBetaTop{key}": f"{high.beta_final:g}"})
    return [macro(name, value) for name, value in values.items()]


#: macro-name parts and table labels of the bid-function solver's settings
FUNCTION_SETTINGS = {"first_price_n2": ("FirstPriceTwo", "first price, U[0,1], $N=2$"),
                     "nl_asymmetric_n2": ("Plum", "Plum: weak U[0,.5] / strong U[0,1]"),
                     "nl_beta_n2": ("BetaTwo", "first price, Beta(2,5), $N=2$"),
                     "nl_beta_n3": ("BetaThree", "first price, Beta(2,5), $N=3$"),
                     "nl_allpay_n2": ("AllPayTwo", "all-pay, $N=2$"),
                     "nl_allpay_n3": ("AllPayThree", "all-pay, $N=3$"),
                     "mechanisms_all_pay": ("MechAllPay", "all-pay, $N=3$ (comparison)"),
                     "mechanisms_pay_as_bid": ("PayAsBid", "pay as bid, $N=3$, $k=2$")}


#: the per-setting macro families of :func:`function_macros` (``SMFn{family}{setting key}``)
FUNCTION_FAMILIES = ["Converged", "Failed", "Ladder", "BetaTop", "CellsTop", "BetaFirst",
                     "BetaLast", "LTwoFirst", "LTwoLast", "Rate", "RateBetaMax"]


def _setting_key(setting: str, agent: int, classes: int) -> str:
    key = FUNCTION_SETTINGS.get(setting, (camel(setting), ""))[0]
    return key + (("Weak", "Strong")[agent] if classes > 1 else "")


def _betas(values) -> str:
    return ", ".join(f"{b:g}" for b in sorted(values)) or "none"


def function_macros(functions: pd.DataFrame, rates: pd.DataFrame, solver: dict) -> list[str]:
    """The solver's tolerances, per setting the temperatures where it converged or not,
    ‖b̃_β − b*‖ at each converged β, and the fitted rates."""
    lines = [macro("SMFnResidualTol", sci(solver["residual_tol"]).strip("$")),
             macro("SMFnGapTol", sci(solver["gap_tol"]).strip("$")),
             macro("SMFnGridTol", sci(solver["grid_tol"]).strip("$")),
             macro("SMFnMaxCells", int(solver["max_cells"])),
             macro("SMFnRateBetaMin", f"{solver['rate_beta_min']:g}"),
             macro("SMFnWindow", f"{WINDOW:g}")]
    solved = functions.drop_duplicates(["setting", "beta"])
    lines += [macro("SMFnSolved", int(solved["converged"].sum())),
              macro("SMFnAttempted", int((~solved["status"].str.startswith("not attempted"))
                                         .sum())),
              macro("SMFnSplitMax", int(solved.loc[solved["converged"], "splits"].max())),
              macro("SMFnMaxHalvings", int(solver.get("max_halvings", 1)))]
    lines += [macro("SMFnBetaGrid", _betas(solver["beta"])),
              macro("SMFnCell", f"{solver.get('cell', 1.0):g}")]
    # every setting the text may name gets each macro, "--" where a configuration (a smaller
    # one, say) has no such setting, no converged temperature or no fitted rate
    per_setting = {f"SMFn{family}{key}": MISSING for key, _ in FUNCTION_SETTINGS.values()
                   for family in FUNCTION_FAMILIES}
    for setting, group in solved.groupby("setting", sort=False):
        key = _setting_key(setting, 0, 1)
        per_setting.update({
            f"SMFnConverged{key}": _betas(group.loc[group["converged"], "beta"]),
            f"SMFnFailed{key}": _betas(group.loc[~group["converged"], "beta"]),
            f"SMFnLadder{key}": _betas(group.loc[group["converged"]
                                                 & group["start"].str.startswith("ladder"),
                                                 "beta"]),
            f"SMFnBetaTop{key}": f"{group['beta'].max():g}"})
        top = functions[(functions["setting"] == setting)
                        & (functions["beta"] == group["beta"].max()) & functions["converged"]]
        if len(top):  # the cells per class of the solution at the highest β
            per_setting[f"SMFnCellsTop{key}"] = str(int(top["cells"].max()))
        done = functions[(functions["setting"] == setting) & functions["converged"]]
        if len(done):  # the first and last converged temperature (mean over classes)
            l2 = done.groupby("beta")["l2_bne"].mean()
            per_setting.update({f"SMFnBetaFirst{key}": f"{l2.index[0]:g}",
                                f"SMFnBetaLast{key}": f"{l2.index[-1]:g}",
                                f"SMFnLTwoFirst{key}": _small(l2.iloc[0]).strip("$"),
                                f"SMFnLTwoLast{key}": _small(l2.iloc[-1]).strip("$")})
    classes = functions.groupby("setting")["agent"].nunique()
    for _, row in functions[functions["converged"]].iterrows():
        key = _setting_key(row["setting"], int(row["agent"]), classes[row["setting"]])
        per_setting[f"SMFnLTwo{key}Beta{number_name(row['beta'])}"] = \
            _small(row["l2_bne"]).strip("$")
    for _, row in rates.iterrows():
        key = _setting_key(row["setting"], int(row["agent"]), classes[row["setting"]])
        per_setting.update({f"SMFnRate{key}": _num(row["rate"], 2),
                            f"SMFnRateBetaMax{key}": f"{row['beta_max']:g}"})
    return lines + [macro(name, value) for name, value in per_setting.items()]


def function_latex(functions: pd.DataFrame) -> str:
    """‖b̃_β − b*‖ by setting (and bidder) and β; --: the solver did not converge there."""
    frame = functions.assign(
        label=functions["setting"].map(lambda s: FUNCTION_SETTINGS.get(s, ("", s))[1]))
    classes = frame.groupby("setting")["agent"].transform("nunique")
    frame["label"] = frame["label"].where(classes < 2, frame["label"] + frame["agent"].map(
        {0: ", weak", 1: ", strong"}))
    wide = frame.pivot_table(index="label", columns="beta", values="l2_bne", sort=False,
                             dropna=False)
    wide = wide.reset_index()
    betas = sorted(b for b in wide.columns if b != "label")
    return latex_table(
        wide, [("label", "setting", str)] + [(b, f"$\\beta={b:g}$", _small) for b in betas],
        caption=(r"The smoothed game's equilibrium bid function against the BNE: "
                 r"$\|\tilde b_\beta - b^*\|$ ($L_2$ under the prior) where the solver "
                 r"converged; --: it did not (or the setting was not solved at that $\beta$)."),
        label="tab:smfunctions")


def smoothing_outputs(table: pd.DataFrame, scaling: pd.DataFrame,
                      decomposition: pd.DataFrame, functions: pd.DataFrame,
                      rates: pd.DataFrame, solver: dict) -> dict[str, str]:
    """The section's generated files: ``macros`` and the ``fixed``, ``scaling``,
    ``decomposition`` and ``functions`` tables."""
    header = "% generated by diffauction.report.smoothing — do not edit\n"
    macros = (fixed_point_macros(table, scaling) + decomposition_macros(decomposition)
              + function_macros(functions, rates, solver))
    return {"macros": header + "".join(macros), "fixed": fixed_point_latex(table),
            "scaling": scaling_latex(scaling),
            "decomposition": decomposition_latex(decomposition),
            "functions": function_latex(functions)}
