# diffauction: training runs → equilibrium analysis → figures → LaTeX report.
# Run everything with `snakemake --cores all`; see README.md.
from snakemake.utils import min_version

min_version("8.10")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/mechanisms.smk"
include: "workflow/rules/nonlinear.smk"
include: "workflow/rules/learners.smk"
include: "workflow/rules/smoothing.smk"
include: "workflow/rules/paper.smk"


rule all:
    input:
        expand("results/{experiment}/metrics.csv", experiment=EXPERIMENTS),
        "paper/report.pdf",
        "figures/week4_convergence.png",
        "figures/overshading_theory.png",
        "figures/overshading_scaling.png",
        "figures/overshading_annealing.png",
        "figures/mechanisms_convergence.png",
        "figures/mechanisms_bids.png",
        "figures/nonlinear_asymmetric.png",
        "figures/nonlinear_bids.png",
        "figures/nonlinear_convergence.png",
        "figures/learners_comparison.png",
        "figures/workflow_dag.png",
        expand("results/report/captions/{figure}.rst", figure=CAPTIONED_FIGURES),
        "figures/smoothing_decomposition.png",
        "figures/learners_neural.png",
        "results/learners/summary.csv",
