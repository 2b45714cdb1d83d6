"""Settings beyond the seed's: training tables and per-agent metrics of bid functions.

An experiment that leaves the seed's setting (:func:`diffauction.experiments.config.
uses_bid_functions`: a non-linear policy, a Beta or per-agent prior, CRRA bidders, all-pay, ...)
records every agent's bid function on a grid of ``GRID_POINTS`` values of its support,
v_{k,i} = low_i + (high_i − low_i)·k/(G−1), in columns ``bid_000`` … of its tables. Everything
here works from those grids (piecewise-linear bid functions, :mod:`diffauction.analysis.
bid_functions`), whatever the policy that produced them.

Metrics per run and agent, in the *hard* auction, float64 (Bichler et al. 2021):

==================  ============================================================================
l2_bne, linf_bne    sqrt(E_v[(b_i − b*_i)²]) and max_v |b_i − b*_i| over F_i's quantile midpoints
utility_loss_vs_bne 𝓛_i = 1 − û_i(b_i, b*_{−i}) / u*_i(b*): learned agent against BNE opponents
eps_*               grid best response against the *learned* opponents of the same run
                    (:func:`diffauction.analysis.bid_functions.grid_best_response`)
revenue             the learned profile's expected revenue; revenue_bne at the BNE
==================  ============================================================================

A setting whose BNE the code does not know (:func:`diffauction.equilibria.registry.known_bne` is
None) gets the ε-Nash metrics only; its rows say so in ``metric_note``. The report's summaries
of these metrics are in :mod:`diffauction.experiments.nonlinear_tables`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from diffauction.analysis.bid_functions import (
    CompetingBids,
    bid_quantiles,
    expected_utility,
    grid_best_response,
    grid_bid_function,
    revenue,
)
from diffauction.analysis.distance import l2_distance, linf_distance
from diffauction.equilibria.registry import known_bne
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_agent_priors, value_midpoints
from diffauction.game.risk import make_risk_averse
from diffauction.io import provenance

#: value-grid points per agent on which bid functions are recorded
#: (:func:`diffauction.experiments.config.uses_bid_functions`)
GRID_POINTS = 129
DTYPE = torch.float64
BID_COLUMNS = [f"bid_{k:03d}" for k in range(GRID_POINTS)]
NO_BNE_NOTE = "no known BNE: epsilon-Nash only"
TRAJECTORY_KEYS = ["experiment", "config_hash", "run", "seed", "n_agents", "sampler",
                   "beta_start", "beta_end", "risk_aversion"]
METRICS = ("l2_bne", "linf_bne", "utility_bne", "utility_vs_bne", "utility_loss_vs_bne",
           "utility_vs_learned", "eps_ex_ante", "eps_ex_interim", "eps_relative")


# --- training tables -----------------------------------------------------------------------------


def _slopes(params: torch.Tensor) -> np.ndarray:
    """The slope w of a linear ([.., agents]) or affine ([.., agents, 2]) policy; NaN otherwise."""
    return params.double().numpy() if params.dim() == 2 else (
        params[..., 0].double().numpy() if params.shape[-1] == 2 else
        np.full(params.shape[:2], np.nan))


def policy_label(policy: dict) -> str:
    """The label of a policy config in tables: linear, mlp[10] tanh, shared, ..."""
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
    frame["policy"] = policy_label(setup.policy)
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
                "mechanism": resolved["mechanism"], "policy": policy_label(setup.policy),
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


# --- metrics -------------------------------------------------------------------------------------


def setting_mechanism(mechanism: str, risk_aversion: float):
    """The mechanism with CRRA bidders when ρ ≠ 1."""
    if risk_aversion != 1.0:
        return make_risk_averse(mechanism, risk_aversion)
    return make_mechanism(mechanism)


def _wanted(resolved: dict) -> set[str]:
    metrics = resolved.get("metrics", "auto")
    return {"l2", "linf", "utility_loss", "eps_nash"} if metrics == "auto" else set(metrics)


def learned_bid_functions(group: pd.DataFrame, priors, run_ids: list, quantiles: int):
    """Per agent: the learned bid functions of the runs ``run_ids`` (grid columns of ``group``)
    and their bid quantiles [runs, K+1]."""
    columns = [c for c in BID_COLUMNS if c in group]
    learned, learned_q = [], []
    for i, prior in enumerate(priors):
        rows = group[group["agent"] == i].set_index("run").loc[run_ids]
        grid = torch.linspace(prior.low, prior.high, len(columns), dtype=DTYPE)
        f = grid_bid_function(grid, torch.tensor(rows[columns].to_numpy(), dtype=DTYPE))
        learned.append(f)
        learned_q.append(bid_quantiles(f, prior, quantiles))
    return learned, learned_q


def _vs_bne(mechanism, priors, i: int, own, bne, bne_q, runs: int, value_nodes: int) -> dict:
    """Agent i's L2 and L∞ to its BNE bid, and (where the mechanism has an interim utility) its
    utility loss against BNE opponents."""
    v = value_midpoints(priors[i], value_nodes)
    bids, reference = own(v), bne.bid(i, v)[None, :]
    out = {"l2_bne": l2_distance(bids, reference).numpy(),
           "linf_bne": linf_distance(bids, reference).numpy()}
    if not mechanism.has_interim_utility:
        return out
    others = [j for j in range(len(priors)) if j != i]
    vs_bne = CompetingBids([bne_q[j] for j in others])
    u_star = expected_utility(mechanism, priors[i], lambda x: bne.bid(i, x)[None, :], vs_bne,
                              value_nodes).item()
    one_each = CompetingBids([bne_q[j].expand(runs, -1) for j in others])
    u_hat = expected_utility(mechanism, priors[i], own, one_each, value_nodes)
    return {**out, "utility_bne": np.full(runs, u_star), "utility_vs_bne": u_hat.numpy(),
            "utility_loss_vs_bne": (1.0 - u_hat / u_star).numpy()}


def _vs_learned(mechanism, priors, i: int, own, learned_q, analysis: dict) -> dict:
    """Agent i's ε-Nash against the learned opponents of its run."""
    others = CompetingBids([q for j, q in enumerate(learned_q) if j != i])
    gap = grid_best_response(mechanism, priors[i], own, others, analysis["br_values"],
                             analysis["br_bids"])
    return {"utility_vs_learned": gap["utility"].numpy(),
            "eps_ex_ante": gap["loss_ex_ante"].numpy(),
            "eps_ex_interim": gap["loss_ex_interim"].numpy(),
            "eps_relative": gap["relative_loss"].numpy()}


