"""The rounds of :mod:`.smoothed_function`'s solver around Newton's method
(:class:`.smoothed_function_system.System`): the best-response check of a root, the jumps of b̃
that fall between two cells, the rounds that give each jump a split cell, and the transfer of a
solution to another grid."""

from __future__ import annotations

import math

import numpy as np

from diffauction.equilibria.smoothed_function_terms import (
    condition,
    kernels,
    midpoints,
    utility,
    win_probability,
)

#: Smaller steps of a solution's curve are not carried to another grid as jumps.
MIN_JUMP = 1e-6
#: :func:`transfer` to a higher β moves the curves' values within this many 1/β (of the
#: support's width) from either end.
LAYER = 64.0


def best_responses(system, y: np.ndarray, points: int = 2000, polish: int = 4) -> tuple:
    """(best bids, gains max_x ũ(v, x) − ũ(v, b(v))) at every cell: x on a grid over
    [0, max value] (``points`` bids), the best grid bid polished by Newton steps on r. A split
    cell is checked at both its parts' midpoints (:meth:`System.split_points`), its gain the
    larger one and its best bid the one of b_j's part."""
    parts, mech, beta = system.split(y), system.game.mechanism, system.beta
    xs = np.linspace(0.0, float(max(v[-1] for v in system.values)), points)
    best_bids, gains = [], []
    for c in range(system.game.classes):
        own, cells = system.own(c)
        (v_b, v_h, _), _ = system.split_points(y, c)
        v = np.concatenate([system.values[c], v_h])
        v[cells] = v_b
        bids = np.concatenate([parts[c], y[system.n + own]])
        m, w, _ = system.atoms(y, c)
        u_grid = utility(mech, v[:, None], xs[None, :], win_probability(xs, m, w, beta))
        x = xs[np.argmax(u_grid, axis=1)]
        for _ in range(polish):
            p, p1, p2 = kernels(x, m, w, beta)
            r, dr = condition(mech, v, x, p, p1, p2)
            x = np.where(dr < 0, np.maximum(x - r / np.where(dr < 0, dr, -1.0), 0.0), x)
        u_best = utility(mech, v, x, win_probability(x, m, w, beta))
        x = np.where(u_best >= u_grid.max(axis=1), x, xs[np.argmax(u_grid, axis=1)])
        u_best = np.maximum(u_best, u_grid.max(axis=1))
        gain = np.maximum(u_best - utility(mech, v, bids, win_probability(bids, m, w, beta)), 0.0)
        n_c = len(parts[c])
        gain[cells] = np.maximum(gain[cells], gain[n_c:])
        best_bids.append(x[:n_c])
        gains.append(gain[:n_c])
    return np.concatenate(best_bids), np.concatenate(gains)


def unsplit_jumps(system, y: np.ndarray, tol: float, points: int = 16) -> list:
    """Jumps of b̃ between two neighbouring cells that no split cell carries: bids b_j < b_{j+1}
    that are two separate local maxima of ũ(ν, ·) at the value ν indifferent between them (ũ
    is linear in v, so ν is explicit), i.e. ũ dips by more than ``tol`` between them. The
    midpoints straddle ν, so no cell gains by switching, yet the grid puts the jump at the cells'
    edge, an error of the order of the cell width in ν. Returns per jump (cell holding ν, the
    two bids, the share θ of the cell above ν)."""
    mech, beta, out = system.game.mechanism, system.beta, []
    for c, part in enumerate(system.split(y)):
        taken = {cell + d for cls, cell in system.splits if cls == c for d in (-1, 0, 1)}
        j = np.array([i for i in np.flatnonzero(np.diff(part) > 0) if i not in taken
                      and i + 1 not in taken], int)
        m, w, _ = system.atoms(y, c)
        p_low, p_high = win_probability(part[j], m, w, beta), win_probability(part[j + 1], m, w,
                                                                              beta)
        j, p_low, p_high = j[p_high > p_low], p_low[p_high > p_low], p_high[p_high > p_low]
        if len(j) == 0:
            continue
        low, high = part[j], part[j + 1]
        lift = high * p_high - low * p_low if mech != "all_pay" else high - low
        nu = lift / (p_high - p_low)
        xs = low[:, None] + (high - low)[:, None] * np.linspace(0.0, 1.0, points + 1)[1:-1]
        inner = utility(mech, nu[:, None], xs, win_probability(xs, m, w, beta)).min(axis=1)
        dip = np.minimum(utility(mech, nu, low, p_low), utility(mech, nu, high, p_high)) - inner
        edges = system.edges[c]
        for i in np.flatnonzero((dip > tol) & (nu > edges[j]) & (nu < edges[j + 2])):
            cell = int(j[i]) + int(nu[i] >= edges[j[i] + 1])
            share = (edges[cell + 1] - nu[i]) / (edges[cell + 1] - edges[cell])
            out.append(((c, cell), float(low[i]), float(high[i]),
                        float(np.clip(share, 0.05, 0.95))))
    return out


def _gap_trials(system, y: np.ndarray, best: np.ndarray, gains: np.ndarray, tol: float) -> list:
    """Candidate (system, unknowns) where some cell gains more than ``tol``: the cell of the
    largest gain split (or, if it is one, every gaining cell moved to its best response); at a
    jump, the first cell that gains split and the ones past it moved over."""
    worst = int(np.argmax(gains))
    c = int(np.searchsorted(system.offsets, worst, side="right") - 1)
    cell = (c, worst - int(system.offsets[c]))
    moving = gains > tol
    moved = y.copy()
    moved[:system.n] = np.where(moving, best, y[:system.n])
    trials = [(system, moved)]
    if cell not in system.splits:
        trials.insert(0, system.with_split(cell, y, best[worst]))
    first = int(np.argmax(moving))
    c = int(np.searchsorted(system.offsets, first, side="right") - 1)
    edge = (c, first - int(system.offsets[c]))
    if edge not in system.splits and moving.sum() > 1:
        kept = moved.copy()
        kept[first] = y[first]
        trials.insert(0, system.with_split(edge, kept, best[first]))
    return trials


