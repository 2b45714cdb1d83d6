"""Macros and tables of the section "The smoothing bias, in every mechanism" (prefix ``SM``)."""

from __future__ import annotations

import math

import pandas as pd

from diffauction.report.latex import MISSING, camel, fmt, latex_table, macro, number_name

LABELS = {"first_price": "first price", "second_price": "second price",
          "third_price": "third price", "all_pay": "all-pay", "pay_as_bid": "pay as bid",
          "uniform_price": "uniform price"}
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


def smoothing_outputs(table: pd.DataFrame, scaling: pd.DataFrame) -> dict[str, str]:
    """The section's generated files: ``macros``, ``fixed`` and ``scaling`` tables."""
    header = "% generated by diffauction.report.smoothing — do not edit\n"
    return {"macros": header + "".join(fixed_point_macros(table, scaling)),
            "fixed": fixed_point_latex(table), "scaling": scaling_latex(scaling)}
