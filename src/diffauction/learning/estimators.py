"""Gradient estimators of the training loop, one per ``RunBatch.gradient``.

Every estimator is called once per step and block of runs as
``estimator(values, params, beta, runs, out)`` with values [n, batch, agents] (the n runs of
the slice ``runs``), params [n, A, ...] (A = agents, or 1 for a shared network), beta [n, 1, 1],
and writes agent i's ascent direction for θ_i into ``out`` (shaped like ``params``). All are
non-cooperative: agent i's estimate moves θ_i alone, every opponent held at its current θ_j.

=========  ===================================================================================
analytic   E[v_i·∂ũ_i/∂b_i], the smoothed utility's closed form for the linear policy (fused)
autograd   ∂/∂θ of Σ_i E[ũ_i], opponents' bids detached (any policy); ``pairings`` M > 1
           averages the utility over M re-pairings of the batch's agents (:func:`repair`);
           ``value_power`` K > 0 weights each sample's own utility by its own value's
           :func:`value_weights` (a per-value preconditioner)
npga       NPGA (Bichler et al. 2021): (1/σ)·mean_p (u_i(θ_i + σε_p,i; θ_−i) − baseline_i)·ε_p,i
           on the hard auction, ε_p,i ~ N(0, I) shaped like θ_i (any policy)
reinforce  score function of a Gaussian bid a_i = π_θi(v_i) + s_i·z_i (clipped to [0, v̄_i])
           against the opponents' mean bids: E[(u_i − ū_i)·z_i/s_i·∂π_θi/∂θ_i] (any policy)
=========  ===================================================================================

The zeroth-order estimators (npga, reinforce) draw their noise from one ``torch.Generator`` per
run seeded by the run's seed (apart from the value draws), so a run's numbers do not depend on
its batch mates or on the CPU blocks.
"""

from __future__ import annotations

import math

import torch

from diffauction.game.mechanisms import Mechanism
from diffauction.game.policies import LinearPolicy
from diffauction.learning.hard_utility import deviation_utility
from diffauction.learning.optimizers import Adam

ESTIMATORS = ("analytic", "autograd", "npga", "reinforce")
NOISE_SEED_OFFSET = 0x5EED  # noise generators: seed + offset, apart from the value streams
PAIRING_STRIDE = 7919  # odd: the re-pairings of autograd's ``pairings`` option