def _jump_trial(system, y: np.ndarray, jumps: list) -> tuple:
    """(system, unknowns) with a split cell at each jump of :func:`unsplit_jumps`: the cell's
    own bid the lower one (it may be 0, where the complementarity condition holds), its second
    bid the higher one on the share above ν."""
    y = y.copy()
    for (c, cell), low, high, share in jumps:
        y[system.offsets[c] + cell] = low
        system, y = system.with_split((c, cell), y, high, share)
    return system, y


def solve_rounds(system, y: np.ndarray, settings, fallback: bool = True) -> tuple:
    """Newton (again without the splits whose share reached 0 or 1, where it fails), then
    rounds: while some cell has a better response than its bid by more than
    ``gap_tol`` (another local maximum of ũ(v, ·): b̃ jumps there), try the splits and moves of
    :func:`_gap_trials`; when none does, give each jump between two cells a split cell
    (:func:`unsplit_jumps`). A round whose Newton fails is undone; at most ``max_jumps`` rounds;
    ``fallback``: Newton's continuation where it fails (:meth:`System.newton`):
    (system, y, residual, gap, iterations)."""
    y, res, its = system.newton(y, settings.residual_tol, settings.max_iterations, fallback)
    settled, y_settled = system.settle_splits(y) if res > settings.residual_tol else (system, y)
    if settled.splits != system.splits:
        # a jump left its split cell (its share reached 0 or 1): without that split the jump
        # lies between two cells, where the rounds give the cell it moved to a split
        y_settled, res_settled, n = settled.newton(y_settled, settings.residual_tol,
                                                   settings.max_iterations, fallback)
        its += n
        if res_settled < res:
            system, y, res = settled, y_settled, res_settled
    if res > settings.residual_tol:
        return system, y, res, math.inf, its
    for round_ in range(settings.max_jumps + 1):
        system, y = system.settle_splits(y)
        best, gains = best_responses(system, y)
        gap = float(gains.max())
        if round_ == settings.max_jumps:
            break
        jumps = unsplit_jumps(system, y, settings.gap_tol)
        trials = [_jump_trial(system, y, jumps)] if jumps else []
        if gap > settings.gap_tol:
            trials += _gap_trials(system, y, best, gains, settings.gap_tol)
        elif not jumps:
            break
        for trial_system, trial in trials:
            trial, res_t, n = trial_system.newton(trial, settings.residual_tol,
                                                  settings.max_iterations, fallback)
            its += n
            if res_t <= settings.residual_tol:
                system, y, res = trial_system, trial, res_t
                break
        else:
            break
    return system, y, res, gap, its


def boundary_warp(v: np.ndarray, low: float, high: float, scale: float,
                  layer: float) -> np.ndarray:
    """Values v of [low, high] moved towards the nearer end as b̃'s boundary layers move when β
    grows by 1/``scale``: a distance d < ``layer`` from the end becomes
    d (scale + (1 − scale) d/layer) (d·scale near the end, continuous and increasing, d at the
    layer's edge); values further from both ends stay."""
    layer = min(layer, 0.5 * (high - low))
    out = np.asarray(v, float).copy()
    for end, sign in ((low, 1.0), (high, -1.0)):
        d = sign * (out - end)
        inside = (d >= 0.0) & (d < layer)
        out[inside] = end + sign * d[inside] * (scale + (1.0 - scale) * d[inside] / layer)
    return out


def transfer(solution, edges: list, beta: float | None = None) -> tuple:
    """(splits, unknowns) on ``edges`` (halved cells, or another β's grid) from the curves of
    ``solution`` (a :class:`.smoothed_function.Solution`): the bids interpolated at the new
    midpoints; each jump (a step of the curve at ν) a split cell where ν falls, its own bid the
    lower side, its second bid the higher one on the share above ν. A split whose two bids
    (nearly) agree is no jump and is not carried: its indifference equation would leave the
    share undetermined. With ``beta`` (a higher temperature than the solution's), the curves'
    values within :data:`LAYER`/β of an end are first moved by :func:`boundary_warp` (b̃'s
    features there, its jumps near the top and its zero bids at the bottom, sit at distances
    of order 1/β from the end): the start of the β ladder's next step."""
    parts, splits, highs, shares = [], [], [], []
    for c, (v, b, e) in enumerate(zip(solution.values, solution.bids, edges, strict=True)):
        if beta is not None:
            prior = solution.game.priors[c]
            low, high = float(prior.low), float(prior.high)
            v = boundary_warp(v, low, high, solution.beta / beta,
                              LAYER * (high - low) / solution.beta)
        part = np.interp(midpoints(e), v, b)
        for k in np.flatnonzero((np.diff(v) < 1e-12) & (np.diff(b) > MIN_JUMP)):
            cell = int(np.clip(np.searchsorted(e, v[k], side="right") - 1, 0, len(e) - 2))
            if (c, cell) in splits:
                continue
            part[cell] = b[k]
            splits.append((c, cell))
            highs.append(b[k + 1])
            shares.append(float(np.clip((e[cell + 1] - v[k]) / (e[cell + 1] - e[cell]),
                                        0.01, 0.99)))
        parts.append(part)
    return tuple(splits), np.concatenate(parts + [np.array(highs), np.array(shares)])
