# Training runs in jobs of `runs_per_job` runs (one job per experiment by default); every run
# draws from its own generator, so the merged tables do not depend on the split.


rule train:
    input:
        code=code("train.py"),
    output:
        trajectory="results/{experiment}/blocks/{block}/trajectory.csv",
        summary="results/{experiment}/blocks/{block}/runs.csv",
    params:
        experiment=training_settings,
        runs_per_job=config["runs_per_job"],
    log:
        "logs/train/{experiment}/{block}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{block}.tsv"
    threads: config["threads"]
    # the long training jobs (all-pay's 2000 steps of 2048 values among them) start before the
    # short analysis and figure jobs, so no long job is left alone on the critical path at the end
    priority: 10
    script:
        "../scripts/train.py"


rule merge_blocks:
    input:
        trajectory=lambda w: expand(
            "results/{{experiment}}/blocks/{block}/trajectory.csv",
            block=training_blocks(w.experiment),
        ),
        summary=lambda w: expand(
            "results/{{experiment}}/blocks/{block}/runs.csv", block=training_blocks(w.experiment)
        ),
        code=code("merge_blocks.py"),
    output:
        trajectory="results/{experiment}/trajectory.csv",
        summary="results/{experiment}/runs.csv",
    log:
        "logs/train/{experiment}/merge.log",
    benchmark:
        "results/benchmarks/merge_blocks/{experiment}.tsv"
    script:
        "../scripts/merge_blocks.py"
