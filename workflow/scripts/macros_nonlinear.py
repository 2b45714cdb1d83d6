"""Macros and the settings table of the non-linear section."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.nonlinear import nonlinear_macros, nonlinear_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
revenue = pd.read_csv(snakemake.input.revenue)
tolerance = snakemake.params.tolerance
write_text(nonlinear_macros(summary, revenue, snakemake.params.settings, tolerance),
           snakemake.output.macros)
write_text(nonlinear_table(summary, tolerance), snakemake.output.table)
