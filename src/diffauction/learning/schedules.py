"""Step-indexed schedules for the temperature β and the learning rate.

A schedule maps the progress s = t/(T−1) ∈ [0, 1] of step t out of T to a value, vectorised over
runs (``start`` and ``end`` may be tensors shaped [runs]):

=============  ===============================================  ===============================
name           value at progress s                              use
=============  ===============================================  ===============================
constant       start                                            the seed's fixed β / lr
linear         start + (end − start)·s                          arithmetic ramp
geometric      start · (end/start)^s                            equal ratio per step
inverse_time   1 / ((1 − s)/start + s/end)                      temperature 1/β (or 1/lr) moves
                                                                linearly: lr₀/(1 + k·t) decay
=============  ===============================================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCHEDULES = ("constant", "linear", "geometric", "inverse_time")


@dataclass(frozen=True)
class Schedule:
    name: str
    start: torch.Tensor  # [runs]
    end: torch.Tensor  # [runs]

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"schedule: unknown name {self.name!r}; allowed: {list(SCHEDULES)}")

    def at(self, step: int, total_steps: int) -> torch.Tensor:
        s = step / max(total_steps - 1, 1)
        if self.name == "constant":
            return self.start
        if self.name == "linear":
            return self.start + (self.end - self.start) * s
        if self.name == "geometric":
            return self.start * (self.end / self.start) ** s
        return 1.0 / ((1.0 - s) / self.start + s / self.end)

