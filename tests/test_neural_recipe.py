"""The neural recipe's options of the one loop: re-paired autograd (``pairings``), per-value
weights (``value_power``), the EMA of the parameters (``ema_decay``) and wall-clock records
(``record_time``): shapes, determinism, non-cooperation, the options' errors, the curvature the
weights undo; the L2 history of any policy."""

from __future__ import annotations

import pytest
import torch

from diffauction.analysis.distance import l2_linear, policy_l2_history
from diffauction.game.mechanisms import make_mechanism
from diffauction.game.policies import LinearPolicy, MLPPolicy
from diffauction.game.priors import UniformPrior, value_midpoints
from diffauction.learning.estimators import autograd_gradient, repair, value_weights
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64
MLP = {"name": "mlp", "hidden": [4], "activation": "tanh", "pretrain": "truthful",
       "pretrain_steps": 5}


def setup(seeds=(0, 1), steps=6, **kw):
    runs = len(seeds)
    args = dict(n_agents=3, seeds=list(seeds), beta_start=[20.0] * runs, beta_end=[80.0] * runs,
                lr_start=[0.01] * runs, lr_end=[0.002] * runs, w0=[1.0] * runs, batch_size=64,
                steps=steps, beta_schedule="geometric", lr_schedule="geometric",
                gradient="autograd", gradient_options={"pairings": 3}, policy=MLP,
                sampler="sobol", dtype="float64", ema_decay=0.9, record_time=True)
    return RunBatch(**{**args, **kw})


def draws(runs=2, batch=128, agents=3):
    generator = torch.Generator().manual_seed(0)
    return torch.rand((runs, batch, agents), generator=generator, dtype=F64)


def test_repair_keeps_every_agents_samples_and_changes_the_partners():
    values = draws()
    for m in range(4):
        moved = repair(values, m)
        assert moved.shape == values.shape
        for j in range(3):  # each column is a permutation of the agent's own samples
            assert torch.equal(moved[..., j].sort(dim=1).values, values[..., j].sort(dim=1).values)
    assert torch.equal(repair(values, 0), values)
    rows = [set(map(tuple, repair(values, m)[0].tolist())) for m in range(4)]
    assert all(not (rows[a] & rows[b]) for a in range(4) for b in range(a))  # new joint draws


@pytest.mark.parametrize("mechanism", ["first_price", "all_pay"])
def test_pairings_average_the_repaired_gradients(mechanism):
    policy = MLPPolicy([0, 1], 3, [4], [1.0], activation="tanh", dtype=F64)
    mech, values, beta = make_mechanism(mechanism), draws(), torch.full((2, 1, 1), 30.0, dtype=F64)
    one = autograd_gradient(policy, mech, values, policy.params, beta)
    assert torch.allclose(autograd_gradient(policy, mech, values, policy.params, beta, 1), one)
    # the mean over pairings equals the plain gradient on the batches re-paired by hand
    by_hand = torch.stack([autograd_gradient(policy, mech, repair(values, m), policy.params, beta)
                           for m in range(3)]).mean(0)
    pooled = autograd_gradient(policy, mech, values, policy.params, beta, 3)
    assert pooled.shape == policy.params.shape
    assert torch.allclose(pooled, by_hand, atol=1e-12)


def own_derivative(policy, mech, values, beta, i, pairings):
    """∂/∂θ of agent i's re-paired smoothed utility with every opponent's bid a constant."""
    theta = policy.params.detach().requires_grad_(True)
    bids = policy.bids(values, theta)
    own = torch.stack([bids[..., j] if j == i else bids[..., j].detach()
                       for j in range(bids.shape[-1])], dim=-1)
    utility = sum(mech.smoothed_utility(repair(values, m), repair(own, m), beta)[..., i]
                  .mean(dim=1).sum() for m in range(pairings)) / pairings
    return torch.autograd.grad(utility, theta)[0]


