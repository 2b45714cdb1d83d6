"""Training-step throughput: the batched trainer against batched autograd and against the naive
loop (one run at a time, autograd through the full utility, the style of the seed notebook).

Throughput = sampled agent-valuations per second (runs × batch × agents per step / seconds per
step); every method draws its own values inside the timed step. For every (runs, batch, N) of the
grid, mechanism and policy, the methods are timed in ``--rounds`` interleaved rounds in one
process (so a slow moment of the machine hits all of them) and summarised by the median;
a speed-up is the median over rounds of the per-round ratio.

* linear policy b = w·v: ``fused closed form`` (the trainer's default path), ``batched
  autograd`` (the same trainer, gradient by back-propagation), ``naive loop``;
* neural policy (one hidden tanh layer of 10, bids v·σ(f)): ``batched autograd`` (its only
  path) and ``naive loop`` (one ``torch.nn`` network per agent and run).

    python benchmarks/throughput.py [--quick] [--device cpu|cuda|auto] [--threads 1]

writes ``benchmarks/out/throughput_<device>.csv`` (every round), ``ratios_<device>.csv`` (the
summary) and ``throughput_<device>.png``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from diffauction.game.mechanisms import make_mechanism
from diffauction.learning.trainer import RunBatch, device_label, resolve_device, train

OUT = Path(__file__).resolve().parent / "out"
# (runs, batch, agents): the week-4 size, N = 10, many small runs, and a mid-sized sweep
GRID = [(8, 8192, 2), (8, 8192, 10), (256, 1024, 2), (64, 4096, 5)]
MECHANISMS = ["first_price", "second_price"]
HIDDEN = 10
MLP = {"name": "mlp", "hidden": [HIDDEN], "activation": "tanh", "pretrain": "none"}
FUSED, BATCHED_AUTOGRAD, NAIVE = "fused closed form", "batched autograd", "naive loop"
BETA, LR, W0 = 50.0, 1e-3, 0.9


def setup_for(runs, batch, agents, mechanism, policy, gradient, steps, device) -> RunBatch:
    return RunBatch(
        n_agents=agents, seeds=list(range(runs)), beta_start=[BETA] * runs,
        beta_end=[BETA] * runs, lr_start=[LR] * runs, lr_end=[LR] * runs, w0=[W0] * runs,
        batch_size=batch, steps=steps, mechanism=mechanism, gradient=gradient,
        policy=MLP if policy == "mlp" else {"name": "linear"},
        record_every=steps, device=device.type)


def batched(runs, batch, agents, mechanism, policy, gradient, device):
    """A function timing ``steps`` steps of the package trainer (seconds per step)."""

    def run(steps: int) -> float:
        setup = setup_for(runs, batch, agents, mechanism, policy, gradient, steps, device)
        start = time.perf_counter()
        train(setup)  # returns CPU tensors: the device is synchronised
        return (time.perf_counter() - start) / steps

    return run


class NaiveRun:
    """One run of the seed-notebook style: its own parameters, optimiser and generator; each step
    draws [batch, agents] values, computes every agent's smoothed utility with the opponents'
    bids detached, and back-propagates the sum (the per-agent gradient)."""

    def __init__(self, seed, batch, agents, mechanism, policy, device):
        self.batch, self.agents, self.device = batch, agents, device
        self.mechanism = make_mechanism(mechanism)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        torch.manual_seed(seed)
        if policy == "mlp":
            self.nets = torch.nn.ModuleList(
                torch.nn.Sequential(torch.nn.Linear(1, HIDDEN), torch.nn.Tanh(),
                                    torch.nn.Linear(HIDDEN, 1))
                for _ in range(agents)).to(device)
            parameters = list(self.nets.parameters())
        else:
            self.nets = None
            self.w = torch.nn.Parameter(torch.full((agents,), W0, device=device))
            parameters = [self.w]
        self.optimizer = torch.optim.Adam(parameters, lr=LR)

    def bids(self, values: torch.Tensor) -> torch.Tensor:
        if self.nets is None:
            return self.w * values
        columns = [values[:, i:i + 1] * torch.sigmoid(net(2.0 * values[:, i:i + 1] - 1.0))
                   for i, net in enumerate(self.nets)]
        return torch.cat(columns, dim=1)

    def step(self) -> None:
        values = torch.rand((self.batch, self.agents), generator=self.generator,
                            device=self.device)
        utility = self.mechanism.smoothed_utility(values[None], self.bids(values)[None], BETA)
        loss = -utility.mean(dim=(0, 1)).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def naive(runs, batch, agents, mechanism, policy, device):
    """A function timing ``steps`` steps of the naive loop over all runs (seconds per step)."""
    loop = [NaiveRun(seed, batch, agents, mechanism, policy, device) for seed in range(runs)]

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            for one in loop:
                one.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / steps

    return run


def methods_for(runs, batch, agents, mechanism, policy, device) -> dict:
    out = {}
    if policy == "linear":
        out[FUSED] = batched(runs, batch, agents, mechanism, policy, "analytic", device)
    out[BATCHED_AUTOGRAD] = batched(runs, batch, agents, mechanism, policy, "autograd", device)
    out[NAIVE] = naive(runs, batch, agents, mechanism, policy, device)
    return out


def steps_for(method: str, policy: str, base: int) -> int:
    """Steps per timing: fewer for the slow methods (every timing lasts ≳ 0.1 s on a CPU)."""
    if method == NAIVE:
        return max(base // 10, 3)
    return max(base // 5, 4) if policy == "mlp" else base


def measure(rounds: int, base_steps: int, device, threads: int) -> pd.DataFrame:
    rows = []
    for runs, batch, agents in GRID:
        for mechanism in MECHANISMS:
            for policy in ["linear", "mlp"]:
                methods = methods_for(runs, batch, agents, mechanism, policy, device)
                for run in methods.values():
                    run(2)  # warm-up: allocator, kernels, caches
                for r in range(rounds):
                    for method, run in methods.items():
                        seconds = run(steps_for(method, policy, base_steps))
                        rows.append({
                            "runs": runs, "batch": batch, "n_agents": agents,
                            "mechanism": mechanism, "policy": policy, "method": method,
                            "round": r, "seconds_per_step": seconds,
                            "valuations_per_second": runs * batch * agents / seconds,
                            "device": device_label(device), "threads": threads,
                            "torch": torch.__version__, "machine": platform.machine(),
                        })
                summary = ratios(pd.DataFrame(rows[-rounds * len(methods):]))
                print(summary.drop(columns=["device", "threads"]).to_string(index=False),
                      flush=True)
    return pd.DataFrame(rows)


def ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Median throughput per method and the median over rounds of the per-round speed-ups."""
    keys = ["runs", "batch", "n_agents", "mechanism", "policy"]
    out = []
    for key, group in frame.groupby(keys, sort=False):
        wide = group.pivot(index="round", columns="method", values="valuations_per_second")
        row = dict(zip(keys, key, strict=True))
        row["device"], row["threads"] = group["device"].iloc[0], group["threads"].iloc[0]
        for method in [FUSED, BATCHED_AUTOGRAD, NAIVE]:
            if method in wide:
                row[f"{method} (M val/s)"] = statistics.median(wide[method]) / 1e6
        best = FUSED if FUSED in wide else BATCHED_AUTOGRAD
        if best == FUSED:
            row["× batched autograd"] = statistics.median(wide[FUSED] / wide[BATCHED_AUTOGRAD])
        row["× naive loop"] = statistics.median(wide[best] / wide[NAIVE])
        out.append(row)
    return pd.DataFrame(out)


