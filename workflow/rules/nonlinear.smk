# Non-linear and asymmetric strategies (issue 4): the experiments nl_* train and are analysed by
# the generic train/analyze rules (bid functions on a value grid, per-agent metrics against the
# setting's BNE); these rules summarise them for the report section of that name.
NONLINEAR = ["nl_asymmetric", "nl_crra", "nl_beta", "nl_allpay"]
_missing_nl = [name for name in NONLINEAR if name not in EXPERIMENTS]
if _missing_nl:
    sys.exit(
        "diffauction: invalid configuration:\n  experiments: the report section 'Non-linear and "
        f"asymmetric strategies' needs the experiments {NONLINEAR}; missing: {_missing_nl}"
    )
# the L2 target of the issue: every agent of every setting within 0.01 of its BNE
NONLINEAR_TOLERANCE = 0.01


def nonlinear_settings(wildcards):
    return {name: resolve_experiment(config, name) for name in NONLINEAR}


rule nonlinear_tables:
    input:
        metrics=expand("results/{experiment}/metrics.csv", experiment=NONLINEAR),
        runs=expand("results/{experiment}/runs.csv", experiment=NONLINEAR),
        trajectories=expand("results/{experiment}/trajectory.csv", experiment=NONLINEAR),
        code=code("nonlinear_tables.py"),
    output:
        summary=report(
            "results/nonlinear/summary.csv",
            caption="../report/nonlinear_tables.rst",
            category="Non-linear strategies",
            subcategory="Tables",
        ),
        bids="results/nonlinear/bid_functions.csv",
        revenue=report(
            "results/nonlinear/revenue.csv",
            caption="../report/nonlinear_tables.rst",
            category="Non-linear strategies",
            subcategory="Tables",
        ),
        convergence="results/nonlinear/convergence.csv",
    params:
        experiments=NONLINEAR,
        settings=nonlinear_settings,
    log:
        "logs/nonlinear/tables.log",
    benchmark:
        "results/benchmarks/nonlinear/tables.tsv"
    script:
        "../scripts/nonlinear_tables.py"


rule figure_nonlinear_asymmetric:
    input:
        bids="results/nonlinear/bid_functions.csv",
        revenue="results/nonlinear/revenue.csv",
        code=code("figure_nonlinear_asymmetric.py"),
    output:
        pdf="figures/nonlinear_asymmetric.pdf",
        png=report(
            "figures/nonlinear_asymmetric.png",
            caption="../../results/report/captions/nonlinear_asymmetric.rst",
            category="Non-linear strategies",
            subcategory="Figures",
        ),
    log:
        "logs/figures/nonlinear_asymmetric.log",
    benchmark:
        "results/benchmarks/nonlinear/figure_asymmetric.tsv"
    script:
        "../scripts/figure_nonlinear_asymmetric.py"


rule figure_nonlinear_bids:
    input:
        bids="results/nonlinear/bid_functions.csv",
        code=code("figure_nonlinear_bids.py"),
    output:
        pdf="figures/nonlinear_bids.pdf",
        png=report(
            "figures/nonlinear_bids.png",
            caption="../../results/report/captions/nonlinear_bids.rst",
            category="Non-linear strategies",
            subcategory="Figures",
        ),
    log:
        "logs/figures/nonlinear_bids.log",
    benchmark:
        "results/benchmarks/nonlinear/figure_bids.tsv"
    script:
        "../scripts/figure_nonlinear_bids.py"


rule figure_nonlinear_convergence:
    input:
        convergence="results/nonlinear/convergence.csv",
        code=code("figure_nonlinear_convergence.py"),
    output:
        pdf="figures/nonlinear_convergence.pdf",
        png=report(
            "figures/nonlinear_convergence.png",
            caption="../../results/report/captions/nonlinear_convergence.rst",
            category="Non-linear strategies",
            subcategory="Figures",
        ),
    params:
        tolerance=NONLINEAR_TOLERANCE,
    log:
        "logs/figures/nonlinear_convergence.log",
    benchmark:
        "results/benchmarks/nonlinear/figure_convergence.tsv"
    script:
        "../scripts/figure_nonlinear_convergence.py"


rule macros_nonlinear:
    input:
        summary="results/nonlinear/summary.csv",
        revenue="results/nonlinear/revenue.csv",
        code=code("macros_nonlinear.py"),
    output:
        macros="paper/generated/nonlinear.tex",
        table="paper/generated/nonlinear_table.tex",
    params:
        settings=nonlinear_settings,
        tolerance=NONLINEAR_TOLERANCE,
    log:
        "logs/paper/macros_nonlinear.log",
    benchmark:
        "results/benchmarks/nonlinear/macros.tsv"
    script:
        "../scripts/macros_nonlinear.py"
