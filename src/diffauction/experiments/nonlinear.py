"""Settings beyond the seed's: training tables, per-agent metrics and revenue for bid functions.

An experiment that leaves the seed's setting (:func:`diffauction.experiments.config.uses_bid_functions`: a
non-linear policy, a Beta or per-agent prior, CRRA bidders, all-pay, ...) records every agent's
bid function on a grid of ``GRID_POINTS`` values of its support, v_{k,i} = low_i +
(high_i − low_i)·k/(G−1), in columns ``bid_000`` … of its tables. Everything here works from those
grids (piecewise-linear bid functions), whatever the policy that produced them.

Metrics per run and agent, in the *hard* auction, float64 (Bichler et al. 2021):

==================  ============================================================================
l2_bne, linf_bne    sqrt(E_v[(b_i − b*_i)²]) and max_v |b_i − b*_i| over F_i's quantile midpoints
utility_loss_vs_bne 𝓛_i = 1 − û_i(b_i, b*_{−i}) / u*_i(b*): learned agent against BNE opponents
eps_*               grid best response against the *learned* opponents of the same run (as
                    :func:`diffauction.analysis.metrics.best_response_gap`, for any bid functions)
revenue             the learned profile's expected revenue; revenue_bne at the BNE
==================  ============================================================================

A setting whose BNE the code does not know (:func:`diffauction.equilibria.closed_form.known_bne` is None)
gets the ε-Nash metrics only; its rows say so in ``metric_note``.

The highest competing bid m = max_{j≠i} b_j(v_j) is described by its CDF G(x) = Π_j G_j(x), where
G_j is the CDF of b_j(v_j), built from b_j at the quantiles F_j⁻¹(k/K), k = 0..K: sorted, they are
the quantile function of b_j(v_j), and linear interpolation between them gives G_j with error
O(K⁻²) for smooth bid functions (exact at the nodes; flat pieces of b_j become atoms).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from diffauction.equilibria.closed_form import KnownBNE, known_bne
from diffauction.experiments.config import GRID_POINTS
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_agent_priors, value_midpoints
from diffauction.game.risk import make_risk_averse
from diffauction.io import provenance

DTYPE = torch.float64
BID_COLUMNS = [f"bid_{k:03d}" for k in range(GRID_POINTS)]
NO_BNE_NOTE = "no known BNE: epsilon-Nash only"
TRAJECTORY_KEYS = ["experiment", "config_hash", "run", "seed", "n_agents", "sampler",
                   "beta_start", "beta_end", "risk_aversion"]


# --- training tables -----------------------------------------------------------------------------


def _slopes(params: torch.Tensor) -> np.ndarray:
    """The slope w of a linear ([.., agents]) or affine ([.., agents, 2]) policy; NaN otherwise."""
    return params.double().numpy() if params.dim() == 2 else (
        params[..., 0].double().numpy() if params.shape[-1] == 2 else
        np.full(params.shape[:2], np.nan))


def _policy_label(policy: dict) -> str:
    if policy["name"] != "mlp":
        return policy["name"]
    hidden = "x".join(str(h) for h in policy.get("hidden", [10, 10]))
    shared = ", shared" if policy.get("shared") else ""
    return f"mlp[{hidden}] {policy.get('activation', 'selu')}{shared}"


def trajectory_table(result, runs: list[dict], meta: dict, setup) -> pd.DataFrame:
    """One row per (recorded step, run, agent): schedules, movement, gradient norm, the slope if
    the policy has one, and the bid function on the value grid."""
    k, n_runs, agents = len(result.steps), setup.runs, setup.n_agents
    frame = pd.MultiIndex.from_product([range(k), range(n_runs), range(agents)],
                                       names=["k", "run_index", "agent"]).to_frame(index=False)
    frame = frame.join(pd.DataFrame(runs), on="run_index")
    if "risk_aversion" not in frame:
        frame["risk_aversion"] = 1.0
    kk, rr, ii = frame["k"].to_numpy(), frame["run_index"].to_numpy(), frame["agent"].to_numpy()
    frame["step"] = result.steps.numpy()[kk]
    frame["samples"] = frame["step"] * setup.batch_size * agents
    frame["policy"] = _policy_label(setup.policy)
    params = result.params
    frame["w"] = np.stack([_slopes(params[j]) for j in range(k)])[kk, rr, np.minimum(
        ii, params.shape[2] - 1)]
    grad = result.gradient.double()
    norms = grad.abs() if grad.dim() == 3 else grad.flatten(3).norm(dim=3)
    frame["gradient_norm"] = norms.numpy()[kk, rr, np.minimum(ii, norms.shape[2] - 1)]
    frame["beta"] = result.beta.double().numpy()[kk, rr]
    frame["lr"] = result.lr.double().numpy()[kk, rr]
    frame["movement"] = result.movement.double().numpy()[kk, rr]
    for key, value in meta.items():
        frame[key] = value
    bids = result.bid_grid.double().permute(0, 1, 3, 2).numpy()[kk, rr, ii]  # [rows, G]
    grid = pd.DataFrame(bids, columns=BID_COLUMNS[:bids.shape[1]])
    columns = TRAJECTORY_KEYS + ["policy", "step", "samples", "agent", "w", "gradient_norm",
                                 "beta", "lr", "movement"]
    return pd.concat([frame[columns].reset_index(drop=True), grid], axis=1)


def summary_table(result, runs: list[dict], meta: dict, resolved: dict, setup) -> pd.DataFrame:
    """One row per (run, agent): settings, the agent's support, and its tail-averaged bid function
    on the value grid (``bid_000`` …); the slope too for linear and affine policies."""
    priors = make_agent_priors(setup.prior, setup.agent_priors, setup.n_agents)
    w_final, w_tail = _slopes(result.final), _slopes(result.tail_average)
    rows = []
    for r, run in enumerate(runs):
        for i in range(setup.n_agents):
            prior = priors[i]
            rows.append({
                **meta, "risk_aversion": 1.0, **run, "agent": i,
                "mechanism": resolved["mechanism"], "policy": _policy_label(setup.policy),
                "prior": prior_label(prior),
                "lr_start": setup.lr_start[r], "lr_end": setup.lr_end[r],
                "beta_schedule": setup.beta_schedule, "lr_schedule": setup.lr_schedule,
                "optimizer": setup.optimizer, "batch_size": setup.batch_size,
                "steps": setup.steps, "samples_per_run": result.samples_per_run,
                "w0": setup.w0[r],
                "w_final": float(w_final[r, min(i, w_final.shape[1] - 1)]),
                "w_tail": float(w_tail[r, min(i, w_tail.shape[1] - 1)]),
                "v_low": float(prior.low), "v_high": float(prior.high),
            })
    frame = pd.DataFrame(rows)
    bids = result.bid_grid_tail.double().permute(0, 2, 1).reshape(-1, setup.grid_points).numpy()
    frame = pd.concat([frame, pd.DataFrame(bids, columns=BID_COLUMNS[:setup.grid_points])], axis=1)
    for key, value in provenance().items():
        frame[key] = value
    return frame


def prior_label(prior) -> str:
    """U[0, 0.5], Beta(2, 5), ... for tables and legends."""
    if prior.name == "beta":
        unit = (prior.low, prior.high) == (0.0, 1.0)
        scale = "" if unit else f" on [{prior.low:g}, {prior.high:g}]"
        return f"Beta({prior.a:g}, {prior.b:g}){scale}"
    return f"U[{prior.low:g}, {prior.high:g}]"


# --- bid functions and the highest competing bid -------------------------------------------------


def grid_bid_function(v_grid: torch.Tensor, bids: torch.Tensor):
    """b(v) for every profile: ``bids`` [P, G] on the common grid ``v_grid`` [G]; the returned
    function maps values [M] or [P, M] to bids [P, M] by linear interpolation."""
    v_grid, bids = v_grid.to(DTYPE), bids.to(DTYPE)

    def evaluate(values: torch.Tensor) -> torch.Tensor:
        values = values.to(DTYPE)
        flat = values if values.dim() == 2 else values.expand(bids.shape[0], -1)
        idx = torch.searchsorted(v_grid, flat.contiguous()).clamp(1, v_grid.numel() - 1)
        x0, x1 = v_grid[idx - 1], v_grid[idx]
        t = ((flat - x0) / (x1 - x0)).clamp(0.0, 1.0)
        f0, f1 = bids.gather(1, idx - 1), bids.gather(1, idx)
        return f0 + (f1 - f0) * t

    return evaluate


def bid_quantiles(bid_function, prior, count: int) -> torch.Tensor:
    """Sorted b(F⁻¹(k/K)), k = 0..K, for every profile: [P, K+1], the quantile function of b(v)."""
    values = prior.transform(torch.linspace(0.0, 1.0, count + 1, dtype=DTYPE))
    return torch.sort(bid_function(values), dim=-1).values


class CompetingBids:
    """The highest competing bid m = max_j b_j(v_j) over independent opponents, per profile.

    ``quantiles`` is a list (one entry per opponent) of [P, K+1] sorted bid quantiles (see
    :func:`bid_quantiles`); methods take bids [P, ...] and follow the interface of
    :mod:`diffauction.analysis.metrics` that ``Mechanism.interim_utility`` expects: ``cdf(b) = P(m < b)``
    and ``partial_mean(b) = E[m·1{m < b}]``.
    """

    def __init__(self, quantiles: list[torch.Tensor], integration_nodes: int = 4097):
        self.quantiles = [q.to(DTYPE).contiguous() for q in quantiles]
        self.levels = torch.linspace(0.0, 1.0, self.quantiles[0].shape[1], dtype=DTYPE)
        self.nodes = integration_nodes

    def _opponent_cdf(self, q: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        idx = torch.searchsorted(q, flat)  # first node ≥ b: P(b_j < node) rises to there
        inside = (idx > 0) & (idx < q.shape[1])
        i1 = idx.clamp(1, q.shape[1] - 1)
        x0, x1 = q.gather(1, i1 - 1), q.gather(1, i1)
        t = torch.where(x1 > x0, (flat - x0) / (x1 - x0), torch.ones_like(flat)).clamp(0.0, 1.0)
        level = self.levels[i1 - 1] + (self.levels[i1] - self.levels[i1 - 1]) * t
        return torch.where(inside, level, (idx >= q.shape[1]).to(DTYPE))

    def cdf(self, b: torch.Tensor) -> torch.Tensor:
        flat = b.to(DTYPE).reshape(b.shape[0], -1).contiguous()
        out = torch.ones_like(flat)
        for q in self.quantiles:
            out = out * self._opponent_cdf(q, flat)
        return out.reshape(b.shape)

    def partial_mean(self, b: torch.Tensor) -> torch.Tensor:
        """b·G(b) − ∫_0^b G (m ≥ 0), the integral by the trapezoid rule on a fine grid."""
        top = max(float(b.amax()), max(float(q[:, -1].amax()) for q in self.quantiles), 1e-12)
        x = torch.linspace(0.0, top, self.nodes, dtype=DTYPE)
        g = self.cdf(x.expand(b.shape[0], -1))
        area = torch.cat([g.new_zeros(g.shape[0], 1),
                          torch.cumulative_trapezoid(g, x, dim=-1)], dim=-1)
        flat = b.to(DTYPE).reshape(b.shape[0], -1).contiguous()
        idx = torch.searchsorted(x, flat).clamp(1, self.nodes - 1)
        x0, x1 = x[idx - 1], x[idx]
        a0, a1 = area.gather(1, idx - 1), area.gather(1, idx)
        integral = a0 + (a1 - a0) * ((flat - x0) / (x1 - x0)).clamp(0, 1)
        return (flat * self.cdf(flat) - integral).reshape(b.shape)


# --- metrics -------------------------------------------------------------------------------------


def setting_mechanism(mechanism: str, risk_aversion: float):
    """The mechanism with CRRA bidders when ρ ≠ 1."""
    if risk_aversion != 1.0:
        return make_risk_averse(mechanism, risk_aversion)
    return make_mechanism(mechanism)


def expected_utility(mechanism, prior, own, competing: CompetingBids, nodes: int) -> torch.Tensor:
    """Ex-ante hard utility E_v[u(v, b(v); m)] of every profile: own [P, M] → [P]."""
    v = value_midpoints(prior, nodes)
    return mechanism.interim_utility(v, own(v), competing).mean(dim=-1)


def grid_best_response(mechanism, prior, own, competing: CompetingBids, value_nodes: int,
                       bid_nodes: int, chunk: int = 8) -> dict[str, torch.Tensor]:
    """ε-Nash by grid best response; each profile's ``own`` bid function [P] against its
    ``competing`` bids. The grid is [0, v̄] with the own bid added as a candidate (loss ≥ 0)."""
    v = value_midpoints(prior, value_nodes)
    grid = torch.linspace(0.0, float(prior.high), bid_nodes, dtype=DTYPE)
    own_bids = own(v)  # [P, V]
    profiles = own_bids.shape[0]
    out = {k: torch.empty(profiles, dtype=DTYPE)
           for k in ("utility", "loss_ex_ante", "loss_ex_interim")}
    for start in range(0, profiles, chunk):
        sl = slice(start, start + chunk)
        part = CompetingBids([q[sl] for q in competing.quantiles], competing.nodes)
        p = own_bids[sl].shape[0]
        u_own = mechanism.interim_utility(v, own_bids[sl], part)
        u_grid = mechanism.interim_utility(v[None, :, None], grid.expand(p, 1, bid_nodes), part)
        loss = torch.maximum(u_grid.amax(dim=-1), u_own) - u_own
        out["utility"][sl] = u_own.mean(dim=-1)
        out["loss_ex_ante"][sl] = loss.mean(dim=-1)
        out["loss_ex_interim"][sl] = loss.amax(dim=-1)
    out["relative_loss"] = 1.0 - out["utility"] / (out["utility"] + out["loss_ex_ante"])
    return out


def revenue(mechanism: str, quantiles: list[torch.Tensor], nodes: int = 8193) -> torch.Tensor:
    """Expected revenue per profile from every bidder's bid quantiles ([P, K+1] each).

    first price E[max_i b_i], second price E[second-highest b_i] (both ∫ (1 − CDF) over bids ≥ 0),
    all-pay Σ_i E[b_i] (trapezoid over the quantile levels). NaN for other mechanisms.
    """
    if mechanism == "all_pay":
        levels = torch.linspace(0.0, 1.0, quantiles[0].shape[1], dtype=DTYPE)
        return sum(torch.trapezoid(q, levels, dim=-1) for q in quantiles)
    if mechanism not in ("first_price", "second_price"):
        return torch.full((quantiles[0].shape[0],), math.nan, dtype=DTYPE)
    top = max(float(q[:, -1].amax()) for q in quantiles)
    x = torch.linspace(0.0, max(top, 1e-12), nodes, dtype=DTYPE)
    profiles = quantiles[0].shape[0]
    cdfs = [CompetingBids([q]).cdf(x.expand(profiles, -1)) for q in quantiles]  # P(b_i < x)
    highest = torch.stack(cdfs).prod(dim=0)
    if mechanism == "first_price":
        below = highest
    else:  # P(second highest < x) = Π G + Σ_i (1 − G_i) Π_{j≠i} G_j
        below = highest + sum(
            (1 - g) * torch.stack([h for j, h in enumerate(cdfs) if j != i]).prod(dim=0)
            for i, g in enumerate(cdfs))
    return torch.trapezoid(1.0 - below, x, dim=-1)


def _wanted(resolved: dict) -> set[str]:
    metrics = resolved.get("metrics", "auto")
    return {"l2", "linf", "utility_loss", "eps_nash"} if metrics == "auto" else set(metrics)


def analyse(resolved: dict, summary: pd.DataFrame, trajectory: pd.DataFrame | None = None,
            quantiles: int = 4096, value_nodes: int = 4096) -> pd.DataFrame:
    """Per (run, agent) metrics of an experiment's learned bid functions (module docstring).

    Runs are grouped by (n_agents, risk_aversion), the two things the equilibrium depends on.
    """
    analysis = resolved["analysis"]
    wanted = _wanted(resolved)
    columns = [c for c in BID_COLUMNS if c in summary]
    out = []
    for (n_agents, rho), group in summary.groupby(["n_agents", "risk_aversion"], sort=True):
        n_agents, rho = int(n_agents), float(rho)
        group = group.sort_values(["run", "agent"])
        priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n_agents)
        mechanism = setting_mechanism(resolved["mechanism"], rho)
        bne = known_bne(resolved["mechanism"], priors, rho)
        run_ids = sorted(group["run"].unique())
        learned, learned_q, bne_q = [], [], []
        for i in range(n_agents):
            rows = group[group["agent"] == i].set_index("run").loc[run_ids]
            grid = torch.linspace(priors[i].low, priors[i].high, len(columns), dtype=DTYPE)
            f = grid_bid_function(grid, torch.tensor(rows[columns].to_numpy(), dtype=DTYPE))
            learned.append(f)
            learned_q.append(bid_quantiles(f, priors[i], quantiles))
            if bne is not None:
                bne_q.append(bid_quantiles(lambda x, i=i, bne=bne: bne.bid(i, x)[None, :],
                                           priors[i], quantiles))
        rev = revenue(resolved["mechanism"], learned_q)
        rev_bne = revenue(resolved["mechanism"], bne_q).item() if bne is not None else math.nan
        for i in range(n_agents):
            others = [j for j in range(n_agents) if j != i]
            row_metrics = {k: np.full(len(run_ids), np.nan) for k in (
                "l2_bne", "linf_bne", "utility_bne", "utility_vs_bne", "utility_loss_vs_bne",
                "utility_vs_learned", "eps_ex_ante", "eps_ex_interim", "eps_relative")}
            if bne is not None:
                v = value_midpoints(priors[i], value_nodes)
                diff = learned[i](v) - bne.bid(i, v)[None, :]
                row_metrics["l2_bne"] = diff.pow(2).mean(dim=-1).sqrt().numpy()
                row_metrics["linf_bne"] = diff.abs().amax(dim=-1).numpy()
                vs_bne = CompetingBids([bne_q[j] for j in others])
                u_star = expected_utility(
                    mechanism, priors[i], lambda x, i=i, bne=bne: bne.bid(i, x)[None, :],
                    vs_bne, value_nodes).item()
                one_each = CompetingBids([bne_q[j].expand(len(run_ids), -1) for j in others])
                u_hat = expected_utility(mechanism, priors[i], learned[i], one_each, value_nodes)
                row_metrics["utility_bne"] = np.full(len(run_ids), u_star)
                row_metrics["utility_vs_bne"] = u_hat.numpy()
                row_metrics["utility_loss_vs_bne"] = (1.0 - u_hat / u_star).numpy()
            if "eps_nash" in wanted:
                gap = grid_best_response(mechanism, priors[i], learned[i],
                                         CompetingBids([learned_q[j] for j in others]),
                                         analysis["br_values"], analysis["br_bids"])
                row_metrics["utility_vs_learned"] = gap["utility"].numpy()
                row_metrics["eps_ex_ante"] = gap["loss_ex_ante"].numpy()
                row_metrics["eps_ex_interim"] = gap["loss_ex_interim"].numpy()
                row_metrics["eps_relative"] = gap["relative_loss"].numpy()
            for name, metric in (("l2", "l2_bne"), ("linf", "linf_bne"),
                                 ("utility_loss", "utility_loss_vs_bne")):
                if name not in wanted:
                    row_metrics[metric][:] = np.nan
            for r, run in enumerate(run_ids):
                row = group[(group["run"] == run) & (group["agent"] == i)].iloc[0]
                out.append({
                    **{k: row[k] for k in TRAJECTORY_KEYS + ["agent", "policy", "prior"]},
                    "bne": bne.kind if bne is not None else "unknown",
                    "bne_formula": bne.formula if bne is not None else "",
                    "metric_note": "" if bne is not None else NO_BNE_NOTE,
                    **{k: float(m[r]) for k, m in row_metrics.items()},
                    "revenue": float(rev[r]), "revenue_bne": rev_bne,
                    "w_tail": row["w_tail"],
                    "samples_per_run": int(row["samples_per_run"]),
                })
    return pd.DataFrame(out)


# --- summaries for the report --------------------------------------------------------------------

#: experiments of the report section "Non-linear and asymmetric strategies", in table order
SETTINGS = {
    "nl_asymmetric": "asymmetric uniform",
    "nl_crra": "risk-averse (CRRA)",
    "nl_beta": "Beta values",
    "nl_allpay": "all-pay",
}


def _groups(metrics: pd.DataFrame, asymmetric: bool) -> list[tuple[dict, pd.DataFrame]]:
    """(keys, rows) per setting row of the table: per agent when the agents differ, pooled
    over the (identical) agents otherwise."""
    keys = ["n_agents", "risk_aversion"] + (["agent"] if asymmetric else [])
    return [(dict(zip(keys, k if isinstance(k, tuple) else (k,), strict=True)), g)
            for k, g in metrics.groupby(keys, sort=True)]


def best_linear_l2(bne: KnownBNE | None, prior, agent: int, nodes: int = 4096) -> float:
    """L2 distance from agent's BNE bid to the closest linear bid w·v (least squares under the
    prior): how far the seed's linear policy must stay; NaN without a known BNE."""
    if bne is None:
        return math.nan
    v = value_midpoints(prior, nodes)
    target = bne.bid(agent, v)
    w = (target * v).mean() / (v * v).mean()
    return float((target - w * v).pow(2).mean().sqrt())