def plot(frame: pd.DataFrame, path: Path) -> None:
    import seaborn as sns

    from diffauction.figures import style as plotstyle

    plotstyle.apply()
    frame = frame.assign(size=[f"{r}×{b}\nN={n}" for r, b, n in zip(
        frame["runs"], frame["batch"], frame["n_agents"], strict=True)])
    grid = sns.catplot(frame, kind="bar", x="size", y="valuations_per_second", hue="method",
                       row="policy", col="mechanism", estimator="median", errorbar=None,
                       height=2.2, aspect=1.6)
    grid.set(yscale="log")
    grid.set_axis_labels("runs × batch, agents N", "valuations / s")
    grid.figure.suptitle(f"Training-step throughput, {frame['device'].iloc[0]}, "
                         f"{frame['threads'].iloc[0]} torch thread(s)", y=1.02, fontsize=9)
    plotstyle.save(grid.figure, path)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of few steps (a smoke run)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.threads < 1 or args.rounds < 1:
        parser.error("--threads and --rounds must be at least 1")
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rounds, steps = (2, 20) if args.quick else (args.rounds, 100)
    frame = measure(rounds, steps, device, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = ratios(frame)
    frame.to_csv(args.out / f"throughput_{device.type}.csv", index=False)
    summary.to_csv(args.out / f"ratios_{device.type}.csv", index=False, float_format="%.4g")
    plot(frame, args.out / f"throughput_{device.type}.png")
    return summary


if __name__ == "__main__":
    main()
