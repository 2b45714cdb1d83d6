"""Tests for diffauction.env: PettingZoo API compliance, payoffs, randomness and input checks."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import diffauction.env as env_module
from diffauction.env import AuctionEnv, env, parallel_env
from diffauction.game.mechanisms import MECHANISMS

MODES = [
    pytest.param("first_price", 1, id="first_price-oneshot"),
    pytest.param("second_price", 1, id="second_price-oneshot"),
    pytest.param("first_price", 4, id="first_price-repeated"),
    pytest.param("second_price", 4, id="second_price-repeated"),
]


def play_round(e: AuctionEnv, bids: list[float], seed: int = 0):
    """Reset with ``seed`` and submit ``bids`` (in agent order); returns the step's outputs."""
    e.reset(seed=seed)
    actions = {agent: np.array([b], dtype=np.float32)
               for agent, b in zip(e.agents, bids, strict=True)}
    return e.step(actions)


# --- PettingZoo API tests -----------------------------------------------------------------------


@pytest.mark.parametrize("mechanism, max_cycles", MODES)
def test_parallel_api(mechanism, max_cycles):
    e = parallel_env(n_agents=3, mechanism=mechanism, max_cycles=max_cycles)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API test reports most problems as warnings
        # parallel_api_test assigns env.max_cycles = num_cycles; the mode stays as constructed
        parallel_api_test(e, num_cycles=max_cycles + 2)
    assert e.observation_space("bidder_0").shape == ((4,) if max_cycles > 1 else (1,))


@pytest.mark.parametrize("mechanism, max_cycles", MODES)
def test_aec_api(mechanism, max_cycles):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # one-shot observations are [value]; api_test flags any shape-(1,) observation
        warnings.filterwarnings("ignore", message="Observation is a single number")
        api_test(env(n_agents=3, mechanism=mechanism, max_cycles=max_cycles), num_cycles=20)


@pytest.mark.parametrize("mechanism, max_cycles", MODES)
def test_seed_tests(mechanism, max_cycles):
    kwargs = dict(n_agents=3, mechanism=mechanism, max_cycles=max_cycles)
    parallel_seed_test(lambda: parallel_env(**kwargs))
    seed_test(lambda: env(**kwargs))


# --- spaces and observations --------------------------------------------------------------------


def test_spaces_one_shot():
    e = parallel_env(n_agents=4, prior={"name": "uniform", "low": 0.5, "high": 2.0})
    assert e.possible_agents == ["bidder_0", "bidder_1", "bidder_2", "bidder_3"]
    assert e.metadata["name"] == "diffauction_v0"
    obs_space, act_space = e.observation_space("bidder_1"), e.action_space("bidder_1")
    assert obs_space is e.observation_space("bidder_1")
    assert act_space is e.action_space("bidder_1")
    assert obs_space.shape == (1,) and obs_space.dtype == np.float32
    assert obs_space.low[0] == 0.5 and obs_space.high[0] == 2.0
    assert act_space.shape == (1,) and act_space.dtype == np.float32
    assert act_space.low[0] == 0.0 and act_space.high[0] == 2.0
    obs, infos = e.reset(seed=3)
    for agent in e.agents:
        assert obs[agent].dtype == np.float32
        assert obs_space.contains(obs[agent])
        assert obs[agent][0] == np.float32(infos[agent]["value"])
    np.testing.assert_array_equal(e.state(), [obs[a][0] for a in e.possible_agents])
    assert e.state_space.contains(e.state())


def test_repeated_observation_contents():
    e = parallel_env(n_agents=3, mechanism="second_price", max_cycles=3)
    assert e.observation_space("bidder_0").shape == (4,)
    np.testing.assert_array_equal(e.observation_space("bidder_0").high, [1, 1, 1, 1])
    obs, _ = e.reset(seed=1)
    for agent in e.agents:
        np.testing.assert_array_equal(obs[agent][1:], [0.0, 0.0, 0.0])
    obs, rewards, terms, truncs, infos = e.step(
        {"bidder_0": 0.2, "bidder_1": 0.6, "bidder_2": 0.4})
    assert not any(terms.values()) and not any(truncs.values())
    np.testing.assert_allclose(obs["bidder_1"][1:], [1.0, 0.4, 0.6], rtol=1e-6)
    np.testing.assert_allclose(obs["bidder_0"][1:], [0.0, 0.0, 0.6], rtol=1e-6)
    for agent in e.agents:
        assert e.observation_space(agent).contains(obs[agent])


