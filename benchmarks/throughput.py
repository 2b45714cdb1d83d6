"""Training-step throughput: the batched closed-form trainer against batched autograd and against
the naive loop (one run at a time, autograd through the full utility, as in the seed notebook).

Throughput = sampled agent-valuations per second (runs × batch × agents per step / seconds).
Writes ``benchmarks/out/throughput.csv`` and ``benchmarks/out/throughput.png``.

    python benchmarks/throughput.py [--quick] [--device cpu|cuda|auto] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from diffauction.learners import RunBatch, resolve_device, train
from diffauction.mechanisms import make_mechanism

OUT = Path(__file__).resolve().parent / "out"
# (runs, batch, agents): the week-4 size, N = 10, and many small runs
GRID = [(8, 8192, 2), (8, 8192, 10), (256, 1024, 2), (64, 4096, 5)]


def setup_for(runs, batch, agents, mechanism, gradient, steps, device):
    return RunBatch(
        n_agents=agents, seeds=list(range(runs)), beta_start=[50.0] * runs,
        beta_end=[50.0] * runs, lr_start=[1e-3] * runs, lr_end=[1e-3] * runs, w0=[0.9] * runs,
        batch_size=batch, steps=steps, mechanism=mechanism, gradient=gradient,
        record_every=steps, device=device.type)


def time_batched(runs, batch, agents, mechanism, gradient, steps, device) -> float:
    """Seconds per step of the package trainer (one warm-up call first)."""
    train(setup_for(runs, batch, agents, mechanism, gradient, 3, device))
    start = time.perf_counter()
    train(setup_for(runs, batch, agents, mechanism, gradient, steps, device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def time_naive(runs, batch, agents, mechanism_name, steps, device) -> float:
    """Seconds per step of the seed-notebook style: a Python loop over runs, each with its own
    parameters and optimiser, autograd through every agent's smoothed utility."""
    mechanism = make_mechanism(mechanism_name)
    params = [torch.nn.Parameter(torch.full((agents,), 0.9, device=device)) for _ in range(runs)]
    optimizers = [torch.optim.Adam([p], lr=1e-3) for p in params]
    generators = [torch.Generator(device=device).manual_seed(r) for r in range(runs)]

    def one_step():
        for w, optimizer, generator in zip(params, optimizers, generators, strict=True):
            values = torch.rand((1, batch, agents), generator=generator, device=device)
            bids = w * values
            utility = mechanism.smoothed_utility(values, bids, 50.0)  # opponents detached
            loss = -utility.mean(dim=(0, 1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    one_step()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    steps = 20 if args.quick else 100
    rows = []
    for runs, batch, agents in GRID:
        for mechanism in ["first_price", "second_price"]:
            values_per_step = runs * batch * agents
            timings = {
                "analytic (batched)": time_batched(runs, batch, agents, mechanism, "analytic",
                                                   steps, device),
                "autograd (batched)": time_batched(runs, batch, agents, mechanism, "autograd",
                                                   steps, device),
                "naive loop (autograd)": time_naive(runs, batch, agents, mechanism,
                                                    max(steps // 10, 3), device),
            }
            for method, seconds in timings.items():
                rows.append({
                    "runs": runs, "batch": batch, "n_agents": agents, "mechanism": mechanism,
                    "policy": "linear", "method": method, "seconds_per_step": seconds,
                    "valuations_per_second": values_per_step / seconds,
                    "device": str(device), "threads": args.threads,
                    "torch": torch.__version__, "machine": platform.machine(),
                    "cpu_count": torch.get_num_threads(),
                })
            print(f"{runs:4d}×{batch:5d}×{agents:2d} {mechanism:12s} " + "  ".join(
                f"{m}: {values_per_step / s / 1e6:8.1f} M/s" for m, s in timings.items()),
                flush=True)
    frame = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / f"throughput_{device.type}.csv", index=False)
    ratios(frame).to_csv(args.out / f"ratios_{device.type}.csv", index=False)
    plot(frame, args.out / f"throughput_{device.type}.png")
    print(ratios(frame).to_string(index=False))
    return frame


def ratios(frame: pd.DataFrame) -> pd.DataFrame:
    wide = frame.pivot_table(index=["runs", "batch", "n_agents", "mechanism"], columns="method",
                             values="valuations_per_second").reset_index()
    wide["speedup_vs_autograd"] = wide["analytic (batched)"] / wide["autograd (batched)"]
    wide["speedup_vs_naive"] = wide["analytic (batched)"] / wide["naive loop (autograd)"]
    return wide


def plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    from diffauction import plotstyle

    plotstyle.apply()
    frame = frame.assign(size=[f"{r}×{b}×{n}\n{m.replace('_price', '')}" for r, b, n, m in zip(
        frame["runs"], frame["batch"], frame["n_agents"], frame["mechanism"], strict=True)])
    fig, ax = plt.subplots(figsize=(plotstyle.WIDTH_IN, 3.0))
    sns.barplot(frame, x="size", y="valuations_per_second", hue="method", ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("runs × batch × agents")
    ax.set_ylabel("valuations / s")
    ax.set_title(f"Training-step throughput ({frame['device'].iloc[0]}, "
                 f"{frame['threads'].iloc[0]} thread)")
    ax.legend(fontsize=7)
    plotstyle.save(fig, path)


if __name__ == "__main__":
    main()
