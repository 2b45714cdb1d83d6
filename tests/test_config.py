"""Tests for diffauction.experiments.config: validation messages, defaults, loading, sweeps."""

from __future__ import annotations

import copy
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffauction.experiments import config as config_module
from diffauction.experiments.config import (
    ConfigError,
    config_hash,
    expand_experiment,
    load_config,
    load_schema,
    resolve_experiment,
    seed_list,
    validate_config,
)
from diffauction.learning.trainer import train

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / "config" / "config.yaml"
BASE = yaml.safe_load(CONFIG_PATH.read_text())
EXP = "experiments.week4"
SCHEMA = load_schema()


def with_change(change) -> dict:
    cfg = copy.deepcopy(BASE)
    change(cfg)
    return cfg


def week4(cfg):
    return cfg["experiments"]["week4"]


def minimal_experiment(**overrides) -> dict:
    exp = {"n_agents": 2, "beta": 50, "optimizer": {"name": "adam", "lr": 1e-3},
           "batch_size": 64, "steps": 3, "seeds": [0]}
    exp.update(overrides)
    return exp


# --- acceptance and defaults ---------------------------------------------------------------------


def test_shipped_config_is_valid_and_defaults_are_filled():
    original = copy.deepcopy(BASE)
    cfg = validate_config(BASE)
    assert BASE == original, "validate_config must not mutate its input"
    exp = cfg["experiments"]["week4"]
    assert exp["gradient"] == "analytic"
    assert exp["tail_fraction"] == 0.1
    assert exp["optimizer"]["betas"] == [0.9, 0.999]
    assert exp["optimizer"]["eps"] == 1e-8
    assert exp["optimizer"]["momentum"] == 0.0
    assert exp["n_agents"] == 2 and exp["beta"] == 50
    assert cfg["analysis"]["stable_tolerance"] == 0.005
    assert load_config(CONFIG_PATH) == cfg


def test_minimal_config_gets_every_default():
    cfg = validate_config({"experiments": {"tiny": minimal_experiment()}})
    assert cfg["device"] == "cpu" and cfg["dtype"] == "float32" and cfg["threads"] == 1
    # every analysis default declared by the schema is filled in (the set of keys evolves)
    analysis_schema = SCHEMA["properties"]["analysis"]["properties"]
    assert set(cfg["analysis"]) == set(analysis_schema)
    for key, sub in analysis_schema.items():
        assert cfg["analysis"][key] == sub["default"], key
    assert cfg["analysis"]["stable_tolerance"] == 0.005
    exp = cfg["experiments"]["tiny"]
    assert exp["prior"] == {"name": "uniform", "low": 0.0, "high": 1.0}
    assert exp["policy"] == {"name": "linear", "w0": 0.9}
    assert exp["mechanism"] == "first_price"
    assert exp["record_every"] == 1
    resolved = resolve_experiment(cfg, "tiny")
    assert resolved["device"] == "cpu" and resolved["dtype"] == "float32"
    assert resolved["name"] == "tiny" and resolved["threads"] == 1


# --- rejections: dotted key and allowed values ---------------------------------------------------

