"""A PettingZoo environment for single-item sealed-bid auctions.

``AuctionEnv`` is a ``ParallelEnv``: every bidder draws a private value from the prior, all
bidders submit a bid at once, and the mechanism from :mod:`diffauction.game.mechanisms` decides the
allocation (ties broken uniformly at random) and the payments. The reward is the hard
quasi-linear utility ``value · allocation − payment``.

* **One-shot** (``max_cycles=1``, the default): one round, then every agent is terminated.
  Observation: ``[own value]``.
* **Repeated** (``max_cycles > 1``): ``max_cycles`` rounds, then every agent is truncated. Values
  are redrawn each round (``redraw_values=True``) or kept for the whole episode.
  Observation: ``[own value, last own allocation, last own payment, last winning bid]``
  (the last three are 0 before the first round).

Actions are bids in ``[0, v_max]``; ``parallel_env`` builds the parallel env and ``env`` its AEC
version (``parallel_to_aec``).

Infos: ``reset()`` and ``step()`` return the same numeric keys for every agent, so libraries that
build an info spec from the reset infos (TorchRL's ``PettingZooWrapper``) can step the env as is:
``value``, ``bid``, ``allocation``, ``payment`` (floats, the round just played; 0 after reset),
``winner`` (index of the winning bidder in ``possible_agents``; −1 after reset) and ``round``
(rounds played so far). Usage, with random bid-shading policies:

```python
import numpy as np

from diffauction.env import parallel_env

env = parallel_env(n_agents=3, mechanism="first_price", max_cycles=5)
rng = np.random.default_rng(0)
revenue = 0.0
for episode in range(100):
    observations, infos = env.reset(seed=episode)
    # each bidder bids a random fraction of its value this episode
    shading = {agent: rng.uniform(0.5, 1.0) for agent in env.agents}
    while env.agents:
        actions = {agent: shading[agent] * observations[agent][:1] for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        revenue += sum(info["payment"] for info in infos.values())
env.close()
print(f"mean revenue per round: {revenue / (100 * 5):.3f}")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from diffauction.game.mechanisms import make_mechanism
from diffauction.game.priors import make_prior

DEFAULT_PRIOR = {"name": "uniform", "low": 0.0, "high": 1.0}


class AuctionEnv(ParallelEnv):
    """Single-item sealed-bid auction as a PettingZoo parallel environment.

    Parameters
    ----------
    n_agents:
        number of bidders (int ≥ 2), named ``bidder_0`` … ``bidder_{n-1}``.
    mechanism:
        a name from :data:`diffauction.game.mechanisms.MECHANISMS` (``first_price``,
        ``second_price``, ``all_pay``).
    prior:
        prior config mapping for :func:`diffauction.game.priors.make_prior` (or a prior object).
    max_cycles:
        rounds per episode. ``1`` is the one-shot game; ``> 1`` is the repeated game with the
        richer observation. The mode is fixed at construction; assigning ``max_cycles`` later
        (as ``pettingzoo.test.parallel_api_test`` does) only changes the repeated game's horizon.
    redraw_values:
        repeated mode only: draw fresh values every round (True) or keep them for the episode.
    render_mode:
        ``None`` or ``"ansi"`` (``render()`` returns a text table of the last round).

    Actions
    -------
    A bid per agent: a python/numpy number or an array of shape ``(1,)``. Bids outside the
    action space are **clipped** into ``[0, v_max]`` (negative bids become 0, bids above
    ``v_max`` become ``v_max``); ``info["bid"]`` reports the bid actually used. Non-numeric,
    NaN/inf or wrongly shaped actions raise ``ValueError`` naming the agent, as do actions for
    unknown agents or missing actions for live agents. ``step()`` after the episode ended
    raises ``RuntimeError``.

    Randomness
    ----------
    ``reset(seed=s)`` seeds a numpy ``Generator`` (values) and, from it, a
    ``torch.Generator`` (tie-breaks), so a seed determines the whole episode. ``reset()``
    without a seed continues the existing streams (gymnasium convention).
    """

    metadata = {"name": "diffauction_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, n_agents: int = 2, mechanism: str = "first_price",
                 prior: Mapping[str, Any] | Any = None, max_cycles: int = 1,
                 redraw_values: bool = True, render_mode: str | None = None) -> None:
        if isinstance(n_agents, bool) or not isinstance(n_agents, int | np.integer) \
                or n_agents < 2:
            raise ValueError(f"n_agents: must be an integer >= 2, got {n_agents!r}")
        if isinstance(max_cycles, bool) or not isinstance(max_cycles, int | np.integer) \
                or max_cycles < 1:
            raise ValueError(f"max_cycles: must be an integer >= 1, got {max_cycles!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.n_agents = int(n_agents)
        # make_mechanism raises ValueError naming `mechanism` and the allowed names
        self.mechanism = make_mechanism(mechanism)
        prior = DEFAULT_PRIOR if prior is None else prior
        try:
            self.prior = make_prior(dict(prior)) if isinstance(prior, Mapping) else prior
        except (TypeError, ValueError) as err:  # unknown name, missing or bad parameters
            message = str(err)
            if not message.startswith("prior"):
                message = f"prior: {message}"
            raise ValueError(message) from err
        self.v_max = float(self.prior.v_max)
        if not self.v_max > 0.0:
            raise ValueError(f"prior: v_max must be positive for bids in [0, v_max], "
                             f"got {self.v_max}")
        self.max_cycles = int(max_cycles)
        self.repeated = self.max_cycles > 1
        self.redraw_values = bool(redraw_values)
        self.render_mode = render_mode

        self.possible_agents = [f"bidder_{i}" for i in range(self.n_agents)]
        self.agents: list[str] = []  # empty until reset(): step() before reset() is an error

        # Spaces are built once so that observation_space(agent) returns the very same object on
        # every call (PettingZoo's API tests and space seeding rely on that).
        low, high = float(self.prior.low), self.v_max
        if self.repeated:  # [value, last allocation, last own payment, last winning bid]
            obs_low, obs_high = [low, 0.0, 0.0, 0.0], [high, 1.0, high, high]
        else:  # [value]
            obs_low, obs_high = [low], [high]
        self._observation_spaces = {a: _box(obs_low, obs_high) for a in self.possible_agents}
        self._action_spaces = {a: _box([0.0], [high]) for a in self.possible_agents}
        self.state_space = _box([low] * self.n_agents, [high] * self.n_agents)

        self._rng: np.random.Generator | None = None
        self._torch_gen: torch.Generator | None = None
        self._values = np.zeros(self.n_agents)
        self._round = 0
        self._last: dict[str, np.ndarray] | None = None  # outcome of the last round played

    # --- spaces -----------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_spaces[agent]

    # --- episode ------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
            # the tie-break stream is derived from the value stream: one seed fixes both
            self._torch_gen = torch.Generator().manual_seed(
                int(self._rng.integers(0, 2**63 - 1)))
        self.agents = self.possible_agents[:]
        self._round = 0
        self._last = None
        self._draw_values()
        # the same numeric keys as step()'s infos; no round played yet
        infos = {agent: {"value": float(self._values[i]), "bid": 0.0, "allocation": 0.0,
                         "payment": 0.0, "winner": -1, "round": 0}
                 for i, agent in enumerate(self.agents)}
        return self._observations(), infos

    def step(self, actions: Mapping[str, Any]):
        if not self.agents:
            raise RuntimeError("step() called with no live agents: the episode has ended "
                               "(or reset() was never called); call reset() first")
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict agent -> bid, got {type(actions).__name__}")
        unknown = sorted(set(actions) - set(self.agents), key=str)
        if unknown:
            raise ValueError(f"actions for unknown or finished agents: {unknown}")
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise ValueError(f"missing actions for live agents: {missing}")

        # all bidders live and leave together, so self.agents == possible_agents here
        bids = np.array([self._parse_bid(agent, actions[agent]) for agent in self.possible_agents])
        allocation, payment = self.mechanism.hard_outcome(
            torch.from_numpy(bids).reshape(1, 1, self.n_agents), self._torch_gen)
        allocation = allocation.reshape(-1).numpy()
        payment = payment.reshape(-1).numpy()
        values = self._values.copy()
        utility = values * allocation - payment
        self._round += 1
        winner = int(np.argmax(allocation))
        self._last = {"values": values, "bids": bids, "allocation": allocation,
                      "payment": payment, "utility": utility, "winner": winner}

        rewards = {agent: float(utility[i]) for i, agent in enumerate(self.agents)}
        infos = {
            agent: {"value": float(values[i]), "bid": float(bids[i]),
                    "allocation": float(allocation[i]), "payment": float(payment[i]),
                    "winner": winner, "round": self._round}
            for i, agent in enumerate(self.agents)
        }
        if self.repeated:
            done = self._round >= self.max_cycles
            terminations = dict.fromkeys(self.agents, False)
            truncations = dict.fromkeys(self.agents, done)
            if not done and self.redraw_values:
                self._draw_values()  # the returned observation carries next round's value
        else:
            done = True
            terminations = dict.fromkeys(self.agents, True)
            truncations = dict.fromkeys(self.agents, False)
        observations = self._observations()
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode is None:
            return None
        header = f"{self.metadata['name']}: {self.mechanism.name}, {self.n_agents} bidders"
        if self._rng is None:
            return f"{header}\nnot started: call reset()"
        if self._last is None:
            values = "  ".join(f"{agent}={self._values[i]:.4f}"
                               for i, agent in enumerate(self.possible_agents))
            return f"{header}\nno round played yet; values: {values}"
        last = self._last
        lines = [
            f"{header}, round {self._round}/{self.max_cycles if self.repeated else 1}",
            f"{'agent':<12}{'value':>9}{'bid':>9}{'won':>5}{'payment':>9}{'reward':>9}",
        ]
        for i, agent in enumerate(self.possible_agents):
            lines.append(
                f"{agent:<12}{last['values'][i]:>9.4f}{last['bids'][i]:>9.4f}"
                f"{int(last['allocation'][i]):>5d}{last['payment'][i]:>9.4f}"
                f"{last['utility'][i]:>9.4f}"
            )
        lines.append(f"winner: {self.possible_agents[last['winner']]}")
        return "\n".join(lines)

    def close(self) -> None:
        pass

    def state(self) -> np.ndarray:
        """Global state: every bidder's current value, float32 ``[n_agents]``."""
        return self._values.astype(np.float32)

    # --- helpers ------------------------------------------------------------------------------

    def _draw_values(self) -> None:
        unit = torch.from_numpy(self._rng.random(self.n_agents))
        values = self.prior.transform(unit).numpy()
        # Round to float32 once, here: observations are float32, so the value an agent sees is
        # then exactly the value its reward is computed with.
        self._values = values.astype(np.float32).astype(np.float64)

    def _parse_bid(self, agent: str, action: Any) -> float:
        try:
            arr = np.asarray(action)
        except Exception as exc:  # e.g. ragged sequences
            raise ValueError(f"{agent}: action is not a number: {action!r}") from exc
        # dtype kinds i/u/f only: strings, objects (None) and booleans are not bids
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{agent}: action must be numeric, got {action!r}")
        if arr.shape not in ((), (1,)):
            raise ValueError(f"{agent}: action must be a scalar or shape (1,), "
                             f"got shape {arr.shape}")
        bid = float(arr.reshape(()))
        if not np.isfinite(bid):
            raise ValueError(f"{agent}: bid must be finite, got {bid}")
        return min(max(bid, 0.0), self.v_max)  # documented clip into [0, v_max]

    def _observations(self) -> dict[str, np.ndarray]:
        if not self.repeated:
            return {agent: np.array([self._values[i]], dtype=np.float32)
                    for i, agent in enumerate(self.possible_agents)}
        if self._last is None:
            alloc = pay = np.zeros(self.n_agents)
            top_bid = 0.0
        else:
            alloc, pay = self._last["allocation"], self._last["payment"]
            top_bid = float(self._last["bids"].max())
        return {agent: np.array([self._values[i], alloc[i], pay[i], top_bid], dtype=np.float32)
                for i, agent in enumerate(self.possible_agents)}


def _box(low: list[float], high: list[float]) -> spaces.Box:
    # float32 arrays given explicitly, so gymnasium has no precision warning to issue
    return spaces.Box(low=np.array(low, dtype=np.float32), high=np.array(high, dtype=np.float32),
                      dtype=np.float32)


def parallel_env(**kwargs) -> AuctionEnv:
    """The parallel environment: ``AuctionEnv(**kwargs)``."""
    return AuctionEnv(**kwargs)


def env(**kwargs):
    """The AEC version of :class:`AuctionEnv` (bidders act in turn, resolved together)."""
    return parallel_to_aec(AuctionEnv(**kwargs))
