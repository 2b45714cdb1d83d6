"""Learning the LLG (local-local-global) combinatorial auction with the one training loop.

Two local bidders (agents 0, 1, values U[0, 1]) and one global bidder (agent 2, value U[0, 2],
truthful); the rules are :class:`~diffauction.game.mechanisms.LLGVCG` and
:class:`~diffauction.game.mechanisms.LLGNearestVCG`, the locals' BNE is in
:mod:`diffauction.equilibria.llg`, the outcome of a profile in :mod:`diffauction.analysis.outcomes`.

The locals learn an affine bid b(v) = max(0, a + w·v) — the family holds both BNEs — with the
project's one training loop: Adam ascent on the smoothed utility, each local's gradient taken
with the other two bids held fixed, one fresh batch of values per step, the global bidder a
truthful non-learner (:func:`train_llg`).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from diffauction.equilibria.llg import GLOBAL_HIGH
from diffauction.game.mechanisms import LLG_MECHANISMS, make_mechanism
from diffauction.learning.trainer import RunBatch, TrainResult, train


def train_llg(mechanism: str, seeds: list[int], beta: list[float], w0: list[float], steps: int,
              batch_size: int, lr_start: float, lr_end: float, lr_schedule: str = "geometric",
              a0: float = 0.0, record_every: int = 1, tail_fraction: float = 0.1,
              adam_betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
              dtype: torch.dtype = torch.float32) -> TrainResult:
    """Batched learning of the two locals' affine bids, one run per (seed, β, w0) entry.

    The one training loop (:func:`~diffauction.learning.trainer.train`): three agents with
    priors U[0,1], U[0,1], U[0,2], the affine policy b = max(0, w·v + c) (c = a here), the global
    bidder (agent 2) a truthful non-learner (``truthful_agents``), each local's gradient
    E[∂ũ_i/∂θ_i] by autograd with the other two bids held fixed, Adam at the run's learning rate.
    The result's ``params`` [K, runs, 2, 2], ``final``, ``tail_average`` and ``gradient`` are
    the locals' (a, w) (the loop's ``movement`` stays the mean over all three agents, the
    global's 0); ``learner`` is ``"llg"``.
    """
    if make_mechanism(mechanism).name not in LLG_MECHANISMS:
        raise ValueError(f"mechanism: not an LLG rule: {mechanism!r}; "
                         f"allowed: {list(LLG_MECHANISMS)}")
    runs = len(seeds)
    if not len(beta) == len(w0) == runs:
        raise ValueError("seeds, beta and w0 need one entry per run")
    local = {"name": "uniform", "low": 0.0, "high": 1.0}
    setup = RunBatch(
        n_agents=3, seeds=list(seeds), beta_start=list(beta), beta_end=list(beta),
        lr_start=[lr_start] * runs, lr_end=[lr_end] * runs, w0=list(w0),
        batch_size=batch_size, steps=steps, mechanism=mechanism, lr_schedule=lr_schedule,
        agent_priors=[local, local, {**local, "high": GLOBAL_HIGH}],
        policy={"name": "affine", "c0": a0}, gradient="autograd", truthful_agents=[2],
        adam_betas=adam_betas, adam_eps=adam_eps, record_every=record_every,
        tail_fraction=tail_fraction, dtype=str(dtype).removeprefix("torch."))
    result = train(setup)

    def locals_aw(p: torch.Tensor) -> torch.Tensor:  # [..., 3, (w, c)] → [..., 2, (a, w)]
        return p[..., :2, :].flip(-1).contiguous()

    return replace(result, learner="llg", params=locals_aw(result.params),
                   final=locals_aw(result.final), tail_average=locals_aw(result.tail_average),
                   gradient=locals_aw(result.gradient))
