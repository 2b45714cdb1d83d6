"""The smoothing bias in every mechanism (report section of that name): the linear smoothed
fixed points on a grid, their scaling in 1/β against the derived expansion, and the checks of
the config block ``smoothing_theory``."""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from diffauction.equilibria.smoothed_linear import (
    FORMATS,
    MULTI_UNIT_FORMATS,
    LinearGame,
    classify,
    limit_slope,
    stationary_points,
    symmetric_gradient,
)
from diffauction.equilibria.smoothing_bias import bias_expansion, predicted_bias

TABLE_COLUMNS = ["mechanism", "n_agents", "units", "beta", "w_smoothed", "w_limit", "status",
                 "stationary_points", "bias", "bias_predicted"]


def games(mechanisms, n_agents, units) -> list[LinearGame]:
    """Every (format, N, k) of the grid the format allows: third price needs N ≥ 3, the k-unit
    formats 1 < k < N (k = 1 is first or second price), the single-item formats k = 1."""
    out = []
    for mechanism in [m for m in FORMATS if m in mechanisms]:
        for n in sorted(n_agents):
            if mechanism in MULTI_UNIT_FORMATS:
                out += [LinearGame(mechanism, n, k) for k in sorted(units) if 1 < k < n]
            elif mechanism != "third_price" or n >= 3:
                out.append(LinearGame(mechanism, n))
    return out


def fixed_point_row(game: LinearGame, beta: float, nodes: int) -> dict:
    """One row of the fixed-point table: the equilibrium root of g if there is one (else the
    first stationary point), its status, and the bias against the derived expansion."""
    roots, _ = stationary_points(game, beta, nodes=nodes)
    w_limit = limit_slope(game)
    row = {"mechanism": game.mechanism, "n_agents": game.n_agents, "units": game.units,
           "beta": float(beta), "w_limit": w_limit, "stationary_points": len(roots),
           "bias_predicted": predicted_bias(game, beta)}
    if not roots:
        low = float(symmetric_gradient(game, 0.02 * w_limit, beta, nodes))
        row.update(w_smoothed=math.nan, bias=math.nan,
                   status="none: the own utility falls in the slope, the corner w = 0"
                   if low < 0 else "none")
        return row
    kinds = [classify(game, w, beta) for w in roots]
    pick = kinds.index("equilibrium") if "equilibrium" in kinds else 0
    status = kinds[pick] if len(roots) == 1 else f"{kinds[pick]}; {len(roots)} stationary points"
    row.update(w_smoothed=roots[pick], bias=roots[pick] - w_limit, status=status)
    return row


def _game_rows(game: LinearGame, betas: list[float], nodes: int) -> list[dict]:
    return [fixed_point_row(game, beta, nodes) for beta in betas]


def fixed_point_table(settings: dict, workers: int = 1) -> pd.DataFrame:
    """``results/theory/smoothed_fixed_points.csv``: one row per (format, N, k, β) of the
    ``smoothing_theory`` settings (columns :data:`TABLE_COLUMNS`); ``workers`` processes share
    the games (the rows, computed independently, do not depend on it)."""
    grid = games(settings["mechanisms"], settings["n_agents"], settings["units"])
    job = partial(_game_rows, betas=sorted(float(b) for b in settings["beta"]),
                  nodes=settings["nodes"])
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(job, grid))
    else:
        parts = [job(game) for game in grid]
    return pd.DataFrame([row for part in parts for row in part], columns=TABLE_COLUMNS)


def scaling_table(table: pd.DataFrame, beta_min: float = 100.0) -> pd.DataFrame:
    """Per (format, N, k): the derived order, leading and next constants of w̃ − w_∞ in 1/β,
    and the leading constant fitted to the quadrature — least squares of β^p (w̃ − w_∞) on
    (1, 1/β) over β ≥ ``beta_min``, p the derived order — with the largest |w̃ − w_∞| where the
    derived bias is exactly zero."""
    rows = []
    for (mechanism, n, k), group in table.groupby(["mechanism", "n_agents", "units"], sort=False):
        e = bias_expansion(LinearGame(mechanism, int(n), int(k)))
        sel = group[(group["beta"] >= beta_min) & group["bias"].notna()]
        beta, bias = sel["beta"].to_numpy(float), sel["bias"].to_numpy(float)
        fitted = math.nan
        if e.order > 0 and len(sel) >= 2:
            design = np.column_stack([np.ones_like(beta), 1.0 / beta])
            fitted = float(np.linalg.lstsq(design, bias * beta**e.order, rcond=None)[0][0])
        rows.append({"mechanism": mechanism, "n_agents": int(n), "units": int(k),
                     "order": e.order, "constant": e.leading, "next_constant": e.next,
                     "constant_fitted": fitted,
                     "max_abs_bias": float(np.abs(group["bias"]).max()),
                     "sign": int(np.sign(e.leading)),
                     "status": "; ".join(sorted(set(group["status"])))})
    return pd.DataFrame(rows)


def validate_smoothing(section: dict, key: str = "smoothing_theory") -> list[str]:
    """What the schema cannot say about the ``smoothing_theory`` block, one message a key."""
    messages = [f"{key}.mechanisms: unknown format {m!r}; allowed: {list(FORMATS)}"
                for m in section["mechanisms"] if m not in FORMATS]
    if len(section["beta"]) < 3 or sum(b >= 100 for b in section["beta"]) < 2:
        messages.append(f"{key}.beta: the scaling fit needs at least 3 temperatures, 2 of them "
                        f">= 100; got {section['beta']}")
    return messages
