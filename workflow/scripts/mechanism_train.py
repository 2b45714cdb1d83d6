"""Train one mechanism of the comparison: every (β, seed) run batched; writes its trajectory
(L2 to target and BNE per recorded step) and per-run summary."""
import sys

import torch

from diffauction.experiments.mechanisms import train_mechanism
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.params.threads)
trajectory, runs = train_mechanism(snakemake.params.settings, snakemake.wildcards.mechanism)
write_csv(trajectory, snakemake.output.trajectory)
write_csv(runs, snakemake.output.runs)
