"""The comparison figure: L2 to the BNE against sampled valuations, per learner and setting."""
import sys

import pandas as pd

from diffauction.figures.learners import figure

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
figure(pd.read_csv(snakemake.input.band), snakemake.params.labels, snakemake.params.tolerance,
       snakemake.output.pdf, snakemake.output.png)
