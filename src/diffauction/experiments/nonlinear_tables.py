"""The report's summaries of the non-linear experiments (:mod:`.nonlinear`): per-setting metric
table, bid functions beside the BNE, L2 against step, revenue of the asymmetric setting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from diffauction.analysis.bid_functions import bid_quantiles, grid_bid_function, revenue
from diffauction.analysis.distance import best_linear_l2, l2_under_prior
from diffauction.equilibria.registry import known_bne
from diffauction.experiments.nonlinear import BID_COLUMNS, DTYPE, prior_label
from diffauction.game.priors import make_agent_priors

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


def _best_linear_l2(bne, prior, agent: int) -> float:
    """How far the seed's linear policy must stay from agent's BNE; NaN without a known BNE."""
    return math.nan if bne is None else best_linear_l2(lambda x: bne.bid(agent, x), prior)


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
                "l2_best_linear": _best_linear_l2(bne, priors[agent], agent),
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
                l2[rows] = l2_under_prior(f, lambda x, i=i, bne=bne: bne.bid(i, x), priors[i],
                                          nodes).numpy()
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
