"""Wall time of whole training jobs (the pipeline's own ``run_training``) on a device.

    python benchmarks/experiment_times.py --device auto week4 annealing_n5 [--config PATH]

For each named experiment of the config (default ``config/config.yaml``): its runs, valuations
drawn, and the seconds of one ``run_training`` call with ``device`` overridden; appends to
``benchmarks/out/experiment_times.csv``. Tables go to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from diffauction.experiments.config import count_runs, load_config, resolve_experiment
from diffauction.experiments.runs import run_training
from diffauction.learning.trainer import device_label, resolve_device

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    unknown = sorted(set(args.experiments) - set(cfg["experiments"]))
    if unknown:
        parser.error(f"unknown experiments {unknown}; allowed: {sorted(cfg['experiments'])}")
    cfg["device"] = args.device
    device = device_label(resolve_device(args.device))
    rows = []
    for name in args.experiments:
        resolved = resolve_experiment(cfg, name)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_training(resolved, Path(tmp) / "trajectory.csv", Path(tmp) / "runs.csv")
            seconds = time.perf_counter() - start
            summary = pd.read_csv(Path(tmp) / "runs.csv")
        samples = int(summary.drop_duplicates("run")["samples_per_run"].sum()) if \
            "samples_per_run" in summary else None
        rows.append({"experiment": name, "device": device, "threads": torch.get_num_threads(),
                     "runs": count_runs(resolved), "valuations": samples, "seconds": seconds})
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "experiment_times.csv"
    frame.to_csv(target, mode="a", header=not target.exists(), index=False)
    return frame


if __name__ == "__main__":
    main()
