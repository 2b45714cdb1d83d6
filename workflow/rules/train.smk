rule train:
    output:
        trajectory="results/{experiment}/trajectory.csv",
        summary="results/{experiment}/runs.csv",
    params:
        experiment=training_settings,
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "results/benchmarks/train/{experiment}.tsv"
    threads: config["threads"]
    script:
        "../scripts/train.py"