@pytest.mark.parametrize("redraw", [True, False])
def test_repeated_values_redrawn_or_fixed(redraw):
    e = parallel_env(n_agents=2, max_cycles=5, redraw_values=redraw)
    obs, _ = e.reset(seed=2)
    seen = [obs["bidder_0"][0]]
    while e.agents:
        obs, _, _, _, infos = e.step({a: 0.1 for a in e.agents})
        seen.append(obs["bidder_0"][0])
    assert (len(set(seen)) == 1) != redraw


def test_repeated_truncation_and_agents_clearing():
    e = parallel_env(n_agents=2, max_cycles=3)
    e.reset(seed=0)
    for round_ in range(1, 4):
        obs, _, terms, truncs, infos = e.step({a: 0.5 for a in e.agents})
        assert infos["bidder_0"]["round"] == round_
        assert all(truncs.values()) == (round_ == 3)
        assert not any(terms.values())
    assert e.agents == [] and set(obs) == set(e.possible_agents)
    # no draw after the last round: the final observation shows the value just bid with
    assert obs["bidder_0"][0] == np.float32(infos["bidder_0"]["value"])
    with pytest.raises(RuntimeError):
        e.step({a: 0.5 for a in e.possible_agents})


@pytest.mark.parametrize("max_cycles", [1, 3])
def test_reset_and_step_infos_share_numeric_keys(max_cycles):
    """TorchRL's PettingZooWrapper builds its info spec from the reset infos and writes every
    step info into it: the keys must match and every value must be a number."""
    e = parallel_env(n_agents=3, max_cycles=max_cycles)
    _, reset_infos = e.reset(seed=0)
    keys = {"value", "bid", "allocation", "payment", "winner", "round"}
    for info in reset_infos.values():
        assert set(info) == keys and info["winner"] == -1 and info["round"] == 0
        assert all(isinstance(x, int | float) for x in info.values())
    while e.agents:
        *_, infos = e.step({a: 0.5 for a in e.agents})
        for info in infos.values():
            assert set(info) == keys
            assert all(isinstance(x, int | float) for x in info.values())
            assert 0 <= info["winner"] < 3


def test_one_shot_terminates():
    e = parallel_env(n_agents=2)
    _, _, terms, truncs, _ = play_round(e, [0.1, 0.2])
    assert all(terms.values()) and not any(truncs.values())
    assert e.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        e.step({"bidder_0": 0.1, "bidder_1": 0.2})
    e.reset()  # a new episode works after the end
    assert e.agents == e.possible_agents


# --- payoffs ------------------------------------------------------------------------------------


def test_first_price_winner_pays_own_bid():
    e = parallel_env(n_agents=3, mechanism="first_price")
    _, rewards, _, _, infos = play_round(e, [0.3, 0.7, 0.5])
    value = infos["bidder_1"]["value"]
    assert infos["bidder_1"]["winner"] == 1  # index into possible_agents
    assert [infos[a]["allocation"] for a in e.possible_agents] == [0.0, 1.0, 0.0]
    assert infos["bidder_1"]["payment"] == pytest.approx(0.7)
    assert rewards == pytest.approx({"bidder_0": 0.0, "bidder_1": value - 0.7, "bidder_2": 0.0})
    assert all(isinstance(r, float) for r in rewards.values())


def test_second_price_winner_pays_runner_up():
    e = parallel_env(n_agents=3, mechanism="second_price")
    _, rewards, _, _, infos = play_round(e, [0.3, 0.7, 0.5])
    value = infos["bidder_1"]["value"]
    assert [infos[a]["payment"] for a in e.possible_agents] == pytest.approx([0.0, 0.5, 0.0])
    assert rewards == pytest.approx({"bidder_0": 0.0, "bidder_1": value - 0.5, "bidder_2": 0.0})


def test_all_pay_everyone_pays_own_bid():
    e = parallel_env(n_agents=3, mechanism="all_pay")
    _, rewards, _, _, infos = play_round(e, [0.3, 0.7, 0.5])
    value = infos["bidder_1"]["value"]
    assert [infos[a]["payment"] for a in e.possible_agents] == pytest.approx([0.3, 0.7, 0.5])
    assert rewards == pytest.approx({"bidder_0": -0.3, "bidder_1": value - 0.7,
                                     "bidder_2": -0.5})


