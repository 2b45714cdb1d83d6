"""How the smoothing bias scales with β: least-squares fits of the gap between the BNE slope and
the smoothed game's equilibrium w̃(β, N) (:mod:`diffauction.equilibria.smoothed`), to compare
with the first-order theory c(N)/β."""

from __future__ import annotations

import numpy as np
import pandas as pd


def fit_gap_scaling(
    table: pd.DataFrame, *, beta_min: float = 25.0, second_order: bool = False
) -> pd.DataFrame:
    r"""Fit ``gap = w_bne - w_smoothed ~ c / beta`` per ``n_agents``.

    Uses rows with ``beta >= beta_min``.  ``constant_c`` is the least-squares
    slope of ``gap`` on ``1/beta`` through the origin,
    ``c = sum(gap/beta) / sum(1/beta^2)``; ``exponent`` is the slope of the
    ordinary least-squares line of ``log gap`` on ``log beta`` (expected -1);
    ``max_rel_residual = max |gap - c/beta| / gap``.  Compare ``constant_c``
    with :func:`~diffauction.equilibria.smoothed.gap_constant_theory`: the one-term fit absorbs the
    ``O(beta^-2)`` term and, since least squares on ``1/beta`` is dominated by
    the smallest ``beta``, is biased by up to ~30% over ``beta >= 25``.

    With ``second_order=True`` the model is ``gap ~ c/beta + d/beta^2``
    (ordinary least squares); ``constant_c`` and ``max_rel_residual`` then
    refer to that model and an extra column ``constant_d`` is appended.
    This recovers the analytic ``c(N)`` to about 1%.
    """
    out = []
    for n, grp in table.sort_values(["n_agents", "beta"]).groupby("n_agents", sort=True):
        sel = grp[grp["beta"] >= beta_min]
        if len(sel) < 2:
            raise ValueError(f"need >= 2 betas >= {beta_min} for n_agents={n}, got {len(sel)}")
        beta = sel["beta"].to_numpy(float)
        gap = (sel["w_bne"] - sel["w_smoothed"]).to_numpy(float)
        if np.any(gap <= 0):
            raise ValueError(f"non-positive gap for n_agents={n}; cannot fit a power law")
        x = 1.0 / beta
        exponent = float(np.polyfit(np.log(beta), np.log(gap), 1)[0])
        row = {"n_agents": int(n), "exponent": exponent}
        if second_order:
            if len(sel) < 3:
                raise ValueError(f"second_order fit needs >= 3 betas for n_agents={n}")
            design = np.column_stack([x, x * x])
            c, d = np.linalg.lstsq(design, gap, rcond=None)[0]
            model = design @ np.array([c, d])
            row["constant_d"] = float(d)
        else:
            c = np.sum(gap * x) / np.sum(x * x)
            model = c * x
        row["constant_c"] = float(c)
        row["max_rel_residual"] = float(np.max(np.abs(gap - model) / gap))
        out.append(row)
    columns = ["n_agents", "constant_c", "exponent", "max_rel_residual"]
    if second_order:
        columns.append("constant_d")
    return pd.DataFrame(out, columns=columns)
