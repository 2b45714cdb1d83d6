"""The training loop: batched, non-cooperative gradient ascent, one program for many runs.

One call to :func:`train` runs many independent learning runs (seeds × settings) and all their
agents as a single tensor program shaped ``[runs, batch, agents]``:

1. every run draws a fresh batch of values from its own generator (online gradient ascent: one
   new batch per step; a run's draws depend only on its seed, not on which runs share the batch;
   :mod:`diffauction.learning.samplers`);
2. agents bid b = π_θ(v); an estimator (:mod:`diffauction.learning.estimators`) gives agent i's
   ascent direction for θ_i with every opponent held at its current θ_j (non-cooperative);
3. Adam or SGD (:mod:`diffauction.learning.optimizers`) ascends each run's and agent's
   parameters with that run's learning rate, under per-run schedules for β and the learning rate
   (:mod:`diffauction.learning.schedules`); agents listed in ``truthful_agents`` bid their value
   and do not learn (the LLG auction's global bidder).

Estimators (``gradient``): ``analytic`` (the fast path, linear policy: the mechanism's fused
``linear_bid_gradient_``), ``autograd`` (any policy; the same numbers as analytic, tested),
``npga`` and ``reinforce`` (zeroth-order, hard auction, any policy; ``gradient_options``). On the
CPU a step draws and uses the values in cache-sized blocks of whole runs
(:data:`CPU_BLOCK_ELEMENTS`), which changes no number, and subnormals are flushed to zero while
:func:`train` runs. ``benchmarks/throughput.py`` measures all of this.

Beyond the seed's setting (all optional; their defaults reproduce it exactly): affine and neural
policies (:mod:`diffauction.game.policies`), one prior per agent (``agent_priors``), CRRA bidders
with one ρ per run (``risk_aversion``, :mod:`diffauction.game.risk`), and the bid functions
recorded on a per-agent value grid (``grid_points``) for policies without a scalar parameter. A
shared network (symmetric agents) receives Σ_i ∂ũ_i/∂θ through each agent's own bid only.

The neural recipe's options (``benchmarks/time_to_accuracy.py`` measures them): an
exponential moving average of the parameters (``ema_decay``), wall-clock records
(``record_time``), and autograd's re-pairings of the batch (``gradient_options.pairings``)
and per-value weights (``value_power``, ``value_floor``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from diffauction.game.mechanisms import make_mechanism
from diffauction.game.policies import value_grid
from diffauction.game.priors import UniformPrior, make_agent_priors, make_prior
from diffauction.game.risk import make_risk_averse
from diffauction.learning.estimators import (
    make_estimator,
)
from diffauction.learning.optimizers import make_optimizer
from diffauction.learning.pretrain import make_policy
from diffauction.learning.recording import (
    History,
    TrainResult,
    movement,
    record_steps,
    tail_start,
)
from diffauction.learning.samplers import ValueSampler
from diffauction.learning.schedules import Schedule

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str) -> torch.device:
    """``cpu`` | ``cuda`` | ``auto`` (CUDA when available, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device: 'cuda' was requested but torch finds no CUDA GPU "
            f"(torch {torch.__version__}, cuda build: {torch.version.cuda}); "
            "use device: cpu or device: auto"
        )
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: unknown device {name!r}; allowed: ['auto', 'cpu', 'cuda']")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """What a result table records about the device: ``cpu``, or ``cuda (<GPU name>)``. The two
    draw different random numbers (numpy's PCG64 on the CPU, torch's Philox on a GPU)."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@dataclass
