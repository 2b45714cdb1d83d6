"""The report's provenance appendix, from every experiment's per-run summary."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.provenance import provenance_table

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
write_text(provenance_table([pd.read_csv(path) for path in snakemake.input.runs]),
           snakemake.output[0])
