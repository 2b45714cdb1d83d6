"""L2 against steps per mechanism, convergence step against β, gradient noise over curvature."""
import sys

import pandas as pd

from diffauction.figures.mechanisms import convergence_figure

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
settings = snakemake.params.settings
convergence_figure(pd.read_csv(snakemake.input.curves), pd.read_csv(snakemake.input.summary),
                   pd.read_csv(snakemake.input.noise), settings["tolerance"], settings["steps"],
                   snakemake.output.pdf, snakemake.output.png)
