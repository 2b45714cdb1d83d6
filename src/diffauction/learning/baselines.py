"""Baseline learners on the *hard* auction (no smoothing), batched over ``[runs, batch, agents]``.

The learners the field compares the smoothed gradient against are NPGA (Bichler et al. 2021),
REINFORCE (Williams 1992), Hedge (Freund & Schapire 1997) and PPO (Schulman et al. 2017). This
module implements the first two with the smoothed trainer's conventions
(:mod:`diffauction.learning.trainer`); NPGA and REINFORCE *are* that trainer, with their own
gradient estimators (:mod:`diffauction.learning.estimators`), so they take any policy:

* every run draws everything it uses (values, perturbations, bid noise) from its own generators
  seeded by the run's seed, so a run's trajectory does not depend on which other runs share
  the batch;
* agents learn non-cooperatively: agent i's update uses only its own utility and its own
  perturbation / bid noise, with the opponents' current strategies held fixed;
* each learner returns the one result type,
  :class:`~diffauction.learning.recording.TrainResult`: recorded steps, parameters
  ``[K, runs, agents]`` (the linear slope w; Hedge: the least-squares slope of its bid function)
  and the cumulative number of sampled valuations per run at each recorded step (``samples``).
  Wall time is measured by the caller.

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

from dataclasses import dataclass, replace

import torch

from diffauction.game.mechanisms import Mechanism
from diffauction.game.policies import LinearPolicy
from diffauction.learning.estimators import npga_estimate
from diffauction.learning.hard_utility import (
    competing_bids,
    expected_hard_utility,
    utility_against,
)
from diffauction.learning.hedge import (
    DEFAULT_PRIOR,
    HedgeConfig,
    fit_slope,
    grid_feedback,
    grid_feedback_reference,
    train_hedge,
    w0_tensor,
)
from diffauction.learning.recording import BatchAccounting, log_record_steps
from diffauction.learning.trainer import RunBatch, TrainResult, train

LEARNERS = ("smoothed", "npga", "reinforce", "hedge", "ppo")


def _w0_list(w0, runs: int) -> list[float]:
    """A per-run w0 list from a float or a per-run list (the one loop's ``RunBatch.w0``)."""
    return w0_tensor(w0, runs, 1, torch.float64, "cpu")[:, 0].tolist()


# ------------------------------------------------------------------------------------------------
# 1. NPGA / ES pseudo-gradient
# ------------------------------------------------------------------------------------------------


@dataclass
class NPGAConfig(BatchAccounting):
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


def _counted(result: TrainResult, cfg) -> TrainResult:
    """The loop's result with the learner's utility evaluations per sample (accounting)."""
    return replace(result, evaluations_per_sample=cfg.evaluations_per_sample())


def train_npga(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
               config: NPGAConfig | None = None, prior: dict | None = None,
               record_every: int = 1, record_steps=None, policy: dict | None = None,
               overrides: dict | None = None) -> TrainResult:
    """NPGA for ``len(seeds)`` independent runs: the one training loop
    (:func:`~diffauction.learning.trainer.train`) with ``gradient="npga"``; any ``policy``;
    ``overrides``: further :class:`RunBatch` fields (e.g. ``agent_priors``, ``grid_points``)."""
    cfg = config or NPGAConfig()
    options = {"population": cfg.population, "sigma": cfg.sigma, "baseline": cfg.baseline,
               "antithetic": cfg.antithetic}
    setup = _run_batch(n_agents, seeds, steps, w0, mechanism, prior, cfg, record_every,
                       record_steps, "npga", options, policy)
    return _counted(train(replace(setup, **dict(overrides or {}))), cfg)


# ------------------------------------------------------------------------------------------------
# 2. REINFORCE with a Gaussian bid policy
# ------------------------------------------------------------------------------------------------


@dataclass
class ReinforceConfig(BatchAccounting):
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



def train_reinforce(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
                    config: ReinforceConfig | None = None, prior: dict | None = None,
                    record_every: int = 1, record_steps=None, policy: dict | None = None,
                    overrides: dict | None = None) -> TrainResult:
    """REINFORCE for ``len(seeds)`` independent runs: the one training loop with
    ``gradient="reinforce"`` (:class:`~diffauction.learning.estimators.Reinforce`); any
    ``policy``; ``overrides`` as :func:`train_npga`. ``extras["sigma"]`` [K, runs, agents] is
    the bid noise s."""
    cfg = config or ReinforceConfig()
    options = {"sigma": cfg.sigma, "learn_sigma": cfg.learn_sigma, "sigma_min": cfg.sigma_min}
    setup = _run_batch(n_agents, seeds, steps, w0, mechanism, prior, cfg, record_every,
                       record_steps, "reinforce", options, policy)
    return _counted(train(replace(setup, **dict(overrides or {}))), cfg)


# ------------------------------------------------------------------------------------------------
# 3. Multiplicative weights (Hedge) over a value-bin × bid-grid table
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# The smoothed trainer under the same interface, and one entry point for a comparison
# ------------------------------------------------------------------------------------------------


@dataclass
class SmoothedConfig(BatchAccounting):
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
    sampler: str = "iid"  # iid | antithetic | sobol (diffauction.learning.samplers)
    dtype: str = "float32"
    device: str = "cpu"



def train_smoothed(n_agents: int, seeds, steps: int, w0=0.9, mechanism: str = "first_price",
                   config: SmoothedConfig | None = None, prior: dict | None = None,
                   record_every: int = 1, record_steps=None, overrides: dict | None = None
                   ) -> TrainResult:
    """:func:`diffauction.learning.trainer.train` on a :class:`RunBatch` (its ``beta`` and ``lr``
    recorded); ``overrides`` as :func:`train_npga` (e.g. an MLP ``policy`` with
    ``gradient: autograd``)."""
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
    return _counted(train(replace(setup, **dict(overrides or {}))), cfg)


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
    "HedgeConfig", "NPGAConfig", "ReinforceConfig", "SmoothedConfig", "TrainResult",
    "competing_bids", "expected_hard_utility", "fit_slope", "grid_feedback",
    "grid_feedback_reference", "log_record_steps", "make_config",
    "npga_gradient",
    "train_hedge", "train_npga", "train_reinforce",
    "train_smoothed", "utility_against",
]
