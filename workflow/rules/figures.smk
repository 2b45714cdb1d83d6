# Figure rules list the figures layer (style and plotting code) as an input, code(): a style
# change reruns the figures and the report, nothing else.


rule figure_week4:
    input:
        trajectory="results/week4/trajectory.csv",
        summary="results/week4/runs.csv",
        code=code("figure_week4.py"),
    output:
        pdf="figures/week4_convergence.pdf",
        png=report(
            "figures/week4_convergence.png",
            caption="../../results/report/captions/week4_convergence.rst",
            category="Week 4",
            subcategory="Figures",
        ),
    log:
        "logs/figures/week4_convergence.log",
    benchmark:
        "results/benchmarks/figure_week4.tsv"
    script:
        "../scripts/figure_week4.py"


rule figure_overshading_theory:
    input:
        sweep="results/overshading/sweep_summary.csv",
        table="results/overshading/smoothed_equilibrium.csv",
        code=code("figure_overshading_theory.py"),
    output:
        pdf="figures/overshading_theory.pdf",
        png=report(
            "figures/overshading_theory.png",
            caption="../../results/report/captions/overshading_theory.rst",
            category="Over-shading",
            subcategory="Figures",
        ),
    log:
        "logs/figures/overshading_theory.log",
    benchmark:
        "results/benchmarks/figure_overshading_theory.tsv"
    script:
        "../scripts/figure_overshading_theory.py"


rule figure_overshading_scaling:
    input:
        table="results/overshading/smoothed_equilibrium.csv",
        fit="results/overshading/gap_fit.csv",
        sweep="results/overshading/sweep_summary.csv",
        tradeoff="results/overshading/tradeoff_summary.csv",
        code=code("figure_overshading_scaling.py"),
    output:
        pdf="figures/overshading_scaling.pdf",
        png=report(
            "figures/overshading_scaling.png",
            caption="../../results/report/captions/overshading_scaling.rst",
            category="Over-shading",
            subcategory="Figures",
        ),
    log:
        "logs/figures/overshading_scaling.log",
    benchmark:
        "results/benchmarks/figure_overshading_scaling.tsv"
    script:
        "../scripts/figure_overshading_scaling.py"


rule figure_overshading_annealing:
    input:
        trajectories=expand("results/{experiment}/trajectory.csv", experiment=ANNEALING),
        code=code("figure_overshading_annealing.py"),
    output:
        pdf="figures/overshading_annealing.pdf",
        png=report(
            "figures/overshading_annealing.png",
            caption="../../results/report/captions/overshading_annealing.rst",
            category="Over-shading",
            subcategory="Figures",
        ),
    params:
        tolerance=config["analysis"]["annealing_tolerance"],
    log:
        "logs/figures/overshading_annealing.log",
    benchmark:
        "results/benchmarks/figure_overshading_annealing.tsv"
    script:
        "../scripts/figure_overshading_annealing.py"
