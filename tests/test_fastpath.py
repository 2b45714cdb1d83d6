"""The training loop's fast paths: the fused gradient agrees with the readable closed form, cache
blocks change no number, and the float32 draws are what they claim to be."""

from __future__ import annotations

import math

import pytest
import torch

from diffauction.game.mechanisms import make_mechanism
from diffauction.game.policies import LinearPolicy
from diffauction.learning import trainer as learners
from diffauction.learning.estimators import (
    Workspace,
    analytic_gradient,
    analytic_gradient_inplace,
)
from diffauction.learning.trainer import RunBatch, train

F64 = torch.float64


@pytest.mark.parametrize("mechanism", ["first_price", "second_price", "all_pay"])
@pytest.mark.parametrize("agents", [2, 3, 7])
def test_inplace_gradient_matches_readable(mechanism, agents):
    generator = torch.Generator().manual_seed(agents)
    runs, batch = 3, 257
    values = torch.rand((runs, agents, batch), generator=generator, dtype=F64).transpose(1, 2)
    params = torch.rand((runs, agents), generator=generator, dtype=F64)
    beta = torch.tensor([5.0, 50.0, 500.0], dtype=F64)[:, None, None]
    policy = LinearPolicy(params)
    mech = make_mechanism(mechanism)
    expected = analytic_gradient(policy, mech, values, params, beta)
    work = Workspace(runs, agents, batch, F64, "cpu")
    got = analytic_gradient_inplace(policy, mech, values, params, beta, work)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mechanism", ["first_price", "second_price", "all_pay"])
def test_float32_is_exact_enough(mechanism):
    """float32 (the default training precision) matches float64 to ~1e-6 on the gradient."""
    generator = torch.Generator().manual_seed(0)
    values = torch.rand((4, 3, 8192), generator=generator, dtype=F64).transpose(1, 2)
    params = torch.rand((4, 3), generator=generator, dtype=F64)
    beta = torch.full((4, 1, 1), 100.0, dtype=F64)
    mech = make_mechanism(mechanism)
    exact = analytic_gradient(LinearPolicy(params), mech, values, params, beta)
    v32, p32, b32 = values.float(), params.float(), beta.float()
    work = Workspace(4, 3, 8192, torch.float32, "cpu")
    single = analytic_gradient_inplace(LinearPolicy(p32), mech, v32, p32, b32, work)
    assert (single.double() - exact).abs().max() < 2e-6


def test_subclass_with_its_own_derivative_does_not_inherit_the_fused_path():
    from diffauction.game.mechanisms import FirstPrice

    class Doubled(FirstPrice):
        def smoothed_bid_gradient(self, values, bids, beta):
            return 2.0 * super().smoothed_bid_gradient(values, bids, beta)

    values = torch.rand((2, 3, 50), dtype=F64).transpose(1, 2)
    weights = torch.full((2, 3), 0.5, dtype=F64)
    expected = (values * Doubled().smoothed_bid_gradient(values, 0.5 * values, 30.0)).mean(dim=1)
    got = Doubled().linear_bid_gradient_(values, weights, 30.0, torch.empty_like(values),
                                         torch.empty_like(values))
    assert torch.allclose(got, expected)


# --- cache blocking ------------------------------------------------------------------------------


def test_run_blocks_cover_every_run_once_in_order():
    assert learners.run_blocks(5, 10, None) == [slice(0, 5)]
    blocks = learners.run_blocks(7, 10, 25)  # two runs per block
    assert blocks == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 7)]
    assert learners.run_blocks(3, 100, 10) == [slice(0, 1), slice(1, 2), slice(2, 3)]


def blocking_setup(**overrides) -> RunBatch:
    runs = 5
    base = dict(n_agents=3, seeds=list(range(runs)), beta_start=[20.0] * runs,
                beta_end=[400.0] * runs, beta_schedule="geometric", lr_start=[1e-2] * runs,
                lr_end=[1e-2] * runs, w0=[0.9, 0.8, 0.7, 0.6, 0.5], batch_size=64, steps=12,
                dtype="float32")
    base.update(overrides)
    return RunBatch(**base)


