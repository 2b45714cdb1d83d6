"""The LLG (local-local-global) combinatorial auction: outcomes and a small learner.

rule           local BNE bid                         locals' / global's BNE utility
=============  ====================================  =========================================
VCG            v (truthful, dominant)
nearest-VCG    max(0, v − (3 − √8))                  0.1332 / 0.4673
=============  ====================================  =========================================
=======
Two local bidders (agents 0, 1, values U[0, 1]) and one global bidder (agent 2, value U[0, 2],
truthful); the rules are :class:`~diffauction.game.mechanisms.LLGVCG` and
:class:`~diffauction.game.mechanisms.LLGNearestVCG`, the locals' BNE is in
:mod:`diffauction.equilibria.llg`.

The locals learn an affine bid b(v) = max(0, a + w·v) — the family holds both BNEs — with the
project's learner: Adam ascent on the smoothed utility, each local's gradient taken with the
other two bids held fixed, one fresh batch of values per step. :func:`train_llg` is that loop for
this one auction (the global bidder is not a learner, so the generic trainer does not fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from diffauction.equilibria.llg import GLOBAL_HIGH, bne_params
from diffauction.game.mechanisms import LLG_MECHANISMS, Mechanism, make_mechanism
from diffauction.learning.schedules import Schedule


def affine_bids(params: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """max(0, a + w·v). ``params`` [..., 2 locals, 2] holds (a, w) per local; ``values`` is
    [..., batch, 2] with the leading axes of ``params``."""
    a, w = params[..., 0], params[..., 1]
    return (a[..., None, :] + w[..., None, :] * values).clamp_min(0.0)


def sobol_values(points: int, seed: int = 0) -> torch.Tensor:
    """[points, 3] scrambled Sobol values: locals on U[0,1], the global on U[0,2]."""
    unit = torch.quasirandom.SobolEngine(3, scramble=True, seed=seed).draw(points,
                                                                          dtype=torch.float64)
    return unit * torch.tensor([1.0, 1.0, GLOBAL_HIGH], dtype=torch.float64)


def expected_outcome(mechanism: Mechanism | str, params: torch.Tensor, points: int = 2**18,
                     seed: int = 0) -> dict[str, torch.Tensor]:
    """Hard-auction expectations by quasi-Monte-Carlo (scrambled Sobol, ``points`` draws shared
    by every profile) for local profiles ``params`` [P, 2, 2]; the global bids truthfully.

    Returns tensors [P]: ``revenue``, ``welfare`` (Σ values of the winners), ``utility_local``
    (mean of the two locals), ``utility_global``, ``efficiency`` (welfare / optimal welfare).
    """
    mechanism = make_mechanism(mechanism)
    values = sobol_values(points, seed)  # [points, 3]
    locals_ = affine_bids(params.to(torch.float64), values[None, :, :2].expand(
        params.shape[0], -1, -1))
    bids = torch.cat([locals_, values[None, :, 2:].expand(params.shape[0], -1, -1)], dim=-1)
    allocation, payment = mechanism.hard_outcome(bids, torch.Generator().manual_seed(seed))
    utility = values * allocation - payment
    welfare = (values * allocation).sum(-1).mean(-1)
    optimal = torch.maximum(values[:, 0] + values[:, 1], values[:, 2]).mean()
    return {
        "revenue": payment.sum(-1).mean(-1),
        "welfare": welfare,
        "utility_local": utility[..., :2].mean(-1).mean(-1),
        "utility_global": utility[..., 2].mean(-1),
        "efficiency": welfare / optimal,
    }


def bne_outcome(mechanism: str, points: int = 2**20, seed: int = 0) -> dict[str, float]:
    """The BNE's expectations (numerically, by :func:`expected_outcome`)."""
    a, w = bne_params(mechanism)
    params = torch.tensor([[[a, w], [a, w]]], dtype=torch.float64)
    return {key: float(value[0]) for key, value in
            expected_outcome(mechanism, params, points, seed).items()}


