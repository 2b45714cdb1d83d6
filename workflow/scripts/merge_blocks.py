"""Concatenate an experiment's training blocks (each already in run order)."""
import sys

from diffauction.io import concatenate_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
concatenate_csv(snakemake.input.trajectory, snakemake.output.trajectory)
concatenate_csv(snakemake.input.summary, snakemake.output.summary)
