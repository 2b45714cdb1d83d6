"""Batched, non-cooperative gradient ascent on the smoothed auction.

One call to :func:`train` runs many independent learning runs (seeds × settings) and all their
agents as a single tensor program shaped ``[runs, batch, agents]``:

1. every run draws a fresh batch of values from its own generator (online gradient ascent: one
   new batch per step; a run's draws depend only on its seed, not on which runs share the batch);
2. agents bid b = π_θ(v); agent i's gradient is E[∂ũ_i/∂θ_i] with every opponent's bid held
   fixed (non-cooperative: no gradient flows from u_j into θ_i);
3. Adam or SGD ascends each run's and agent's parameters with that run's learning rate, under
   per-run schedules for β and the learning rate (:mod:`diffauction.learning.schedules`).

The gradient of a linear policy has a closed form (``gradient="analytic"``, the fast path: the
mechanism's fused ``linear_bid_gradient_``); ``gradient="autograd"`` back-propagates the sum of
the agents' smoothed utilities, each computed with detached opponents, and gives the same numbers
(tested). On the CPU a step draws and uses the values in cache-sized blocks of whole runs
(:data:`CPU_BLOCK_ELEMENTS`), which changes no number, and subnormals are flushed to zero while
:func:`train` runs. ``benchmarks/throughput.py`` measures all of this.

Beyond the seed's setting (all optional; their defaults reproduce it exactly): affine and neural
policies (:mod:`diffauction.game.policies`, autograd gradient only), one prior per agent
(``agent_priors``), CRRA bidders with one ρ per run (``risk_aversion``, :mod:`diffauction.game.risk`),
and the bid functions recorded on a per-agent value grid (``grid_points``) for policies without a
scalar parameter. A shared network (symmetric agents) receives Σ_i ∂ũ_i/∂θ through each agent's
own bid only: still no gradient through an opponent's bid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from diffauction.game.mechanisms import Mechanism, broadcast_per_run, make_mechanism
from diffauction.game.policies import LinearPolicy, make_policy, value_grid
from diffauction.game.priors import UniformPrior, make_agent_priors, make_prior
from diffauction.game.risk import make_risk_averse
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
    gradient: str = "analytic"
    sampler: str = "iid"
    dtype: str = "float32"
    device: str = "cpu"
    #: policy config mapping (:func:`diffauction.game.policies.make_policy`); linear by default
    policy: dict = field(default_factory=lambda: {"name": "linear"})
    #: one prior mapping per agent (overrides ``prior``), or None for iid agents
    agent_priors: list[dict] | None = None
    #: CRRA ρ per run (first price only), or None for risk-neutral bidders
    risk_aversion: list[float] | None = None
    #: record every agent's bid function on this many values of its support (0: do not)
    grid_points: int = 0

    @property
    def runs(self) -> int:
        return len(self.seeds)


@dataclass
class TrainResult:
    """Recorded trajectory (K recorded steps) and final state; tensors live on the CPU."""

    steps: torch.Tensor  # [K] step index, 0 = initial parameters
    params: torch.Tensor  # [K, runs, agents]
    gradient: torch.Tensor  # [K, runs, agents] gradient used for the step that led here (0 at 0)
    movement: torch.Tensor  # [K, runs] d_t = mean_i |θ_i,t − θ_i,t−1|
    beta: torch.Tensor  # [K, runs]
    lr: torch.Tensor  # [K, runs]
    final: torch.Tensor  # [runs, agents] last iterate
    tail_average: torch.Tensor  # [runs, agents] mean iterate over the last tail_fraction of steps
    samples_per_run: int  # valuations drawn per run (steps × batch × agents)
    # with grid_points > 0 (params, gradient, final, tail_average are then [.., runs, A, P] for
    # affine and neural policies, and movement is mean_i ‖Δθ_i‖₂):
    value_grid: torch.Tensor | None = None  # [G, agents] v_{k,i} on agent i's support
    bid_grid: torch.Tensor | None = None  # [K, runs, G, agents] b_i(v_{k,i}) at recorded steps
    bid_grid_tail: torch.Tensor | None = None  # [runs, G, agents] mean over the tail steps


def analytic_gradient(
    policy: LinearPolicy,
    mechanism: Mechanism,
    values: torch.Tensor,
    params: torch.Tensor,
    beta: torch.Tensor,
) -> torch.Tensor:
    """E[v_i · ∂ũ_i/∂b_i] per run and agent, from the mechanism's closed-form bid derivative."""
    bids = policy.bids(values, params)
    return policy.chain_rule(values, mechanism.smoothed_bid_gradient(values, bids, beta))


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


