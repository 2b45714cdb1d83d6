# Mechanism comparison (issue 5): the same learner on first price, second price, all-pay, the
# k-unit pay-as-bid and uniform-price auctions and the LLG auction (VCG, nearest-VCG); one
# training job per mechanism, then convergence/outcome tables, figures and the report's macros.
MECHANISM_SETTINGS = config["mechanism_comparison"]
COMPARED = MECHANISM_SETTINGS["mechanisms"]


wildcard_constraints:
    mechanism="|".join(COMPARED),


rule mechanism_train:
    input:
        code=code("mechanism_train.py"),
    output:
        trajectory="results/mechanisms/{mechanism}/trajectory.csv",
        runs="results/mechanisms/{mechanism}/runs.csv",
    params:
        settings=MECHANISM_SETTINGS,
        threads=config["threads"],
    log:
        "logs/mechanisms/train_{mechanism}.log",
    benchmark:
        "results/benchmarks/mechanisms/train_{mechanism}.tsv"
    threads: config["threads"]
    priority: 10  # long jobs first (rule train)
    script:
        "../scripts/mechanism_train.py"


rule mechanism_gradient_noise:
    input:
        code=code("mechanism_gradient_noise.py"),
    output:
        report(
            "results/mechanisms/gradient_noise.csv",
            caption="../report/mechanisms_tables.rst",
            category="Mechanism comparison",
            subcategory="Tables",
        ),
    params:
        settings=MECHANISM_SETTINGS,
        threads=config["threads"],
    log:
        "logs/mechanisms/gradient_noise.log",
    benchmark:
        "results/benchmarks/mechanisms/gradient_noise.tsv"
    script:
        "../scripts/mechanism_gradient_noise.py"


rule mechanism_analysis:
    input:
        trajectories=expand("results/mechanisms/{mechanism}/trajectory.csv", mechanism=COMPARED),
        runs=expand("results/mechanisms/{mechanism}/runs.csv", mechanism=COMPARED),
        code=code("mechanism_analysis.py"),
    output:
        per_run="results/mechanisms/convergence_runs.csv",
        summary=report(
            "results/mechanisms/convergence_summary.csv",
            caption="../report/mechanisms_tables.rst",
            category="Mechanism comparison",
            subcategory="Tables",
        ),
        outcomes=report(
            "results/mechanisms/outcomes.csv",
            caption="../report/mechanisms_tables.rst",
            category="Mechanism comparison",
            subcategory="Tables",
        ),
        curves="results/mechanisms/l2_curves.csv",
        runs="results/mechanisms/runs.csv",
    params:
        settings=MECHANISM_SETTINGS,
        threads=config["threads"],
    log:
        "logs/mechanisms/analysis.log",
    benchmark:
        "results/benchmarks/mechanisms/analysis.tsv"
    script:
        "../scripts/mechanism_analysis.py"


rule figure_mechanism_convergence:
    input:
        curves="results/mechanisms/l2_curves.csv",
        summary="results/mechanisms/convergence_summary.csv",
        noise="results/mechanisms/gradient_noise.csv",
        code=code("figure_mechanism_convergence.py"),
    output:
        pdf="figures/mechanisms_convergence.pdf",
        png=report(
            "figures/mechanisms_convergence.png",
            caption="../../results/report/captions/mechanisms_convergence.rst",
            category="Mechanism comparison",
            subcategory="Figures",
        ),
    params:
        settings=MECHANISM_SETTINGS,
    log:
        "logs/figures/mechanisms_convergence.log",
    script:
        "../scripts/figure_mechanism_convergence.py"


rule figure_mechanism_bids:
    input:
        runs="results/mechanisms/runs.csv",
        code=code("figure_mechanism_bids.py"),
    output:
        pdf="figures/mechanisms_bids.pdf",
        png=report(
            "figures/mechanisms_bids.png",
            caption="../../results/report/captions/mechanisms_bids.rst",
            category="Mechanism comparison",
            subcategory="Figures",
        ),
    params:
        settings=MECHANISM_SETTINGS,
    log:
        "logs/figures/mechanisms_bids.log",
    script:
        "../scripts/figure_mechanism_bids.py"


rule macros_mechanisms:
    input:
        summary="results/mechanisms/convergence_summary.csv",
        per_run="results/mechanisms/convergence_runs.csv",
        outcomes="results/mechanisms/outcomes.csv",
        noise="results/mechanisms/gradient_noise.csv",
        runs="results/mechanisms/runs.csv",
        code=code("macros_mechanisms.py"),
    output:
        macros="paper/generated/mechanisms.tex",
        convergence="paper/generated/mechanisms_convergence.tex",
        outcomes="paper/generated/mechanisms_outcomes.tex",
        noise="paper/generated/mechanisms_noise.tex",
    params:
        settings=MECHANISM_SETTINGS,
    log:
        "logs/paper/macros_mechanisms.log",
    script:
        "../scripts/macros_mechanisms.py"
