"""LaTeX macros with every number of the week-4 section."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.week4 import week4_macros

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
text = week4_macros(
    pd.read_csv(snakemake.input.summary),
    pd.read_csv(snakemake.input.metrics),
    snakemake.params.experiment,
)
write_text(text, snakemake.output[0])
