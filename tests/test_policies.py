"""Tests for diffauction.game.policies: bounds, batching, shared weights, pre-training, specs."""

from __future__ import annotations

import pytest
import torch

from diffauction.game.policies import (
    AffinePolicy,
    LinearPolicy,
    MLPPolicy,
    make_policy,
    value_grid,
)
from diffauction.game.priors import make_agent_priors
from diffauction.learning.pretrain import make_policy as make_trained_policy
from diffauction.learning.pretrain import pretrain

F64 = torch.float64
V_MAX = [0.5, 1.0, 2.0]


def agent_major_values(runs=3, agents=3, batch=257, v_max=V_MAX):
    """Values [runs, batch, agents] as the trainer lays them out (agent-major memory)."""
    unit = torch.rand(runs, agents, batch, dtype=F64, generator=torch.Generator().manual_seed(1))
    return (unit * torch.tensor(v_max, dtype=F64)[None, :, None]).transpose(1, 2)


@pytest.mark.parametrize("output", ["shading", "bounded"])
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_mlp_bids_respect_the_bounds_by_construction(output, scale):
    policy = MLPPolicy([0, 1, 2], 3, [8, 5], V_MAX, output=output, dtype=F64)
    values = agent_major_values()
    for params in (policy.params * scale, -policy.params * scale):
        bids = policy.bids(values, params)
        assert bids.shape == values.shape
        assert (bids >= 0).all()
        assert (bids <= torch.tensor(V_MAX, dtype=F64)).all()
        if output == "shading":
            assert (bids <= values).all()
    zero = policy.bids(torch.zeros(1, 4, 3, dtype=F64), policy.params[:1])
    if output == "shading":
        assert torch.equal(zero, torch.zeros_like(zero))


def test_mlp_bids_keep_the_agent_major_layout():
    policy = MLPPolicy([0, 1], 3, [4], V_MAX, dtype=F64)
    bids = policy.bids(agent_major_values(runs=2))
    assert bids.transpose(1, 2).is_contiguous()


def manual_forward(policy: MLPPolicy, params: torch.Tensor, v: torch.Tensor, v_max: float):
    """One network (flat parameter vector) on values [B], written out layer by layer."""
    x = (2 * v / v_max - 1)[:, None]
    start = 0
    for k, (fan_in, fan_out) in enumerate(policy.layers):
        w = params[start:start + fan_in * fan_out].reshape(fan_in, fan_out)
        start += fan_in * fan_out
        b = params[start:start + fan_out]
        start += fan_out
        x = x @ w + b
        if k < len(policy.layers) - 1:
            x = torch.tanh(x)
    return v * torch.sigmoid(x[:, 0])


@pytest.mark.parametrize("shared", [False, True])
def test_batched_networks_equal_one_network_at_a_time(shared):
    seeds = [4, 5, 6]
    policy = MLPPolicy(seeds, 3, [6, 3], V_MAX, shared=shared, activation="tanh", dtype=F64)
    assert policy.params.shape == (3, 1 if shared else 3, policy.size)
    values = agent_major_values()
    bids = policy.bids(values)
    for r in range(3):
        for i in range(3):
            theta = policy.params[r, 0 if shared else i]
            expected = manual_forward(policy, theta, values[r, :, i], V_MAX[i])
            assert torch.allclose(bids[r, :, i], expected, atol=1e-12, rtol=0)
    # a run's initial network depends on its seed only, not on its batch mates
    alone = MLPPolicy([5], 3, [6, 3], V_MAX, shared=shared, activation="tanh", dtype=F64)
    assert torch.equal(alone.params[0], policy.params[1])