@dataclass
class LLGResult:
    """Recorded trajectory of the locals' (a, w); K recorded steps, runs, 2 locals."""

    steps: torch.Tensor  # [K]
    params: torch.Tensor  # [K, runs, 2, 2]: (a, w) per local
    final: torch.Tensor  # [runs, 2, 2]
    tail_average: torch.Tensor  # [runs, 2, 2]
    samples_per_run: int  # valuations drawn per run: steps × batch × 3


def train_llg(mechanism: str, seeds: list[int], beta: list[float], w0: list[float], steps: int,
              batch_size: int, lr_start: float, lr_end: float, lr_schedule: str = "geometric",
              a0: float = 0.0, record_every: int = 1, tail_fraction: float = 0.1,
              adam_betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
              dtype: torch.dtype = torch.float32) -> LLGResult:
    """Batched learning of the two locals' affine bids, one run per (seed, β, w0) entry.

    Per step: every run draws ``batch_size`` fresh values from its own generator; the locals bid
    max(0, a + w·v), the global its value; each local's gradient is
    E[∂ũ_i/∂b_i · (1, v_i) · 1{a + w·v_i > 0}] from the mechanism's closed-form bid derivative
    (:meth:`~diffauction.game.mechanisms.LLG.local_bid_gradients`, opponents fixed); Adam (the
    trainer's update, written out here) ascends (a, w) of each run and local.
    """
    mech = make_mechanism(mechanism)
    if mech.name not in LLG_MECHANISMS:
        raise ValueError(f"mechanism: not an LLG rule: {mechanism!r}; "
                         f"allowed: {list(LLG_MECHANISMS)}")
    runs = len(seeds)
    if not len(beta) == len(w0) == runs:
        raise ValueError("seeds, beta and w0 need one entry per run")
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    beta_t = torch.tensor(beta, dtype=dtype)[:, None]
    lr = Schedule(lr_schedule, torch.tensor([lr_start] * runs, dtype=dtype),
                  torch.tensor([lr_end] * runs, dtype=dtype))
    params = torch.zeros((runs, 2, 2), dtype=dtype)
    params[..., 0] = a0
    params[..., 1] = torch.tensor(w0, dtype=dtype)[:, None]
    m = torch.zeros_like(params)
    v2 = torch.zeros_like(params)
    b1, b2 = adam_betas
    # agent-major values [runs, 3, batch]: every agent's slice is contiguous
    values = torch.empty((runs, 3, batch_size), dtype=dtype)
    grad = torch.empty_like(params)

    record = [0] + [t for t in range(1, steps + 1) if t % record_every == 0 or t == steps]
    history = torch.empty((len(record),) + params.shape, dtype=dtype)
    history[0] = params
    k = 1
    tail_start = steps - max(1, math.ceil(tail_fraction * steps))
    tail_sum = torch.zeros_like(params)
    for t in range(steps):
        for r, gen in enumerate(generators):
            torch.rand((3, batch_size), generator=gen, dtype=dtype, out=values[r])
        values[:, 2].mul_(GLOBAL_HIGH)
        local_values = (values[:, 0], values[:, 1])
        raw = [params[:, i, 0:1] + params[:, i, 1:2] * local_values[i] for i in (0, 1)]
        bids = [x.clamp_min(0.0) for x in raw]
        dudb = mech.local_bid_gradients(*local_values, *bids, values[:, 2], beta_t)
        for i in (0, 1):
            active = dudb[i] * (raw[i] > 0)
            grad[:, i, 0] = active.mean(1)
            grad[:, i, 1] = (active * local_values[i]).mean(1)
        m.mul_(b1).add_(grad, alpha=1 - b1)
        v2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = m / (1 - b1 ** (t + 1))
        v_hat = v2 / (1 - b2 ** (t + 1))
        params.add_(lr.at(t, steps)[:, None, None] * m_hat / (v_hat.sqrt() + adam_eps))
        if not bool(torch.isfinite(params).all()):
            raise FloatingPointError(f"non-finite LLG parameters after step {t + 1}")
        if t >= tail_start:
            tail_sum += params
        if k < len(record) and record[k] == t + 1:
            history[k] = params
            k += 1
    return LLGResult(steps=torch.tensor(record), params=history, final=params.clone(),
                     tail_average=tail_sum / (steps - tail_start),
                     samples_per_run=steps * batch_size * 3)
