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
