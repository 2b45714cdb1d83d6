"""Batched, non-cooperative gradient ascent on the smoothed auction.

One call to :func:`train` runs many independent learning runs (seeds × settings) and all their
agents as a single tensor program shaped ``[runs, batch, agents]``:

1. every run draws a fresh batch of values from its own generator (online gradient ascent: one
   new batch per step; a run's draws depend only on its seed, not on which runs share the batch);
2. agents bid b = π_θ(v); agent i's gradient is E[∂ũ_i/∂θ_i] with every opponent's bid held
   fixed (non-cooperative: no gradient flows from u_j into θ_i);
3. Adam or SGD ascends each run's and agent's parameters with that run's learning rate, under
   per-run schedules for β and the learning rate (:mod:`diffauction.schedules`).

The gradient of a linear policy has a closed form (``gradient="analytic"``, the fast path);
``gradient="autograd"`` back-propagates the sum of the agents' smoothed utilities, each computed
with detached opponents, and gives the same numbers (tested).

Beyond the seed's setting (all optional; their defaults reproduce it exactly): affine and neural
policies (:mod:`diffauction.policies`, autograd gradient only), one prior per agent
(``agent_priors``), CRRA bidders with one ρ per run (``risk_aversion``, :mod:`diffauction.risk`),
and the bid functions recorded on a per-agent value grid (``grid_points``) for policies without a
scalar parameter. A shared network (symmetric agents) receives Σ_i ∂ũ_i/∂θ through each agent's
own bid only: still no gradient through an opponent's bid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .mechanisms import Mechanism, make_mechanism
from .policies import LinearPolicy, make_policy, value_grid
from .priors import UniformPrior, make_agent_priors, make_prior
from .risk import make_risk_averse
from .schedules import Schedule

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
    #: policy config mapping (:func:`diffauction.policies.make_policy`); linear by default
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


class Workspace:
    """Preallocated agent-major buffers for the fused analytic step ([runs, agents, batch] in
    memory, used as [runs, batch, agents] views), so a training step allocates nothing big."""

    def __init__(self, runs: int, agents: int, batch: int, dtype, device):
        self.bids = torch.empty((runs, agents, batch), dtype=dtype, device=device).transpose(1, 2)
        self.scratch = torch.empty_like(self.bids)


def analytic_gradient_inplace(policy: LinearPolicy, mechanism: Mechanism, values: torch.Tensor,
                              params: torch.Tensor, beta: torch.Tensor,
                              work: Workspace) -> torch.Tensor:
    """:func:`analytic_gradient` computed in ``work``'s buffers with the mechanism's fused
    in-place derivative (same numbers up to rounding; tested)."""
    bids = torch.mul(params[:, None, :], values, out=work.bids)
    grad = mechanism.smoothed_bid_gradient_(values, bids, beta, work.scratch)
    return grad.mul_(values).mean(dim=1)


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




GRADIENTS = {
    # the trainer's gradient functions: (policy, mechanism, values, params, beta, workspace)
    "analytic": analytic_gradient_inplace,
    "autograd": lambda policy, mechanism, values, params, beta, work: autograd_gradient(
        policy, mechanism, values, params, beta),
}


def broadcast_per_run(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-run tensor [runs] viewed to broadcast against ``like`` [runs, ...]."""
    return x.reshape(-1, *([1] * (like.dim() - 1)))


class Adam:
    """Adam ascent with a per-run learning rate; state shaped like the parameters."""

    def __init__(self, params: torch.Tensor, betas: tuple[float, float], eps: float):
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.t = 0

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor) -> None:
        self.t += 1
        self.m.mul_(self.b1).add_(grad, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        params.add_(broadcast_per_run(lr, params) * m_hat / (v_hat.sqrt() + self.eps))


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

    A run's draws depend only on its seed, never on the other runs in the program.
    """

    def __init__(self, kind: str, seeds: list[int], agents: int, batch: int, dtype, device):
        if kind not in SAMPLERS:
            raise ValueError(f"sampler: unknown sampler {kind!r}; allowed: {list(SAMPLERS)}")
        if kind == "antithetic" and batch % 2:
            raise ValueError(f"sampler: 'antithetic' needs an even batch_size, got {batch}")
        self.kind, self.agents, self.batch = kind, agents, batch
        # On the CPU numpy's PCG64 draws about twice as fast as torch's generator; on a GPU the
        # draws stay on the device.
        self.on_cpu = torch.device(device).type == "cpu"
        if self.on_cpu:
            self.generators = [np.random.Generator(np.random.PCG64(int(s))) for s in seeds]
        else:
            self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.sobol = [torch.quasirandom.SobolEngine(agents, scramble=True, seed=int(s))
                      for s in seeds] if kind == "sobol" else []
        self.dtype, self.device = dtype, device

    def fill(self, buffer: torch.Tensor) -> None:
        """Overwrite ``buffer`` [runs, agents, batch] with the next draws of every run."""
        if self.kind == "sobol":
            for r, engine in enumerate(self.sobol):
                points = engine.draw(self.batch, dtype=torch.float64)  # [batch, agents]
                buffer[r].copy_(points.T)
            return
        half = self.batch // 2 if self.kind == "antithetic" else self.batch
        if self.on_cpu:
            np_dtype = np.float32 if buffer.dtype == torch.float32 else np.float64
            draws = np.empty((self.agents, half), dtype=np_dtype)
            target = buffer.numpy()
            for r, generator in enumerate(self.generators):
                if half == self.batch:
                    generator.random(out=target[r], dtype=np_dtype)
                else:
                    generator.random(out=draws, dtype=np_dtype)
                    target[r, :, :half] = draws
        else:
            for r, generator in enumerate(self.generators):
                torch.rand((self.agents, half), generator=generator, out=buffer[r, :, :half])
        if self.kind == "antithetic":
            torch.sub(1.0, buffer[:, :, :half], out=buffer[:, :, half:])


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
    """Run every run of ``setup`` in one batched program; see the module docstring."""
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
    work = Workspace(runs, agents, batch, dtype, device)

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
    for t in range(steps):
        sampler.fill(unit_buffer)
        # U[0,1] is the identity map (0 + 1·u == u exactly): skip a full-size allocation per step
        values = unit if standard_uniform else prior.transform(unit)
        beta_t = beta.at(t, steps)
        lr_t = lr.at(t, steps)
        grad = gradient_fn(policy, mechanism, values, params, beta_t[:, None, None], work)
        previous.copy_(params)
        optimizer.step(params, grad, lr_t)
        if not bool(torch.isfinite(params).all()):
            _raise_non_finite(params, t + 1, setup)
        k = k_of_step.get(t + 1)
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
