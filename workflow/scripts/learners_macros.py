"""Macros and tables of the section "Learners compared"."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.learners import learners_macros, learners_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
ratios = pd.read_csv(snakemake.input.ratios)
section = snakemake.params.section
write_text(learners_macros(summary, ratios, section), snakemake.output.macros)
write_text(learners_tables(summary, ratios, section), snakemake.output.tables)
