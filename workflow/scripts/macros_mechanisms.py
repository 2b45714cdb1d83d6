"""Macros and tables of the mechanism-comparison section."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.mechanisms import mechanism_macros, mechanism_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
settings = snakemake.params.settings
tables = {name: pd.read_csv(path) for name, path in snakemake.input.items() if name != "code"}
write_text(mechanism_macros(settings, tables["summary"], tables["per_run"], tables["outcomes"],
                            tables["noise"], tables["runs"]), snakemake.output.macros)
generated = mechanism_tables(settings, tables["summary"], tables["outcomes"], tables["noise"])
for name, text in generated.items():
    write_text(text, snakemake.output[name])
