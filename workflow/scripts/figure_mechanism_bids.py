"""Learned against equilibrium bid functions, one panel per mechanism."""
import sys

import pandas as pd

from diffauction.figures.mechanisms import bid_function_figure

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
bid_function_figure(pd.read_csv(snakemake.input.runs), snakemake.params.settings,
                    snakemake.output.pdf, snakemake.output.png)