def _agent_rows(group: pd.DataFrame, run_ids: list, i: int, metrics: dict, bne, rev,
                rev_bne: float) -> list[dict]:
    out = []
    for r, run in enumerate(run_ids):
        row = group[(group["run"] == run) & (group["agent"] == i)].iloc[0]
        out.append({
            **{k: row[k] for k in TRAJECTORY_KEYS + ["agent", "policy", "prior"]},
            "bne": bne.kind if bne is not None else "unknown",
            "bne_formula": bne.formula if bne is not None else "",
            "metric_note": "" if bne is not None else NO_BNE_NOTE,
            **{k: float(m[r]) for k, m in metrics.items()},
            "revenue": float(rev[r]), "revenue_bne": rev_bne,
            "w_tail": row["w_tail"],
            "samples_per_run": int(row["samples_per_run"]),
        })
    return out


def _analyse_setting(resolved: dict, group: pd.DataFrame, n_agents: int, rho: float,
                     quantiles: int, value_nodes: int) -> list[dict]:
    """The rows of :func:`analyse` for one (N, ρ)."""
    wanted = _wanted(resolved)
    priors = make_agent_priors(resolved["prior"], resolved.get("agent_priors"), n_agents)
    mechanism = setting_mechanism(resolved["mechanism"], rho)
    bne = known_bne(resolved["mechanism"], priors, rho)
    run_ids = sorted(group["run"].unique())
    learned, learned_q = learned_bid_functions(group, priors, run_ids, quantiles)
    bne_q = [] if bne is None else [
        bid_quantiles(lambda x, i=i: bne.bid(i, x)[None, :], prior, quantiles)
        for i, prior in enumerate(priors)]
    rev = revenue(resolved["mechanism"], learned_q)
    rev_bne = revenue(resolved["mechanism"], bne_q).item() if bne is not None else np.nan
    out = []
    for i in range(n_agents):
        metrics = {k: np.full(len(run_ids), np.nan) for k in METRICS}
        if bne is not None:
            metrics.update(_vs_bne(mechanism, priors, i, learned[i], bne, bne_q, len(run_ids),
                                   value_nodes))
        if "eps_nash" in wanted and mechanism.has_interim_utility:
            metrics.update(_vs_learned(mechanism, priors, i, learned[i], learned_q,
                                       resolved["analysis"]))
        for name, metric in (("l2", "l2_bne"), ("linf", "linf_bne"),
                             ("utility_loss", "utility_loss_vs_bne")):
            if name not in wanted:
                metrics[metric][:] = np.nan
        out += _agent_rows(group, run_ids, i, metrics, bne, rev, rev_bne)
    return out


def analyse(resolved: dict, summary: pd.DataFrame, trajectory: pd.DataFrame | None = None,
            quantiles: int = 4096, value_nodes: int = 4096) -> pd.DataFrame:
    """Per (run, agent) metrics of an experiment's learned bid functions (module docstring).

    Runs are grouped by (n_agents, risk_aversion), the two things the equilibrium depends on.
    """
    out = []
    for (n_agents, rho), group in summary.groupby(["n_agents", "risk_aversion"], sort=True):
        out += _analyse_setting(resolved, group.sort_values(["run", "agent"]), int(n_agents),
                                float(rho), quantiles, value_nodes)
    return pd.DataFrame(out)
