"""Independent PPO from TorchRL on the PettingZoo auction env (optional extra ``[marl]``).

This is the "maintained MARL library" baseline (REINFORCE, Williams 1992; PPO, Schulman et al.
2017; a stochastic bid policy on the hard utility) on the PettingZoo API (Terry et al. 2021):
TorchRL's ``PettingZooWrapper`` runs :func:`diffauction.env.parallel_env` itself, one group per
bidder, and every bidder learns its own policy and critic with its own ``ClipPPOLoss``
(independent PPO, no parameter sharing, no centralised critic). Install with::

    pip install -c <(echo "torch==$(python -c 'import torch; print(torch.__version__)')") \
        "torchrl==0.14.1" "tensordict==0.14.3"

(torchrl 0.14.1 requires ``tensordict>=0.14.3,<0.15`` and ``torch>=2.1``; the constraint keeps
pip from touching the installed torch). Its compiled extension ``torchrl._torchrl`` (prioritized
replay buffers) does not load against torch 2.13 (undefined symbol: built for another torch);
nothing here uses it.

Policy of bidder i: b ~ TanhNormal(μ_i(v), s_i(v)) on (0, v_max), μ and s from a small MLP of
the bidder's value (the one-shot env's observation). Critic: V_i(v), another MLP. Each
collector iteration plays ``frames_per_batch`` one-shot auctions (a frame = one auction = one
valuation per bidder); advantages by GAE (γ = 1: a one-shot episode gives A = r − V(v)); a few
epochs of clipped-surrogate minibatch updates with Adam.

Evaluation after every iteration: the mean bid E[b | v] (Monte Carlo over the policy's noise) on
the value-bin midpoints, its least-squares slope through the origin, and its L2 distance to the
BNE (the same quantities as the Hedge baseline, :mod:`diffauction.learning.baselines`).

Typical (N=2 first price, defaults): 30k auctions (60k valuations) bring the L2 of the mean-bid
function to 0.03–0.09 depending on the seed (seed 0: 0.033/0.037, slopes 0.51/0.54; seed 1:
0.082/0.088, slopes 0.63/0.64); the wrapper costs ≈ 2 ms per auction, so that is ≈ 100 s on an
idle 2-core CPU, against well under a second for the batched learners at that budget.
Low values learn slowest: their bids rarely win, so their advantages carry little signal.

The env's ``reset`` and ``step`` infos carry the same numeric keys (value, bid, allocation,
payment, winner index, round), so ``PettingZooWrapper`` builds its info spec from the reset and
steps the env as is; the infos land in the collected batches under ``(bidder_i, "info")``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from diffauction.game.priors import make_prior, value_midpoints
from diffauction.learning import recording
from diffauction.learning.hedge import DEFAULT_PRIOR, fit_slope
from diffauction.learning.recording import TrainResult


@dataclass
class PPOConfig:
    """Independent PPO (TorchRL ClipPPOLoss + GAE) per bidder."""

    frames_per_batch: int = 512  # one-shot auctions collected per iteration (all envs)
    num_envs: int = 8  # copies of the env stepped in lock-step (torchrl SerialEnv)
    epochs: int = 8  # passes over each collected batch
    minibatch_size: int = 128
    lr: float = 1e-2  # Adam, actor and critic of every bidder (3e-3 learns ~2x slower)
    clip_epsilon: float = 0.2
    entropy_coef: float = 0.0  # TanhNormal has no closed-form entropy: MC estimate if > 0
    gamma: float = 1.0  # one-shot episodes: the return is the reward
    lmbda: float = 0.95
    hidden: int = 32  # MLP width (two hidden layers, tanh)
    init_scale: float = 0.3  # initial policy std before the tanh squash
    max_grad_norm: float = 1.0
    normalize_advantage: bool = True
    threads: int = 1  # torch threads while training (restored afterwards)
    eval_bins: int = 32  # value midpoints for the mean-bid function
    eval_draws: int = 256  # Monte-Carlo draws of the policy per midpoint


def train_ppo(n_agents: int, mechanism: str = "first_price", seed: int = 0, frames: int = 50_000,
              config: PPOConfig | None = None, prior: dict | None = None) -> TrainResult:
    """Independent PPO (TorchRL) on ``parallel_env(n_agents, mechanism)`` for ``frames`` auctions.

    Needs the ``[marl]`` extra (torchrl, tensordict). Seeds torch (network init, policy noise)
    and the env from ``seed`` inside a forked RNG state, so the caller's RNG is untouched.

    Returns one run's :class:`~diffauction.learning.recording.TrainResult`, a step per collector
    iteration: ``params`` the fitted slope [K, 1, agents], ``extras`` the mean-bid function
    ``bid_function`` [K, 1, agents, V] at ``value_midpoints`` [V] and ``frames`` (auctions
    played); ``samples_per_run`` = frames × agents.
    """
    cfg = config or PPOConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _train_ppo(n_agents, mechanism, seed, frames, cfg, prior)
    finally:
        torch.set_num_threads(threads)


def _bidder(agent: str, cfg: PPOConfig, action_spec, v_max: float):
    """One bidder's TanhNormal actor on (0, v_max) and its clipped-PPO loss with its own critic
    and GAE, every key under the bidder's name (independent learners)."""
    from tensordict.nn import NormalParamExtractor, TensorDictModule
    from torch import nn
    from torchrl.modules import MLP, ProbabilisticActor, TanhNormal, ValueOperator
    from torchrl.objectives import ClipPPOLoss, ValueEstimators

    net = nn.Sequential(
        MLP(in_features=1, out_features=2, num_cells=[cfg.hidden, cfg.hidden],
            activation_class=nn.Tanh),
        # scale = softplus(x + c) with softplus(c) = init_scale: x = 0 gives init_scale
        NormalParamExtractor(scale_mapping=f"biased_softplus_{cfg.init_scale}"),
    )
    with torch.no_grad():  # start at b ≈ v_max/2 for every value, spread init_scale
        last = net[0][-1]
        last.weight.mul_(0.01)
        last.bias.zero_()
    actor = ProbabilisticActor(
        TensorDictModule(net, in_keys=[(agent, "observation")],
                         out_keys=[(agent, "loc"), (agent, "scale")]),
        in_keys={"loc": (agent, "loc"), "scale": (agent, "scale")},
        out_keys=[(agent, "action")], spec=action_spec, distribution_class=TanhNormal,
        distribution_kwargs={"low": 0.0, "high": v_max}, return_log_prob=True,
        log_prob_key=(agent, "action_log_prob"),
    )
    critic = ValueOperator(
        MLP(in_features=1, out_features=1, num_cells=[cfg.hidden, cfg.hidden],
            activation_class=nn.Tanh),
        in_keys=[(agent, "observation")], out_keys=[(agent, "state_value")],
    )
    loss = ClipPPOLoss(actor_network=actor, critic_network=critic,
                       clip_epsilon=cfg.clip_epsilon, entropy_bonus=cfg.entropy_coef > 0,
                       entropy_coeff=cfg.entropy_coef, normalize_advantage=cfg.normalize_advantage)
    loss.set_keys(reward=(agent, "reward"), action=(agent, "action"),
                  sample_log_prob=(agent, "action_log_prob"), value=(agent, "state_value"),
                  done=(agent, "done"), terminated=(agent, "terminated"),
                  # per-bidder keys: the defaults are top-level and would be shared
                  advantage=(agent, "advantage"), value_target=(agent, "value_target"))
    loss.make_value_estimator(ValueEstimators.GAE, gamma=cfg.gamma, lmbda=cfg.lmbda)
    return actor, loss


