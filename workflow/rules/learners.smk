# Learners compared (report section "Learners compared", diffauction.experiments.learners): every learner
# variant of config.yaml's `comparison` block trains on each (N, mechanism) in one job, then the
# runs are reduced to samples-to-reach-and-stay, ratios, a figure and the report's numbers. The
# neural round (comparison.neural, diffauction.experiments.learners_neural) does the same with
# one network per bidder on its auctions.
# Wall times are measurements, not results: they go under results/benchmarks/ (left out of the
# byte-for-byte comparison of builds).
#
# PPO (TorchRL, extra [marl]) costs about 10 ms of CPU per auction: the report's run has a small
# budget (comparison.ppo.budget, in `rule all`); the larger one is a separate target:
#     snakemake --cores 2 results/learners/ppo_large.csv
import sys

from diffauction.experiments.learners_neural import NEURAL_KEYS, neural_settings
from diffauction.experiments.learners_settings import (
    KEYS,
    PPO_RUNS,
    learner_labels,
    variant_settings,
)

COMPARISON = config["comparison"]
LEARNER_VARIANTS = list(COMPARISON["learners"])
# The report's section "Learners compared" cites these entries of comparison.learners by name.
REPORT_LEARNERS = ["smoothed_fixed", "smoothed_annealed", "npga", "reinforce", "hedge"]
_missing_learners = [name for name in REPORT_LEARNERS if name not in LEARNER_VARIANTS]
if _missing_learners:
    sys.exit(
        "diffauction: invalid configuration:\n  comparison.learners: the report needs the "
        f"learners {REPORT_LEARNERS}; missing: {_missing_learners}"
    )
LEARNER_LABELS = learner_labels(COMPARISON)
LEARNERS_GENERATED = [
    "paper/generated/learners.tex",
    "paper/generated/learners_tables.tex",
    "paper/generated/learners_ppo.tex",
    "paper/generated/learners_neural.tex",
    "paper/generated/learners_neural_table.tex",
]
LEARNERS_FIGURES = ["figures/learners_comparison.pdf", "figures/learners_neural.pdf"]


rule learners_train:
    input:
        code=code("learners_train.py"),
    output:
        trajectory="results/learners/{variant}/trajectory.csv",
        final="results/learners/{variant}/final.csv",
        wall="results/benchmarks/learners/{variant}.wall.csv",
    params:
        settings=lambda wildcards: variant_settings(COMPARISON, wildcards.variant),
    wildcard_constraints:
        variant="|".join(LEARNER_VARIANTS + list(PPO_RUNS)),
    log:
        "logs/learners/train_{variant}.log",
    benchmark:
        "results/benchmarks/learners/train_{variant}.tsv"
    threads: 1
    priority: 10  # long jobs first (rule train)
    script:
        "../scripts/learners_train.py"


rule learners_aggregate:
    input:
        trajectories=expand(
            "results/learners/{variant}/trajectory.csv", variant=LEARNER_VARIANTS
        ),
        finals=expand("results/learners/{variant}/final.csv", variant=LEARNER_VARIANTS),
        walls=expand("results/benchmarks/learners/{variant}.wall.csv", variant=LEARNER_VARIANTS),
        code=code("learners_aggregate.py"),
    output:
        reach="results/learners/reach.csv",
        summary="results/learners/summary.csv",
        ratios="results/learners/ratios.csv",
        band="results/learners/band.csv",
        wall="results/benchmarks/learners/wall_time.csv",
    params:
        tolerance=COMPARISON["tolerance"],
        reference=COMPARISON["reference"],
        setting_keys=KEYS,
    log:
        "logs/learners/aggregate.log",
    script:
        "../scripts/learners_aggregate.py"


rule figure_learners:
    input:
        band="results/learners/band.csv",
        code=code("learners_figure.py"),
    output:
        pdf="figures/learners_comparison.pdf",
        png=report(
            "figures/learners_comparison.png",
            caption="../../results/report/captions/learners_comparison.rst",
            category="Learners compared",
            subcategory="Figures",
        ),
    params:
        labels=LEARNER_LABELS,
        tolerance=COMPARISON["tolerance"],
    log:
        "logs/figures/learners_comparison.log",
    script:
        "../scripts/learners_figure.py"


rule macros_learners:
    input:
        summary="results/learners/summary.csv",
        ratios="results/learners/ratios.csv",
        code=code("learners_macros.py"),
    output:
        macros="paper/generated/learners.tex",
        tables="paper/generated/learners_tables.tex",
    params:
        section=COMPARISON,
    log:
        "logs/paper/macros_learners.log",
    script:
        "../scripts/learners_macros.py"


