"""The CUDA path: the same trainer, unchanged, on a GPU (skipped where torch sees none).

CI has no GPU, so these run where one is lent (``benchmarks/device_check.sh``); on the CPU the same
behaviours are covered by test_learners.py and test_fastpath.py.
"""

from __future__ import annotations

import pytest
import torch

from diffauction.equilibria.smoothed import smoothed_symmetric_equilibrium
from diffauction.learning.trainer import RunBatch, device_label, resolve_device, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def setup(**overrides) -> RunBatch:
    runs = len(overrides.get("seeds", range(4)))
    base = dict(n_agents=3, seeds=list(range(runs)), beta_start=[50.0] * runs,
                beta_end=[50.0] * runs, lr_start=[1e-2] * runs, lr_end=[1e-2] * runs,
                w0=[0.9] * runs, batch_size=512, steps=20, dtype="float64", device="cuda")
    base.update(overrides)
    return RunBatch(**base)


def test_auto_picks_the_gpu():
    assert resolve_device("auto").type == "cuda"
    assert device_label(resolve_device("auto")).startswith("cuda (")


@pytest.mark.parametrize("mechanism", ["first_price", "second_price", "all_pay"])
def test_fused_and_autograd_agree_on_the_gpu(mechanism):
    fused = train(setup(mechanism=mechanism))
    autograd = train(setup(mechanism=mechanism, gradient="autograd"))
    assert torch.allclose(fused.params, autograd.params, atol=1e-12, rtol=0)
    assert (fused.params[-1] - fused.params[0]).abs().max() > 0.02


@pytest.mark.parametrize("sampler", ["iid", "antithetic", "sobol"])
def test_gpu_runs_are_deterministic_and_independent_of_batch_mates(sampler):
    first, second = train(setup(sampler=sampler)), train(setup(sampler=sampler))
    assert torch.equal(first.params, second.params)
    alone = train(setup(sampler=sampler, seeds=[2]))
    assert torch.allclose(first.params[:, 2:3], alone.params, atol=1e-12, rtol=0)


def test_week4_on_the_gpu_lands_on_the_smoothed_fixed_point():
    """The week-4 run (N=2, β=50, batch 8192, 8 seeds, float32) on the GPU: same science."""
    result = train(setup(n_agents=2, seeds=list(range(8)), lr_start=[2e-2] * 8,
                         lr_end=[2e-4] * 8, lr_schedule="geometric", batch_size=8192,
                         steps=600, tail_fraction=0.25, dtype="float32"))
    target = smoothed_symmetric_equilibrium(50.0, 2)
    assert (result.tail_average - target).abs().max() < 3e-3, result.tail_average


def test_gpu_and_cpu_agree_within_monte_carlo_error():
    kwargs = dict(n_agents=2, seeds=list(range(8)), lr_start=[2e-2] * 8, lr_end=[2e-4] * 8,
                  lr_schedule="geometric", batch_size=4096, steps=400, tail_fraction=0.25)
    gpu = train(setup(**kwargs)).tail_average
    cpu = train(setup(**kwargs, device="cpu")).tail_average
    assert not torch.equal(gpu, cpu)  # different generators …
    assert abs(gpu.mean().item() - cpu.mean().item()) < 2e-3  # … same fixed point


def test_neural_policy_trains_on_the_gpu():
    result = train(setup(n_agents=2, gradient="autograd", grid_points=9, steps=30,
                         policy={"name": "mlp", "hidden": [8], "pretrain": "linear"}))
    assert result.bid_grid is not None and torch.isfinite(result.bid_grid).all()
    # bids stay in [0, v] (output v·σ(f)) on the recorded grid
    assert (result.bid_grid >= 0).all()
    assert (result.bid_grid <= result.value_grid[None, None] + 1e-9).all()


def test_pipeline_training_with_device_auto_records_the_gpu(tmp_path):
    pytest.importorskip("jsonschema")
    import pandas as pd

    from diffauction.experiments.config import resolve_experiment, validate_config
    from diffauction.experiments.runs import run_training

    cfg = validate_config({"device": "auto", "experiments": {"week4": {
        "n_agents": 2, "beta": 50, "optimizer": {"name": "adam", "lr": 0.01},
        "batch_size": 256, "steps": 30, "seeds": {"count": 2}}}})
    resolved = resolve_experiment(cfg, "week4")
    run_training(resolved, tmp_path / "trajectory.csv", tmp_path / "runs.csv")
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert runs["device"].str.startswith("cuda (").all()
