r"""Numbers for the LaTeX report, written as macro files (``\newcommand{\Name}{value}``).

Every number in ``paper/`` comes from here, computed from pipeline outputs; nothing is typed by
hand. Macro names are letters only (TeX's rule), e.g. ``\WeekFourBeta``. This module is the kit
every section uses: macros, number formats, macro-name spelling and booktabs tables; each
section's macros and tables live in a module of their own.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd


def macro(name: str, value) -> str:
    if not re.fullmatch(r"[A-Za-z]+", name):
        raise ValueError(f"LaTeX macro names must be letters only, got {name!r}")
    return f"\\newcommand{{\\{name}}}{{{value}}}\n"


def fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def fmt_sci(x: float, digits: int = 1) -> str:
    """1.6e-03 → 1.6\\times10^{-3} (for use inside math mode)."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa}\\times10^{{{int(exponent)}}}"


#: what a table or macro shows for a missing number
MISSING = "--"
DIGITS = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"]


def number_name(x: float) -> str:
    """Spell a non-negative integer for a macro name: 50 → 'FiveZero', 1000 → 'OneZeroZeroZero'."""
    return "".join(DIGITS[int(d)] for d in str(int(round(x))))


def latex_table(frame: pd.DataFrame, columns: list[tuple[str, str, object]], caption: str,
                label: str) -> str:
    """A booktabs table: ``columns`` are (column, header, formatter) triples."""
    align = "r" * len(columns)
    head = " & ".join(header for _, header, _ in columns) + r" \\"
    body = []
    previous_first = None
    for _, row in frame.iterrows():
        cells = [fmt_cell(row[col]) for col, _, fmt_cell in columns]
        first = row[columns[0][0]]
        if previous_first is not None and first != previous_first:
            body.append(r"\addlinespace")
        previous_first = first
        body.append(" & ".join(cells) + r" \\")
    return "\n".join([
        r"\begin{table}[htbp]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{4pt}",
        f"\\caption{{{caption}}}", f"\\label{{{label}}}",
        r"\fittowidth{%", f"\\begin{{tabular}}{{{align}}}", r"\toprule", head, r"\midrule",
        *body, r"\bottomrule", r"\end{tabular}}", r"\end{table}", ""])


def sci(x: float) -> str:
    """1.6e-03 → $1.6\\times10^{-3}$ (text mode); ``--`` where the number is missing (NaN, ±∞)."""
    return f"${fmt_sci(x)}$" if math.isfinite(x) else MISSING


def camel(name) -> str:
    """A macro-name part from an identifier or integer: smoothed_fixed → SmoothedFixed,
    5 → Five, 12 → OneTwo."""
    if isinstance(name, int | np.integer):
        return number_name(name)
    parts = "".join(ch if ch.isalpha() else " " for ch in str(name)).split()
    return "".join(part[:1].upper() + part[1:] for part in parts)