def settings_summary(metrics: dict[str, pd.DataFrame], settings: dict[str, dict]
                     ) -> pd.DataFrame:
    """One row per (experiment, N, ρ[, agent]): mean and worst over seeds (and identical agents)
    of L2, L∞, utility loss and ε; ``runs`` counts the seeds; ``l2_best_linear`` is the distance
    of the closest linear bid function to the BNE."""
    rows = []
    for name, frame in metrics.items():
        resolved = settings[name]
        asymmetric = "agent_priors" in resolved
        for keys, g in _groups(frame, asymmetric):
            n, rho, agent = int(keys["n_agents"]), float(keys["risk_aversion"]), \
                int(keys.get("agent", 0))
            priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n)
            bne = known_bne(resolved["mechanism"], priors, rho)
            rows.append({
                "experiment": name, "setting": SETTINGS.get(name, name),
                "mechanism": resolved["mechanism"], **keys,
                "agent": keys.get("agent", -1), "prior": " / ".join(sorted(g["prior"].unique())),
                "policy": g["policy"].iloc[0], "bne": g["bne"].iloc[0],
                "formula": g["bne_formula"].iloc[0], "metric_note": g["metric_note"].iloc[0],
                "runs": g["run"].nunique(), "samples_per_run": int(g["samples_per_run"].iloc[0]),
                "l2_mean": g["l2_bne"].mean(), "l2_max": g["l2_bne"].max(),
                "linf_max": g["linf_bne"].max(),
                "utility_loss_mean": g["utility_loss_vs_bne"].mean(),
                "utility_loss_max": g["utility_loss_vs_bne"].max(),
                "eps_ex_ante_mean": g["eps_ex_ante"].mean(),
                "eps_ex_interim_max": g["eps_ex_interim"].max(),
                "eps_relative_mean": g["eps_relative"].mean(),
                "revenue_mean": g["revenue"].mean(), "revenue_bne": g["revenue_bne"].iloc[0],
                "l2_best_linear": best_linear_l2(bne, priors[agent], agent),
            })
    return pd.DataFrame(rows)


