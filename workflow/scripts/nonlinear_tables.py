"""Summaries of the non-linear settings: per-setting metrics, bid functions, revenue, L2 curves."""
import sys

import pandas as pd

from diffauction.experiments.nonlinear_tables import (
    bid_function_table,
    convergence_table,
    revenue_table,
    settings_summary,
)
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
names, settings = snakemake.params.experiments, snakemake.params.settings


def read(paths):
    return {name: pd.read_csv(path) for name, path in zip(names, paths, strict=True)}


metrics = read(snakemake.input.metrics)
write_csv(settings_summary(metrics, settings), snakemake.output.summary)
write_csv(bid_function_table(read(snakemake.input.runs), settings), snakemake.output.bids)
write_csv(revenue_table(metrics["nl_asymmetric"], settings["nl_asymmetric"]),
          snakemake.output.revenue)
write_csv(convergence_table(read(snakemake.input.trajectories), settings),
          snakemake.output.convergence)
