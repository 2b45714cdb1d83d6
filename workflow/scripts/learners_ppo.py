"""PPO's summary (outside rule all): reach-and-stay, final L2 and the ratio against the
comparison's reference learner."""
import sys

import pandas as pd

from diffauction.experiments.learners_tables import ppo_summary
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
reference = summary[summary["variant"] == snakemake.params.reference]
out = ppo_summary(pd.read_csv(snakemake.input.trajectory), pd.read_csv(snakemake.input.final),
                  reference, snakemake.params.tolerance)
write_csv(out, snakemake.output[0])
print(out.to_string(index=False))