@pytest.mark.parametrize("shared", [False, True])
def test_pairings_gradient_is_non_cooperative(shared):
    """Agent i's estimate is the derivative of its own utility with every opponent's bid held
    constant: equal to the gradient of ũ_i alone, and unchanged when an opponent's utility is
    dropped from the objective."""
    policy = MLPPolicy([0, 1], 3, [4], [1.0], shared=shared, activation="tanh", dtype=F64)
    mech, values, beta = make_mechanism("first_price"), draws(), 40.0
    pooled = autograd_gradient(policy, mech, values, policy.params, beta, 4)
    alone = [own_derivative(policy, mech, values, beta, i, 4) for i in range(3)]
    if shared:  # one network: the sum of every agent's own derivative through its own bid
        assert torch.allclose(pooled, sum(alone), atol=1e-12)
        return
    for i in range(3):
        assert torch.allclose(pooled[:, i], alone[i][:, i], atol=1e-12)
        assert (alone[i][:, [j for j in range(3) if j != i]] == 0).all()
    assert not torch.allclose(pooled[:, 0], pooled[:, 1])


def test_recipe_is_deterministic_and_independent_of_batch_mates():
    together, again = train(setup(seeds=(3, 4, 5))), train(setup(seeds=(3, 4, 5)))
    alone = train(setup(seeds=(4,)))
    assert torch.equal(together.params, again.params)
    assert torch.equal(together.extras["params_ema"], again.extras["params_ema"])
    assert torch.equal(together.params[:, 1:2], alone.params)
    assert torch.equal(together.extras["final_ema"][1:2], alone.extras["final_ema"])


def test_ema_and_clock_records():
    batch = setup()
    result = train(batch)
    k = batch.steps + 1
    assert result.extras["params_ema"].shape == result.params.shape
    assert result.extras["seconds"].shape == (k,)
    assert (result.extras["seconds"].diff() > 0).all()
    ema = result.params[0].clone()
    for t in range(1, k):  # θ̄_t = γ θ̄_{t−1} + (1 − γ) θ_t from the pre-trained start
        ema = torch.lerp(ema, result.params[t], 1 - batch.ema_decay)
        assert torch.allclose(result.extras["params_ema"][t], ema, atol=1e-12)
    assert torch.allclose(result.extras["final_ema"], ema, atol=1e-12)
    plain = train(setup(ema_decay=0.0, record_time=False))
    assert "params_ema" not in plain.extras and "seconds" not in plain.extras
    assert torch.equal(plain.params, result.params)  # the records change no iterate


@pytest.mark.parametrize("change, key", [
    ({"ema_decay": 1.0}, "ema_decay"), ({"ema_decay": -0.1}, "ema_decay"),
    ({"gradient_options": {"pairings": 0}}, "gradient_options.pairings"),
    ({"gradient_options": {"pairings": 2.5}}, "gradient_options.pairings"),
    ({"gradient_options": {"pairs": 2}}, "gradient_options"),
    ({"gradient_options": {"value_power": -1}}, "gradient_options.value_power"),
    ({"gradient_options": {"value_power": "3"}}, "gradient_options.value_power"),
    ({"gradient_options": {"value_power": 3, "value_floor": 0}}, "gradient_options.value_floor"),
    ({"gradient_options": {"value_floor": 1.5}}, "gradient_options.value_floor"),
])
def test_recipe_options_fail_with_the_key(change, key):
    with pytest.raises(ValueError, match=key):
        train(setup(**change))


def test_policy_l2_history_matches_the_linear_closed_form():
    """For b = w·v against w*·v on U[0, 1] the L2 is |w − w*|/√3 (up to the midpoint rule)."""
    prior = UniformPrior(0.0, 1.0)
    w = torch.tensor([[[0.4, 0.55]], [[0.5, 0.7]]], dtype=F64)  # [K=2, runs=1, agents=2]
    nodes = value_midpoints(prior, 1000)[:, None].expand(-1, 2)
    got = policy_l2_history(LinearPolicy(w[0]), w, nodes, 0.5 * nodes)
    assert got.shape == (2, 1, 2)
    assert torch.allclose(got, l2_linear(w, 0.5, prior), atol=1e-6)


