"""Tests for diffauction.learning.trainer: gradient paths, non-cooperation, determinism,
convergence."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from diffauction.equilibria.smoothed import smoothed_symmetric_equilibrium
from diffauction.learning import trainer as learners
from diffauction.learning.samplers import SAMPLERS
from diffauction.learning.trainer import RunBatch, resolve_device, train

F64 = torch.float64
MECHANISM_NAMES = ["first_price", "second_price", "all_pay"]


def make_setup(**overrides) -> RunBatch:
    runs = len(overrides.get("seeds", [0, 1, 2]))
    base = dict(
        n_agents=3,
        seeds=[0, 1, 2],
        beta_start=[50.0] * runs,
        beta_end=[50.0] * runs,
        lr_start=[1e-2] * runs,
        lr_end=[1e-2] * runs,
        w0=[0.9] * runs,
        batch_size=512,
        steps=20,
        dtype="float64",
    )
    base.update(overrides)
    return RunBatch(**base)


def result_tensors(result):
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if isinstance(getattr(result, f.name), torch.Tensor)}


# --- gradient paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
def test_analytic_and_autograd_trajectories_agree(mechanism):
    analytic = train(make_setup(mechanism=mechanism, gradient="analytic"))
    autograd = train(make_setup(mechanism=mechanism, gradient="autograd"))
    assert torch.allclose(analytic.params, autograd.params, atol=1e-12, rtol=0)
    assert torch.allclose(analytic.gradient, autograd.gradient, atol=1e-12, rtol=0)
    # the trajectories actually moved (otherwise the comparison is vacuous)
    assert (analytic.params[-1] - analytic.params[0]).abs().max() > 0.02


# --- non-cooperation -----------------------------------------------------------------------------


def own_smoothed_utility(mechanism: str, values, bids, competing, beta):
    """ũ_i written out independently of diffauction.game.mechanisms (no detach anywhere)."""
    win = torch.sigmoid(beta * (bids - competing))
    if mechanism == "first_price":
        return (values - bids) * win
    if mechanism == "second_price":
        return (values - competing) * win
    return values * win - bids


def competing_bid_of(bids, i):
    """max_{j != i} b_j, differentiable in every opponent's bid (nothing detached)."""
    others = torch.cat([bids[..., :i], bids[..., i + 1:]], dim=-1)
    return others.amax(dim=-1)


def per_agent_gradient(mechanism, values, params, beta):
    """∂E[ũ_i]/∂θ_i for each i, by back-propagating ũ_i alone and keeping only its θ_i entry."""
    grads = torch.empty_like(params)
    for i in range(params.shape[-1]):
        theta = params.detach().clone().requires_grad_(True)
        bids = theta[:, None, :] * values
        u_i = own_smoothed_utility(mechanism, values[..., i], bids[..., i],
                                   competing_bid_of(bids, i), beta[:, :, 0])
        (g,) = torch.autograd.grad(u_i.mean(dim=1).sum(), theta)
        grads[:, i] = g[:, i]
    return grads


def cartel_gradient(mechanism, values, params, beta):
    """∂/∂θ of Σ_i E[ũ_i] with the opponents' bids NOT detached: what a colluding cartel ascends."""
    theta = params.detach().clone().requires_grad_(True)
    bids = theta[:, None, :] * values
    total = sum(
        own_smoothed_utility(mechanism, values[..., i], bids[..., i], competing_bid_of(bids, i),
                             beta[:, :, 0]).mean(dim=1).sum()
        for i in range(params.shape[-1]))
    (g,) = torch.autograd.grad(total, theta)
    return g


