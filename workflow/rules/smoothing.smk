# The smoothing bias in every mechanism (issue 17): the linear smoothed fixed points of every
# format and their scaling in 1/β, the learners' error split into smoothing bias and noise, the
# report's macros and figure.
SMOOTHING = config["smoothing_theory"]

from diffauction.experiments.smoothed_functions import function_cases, function_groups  # noqa: E402


rule smoothing_fixed_points:
    input:
        code=code("smoothing_fixed_points.py"),
    output:
        table=report(
            "results/theory/smoothed_fixed_points.csv",
            caption="../report/smoothing_tables.rst",
            category="Smoothing bias",
            subcategory="Tables",
        ),
        scaling=report(
            "results/theory/smoothing_scaling.csv",
            caption="../report/smoothing_tables.rst",
            category="Smoothing bias",
            subcategory="Tables",
        ),
    params:
        settings=SMOOTHING,
    threads: 2
    # a two-core job waits until both cores are free: at the default priority it ran last, alone
    # on the build's critical path; with the build's highest priority it runs first
    priority: 50
    log:
        "logs/theory/smoothing_fixed_points.log",
    benchmark:
        "results/benchmarks/theory/smoothing_fixed_points.tsv"
    script:
        "../scripts/smoothing_fixed_points.py"


# the experiments whose learned profiles the decomposition reads, by report section
DECOMPOSED = {name: "overshading" for name in ["overshading", "tradeoff"] + ANNEALING}
DECOMPOSED.update({name: "nonlinear" for name in NONLINEAR})


def decomposed_settings(wildcards):
    """The resolved settings of the decomposed experiments (rule params)."""
    return {name: resolve_experiment(config, name) for name in DECOMPOSED}


# one job per game of the bid-function cases (its settings share the solutions): Plum's ladder to
# its networks' β runs beside the other games
FUNCTION_GROUPS = function_groups(SMOOTHING["function_solver"], decomposed_settings(None),
                                  MECHANISM_SETTINGS)


rule smoothed_function_group:
    input:
        code=code("smoothed_function_group.py"),
    output:
        table="results/theory/smoothed_functions/{group}/table.csv",
        curves="results/theory/smoothed_functions/{group}/curves.csv",
    params:
        solver=SMOOTHING["function_solver"],
        experiments=decomposed_settings,
        mechanisms=MECHANISM_SETTINGS,
    wildcard_constraints:
        group="|".join(FUNCTION_GROUPS),
    # the longest jobs (Plum's ladder to β = 2000 about 5 minutes, all-pay with N = 3 about 2):
    # they start before the training jobs (priority 10), so Plum's is not left to run alone last
    priority: 20
    log:
        "logs/theory/smoothed_functions/{group}.log",
    benchmark:
        "results/benchmarks/theory/smoothed_functions/{group}.tsv"
    script:
        "../scripts/smoothed_function_group.py"


rule smoothed_functions:
    input:
        code=code("smoothed_functions.py"),
        tables=expand("results/theory/smoothed_functions/{group}/table.csv",
                      group=FUNCTION_GROUPS),
        curves=expand("results/theory/smoothed_functions/{group}/curves.csv",
                      group=FUNCTION_GROUPS),
    output:
        table=report(
            "results/theory/smoothed_functions.csv",
            caption="../report/smoothing_tables.rst",
            category="Smoothing bias",
            subcategory="Tables",
        ),
        rates="results/theory/smoothed_function_rates.csv",
        curves="results/theory/smoothed_function_curves.csv",
    params:
        solver=SMOOTHING["function_solver"],
        settings=[case["setting"] for case in function_cases(
            SMOOTHING["function_solver"], decomposed_settings(None), MECHANISM_SETTINGS)],
    log:
        "logs/theory/smoothed_functions.log",
    benchmark:
        "results/benchmarks/theory/smoothed_functions.tsv"
    script:
        "../scripts/smoothed_functions.py"


