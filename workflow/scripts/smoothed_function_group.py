"""The smoothed game's equilibrium as a bid function for one game's cases (a group of
:func:`function_groups`): the solver's record and ‖b̃_β − b*‖ per setting and β, and the curves."""
import sys

from diffauction.experiments.smoothed_functions import function_tables
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
params = snakemake.params
table, curves = function_tables(params.solver, params.experiments, params.mechanisms,
                                group=snakemake.wildcards.group)
write_csv(table, snakemake.output.table)
write_csv(curves, snakemake.output.curves)
