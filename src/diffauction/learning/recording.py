"""What a training loop records: the recorded steps, the history at those steps, tail averages.

Shared by the one training loop (:mod:`diffauction.learning.trainer`), Hedge
(:mod:`diffauction.learning.baselines`) and PPO (:mod:`diffauction.learning.ppo`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


def record_steps(steps: int, record_every: int = 1, explicit=None) -> list[int]:
    """Steps whose state is recorded: 0, every ``record_every``-th and the last one, or
    0, the ``explicit`` steps (within 1..steps) and the last one."""
    if explicit is not None:
        return sorted({0, steps} | {int(t) for t in explicit if 1 <= int(t) <= steps})
    return [0] + [t for t in range(1, steps + 1) if t % record_every == 0 or t == steps]


def log_record_steps(steps: int, records: int) -> list[int]:
    """About ``records`` steps spaced evenly in log(step) over 1..steps (for log-log plots)."""
    if steps <= records:
        return list(range(1, steps + 1))
    points = torch.logspace(0.0, math.log10(steps), records, dtype=torch.float64)
    return sorted({int(round(float(t))) for t in points} | {steps})


def tail_start(steps: int, tail_fraction: float) -> int:
    """First step (0-based, after which the iterate is summed) of the last ``tail_fraction``."""
    return steps - max(1, math.ceil(tail_fraction * steps))


def movement(delta: torch.Tensor) -> torch.Tensor:
    """d_t = mean_i |Δθ_i| for scalar parameters [runs, agents], mean_i ‖Δθ_i‖₂ for vectors."""
    if delta.dim() == 2:
        return delta.abs().mean(dim=1)
    return delta.flatten(2).norm(dim=2).mean(dim=1)


class History:
    """Named tensors recorded at K steps: ``history[name][k] = value`` into [K, *value.shape]
    buffers allocated at the first write (zeros, so unwritten rows read 0)."""

    def __init__(self, count: int):
        self.count = count
        self.buffers: dict[str, torch.Tensor] = {}

    def write(self, k: int, **values: torch.Tensor) -> None:
        for name, value in values.items():
            if name not in self.buffers:
                self.buffers[name] = torch.zeros((self.count, *value.shape), dtype=value.dtype,
                                                 device=value.device)
            self.buffers[name][k] = value

    def cpu(self) -> dict[str, torch.Tensor]:
        return {name: x.detach().to("cpu") for name, x in self.buffers.items()}


@dataclass
class Trajectory:
    """A batched learner's recorded trajectory (tensors on the CPU); K recorded steps."""

    learner: str
    seeds: list[int]
    steps: torch.Tensor  # [K] step index, 0 = initial parameters
    params: torch.Tensor  # [K, runs, agents] slope w (Hedge: least-squares slope of its bids)
    samples: torch.Tensor  # [K] cumulative valuations drawn per run (int64)
    samples_per_step: int
    final: torch.Tensor  # [runs, agents]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    evaluations_per_sample: int = 1  # utility evaluations per drawn valuation (accounting)

    @property
    def samples_per_run(self) -> int:
        return int(self.samples[-1])
