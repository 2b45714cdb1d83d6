"""Configuration: load, validate (JSON schema + the rules a schema cannot say), expand.

``validate_config`` returns a copy with every default filled in, or raises :class:`ConfigError`
whose message lists each problem as ``key.path: what is wrong; allowed: ...``. Nothing is
trained or written before validation passes.

``expand_experiment`` turns one experiment into :class:`~diffauction.learning.trainer.RunBatch`
programs, one per agent count: the other sweep axes (β values × seeds) are batched as runs. The
schema half of the checks is :mod:`.schema`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import itertools
import json
from importlib import resources
from pathlib import Path

import yaml

from diffauction.experiments.learners_settings import validate_section as validate_comparison
from diffauction.experiments.mechanisms import validate_section
from diffauction.experiments.nonlinear import GRID_POINTS
from diffauction.experiments.schema import (
    fill_defaults,
    schema_errors,
    structural_errors,
)
from diffauction.experiments.seeds import seed_values as seed_list
from diffauction.experiments.smoothing import validate_smoothing
from diffauction.game.mechanisms import make_mechanism
from diffauction.learning.trainer import RunBatch

SCHEMA_PATH = resources.files("diffauction") / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message names every offending key."""


@functools.lru_cache(maxsize=1)
def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _semantic_errors(cfg: dict) -> list[str]:
    """Rules the schema cannot express."""
    messages = []
    for name, exp in cfg["experiments"].items():
        key = f"experiments.{name}"
        prior = exp["prior"]
        if prior["high"] <= prior["low"]:
            messages.append(f"{key}.prior: high ({prior['high']}) must exceed low "
                            f"({prior['low']}); allowed: low < high")
        beta = exp["beta"]
        rising = isinstance(beta, dict) and beta["schedule"] != "constant"
        if rising and beta["end"] < beta["start"]:
            messages.append(
                f"{key}.beta.end: {beta['end']} is below beta.start {beta['start']}; an annealing "
                "schedule must not lower the temperature parameter: allowed: end >= start")
        samplers = exp["sampler"] if isinstance(exp["sampler"], list) else [exp["sampler"]]
        if "antithetic" in samplers and exp["batch_size"] % 2:
            messages.append(f"{key}.batch_size: {exp['batch_size']} is odd; the antithetic "
                            "sampler pairs draws: allowed: an even integer")
        for sub in ("beta", "optimizer.lr"):
            value = exp["optimizer"]["lr"] if sub == "optimizer.lr" else beta
            if isinstance(value, dict) and value["schedule"] == "constant" and \
                    value["end"] != value["start"]:
                messages.append(f"{key}.{sub}: a constant schedule needs end == start "
                                f"(got start={value['start']}, end={value['end']})")
        messages += _setting_errors(key, exp)
    if "mechanism_comparison" in cfg:
        messages += validate_section(cfg["mechanism_comparison"])
    if "comparison" in cfg:
        messages += validate_comparison(cfg["comparison"])
    if "smoothing_theory" in cfg:
        messages += validate_smoothing(cfg["smoothing_theory"])
    return messages


MLP_KEYS = ("hidden", "shared", "activation", "output", "pretrain", "pretrain_steps")
BNE_METRICS = ("l2", "linf", "utility_loss")


def _prior_errors(key: str, prior: dict) -> list[str]:
    """Shape parameters present exactly for a Beta prior; ``low < high`` for agent priors (the
    shared prior's bounds are checked above)."""
    messages = []
    if prior.get("name") == "beta":
        missing = [k for k in ("a", "b") if k not in prior]
        if missing:
            messages.append(f"{key}.name: 'beta' needs the shape parameters a and b (numbers > 0),"
                            f" missing {missing}; allowed: uniform {{low, high}} or beta "
                            "{a, b, low, high}")
    else:
        for k in ("a", "b"):
            if k in prior:
                messages.append(f"{key}.{k}: only a beta prior has shape parameters; allowed: "
                                "remove it, or name: beta")
    return messages


