"""Annealed runs: error against sampled valuations, and the strategy movement."""
import sys

import pandas as pd

from diffauction.figures.overshading import overshading_annealing

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
trajectory = pd.concat([pd.read_csv(path) for path in snakemake.input.trajectories])
overshading_annealing(trajectory, snakemake.params.tolerance,
                      snakemake.output.pdf, snakemake.output.png)