BAD = [
    ("n_agents_1", lambda c: week4(c).update(n_agents=1), f"{EXP}.n_agents", "integer >= 2"),
    ("n_agents_list", lambda c: week4(c).update(n_agents=[2, 1]), f"{EXP}.n_agents",
     "integer >= 2"),
    ("beta_0", lambda c: week4(c).update(beta=0), f"{EXP}.beta", "a number > 0"),
    ("beta_neg", lambda c: week4(c).update(beta=-5.0), f"{EXP}.beta", "a number > 0"),
    ("lr_0", lambda c: week4(c)["optimizer"].update(lr=0), f"{EXP}.optimizer.lr", "a number > 0"),
    ("lr_neg", lambda c: week4(c)["optimizer"].update(lr=-1e-3), f"{EXP}.optimizer.lr",
     "a number > 0"),
    ("batch_0", lambda c: week4(c).update(batch_size=0), f"{EXP}.batch_size", "integer >= 1"),
    ("steps_0", lambda c: week4(c).update(steps=0), f"{EXP}.steps", "integer >= 1"),
    ("w0_high", lambda c: week4(c)["policy"].update(w0=1.5), f"{EXP}.policy.w0", "[0, 1]"),
    ("w0_neg", lambda c: week4(c)["policy"].update(w0=-0.1), f"{EXP}.policy.w0", "[0, 1]"),
    ("optimizer", lambda c: week4(c)["optimizer"].update(name="rmsprop"),
     f"{EXP}.optimizer.name", "adam, sgd"),
    ("mechanism", lambda c: week4(c).update(mechanism="dutch"), f"{EXP}.mechanism",
     "first_price, second_price, third_price (N >= 3), all_pay"),
    ("prior", lambda c: week4(c)["prior"].update(name="beta"), f"{EXP}.prior.name", "uniform"),
    ("device", lambda c: c.update(device="tpu"), "device", "cpu, cuda, auto"),
    ("exp_device", lambda c: week4(c).update(device="gpu"), f"{EXP}.device", "cpu, cuda, auto"),
    ("dtype", lambda c: c.update(dtype="float16"), "dtype", "float32, float64"),
    ("steps_str", lambda c: week4(c).update(steps="x"), f"{EXP}.steps", "integer >= 1"),
    ("steps_float", lambda c: week4(c).update(steps=2.5), f"{EXP}.steps", "integer >= 1"),
    ("seeds_str", lambda c: week4(c).update(seeds="abc"), f"{EXP}.seeds",
     "list of distinct integers"),
    ("seeds_dup", lambda c: week4(c).update(seeds=[1, 1]), f"{EXP}.seeds",
     "list of distinct integers"),
    ("seeds_count", lambda c: week4(c).update(seeds={"count": 0}), f"{EXP}.seeds", "count: >= 1"),
    ("threads", lambda c: c.update(threads=0), "threads", "integer >= 1"),
    ("empty", lambda c: c.update(experiments={}), "experiments", "at least one"),
    ("beta_falling", lambda c: week4(c).update(beta={"schedule": "linear", "start": 50,
                                                     "end": 10}),
     f"{EXP}.beta.end", "end >= start"),
    ("beta_schedule_name", lambda c: week4(c).update(beta={"schedule": "cosine", "start": 10,
                                                           "end": 50}),
     f"{EXP}.beta", "constant|linear|geometric|inverse_time"),
    ("lr_schedule_name", lambda c: week4(c)["optimizer"].update(
        lr={"schedule": "cosine", "start": 1e-3, "end": 1e-4}),
     f"{EXP}.optimizer.lr", "constant|linear|geometric|inverse_time"),
    ("constant_with_end", lambda c: week4(c)["optimizer"].update(
        lr={"schedule": "constant", "start": 1e-3, "end": 1e-4}),
     f"{EXP}.optimizer.lr", "end == start"),
    ("prior_order", lambda c: week4(c).update(prior={"name": "uniform", "low": 1.0, "high": 0.5}),
     f"{EXP}.prior", "low < high"),
    ("tail_fraction", lambda c: week4(c).update(tail_fraction=0), f"{EXP}.tail_fraction",
     "(0, 1]"),
    ("gradient", lambda c: week4(c).update(gradient="numeric"), f"{EXP}.gradient",
     "analytic, autograd"),
    ("gradient_options_without_autograd", lambda c: week4(c).update(
        gradient_options={"value_power": 2.0}), f"{EXP}.gradient_options", "gradient: autograd"),
    ("gradient_options_power", lambda c: week4(c).update(
        gradient="autograd", gradient_options={"value_power": -1}),
     f"{EXP}.gradient_options.value_power", "[0, 10]"),
    ("gradient_options_key", lambda c: week4(c).update(
        gradient="autograd", gradient_options={"pairs": 2}), f"{EXP}.gradient_options.pairs",
     "pairings"),
    ("exp_name", lambda c: c["experiments"].update({"9bad": c["experiments"]["week4"]}),
     "experiments", "letters, digits and underscores"),
]