@pytest.mark.parametrize("gradient", ["analytic", "autograd"])
@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
def test_trainer_gradient_is_non_cooperative(monkeypatch, mechanism, gradient):
    """The gradient the trainer steps with is the per-agent one, not the cartel's.

    The trainer's gradient function is wrapped to capture the exact batch, parameters and β
    of every step; the captured gradient is then recomputed independently.
    """
    calls = []
    original = learners.make_estimator

    def spying(*args, **kwargs):
        estimator = original(*args, **kwargs)

        def spy(values, params, beta, runs, out):
            grad = estimator(values, params, beta, runs, out)
            calls.append((values.clone(), params.clone(), beta.clone(), grad.clone()))
            return grad
        return spy

    monkeypatch.setattr(learners, "make_estimator", spying)
    setup = make_setup(mechanism=mechanism, gradient=gradient, seeds=[3, 4], n_agents=3,
                       beta_start=[20.0, 50.0], beta_end=[20.0, 50.0], lr_start=[0.05, 0.05],
                       lr_end=[0.05, 0.05], w0=[0.8, 0.6], steps=4, optimizer="sgd")
    result = train(setup)
    assert len(calls) == setup.steps
    for step, (values, params, beta, grad) in enumerate(calls):
        expected = per_agent_gradient(mechanism, values, params, beta)
        assert torch.allclose(grad, expected, atol=1e-12, rtol=1e-10), step
        assert torch.equal(result.gradient[step + 1], grad)
        cartel = cartel_gradient(mechanism, values, params, beta)
        # the cartel gradient is different; if gradients leaked the first assert would fail
        assert (cartel - expected).abs().max() > 1e-2, step
    # the captured parameters are heterogeneous after a few SGD steps (not just the symmetric start)
    assert (calls[-1][1][0] - calls[-1][1][0, 0]).abs().max() > 0


# --- determinism and independence ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_setup_gives_identical_tensors(dtype):
    first = result_tensors(train(make_setup(dtype=dtype)))
    second = result_tensors(train(make_setup(dtype=dtype)))
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name




@pytest.mark.parametrize("sampler", SAMPLERS)
def test_runs_are_independent_of_batch_mates(sampler):
    extra = {} if sampler == "iid" else {"sampler": sampler}
    together = train(make_setup(seeds=[0, 1, 2], **extra))
    alone = train(make_setup(seeds=[2], beta_start=[50.0], beta_end=[50.0], lr_start=[1e-2],
                             lr_end=[1e-2], w0=[0.9], **extra))
    assert torch.equal(together.params[:, 2:3], alone.params)
    assert torch.equal(together.gradient[:, 2:3], alone.gradient)
    assert torch.equal(together.final[2:3], alone.final)
    # different seeds really give different trajectories
    assert not torch.equal(together.params[:, 0], together.params[:, 2])


def test_batched_settings_match_separate_programs():
    """Runs with different β and lr in one program equal the same runs trained separately."""
    together = train(make_setup(seeds=[5, 6], beta_start=[10.0, 80.0], beta_end=[10.0, 80.0],
                                lr_start=[1e-2, 3e-2], lr_end=[1e-2, 3e-2], w0=[0.9, 0.5]))
    for r, (seed, beta, lr, w0) in enumerate([(5, 10.0, 1e-2, 0.9), (6, 80.0, 3e-2, 0.5)]):
        alone = train(make_setup(seeds=[seed], beta_start=[beta], beta_end=[beta],
                                 lr_start=[lr], lr_end=[lr], w0=[w0]))
        assert torch.allclose(together.params[:, r:r + 1], alone.params, atol=1e-15, rtol=0)


# --- optimisers ----------------------------------------------------------------------------------


def test_sgd_step_is_lr_times_gradient_with_momentum():
    lr, momentum = 0.3, 0.5
    result = train(make_setup(optimizer="sgd", momentum=momentum, lr_start=[lr] * 3,
                              lr_end=[lr] * 3, steps=3))
    p, g = result.params, result.gradient
    assert torch.allclose(p[1], p[0] + lr * g[1], atol=1e-15, rtol=0)
    assert torch.allclose(p[2], p[1] + lr * (g[2] + momentum * g[1]), atol=1e-15, rtol=0)
    buffer = g[3] + momentum * (g[2] + momentum * g[1])
    assert torch.allclose(p[3], p[2] + lr * buffer, atol=1e-15, rtol=0)


