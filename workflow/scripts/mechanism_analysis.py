"""Convergence steps, L2 curves and revenue/welfare of the learned profiles, all mechanisms."""
import sys

import pandas as pd
import torch

from diffauction.experiments.mechanisms_analysis import convergence_table, l2_curves, outcome_table
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.params.threads)
settings = snakemake.params.settings
trajectory = pd.concat([pd.read_csv(path) for path in snakemake.input.trajectories],
                       ignore_index=True)
runs = pd.concat([pd.read_csv(path) for path in snakemake.input.runs], ignore_index=True)
per_run, summary = convergence_table(trajectory, runs, settings["tolerance"])
write_csv(per_run, snakemake.output.per_run)
write_csv(summary, snakemake.output.summary)
write_csv(l2_curves(trajectory, settings["beta_main"]), snakemake.output.curves)
write_csv(outcome_table(runs, settings), snakemake.output.outcomes)
write_csv(runs, snakemake.output.runs)
