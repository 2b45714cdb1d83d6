"""The learners' error against the smoothing bias."""
import sys

import pandas as pd

from diffauction.figures.smoothing import smoothing_decomposition

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
smoothing_decomposition(pd.read_csv(snakemake.input.table), snakemake.output.pdf,
                        snakemake.output.png)
