"""Curvature and per-sample noise of the smoothed gradient at every mechanism's target."""
import sys

import torch

from diffauction.experiments.mechanisms_analysis import gradient_diagnostics
from diffauction.io import write_csv

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.params.threads)
write_csv(gradient_diagnostics(snakemake.params.settings), snakemake.output[0])
