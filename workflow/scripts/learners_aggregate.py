"""Reach-and-stay per run, the summary per (learner, setting), the ratios against the reference
learner, the figure's bands, and the collected wall times; ``params.setting_keys`` name a
setting (linear round: N and mechanism, with the final profiles' ε-Nash; neural round: the
auction)."""
import sys

import pandas as pd

from diffauction.experiments.learners_tables import (
    band,
    ratio_table,
    reach_table,
    summary_table,
    worst_agent,
)
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
trajectory = pd.concat([pd.read_csv(p) for p in snakemake.input.trajectories], ignore_index=True)
keys = list(snakemake.params.setting_keys)
finals = (pd.concat([pd.read_csv(p) for p in snakemake.input.finals], ignore_index=True)
          if hasattr(snakemake.input, "finals") else None)
evaluations = trajectory.groupby("variant")["evaluations_per_sample"].first().to_dict()
reach = reach_table(trajectory, snakemake.params.tolerance, keys)
summary = summary_table(reach, finals, evaluations, keys)
ratios = ratio_table(summary, snakemake.params.reference, keys)
write_csv(reach, snakemake.output.reach)
write_csv(summary, snakemake.output.summary)
write_csv(ratios, snakemake.output.ratios)
write_csv(band(worst_agent(trajectory, keys=keys), keys), snakemake.output.band)
wall = pd.concat([pd.read_csv(p) for p in snakemake.input.walls], ignore_index=True)
write_csv(wall, snakemake.output.wall)
print(summary.to_string(index=False))
print(ratios.to_string(index=False))
print(wall.to_string(index=False))