def analytic_gradient(policy: LinearPolicy, mechanism: Mechanism, values: torch.Tensor,
                      params: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
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
                              params: torch.Tensor, beta: torch.Tensor, work: Workspace,
                              out: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`analytic_gradient` computed in ``work``'s buffers by the mechanism's fused
    ``linear_bid_gradient_`` (same numbers up to rounding; tested); written to ``out`` if given."""
    n = values.shape[0]  # a last block may hold fewer runs than the workspace
    grad = mechanism.linear_bid_gradient_(values, params, beta, work.bids[:n], work.scratch[:n])
    return grad if out is None else out.copy_(grad)


def repair(x: torch.Tensor, pairing: int) -> torch.Tensor:
    """The batch ``x`` [n, batch, agents] with agent j's column rolled by j·pairing·PAIRING_STRIDE
    along the batch: a new joint draw of independent agents from the same marginal samples
    (pairing 0 is ``x`` itself; for batch ≤ 2¹³, pairings·agents small, every agent pair meets a
    different partner in every pairing because the stride is odd)."""
    if pairing == 0:
        return x
    batch = x.shape[1]
    return torch.stack([torch.roll(x[..., j], shifts=(j * pairing * PAIRING_STRIDE) % batch,
                                   dims=1) for j in range(x.shape[-1])], dim=-1)


def value_weights(values: torch.Tensor, v_max: torch.Tensor, power: float,
                  floor: float) -> torch.Tensor:
    """w(v_i) = max(v_i/v̄_i, floor)^(−power), normalised to mean 1 over the batch of each run
    and agent; ``values`` [n, batch, agents], ``v_max`` [agents].

    A diagonal preconditioner in function space. At a symmetric first-price equilibrium with
    U[0, 1] values the interim utility's curvature in the own bid, −∂²U/∂b² at b*(v), scales as
    v^(N−2) (the win probability as v^(N−1)), so the plain gradient moves the bids of low values
    ~v^(N−2) times slower than those of high ones; ``power`` = N − 2 equalises them. A network's
    shading output b = v·σ(f) adds its own factor v to ∂b/∂f, so in the logit f the Newton step
    is weighted by v^(−N); the weights also scale up the low values' noise, and the powers that
    hold best in the benchmark lie between the two (``benchmarks/time_to_accuracy.py``). The weight
    depends on the agent's own value only, so agent i still ascends its own (re-weighted)
    utility alone, and every value's first-order condition ∂U_i/∂b_i(v) = 0, the equilibrium's,
    is unchanged.
    """
    weights = (values / v_max).clamp_min(floor).pow(-power)
    return weights / weights.mean(dim=1, keepdim=True)


def autograd_gradient(policy, mechanism: Mechanism, values: torch.Tensor, params: torch.Tensor,
                      beta: torch.Tensor, pairings: int = 1, value_power: float = 0.0,
                      value_floor: float = 0.1, v_max=1.0) -> torch.Tensor:
    """∂/∂θ of Σ_i E[ũ_i] where each ũ_i treats the opponents' bids as constants.

    Because ``smoothed_utility`` detaches the highest competing bid, the derivative of the sum in
    θ_i is exactly ∂E[ũ_i]/∂θ_i: the non-cooperative gradient. With ``pairings`` = M > 1 the
    expectation is the mean over M re-pairings of the batch (:func:`repair`): every own
    (value, bid) sample meets M different opponent samples, for the price of M utility
    evaluations but one network pass. The smoothed utility's derivative is non-zero only
    within ~1/β of the competing bid, so at large β few pairs carry the marginal term and M
    pairings cut that variance by about M. With ``value_power`` > 0 each sample's utility is
    weighted by :func:`value_weights` of its own value (``v_max`` [agents] scales the values).
    """
    theta = params.detach().requires_grad_(True)
    v_max = torch.as_tensor(v_max, dtype=values.dtype, device=values.device)
    with torch.enable_grad():
        bids = policy.bids(values, theta)
        utility = 0.0
        for m in range(pairings):
            own = repair(values, m)
            u = mechanism.smoothed_utility(own, repair(bids, m), beta)
            if value_power:
                u = u * value_weights(own, v_max, value_power, value_floor)
            utility = utility + u.mean(dim=1).sum()
        (grad,) = torch.autograd.grad(utility / pairings, theta)
    return grad


class Analytic:
    """The fused closed form (linear policy only); see :func:`analytic_gradient_inplace`."""

    def __init__(self, policy, mechanism, block_runs: int, agents: int, batch: int, dtype, device):
        if not isinstance(policy, LinearPolicy):
            raise ValueError(f"gradient: 'analytic' needs the linear policy, got {policy.name!r}; "
                             "allowed: autograd, npga, reinforce")
        self.policy, self.mechanism = policy, mechanism
        self.work = Workspace(block_runs, agents, batch, dtype, device)

    def __call__(self, values, params, beta, runs, out):
        return analytic_gradient_inplace(self.policy, self.mechanism, values, params, beta,
                                         self.work, out=out)


class Autograd:
    """:func:`autograd_gradient` (any policy); options ``pairings`` (1: the batch as drawn),
    ``value_power`` (0: no weights) and ``value_floor`` (0.1) of :func:`value_weights`."""

    OPTIONS = ("pairings", "value_power", "value_floor")

    def __init__(self, policy, mechanism, v_max=1.0, pairings: int = 1, value_power: float = 0.0,
                 value_floor: float = 0.1):
        if isinstance(pairings, bool) or not isinstance(pairings, int) or pairings < 1:
            raise ValueError(f"gradient_options.pairings: must be an integer >= 1, "
                             f"got {pairings!r}")
        if isinstance(value_power, bool) or not isinstance(value_power, int | float) \
                or not 0 <= value_power <= 10:
            raise ValueError(f"gradient_options.value_power: must be a number in [0, 10], "
                             f"got {value_power!r}")
        if isinstance(value_floor, bool) or not isinstance(value_floor, int | float) \
                or not 0 < value_floor <= 1:
            raise ValueError(f"gradient_options.value_floor: must be a number in (0, 1], "
                             f"got {value_floor!r}")
        self.policy, self.mechanism, self.pairings = policy, mechanism, pairings
        self.weighting = {"value_power": float(value_power), "value_floor": float(value_floor),
                          "v_max": v_max}

    def __call__(self, values, params, beta, runs, out):
        return out.copy_(autograd_gradient(self.policy, self.mechanism, values, params, beta,
                                           self.pairings, **self.weighting))


def normal_draws(generators, shape: tuple[int, ...], dtype, device) -> torch.Tensor:
    """[len(generators), *shape] standard normals, run r's slice from ``generators[r]``."""
    out = torch.empty((len(generators), *shape), dtype=dtype, device=device)
    for r, generator in enumerate(generators):
        torch.randn(shape, generator=generator, out=out[r])
    return out


def per_agent(advantage: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Advantages [..., agents] → [..., A, 1, …] against params [runs, A, ...]; a shared network
    (A = 1) receives the sum over the agents (each agent's own deviation only)."""
    if params.shape[1] == 1 and advantage.shape[-1] > 1:
        advantage = advantage.sum(-1, keepdim=True)
    return advantage.reshape(*advantage.shape, *([1] * (params.dim() - 2)))


class NoiseEstimator:
    """Per-run noise generators shared by the zeroth-order estimators."""

    def __init__(self, policy, mechanism, seeds, dtype, device):
        if getattr(mechanism, "risk_aversion", None) is not None:
            raise ValueError("gradient: npga and reinforce do not support risk_aversion")
        self.policy, self.mechanism = policy, mechanism
        self.generators = [torch.Generator(device=device).manual_seed(int(s) + NOISE_SEED_OFFSET)
                           for s in seeds]
        self.dtype, self.device = dtype, device

    def noise(self, runs: slice, shape: tuple[int, ...]) -> torch.Tensor:
        return normal_draws(self.generators[runs], shape, self.dtype, self.device)

    def utility(self, runs: slice, values, own, base) -> torch.Tensor:
        """u_i(own_i, base_−i) (:func:`~diffauction.learning.hard_utility.deviation_utility`)."""
        return deviation_utility(self.mechanism, values, own, base, self.generators[runs])


class NPGA(NoiseEstimator):
    """ES pseudo-gradient of the hard utility (bnelearn's NPGA), for any policy.

    Member p of agent i plays θ_i + σε_p,i (ε_p,i ~ N(0, I) shaped like θ_i, mirrored pairs ±ε
    with ``antithetic``) against the *unperturbed* opponents θ_j on the run's batch:
    g_i = (1/σ)·mean_p (u_i^p − b_i)·ε_p,i with b_i = u_i(θ) (``baseline: current``) or
    mean_p u_i^p (``mean``). Perturbed bids are [runs, population, batch, agents].
    """

    def __init__(self, policy, mechanism, seeds, dtype, device, population: int = 64,
                 sigma: float = 0.02, baseline: str = "current", antithetic: bool = False):
        super().__init__(policy, mechanism, seeds, dtype, device)
        if baseline not in ("current", "mean"):
            raise ValueError(f"baseline: unknown {baseline!r}; allowed: ['current', 'mean']")
        if antithetic and population % 2:
            raise ValueError(f"population: must be even with antithetic sampling, got {population}")
        self.population, self.sigma = int(population), float(sigma)
        self.baseline, self.antithetic = baseline, antithetic

    def perturbations(self, runs: slice, shape: tuple[int, ...]) -> torch.Tensor:
        """ε [n, population, *θ_shape]."""
        if not self.antithetic:
            return self.noise(runs, (self.population, *shape))
        half = self.noise(runs, (self.population // 2, *shape))
        return torch.cat([half, -half], dim=1)

    def __call__(self, values, params, beta, runs, out):
        eps = self.perturbations(runs, tuple(params.shape[1:]))
        grad = npga_estimate(self.policy, self.mechanism, values, params, eps, self.sigma,
                             self.baseline, self.generators[runs])
        return out.copy_(grad)


def npga_estimate(policy, mechanism: Mechanism, values: torch.Tensor, params: torch.Tensor,
                  eps: torch.Tensor, sigma: float, baseline: str = "current",
                  generators=()) -> torch.Tensor:
    """NPGA's pseudo-gradient [n, A, ...] (see :class:`NPGA`) for perturbations ``eps``
    [n, population, A, ...]; ``generators`` (one per run) break ties of the k-unit and LLG rules.
    """
    n, pop = eps.shape[:2]
    with torch.no_grad():
        base = policy.bids(values, params)  # [n, B, N]
        theta = (params[:, None] + sigma * eps).flatten(0, 1)  # [n·P, A, ...]
        stacked = values[:, None].expand(n, pop, *values.shape[1:]).flatten(0, 1)
        own = policy.bids(stacked, theta).unflatten(0, (n, pop))  # [n, P, B, N]
        u = deviation_utility(mechanism, values[:, None], own, base[:, None], generators)
        u = u.mean(2)  # [n, P, N]
        if baseline == "current":
            b = deviation_utility(mechanism, values, base, base, generators).mean(1)[:, None]
        elif baseline == "mean":
            b = u.mean(1, keepdim=True)
        else:
            raise ValueError(f"baseline: unknown {baseline!r}; allowed: ['current', 'mean']")
        return (per_agent(u - b, params) * eps).mean(1) / sigma


class Reinforce(NoiseEstimator):
    """REINFORCE with a Gaussian bid a_i = π_θi(v_i) + s_i·z_i, bid clamp(a_i, 0, v̄_i), played
    against the opponents' mean bids π_θj(v_j); advantage A_i = u_i − mean_batch u_i.

    g_θi = E[A_i·z_i/s_i·∂π_θi(v_i)/∂θ_i] (by autograd through the policy), and, with
    ``learn_sigma``, log s_i ascends E[A_i·(z_i² − 1)] by its own Adam at the run's learning rate
    (:meth:`step`), floored at ``sigma_min``. s is [runs, agents].
    """

    def __init__(self, policy, mechanism, seeds, dtype, device, v_max, sigma: float = 0.1,
                 learn_sigma: bool = True, sigma_min: float = 0.01, agents: int = 1):
        super().__init__(policy, mechanism, seeds, dtype, device)
        self.v_max = torch.as_tensor(v_max, dtype=dtype, device=device)
        self.log_sigma = torch.full((len(seeds), agents), math.log(sigma), dtype=dtype,
                                    device=device)
        self.grad_log_sigma = torch.zeros_like(self.log_sigma)
        self.learn_sigma, self.log_sigma_min = learn_sigma, math.log(sigma_min)
        self.adam = Adam(self.log_sigma)

    def __call__(self, values, params, beta, runs, out):
        sigma = self.log_sigma[runs].exp()[:, None, :]  # [n, 1, N]
        z = self.noise(runs, tuple(values.shape[1:]))  # [n, B, N]
        theta = params.detach().requires_grad_(True)
        with torch.enable_grad():
            mean = self.policy.bids(values, theta)
            with torch.no_grad():
                bids = torch.minimum((mean + sigma * z).clamp_min(0.0), self.v_max)
                u = self.utility(runs, values, bids, mean.detach())
                advantage = u - u.mean(dim=1, keepdim=True)
                score = advantage * z / sigma
            (grad,) = torch.autograd.grad((score * mean).mean(dim=1).sum(), theta)
        self.grad_log_sigma[runs] = (advantage * (z * z - 1.0)).mean(1)
        return out.copy_(grad)

    def step(self, lr: torch.Tensor) -> None:
        """Ascend log s with the step's per-run learning rate."""
        if self.learn_sigma:
            self.adam.step(self.log_sigma, self.grad_log_sigma, lr)
            self.log_sigma.clamp_(min=self.log_sigma_min)

    def state(self) -> dict[str, torch.Tensor]:
        return {"sigma": self.log_sigma.exp()}


def make_estimator(setup, policy, mechanism, priors, block_runs: int, dtype, device):
    """The estimator ``setup.gradient`` names, with ``setup.gradient_options`` as its settings."""
    name, options = setup.gradient, dict(setup.gradient_options or {})
    if name == "analytic":
        return Analytic(policy, mechanism, block_runs, setup.n_agents, setup.batch_size, dtype,
                        device)
    if name == "autograd":
        unknown = sorted(set(options) - set(Autograd.OPTIONS))
        if unknown:
            raise ValueError(f"gradient_options: unknown option(s) {unknown} for 'autograd'; "
                             f"allowed: {list(Autograd.OPTIONS)}")
        return Autograd(policy, mechanism, priors.highs, **options)
    if name == "npga":
        return NPGA(policy, mechanism, setup.seeds, dtype, device, **options)
    if name == "reinforce":
        return Reinforce(policy, mechanism, setup.seeds, dtype, device, priors.highs,
                         agents=setup.n_agents, **options)
    raise ValueError(f"gradient: unknown estimator {name!r}; allowed: {list(ESTIMATORS)}")
