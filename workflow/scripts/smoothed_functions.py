"""The smoothed game's equilibrium as a bid function: the games' tables and curves as one, and
the fitted rate of b̃_β → b*."""
import sys

import pandas as pd

from diffauction.experiments.smoothed_functions import merge_function_tables, rate_table
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
params = snakemake.params
table, curves = merge_function_tables([pd.read_csv(p) for p in snakemake.input.tables],
                                      [pd.read_csv(p) for p in snakemake.input.curves],
                                      params.settings)
write_csv(table, snakemake.output.table)
write_csv(rate_table(table, params.solver["rate_beta_min"]), snakemake.output.rates)
write_csv(curves, snakemake.output.curves)
