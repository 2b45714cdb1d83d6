"""Settings of the learners comparison (:mod:`.learners`): the configuration block's checks,
labels, and the settings of one variant's training job."""

from __future__ import annotations

import dataclasses
import math

from diffauction.experiments.seeds import seed_values
from diffauction.learning.baselines import CONFIGS, make_config

PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}
#: learners a comparison variant may use; PPO is configured separately (``comparison.ppo``)
VARIANT_LEARNERS = ("smoothed", "npga", "reinforce", "hedge")
#: learners whose policy is a linear bid w·v (their ε-Nash has a closed-form evaluation)
LINEAR = ("smoothed", "npga", "reinforce")
MECHANISMS = ("first_price", "second_price", "all_pay")
MECHANISM_LABELS = {"first_price": "first price", "second_price": "second price",
                    "all_pay": "all-pay"}
MECHANISM_SHORT = {"first_price": "FP", "second_price": "SP", "all_pay": "AP"}
#: PPO's runs: the report's (``comparison.ppo.budget``, in rule all) and the larger target's
PPO_RUNS = {"ppo": ("budget", "seeds"), "ppo_large": ("large_budget", "large_seeds")}
KEYS = ["variant", "n_agents", "mechanism"]
RUN_KEYS = KEYS + ["seed", "run"]


# --- settings ------------------------------------------------------------------------------------


def _learner_errors(spec: dict, key: str, n_agents: list[int], allowed: tuple[str, ...]
                    ) -> list[str]:
    messages = []
    learner = spec["learner"]
    if learner not in allowed:
        hint = (" (PPO is configured under comparison.ppo)"
                if learner == "ppo" else "")
        return [f"{key}.learner: unknown learner {learner!r}{hint}; allowed: {list(allowed)}"]
    if learner == "ppo":
        from diffauction.learning.ppo import PPOConfig  # needs no torchrl: a plain dataclass

        defaults = dataclasses.asdict(PPOConfig())
    else:
        defaults = dataclasses.asdict(CONFIGS[learner]())
    settings = spec.get("settings", {})
    for name in sorted(set(settings) - set(defaults)):
        messages.append(f"{key}.settings.{name}: not a setting of {learner!r}; "
                        f"allowed: {sorted(defaults)}")
    for name in sorted(set(settings) & set(defaults)):
        allowed = _setting_type(defaults[name])
        if allowed and not _has_type(settings[name], allowed):
            messages.append(f"{key}.settings.{name}: {settings[name]!r} is not {allowed}")
    if messages or learner == "ppo":
        return messages
    cfg = make_config(learner, settings)
    if learner == "smoothed":
        from diffauction.learning.samplers import SAMPLERS
        from diffauction.learning.schedules import SCHEDULES

        for field in ("beta_schedule", "lr_schedule"):
            if getattr(cfg, field) not in SCHEDULES:
                messages.append(f"{key}.settings.{field}: unknown schedule "
                                f"{getattr(cfg, field)!r}; allowed: {sorted(SCHEDULES)}")
        if cfg.sampler not in SAMPLERS:
            messages.append(f"{key}.settings.sampler: unknown sampler {cfg.sampler!r}; "
                            f"allowed: {list(SAMPLERS)}")
        if cfg.beta_end is not None and cfg.beta_end < cfg.beta:
            messages.append(f"{key}.settings.beta_end: {cfg.beta_end} is below beta {cfg.beta}; "
                            "allowed: beta_end >= beta")
    for n in n_agents:
        per_step = cfg.samples_per_step(n)
        if spec["budget"] < per_step:
            messages.append(f"{key}.budget: {spec['budget']:g} valuations is less than one step "
                            f"({per_step} for N={n}); allowed: a budget >= {per_step}")
    return messages


def _setting_type(default) -> str | None:
    """What a setting must be, from its default (None: not checked here)."""
    if isinstance(default, bool):
        return "a boolean"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if default is None:
        return "a number or null"
    if isinstance(default, str):
        return "a string"
    return None