def test_adam_first_step_is_lr_times_sign():
    lr, eps = 1e-2, 1e-8
    result = train(make_setup(lr_start=[lr] * 3, lr_end=[lr] * 3, steps=1, adam_eps=eps))
    g = result.gradient[1]
    expected = result.params[0] + lr * g / (g.abs() + eps)
    assert torch.allclose(result.params[1], expected, atol=1e-15, rtol=0)


def test_sgd_path_converges_to_smoothed_fixed_point():
    setup = make_setup(n_agents=2, seeds=[0, 1], beta_start=[50.0] * 2, beta_end=[50.0] * 2,
                       lr_start=[0.1] * 2, lr_end=[0.1] * 2, w0=[0.9, 0.3], optimizer="sgd",
                       batch_size=2048, steps=400, dtype="float32", record_every=50,
                       tail_fraction=0.25)
    result = train(setup)
    target = smoothed_symmetric_equilibrium(50.0, 2)
    # from above (0.9) and from below (0.3)
    assert (result.tail_average - target).abs().max() < 4e-3, result.tail_average


def test_unknown_optimizer_raises():
    with pytest.raises(ValueError, match=r"optimizer.*rmsprop.*allowed"):
        train(make_setup(optimizer="rmsprop"))


# --- convergence to the smoothed fixed point -----------------------------------------------------


def week4_setup(n_agents: int, **overrides) -> RunBatch:
    seeds = list(range(8))
    base = dict(n_agents=n_agents, seeds=seeds, beta_start=[50.0] * 8, beta_end=[50.0] * 8,
                lr_start=[1e-3] * 8, lr_end=[1e-3] * 8, w0=[0.9] * 8, batch_size=8192,
                steps=2000, dtype="float32", record_every=100)
    base.update(overrides)
    return RunBatch(**base)


@pytest.mark.slow
def test_week4_n2_reproduces_048():
    """The seed's week-4 run: N=2, β=50, Adam 1e-3, batch 8192, 2000 steps, 8 seeds (~6 s)."""
    result = train(week4_setup(2))
    target = smoothed_symmetric_equilibrium(50.0, 2)
    assert abs(target - 0.48047) < 1e-5
    tail = result.tail_average
    assert (tail - 0.48).abs().max() < 2e-3, tail
    assert (tail - target).abs().max() < 2e-3, tail


@pytest.mark.slow
def test_week4_n3_reaches_smoothed_fixed_point_below_bne():
    result = train(week4_setup(3))
    target = smoothed_symmetric_equilibrium(50.0, 3)
    assert abs(target - 0.647) < 1e-3
    tail = result.tail_average
    assert (tail - target).abs().max() < 2e-3, tail
    assert (tail < 2 / 3).all()


@pytest.mark.parametrize("n_agents", [2, 3])
def test_fast_convergence_to_smoothed_fixed_point(n_agents):
    """A cheap version of the week-4 checks: decaying Adam step, smaller batch (< 1 s)."""
    result = train(week4_setup(n_agents, lr_start=[2e-2] * 8, lr_end=[2e-4] * 8,
                               lr_schedule="geometric", batch_size=2048, steps=600,
                               tail_fraction=0.25))
    target = smoothed_symmetric_equilibrium(50.0, n_agents)
    bne = (n_agents - 1) / n_agents
    tail = result.tail_average
    assert abs(tail.mean().item() - target) < 2e-3, tail
    assert (tail - target).abs().max() < 6e-3, tail
    # the smoothed fixed point is distinguishable from the BNE at this β, and the runs sit below it
    assert bne - target > 1e-2
    assert (tail < bne).all()


# --- failure modes -------------------------------------------------------------------------------


