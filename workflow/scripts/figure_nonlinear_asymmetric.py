"""Plum's asymmetric first price: both bidders' learned bids over the BNE; revenue comparison."""
import sys

import pandas as pd

from diffauction.figures.nonlinear import nonlinear_asymmetric

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
nonlinear_asymmetric(pd.read_csv(snakemake.input.bids), pd.read_csv(snakemake.input.revenue),
                     snakemake.output.pdf, snakemake.output.png)
