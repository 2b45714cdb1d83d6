"""Macros and tables of the section "The smoothing bias, in every mechanism"."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.smoothing import smoothing_outputs

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
tables = {name: pd.read_csv(path) for name, path in snakemake.input.items() if name != "code"}
for name, text in smoothing_outputs(tables["table"], tables["scaling"], tables["decomposition"],
                                   tables["functions"], tables["rates"],
                                   snakemake.params.solver).items():
    write_text(text, snakemake.output[name])
