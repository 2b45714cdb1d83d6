"""The one loop's zeroth-order estimators (NPGA, REINFORCE): every policy and mechanism, shapes,
determinism, batch-mate independence, non-cooperation, convergence."""

from __future__ import annotations

import pytest
import torch

from diffauction.game.mechanisms import make_mechanism
from diffauction.game.policies import AffinePolicy, LinearPolicy, MLPPolicy
from diffauction.learning.estimators import NPGA, Reinforce, npga_estimate
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64
POLICIES = {"linear": {"name": "linear"}, "affine": {"name": "affine"},
            "mlp": {"name": "mlp", "hidden": [4], "activation": "tanh", "pretrain_steps": 5}}
OPTIONS = {"npga": {"population": 8, "sigma": 0.05}, "reinforce": {"sigma": 0.1}}
LOCAL = {"name": "uniform", "low": 0.0, "high": 1.0}


def setup(gradient, policy="linear", mechanism="first_price", seeds=(0, 1), steps=4, **kw):
    runs = len(seeds)
    args = dict(n_agents=2, seeds=list(seeds), beta_start=[1.0] * runs, beta_end=[1.0] * runs,
                lr_start=[0.01] * runs, lr_end=[0.01] * runs, w0=[0.8] * runs, batch_size=64,
                steps=steps, mechanism=mechanism, gradient=gradient,
                gradient_options=OPTIONS[gradient], policy=POLICIES[policy], dtype="float64")
    if mechanism == "pay_as_bid":
        args.update(n_agents=4, mechanism=make_mechanism("pay_as_bid", k=2))
    if mechanism.startswith("llg"):
        args.update(n_agents=3, agent_priors=[LOCAL, LOCAL, {**LOCAL, "high": 2.0}],
                    truthful_agents=[2])
    return RunBatch(**{**args, **kw})


CASES = [(g, p, m) for g in ("npga", "reinforce") for p in POLICIES
         for m in ("first_price", "pay_as_bid", "llg_nearest_vcg")
         if not (p == "mlp" and m.startswith("llg"))]  # an MLP cannot bid truthfully exactly


@pytest.mark.parametrize("gradient, policy, mechanism", CASES)
def test_runs_with_every_policy_and_mechanism(gradient, policy, mechanism):
    batch = setup(gradient, policy, mechanism)
    result = train(batch)
    runs, agents = batch.runs, batch.n_agents
    assert result.params.shape[:3] == (batch.steps + 1, runs, agents)
    assert result.final.shape == result.params.shape[1:]
    assert torch.isfinite(result.params).all()
    assert (result.gradient[1:] != 0).any()
    if gradient == "reinforce":
        assert result.extras["sigma"].shape == (batch.steps + 1, runs, agents)
    if mechanism.startswith("llg"):  # the global bidder stays truthful and does not learn
        truthful = result.params[:, :, 2]
        assert torch.equal(truthful, truthful[:1].expand_as(truthful))
        assert (result.gradient[:, :, 2] == 0).all()


@pytest.mark.parametrize("gradient", ["npga", "reinforce"])
@pytest.mark.parametrize("policy, mechanism", [("linear", "pay_as_bid"), ("affine", "first_price"),
                                               ("mlp", "first_price")])
def test_deterministic_and_independent_of_batch_mates(gradient, policy, mechanism):
    together = train(setup(gradient, policy, mechanism, seeds=(3, 4, 5)))
    again = train(setup(gradient, policy, mechanism, seeds=(3, 4, 5)))
    alone = train(setup(gradient, policy, mechanism, seeds=(4,)))
    assert torch.equal(together.params, again.params)
    assert torch.equal(together.params[:, 1:2], alone.params)


def profiles(policy_name, runs=2, agents=3):
    generator = torch.Generator().manual_seed(1)
    w0 = 0.5 + 0.4 * torch.rand(runs, generator=generator, dtype=F64)
    w = w0[:, None].expand(runs, agents).clone()
    if policy_name == "linear":
        return LinearPolicy(w)
    if policy_name == "affine":
        return AffinePolicy(w, 0.02)
    return MLPPolicy(list(range(runs)), agents, [4], [1.0], dtype=F64)


@pytest.mark.parametrize("policy_name", list(POLICIES))
@pytest.mark.parametrize("mechanism", ["first_price", "pay_as_bid"])
def test_npga_agent_estimate_ignores_the_opponents_perturbations(policy_name, mechanism):
    policy = profiles(policy_name)
    mech = make_mechanism(mechanism, **({"k": 2} if mechanism == "pay_as_bid" else {}))
    generator = torch.Generator().manual_seed(0)
    values = torch.rand((2, 128, 3), generator=generator, dtype=F64)
    params = policy.params
    eps = torch.randn((2, 6, *params.shape[1:]), generator=generator, dtype=F64)
    other = eps.clone()
    other[:, :, 1:] = torch.randn(other[:, :, 1:].shape, generator=generator, dtype=F64)

    def estimate(perturbations):
        coins = [torch.Generator().manual_seed(r) for r in range(2)]
        return npga_estimate(policy, mech, values, params, perturbations, 0.05, "current", coins)

    base, changed = estimate(eps), estimate(other)
    assert base.shape == params.shape
    assert torch.equal(changed[:, 0], base[:, 0])
    assert not torch.equal(changed[:, 1:], base[:, 1:])


@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_reinforce_agent_estimate_ignores_the_opponents_noise(policy_name, monkeypatch):
    policy = profiles(policy_name)
    mech = make_mechanism("first_price")
    generator = torch.Generator().manual_seed(0)
    values = torch.rand((2, 256, 3), generator=generator, dtype=F64)
    z = torch.randn((2, 256, 3), generator=generator, dtype=F64)
    other = z.clone()
    other[..., 1:] = torch.randn((2, 256, 2), generator=generator, dtype=F64)

    def estimate(noise):
        estimator = Reinforce(policy, mech, [0, 1], F64, "cpu", [1.0] * 3, agents=3)
        monkeypatch.setattr(estimator, "noise", lambda runs, shape: noise)
        out = torch.empty_like(policy.params)
        estimator(values, policy.params, None, slice(0, 2), out)
        return out, estimator.grad_log_sigma.clone()

    (base, base_s), (changed, changed_s) = estimate(z), estimate(other)
    assert torch.equal(changed[:, 0], base[:, 0])
    assert torch.equal(changed_s[:, 0], base_s[:, 0])
    assert not torch.equal(changed[:, 1:], base[:, 1:])


def test_npga_draws_its_own_noise_per_run():
    policy = profiles("linear")
    npga = NPGA(policy, make_mechanism("first_price"), [7, 8], F64, "cpu", population=4)
    assert npga.perturbations(slice(0, 2), (3,)).shape == (2, 4, 3)
    alone = NPGA(policy, make_mechanism("first_price"), [8], F64, "cpu", population=4)
    npga2 = NPGA(policy, make_mechanism("first_price"), [7, 8], F64, "cpu", population=4)
    assert torch.equal(npga2.perturbations(slice(1, 2), (3,)),
                       alone.perturbations(slice(0, 1), (3,)))


def test_npga_moves_linear_first_price_towards_the_bne():
    batch = setup("npga", seeds=(0, 1), steps=300, batch_size=256, lr_start=[0.01] * 2,
                  lr_end=[0.01] * 2, w0=[0.9, 0.9], dtype="float32",
                  gradient_options={"population": 32, "sigma": 0.02})
    result = train(batch)
    start = (result.params[0] - 0.5).abs()
    end = (result.tail_average - 0.5).abs()
    assert (end < 0.5 * start).all(), result.tail_average
