"""L2 distance to the BNE over training in every non-linear setting."""
import sys

import pandas as pd

from diffauction.figures.nonlinear import nonlinear_convergence

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
nonlinear_convergence(pd.read_csv(snakemake.input.convergence), snakemake.params.tolerance,
                      snakemake.output.pdf, snakemake.output.png)