class Workspace:
    """Preallocated agent-major buffers for the fused analytic step ([runs, agents, batch] in
    memory, used as [runs, batch, agents] views), so a training step allocates nothing big."""

    def __init__(self, runs: int, agents: int, batch: int, dtype, device):
        self.bids = torch.empty((runs, agents, batch), dtype=dtype, device=device).transpose(1, 2)
        self.scratch = torch.empty_like(self.bids)


def analytic_gradient_inplace(policy: LinearPolicy, mechanism: Mechanism, values: torch.Tensor,
                              params: torch.Tensor, beta: torch.Tensor, work: Workspace,
                              out: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`analytic_gradient` computed in ``work``'s buffers by the mechanism's fused
    ``linear_bid_gradient_`` (same numbers up to rounding; tested); written to ``out`` if given."""
    n = values.shape[0]  # a last block may hold fewer runs than the workspace
    grad = mechanism.linear_bid_gradient_(values, params, beta, work.bids[:n], work.scratch[:n])
    return grad if out is None else out.copy_(grad)


def autograd_gradient(
    policy,
    mechanism: Mechanism,
    values: torch.Tensor,
    params: torch.Tensor,
    beta: torch.Tensor,
) -> torch.Tensor:
    """∂/∂θ of Σ_i E[ũ_i] where each ũ_i treats the opponents' bids as constants.

    Because ``smoothed_utility`` detaches the highest competing bid, the derivative of the sum in
    θ_i is exactly ∂E[ũ_i]/∂θ_i: the non-cooperative gradient.
    """
    theta = params.detach().requires_grad_(True)
    with torch.enable_grad():
        bids = policy.bids(values, theta)
        utility = mechanism.smoothed_utility(values, bids, beta).mean(dim=1).sum()
        (grad,) = torch.autograd.grad(utility, theta)
    return grad


def _autograd_into(policy, mechanism, values, params, beta, work, out):
    return out.copy_(autograd_gradient(policy, mechanism, values, params, beta))


GRADIENTS = {
    # the trainer's gradient functions: (policy, mechanism, values, params, beta, workspace, out)
    "analytic": analytic_gradient_inplace,
    "autograd": _autograd_into,
}


class Adam:
    """Adam ascent with a per-run learning rate; state shaped like the parameters."""

    def __init__(self, params: torch.Tensor, betas: tuple[float, float], eps: float):
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.denom = torch.empty_like(params)
        self.t = 0

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor) -> None:
        """θ += lr·m̂/(√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), in few passes."""
        self.t += 1
        self.m.lerp_(grad, 1 - self.b1)
        self.v.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        denom = torch.sqrt(self.v, out=self.denom).div_(math.sqrt(1 - self.b2**self.t))
        ratio = torch.div(self.m, denom.add_(self.eps), out=denom)  # m/(√v̂ + ε)
        params.addcmul_(broadcast_per_run(lr, params), ratio, value=1 / (1 - self.b1**self.t))


class SGD:
    """Plain (optionally heavy-ball) gradient ascent with a per-run learning rate."""

    def __init__(self, params: torch.Tensor, momentum: float):
        self.momentum = momentum
        self.buffer = torch.zeros_like(params)

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor) -> None:
        self.buffer.mul_(self.momentum).add_(grad)
        params.add_(broadcast_per_run(lr, params) * self.buffer)


def make_optimizer(setup: RunBatch, params: torch.Tensor):
    if setup.optimizer == "adam":
        return Adam(params, setup.adam_betas, setup.adam_eps)
    if setup.optimizer == "sgd":
        return SGD(params, setup.momentum)
    raise ValueError(
        f"optimizer.name: unknown optimizer {setup.optimizer!r}; allowed: ['adam', 'sgd']"
    )


SAMPLERS = ("iid", "antithetic", "sobol")


class ValueSampler:
    """Fresh U[0,1) draws for every run and step, written into an agent-major buffer.

    * ``iid``: plain pseudo-random draws from the run's own generator;
    * ``antithetic``: the second half of the batch mirrors the first, u ↦ 1 − u (pairs of
      negatively correlated draws; needs an even batch);
    * ``sobol``: a scrambled Sobol sequence in N dimensions per run (quasi-Monte-Carlo), each
      step taking the next ``batch`` points; the scramble is seeded by the run's seed.

    A run's draws depend only on its seed, never on the other runs in the program or on how the
    runs are split into blocks. On the CPU each run owns a PCG64 bit generator; float32 draws are
    k·2⁻²⁴ with k the low 24 bits of each 32-bit half of its raw 64-bit output (two draws per
    word, converted in bulk: 1.5× faster than numpy's float32 ``random``, which calls into the
    generator once per value), float64 draws are numpy's 53-bit ``random``. On a GPU each run
    owns a ``torch.Generator`` and the draws stay there.
    """

    def __init__(self, kind: str, seeds: list[int], agents: int, batch: int, dtype, device):
        if kind not in SAMPLERS:
            raise ValueError(f"sampler: unknown sampler {kind!r}; allowed: {list(SAMPLERS)}")
        if kind == "antithetic" and batch % 2:
            raise ValueError(f"sampler: 'antithetic' needs an even batch_size, got {batch}")
        self.kind, self.agents, self.batch = kind, agents, batch
        self.half = batch // 2 if kind == "antithetic" else batch
        self.on_cpu = torch.device(device).type == "cpu"
        if self.on_cpu:
            self.bit_generators = [np.random.PCG64(int(s)) for s in seeds]
            self.generators = [np.random.Generator(g) for g in self.bit_generators]
        else:
            self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.sobol = [torch.quasirandom.SobolEngine(agents, scramble=True, seed=int(s))
                      for s in seeds] if kind == "sobol" else []
        self.dtype, self.device = dtype, device
        self._words = np.empty((0, 0), dtype=np.uint64)  # raw-bit staging, grown on demand

    def fill(self, buffer: torch.Tensor, runs: slice = slice(None)) -> None:
        """Overwrite ``buffer`` [n, agents, batch] with the next draws of the n runs ``runs``."""
        if self.kind == "sobol":
            # SobolEngine draws on the CPU: gather every run's points, then one copy to a GPU
            staging = buffer if buffer.device.type == "cpu" else torch.empty(
                buffer.shape, dtype=buffer.dtype, pin_memory=torch.cuda.is_available())
            for r, engine in enumerate(self.sobol[runs]):
                points = engine.draw(self.batch, dtype=torch.float64)  # [batch, agents]
                staging[r].copy_(points.T)
            if staging is not buffer:
                buffer.copy_(staging, non_blocking=True)
            return
        half = self.half
        target = buffer if half == self.batch else buffer[:, :, :half]
        if not self.on_cpu:
            for r, generator in enumerate(self.generators[runs]):
                torch.rand((self.agents, half), generator=generator, out=target[r])
        elif buffer.dtype == torch.float32:
            self._fill_float32(self.bit_generators[runs], target)
        else:
            draws = target.numpy()
            scratch = None if half == self.batch else np.empty(draws.shape[1:], np.float64)
            for r, generator in enumerate(self.generators[runs]):
                if scratch is None:
                    generator.random(out=draws[r])
                else:
                    generator.random(out=scratch)
                    draws[r] = scratch
        if self.kind == "antithetic":
            torch.sub(1.0, buffer[:, :, :half], out=buffer[:, :, half:])

    def _fill_float32(self, bit_generators, target: torch.Tensor) -> None:
        n, per_run = target.shape[0], target[0].numel()
        words = (per_run + 1) // 2
        if self._words.shape[0] < n or self._words.shape[1] != words:
            self._words = np.empty((n, words), dtype=np.uint64)
        staging = self._words[:n]
        for r, bit_generator in enumerate(bit_generators):
            staging[r] = bit_generator.random_raw(words)
        bits = torch.from_numpy(staging.view(np.int32))[:, :per_run]  # [n, 2·words] → per run
        bits.bitwise_and_(0xFFFFFF)
        target.copy_(bits.reshape(target.shape)).mul_(2.0**-24)  # exact: k < 2²⁴


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
    flushing = torch.set_flush_denormal(True)  # False where the processor cannot
    try:
        return _train(setup)
    finally:
        if flushing:
            torch.set_flush_denormal(False)


def _train(setup: RunBatch) -> TrainResult:
    device = resolve_device(setup.device)
    dtype = DTYPES[setup.dtype]
    runs, batch, agents, steps = setup.runs, setup.batch_size, setup.n_agents, setup.steps

    def per_run(xs):
        return torch.tensor(xs, dtype=dtype, device=device)

    mechanism = make_mechanism(setup.mechanism)
    if setup.risk_aversion is not None:
        mechanism = make_risk_averse(setup.mechanism, per_run(setup.risk_aversion)[:, None, None])
    agent_priors = make_agent_priors(setup.prior, setup.agent_priors, agents)
    # iid agents keep the single prior object (the seed's exact arithmetic)
    prior = make_prior(setup.prior) if setup.agent_priors is None else agent_priors
    gradient_fn = GRADIENTS[setup.gradient]
    beta = Schedule(setup.beta_schedule, per_run(setup.beta_start), per_run(setup.beta_end))
    lr = Schedule(setup.lr_schedule, per_run(setup.lr_start), per_run(setup.lr_end))
    policy = make_policy(setup.policy, setup.seeds, agents, per_run(setup.w0), agent_priors,
                         dtype, device)
    if setup.gradient == "analytic" and not isinstance(policy, LinearPolicy):
        raise ValueError(f"gradient: 'analytic' needs the linear policy, got {policy.name!r}; "
                         "allowed: autograd")
    params = policy.params
    optimizer = make_optimizer(setup, params)
    sampler = ValueSampler(setup.sampler, setup.seeds, agents, batch, dtype, device)
    # agent-major memory, viewed as [runs, batch, agents]: see highest_competing_bid
    unit_buffer = torch.empty((runs, agents, batch), dtype=dtype, device=device)
    unit = unit_buffer.transpose(1, 2)
    # on the CPU a step goes through cache-sized blocks of whole runs, each drawn and used at
    # once; per-run mechanism state (CRRA ρ) and GPUs take every run in one block
    blocked = device.type == "cpu" and setup.risk_aversion is None
    blocks = run_blocks(runs, agents * batch, CPU_BLOCK_ELEMENTS if blocked else None)
    work = (Workspace(blocks[0].stop - blocks[0].start, agents, batch, dtype, device)
            if setup.gradient == "analytic" else None)
    grad = torch.empty_like(params)

    record = [0] + [t for t in range(1, steps + 1) if t % setup.record_every == 0 or t == steps]
    k_of_step = {t: k for k, t in enumerate(record)}
    hist_params = torch.empty((len(record), *params.shape), dtype=dtype, device=device)
    hist_grad = torch.zeros_like(hist_params)
    hist_move = torch.zeros((len(record), runs), dtype=dtype, device=device)
    hist_beta = torch.empty((len(record), runs), dtype=dtype, device=device)
    hist_lr = torch.empty_like(hist_beta)
    hist_params[0] = params
    hist_beta[0] = beta.at(0, steps)
    hist_lr[0] = lr.at(0, steps)

    tail_start = steps - max(1, math.ceil(setup.tail_fraction * steps))
    tail_sum = torch.zeros_like(params)
    previous = params.clone()

    grid_values = hist_grid = grid_tail_sum = None
    if setup.grid_points > 0:
        grid = value_grid(agent_priors.lows, agent_priors.highs, setup.grid_points, dtype, device)
        grid_values = grid.unsqueeze(0).expand(runs, -1, -1)
        hist_grid = torch.empty((len(record), runs, *grid.shape), dtype=dtype, device=device)
        grid_tail_sum = torch.zeros((runs, *grid.shape), dtype=dtype, device=device)
        with torch.no_grad():
            hist_grid[0] = policy.bids(grid_values, params)

    standard_uniform = isinstance(prior, UniformPrior) and (prior.low, prior.high) == (0.0, 1.0)
    # per block: (runs, its draw buffer, its [runs, batch, agents] view, parameters, gradient);
    # views of buffers updated in place, so they stay valid for every step
    block_views = [(block, unit_buffer[block], unit[block], params[block], grad[block])
                   for block in blocks]
    for t in range(steps):
        beta_t = beta.at(t, steps)
        lr_t = lr.at(t, steps)
        beta_column = beta_t[:, None, None]
        for block, draws, block_unit, block_params, block_grad in block_views:
            sampler.fill(draws, block)
            # U[0,1] is the identity map (0 + 1·u == u exactly): no full-size copy per step
            values = block_unit if standard_uniform else prior.transform(block_unit)
            gradient_fn(policy, mechanism, values, block_params, beta_column[block], work,
                        out=block_grad)
        k = k_of_step.get(t + 1)
        if k is not None:
            previous.copy_(params)
        optimizer.step(params, grad, lr_t)
        # one reduction per step; the exact check runs only when the sum is not finite
        if not math.isfinite(params.sum().item()) and not bool(torch.isfinite(params).all()):
            _raise_non_finite(params, t + 1, setup)
        grid_bids = None
        if grid_values is not None and (t >= tail_start or k is not None):
            with torch.no_grad():
                grid_bids = policy.bids(grid_values, params)
        if t >= tail_start:
            tail_sum += params
            if grid_bids is not None:
                grid_tail_sum += grid_bids
        if k is not None:
            hist_params[k] = params
            hist_grad[k] = grad
            hist_move[k] = _movement(params - previous)
            hist_beta[k] = beta_t
            hist_lr[k] = lr_t
            if grid_bids is not None:
                hist_grid[k] = grid_bids

    def cpu(x):
        return None if x is None else x.detach().to("cpu")

    tail_count = steps - tail_start
    return TrainResult(
        steps=torch.tensor(record),
        params=cpu(hist_params),
        gradient=cpu(hist_grad),
        movement=cpu(hist_move),
        beta=cpu(hist_beta),
        lr=cpu(hist_lr),
        final=cpu(params.clone()),
        tail_average=cpu(tail_sum / tail_count),
        samples_per_run=steps * batch * agents,
        value_grid=None if grid_values is None else cpu(grid_values[0].clone()),
        bid_grid=cpu(hist_grid),
        bid_grid_tail=None if grid_tail_sum is None else cpu(grid_tail_sum / tail_count),
    )


def _movement(delta: torch.Tensor) -> torch.Tensor:
    """d_t = mean_i |Δθ_i| for scalar parameters [runs, agents], mean_i ‖Δθ_i‖₂ for vectors."""
    if delta.dim() == 2:
        return delta.abs().mean(dim=1)
    return delta.flatten(2).norm(dim=2).mean(dim=1)
