"""Hedge: multiplicative weights over a value-bin × bid-grid table, on the *hard* auction.

A baseline learner of :mod:`diffauction.learning.baselines` (see there for the conventions): one
table of cumulative utilities per (run, agent, value bin) over a bid grid, full-information
feedback, ties in expectation (:mod:`diffauction.learning.hard_utility`). Its own loop — a table
policy has no parameter gradient — with the one loop's recorded steps and result type
(:class:`~diffauction.learning.recording.TrainResult`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffauction.game.mechanisms import Mechanism, make_mechanism
from diffauction.game.priors import make_prior, value_midpoints
from diffauction.learning import recording
from diffauction.learning.hard_utility import competing_bids, utility_against
from diffauction.learning.recording import BatchAccounting, TrainResult
from diffauction.learning.trainer import DTYPES, resolve_device

DEFAULT_PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}


def _generators(seeds, device) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def _draw(kind: str, generators, shape: tuple[int, ...], dtype, device) -> torch.Tensor:
    """[runs, *shape] with run r's slice drawn from run r's generator (``rand`` or ``randn``)."""
    out = torch.empty((len(generators), *shape), dtype=dtype, device=device)
    sampler = torch.rand if kind == "rand" else torch.randn
    for r, generator in enumerate(generators):
        sampler(shape, generator=generator, out=out[r])
    return out


def w0_tensor(w0, runs: int, agents: int, dtype, device) -> torch.Tensor:
    """w0: a float (all runs and agents), a per-run list, or a [runs, agents] tensor/list."""
    w = torch.as_tensor(w0, dtype=dtype, device=device)
    if w.dim() == 1:
        w = w[:, None]
    return w.expand(runs, agents).clone()



@dataclass
class HedgeConfig(BatchAccounting):
    """Hedge per (agent, value bin) over a bid grid, full-information feedback."""

    value_bins: int = 32  # equal-probability bins of the prior; midpoints F⁻¹((k+½)/K)
    bid_points: int = 65  # bid grid linspace(0, v_max, G)
    batch_size: int = 256  # sampled values per agent and round
    eta: float = 2.0  # weights ∝ exp(η · cumulative utility), utility summed over samples
    init_width: float = 0.05  # with w0: initial weights ∝ exp(−(g − w0·v_k)² / 2·width²)
    dtype: str = "float64"  # cumulative sums grow with t: keep double precision
    device: str = "cpu"

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


def initial_logits(w0, runs: int, agents: int, grid: torch.Tensor, mids: torch.Tensor,
                   width: float) -> torch.Tensor:
    """L0 [runs, agents, bins, grid]: 0 (uniform weights) for ``w0=None``, else a Gaussian bump
    −(g − w0·v_k)²/(2·width²) around the linear bid w0·v_k on each bin's midpoint v_k."""
    shape = (runs, agents, mids.numel(), grid.numel())
    if w0 is None:
        return torch.zeros(shape, dtype=grid.dtype, device=grid.device)
    w_init = w0_tensor(w0, runs, agents, grid.dtype, grid.device)
    centre = w_init[:, :, None, None] * mids[:, None]  # [R, N, V, 1]
    return -((grid - centre) ** 2) / (2 * width**2)


def sample_rows(strategy: torch.Tensor, coin: torch.Tensor, rows: torch.Tensor,
                offsets: torch.Tensor) -> torch.Tensor:
    """Grid indices drawn from the mixed strategies ``strategy`` [..., G] at flat rows ``rows``
    by inverse-CDF sampling with uniforms ``coin``, all in one sorted search: row ρ's CDF is
    shifted to [ρ, ρ + 1] (``offsets`` [rows, 1] = ρ)."""
    n_grid = strategy.shape[-1]
    cdf = strategy.reshape(-1, n_grid).cumsum(-1)
    cdf[:, -1] = 1.0  # exact, so the shifted rows never overlap
    shifted = (cdf + offsets).reshape(-1)
    choice = torch.searchsorted(shifted, coin + rows.to(coin.dtype)) - rows * n_grid
    return choice.clamp_(0, n_grid - 1)


def train_hedge(n_agents: int, seeds, steps: int, w0=None, mechanism: str = "first_price",
                config: HedgeConfig | None = None, prior: dict | None = None,
                record_every: int = 1, record_steps=None) -> TrainResult:
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
    logits0 = initial_logits(w0, runs, agents, grid, mids, cfg.init_width)
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
    history, k_of_step = recording.History(len(record)), {t: k for k, t in enumerate(record)}
    history.write(0, bids=(strategy() @ grid).to("cpu", torch.float64))
    for t in range(1, steps + 1):
        values = pri.transform(_draw("rand", generators, (batch, agents), dtype, device))
        coin = _draw("rand", generators, (batch, agents), dtype, device)
        bins = (pri.cdf(values) * n_bins).long().clamp_(0, n_bins - 1)  # [R, B, N]
        rows = row_base + bins  # [R, B, N]
        choice = sample_rows(strategy(), coin, rows, offsets)
        cum_utility.view(-1, n_grid).add_(
            grid_feedback(mech, values, choice, grid, rows, n_rows_total))
        if t in k_of_step:
            history.write(k_of_step[t], bids=(strategy() @ grid).to("cpu", torch.float64))

    mids64, hist_bids = mids.to(torch.float64).cpu(), history.cpu()["bids"]
    extras = {"bid_function": hist_bids, "value_midpoints": mids64, "bid_points": grid.cpu(),
              "weights": strategy().cpu()}
    slopes = fit_slope(mids64, hist_bids)
    return TrainResult(
        steps=torch.tensor(record), params=slopes, final=slopes[-1].clone(),
        samples_per_step=per_step, seeds=list(seeds), learner="hedge",
        evaluations_per_sample=cfg.evaluations_per_sample(), extras=extras,
    )
