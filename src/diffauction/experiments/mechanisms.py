"""Convergence-rate comparison across mechanisms (issue 5; metrics of Bichler et al. 2021).

One learner, one initialisation family, one budget, one β grid and one set of seeds for every
mechanism: Adam ascent on the smoothed utility, each agent's gradient taken with its opponents'
bids held fixed, a fresh batch of values every step.

* first price, second price, all-pay (N bidders) and the k-unit pay-as-bid and uniform-price
  auctions train with the project's trainer (:func:`diffauction.learning.trainer.train`), bids b = w·v;
* the LLG auction's two locals train with :func:`diffauction.learning.llg.train_llg`, bids
  max(0, a + w·v) (the family that holds both LLG equilibria; the global bids its value).

Every run starts from the same slope w0 for a given seed index (evenly spread over
``w0.low..w0.high``; a = 0 for LLG) and draws its values from its seed, so runs of different
mechanisms and temperatures are paired.

Target and convergence step
---------------------------
The L2 distance (Bichler et al. 2021) of a learned bid function to a reference b_ref is
sqrt(E_v[(b(v) − b_ref(v))²]), evaluated on ``grid_points`` midpoint quantiles of the prior. The
*target* is the equilibrium the policy family can represent: the BNE where it is linear (first,
second, uniform price) or affine (LLG); for pay-as-bid with k ≥ 2 the BNE is not linear and the
target is the symmetric equilibrium of the game restricted to linear bids
(:func:`diffauction.equilibria.multiunit.linear_restricted_slope`); all-pay restricted to linear bids has no
equilibrium for N ≥ 3 (a bidder's utility is convex in its own slope), so it has no target. The
L2 to the true BNE is recorded for every mechanism as well.

A run's convergence step for a tolerance τ is the first recorded step from which the L2 to the
target of *every* learning agent stays ≤ τ up to the end of the budget; a run still outside at
the end is censored (NaN). The valuations it took are step × batch × bidders.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from diffauction.equilibria import multiunit
from diffauction.equilibria.closed_form import bne_bid as single_item_bne_bid
from diffauction.game.mechanisms import ALL_MECHANISMS, LLG_MECHANISMS, MULTI_UNIT, make_mechanism
from diffauction.game.priors import PRIORS, UniformPrior
from diffauction.io import provenance
from diffauction.learning import llg
from diffauction.learning.trainer import RunBatch, train

LABELS = {
    "first_price": "first price",
    "second_price": "second price",
    "all_pay": "all-pay",
    "pay_as_bid": "pay as bid",
    "uniform_price": "uniform price",
    "llg_vcg": "LLG VCG",
    "llg_nearest_vcg": "LLG nearest-VCG",
}
TRUTHFUL = ("second_price", "uniform_price", "llg_vcg")
SINGLE_ITEM = ("first_price", "second_price", "all_pay")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --- settings ------------------------------------------------------------------------------------


def seed_values(seeds) -> list[int]:
    """A list of seeds, or ``{count, start}``."""
    if isinstance(seeds, dict):
        start = seeds.get("start", 0)
        return list(range(start, start + seeds["count"]))
    return list(seeds)


def validate_section(section: dict, key: str = "mechanism_comparison") -> list[str]:
    """What the schema cannot say about the comparison's settings: one message per problem,
    each naming its key."""
    messages = []
    n, k = section["n_agents"], section["units"]
    mechanisms = section["mechanisms"]
    unknown = [m for m in mechanisms if m not in ALL_MECHANISMS]
    for m in unknown:
        messages.append(f"{key}.mechanisms: unknown mechanism {m!r}; "
                        f"allowed: {sorted(ALL_MECHANISMS)}")
    if any(m in MULTI_UNIT for m in mechanisms) and not 1 <= k < n:
        messages.append(f"{key}.units: k={k} units for N={n} bidders; the k-unit auctions need "
                        f"1 <= k < N; allowed: an integer from 1 to {n - 1}")
    if any(m in LLG_MECHANISMS for m in mechanisms) and n != 3:
        messages.append(f"{key}.n_agents: the LLG auction has exactly 3 bidders (2 locals, 1 "
                        f"global), got n_agents={n}; allowed: 3, or drop "
                        f"{[m for m in mechanisms if m in LLG_MECHANISMS]}")
    prior = section["prior"]
    if prior["name"] not in PRIORS:
        messages.append(f"{key}.prior.name: unknown prior {prior['name']!r}; "
                        f"allowed: {sorted(PRIORS)}")
    elif prior["name"] != "uniform":
        messages.append(f"{key}.prior.name: the mechanisms {mechanisms} have known equilibria "
                        f"only for uniform values, got {prior['name']!r}; allowed: uniform")
    else:
        if prior.get("low", 0.0) != 0.0:
            messages.append(f"{key}.prior.low: the equilibria used as targets are for values "
                            f"on U[0, h], got low={prior['low']}; allowed: 0")
        if prior.get("high", 1.0) <= 0:
            messages.append(f"{key}.prior.high: must be > 0, got {prior['high']}")
        llg_here = [m for m in mechanisms if m in LLG_MECHANISMS]
        if llg_here and prior.get("high", 1.0) != 1.0:
            messages.append(f"{key}.prior.high: {llg_here} fix the locals' values to U[0, 1] "
                            f"(and the global's to U[0, 2]), got high={prior['high']}; "
                            "allowed: 1")
    if section["beta_main"] not in section["beta"]:
        messages.append(f"{key}.beta_main: {section['beta_main']} is not in beta "
                        f"{section['beta']}; allowed: one of them")
    w0 = section["w0"]
    if w0["high"] < w0["low"]:
        messages.append(f"{key}.w0.high: {w0['high']} is below w0.low {w0['low']}; "
                        "allowed: high >= low")
    return messages


def initial_slopes(section: dict) -> list[float]:
    """w0 of seed index j out of S: low + (high − low)·(j + ½)/S."""
    seeds = seed_values(section["seeds"])
    low, high = section["w0"]["low"], section["w0"]["high"]
    return [low + (high - low) * (j + 0.5) / len(seeds) for j in range(len(seeds))]


def run_table(section: dict) -> pd.DataFrame:
    """One row per run: β × seed (seed-major within β), with the seed's initial slope."""
    seeds = seed_values(section["seeds"])
    w0 = initial_slopes(section)
    rows = [{"run": len(seeds) * b + j, "beta": float(beta), "seed": seed, "w0": w0[j]}
            for b, beta in enumerate(section["beta"]) for j, seed in enumerate(seeds)]
    return pd.DataFrame(rows)