@pytest.mark.parametrize("change, key, allowed", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_rejects_with_dotted_key_and_allowed_values(change, key, allowed):
    with pytest.raises(ConfigError) as info:
        validate_config(with_change(change))
    message = str(info.value)
    assert f"{key}:" in message, message
    assert allowed in message, message


def test_misspelled_key_suggests_the_right_one():
    cfg = with_change(lambda c: week4(c).update(stepz=week4(c).pop("steps")))
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert f"{EXP}.stepz: unknown key (did you mean 'steps'?)" in message, message
    cfg = with_change(lambda c: c.update(analysys=c.pop("analysis")))
    with pytest.raises(ConfigError, match=r"analysys: unknown key \(did you mean 'analysis'\?\)"):
        validate_config(cfg)


def test_missing_required_key_is_named():
    cfg = with_change(lambda c: week4(c).pop("optimizer"))
    with pytest.raises(ConfigError, match=rf"{EXP}: 'optimizer' is a required property"):
        validate_config(cfg)


def test_every_problem_is_reported_at_once():
    cfg = with_change(lambda c: week4(c).update(n_agents=1, steps=0, mechanism="dutch"))
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    for key in ("n_agents", "steps", "mechanism"):
        assert f"{EXP}.{key}:" in message


def test_non_mapping_config():
    with pytest.raises(ConfigError, match="expected a mapping"):
        validate_config([1, 2])
    with pytest.raises(ConfigError, match="expected a mapping"):
        validate_config(None)


# --- loading -------------------------------------------------------------------------------------


def test_load_config_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(missing)


def test_load_config_invalid_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: [unclosed\n  steps: : :\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_load_config_empty_file(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError):
        load_config(empty)


# --- expansion -----------------------------------------------------------------------------------


def test_expand_sweep():
    cfg = validate_config({"experiments": {"sweep": minimal_experiment(
        n_agents=[2, 3], beta=[10, 50], seeds={"count": 3},
        optimizer={"name": "sgd", "lr": 0.01, "momentum": 0.5})}})
    resolved = resolve_experiment(cfg, "sweep")
    programs = expand_experiment(resolved)
    assert len(programs) == 2
    for (setup, runs), n_agents in zip(programs, [2, 3], strict=True):
        assert setup.n_agents == n_agents
        assert setup.runs == 6 and len(runs) == 6
        assert setup.beta_start == [10, 10, 10, 50, 50, 50]
        assert setup.beta_end == setup.beta_start
        assert setup.seeds == [0, 1, 2, 0, 1, 2]
        assert setup.beta_schedule == "constant" and setup.lr_schedule == "constant"
        assert setup.lr_start == [0.01] * 6 and setup.lr_end == [0.01] * 6
        assert setup.optimizer == "sgd" and setup.momentum == 0.5
        offset = 6 * [2, 3].index(n_agents)  # run ids are global within the experiment
        assert [r["run"] for r in runs] == list(range(offset, offset + 6))
        assert {(r["beta_start"], r["seed"]) for r in runs} == {
            (b, s) for b in (10, 50) for s in range(3)}
        assert all(r["n_agents"] == n_agents for r in runs)
    # the expanded programs actually run
    result = train(programs[1][0])
    assert result.final.shape == (6, 3)


def test_expand_schedules_and_seed_start():
    cfg = validate_config({"experiments": {"ramp": minimal_experiment(
        beta={"schedule": "geometric", "start": 10, "end": 100},
        optimizer={"name": "adam", "lr": {"schedule": "inverse_time", "start": 1e-2,
                                          "end": 1e-3}},
        seeds={"count": 2, "start": 5})}})
    (setup, runs), = expand_experiment(resolve_experiment(cfg, "ramp"))
    assert setup.beta_schedule == "geometric" and setup.lr_schedule == "inverse_time"
    assert setup.beta_start == [10, 10] and setup.beta_end == [100, 100]
    assert setup.lr_start == [1e-2, 1e-2] and setup.lr_end == [1e-3, 1e-3]
    assert setup.seeds == [5, 6]
    assert seed_list([3, 1]) == [3, 1]


def test_resolve_unknown_experiment_and_hash():
    cfg = validate_config(BASE)
    with pytest.raises(ConfigError, match="experiments.nope.*allowed"):
        resolve_experiment(cfg, "nope")
    resolved = resolve_experiment(cfg, "week4")
    reordered = dict(reversed(list(resolved.items())))
    assert config_hash(resolved) == config_hash(reordered)
    changed = copy.deepcopy(resolved)
    changed["steps"] += 1
    assert config_hash(changed) != config_hash(resolved)


# --- bugs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where, value", [
    ("beta", float("nan")), ("beta", float("inf")), ("lr", float("nan")), ("lr", float("inf")),
    ("beta_list", float("nan")), ("prior_low", float("nan")), ("prior_high", float("nan")),
    ("prior_high", float("inf"))])