@pytest.mark.parametrize("extra", [
    {},
    {"dtype": "float64", "mechanism": "second_price"},
    {"sampler": "antithetic", "mechanism": "all_pay"},
    {"sampler": "sobol"},
    {"agent_priors": [{"name": "uniform", "low": 0.0, "high": 0.5},
                      {"name": "beta", "a": 2.0, "b": 5.0}, {"name": "uniform"}]},
    {"gradient": "autograd", "policy": {"name": "mlp", "hidden": [4], "pretrain": "none"},
     "grid_points": 5},
])
def test_blocks_do_not_change_a_single_number(monkeypatch, extra):
    """One run per block (2 runs per block, …) gives the very tensors of one block of all runs."""
    setup = blocking_setup(**extra)
    per_run = setup.n_agents * setup.batch_size
    results = []
    for runs_per_block in [setup.runs, 2, 1]:
        monkeypatch.setattr(learners, "CPU_BLOCK_ELEMENTS", runs_per_block * per_run)
        results.append(train(setup))
    whole = results[0]
    for blocked in results[1:]:
        for field in ["params", "gradient", "movement", "final", "tail_average", "bid_grid"]:
            a, b = getattr(whole, field), getattr(blocked, field)
            assert (a is None and b is None) or torch.equal(a, b), field


# --- the float32 draws ---------------------------------------------------------------------------


@pytest.mark.parametrize("agents,batch", [(2, 4096), (3, 5)])  # 3 × 5: odd per-run count
def test_float32_draws_are_uniform_on_a_24_bit_grid(agents, batch):
    runs = 4
    sampler = learners.ValueSampler("iid", list(range(runs)), agents, batch, torch.float32, "cpu")
    draws = []
    for _ in range(64 if batch < 100 else 4):
        buffer = torch.empty((runs, agents, batch))
        sampler.fill(buffer)
        draws.append(buffer.flatten())
    u = torch.cat(draws).double()
    assert u.min() >= 0.0 and u.max() < 1.0
    k = u * 2**24
    assert torch.equal(k, k.floor())  # k·2⁻²⁴ with an integer k < 2²⁴
    n = u.numel()
    # mean 1/2 and variance 1/12 within 5 standard errors; the 16 cells of [0,1) evenly filled
    assert abs(u.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var().item() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)
    counts = torch.bincount((u * 16).long(), minlength=16).double()
    chi2 = ((counts - n / 16) ** 2 / (n / 16)).sum().item()
    assert chi2 < 45.0  # χ²(15): P(> 45) ≈ 1e-4
    # neighbours (the two halves of one raw word, and consecutive words) are uncorrelated
    neighbours = torch.corrcoef(torch.stack([u[:-1], u[1:]]))[0, 1].item()
    assert abs(neighbours) < 5 / math.sqrt(n)


def test_float32_draws_follow_the_documented_bits():
    """Run r's draws are the low 24 bits of both halves of its PCG64's raw words, times 2⁻²⁴."""
    import numpy as np

    sampler = learners.ValueSampler("iid", [7, 11], 2, 3, torch.float32, "cpu")
    buffer = torch.empty((2, 2, 3))
    sampler.fill(buffer)
    for r, seed in enumerate([7, 11]):
        words = np.random.PCG64(seed).random_raw(3)  # 6 values per run
        low = words & np.uint64(0xFFFFFF)
        high = (words >> np.uint64(32)) & np.uint64(0xFFFFFF)
        expected = np.stack([low, high], axis=1).reshape(-1).astype(np.float64) * 2.0**-24
        assert np.array_equal(buffer[r].flatten().double().numpy(), expected)


def test_train_flushes_subnormals_only_while_it_runs():
    tiny = torch.tensor([1e-40], dtype=torch.float32)  # subnormal in float32
    assert (tiny * 1.0).item() != 0.0
    train(blocking_setup(steps=2))
    assert (tiny * 1.0).item() != 0.0  # the process's setting is back
