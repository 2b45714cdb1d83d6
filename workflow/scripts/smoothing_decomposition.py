"""The learners' L2 error split into the smoothing bias and what noise and optimisation leave."""
import sys

import pandas as pd

from diffauction.experiments.smoothing_decomposition import (
    decompose,
    experiment_profiles,
    mechanism_profiles,
)
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
params = snakemake.params
runs = dict(zip(params.function_experiments, snakemake.input.runs, strict=True))
parts = [experiment_profiles(params.sections[name], name, pd.read_csv(path),
                             params.settings[name],
                             pd.read_csv(runs[name]) if name in runs else None)
         for name, path in zip(params.experiments, snakemake.input.metrics, strict=True)]
parts.append(mechanism_profiles(pd.read_csv(snakemake.input.mechanisms), params.mechanisms))
write_csv(decompose(pd.concat(parts, ignore_index=True), params.nodes,
                    pd.read_csv(snakemake.input.functions), pd.read_csv(snakemake.input.curves)),
          snakemake.output[0])
