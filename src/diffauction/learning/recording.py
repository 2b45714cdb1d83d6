"""What a training loop records: the recorded steps, the history at those steps, tail averages,
and the one result type every learner returns (:class:`TrainResult`).

Shared by the one training loop (:mod:`diffauction.learning.trainer`), Hedge
(:mod:`diffauction.learning.hedge`), PPO (:mod:`diffauction.learning.ppo`) and LLG
(:mod:`diffauction.learning.llg`).
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
class TrainResult:
    """What every learner returns (the one loop, NPGA, REINFORCE, Hedge, PPO, LLG): K recorded
    steps of ``runs`` runs and the final state; tensors live on the CPU. Fields a learner has
    no such thing for are None (Hedge and PPO: no gradient, β or learning rate)."""

    steps: torch.Tensor  # [K] step index, 0 = initial parameters (PPO: collector iterations)
    #: [K, runs, agents] (linear; Hedge, PPO: least-squares slope of the bid function);
    #: [K, runs, agents, P] for affine and neural policies; LLG: [K, runs, 2 locals, (a, w)]
    params: torch.Tensor
    final: torch.Tensor  # [runs, ...] last iterate
    samples_per_step: int  # valuations drawn per run and step (batch × agents; PPO: frames × A)
    seeds: list[int] = field(default_factory=list)
    learner: str = "smoothed"  # smoothed | npga | reinforce | hedge | ppo | llg
    evaluations_per_sample: int = 1  # utility evaluations per drawn valuation (accounting)
    #: [runs, ...] mean iterate over the last tail_fraction of steps (the one loop and LLG)
    tail_average: torch.Tensor | None = None
    gradient: torch.Tensor | None = None  # [K, runs, ...] gradient of the step that led here
    movement: torch.Tensor | None = None  # [K, runs] d_t = mean_i |θ_i,t − θ_i,t−1|
    beta: torch.Tensor | None = None  # [K, runs]
    lr: torch.Tensor | None = None  # [K, runs]
    # with grid_points > 0 (params, gradient, final, tail_average are then [.., runs, A, P] for
    # affine and neural policies, and movement is mean_i ‖Δθ_i‖₂):
    value_grid: torch.Tensor | None = None  # [G, agents] v_{k,i} on agent i's support
    bid_grid: torch.Tensor | None = None  # [K, runs, G, agents] b_i(v_{k,i}) at recorded steps
    bid_grid_tail: torch.Tensor | None = None  # [runs, G, agents] mean over the tail steps
    #: the learner's own records: reinforce's bid noise ``sigma`` [K, runs, agents]; Hedge and
    #: PPO's ``bid_function`` [K, runs, agents, V] at ``value_midpoints`` [V]; Hedge's
    #: ``bid_points`` [G] and ``weights``; PPO's ``frames`` (auctions played, 0-d)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def samples(self) -> torch.Tensor:
        """[K] cumulative valuations drawn per run at the recorded steps (int64)."""
        return self.steps.to(torch.int64) * self.samples_per_step

    @property
    def samples_per_run(self) -> int:
        """Valuations drawn per run over the whole training."""
        return int(self.steps[-1]) * self.samples_per_step


class BatchAccounting:
    """Compute accounting of a learner config with a ``batch_size`` (a mixin without fields, so
    the configs' recorded settings keep their order): a step draws ``batch_size`` values per
    agent, and each valuation costs one utility evaluation unless the learner says otherwise."""

    def samples_per_step(self, n_agents: int) -> int:
        return self.batch_size * n_agents

    def evaluations_per_sample(self) -> int:
        return 1
