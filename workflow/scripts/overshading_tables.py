"""Summaries of the β sweep, the bias–variance trade-off and the annealing runs."""
import sys

import pandas as pd

from diffauction.experiments.overshading import annealing_summary, sweep_summary
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
write_csv(sweep_summary(pd.read_csv(snakemake.input.sweep)), snakemake.output.sweep)
write_csv(sweep_summary(pd.read_csv(snakemake.input.tradeoff)), snakemake.output.tradeoff)
annealing = pd.concat([pd.read_csv(path) for path in snakemake.input.annealing])
write_csv(annealing_summary(annealing, snakemake.params.tolerance), snakemake.output.annealing)
