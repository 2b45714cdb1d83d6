"""Macros of the PPO paragraph in "Learners compared": PPO's numbers once the PPO target has run
(results/learners/ppo.csv, passed as text), else ``\\LCPPOAvailable`` = 0 and the paragraph
points to the README."""
import io
import sys

import pandas as pd

from diffauction.io import write_text
from diffauction.report.latex import macro
from diffauction.report.learners import ppo_macros

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
if snakemake.params.ppo:
    text = ppo_macros(pd.read_csv(io.StringIO(snakemake.params.ppo)), snakemake.params.tolerance)
else:
    text = macro("LCPPOAvailable", 0)
write_text(text, snakemake.output[0])