def _setting_errors(key: str, exp: dict) -> list[str]:
    """Priors, policy, risk aversion and metrics of one experiment (issue: non-linear settings)."""
    messages = _prior_errors(f"{key}.prior", exp["prior"])
    agent_priors = exp.get("agent_priors")
    n_agents = exp["n_agents"]
    fewest = make_mechanism(exp["mechanism"]).min_bidders
    too_few = [n for n in _as_list(n_agents) if n < fewest]
    if too_few:
        messages.append(f"{key}.n_agents: {exp['mechanism']} needs at least {fewest} bidders, "
                        f"got {too_few}; allowed: integers >= {fewest}")
    if agent_priors is not None:
        for i, prior in enumerate(agent_priors):
            messages += _prior_errors(f"{key}.agent_priors.{i}", prior)
            low, high = prior.get("low", 0.0), prior.get("high", 1.0)
            if not high > low:
                messages.append(f"{key}.agent_priors.{i}: high ({high}) must exceed low ({low});"
                                " allowed: low < high")
        if n_agents != len(agent_priors):
            messages.append(f"{key}.agent_priors: {len(agent_priors)} priors for n_agents "
                            f"{n_agents}; allowed: one prior per agent (n_agents a single integer "
                            "equal to the list's length)")
    rhos = _as_list(exp.get("risk_aversion", 1.0))
    if any(r != 1.0 for r in rhos) and exp["mechanism"] != "first_price":
        messages.append(f"{key}.risk_aversion: CRRA bidders are supported in first_price only, "
                        f"got mechanism {exp['mechanism']!r}; allowed: 1, or mechanism "
                        "first_price")
    policy = exp["policy"]
    name = policy["name"]
    if name != "linear" and exp["gradient"] == "analytic":
        messages.append(f"{key}.gradient: 'analytic' is the linear policy's closed form; policy "
                        f"{name!r} needs allowed: autograd")
    if "gradient_options" in exp and exp["gradient"] != "autograd":
        messages.append(f"{key}.gradient_options: options of the autograd estimator, got "
                        f"gradient {exp['gradient']!r}; allowed: remove them, or gradient: "
                        "autograd")
    for k in MLP_KEYS:
        if k in policy and name != "mlp":
            messages.append(f"{key}.policy.{k}: only for policy mlp, got policy {name!r}; "
                            "allowed: remove it, or name: mlp")
    if "c0" in policy and name != "affine":
        messages.append(f"{key}.policy.c0: only for policy affine, got policy {name!r}; "
                        "allowed: remove it, or name: affine")
    if policy.get("shared") and agent_priors is not None and \
            any(p != agent_priors[0] for p in agent_priors):
        messages.append(f"{key}.policy.shared: one network for all agents needs identical "
                        "priors; allowed: false with differing agent_priors")
    metrics = exp.get("metrics", "auto")
    wanted = [m for m in BNE_METRICS if metrics != "auto" and m in metrics]
    if wanted and not messages:
        messages += _unknown_bne_errors(key, exp, wanted)
    return messages


def _unknown_bne_errors(key: str, exp: dict, wanted: list[str]) -> list[str]:
    """A metric that needs the BNE, in a setting whose BNE the code does not know."""
    from diffauction.equilibria.registry import known_bne
    from diffauction.game.priors import make_agent_priors

    unknown = []
    for n, rho in itertools.product(_as_list(exp["n_agents"]),
                                    _as_list(exp.get("risk_aversion", 1.0))):
        try:
            priors = make_agent_priors(exp["prior"], exp.get("agent_priors"), n)
            if known_bne(exp["mechanism"], priors, rho) is None:
                unknown.append(f"n_agents={n}, risk_aversion={rho}")
        except ValueError as err:  # reported by the other checks
            unknown.append(str(err))
    if not unknown:
        return []
    return [f"{key}.metrics: {wanted} need the BNE, which the code does not know for mechanism "
            f"{exp['mechanism']!r} with these priors ({'; '.join(unknown)}); allowed: "
            "[eps_nash] or auto (falls back to epsilon-Nash only)"]


def uses_bid_functions(resolved: dict) -> bool:
    """Whether an experiment leaves the seed's setting (linear bids, one U[0, h] prior,
    risk-neutral first or second price): its runs then record bid functions on a value grid and
    are analysed per agent against the setting's BNE (:mod:`diffauction.experiments.nonlinear`)."""
    prior = resolved["prior"]
    return (resolved["policy"]["name"] != "linear" or prior["name"] != "uniform"
            or prior.get("low", 0.0) != 0.0 or "agent_priors" in resolved
            or "risk_aversion" in resolved or "metrics" in resolved
            or resolved["mechanism"] not in ("first_price", "second_price"))



def validate_config(cfg) -> dict:
    """Validate a config mapping and return a copy with defaults filled in."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"<config>: expected a mapping, got {type(cfg).__name__}")
    schema = load_schema()
    cfg = copy.deepcopy(cfg)
    errors = structural_errors(cfg) or schema_errors(cfg, schema)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    fill_defaults(cfg, schema, schema)
    errors = _semantic_errors(cfg)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return cfg


def load_config(path: str | Path) -> dict:
    """Read a YAML file and validate it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {err}") from None
    return validate_config(raw)