def test_non_finite_parameters_raise_with_step_and_seed():
    seeds = [5, 7, 9]
    lrs = [1e-3, 1e38, 1e-3]
    setup = make_setup(seeds=seeds, optimizer="sgd", lr_start=lrs, lr_end=lrs, dtype="float32",
                       steps=50)
    with pytest.raises(FloatingPointError) as info:
        train(setup)
    message = str(info.value)
    assert "run 1" in message and "seed 7" in message, message
    step = int(re.search(r"step (\d+)", message).group(1))
    assert 1 <= step <= 50
    # the step named is the first one with non-finite parameters
    if step > 1:
        ok = train(dataclasses.replace(setup, steps=step - 1))
        assert torch.isfinite(ok.final).all()
    with pytest.raises(FloatingPointError, match=rf"step {step}\b"):
        train(dataclasses.replace(setup, steps=step))


def test_injected_nan_learning_rate_raises():
    setup = make_setup(seeds=[11, 12], lr_start=[1e-2, float("nan")],
                       lr_end=[1e-2, float("nan")], steps=5)
    with pytest.raises(FloatingPointError, match=r"step 1 in run 1 \(seed 12"):
        train(setup)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_gpu_raises():
    with pytest.raises(RuntimeError, match="cuda"):
        train(make_setup(device="cuda"))
    with pytest.raises(RuntimeError, match="cuda"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_unknown_device_raises():
    with pytest.raises(ValueError, match="device.*tpu"):
        resolve_device("tpu")


# --- schedules and recording ---------------------------------------------------------------------


def test_recorded_schedules_follow_the_formulas():
    steps = 11
    setup = make_setup(seeds=[0, 1], beta_start=[10.0, 20.0], beta_end=[50.0, 100.0],
                       beta_schedule="linear", lr_start=[1e-2, 1e-1], lr_end=[1e-3, 1e-3],
                       lr_schedule="geometric", steps=steps)
    result = train(setup)
    assert result.steps.tolist() == list(range(steps + 1))
    b0, b1 = torch.tensor([10.0, 20.0], dtype=F64), torch.tensor([50.0, 100.0], dtype=F64)
    l0, l1 = torch.tensor([1e-2, 1e-1], dtype=F64), torch.tensor([1e-3, 1e-3], dtype=F64)
    # step 0 records the start; step k records the value used for the step that led to it,
    # i.e. progress s = (k - 1)/(steps - 1); the last step uses the end value
    assert torch.allclose(result.beta[0], b0) and torch.allclose(result.lr[0], l0)
    for k in range(1, steps + 1):
        s = (k - 1) / (steps - 1)
        assert torch.allclose(result.beta[k], b0 + (b1 - b0) * s, rtol=1e-12, atol=0)
        assert torch.allclose(result.lr[k], l0 * (l1 / l0) ** s, rtol=1e-12, atol=0)
    assert torch.allclose(result.beta[1], b0, rtol=1e-15, atol=0)
    assert torch.allclose(result.beta[-1], b1, rtol=1e-15, atol=0)
    assert torch.allclose(result.lr[-1], l1, rtol=1e-12, atol=0)


def test_record_every_tail_average_movement_and_samples():
    setup = make_setup(steps=23, record_every=5, tail_fraction=0.2)
    sparse = train(setup)
    dense = train(dataclasses.replace(setup, record_every=1))
    assert sparse.steps.tolist() == [0, 5, 10, 15, 20, 23]
    assert torch.equal(sparse.params, dense.params[sparse.steps])
    assert torch.equal(sparse.final, dense.params[-1])
    tail_len = math.ceil(0.2 * 23)
    assert torch.allclose(dense.tail_average, dense.params[-tail_len:].mean(0), atol=1e-15)
    movement = (dense.params[1:] - dense.params[:-1]).abs().mean(-1)
    assert torch.allclose(dense.movement[1:], movement, atol=1e-15, rtol=0)
    assert torch.all(dense.movement[0] == 0)
    assert dense.samples_per_run == 23 * 512 * 3
