"""The window of competing bids around each bid in the smoothed game's sums (the bid-function
solver's :mod:`.smoothed_function_terms` and :mod:`.smoothed_function_system`): NumPy and SciPy
only, so the report can read its width without importing torch."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

#: Atoms further than this many 1/β from a bid count as won (below it) or lost (above it):
#: σ(−40) = 4e-18 is below half an ulp of 1 and 2e-17 of σ's slope at 0, so the window keeps the
#: sums to rounding, costs the bids near each bid only, and makes the solver's Jacobian a band
#: in the bids' order.
WINDOW = 40.0
#: A window wider than this share of the atoms is all of them (no gathering).
FULL_SHARE = 0.5


def window(x: np.ndarray, m: np.ndarray, beta: float) -> tuple:
    """The atoms within :data:`WINDOW`/β of each bid of the 1-d array x: (order of the atoms m by
    bid, index of each window's first atom in that order, [len(x), width] indices into the
    sorted atoms, mask of those in the window). Where the widest window holds more than
    :data:`FULL_SHARE` of the atoms (a coarse grid), every bid's window is all of them
    (indices [1, len(m)], broadcast)."""
    order = np.argsort(m, kind="stable")
    sorted_m = m[order]
    low = np.searchsorted(sorted_m, x - WINDOW / beta, side="left")
    high = np.searchsorted(sorted_m, x + WINDOW / beta, side="right")
    width = int((high - low).max(initial=0))
    if width > FULL_SHARE * len(m):
        full = np.arange(len(m))[None, :]
        return order, np.zeros(len(x), int), full, np.ones(full.shape, bool)
    cols = low[:, None] + np.arange(width)[None, :]
    valid = cols < high[:, None]
    return order, low, np.minimum(cols, max(len(m) - 1, 0)), valid


def windowed_sums(x: np.ndarray, m: np.ndarray, weights: np.ndarray, beta: float) -> tuple:
    """(P, σ, w on the window, order, window, mask): P(x) = Σ_j w_j σ(β(x − m_j)) with the atoms
    below each bid's window counted as won, σ and the weights on the window ([len(x), width]
    or [1, width] where the window is all atoms, 0 off the mask), and the window of
    :func:`window`."""
    order, low, cols, valid = window(x, m, beta)
    sorted_weights = weights[order]
    w = np.where(valid, sorted_weights[cols], 0.0)
    below = np.concatenate([[0.0], np.cumsum(sorted_weights)])[low]
    s = expit(beta * (x[:, None] - m[order][cols]))
    return below + np.sum(s * w, axis=1), s, w, order, cols, valid
