"""The smoothed game's equilibrium as a bid function: the solver's record and ‖b̃_β − b*‖ per
setting and β, the fitted rate of b̃_β → b*, and the curves b̃_β."""
import sys

from diffauction.experiments.smoothed_functions import function_tables, rate_table
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
params = snakemake.params
table, curves = function_tables(params.solver, params.experiments, params.mechanisms)
write_csv(table, snakemake.output.table)
write_csv(rate_table(table, params.solver["rate_beta_min"]), snakemake.output.rates)
write_csv(curves, snakemake.output.curves)