def _mean_bids(actors, mids: torch.Tensor, v_max: float, draws: int,
               generator: torch.Generator) -> torch.Tensor:
    """Every bidder's mean bid at the value midpoints, [agents, V], by ``draws`` Monte-Carlo
    draws of its TanhNormal policy: b = v_max·(1 + tanh(loc + scale·z))/2."""
    out = []
    with torch.no_grad():
        for actor in actors:
            loc, scale = actor.module[0].module(mids.to(torch.float32)[:, None])
            z = torch.randn((draws, *loc.shape), generator=generator)
            bids = v_max * 0.5 * (1.0 + torch.tanh(loc + scale * z))
            out.append(bids.mean(0)[:, 0].to(torch.float64))
    return torch.stack(out)


def _update(batch, losses, optimizer, params, cfg: PPOConfig) -> None:
    """``cfg.epochs`` passes of clipped PPO over one collected batch in shuffled minibatches,
    the bidders' losses summed (each loss sees only its own bidder's keys)."""
    for _ in range(cfg.epochs):
        with torch.no_grad():
            for loss in losses:
                loss.value_estimator(batch, params=loss.critic_network_params,
                                     target_params=loss.target_critic_network_params)
        flat = batch.reshape(-1)
        order = torch.randperm(flat.shape[0])
        for start in range(0, flat.shape[0], cfg.minibatch_size):
            mb = flat[order[start:start + cfg.minibatch_size]]
            total = 0.0
            for loss in losses:
                out = loss(mb)
                total = total + sum(v for k, v in out.items() if k.startswith("loss_"))
            optimizer.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()


