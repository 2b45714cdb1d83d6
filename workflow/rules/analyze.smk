rule analyze:
    input:
        trajectory="results/{experiment}/trajectory.csv",
        summary="results/{experiment}/runs.csv",
    output:
        metrics="results/{experiment}/metrics.csv",
    params:
        experiment=resolved,
    log:
        "logs/analyze/{experiment}.log",
    benchmark:
        "results/benchmarks/analyze/{experiment}.tsv"
    script:
        "../scripts/analyze.py"


rule smoothed_theory:
    output:
        table="results/overshading/smoothed_equilibrium.csv",
        fit="results/overshading/gap_fit.csv",
    params:
        betas=config["experiments"]["overshading"]["beta"],
        n_agents=config["experiments"]["overshading"]["n_agents"],
    log:
        "logs/analyze/smoothed_theory.log",
    script:
        "../scripts/smoothed_theory.py"


rule overshading_tables:
    input:
        sweep="results/overshading/metrics.csv",
        tradeoff="results/tradeoff/metrics.csv",
        annealing=expand("results/{experiment}/metrics.csv", experiment=ANNEALING),
    output:
        sweep="results/overshading/sweep_summary.csv",
        tradeoff="results/overshading/tradeoff_summary.csv",
        annealing="results/overshading/annealing_summary.csv",
    params:
        tolerance=config["analysis"]["annealing_tolerance"],
    log:
        "logs/analyze/overshading_tables.log",
    script:
        "../scripts/overshading_tables.py"