class RunBatch:
    """Everything one batched program needs. Per-run lists have one entry per run."""

    n_agents: int
    seeds: list[int]
    beta_start: list[float]
    beta_end: list[float]
    lr_start: list[float]
    lr_end: list[float]
    w0: list[float]
    batch_size: int
    steps: int
    mechanism: str = "first_price"
    prior: dict = field(default_factory=lambda: {"name": "uniform", "low": 0.0, "high": 1.0})
    beta_schedule: str = "constant"
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    momentum: float = 0.0
    record_every: int = 1
    tail_fraction: float = 0.1
    #: estimator: analytic | autograd | npga | reinforce (diffauction.learning.estimators)
    gradient: str = "analytic"
    #: the estimator's settings, e.g. npga {population, sigma, baseline, antithetic},
    #: reinforce {sigma, learn_sigma, sigma_min}
    gradient_options: dict = field(default_factory=dict)
    sampler: str = "iid"
    dtype: str = "float32"
    device: str = "cpu"
    #: policy config mapping (:func:`diffauction.learning.pretrain.make_policy`); linear default
    policy: dict = field(default_factory=lambda: {"name": "linear"})
    #: one prior mapping per agent (overrides ``prior``), or None for iid agents
    agent_priors: list[dict] | None = None
    #: CRRA ρ per run (first price only), or None for risk-neutral bidders
    risk_aversion: list[float] | None = None
    #: record every agent's bid function on this many values of its support (0: do not)
    grid_points: int = 0
    #: agents that bid their value and do not learn (linear or affine policy)
    truthful_agents: list[int] = field(default_factory=list)
    #: record these steps (and 0 and the last) instead of every ``record_every``-th
    record_steps: list[int] | None = None
    #: EMA decay γ of the parameters' running average θ̄ ← γθ̄ + (1 − γ)θ after every step
    #: (0: none); recorded as extras ``params_ema`` [K, runs, ...] and ``final_ema``
    ema_decay: float = 0.0
    #: record extras ``seconds`` [K]: wall time since :func:`train` was called (pre-training
    #: included) at every recorded step, for time-to-accuracy benchmarks
    record_time: bool = False

    @property
    def runs(self) -> int:
        return len(self.seeds)


#: Valuations (runs × batch × agents) a CPU training step handles at once. A block's values, bids
#: and scratch (3 × 512 KiB in float32) stay in a core's 2 MiB L2 cache between the ~10
#: elementwise passes of the fused step; on a whole 256 × 1024 × 2 batch (three 2 MiB buffers)
#: every pass runs from memory and costs 3–10× more, and a neural policy's batched autograd over
#: 64 × 4096 × 5 runs 2.4× faster in blocks (benchmarks/throughput.py). Blocks hold whole runs,
#: so a run's arithmetic does not depend on the block size (tested).
CPU_BLOCK_ELEMENTS = 1 << 17


