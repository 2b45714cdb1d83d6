"""Macros of the PPO paragraph in "Learners compared" (the report's small-budget PPO run)."""
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.learners import ppo_macros

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
write_text(ppo_macros(pd.read_csv(snakemake.input.ppo), snakemake.params.tolerance,
                      snakemake.params.section), snakemake.output[0])