def _has_type(value, allowed: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {"a boolean": isinstance(value, bool),
            "an integer": isinstance(value, int) and not isinstance(value, bool),
            "a number": number and math.isfinite(value),
            "a number or null": value is None or (number and math.isfinite(value)),
            "a string": isinstance(value, str)}[allowed]


def validate_section(section: dict, key: str = "comparison") -> list[str]:
    """What the schema cannot say about the comparison block: one message per problem, each
    naming its key."""
    messages = []
    learners = section["learners"]
    for name in sorted(set(PPO_RUNS) & set(learners)):  # results/learners/ppo*/ are PPO's
        messages.append(f"{key}.learners.{name}: the name is reserved for comparison.ppo; "
                        f"allowed: any name but {sorted(PPO_RUNS)}")
    for name, spec in learners.items():
        messages += _learner_errors(spec, f"{key}.learners.{name}", section["n_agents"],
                                    VARIANT_LEARNERS)
    if section["reference"] not in learners:
        messages.append(f"{key}.reference: {section['reference']!r} is not one of the learners; "
                        f"allowed: {sorted(learners)}")
    elif learners[section["reference"]]["learner"] != "smoothed":
        messages.append(f"{key}.reference: the reference must be a smoothed-gradient variant, "
                        f"got {learners[section['reference']]['learner']!r}")
    ppo = section["ppo"]
    messages += _learner_errors({"learner": "ppo", **ppo}, f"{key}.ppo", ppo["n_agents"],
                                ("ppo",))
    return messages + validate_neural(section["neural"], f"{key}.neural")


def label_of(name: str, spec: dict) -> str:
    """A learner's name in the report: its ``label`` (LaTeX), else its key without underscores
    (an underscore is a LaTeX error outside math)."""
    return spec.get("label", name.replace("_", " "))


def learner_labels(section: dict) -> dict[str, str]:
    """Variant → label, in the configuration's order (``section``: the comparison block or its
    neural round)."""
    return {name: label_of(name, spec) for name, spec in section["learners"].items()}


def auction_labels(neural: dict) -> dict[str, str]:
    """Auction → its title in the report (its ``label``, else its name)."""
    return {name: spec.get("label", name.replace("_", " "))
            for name, spec in neural["auctions"].items()}


def variant_settings(section: dict, variant: str) -> dict:
    """Everything one variant's training job depends on (a Snakemake ``params`` value)."""
    if variant in PPO_RUNS:  # the report's PPO run or the larger target
        spec = section["ppo"]
        budget, seeds = PPO_RUNS[variant]
        return {"variant": variant, "learner": "ppo", "label": spec["label"],
                "budget": int(spec[budget]), "settings": dict(spec["settings"]),
                "n_agents": list(spec["n_agents"]), "mechanisms": list(spec["mechanisms"]),
                "seeds": seed_values(spec[seeds]), "w0": section["w0"],
                "records": section["records"]}
    spec = section["learners"][variant]
    return {"variant": variant, "learner": spec["learner"], "label": label_of(variant, spec),
            "budget": int(spec["budget"]), "settings": dict(spec["settings"]),
            "n_agents": list(section["n_agents"]), "mechanisms": list(section["mechanisms"]),
            "seeds": seed_values(section["seeds"]), "w0": section["w0"],
            "records": section["records"]}


# --- the neural round ----------------------------------------------------------------------------

#: learners of the neural round (each trains the network through the one training loop)
NEURAL_LEARNERS = ("smoothed", "npga", "reinforce")


def validate_neural(neural: dict, key: str) -> list[str]:
    """What the schema cannot say about ``comparison.neural``: one message per problem, each
    naming its key."""
    from diffauction.equilibria.registry import known_bne
    from diffauction.game.priors import make_agent_priors

    messages = []
    learners = neural["learners"]
    for name, spec in learners.items():
        messages += _learner_errors(spec, f"{key}.learners.{name}", [2], NEURAL_LEARNERS)
        gradient = spec.get("settings", {}).get("gradient", "analytic")
        if spec["learner"] == "smoothed" and gradient != "autograd":
            messages.append(f"{key}.learners.{name}.settings.gradient: {gradient!r} cannot train "
                            "a network; allowed: autograd")
    reference = neural["reference"]
    if reference not in learners:
        messages.append(f"{key}.reference: {reference!r} is not one of the learners; "
                        f"allowed: {sorted(learners)}")
    elif learners[reference]["learner"] != "smoothed":
        messages.append(f"{key}.reference: the reference must be a smoothed-gradient variant, "
                        f"got {learners[reference]['learner']!r}")
    for name, auction in neural["auctions"].items():
        priors = auction.get("agent_priors")
        if priors is None:
            continue
        if any(p.get("low", 0.0) >= p.get("high", 1.0) for p in priors):
            messages.append(f"{key}.auctions.{name}.agent_priors: every prior needs low < high")
        elif known_bne("first_price", list(make_agent_priors(PRIOR, priors, 2))) is None:
            messages.append(f"{key}.auctions.{name}.agent_priors: no known first-price BNE; "
                            "allowed: U[0, a] against U[0, b] (Plum 1992), or U[0, 1] for both")
    return messages
