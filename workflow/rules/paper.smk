import glob

PAPER_SOURCES = ["paper/report.tex"] + sorted(glob.glob("paper/sections/*.tex"))
PAPER_GENERATED = ["paper/generated/week4.tex"]
PAPER_FIGURES = ["figures/week4_convergence.pdf"]


rule macros_week4:
    input:
        summary="results/week4/runs.csv",
        metrics="results/week4/metrics.csv",
    output:
        "paper/generated/week4.tex",
    params:
        experiment=lambda wildcards: resolve_experiment(config, "week4"),
    log:
        "logs/paper/macros_week4.log",
    script:
        "../scripts/macros_week4.py"


rule paper:
    input:
        sources=PAPER_SOURCES,
        generated=PAPER_GENERATED,
        figures=PAPER_FIGURES,
    output:
        "paper/report.pdf",
    log:
        "logs/paper/latexmk.log",
    shell:
        "bash workflow/scripts/build_paper.sh paper/report.tex {output} > {log} 2>&1"