def test_tie_break_roughly_uniform():
    n, episodes = 3, 3000
    e = parallel_env(n_agents=n, mechanism="second_price")
    wins = dict.fromkeys(e.possible_agents, 0)
    for seed in range(episodes):
        _, rewards, _, _, infos = play_round(e, [0.5] * n, seed=seed)
        winner = e.possible_agents[infos["bidder_0"]["winner"]]
        wins[winner] += 1
        # a tied winner pays the (equal) competing bid
        assert rewards[winner] == pytest.approx(infos[winner]["value"] - 0.5)
        assert sum(infos[a]["allocation"] for a in e.possible_agents) == 1.0
    sd = np.sqrt(episodes * (1 / n) * (1 - 1 / n))
    for count in wins.values():
        assert abs(count - episodes / n) < 4 * sd, wins


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_equilibrium_revenue_matches_theory(mechanism):
    """Revenue equivalence: at the symmetric BNE for U[0,1] every format earns (n−1)/(n+1)."""
    n, episodes = 3, 1000
    bne = {
        "first_price": lambda v: (n - 1) / n * v,
        "second_price": lambda v: v,
        "all_pay": lambda v: (n - 1) / n * v**n,
    }[mechanism]
    e = parallel_env(n_agents=n, mechanism=mechanism)
    e.reset(seed=123)
    revenue = []
    for _ in range(episodes):
        obs, _ = e.reset()  # no seed: the seeded streams continue
        _, _, _, _, infos = e.step({a: bne(obs[a]) for a in e.agents})
        revenue.append(sum(info["payment"] for info in infos.values()))
    # standard error ≈ 0.007 for all three formats; 0.03 is > 4 se
    assert np.mean(revenue) == pytest.approx((n - 1) / (n + 1), abs=0.03)


# --- action handling ----------------------------------------------------------------------------


def test_out_of_range_bids_are_clipped():
    e = parallel_env(n_agents=2, mechanism="first_price",
                     prior={"name": "uniform", "low": 0.0, "high": 2.0})
    _, rewards, _, _, infos = play_round(e, [-0.3, 5.0])
    assert infos["bidder_0"]["bid"] == 0.0
    assert infos["bidder_1"]["bid"] == 2.0
    assert infos["bidder_1"]["payment"] == 2.0  # pays the clipped bid, not 5
    assert rewards["bidder_1"] == pytest.approx(infos["bidder_1"]["value"] - 2.0)

    e = parallel_env(n_agents=2, mechanism="all_pay")
    _, rewards, _, _, infos = play_round(e, [-1.0, 0.4])
    assert infos["bidder_0"]["payment"] == 0.0 and rewards["bidder_0"] == 0.0


@pytest.mark.parametrize("action", [0.4, 1, np.float32(0.4), np.float64(0.4), np.array(0.4),
                                    np.array([0.4], dtype=np.float32), [0.4]])
def test_accepted_action_formats(action):
    e = parallel_env(n_agents=2, mechanism="second_price")
    e.reset(seed=0)
    _, _, _, _, infos = e.step({"bidder_0": action, "bidder_1": 0.0})
    assert infos["bidder_0"]["bid"] == pytest.approx(float(np.asarray(action).reshape(())))
    assert infos["bidder_0"]["winner"] == 0


@pytest.mark.parametrize("action", [np.array([0.1, 0.2]), np.zeros((1, 1)), np.array([]),
                                    "0.5", None, True, [0.1, "x"], float("nan"),
                                    np.array([np.inf]), -np.inf])
def test_bad_actions_name_the_agent(action):
    e = parallel_env(n_agents=2)
    e.reset(seed=0)
    with pytest.raises(ValueError, match="bidder_1"):
        e.step({"bidder_0": 0.5, "bidder_1": action})


def test_unknown_and_missing_agents():
    e = parallel_env(n_agents=2)
    e.reset(seed=0)
    with pytest.raises(ValueError, match="bidder_7"):
        e.step({"bidder_0": 0.5, "bidder_1": 0.5, "bidder_7": 0.5})
    with pytest.raises(ValueError, match="missing.*bidder_1"):
        e.step({"bidder_0": 0.5})
    # a rejected step changes nothing: the episode can still be played
    _, _, terms, _, _ = e.step({"bidder_0": 0.5, "bidder_1": 0.5})
    assert all(terms.values())


