"""Reach-and-stay per run, the summary per (learner, N, mechanism), the ratios against the
reference learner, the figure's bands, and the collected wall times."""
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
finals = pd.concat([pd.read_csv(p) for p in snakemake.input.finals], ignore_index=True)
evaluations = trajectory.groupby("variant")["evaluations_per_sample"].first().to_dict()
reach = reach_table(trajectory, snakemake.params.tolerance)
summary = summary_table(reach, finals, evaluations)
ratios = ratio_table(summary, snakemake.params.reference)
write_csv(reach, snakemake.output.reach)
write_csv(summary, snakemake.output.summary)
write_csv(ratios, snakemake.output.ratios)
write_csv(band(worst_agent(trajectory)), snakemake.output.band)
wall = pd.concat([pd.read_csv(p) for p in snakemake.input.walls], ignore_index=True)
write_csv(wall, snakemake.output.wall)
print(summary.to_string(index=False))
print(ratios.to_string(index=False))
print(wall.to_string(index=False))
