"""Learned slopes against the smoothed equilibrium w̃(β, N)."""
import sys

import pandas as pd

from diffauction.figures.overshading import overshading_theory

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
overshading_theory(pd.read_csv(snakemake.input.sweep), pd.read_csv(snakemake.input.table),
                   snakemake.output.pdf, snakemake.output.png)
