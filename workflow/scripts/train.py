"""Train one experiment: every run batched; writes the trajectory and per-run summary."""
import sys

from diffauction.pipeline import run_training

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
run_training(snakemake.params.experiment, snakemake.output.trajectory, snakemake.output.summary)
