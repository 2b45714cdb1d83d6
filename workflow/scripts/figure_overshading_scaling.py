"""The 1/β scaling law of the over-shading gap and the bias–variance trade-off."""
import sys

import pandas as pd

from diffauction.figures.overshading import overshading_scaling

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
overshading_scaling(
    pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.fit),
    pd.read_csv(snakemake.input.sweep), pd.read_csv(snakemake.input.tradeoff),
    snakemake.output.pdf, snakemake.output.png,
)