def resolve_experiment(cfg: dict, name: str) -> dict:
    """The experiment's settings with the top-level device/dtype/threads/analysis merged in."""
    if name not in cfg["experiments"]:
        raise ConfigError(f"experiments.{name}: no such experiment; "
                          f"allowed: {sorted(cfg['experiments'])}")
    exp = copy.deepcopy(cfg["experiments"][name])
    exp.setdefault("device", cfg["device"])
    exp.setdefault("dtype", cfg["dtype"])
    exp["name"] = name
    exp["threads"] = cfg["threads"]
    exp["analysis"] = copy.deepcopy(cfg["analysis"])
    return exp


def config_hash(resolved: dict) -> str:
    """A short, stable hash of a resolved experiment (key order does not matter)."""
    blob = json.dumps(resolved, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def expand_experiment(resolved: dict) -> list[tuple[RunBatch, list[dict]]]:
    """One (RunBatch, run metadata) pair per agent count × sampler; runs = β values × seeds."""
    seeds = seed_list(resolved["seeds"])
    beta = resolved["beta"]
    lr = resolved["optimizer"]["lr"]
    beta_schedule = beta["schedule"] if isinstance(beta, dict) else "constant"
    lr_schedule = lr["schedule"] if isinstance(lr, dict) else "constant"
    betas = [(beta["start"], beta["end"])] if isinstance(beta, dict) else [
        (b, b) for b in _as_list(beta)]
    lr_start, lr_end = (lr["start"], lr["end"]) if isinstance(lr, dict) else (lr, lr)
    # CRRA ρ is an outer sweep axis; experiments without the key keep the seed's run order
    rhos = _as_list(resolved["risk_aversion"]) if "risk_aversion" in resolved else [None]
    general = uses_bid_functions(resolved)
    programs = []
    for n_agents, sampler in itertools.product(_as_list(resolved["n_agents"]),
                                               _as_list(resolved["sampler"])):
        offset = sum(len(runs) for _, runs in programs)  # run ids are global in the experiment
        runs = [
            {"run": offset + i, "n_agents": n_agents, "sampler": sampler, "seed": seed,
             "beta_start": b0, "beta_end": b1,
             **({} if rho is None else {"risk_aversion": rho})}
            for i, (rho, (b0, b1), seed) in enumerate(itertools.product(rhos, betas, seeds))
        ]
        risk = [r["risk_aversion"] for r in runs] if rhos != [None] else None
        setup = RunBatch(
            n_agents=n_agents,
            seeds=[r["seed"] for r in runs],
            beta_start=[r["beta_start"] for r in runs],
            beta_end=[r["beta_end"] for r in runs],
            lr_start=[lr_start] * len(runs),
            lr_end=[lr_end] * len(runs),
            w0=[resolved["policy"]["w0"]] * len(runs),
            batch_size=resolved["batch_size"],
            steps=resolved["steps"],
            mechanism=resolved["mechanism"],
            prior=resolved["prior"],
            beta_schedule=beta_schedule,
            lr_schedule=lr_schedule,
            optimizer=resolved["optimizer"]["name"],
            adam_betas=tuple(resolved["optimizer"]["betas"]),
            adam_eps=resolved["optimizer"]["eps"],
            momentum=resolved["optimizer"]["momentum"],
            record_every=resolved["record_every"],
            tail_fraction=resolved["tail_fraction"],
            gradient=resolved["gradient"],
            gradient_options=resolved.get("gradient_options", {}),
            sampler=sampler,
            dtype=resolved["dtype"],
            device=resolved["device"],
            policy=resolved["policy"],
            agent_priors=resolved.get("agent_priors"),
            risk_aversion=None if risk is None or all(r == 1.0 for r in risk) else risk,
            grid_points=GRID_POINTS if general else 0,
        )
        programs.append((setup, runs))
    return programs


def count_runs(resolved: dict) -> int:
    """Number of runs of an experiment (agent counts × samplers × β values × seeds)."""
    return sum(len(runs) for _, runs in expand_experiment(resolved))


def select_runs(programs: list[tuple[RunBatch, list[dict]]], first: int, stop: int
                ) -> list[tuple[RunBatch, list[dict]]]:
    """Keep the runs with ``first <= run < stop``, dropping programs left empty.

    Every run draws from its own generator, so a run's result does not depend on which other
    runs share its program: training a block of runs gives exactly the rows of the full
    experiment (tested), which lets a cluster split a sweep into jobs.
    """
    per_run = ["seeds", "beta_start", "beta_end", "lr_start", "lr_end", "w0", "risk_aversion"]
    selected = []
    for setup, runs in programs:
        keep = [i for i, run in enumerate(runs) if first <= run["run"] < stop]
        if not keep:
            continue
        subset = dataclasses.replace(
            setup, **{name: [getattr(setup, name)[i] for i in keep] for name in per_run
                      if getattr(setup, name) is not None})
        selected.append((subset, [runs[i] for i in keep]))
    return selected