def bid_function_table(runs: dict[str, pd.DataFrame], settings: dict[str, dict]) -> pd.DataFrame:
    """Learned bid functions on the value grid (mean, min, max over seeds; over identical agents
    too) beside the BNE, one row per (experiment, N, ρ, agent, grid point)."""
    out = []
    for name, frame in runs.items():
        resolved = settings[name]
        asymmetric = "agent_priors" in resolved
        columns = [c for c in BID_COLUMNS if c in frame]
        for keys, g in _groups(frame, asymmetric):
            n, rho = int(keys["n_agents"]), float(keys["risk_aversion"])
            priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n)
            bne = known_bne(resolved["mechanism"], priors, rho)
            agent = int(keys.get("agent", 0))
            v = torch.linspace(priors[agent].low, priors[agent].high, len(columns), dtype=DTYPE)
            bids = g[columns].to_numpy()
            out.append(pd.DataFrame({
                "experiment": name, "n_agents": n, "risk_aversion": rho,
                "agent": keys.get("agent", -1), "prior": prior_label(priors[agent]), "v": v.numpy(),
                "bid_mean": bids.mean(axis=0), "bid_min": bids.min(axis=0),
                "bid_max": bids.max(axis=0),
                "bid_bne": bne.bid(agent, v).numpy() if bne is not None else np.nan,
            }))
    return pd.concat(out, ignore_index=True)


