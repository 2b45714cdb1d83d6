# The smoothing bias in every mechanism (issue 17): the linear smoothed fixed points of every
# format and their scaling in 1/β, the smoothed equilibrium bid functions of the non-linear
# settings, the learners' error split into smoothing bias and noise, the report's macros.
SMOOTHING = config["smoothing_theory"]


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
        settings={k: v for k, v in SMOOTHING.items() if k != "functions"},
    threads: 2
    log:
        "logs/theory/smoothing_fixed_points.log",
    benchmark:
        "results/benchmarks/theory/smoothing_fixed_points.tsv"
    script:
        "../scripts/smoothing_fixed_points.py"


SMOOTHING_GENERATED = [
    "paper/generated/smoothing.tex",
    "paper/generated/smoothing_fixed.tex",
    "paper/generated/smoothing_scaling.tex",
]


rule macros_smoothing:
    input:
        table="results/theory/smoothed_fixed_points.csv",
        scaling="results/theory/smoothing_scaling.csv",
        code=code("macros_smoothing.py"),
    output:
        macros="paper/generated/smoothing.tex",
        fixed="paper/generated/smoothing_fixed.tex",
        scaling="paper/generated/smoothing_scaling.tex",
    log:
        "logs/paper/macros_smoothing.log",
    benchmark:
        "results/benchmarks/theory/macros_smoothing.tsv"
    script:
        "../scripts/macros_smoothing.py"
