"""The smoothed game's equilibrium bid functions b̃_β tending to the BNE as β grows."""
import sys

import pandas as pd

from diffauction.figures.smoothing import smoothed_functions

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
smoothed_functions(pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.curves),
                   pd.read_csv(snakemake.input.rates), snakemake.output.pdf,
                   snakemake.output.png)
