"""The neural round's figure: L2 to the BNE against sampled valuations, per learner and
auction."""
import sys

import pandas as pd

from diffauction.experiments.learners_settings import auction_labels, learner_labels
from diffauction.figures.learners import neural_figure

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
neural = snakemake.params.neural
neural_figure(pd.read_csv(snakemake.input.band), learner_labels(neural), auction_labels(neural),
              neural["tolerance"], snakemake.output.pdf, snakemake.output.png)