def convergence_table(trajectories: dict[str, pd.DataFrame], settings: dict[str, dict],
                      nodes: int = 1024) -> pd.DataFrame:
    """L2 to the BNE of every recorded iterate: mean and worst over seeds and agents per
    (experiment, N, ρ, step), with the sampled valuations per run so far."""
    out = []
    for name, frame in trajectories.items():
        resolved = settings[name]
        columns = [c for c in BID_COLUMNS if c in frame]
        for (n, rho), g in frame.groupby(["n_agents", "risk_aversion"], sort=True):
            priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), int(n))
            bne = known_bne(resolved["mechanism"], priors, float(rho))
            if bne is None:
                continue
            l2 = np.empty(len(g))
            for i in range(int(n)):
                rows = (g["agent"] == i).to_numpy()
                grid = torch.linspace(priors[i].low, priors[i].high, len(columns), dtype=DTYPE)
                f = grid_bid_function(grid, torch.tensor(g.loc[rows, columns].to_numpy()))
                v = value_midpoints(priors[i], nodes)
                l2[rows] = (f(v) - bne.bid(i, v)).pow(2).mean(dim=-1).sqrt().numpy()
            small = pd.DataFrame({"step": g["step"].to_numpy(), "samples": g["samples"].to_numpy(),
                                  "beta": g["beta"].to_numpy(), "l2": l2})
            stats = small.groupby("step").agg(
                samples=("samples", "first"), l2_mean=("l2", "mean"), l2_max=("l2", "max"),
                beta=("beta", "first")).reset_index()
            out.append(stats.assign(experiment=name, n_agents=int(n), risk_aversion=float(rho)))
    return pd.concat(out, ignore_index=True)


def revenue_table(metrics: pd.DataFrame, resolved: dict, quantiles: int = 4096) -> pd.DataFrame:
    """Revenue and utilities of the asymmetric setting: learned first price (mean, min, max over
    seeds), its BNE, and the second-price auction with truthful bids, all from the models."""
    n = int(metrics["n_agents"].iloc[0])
    priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n)
    truthful = [bid_quantiles(lambda x: x[None, :], p, quantiles) for p in priors]
    second = revenue("second_price", truthful).item()
    per_run = metrics.groupby("run")["revenue"].first()
    rows = [
        {"auction": "first price, learned", "revenue": per_run.mean(),
         "revenue_min": per_run.min(), "revenue_max": per_run.max()},
        {"auction": "first price, BNE", "revenue": float(metrics["revenue_bne"].iloc[0])},
        {"auction": "second price, truthful", "revenue": second},
    ]
    frame = pd.DataFrame(rows)
    for i in range(n):
        agent = metrics[metrics["agent"] == i]
        frame[f"utility_bne_{i}"] = float(agent["utility_bne"].iloc[0])
        frame[f"utility_learned_{i}"] = float(agent["utility_vs_learned"].mean())
        frame[f"prior_{i}"] = prior_label(priors[i])
    return frame