def test_value_weights_closed_form():
    """w = max(v/v̄, floor)^(−K), mean 1 over each run's and agent's batch."""
    values = torch.tensor([[[0.05, 0.5], [0.2, 0.25], [0.8, 1.0]]], dtype=F64)  # [1, 3, 2]
    v_max = torch.tensor([1.0, 2.0], dtype=F64)
    got = value_weights(values, v_max, 2.0, 0.1)
    raw = torch.tensor([[[0.1 ** -2, 0.25 ** -2], [0.2 ** -2, 0.125 ** -2],
                         [0.8 ** -2, 0.5 ** -2]]], dtype=F64)
    assert torch.allclose(got, raw / raw.mean(dim=1, keepdim=True), atol=1e-12)
    assert torch.allclose(got.mean(dim=1), torch.ones(1, 2, dtype=F64))


def weighted_own_derivative(policy, mech, values, beta, i, power):
    """∂/∂θ of agent i's smoothed utility, each sample weighted by its own value's weight, with
    every opponent's bid a constant."""
    theta = policy.params.detach().requires_grad_(True)
    bids = policy.bids(values, theta)
    own = torch.stack([bids[..., j] if j == i else bids[..., j].detach()
                       for j in range(bids.shape[-1])], dim=-1)
    weights = value_weights(values, torch.ones(3, dtype=F64), power, 0.1)
    utility = (mech.smoothed_utility(values, own, beta) * weights)[..., i].mean(dim=1).sum()
    return torch.autograd.grad(utility, theta)[0]


def test_value_weighted_gradient_is_non_cooperative_and_weights_each_sample():
    """With value_power K, agent i's estimate is the K-weighted derivative of its own utility
    alone; K = 0 is the plain gradient; for linear bids it is E[w(v)·v·∂ũ/∂b] (the closed form)."""
    policy = MLPPolicy([0, 1], 3, [4], [1.0], activation="tanh", dtype=F64)
    mech, values, beta = make_mechanism("first_price"), draws(), 40.0
    plain = autograd_gradient(policy, mech, values, policy.params, beta)
    assert torch.equal(autograd_gradient(policy, mech, values, policy.params, beta,
                                         value_power=0.0), plain)
    weighted = autograd_gradient(policy, mech, values, policy.params, beta, value_power=3.0)
    for i in range(3):
        alone = weighted_own_derivative(policy, mech, values, beta, i, 3.0)
        assert torch.allclose(weighted[:, i], alone[:, i], atol=1e-12)
        assert (alone[:, [j for j in range(3) if j != i]] == 0).all()
    assert not torch.allclose(weighted, plain)
    linear = LinearPolicy(torch.full((2, 3), 0.6, dtype=F64))
    got = autograd_gradient(linear, mech, values, linear.params, beta, value_power=2.0)
    bids = linear.bids(values)
    closed = (value_weights(values, torch.ones(3, dtype=F64), 2.0, 0.1) * values
              * mech.smoothed_bid_gradient(values, bids, beta)).mean(dim=1)
    assert torch.allclose(got, closed, atol=1e-12)


@pytest.mark.parametrize("n_agents", [2, 3, 5])
def test_first_price_curvature_scales_as_the_value_power_n_minus_2(n_agents):
    """The reason for value_power = N − 2: against opponents at the BNE b* = (N−1)/N·v on
    U[0, 1], the interim utility U(b; v) = (v − b)·(b/w*)^(N−1) has −∂²U/∂b² at b*(v) equal to
    N²/(N−1)·v^(N−2) (finite differences against the closed form), a power N − 2 of the value."""
    w = (n_agents - 1) / n_agents
    v = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=F64)
    h = 1e-4

    def utility(b):
        return (v - b) * (b / w) ** (n_agents - 1)

    b = w * v
    curvature = -(utility(b + h) - 2 * utility(b) + utility(b - h)) / h ** 2
    expected = n_agents ** 2 / (n_agents - 1) * v ** (n_agents - 2)
    assert torch.allclose(curvature, expected, rtol=1e-5)


def test_value_weighted_training_is_deterministic():
    options = {"gradient_options": {"pairings": 2, "value_power": 2.0, "value_floor": 0.2}}
    together, again = train(setup(seeds=(3, 4), **options)), train(setup(seeds=(3, 4), **options))
    alone = train(setup(seeds=(4,), **options))
    assert torch.equal(together.params, again.params)
    assert torch.equal(together.params[:, 1:2], alone.params)
    assert not torch.equal(together.params, train(setup(seeds=(3, 4))).params)