def run_blocks(runs: int, per_run: int, block_elements: int | None) -> list[slice]:
    """Consecutive slices of whole runs with at most ``block_elements`` elements each (one run
    at least); ``None`` gives one block of every run."""
    if block_elements is None:
        return [slice(0, runs)]
    size = max(1, block_elements // max(per_run, 1))
    return [slice(lo, min(lo + size, runs)) for lo in range(0, runs, size)]


def _raise_non_finite(params: torch.Tensor, step: int, setup: RunBatch) -> None:
    bad = (~torch.isfinite(params)).reshape(params.shape[0], -1).any(dim=1)
    bad = bad.nonzero().flatten().tolist()
    run = bad[0]
    raise FloatingPointError(
        f"non-finite parameters after step {step} in run {run} (seed {setup.seeds[run]}, "
        f"beta_start {setup.beta_start[run]}, lr_start {setup.lr_start[run]}); "
        f"{len(bad)} of {setup.runs} runs affected"
    )


def train(setup: RunBatch) -> TrainResult:
    """Run every run of ``setup`` in one batched program; see the module docstring.

    On the CPU, subnormal floats are flushed to zero while it runs (x86 FTZ/DAZ, switched off
    again afterwards): at large β the win probabilities of clear losers underflow through the
    subnormal range (< 1.2e-38 in float32), which x86 processes about 100× slower; flushing
    makes annealed runs 1.5× faster and changes no digit that is reported.
    """
    started = time.perf_counter()
    check_recipe(setup)
    flushing = torch.set_flush_denormal(True)  # False where the processor cannot
    try:
        return Program(setup, started).run()
    finally:
        if flushing:
            torch.set_flush_denormal(False)


def check_recipe(setup: RunBatch) -> None:
    """Clear errors for the recipe options before any work starts."""
    if not 0.0 <= setup.ema_decay < 1.0:
        raise ValueError(f"ema_decay: must be in [0, 1), got {setup.ema_decay!r}")


def make_truthful(policy, agents: list[int]) -> None:
    """Set ``agents``' parameters to the truthful bid b = v (linear w = 1, affine (1, 0))."""
    if not agents:
        return
    if policy.name == "linear":
        policy.params[:, agents] = 1.0
    elif policy.name == "affine":
        policy.params[:, agents, 0] = 1.0
        policy.params[:, agents, 1] = 0.0
    else:
        raise ValueError(f"truthful_agents: needs the linear or affine policy, got {policy.name!r}")


class Program:
    """One batched program built from a :class:`RunBatch`: mechanism, priors, policy, estimator,
    optimiser, sampler and the draw buffers, block by block; :meth:`run` is the loop."""

    def __init__(self, setup: RunBatch, started: float | None = None):
        self.setup = setup
        self.started = time.perf_counter() if started is None else started
        self.device, self.dtype = resolve_device(setup.device), DTYPES[setup.dtype]
        runs, agents, batch = setup.runs, setup.n_agents, setup.batch_size
        self.mechanism = make_mechanism(setup.mechanism)
        if setup.risk_aversion is not None:
            self.mechanism = make_risk_averse(setup.mechanism,
                                              self.per_run(setup.risk_aversion)[:, None, None])
        self.priors = make_agent_priors(setup.prior, setup.agent_priors, agents)
        # iid agents keep the single prior object (the seed's exact arithmetic)
        self.prior = make_prior(setup.prior) if setup.agent_priors is None else self.priors
        self.standard_uniform = isinstance(self.prior, UniformPrior) and \
            (self.prior.low, self.prior.high) == (0.0, 1.0)
        self.beta = Schedule(setup.beta_schedule, self.per_run(setup.beta_start),
                             self.per_run(setup.beta_end))
        self.lr = Schedule(setup.lr_schedule, self.per_run(setup.lr_start),
                           self.per_run(setup.lr_end))
        self.policy = make_policy(setup.policy, setup.seeds, agents, self.per_run(setup.w0),
                                  self.priors, self.dtype, self.device)
        make_truthful(self.policy, list(setup.truthful_agents))
        self.params = self.policy.params
        self.optimizer = make_optimizer(setup.optimizer, self.params, setup.adam_betas,
                                        setup.adam_eps, setup.momentum)
        self.sampler = ValueSampler(setup.sampler, setup.seeds, agents, batch, self.dtype,
                                    self.device)
        # on the CPU a step goes through cache-sized blocks of whole runs, each drawn and used at
        # once; per-run mechanism state (CRRA ρ) and GPUs take every run in one block
        blocked = self.device.type == "cpu" and setup.risk_aversion is None
        self.blocks = run_blocks(runs, agents * batch, CPU_BLOCK_ELEMENTS if blocked else None)
        first = self.blocks[0]
        self.estimator = make_estimator(setup, self.policy, self.mechanism, self.priors,
                                        first.stop - first.start, self.dtype, self.device)
        self.grad = torch.empty_like(self.params)
        self.ema = self.params.clone() if setup.ema_decay > 0 else None
        self.block_views = self._block_views()

    def per_run(self, xs) -> torch.Tensor:
        return torch.tensor(xs, dtype=self.dtype, device=self.device)

    def _block_views(self) -> list[tuple]:
        """Per block: (runs, its draw buffer, its [runs, batch, agents] view, parameters,
        gradient); views of buffers updated in place, so they stay valid for every step."""
        setup = self.setup
        # agent-major memory, viewed as [runs, batch, agents]: see highest_competing_bid
        unit_buffer = torch.empty((setup.runs, setup.n_agents, setup.batch_size),
                                  dtype=self.dtype, device=self.device)
        unit = unit_buffer.transpose(1, 2)
        return [(block, unit_buffer[block], unit[block], self.params[block], self.grad[block])
                for block in self.blocks]

    def gradient_step(self, beta_column: torch.Tensor) -> None:
        """Draw every block's values and write the estimator's gradient into ``self.grad``."""
        prior, standard_uniform = self.prior, self.standard_uniform
        for block, draws, block_unit, block_params, block_grad in self.block_views:
            self.sampler.fill(draws, block)
            # U[0,1] is the identity map (0 + 1·u == u exactly): no full-size copy per step
            values = block_unit if standard_uniform else prior.transform(block_unit)
            self.estimator(values, block_params, beta_column[block], block, block_grad)
        if self.setup.truthful_agents:
            self.grad[:, list(self.setup.truthful_agents)] = 0.0

    def grid_bids(self, grid_values: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.policy.bids(grid_values, self.params)

    def run(self) -> TrainResult:
        setup, params, steps = self.setup, self.params, self.setup.steps
        record = record_steps(steps, setup.record_every, setup.record_steps)
        k_of_step = {t: k for k, t in enumerate(record)}
        recorder = Recorder(self, len(record))
        estimator_step = getattr(self.estimator, "step", None)  # reinforce's own σ update
        for t in range(steps):
            beta_t, lr_t = self.beta.at(t, steps), self.lr.at(t, steps)
            self.gradient_step(beta_t[:, None, None])
            k = k_of_step.get(t + 1)
            if k is not None:
                recorder.previous.copy_(params)
            self.optimizer.step(params, self.grad, lr_t)
            if self.ema is not None:
                self.ema.lerp_(params, 1.0 - setup.ema_decay)
            if estimator_step is not None:
                estimator_step(lr_t)
            # one reduction per step; the exact check runs only when the sum is not finite
            if not math.isfinite(params.sum().item()) and not bool(torch.isfinite(params).all()):
                _raise_non_finite(params, t + 1, setup)
            recorder.after_step(t, k, beta_t, lr_t)
        return recorder.result(record)


class Recorder:
    """The history of a :class:`Program` at the recorded steps, and its tail averages."""

    def __init__(self, program: Program, count: int):
        setup, params = program.setup, program.params
        self.program, self.history = program, History(count)
        self.tail_start = tail_start(setup.steps, setup.tail_fraction)
        self.tail_sum = torch.zeros_like(params)
        self.previous = params.clone()
        self.grid_values = self.grid_tail_sum = None
        if setup.grid_points > 0:
            priors = program.priors
            grid = value_grid(priors.lows, priors.highs, setup.grid_points, program.dtype,
                              program.device)
            self.grid_values = grid.unsqueeze(0).expand(setup.runs, -1, -1)
            self.grid_tail_sum = torch.zeros((setup.runs, *grid.shape), dtype=program.dtype,
                                             device=program.device)
        self.write(0, program.beta.at(0, setup.steps), program.lr.at(0, setup.steps))

    def write(self, k: int, beta_t, lr_t, grid_bids=None) -> None:
        program, params = self.program, self.program.params
        self.history.write(k, params=params)
        if k > 0:
            self.history.write(k, gradient=program.grad, movement=movement(params - self.previous))
        self.history.write(k, beta=beta_t, lr=lr_t)
        if self.grid_values is not None:
            self.history.write(k, bid_grid=program.grid_bids(self.grid_values)
                               if grid_bids is None else grid_bids)
        state = getattr(program.estimator, "state", None)
        if state is not None:
            self.history.write(k, **state())
        if program.ema is not None:
            self.history.write(k, params_ema=program.ema)
        if program.setup.record_time:
            seconds = time.perf_counter() - program.started
            self.history.write(k, seconds=torch.tensor(seconds, dtype=torch.float64))

    def after_step(self, t: int, k: int | None, beta_t, lr_t) -> None:
        params = self.program.params
        grid_bids = None
        if self.grid_values is not None and (t >= self.tail_start or k is not None):
            grid_bids = self.program.grid_bids(self.grid_values)
        if t >= self.tail_start:
            self.tail_sum += params
            if grid_bids is not None:
                self.grid_tail_sum += grid_bids
        if k is not None:
            self.write(k, beta_t, lr_t, grid_bids)

    def result(self, record: list[int]) -> TrainResult:
        setup, program = self.program.setup, self.program
        hist = self.history.cpu()
        count = setup.steps - self.tail_start
        for name in ("gradient", "movement"):  # zero at step 0; all zero without a step
            if name not in hist:
                like = hist["params"] if name == "gradient" else hist["beta"]
                hist[name] = torch.zeros_like(like)
        extras = {name: x for name, x in hist.items() if name not in RECORDED}
        if program.ema is not None:
            extras["final_ema"] = program.ema.clone().cpu()
        return TrainResult(
            steps=torch.tensor(record), params=hist["params"], gradient=hist["gradient"],
            movement=hist["movement"], beta=hist["beta"], lr=hist["lr"],
            final=program.params.clone().detach().cpu(),
            tail_average=(self.tail_sum / count).detach().cpu(),
            samples_per_step=setup.batch_size * setup.n_agents, seeds=list(setup.seeds),
            learner=setup.gradient if setup.gradient in ("npga", "reinforce") else "smoothed",
            value_grid=None if self.grid_values is None else self.grid_values[0].clone().cpu(),
            bid_grid=hist.get("bid_grid"),
            bid_grid_tail=None if self.grid_tail_sum is None
            else (self.grid_tail_sum / count).detach().cpu(),
            extras=extras,
        )


RECORDED = ("params", "gradient", "movement", "beta", "lr", "bid_grid")
