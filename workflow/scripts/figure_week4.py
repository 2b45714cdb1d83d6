"""The week-4 figure: convergence of w_i and the learned bid functions."""
import sys

import pandas as pd

from diffauction.equilibria.smoothed import smoothed_symmetric_equilibrium
from diffauction.figures.week4 import week4_convergence

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
w_smoothed = smoothed_symmetric_equilibrium(
    float(summary["beta_start"].iloc[0]), int(summary["n_agents"].iloc[0])
)
week4_convergence(
    pd.read_csv(snakemake.input.trajectory), summary, w_smoothed,
    snakemake.output.pdf, snakemake.output.png,
)