def test_non_finite_numbers_are_rejected(where, value):
    def change(c):
        if where == "beta":
            week4(c)["beta"] = value
        elif where == "beta_list":
            week4(c)["beta"] = [10.0, value]
        elif where == "lr":
            week4(c)["optimizer"]["lr"] = value
        else:
            week4(c)["prior"][where.split("_")[1]] = value
    with pytest.raises(ConfigError):
        validate_config(with_change(change))


@pytest.mark.parametrize("field", ["steps", "batch_size", "n_agents", "seeds"])
def test_integral_floats_are_rejected_or_usable(field):
    value = {"steps": 3.0, "batch_size": 8.0, "n_agents": 2.0, "seeds": {"count": 2.0}}[field]
    cfg = {"experiments": {"x": minimal_experiment(**{field: value})}}
    try:
        cfg = validate_config(cfg)
    except ConfigError:
        return  # rejecting 3.0 is fine
    for setup, _ in expand_experiment(resolve_experiment(cfg, "x")):
        train(setup)


@pytest.mark.parametrize("key", [5, None, True])
def test_unknown_non_string_key_gives_config_error(key):
    with pytest.raises(ConfigError):
        validate_config(with_change(lambda c: week4(c).update({key: "x"})))


def test_integer_experiment_name_is_rejected():
    with pytest.raises(ConfigError):
        validate_config(with_change(
            lambda c: c["experiments"].update({2024: c["experiments"].pop("week4")})))


def test_bad_experiment_name_message():
    with pytest.raises(ConfigError) as info:
        validate_config(with_change(
            lambda c: c["experiments"].update({"9bad": c["experiments"]["week4"]})))
    assert "letters, digits and underscores" in str(info.value)


def test_allowed_text_belongs_to_the_offending_key():
    with pytest.raises(ConfigError) as info:
        validate_config(with_change(lambda c: week4(c).update(prior=None)))
    assert "experiment names" not in str(info.value)


# --- property: random mutations give a valid config or a ConfigError naming the path -------------


def paths(node, prefix=()):
    """Every (path, is_dict_key) in a nested config."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,), True
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield prefix + (i,), False
            yield from paths(value, prefix + (i,))


ALL_PATHS = list(paths(BASE)) + [(("experiments", "week4", "optimizer", "betas"), True),
                                 (("experiments", "week4", "tail_fraction"), True),
                                 (("analysis", "br_bids"), True)]

wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10**6, max_value=10**6),
    st.integers(max_value=-1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["adm", "dutch", "cosine", "tpu", "float16", "beta", "linearr", ""]),
    st.lists(st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(-3, 100), st.text(max_size=3)),
                    max_size=3),
)


@st.composite
def mutated_configs(draw):
    cfg = copy.deepcopy(BASE)
    touched = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path, is_key = draw(st.sampled_from(ALL_PATHS))
        parent = cfg
        try:
            for part in path[:-1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the parent
        if not isinstance(parent, dict | list):
            continue
        leaf = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "replace", "add_key"]))
        if op == "delete" and is_key and isinstance(parent, dict) and isinstance(leaf, str):
            parent.pop(leaf, None)
        elif op == "add_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["stepz", "lrr", "extra", "Beta", "seed"]))] = draw(
                wrong_values)
        elif (isinstance(parent, dict) and isinstance(leaf, str)) or (
                isinstance(parent, list) and isinstance(leaf, int) and leaf < len(parent)):
            parent[leaf] = draw(wrong_values)
        else:
            continue
        touched.append(path)
    return cfg, touched


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_mutations_give_valid_config_or_config_error(case):
    cfg, touched = case
    # validate_config re-reads the schema file on every call (~25 ms); reuse one parsed copy
    with mock.patch.object(config_module, "load_schema", lambda: SCHEMA):
        outcome = _validate(cfg)
    if isinstance(outcome, ConfigError):
        message = str(outcome)
        names = {str(part) for path in touched for part in path}
        names |= {"stepz", "lrr", "extra", "Beta", "seed"}
        assert any(name in message for name in names), (message, touched)
        return
    out = outcome
    # accepted: defaults are filled and the required keys are there
    for exp in out["experiments"].values():
        for key in ("n_agents", "beta", "optimizer", "batch_size", "steps", "seeds", "prior",
                    "policy", "mechanism", "gradient"):
            assert key in exp


def _validate(cfg):
    """validate_config's result or its ConfigError; any other exception propagates (fails)."""
    try:
        return validate_config(cfg)
    except ConfigError as err:
        return err
