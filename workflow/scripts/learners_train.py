"""Train one learner variant of the comparison on every (N, mechanism), or of its neural round
on every auction (settings with ``auctions``); writes its trajectory, its final profiles (linear
round: with ε-Nash) and its wall time (a measurement, kept apart from the results).

Outside Snakemake, for debugging: ``python workflow/scripts/learners_train.py VARIANT [OUTDIR]``
trains VARIANT (a key of config.yaml's comparison.learners, or ppo) into OUTDIR (default
/tmp/learners).
"""
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from diffauction.experiments.learners import run_variant
from diffauction.experiments.learners_neural import run_neural_variant
from diffauction.experiments.learners_settings import variant_settings
from diffauction.io import write_csv

if "snakemake" not in globals():  # a stand-in, so the step can be re-run by hand
    from diffauction.experiments.config import load_config

    variant = sys.argv[1]
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/learners")
    snakemake = SimpleNamespace(
        params=SimpleNamespace(
            settings=variant_settings(load_config("config/config.yaml")["comparison"], variant)),
        output=SimpleNamespace(trajectory=out / variant / "trajectory.csv",
                               final=out / variant / "final.csv", wall=out / f"{variant}.wall.csv"),
        log=[out / f"{variant}.log"], threads=1)
    out.mkdir(parents=True, exist_ok=True)

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)
settings = snakemake.params.settings
print(f"training {settings['variant']} ({settings['learner']}): {settings}")
run = run_neural_variant if "auctions" in settings else run_variant
trajectory, final, wall = run(settings)
write_csv(trajectory, snakemake.output.trajectory)
write_csv(final, snakemake.output.final)
write_csv(wall, snakemake.output.wall)
print(wall.to_string(index=False))
