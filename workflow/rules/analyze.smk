rule analyze:
    input:
        trajectory="results/{experiment}/trajectory.csv",
        summary="results/{experiment}/runs.csv",
        code=code("analyze.py"),
    output:
        metrics=report(
            "results/{experiment}/metrics.csv",
            caption="../report/metrics.rst",
            category="Metrics",
            subcategory="{experiment}",
        ),
    params:
        experiment=resolved,
    log:
        "logs/analyze/{experiment}.log",
    benchmark:
        "results/benchmarks/analyze/{experiment}.tsv"
    script:
        "../scripts/analyze.py"


rule smoothed_theory:
    input:
        code=code("smoothed_theory.py"),
    output:
        table=report(
            "results/overshading/smoothed_equilibrium.csv",
            caption="../report/smoothed_equilibrium.rst",
            category="Over-shading",
            subcategory="Tables",
        ),
        fit=report(
            "results/overshading/gap_fit.csv",
            caption="../report/summary_tables.rst",
            category="Over-shading",
            subcategory="Tables",
        ),
    params:
        betas=config["experiments"]["overshading"]["beta"],
        n_agents=config["experiments"]["overshading"]["n_agents"],
    log:
        "logs/analyze/smoothed_theory.log",
    benchmark:
        "results/benchmarks/smoothed_theory.tsv"
    script:
        "../scripts/smoothed_theory.py"


rule overshading_tables:
    input:
        sweep="results/overshading/metrics.csv",
        tradeoff="results/tradeoff/metrics.csv",
        annealing=expand("results/{experiment}/metrics.csv", experiment=ANNEALING),
        code=code("overshading_tables.py"),
    output:
        sweep=report(
            "results/overshading/sweep_summary.csv",
            caption="../report/summary_tables.rst",
            category="Over-shading",
            subcategory="Tables",
        ),
        tradeoff=report(
            "results/overshading/tradeoff_summary.csv",
            caption="../report/summary_tables.rst",
            category="Over-shading",
            subcategory="Tables",
        ),
        annealing=report(
            "results/overshading/annealing_summary.csv",
            caption="../report/summary_tables.rst",
            category="Over-shading",
            subcategory="Tables",
        ),
    params:
        tolerance=config["analysis"]["annealing_tolerance"],
    log:
        "logs/analyze/overshading_tables.log",
    benchmark:
        "results/benchmarks/overshading_tables.tsv"
    script:
        "../scripts/overshading_tables.py"