# --- references ----------------------------------------------------------------------------------


def high_of(section: dict) -> float:
    return float(section["prior"].get("high", 1.0))


def bne_function(mechanism: str, section: dict):
    """b*(v) of the learning bidders, as a function of a float64 tensor of values."""
    n, k, high = section["n_agents"], section["units"], high_of(section)
    if mechanism in SINGLE_ITEM:
        prior = UniformPrior(0.0, high)
        return lambda v: single_item_bne_bid(mechanism, n, prior, v)
    if mechanism in MULTI_UNIT:
        return lambda v: multiunit.bne_bid(mechanism, n, k, v, high)
    if mechanism in LLG_MECHANISMS:
        return lambda v: llg.bne_bid(mechanism, v)
    raise ValueError(f"mechanism: unknown mechanism {mechanism!r}")


def target(mechanism: str, section: dict) -> tuple[str, object]:
    """(kind, b_ref) of the equilibrium the policy family can represent; b_ref is None where
    there is none (all-pay with linear bids)."""
    n, k = section["n_agents"], section["units"]
    if mechanism == "pay_as_bid" and k >= 2:
        w = multiunit.linear_restricted_slope(mechanism, n, k)
        return "linear-restricted equilibrium", (lambda v: w * v)
    if mechanism == "all_pay":
        return "none", None
    return "BNE", bne_function(mechanism, section)


