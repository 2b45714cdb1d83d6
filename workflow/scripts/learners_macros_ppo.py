"""Macros of the PPO sentence in "Learners compared" (only once the PPO target has run)."""
import sys

import pandas as pd

from diffauction.comparison import ppo_macros
from diffauction.io import write_text

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
write_text(ppo_macros(pd.read_csv(snakemake.input[0]), snakemake.params.tolerance),
           snakemake.output[0])