def _environment(n_agents: int, mechanism: str, prior: dict | None, cfg: PPOConfig, seed: int):
    """The PettingZoo env wrapped for TorchRL, one group per bidder, ``num_envs`` in lock-step."""
    from torchrl.envs import SerialEnv
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    from diffauction.env import parallel_env  # gymnasium/pettingzoo: only where PPO really runs

    def make_env():
        return PettingZooWrapper(
            env=parallel_env(n_agents=n_agents, mechanism=mechanism,
                             prior=dict(prior or DEFAULT_PRIOR)),
            group_map={f"bidder_{i}": [f"bidder_{i}"] for i in range(n_agents)},
            return_state=False, use_mask=False, categorical_actions=False,
        )

    env = SerialEnv(cfg.num_envs, make_env) if cfg.num_envs > 1 else make_env()
    env.set_seed(seed)
    return env


def _train_ppo(n_agents: int, mechanism: str, seed: int, frames: int, cfg: PPOConfig,
               prior: dict | None) -> TrainResult:
    from tensordict.nn import TensorDictSequential
    from torchrl.collectors import Collector

    pri = make_prior(prior or DEFAULT_PRIOR)
    iterations = max(1, math.ceil(frames / cfg.frames_per_batch))
    total_frames = iterations * cfg.frames_per_batch
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PettingZoo in TorchRL is tested")
        torch.manual_seed(seed)
        env = _environment(n_agents, mechanism, prior, cfg, seed)
        bidders = [_bidder(f"bidder_{i}", cfg, env.full_action_spec[f"bidder_{i}", "action"],
                           pri.v_max) for i in range(n_agents)]
        actors, losses = [a for a, _ in bidders], [loss for _, loss in bidders]
        params = [p for loss in losses for p in loss.parameters()]
        optimizer = torch.optim.Adam(params, lr=cfg.lr)
        collector = Collector(env, TensorDictSequential(*actors),
                              frames_per_batch=cfg.frames_per_batch, total_frames=total_frames,
                              auto_register_policy_transforms=False)
        mids = value_midpoints(pri, cfg.eval_bins)
        eval_gen = torch.Generator().manual_seed(seed)
        record = recording.record_steps(iterations)  # every collector iteration
        history = recording.History(len(record))
        history.write(0, bids=_mean_bids(actors, mids, pri.v_max, cfg.eval_draws, eval_gen))
        for i, batch in enumerate(collector):
            _update(batch, losses, optimizer, params, cfg)
            collector.update_policy_weights_()
            history.write(i + 1, bids=_mean_bids(actors, mids, pri.v_max, cfg.eval_draws,
                                                 eval_gen))
        collector.shutdown()  # also closes the env

    bid_hist = history.cpu()["bids"][:, None]  # [K, 1, agents, V]
    mids64 = mids.to(torch.float64)
    slopes = fit_slope(mids64, bid_hist)  # [K, 1, agents]
    return TrainResult(
        steps=torch.tensor(record), params=slopes, final=slopes[-1].clone(),
        samples_per_step=cfg.frames_per_batch * n_agents, seeds=[seed], learner="ppo",
        extras={"bid_function": bid_hist, "value_midpoints": mids64,
                "frames": torch.tensor(total_frames)},
    )
