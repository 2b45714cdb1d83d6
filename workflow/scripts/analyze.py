"""Hard-auction equilibrium quality (L2, utility loss, ε-Nash) of one experiment's runs."""
import sys

import pandas as pd

from diffauction.experiments.runs import analyse_experiment
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
metrics = analyse_experiment(
    snakemake.params.experiment,
    pd.read_csv(snakemake.input.summary),
    pd.read_csv(snakemake.input.trajectory),
)
write_csv(metrics, snakemake.output.metrics)
