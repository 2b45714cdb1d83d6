"""Baseline learners on the *hard* auction (no smoothing), batched over ``[runs, batch, agents]``.

ANCHORS.md §3 lists the learners the field compares the smoothed gradient against. This module
implements three of them with the smoothed trainer's conventions
(:mod:`diffauction.learning.trainer`); NPGA and REINFORCE *are* that trainer, with their own
gradient estimators (:mod:`diffauction.learning.estimators`), so they take any policy:

* every run draws everything it uses (values, perturbations, bid noise) from its own generators
  seeded by the run's seed, so a run's trajectory does not depend on which other runs share
  the batch;
* agents learn non-cooperatively: agent i's update uses only its own utility and its own
  perturbation / bid noise, with the opponents' current strategies held fixed;
* each learner returns a :class:`Trajectory`: recorded steps, parameters ``[K, runs, agents]``
  (the linear slope w; Hedge: the least-squares slope of its bid function) and the cumulative
  number of sampled valuations per run at each recorded step. Wall time is measured by the caller.

Learners
--------
``train_npga``       NPGA / evolution-strategies pseudo-gradient (bnelearn): population of
                     perturbed slopes θ_i + σε per agent, each evaluated against the unperturbed
                     opponents on a common batch; g_i = mean_p((u_i^p − baseline_i)·ε_p,i)/σ; Adam.
``train_reinforce``  REINFORCE with a Gaussian bid policy b ~ N(w·v, s²) (bids clipped into
                     [0, v_max] as in the PettingZoo env) against the opponents' mean bids,
                     batch-mean baseline, learnable or fixed s; Adam on (w, log s).
``train_hedge``      multiplicative weights (Hedge) over a value-bin × bid-grid table with
                     full-information feedback: every grid bid's utility against the opponents'
                     sampled bids; weights ∝ exp(η · cumulative utility).

``run_learner`` runs any of them, or the smoothed trainer (``"smoothed"``) or the MARL PPO
(``"ppo"``, :mod:`diffauction.learning.ppo`), under one interface and returns a tidy DataFrame.

Compute accounting
------------------
One unit for every learner: ``samples`` = valuations drawn per run, cumulative, i.e.
batch · agents per step (as ``TrainResult.samples_per_run``). How often a learner evaluates the
(hard or smoothed) utility on each drawn valuation differs and is reported beside it as
``evaluations_per_sample`` (each config's method of that name); wall time is measured by
:func:`run_learner`.

=============  =====================  =====================================================
learner        samples per step       utility evaluations per sample
=============  =====================  =====================================================
smoothed       batch · agents         1 (the smoothed utility's closed-form bid gradient)
npga           batch · agents         population + 1{baseline = "current"}: every member,
                                      and the unperturbed baseline, is evaluated on the batch
reinforce      batch · agents         1 (one noisy bid per sample)
hedge          batch · agents         bid_points: full-information counterfactuals, every
                                      grid bid against the sample's opponents
ppo            frames · agents        1 (one env step per frame; epochs re-use the batch)
=============  =====================  =====================================================

The comparison of the report (:mod:`diffauction.experiments.learners`,
``config.yaml: comparison``) runs these learners with tuned settings; its table is the reference
for their sample efficiency.

Ties
----
The hard auction breaks ties uniformly at random. Here the utility is taken in expectation over
that fair coin (:func:`expected_hard_utility`: a bidder tied at the top with k others wins with
probability 1/(k+1)). That is still the hard, unsmoothed auction; it needs no tie-break draws
(so the random streams stay simple) and it matters only where ties have positive probability:
discrete bid grids (Hedge) and bids clipped at 0 (REINFORCE).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from diffauction.game.mechanisms import Mechanism, make_mechanism
from diffauction.game.policies import LinearPolicy
from diffauction.game.priors import make_prior, value_midpoints
from diffauction.learning import recording
from diffauction.learning.estimators import npga_estimate
from diffauction.learning.hard_utility import (
    competing_bids,
    expected_hard_utility,
    utility_against,
)
from diffauction.learning.recording import log_record_steps
from diffauction.learning.trainer import DTYPES, RunBatch, TrainResult, resolve_device, train

DEFAULT_PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}
LEARNERS = ("smoothed", "npga", "reinforce", "hedge", "ppo")


# ------------------------------------------------------------------------------------------------
# Shared plumbing: per-run generators, recording, result container
# ------------------------------------------------------------------------------------------------


def _generators(seeds, device) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def _draw(kind: str, generators, shape: tuple[int, ...], dtype, device) -> torch.Tensor:
    """[runs, *shape] with run r's slice drawn from run r's generator (``rand`` or ``randn``)."""
    out = torch.empty((len(generators), *shape), dtype=dtype, device=device)
    sampler = torch.rand if kind == "rand" else torch.randn
    for r, generator in enumerate(generators):
        sampler(shape, generator=generator, out=out[r])
    return out


def _w0_tensor(w0, runs: int, agents: int, dtype, device) -> torch.Tensor:
    """w0: a float (all runs and agents), a per-run list, or a [runs, agents] tensor/list."""
    w = torch.as_tensor(w0, dtype=dtype, device=device)
    if w.dim() == 1:
        w = w[:, None]
    return w.expand(runs, agents).clone()


def _w0_list(w0, runs: int) -> list[float]:
    """A per-run w0 list from a float or a per-run list (the one loop's ``RunBatch.w0``)."""
    return _w0_tensor(w0, runs, 1, torch.float64, "cpu")[:, 0].tolist()


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


# ------------------------------------------------------------------------------------------------
# 1. NPGA / ES pseudo-gradient
# ------------------------------------------------------------------------------------------------


@dataclass
class NPGAConfig:
    """NPGA (bnelearn's ES pseudo-gradient) for linear bids b_i = θ_i·v_i."""

    population: int = 64  # perturbations per agent and step
    sigma: float = 0.02  # perturbation scale of θ (0.05 biases the fixed point to w ≈ 0.48)
    batch_size: int = 256  # common valuation batch shared by all population members
    lr: float = 0.005  # Adam step; bnelearn uses 1e-3 with its NN policies
    baseline: str = "current"  # "current": u(θ) on the same batch | "mean": population mean
    antithetic: bool = False  # mirrored pairs ±ε (population must then be even)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    dtype: str = "float32"
    device: str = "cpu"

    def samples_per_step(self, n_agents: int) -> int:
        return self.batch_size * n_agents

    def evaluations_per_sample(self) -> int:
        """Every population member, and the unperturbed baseline, is evaluated on the batch."""
        return self.population + (1 if self.baseline == "current" else 0)


def npga_gradient(mechanism: Mechanism, values: torch.Tensor, theta: torch.Tensor,
                  eps: torch.Tensor, sigma: float, baseline: str = "current") -> torch.Tensor:
    """ES pseudo-gradient per run and agent, [runs, agents], for linear bids (the engine's
    :func:`~diffauction.learning.estimators.npga_estimate` with the linear policy).

    ``values`` [runs, batch, agents], ``theta`` [runs, agents], ``eps`` [runs, population, agents].
    Population member p of agent i bids (θ_i + σε_p,i)·v_i against the *unperturbed* opponents
    θ_j·v_j, so u_i^p depends on ε_p,i alone: agent i's gradient uses only its own perturbations.
    """
    return npga_estimate(LinearPolicy(theta), mechanism, values, theta, eps, sigma, baseline)


def _run_batch(n_agents, seeds, steps, w0, mechanism, prior, cfg, record_every, record_steps,
               gradient: str, options: dict, policy: dict | None) -> RunBatch:
    """The :class:`RunBatch` of a baseline learner: constant learning rate ``cfg.lr``, Adam."""
    runs = len(seeds)
    return RunBatch(
        n_agents=n_agents, seeds=list(seeds), beta_start=[1.0] * runs, beta_end=[1.0] * runs,
        lr_start=[cfg.lr] * runs, lr_end=[cfg.lr] * runs, w0=_w0_list(w0, runs),
        batch_size=cfg.batch_size, steps=steps, mechanism=mechanism,
        prior=dict(prior or DEFAULT_PRIOR), adam_betas=cfg.adam_betas, adam_eps=cfg.adam_eps,
        record_every=record_every, record_steps=record_steps, gradient=gradient,
        gradient_options=options, dtype=cfg.dtype, device=cfg.device,
        policy=dict(policy or {"name": "linear"}))


def _trajectory(learner: str, seeds, result: TrainResult, cfg, n_agents: int,
                extras: dict | None = None) -> Trajectory:
    per_step = cfg.samples_per_step(n_agents)
    return Trajectory(
        learner=learner, seeds=list(seeds), steps=result.steps, params=result.params,
        samples=result.steps.to(torch.int64) * per_step, samples_per_step=per_step,
        final=result.final, extras={**result.extras, **(extras or {})},
        evaluations_per_sample=cfg.evaluations_per_sample(),
    )


def train_npga(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
               config: NPGAConfig | None = None, prior: dict | None = None,
               record_every: int = 1, record_steps=None, policy: dict | None = None
               ) -> Trajectory:
    """NPGA for ``len(seeds)`` independent runs: the one training loop
    (:func:`~diffauction.learning.trainer.train`) with ``gradient="npga"``; any ``policy``."""
    cfg = config or NPGAConfig()
    options = {"population": cfg.population, "sigma": cfg.sigma, "baseline": cfg.baseline,
               "antithetic": cfg.antithetic}
    setup = _run_batch(n_agents, seeds, steps, w0, mechanism, prior, cfg, record_every,
                       record_steps, "npga", options, policy)
    return _trajectory("npga", seeds, train(setup), cfg, n_agents)


# ------------------------------------------------------------------------------------------------
# 2. REINFORCE with a Gaussian bid policy
# ------------------------------------------------------------------------------------------------


@dataclass
class ReinforceConfig:
    """REINFORCE for the Gaussian policy b ~ N(w·v, s²), bids clipped into [0, v_max]."""

    batch_size: int = 1024  # one bid per sampled value and agent
    lr: float = 0.003  # Adam step for w (and log s)
    sigma: float = 0.1  # initial bid-noise std s
    learn_sigma: bool = True  # ascend log s too (else s stays fixed)
    sigma_min: float = 0.01  # floor for s: the score (a − w·v)/s² blows up as s → 0;
    #                        the noisy game's fixed point lies below the BNE by O(s)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    dtype: str = "float32"
    device: str = "cpu"

    def samples_per_step(self, n_agents: int) -> int:
        return self.batch_size * n_agents

    def evaluations_per_sample(self) -> int:
        return 1


def train_reinforce(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
                    config: ReinforceConfig | None = None, prior: dict | None = None,
                    record_every: int = 1, record_steps=None, policy: dict | None = None
                    ) -> Trajectory:
    """REINFORCE for ``len(seeds)`` independent runs: the one training loop with
    ``gradient="reinforce"`` (:class:`~diffauction.learning.estimators.Reinforce`); any
    ``policy``. ``extras["sigma"]`` [K, runs, agents] is the bid noise s."""
    cfg = config or ReinforceConfig()
    options = {"sigma": cfg.sigma, "learn_sigma": cfg.learn_sigma, "sigma_min": cfg.sigma_min}
    setup = _run_batch(n_agents, seeds, steps, w0, mechanism, prior, cfg, record_every,
                       record_steps, "reinforce", options, policy)
    return _trajectory("reinforce", seeds, train(setup), cfg, n_agents)


# ------------------------------------------------------------------------------------------------
# 3. Multiplicative weights (Hedge) over a value-bin × bid-grid table
# ------------------------------------------------------------------------------------------------


@dataclass
class HedgeConfig:
    """Hedge per (agent, value bin) over a bid grid, full-information feedback."""

    value_bins: int = 32  # equal-probability bins of the prior; midpoints F⁻¹((k+½)/K)
    bid_points: int = 65  # bid grid linspace(0, v_max, G)
    batch_size: int = 256  # sampled values per agent and round
    eta: float = 2.0  # weights ∝ exp(η · cumulative utility), utility summed over samples
    init_width: float = 0.05  # with w0: initial weights ∝ exp(−(g − w0·v_k)² / 2·width²)
    dtype: str = "float64"  # cumulative sums grow with t: keep double precision
    device: str = "cpu"

    def samples_per_step(self, n_agents: int) -> int:
        return self.batch_size * n_agents

    def evaluations_per_sample(self) -> int:
        """Full information: every grid bid's utility against each sample's opponents."""
        return self.bid_points


#: payment = x·(own·b + competing·m) + always·b, x the (expected) allocation
_PAYMENT_RULES = {"first_price": (1.0, 0.0, 0.0), "second_price": (0.0, 1.0, 0.0),
                  "all_pay": (0.0, 0.0, 1.0)}


def grid_feedback_reference(mechanism: Mechanism, values: torch.Tensor, choice: torch.Tensor,
                            grid: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Full-information feedback, by brute force: [n_rows, G], row ρ summing over the samples s
    with ``rows[s] = ρ`` the utility of *every* grid bid against that sample's opponents.

    ``values``, ``choice`` (grid indices of the bids played) and ``rows`` are [runs, batch,
    agents]. Costs O(samples · G); :func:`grid_feedback` computes the same in O(samples + rows · G).
    """
    bids = grid[choice]
    m, ties = competing_bids(bids)
    u = utility_against(mechanism, values[..., None], grid, m[..., None], ties[..., None])
    out = torch.zeros((n_rows, grid.numel()), dtype=values.dtype, device=values.device)
    return out.index_add_(0, rows.reshape(-1), u.reshape(-1, grid.numel()))


def grid_feedback(mechanism: Mechanism, values: torch.Tensor, choice: torch.Tensor,
                  grid: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """:func:`grid_feedback_reference` by histograms and cumulative sums (first price, second
    price, all-pay; other mechanisms fall back to the reference).

    Against a sample whose highest competing bid is grid point j (k opponents there), grid bid
    g wins if g > j and wins with probability 1/(k+1) if g = j. So, per row, with histograms
    over j of the samples' counts and values, Σ_s 1[g > j_s]·(…) is an exclusive cumulative
    sum over j and the ties are the histogram at g itself: a winner paying its bid gives
    Σ_s 1[g > j_s](v_s − g) = V(<g) − g·C(<g), one paying m gives Σ_s 1[g > j_s](v_s − m_s).
    """
    if mechanism.name not in _PAYMENT_RULES:
        return grid_feedback_reference(mechanism, values, choice, grid, rows, n_rows)
    own, comp, always = _PAYMENT_RULES[mechanism.name]
    n_grid = grid.numel()
    j, ties = competing_bids(choice.to(values.dtype))  # index of m_s, opponents tied there
    j = j.long()
    m = grid[j]
    share = 1.0 / (ties + 1.0)
    index = (rows * n_grid + j).reshape(-1)

    def hist(weights: torch.Tensor) -> torch.Tensor:  # [n_rows, G]
        out = torch.zeros(n_rows * n_grid, dtype=values.dtype, device=values.device)
        return out.index_add_(0, index, weights.reshape(-1)).view(n_rows, n_grid)

    def below(h: torch.Tensor) -> torch.Tensor:  # Σ over j < g
        return h.cumsum(-1) - h

    count = hist(torch.ones_like(values))
    win_value = hist(values - comp * m)  # what a winner keeps, before paying own·g
    tie_value = hist((values - comp * m) * share)
    tie_count = hist(share)
    feedback = below(win_value) + tie_value - own * grid * (below(count) + tie_count)
    if always:  # all-pay: every sample pays its bid, won or lost
        feedback = feedback - always * grid * count.sum(-1, keepdim=True)
    return feedback


def fit_slope(midpoints: torch.Tensor, bids: torch.Tensor) -> torch.Tensor:
    """Least-squares slope through the origin of bids [..., V] on value midpoints [V]."""
    return (bids * midpoints).sum(-1) / (midpoints * midpoints).sum()


def train_hedge(n_agents: int, seeds, steps: int, w0=None, mechanism: str = "first_price",
                config: HedgeConfig | None = None, prior: dict | None = None,
                record_every: int = 1, record_steps=None) -> Trajectory:
    """Run Hedge for ``len(seeds)`` independent runs in one batched program.

    State: cumulative utilities S [runs, agents, bins, grid]; mixed strategy p = softmax(η·S + L0)
    per bin (L0 = 0 for uniform initial weights, or a Gaussian bump around w0·v_k). Each round
    every run draws values, each agent samples a bid from p[bin(v)], and for every sample S[bin]
    gains the utility of *every* grid bid against that sample's opponents' bids (full
    information). Recorded: the least-squares slope of the expected bid per bin (``params``),
    the bid function itself and its L2 distance to the BNE on the bin midpoints (``extras``).
    """
    cfg = config or HedgeConfig()
    device, dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
    mech, pri = make_mechanism(mechanism), make_prior(prior or DEFAULT_PRIOR)
    runs, batch, agents = len(seeds), cfg.batch_size, n_agents
    n_bins, n_grid = cfg.value_bins, cfg.bid_points
    generators = _generators(seeds, device)
    grid = torch.linspace(0.0, pri.v_max, n_grid, dtype=dtype, device=device)
    mids = value_midpoints(pri, n_bins).to(dtype=dtype, device=device)
    if w0 is None:
        logits0 = torch.zeros((runs, agents, n_bins, n_grid), dtype=dtype, device=device)
    else:
        w_init = _w0_tensor(w0, runs, agents, dtype, device)
        centre = w_init[:, :, None, None] * mids[:, None]  # [R, N, V, 1]
        logits0 = -((grid - centre) ** 2) / (2 * cfg.init_width**2)
    cum_utility = torch.zeros((runs, agents, n_bins, n_grid), dtype=dtype, device=device)
    # flat row of (run, agent, bin) in cum_utility.view(-1, G)
    row_base = (torch.arange(runs, device=device)[:, None, None] * agents
                + torch.arange(agents, device=device)[None, None, :]) * n_bins
    n_rows_total = runs * agents * n_bins
    offsets = torch.arange(n_rows_total, dtype=dtype, device=device)[:, None]
    per_step = cfg.samples_per_step(agents)

    def strategy() -> torch.Tensor:
        return torch.softmax(cfg.eta * cum_utility + logits0, dim=-1)

    record = recording.record_steps(steps, record_every, record_steps)
    hist_bids = torch.empty((len(record), runs, agents, n_bins), dtype=torch.float64)
    hist_bids[0] = (strategy() @ grid).cpu()
    k = 1
    for t in range(1, steps + 1):
        values = pri.transform(_draw("rand", generators, (batch, agents), dtype, device))
        coin = _draw("rand", generators, (batch, agents), dtype, device)
        bins = (pri.cdf(values) * n_bins).long().clamp_(0, n_bins - 1)  # [R, B, N]
        rows = row_base + bins  # [R, B, N]
        # inverse-CDF sampling in one sorted search: row ρ's CDF shifted to [ρ, ρ + 1]
        cdf = strategy().reshape(-1, n_grid).cumsum(-1)
        cdf[:, -1] = 1.0  # exact, so the shifted rows never overlap
        shifted = (cdf + offsets).reshape(-1)
        choice = torch.searchsorted(shifted, coin + rows.to(dtype)) - rows * n_grid
        choice.clamp_(0, n_grid - 1)
        cum_utility.view(-1, n_grid).add_(
            grid_feedback(mech, values, choice, grid, rows, n_rows_total))
        if k < len(record) and record[k] == t:
            hist_bids[k] = (strategy() @ grid).cpu()
            k += 1

    mids64 = mids.to(torch.float64).cpu()
    extras = {"bid_function": hist_bids, "value_midpoints": mids64, "bid_grid": grid.cpu(),
              "weights": strategy().cpu()}
    slopes = fit_slope(mids64, hist_bids)
    return Trajectory(
        learner="hedge", seeds=list(seeds), steps=torch.tensor(record), params=slopes,
        samples=torch.tensor(record, dtype=torch.int64) * per_step, samples_per_step=per_step,
        final=slopes[-1].clone(), extras=extras,
        evaluations_per_sample=cfg.evaluations_per_sample(),
    )


# ------------------------------------------------------------------------------------------------
# The smoothed trainer under the same interface, and one entry point for a comparison
# ------------------------------------------------------------------------------------------------


@dataclass
class SmoothedConfig:
    """The project's smoothed gradient (:func:`diffauction.learning.trainer.train`); week-4
    defaults."""

    batch_size: int = 8192
    lr: float = 0.001
    lr_end: float | None = None  # None: same as lr
    lr_schedule: str = "constant"
    beta: float = 50.0
    beta_end: float | None = None  # None: same as beta
    beta_schedule: str = "constant"
    optimizer: str = "adam"
    gradient: str = "analytic"
    sampler: str = "iid"  # iid | antithetic | sobol (diffauction.learning.trainer.ValueSampler)
    dtype: str = "float32"
    device: str = "cpu"

    def samples_per_step(self, n_agents: int) -> int:
        return self.batch_size * n_agents

    def evaluations_per_sample(self) -> int:
        return 1


def train_smoothed(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
                   config: SmoothedConfig | None = None, prior: dict | None = None,
                   record_every: int = 1, record_steps=None) -> Trajectory:
    """:func:`diffauction.learning.trainer.train` on a :class:`RunBatch`, as a Trajectory."""
    cfg = config or SmoothedConfig()
    runs = len(seeds)
    setup = RunBatch(
        n_agents=n_agents, seeds=list(seeds),
        beta_start=[cfg.beta] * runs, beta_end=[cfg.beta_end or cfg.beta] * runs,
        lr_start=[cfg.lr] * runs, lr_end=[cfg.lr_end or cfg.lr] * runs,
        w0=_w0_list(w0, runs), batch_size=cfg.batch_size, steps=steps, mechanism=mechanism,
        prior=dict(prior or DEFAULT_PRIOR), beta_schedule=cfg.beta_schedule,
        lr_schedule=cfg.lr_schedule, optimizer=cfg.optimizer,
        record_every=record_every, record_steps=record_steps,
        gradient=cfg.gradient, sampler=cfg.sampler, dtype=cfg.dtype, device=cfg.device,
    )
    result = train(setup)
    return _trajectory("smoothed", seeds, result, cfg, n_agents,
                       extras={"beta": result.beta, "lr": result.lr})


CONFIGS = {"smoothed": SmoothedConfig, "npga": NPGAConfig, "reinforce": ReinforceConfig,
           "hedge": HedgeConfig}
TRAINERS = {"smoothed": train_smoothed, "npga": train_npga, "reinforce": train_reinforce,
            "hedge": train_hedge}


def make_config(name: str, config=None):
    """A learner's config: its defaults, updated by a config object or a mapping of overrides."""
    if name not in CONFIGS:
        raise ValueError(f"learner: unknown {name!r}; allowed: {sorted(CONFIGS)}")
    base = CONFIGS[name]()
    if config is None:
        return base
    if isinstance(config, CONFIGS[name]):
        return config
    return replace(base, **dict(config))


__all__ = [
    "HedgeConfig", "NPGAConfig", "ReinforceConfig", "SmoothedConfig", "Trajectory",
    "competing_bids", "expected_hard_utility", "fit_slope", "grid_feedback",
    "grid_feedback_reference", "log_record_steps", "make_config",
    "npga_gradient",
    "train_hedge", "train_npga", "train_reinforce",
    "train_smoothed", "utility_against",
]
