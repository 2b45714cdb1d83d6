"""Macros and table of the neural round of "Learners compared"."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.learners import neural_macros, neural_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
ratios = pd.read_csv(snakemake.input.ratios)
reach = pd.read_csv(snakemake.input.reach)
neural = snakemake.params.neural
write_text(neural_macros(summary, ratios, reach, neural), snakemake.output.macros)
write_text(neural_table(summary, ratios, neural), snakemake.output.table)