def test_shared_weights_bid_alike_and_per_agent_weights_are_separate():
    grid = value_grid([0.0] * 3, [1.0] * 3, 33, F64).expand(2, -1, -1)
    shared = MLPPolicy([0, 1], 3, [5], [1.0], shared=True, dtype=F64)
    b = shared.bids(grid)
    assert torch.equal(b[..., 0], b[..., 1]) and torch.equal(b[..., 0], b[..., 2])
    separate = MLPPolicy([0, 1], 3, [5], [1.0], shared=False, dtype=F64)
    b = separate.bids(grid)
    assert not torch.allclose(b[..., 0], b[..., 1])
    # perturbing agent 1's network moves agent 1's bids only
    params = separate.params.clone()
    params[:, 1] += 0.1
    moved = separate.bids(grid, params)
    assert torch.equal(moved[..., 0], b[..., 0]) and torch.equal(moved[..., 2], b[..., 2])
    assert not torch.allclose(moved[..., 1], b[..., 1])


@pytest.mark.parametrize("target, output, w0, tolerance", [
    ("linear", "shading", 0.6, 5e-3),
    ("linear", "shading", 0.3, 5e-3),
    # truthful bids need σ → 1 (shading) or σ from 0 to 1 (bounded): the sigmoid saturates
    ("truthful", "shading", None, 2e-2),
    ("truthful", "bounded", None, 5e-2),
])
def test_pretraining_fits_the_target(target, output, w0, tolerance):
    priors = make_agent_priors({"name": "uniform"}, [{"name": "uniform", "high": 0.5},
                                                     {"name": "uniform", "high": 1.0}], 2)
    seeds = list(range(4))
    w = torch.full((4,), w0 if w0 is not None else 0.9, dtype=torch.float32)
    spec = {"name": "mlp", "hidden": [10], "activation": "tanh", "output": output,
            "pretrain": target}
    policy = make_trained_policy(spec, seeds, 2, w, priors, torch.float32, "cpu")
    grid = value_grid(priors.lows, priors.highs, 101).float().expand(4, -1, -1)
    goal = grid * (w0 if target == "linear" else 1.0)
    rmse = (policy.bids(grid) - goal).pow(2).mean(dim=1).sqrt()
    assert rmse.shape == (4, 2)
    assert rmse.max() < tolerance, rmse


def test_pretrain_returns_its_error_and_is_batched():
    policy = MLPPolicy([0, 1], 2, [8], [1.0], dtype=F64)
    before = policy.params.clone()
    rmse = pretrain(policy, lambda v: 0.5 * v, [0, 0], [1, 1], steps=200)
    assert rmse.shape == (2, 2) and rmse.max() < 1e-2
    assert not torch.equal(before, policy.params)


def test_affine_and_linear_policies():
    w0 = torch.tensor([0.5, 0.8], dtype=F64)
    affine = AffinePolicy(w0[:, None].expand(2, 3), c0=-0.1)
    values = agent_major_values(runs=2)
    expected = torch.relu(w0[:, None, None] * values - 0.1)
    assert torch.allclose(affine.bids(values), expected)
    assert affine.params.shape == (2, 3, 2)
    priors = make_agent_priors({"name": "uniform"}, None, 3)
    linear = make_policy({"name": "linear", "w0": 0.9}, [0, 1], 3, w0, priors, F64, "cpu")
    assert isinstance(linear, LinearPolicy)
    assert torch.equal(linear.params, w0[:, None].expand(2, 3))
    made = make_policy({"name": "affine", "c0": -0.1}, [0, 1], 3, w0, priors, F64, "cpu")
    assert torch.allclose(made.bids(values), expected)


@pytest.mark.parametrize("hidden", [[0], [4, 0], []])
def test_zero_width_network_is_rejected(hidden):
    with pytest.raises(ValueError, match="policy.hidden"):
        MLPPolicy([0], 2, hidden, [1.0])


def test_unknown_activation_output_and_policy_are_rejected():
    with pytest.raises(ValueError, match="policy.activation"):
        MLPPolicy([0], 2, [4], [1.0], activation="gelu")
    with pytest.raises(ValueError, match="policy.output"):
        MLPPolicy([0], 2, [4], [1.0], output="clamp")
    priors = make_agent_priors({"name": "uniform"}, None, 2)
    with pytest.raises(ValueError, match="policy.name"):
        make_policy({"name": "tree"}, [0], 2, torch.ones(1), priors, F64, "cpu")
