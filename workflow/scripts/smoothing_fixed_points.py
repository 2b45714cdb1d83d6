"""The linear smoothed fixed points of every format by quadrature, and their scaling in 1/β."""
import sys

from diffauction.experiments.smoothing import fixed_point_table, scaling_table
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
table = fixed_point_table(snakemake.params.settings, workers=snakemake.threads)
write_csv(table, snakemake.output.table)
write_csv(scaling_table(table), snakemake.output.scaling)