rule learners_ppo:
    input:
        trajectory="results/learners/{ppo}/trajectory.csv",
        final="results/learners/{ppo}/final.csv",
        summary="results/learners/summary.csv",
        reference=f"results/learners/{COMPARISON['reference']}/trajectory.csv",
        code=code("learners_ppo.py"),
    output:
        "results/learners/{ppo}.csv",
    params:
        tolerance=COMPARISON["tolerance"],
        reference=COMPARISON["reference"],
    wildcard_constraints:
        ppo="|".join(PPO_RUNS),
    log:
        "logs/learners/{ppo}.log",
    script:
        "../scripts/learners_ppo.py"


rule macros_learners_ppo:
    input:
        ppo="results/learners/ppo.csv",
        code=code("learners_macros_ppo.py"),
    output:
        "paper/generated/learners_ppo.tex",
    params:
        tolerance=COMPARISON["tolerance"],
        section=COMPARISON,
    log:
        "logs/paper/macros_learners_ppo.log",
    script:
        "../scripts/learners_macros_ppo.py"


# --- the neural round (comparison.neural): one network per bidder, first price, two bidders ----

NEURAL = COMPARISON["neural"]
NEURAL_VARIANTS = list(NEURAL["learners"])
# The report's neural paragraph cites these entries of comparison.neural.learners by name.
NEURAL_REPORT_LEARNERS = ["smoothed", "npga", "reinforce"]
_missing_neural = [name for name in NEURAL_REPORT_LEARNERS if name not in NEURAL_VARIANTS]
if _missing_neural:
    sys.exit(
        "diffauction: invalid configuration:\n  comparison.neural.learners: the report needs "
        f"the learners {NEURAL_REPORT_LEARNERS}; missing: {_missing_neural}"
    )


rule learners_neural_train:
    input:
        code=code("learners_train.py"),
    output:
        trajectory="results/learners/neural/{variant}/trajectory.csv",
        final="results/learners/neural/{variant}/final.csv",
        wall="results/benchmarks/learners/neural_{variant}.wall.csv",
    params:
        settings=lambda wildcards: neural_settings(COMPARISON, wildcards.variant),
    wildcard_constraints:
        variant="|".join(NEURAL_VARIANTS),
    log:
        "logs/learners/neural_train_{variant}.log",
    benchmark:
        "results/benchmarks/learners/neural_train_{variant}.tsv"
    threads: 1
    priority: 10  # long jobs first (rule train)
    script:
        "../scripts/learners_train.py"


rule learners_neural_aggregate:
    input:
        trajectories=expand(
            "results/learners/neural/{variant}/trajectory.csv", variant=NEURAL_VARIANTS
        ),
        walls=expand(
            "results/benchmarks/learners/neural_{variant}.wall.csv", variant=NEURAL_VARIANTS
        ),
        code=code("learners_aggregate.py"),
    output:
        reach="results/learners/neural/reach.csv",
        summary="results/learners/neural/summary.csv",
        ratios="results/learners/neural/ratios.csv",
        band="results/learners/neural/band.csv",
        wall="results/benchmarks/learners/neural_wall_time.csv",
    params:
        tolerance=NEURAL["tolerance"],
        reference=NEURAL["reference"],
        setting_keys=NEURAL_KEYS,
    log:
        "logs/learners/neural_aggregate.log",
    script:
        "../scripts/learners_aggregate.py"


rule figure_learners_neural:
    input:
        band="results/learners/neural/band.csv",
        code=code("learners_neural_figure.py"),
    output:
        pdf="figures/learners_neural.pdf",
        png=report(
            "figures/learners_neural.png",
            caption="../../results/report/captions/learners_neural.rst",
            category="Learners compared",
            subcategory="Figures",
        ),
    params:
        neural=NEURAL,
    log:
        "logs/figures/learners_neural.log",
    script:
        "../scripts/learners_neural_figure.py"


rule macros_learners_neural:
    input:
        summary="results/learners/neural/summary.csv",
        ratios="results/learners/neural/ratios.csv",
        reach="results/learners/neural/reach.csv",
        code=code("learners_neural_macros.py"),
    output:
        macros="paper/generated/learners_neural.tex",
        table="paper/generated/learners_neural_table.tex",
    params:
        neural=NEURAL,
    log:
        "logs/paper/macros_learners_neural.log",
    script:
        "../scripts/learners_neural_macros.py"
