"""Reach a tolerance and stay there: the one convergence criterion of every experiment.

A trajectory of distances d_1..d_K recorded at increasing points (steps or sampled valuations)
*reaches and stays* within τ at the first record from which every later record has d ≤ τ; a
trajectory whose last record is above τ (or NaN) has not (censored).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def first_stable_index(outside: torch.Tensor) -> torch.Tensor:
    """[K, ...] booleans (record outside the band) → [...] index of the first record from which
    every later one is inside; K where the last record is outside."""
    k = outside.shape[0]
    last_outside = k - 1 - outside.flip(0).to(torch.int8).argmax(dim=0)
    return torch.where(outside.any(dim=0), last_outside + 1, torch.zeros_like(last_outside))


def reach_and_stay(points, distances, tolerance: float) -> float:
    """The point (step or samples) of the first record from which every later record has
    ``distance ≤ tolerance``; NaN if the last record is above it (not reached).

    ``points`` strictly increasing, ``distances`` aligned with it (NaN counts as above).
    """
    points = torch.tensor(np.array(points, dtype=float))
    distances = torch.tensor(np.array(distances, dtype=float))
    if points.numel() == 0:
        raise ValueError("reach_and_stay: no recorded points")
    if bool((points.diff() <= 0).any()):
        raise ValueError("reach_and_stay: samples must be strictly increasing")
    index = int(first_stable_index(~(distances <= tolerance)))
    return math.nan if index == points.numel() else float(points[index])


def stabilisation_step(steps: torch.Tensor, trajectory: torch.Tensor, reference: torch.Tensor,
                       tolerance: float) -> torch.Tensor:
    """First recorded step after which |θ_t − reference| ≤ tolerance for good, batched.

    ``trajectory`` is [K, ...], ``reference`` broadcasts to [...]; returns [...] steps. Unlike
    :func:`reach_and_stay` it does not censor: a parameter outside at the end gets the last step.
    """
    outside = (trajectory - reference).abs() > tolerance  # [K, ...]
    return steps[first_stable_index(outside).clamp(max=outside.shape[0] - 1)]
