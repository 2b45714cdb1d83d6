"""Learned bid functions over the BNE in the symmetric non-linear settings."""
import sys

import pandas as pd

from diffauction.figures.nonlinear import nonlinear_bids

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
nonlinear_bids(pd.read_csv(snakemake.input.bids), snakemake.output.pdf, snakemake.output.png)
