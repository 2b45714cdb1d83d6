"""Smoke tests for diffauction.learning.ppo: independent PPO (TorchRL) on the PettingZoo
auction env.

Needs the optional extra ``[marl]`` (torchrl, tensordict); skipped without it.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip(
    "torchrl",
    reason="torchrl is not installed (optional extra [marl]: "
    "pip install -c <(echo torch==<installed version>) torchrl==0.14.1 tensordict==0.14.3)",
)

from diffauction.env import parallel_env  # noqa: E402
from diffauction.experiments.learners import run_learner  # noqa: E402
from diffauction.learning.ppo import PPOConfig, train_ppo  # noqa: E402

# torchrl 0.14 deprecates its own weight-updater classes on import
pytestmark = pytest.mark.filterwarnings("ignore:Creating .*WeightUpdater:DeprecationWarning")

TINY = PPOConfig(frames_per_batch=64, num_envs=2, epochs=2, minibatch_size=32, eval_bins=8,
                 eval_draws=32)


@pytest.mark.filterwarnings("ignore:PettingZoo in TorchRL is tested")
def test_torchrl_wrapper_steps_the_raw_env():
    """No adapter: the env's reset and step infos share their numeric keys, so TorchRL's
    PettingZooWrapper builds an info spec from the reset and fills it on every step."""
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    agents = ["bidder_0", "bidder_1", "bidder_2"]
    env = PettingZooWrapper(env=parallel_env(n_agents=3, mechanism="first_price"),
                            group_map={agent: [agent] for agent in agents},
                            return_state=False, use_mask=False, categorical_actions=False)
    env.set_seed(0)
    # one-shot episodes: every step ends one, the rollout resets and carries on
    rollout = env.rollout(3, break_when_any_done=False)
    assert rollout.batch_size == (3,)
    for agent in agents:
        info = rollout["next", agent, "info"]
        assert set(info.keys()) == {"value", "bid", "allocation", "payment", "winner", "round"}
        torch.testing.assert_close(info["round"], torch.ones_like(info["round"]))
        # the reward is the hard utility of the info's value, allocation and payment
        torch.testing.assert_close(rollout["next", agent, "reward"][..., 0],
                                   info["value"] * info["allocation"] - info["payment"])
    allocation = torch.stack([rollout["next", a, "info", "allocation"] for a in agents])
    torch.testing.assert_close(allocation.sum(0), torch.ones_like(allocation[0]))
    env.close()


def test_train_ppo_smoke():
    before = torch.random.get_rng_state()
    result = train_ppo(2, "first_price", seed=0, frames=128, config=TINY)
    assert torch.equal(torch.random.get_rng_state(), before)  # caller's RNG untouched
    assert result.learner == "ppo" and result.seeds == [0]
    assert int(result.extras["frames"]) == 128 and result.samples_per_run == 256
    traj = result
    assert traj.steps.tolist() == [0, 1, 2]
    assert traj.samples.tolist() == [0, 128, 256]
    assert traj.params.shape == (3, 1, 2)
    final_bids = traj.extras["bid_function"][-1, 0]
    assert final_bids.shape == (2, 8)
    assert ((final_bids > 0) & (final_bids < 1)).all()
    assert torch.isfinite(result.final).all()
    # learning changed the policy
    assert not torch.equal(traj.extras["bid_function"][0], traj.extras["bid_function"][-1])


def test_ppo_through_run_learner_is_seeded():
    kwargs = dict(n_agents=2, mechanism="second_price", seeds=[3], budget_samples=128,
                  config=TINY)
    a = run_learner("ppo", **kwargs)
    b = run_learner("ppo", **kwargs)
    assert {"learner", "seed", "run", "step", "samples", "agent", "w", "l2"} <= set(a.columns)
    assert set(a["learner"]) == {"ppo"} and a["samples"].max() == 128
    assert a["w"].tolist() == b["w"].tolist()
