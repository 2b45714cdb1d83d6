"""Train one block of an experiment's runs; writes its trajectory and per-run summary."""
import sys

from diffauction.experiments.runs import run_training

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
run_training(
    snakemake.params.experiment,
    snakemake.output.trajectory,
    snakemake.output.summary,
    block=int(snakemake.wildcards.block),
    runs_per_job=snakemake.params.runs_per_job,
)
