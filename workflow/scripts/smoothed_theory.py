"""The smoothed game's fixed points w̃(β, N) by quadrature, and the gap-scaling fit."""
import sys

from diffauction.experiments.overshading import theory_tables
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
table, fit = theory_tables(snakemake.params.betas, snakemake.params.n_agents)
write_csv(table, snakemake.output.table)
write_csv(fit, snakemake.output.fit)