def value_grid(section: dict, points: int) -> torch.Tensor:
    return high_of(section) * (torch.arange(points, dtype=torch.float64) + 0.5) / points


def l2_linear_to(w: torch.Tensor, reference: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """sqrt(mean_g (w·v_g − b_ref(v_g))²) for any shape of slopes ``w``, from grid moments."""
    m2 = float((grid * grid).mean())
    mvr = float((grid * reference).mean())
    mrr = float((reference * reference).mean())
    return (w.double() ** 2 * m2 - 2.0 * w.double() * mvr + mrr).clamp_min(0.0).sqrt()


def l2_affine_to(params: torch.Tensor, reference: torch.Tensor, grid: torch.Tensor,
                 chunk: int = 16) -> torch.Tensor:
    """L2 of max(0, a + w·v) to b_ref on the grid; ``params`` [..., 2] = (a, w)."""
    flat = params.double().reshape(-1, 2)
    out = torch.empty(flat.shape[0], dtype=torch.float64)
    for start in range(0, flat.shape[0], chunk * 1024):
        p = flat[start:start + chunk * 1024]
        bids = (p[:, :1] + p[:, 1:] * grid).clamp_min(0.0)
        out[start:start + p.shape[0]] = ((bids - reference) ** 2).mean(-1).sqrt()
    return out.reshape(params.shape[:-1])


# --- training ------------------------------------------------------------------------------------


def train_mechanism(section: dict, mechanism: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every (β, seed) run of one mechanism; returns (trajectory, runs) tables.

    trajectory: one row per recorded step, run and learning agent (a, w, L2 to target and BNE);
    runs: one row per run and learning agent (tail-averaged and final parameters, their L2s).
    """
    runs = run_table(section)
    dtype = DTYPES[section["dtype"]]
    n, k = section["n_agents"], section["units"]
    if mechanism in LLG_MECHANISMS:
        result = llg.train_llg(
            mechanism, runs["seed"].tolist(), runs["beta"].tolist(), runs["w0"].tolist(),
            steps=section["steps"], batch_size=section["batch_size"],
            lr_start=section["lr_start"], lr_end=section["lr_end"],
            lr_schedule=section["lr_schedule"], record_every=section["record_every"],
            tail_fraction=section["tail_fraction"], dtype=dtype)
        history, tail, final = result.params, result.tail_average, result.final
        steps, samples = result.steps, result.samples_per_run
        bidders = 3
    else:
        params = {"k": k} if mechanism in MULTI_UNIT else {}
        setup = RunBatch(
            n_agents=n, seeds=runs["seed"].tolist(), beta_start=runs["beta"].tolist(),
            beta_end=runs["beta"].tolist(), lr_start=[section["lr_start"]] * len(runs),
            lr_end=[section["lr_end"]] * len(runs), w0=runs["w0"].tolist(),
            batch_size=section["batch_size"], steps=section["steps"],
            mechanism=make_mechanism(mechanism, **params),
            prior={"name": "uniform", "low": 0.0, "high": high_of(section)},
            lr_schedule=section["lr_schedule"], optimizer="adam",
            record_every=section["record_every"], tail_fraction=section["tail_fraction"],
            dtype=section["dtype"])
        result = train(setup)

        def as_affine(w):  # [..., agents] slopes → [..., agents, 2] (a = 0, w)
            return torch.stack([torch.zeros_like(w), w], dim=-1)

        history, tail, final = (as_affine(result.params), as_affine(result.tail_average),
                                as_affine(result.final))
        steps, samples = result.steps, result.samples_per_run
        bidders = n
    affine = mechanism in LLG_MECHANISMS
    l2 = distances(mechanism, section, history, affine)  # each [K, runs, agents]
    l2_tail = distances(mechanism, section, tail[None], affine)
    kk, n_runs, agents = history.shape[:3]
    index = pd.MultiIndex.from_product([range(kk), range(n_runs), range(agents)],
                                       names=["k", "run", "agent"]).to_frame(index=False)
    traj = index.join(runs.set_index("run"), on="run")
    traj["step"] = steps.numpy()[traj["k"]]
    traj["samples"] = traj["step"] * section["batch_size"] * bidders
    traj["a"] = history[..., 0].double().reshape(-1).numpy()
    traj["w"] = history[..., 1].double().reshape(-1).numpy()
    traj["l2_target"] = l2["target"].reshape(-1).numpy()
    traj["l2_bne"] = l2["bne"].reshape(-1).numpy()
    traj.insert(0, "mechanism", mechanism)
    traj = traj.drop(columns="k")

    rows = []
    for r, run in runs.iterrows():
        for i in range(agents):
            rows.append({
                "mechanism": mechanism, **run.to_dict(), "agent": i,
                "a_tail": float(tail[r, i, 0]), "w_tail": float(tail[r, i, 1]),
                "a_final": float(final[r, i, 0]), "w_final": float(final[r, i, 1]),
                "l2_target_tail": float(l2_tail["target"][0, r, i]),
                "l2_bne_tail": float(l2_tail["bne"][0, r, i]),
                "steps": section["steps"], "batch_size": section["batch_size"],
                "samples_per_run": samples, "bidders": bidders,
                "target": target(mechanism, section)[0],
            })
    summary = pd.DataFrame(rows)
    for key, value in provenance().items():
        summary[key] = value
    return traj, summary


def distances(mechanism: str, section: dict, params: torch.Tensor,
              affine: bool) -> dict[str, torch.Tensor]:
    """L2 to the target and to the BNE of parameters [..., 2] = (a, w): bids max(0, a + w·v)
    if ``affine``, else w·v (a unused)."""
    grid = value_grid(section, section["grid_points"])
    bne = bne_function(mechanism, section)(grid)
    _, reference = target(mechanism, section)

    def l2(ref):
        if not affine:
            return l2_linear_to(params[..., 1], ref, grid)
        return l2_affine_to(params, ref, grid)

    out = {"bne": l2(bne)}
    out["target"] = (l2(reference(grid)) if reference is not None
                     else torch.full(params.shape[:-1], math.nan, dtype=torch.float64))
    return out


# --- analysis ------------------------------------------------------------------------------------


def convergence_steps(trajectory: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Per (mechanism, run): the first recorded step from which every agent's L2 to the target
    stays ≤ ``tolerance`` to the end (NaN if it is outside at the end or has no target)."""
    keys = ["mechanism", "run", "beta", "seed", "w0", "step"]
    worst = (trajectory.assign(missing=trajectory["l2_target"].isna()).groupby(keys, sort=True)
             .agg(l2=("l2_target", "max"), missing=("missing", "any"),
                  samples=("samples", "first")).reset_index())
    worst.loc[worst["missing"], "l2"] = math.nan  # an agent without a target: no target
    rows = []
    for (mechanism, run), group in worst.groupby(["mechanism", "run"], sort=False):
        group = group.sort_values("step")
        outside = ~(group["l2"].to_numpy() <= tolerance)  # NaN counts as outside
        steps = group["step"].to_numpy()
        samples = group["samples"].to_numpy()
        if outside[-1]:
            step = sample = math.nan
        else:
            last_out = np.flatnonzero(outside)
            first = 0 if last_out.size == 0 else last_out[-1] + 1
            step, sample = float(steps[first]), float(samples[first])
        first_row = group.iloc[0]
        rows.append({"mechanism": mechanism, "run": run, "beta": first_row["beta"],
                     "seed": first_row["seed"], "w0": first_row["w0"], "tolerance": tolerance,
                     "converged_step": step, "converged_samples": sample,
                     "final_l2_target": float(group["l2"].iloc[-1])})
    return pd.DataFrame(rows)


def convergence_table(trajectory: pd.DataFrame, runs: pd.DataFrame,
                      tolerances: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-run convergence steps, per (mechanism, β, tolerance) summary).

    The summary's step statistics count censored runs as +∞: the median is finite only when at
    least half the runs converged, the quartiles likewise.
    """
    per_run = pd.concat([convergence_steps(trajectory, tol) for tol in tolerances],
                        ignore_index=True)
    tails = runs.groupby(["mechanism", "run"]).agg(
        l2_bne_tail=("l2_bne_tail", "max"), l2_target_tail=("l2_target_tail", "max"),
        target=("target", "first"), bidders=("bidders", "first"),
        batch_size=("batch_size", "first")).reset_index()
    per_run = per_run.merge(tails, on=["mechanism", "run"])
    rows = []
    for (mechanism, beta, tol), group in per_run.groupby(["mechanism", "beta", "tolerance"],
                                                         sort=False):
        steps = group["converged_step"].fillna(np.inf).to_numpy()
        q25, median, q75 = np.quantile(steps, [0.25, 0.5, 0.75], method="lower")
        reached = np.isfinite(steps)
        per_step = int(group["batch_size"].iloc[0] * group["bidders"].iloc[0])
        rows.append({
            "mechanism": mechanism, "beta": beta, "tolerance": tol,
            "target": group["target"].iloc[0], "runs": len(group),
            "reached": int(reached.sum()),
            "median_step": median, "q25_step": q25, "q75_step": q75,
            "max_step": steps.max(), "min_step": steps.min(),
            "median_samples": median * per_step,
            "l2_target_tail_median": float(group["l2_target_tail"].median()),
            "l2_bne_tail_median": float(group["l2_bne_tail"].median()),
            "l2_bne_tail_max": float(group["l2_bne_tail"].max()),
        })
    summary = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(LABELS)}
    summary = summary.sort_values(["tolerance", "mechanism", "beta"],
                                  key=lambda c: c.map(order) if c.name == "mechanism" else c,
                                  ascending=[False, True, True]).reset_index(drop=True)
    return per_run, summary


def sobol_unit(points: int, dims: int, seed: int) -> torch.Tensor:
    return torch.quasirandom.SobolEngine(dims, scramble=True, seed=seed).draw(
        points, dtype=torch.float64)


def linear_outcome(mechanism: str, section: dict, w: torch.Tensor, points: int,
                   seed: int = 0) -> dict[str, torch.Tensor]:
    """Hard-auction revenue, welfare and mean bidder utility of linear profiles w [P, n], by
    quasi-Monte-Carlo (scrambled Sobol draws shared by every profile)."""
    n, k = section["n_agents"], section["units"]
    mech = make_mechanism(mechanism, **({"k": k} if mechanism in MULTI_UNIT else {}))
    values = high_of(section) * sobol_unit(points, n, seed)  # [points, n]
    bids = w.double()[:, None, :] * values
    allocation, payment = mech.hard_outcome(bids, torch.Generator().manual_seed(seed))
    utility = values * allocation - payment
    return {"revenue": payment.sum(-1).mean(-1), "welfare": (values * allocation).sum(-1).mean(-1),
            "utility": utility.mean(-1).mean(-1)}


def theory_outcome(mechanism: str, section: dict, points: int) -> dict[str, float]:
    """Revenue, welfare and (learning) bidder utility at the BNE: closed forms for the single-
    item and k-unit formats (all efficient, revenue h·k(N−k)/(N+1) with k = 1 for one item),
    quasi-Monte-Carlo for LLG."""
    n, k, high = section["n_agents"], section["units"], high_of(section)
    if mechanism in LLG_MECHANISMS:
        out = llg.bne_outcome(mechanism, points)
        return {"revenue": out["revenue"], "welfare": out["welfare"],
                "utility": out["utility_local"]}
    units = k if mechanism in MULTI_UNIT else 1
    return {"revenue": multiunit.bne_revenue(n, units, high),
            "welfare": multiunit.efficient_welfare(n, units, high),
            "utility": multiunit.bne_utility(n, units, high)}


def outcome_table(runs: pd.DataFrame, section: dict) -> pd.DataFrame:
    """Revenue, welfare and bidder utility of the learned (tail-averaged) profiles at β_main
    against the BNE, one row per mechanism (mean and sd over seeds)."""
    points = section["outcome_points"]
    main = runs[runs["beta"] == float(section["beta_main"])]
    rows = []
    for mechanism in [m for m in LABELS if m in set(main["mechanism"])]:
        group = main[main["mechanism"] == mechanism].sort_values(["run", "agent"])
        wide_a = group.pivot(index="run", columns="agent", values="a_tail")
        wide_w = group.pivot(index="run", columns="agent", values="w_tail")
        if mechanism in LLG_MECHANISMS:
            params = torch.stack([torch.tensor(wide_a.to_numpy()),
                                  torch.tensor(wide_w.to_numpy())], dim=-1)
            out = llg.expected_outcome(mechanism, params, points)
            learned = {"revenue": out["revenue"], "welfare": out["welfare"],
                       "utility": out["utility_local"]}
        else:
            learned = linear_outcome(mechanism, section, torch.tensor(wide_w.to_numpy()), points)
        theory = theory_outcome(mechanism, section, max(points, 2**19))
        row = {"mechanism": mechanism, "runs": len(wide_w)}
        for key in ("revenue", "welfare", "utility"):
            row[f"{key}_bne"] = theory[key]
            row[f"{key}_mean"] = float(learned[key].mean())
            row[f"{key}_sd"] = float(learned[key].std()) if len(wide_w) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def per_sample_gradient(mechanism: str, section: dict, shift: float, beta: float,
                        samples: int, seed: int) -> torch.Tensor:
    """d ũ_0 / d w_0 per sample when agent 0's slope is the target's + ``shift`` and everybody
    else plays the target (float64, scrambled Sobol draws, the same for every ``shift``)."""
    n, k = section["n_agents"], section["units"]
    if mechanism in LLG_MECHANISMS:
        a, w = llg.bne_params(mechanism)
        values = llg.sobol_values(samples, seed)
        slopes = torch.tensor([w + shift, w], dtype=torch.float64)
        raw = a + slopes * values[:, :2]
        bids = torch.cat([raw.clamp_min(0.0), values[:, 2:]], dim=-1)
        dudb = make_mechanism(mechanism).smoothed_bid_gradient(values, bids, beta)
        return dudb[:, 0] * values[:, 0] * (raw[:, 0] > 0)
    _, reference = target(mechanism, section)
    w_ref = float(reference(torch.ones(1, dtype=torch.float64))[0]) / 1.0
    values = high_of(section) * sobol_unit(samples, n, seed)
    slopes = torch.full((n,), w_ref, dtype=torch.float64)
    slopes[0] += shift
    mech = make_mechanism(mechanism, **({"k": k} if mechanism in MULTI_UNIT else {}))
    dudb = mech.smoothed_bid_gradient(values, slopes * values, beta)
    return dudb[:, 0] * values[:, 0]


def gradient_diagnostics(section: dict, shift: float = 0.05) -> pd.DataFrame:
    """Why some mechanisms converge faster: at the target profile, per mechanism and β, the
    smoothed game's curvature κ = −d E[g]/d w_0 (central difference with common random numbers),
    the per-sample gradient noise σ_g, their ratio (the distance in w at which one sample's noise
    equals the restoring force; divide by √batch for a step), and the smoothing bias of the
    fixed point, E[g]/κ at the target (positive: the smoothed game's equilibrium lies above)."""
    samples = section["diagnostic_samples"]
    rows = []
    for mechanism in section["mechanisms"]:
        if target(mechanism, section)[1] is None:
            continue
        for beta in section["beta"]:
            g0 = per_sample_gradient(mechanism, section, 0.0, beta, samples, 1)
            up = per_sample_gradient(mechanism, section, shift, beta, samples, 1).mean()
            down = per_sample_gradient(mechanism, section, -shift, beta, samples, 1).mean()
            kappa = float(-(up - down) / (2 * shift))
            sigma = float(g0.std())
            rows.append({"mechanism": mechanism, "beta": float(beta), "curvature": kappa,
                         "noise_sd": sigma, "noise_to_curvature": sigma / kappa,
                         "step_noise": sigma / kappa / math.sqrt(section["batch_size"]),
                         "smoothing_bias": float(g0.mean()) / kappa})
    return pd.DataFrame(rows)


def l2_curves(trajectory: pd.DataFrame, beta: float) -> pd.DataFrame:
    """L2 against step at one temperature, per mechanism: quartiles, min and max over runs of
    the worst learning agent's L2 to the target (``l2_target_*``) and to the BNE (``l2_bne_*``)."""
    at = trajectory[trajectory["beta"] == float(beta)]
    worst = at.groupby(["mechanism", "run", "step"], sort=True).agg(
        l2_target=("l2_target", "max"), l2_bne=("l2_bne", "max"),
        samples=("samples", "first")).reset_index()
    grouped = worst.groupby(["mechanism", "step"], sort=True)
    out = grouped.agg(samples=("samples", "first"), runs=("run", "size"))
    for column in ("l2_target", "l2_bne"):
        q = grouped[column].quantile([0.25, 0.5, 0.75]).unstack()
        out[f"{column}_q25"], out[f"{column}_median"], out[f"{column}_q75"] = (
            q[0.25], q[0.5], q[0.75])
        out[f"{column}_min"] = grouped[column].min()
        out[f"{column}_max"] = grouped[column].max()
    out = out.reset_index()
    out.insert(1, "beta", float(beta))
    return out


def linear_reference_facts(section: dict) -> dict[str, float]:
    """Numbers the report quotes about the linear policy family: the pay-as-bid restricted
    slope, its L2 to the BNE, the best linear fit's slope and L2, and the smallest L2 any linear
    bid reaches against the all-pay BNE."""
    n, k = section["n_agents"], section["units"]
    grid = value_grid(section, 4096)
    facts = {}
    if 1 <= k < n:
        w_lin = multiunit.linear_restricted_slope("pay_as_bid", n, k)
        bne = multiunit.bne_bid("pay_as_bid", n, k, grid, high_of(section))
        w_fit = float((grid * bne).mean() / (grid * grid).mean())
        facts.update({"pab_restricted_slope": w_lin,
                      "pab_restricted_l2_bne": float(l2_linear_to(torch.tensor(w_lin), bne, grid)),
                      "pab_fit_slope": w_fit,
                      "pab_fit_l2_bne": float(l2_linear_to(torch.tensor(w_fit), bne, grid)),
                      # a common slope w allocates efficiently: revenue w·E[k highest]
                      "pab_restricted_revenue": w_lin * multiunit.efficient_welfare(
                          n, k, high_of(section)),
                      "pab_bne_top": float(multiunit.bne_bid("pay_as_bid", n, k,
                                                             torch.ones(1, dtype=torch.float64),
                                                             1.0)[0])})
    all_pay = single_item_bne_bid("all_pay", n, UniformPrior(0.0, high_of(section)), grid)
    w_fit = float((grid * all_pay).mean() / (grid * grid).mean())
    facts.update({"allpay_fit_slope": w_fit,
                  "allpay_fit_l2_bne": float(l2_linear_to(torch.tensor(w_fit), all_pay, grid))})
    return facts
