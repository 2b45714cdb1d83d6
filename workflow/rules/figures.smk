# Figure rules list the shared style and the plotting code as inputs: a style change
# reruns the figures and the report, nothing else.
PLOT_CODE = ["src/diffauction/plotstyle.py", "src/diffauction/plots.py"]


rule figure_week4:
    input:
        trajectory="results/week4/trajectory.csv",
        summary="results/week4/runs.csv",
        code=PLOT_CODE,
    output:
        pdf="figures/week4_convergence.pdf",
        png="figures/week4_convergence.png",
    log:
        "logs/figures/week4_convergence.log",
    script:
        "../scripts/figure_week4.py"