rule smoothing_decomposition:
    input:
        metrics=expand("results/{experiment}/metrics.csv", experiment=list(DECOMPOSED)),
        runs=expand("results/{experiment}/runs.csv", experiment=NONLINEAR),
        mechanisms="results/mechanisms/runs.csv",
        functions="results/theory/smoothed_functions.csv",
        curves="results/theory/smoothed_function_curves.csv",
        code=code("smoothing_decomposition.py"),
    output:
        report(
            "results/theory/smoothing_decomposition.csv",
            caption="../report/smoothing_tables.rst",
            category="Smoothing bias",
            subcategory="Tables",
        ),
    params:
        experiments=list(DECOMPOSED),
        function_experiments=NONLINEAR,
        sections=DECOMPOSED,
        settings=decomposed_settings,
        mechanisms=MECHANISM_SETTINGS,
        nodes=SMOOTHING["nodes"],
    log:
        "logs/theory/smoothing_decomposition.log",
    benchmark:
        "results/benchmarks/theory/smoothing_decomposition.tsv"
    script:
        "../scripts/smoothing_decomposition.py"


rule figure_smoothing_decomposition:
    input:
        table="results/theory/smoothing_decomposition.csv",
        code=code("figure_smoothing_decomposition.py"),
    output:
        pdf="figures/smoothing_decomposition.pdf",
        png=report(
            "figures/smoothing_decomposition.png",
            caption="../../results/report/captions/smoothing_decomposition.rst",
            category="Smoothing bias",
            subcategory="Figures",
        ),
    log:
        "logs/figures/smoothing_decomposition.log",
    benchmark:
        "results/benchmarks/theory/figure_smoothing_decomposition.tsv"
    script:
        "../scripts/figure_smoothing_decomposition.py"


rule figure_smoothed_functions:
    input:
        table="results/theory/smoothed_functions.csv",
        rates="results/theory/smoothed_function_rates.csv",
        curves="results/theory/smoothed_function_curves.csv",
        code=code("figure_smoothed_functions.py"),
    output:
        pdf="figures/smoothed_functions.pdf",
        png=report(
            "figures/smoothed_functions.png",
            caption="../../results/report/captions/smoothed_functions.rst",
            category="Smoothing bias",
            subcategory="Figures",
        ),
    log:
        "logs/figures/smoothed_functions.log",
    benchmark:
        "results/benchmarks/theory/figure_smoothed_functions.tsv"
    script:
        "../scripts/figure_smoothed_functions.py"


SMOOTHING_GENERATED = [
    "paper/generated/smoothing.tex",
    "paper/generated/smoothing_fixed.tex",
    "paper/generated/smoothing_scaling.tex",
    "paper/generated/smoothing_decomposition.tex",
    "paper/generated/smoothing_functions.tex",
]
SMOOTHING_FIGURES = ["figures/smoothing_decomposition.pdf", "figures/smoothed_functions.pdf"]


rule macros_smoothing:
    input:
        table="results/theory/smoothed_fixed_points.csv",
        scaling="results/theory/smoothing_scaling.csv",
        decomposition="results/theory/smoothing_decomposition.csv",
        functions="results/theory/smoothed_functions.csv",
        rates="results/theory/smoothed_function_rates.csv",
        code=code("macros_smoothing.py"),
    output:
        macros="paper/generated/smoothing.tex",
        fixed="paper/generated/smoothing_fixed.tex",
        scaling="paper/generated/smoothing_scaling.tex",
        decomposition="paper/generated/smoothing_decomposition.tex",
        functions="paper/generated/smoothing_functions.tex",
    params:
        solver=SMOOTHING["function_solver"],
    log:
        "logs/paper/macros_smoothing.log",
    benchmark:
        "results/benchmarks/theory/macros_smoothing.tsv"
    script:
        "../scripts/macros_smoothing.py"