def test_step_before_reset():
    with pytest.raises(RuntimeError):
        parallel_env().step({"bidder_0": 0.5, "bidder_1": 0.5})


# --- constructor validation ---------------------------------------------------------------------


@pytest.mark.parametrize("n_agents", [1, 0, -2, 2.5, "3", True, None])
def test_bad_n_agents(n_agents):
    with pytest.raises(ValueError, match="n_agents"):
        AuctionEnv(n_agents=n_agents)


def test_unknown_mechanism_lists_allowed():
    with pytest.raises(ValueError, match="mechanism") as info:
        AuctionEnv(mechanism="dutch")
    for name in MECHANISMS:
        assert name in str(info.value)


@pytest.mark.parametrize("kwargs, field", [({"max_cycles": 0}, "max_cycles"),
                                           ({"render_mode": "human"}, "render_mode"),
                                           ({"prior": {"name": "gamma"}}, "prior"),
                                           ({"prior": {"name": "beta"}}, "prior")])
def test_other_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        AuctionEnv(**kwargs)


# --- determinism --------------------------------------------------------------------------------


def rollout(seed: int, **kwargs) -> list:
    """Observations, rewards and infos of one episode with bids from a seeded random policy."""
    e = parallel_env(**kwargs)
    policy_rng = np.random.default_rng(99)
    obs, infos = e.reset(seed=seed)
    trace = [(obs, infos)]
    while e.agents:
        # coarse bids make ties frequent, so the tie-break stream is exercised too
        actions = {a: np.round(policy_rng.uniform(0, 1), 1) * obs[a][:1] for a in e.agents}
        obs, rewards, terms, truncs, infos = e.step(actions)
        trace.append((obs, rewards, terms, truncs, infos))
    return trace


def _flatten(trace) -> str:
    return repr(trace)  # numpy reprs are exact enough for float32 arrays of equal runs


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_same_seed_same_episode(mechanism):
    kwargs = dict(n_agents=3, mechanism=mechanism, max_cycles=50)
    assert _flatten(rollout(7, **kwargs)) == _flatten(rollout(7, **kwargs))
    assert _flatten(rollout(7, **kwargs)) != _flatten(rollout(8, **kwargs))


def test_unseeded_reset_continues_seeded_streams():
    """Gymnasium convention: reset() without a seed continues the generators of the last seed."""
    first, second = parallel_env(n_agents=3), parallel_env(n_agents=3)
    first.reset(seed=5)
    second.reset(seed=5)
    obs_first, _ = first.reset()
    obs_second, _ = second.reset()
    assert _flatten(obs_first) == _flatten(obs_second)
    assert _flatten(obs_first) != _flatten(parallel_env(n_agents=3).reset(seed=5)[0])


def test_seed_fixes_tie_breaks():
    e = parallel_env(n_agents=4)
    winners = [play_round(e, [0.5] * 4, seed=11)[4]["bidder_0"]["winner"] for _ in range(5)]
    assert len(set(winners)) == 1


# --- rendering, docs ----------------------------------------------------------------------------


def test_render_none_returns_none_without_warning():
    e = parallel_env()
    e.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert e.render() is None
        e.step({"bidder_0": 0.2, "bidder_1": 0.3})
        assert e.render() is None
    e.close()


def test_render_ansi_table():
    e = parallel_env(n_agents=3, mechanism="second_price", render_mode="ansi")
    assert "reset" in e.render()
    obs, _ = e.reset(seed=0)
    assert "no round played" in e.render()
    play_round(e, [0.25, 0.75, 0.5])
    text = e.render()
    assert isinstance(text, str)
    for agent in e.possible_agents:
        assert agent in text
    assert "winner: bidder_1" in text
    assert "0.7500" in text and "0.5000" in text  # bids and the second-price payment
    assert f"{obs['bidder_0'][0]:.4f}" in text  # values
    assert env(render_mode="ansi").render_mode == "ansi"


def test_docstring_example_runs(capsys):
    snippet = re.search(r"```python\n(.*?)```", env_module.__doc__, re.S).group(1)
    exec(compile(snippet, "env.__doc__", "exec"), {})
    assert "mean revenue per round" in capsys.readouterr().out
