"""Macros and tables of the over-shading section."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.overshading import overshading_macros, overshading_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
tables = {name: pd.read_csv(path) for name, path in snakemake.input.items() if name != "code"}
tolerance = snakemake.params.tolerance
write_text(
    overshading_macros(tables["table"], tables["fit"], tables["sweep"], tables["tradeoff"],
                       tables["annealing"], tolerance, snakemake.params.budget,
                       snakemake.params.settings),
    snakemake.output.macros,
)
generated = overshading_tables(tables["fit"], tables["sweep"], tables["annealing"], tolerance)
for name, text in generated.items():
    write_text(text, snakemake.output[name])
