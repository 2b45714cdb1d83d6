"""PPO's summary (the report's run or the larger target): reach-and-stay, initial and final L2,
the ratio against the comparison's reference learner and the reference's L2 after PPO's budget."""
import sys

import pandas as pd

from diffauction.experiments.learners_tables import ppo_summary
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
summary = pd.read_csv(snakemake.input.summary)
reference = summary[summary["variant"] == snakemake.params.reference]
out = ppo_summary(pd.read_csv(snakemake.input.trajectory), pd.read_csv(snakemake.input.final),
                  reference, snakemake.params.tolerance, pd.read_csv(snakemake.input.reference))
write_csv(out, snakemake.output[0])
print(out.to_string(index=False))
