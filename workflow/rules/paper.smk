import glob
from pathlib import Path

PAPER_SOURCES = ["paper/report.tex"] + sorted(glob.glob("paper/sections/*.tex"))
PAPER_GENERATED = [
    "paper/generated/week4.tex",
    "paper/generated/provenance.tex",
    "paper/generated/overshading.tex",
    "paper/generated/overshading_sweep.tex",
    "paper/generated/overshading_fit.tex",
    "paper/generated/overshading_annealing.tex",
    "paper/generated/mechanisms.tex",
    "paper/generated/mechanisms_convergence.tex",
    "paper/generated/mechanisms_outcomes.tex",
    "paper/generated/mechanisms_noise.tex",
    "paper/generated/nonlinear.tex",
    "paper/generated/nonlinear_table.tex",
] + LEARNERS_GENERATED + SMOOTHING_GENERATED
PAPER_FIGURES = [
    "figures/week4_convergence.pdf",
    "figures/overshading_theory.pdf",
    "figures/overshading_scaling.pdf",
    "figures/overshading_annealing.pdf",
    "figures/mechanisms_convergence.pdf",
    "figures/mechanisms_bids.pdf",
    "figures/nonlinear_asymmetric.pdf",
    "figures/nonlinear_bids.pdf",
    "figures/nonlinear_convergence.pdf",
] + LEARNERS_FIGURES + SMOOTHING_FIGURES + ["figures/workflow_dag.pdf"]
# Figures whose captions the HTML report takes from the PDF (rule report_captions).
CAPTIONED_FIGURES = [Path(name).stem for name in PAPER_FIGURES]


rule macros_week4:
    input:
        summary="results/week4/runs.csv",
        metrics="results/week4/metrics.csv",
        code=code("macros_week4.py"),
    output:
        "paper/generated/week4.tex",
    params:
        experiment=lambda wildcards: resolve_experiment(config, "week4"),
    log:
        "logs/paper/macros_week4.log",
    benchmark:
        "results/benchmarks/macros_week4.tsv"
    script:
        "../scripts/macros_week4.py"


rule macros_overshading:
    input:
        table="results/overshading/smoothed_equilibrium.csv",
        fit="results/overshading/gap_fit.csv",
        sweep="results/overshading/sweep_summary.csv",
        tradeoff="results/overshading/tradeoff_summary.csv",
        annealing="results/overshading/annealing_summary.csv",
        code=code("macros_overshading.py"),
    output:
        macros="paper/generated/overshading.tex",
        sweep="paper/generated/overshading_sweep.tex",
        fit="paper/generated/overshading_fit.tex",
        annealing="paper/generated/overshading_annealing.tex",
    params:
        tolerance=config["analysis"]["annealing_tolerance"],
        budget=config["analysis"]["annealing_budget"],
        settings=lambda wildcards: {
            name: resolve_experiment(config, name)
            for name in ["overshading", "tradeoff", "annealing_n2", "annealing_n5"]
        },
    log:
        "logs/paper/macros_overshading.log",
    benchmark:
        "results/benchmarks/macros_overshading.tsv"
    script:
        "../scripts/macros_overshading.py"


rule provenance:
    input:
        runs=expand("results/{experiment}/runs.csv", experiment=EXPERIMENTS),
        code=code("provenance.py"),
    output:
        "paper/generated/provenance.tex",
    log:
        "logs/paper/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    script:
        "../scripts/provenance.py"


# The appendix's workflow figure: `snakemake --rulegraph` of this workflow (its rules do not
# depend on the results, so the graph is taken with --forceall and without the lock), made
# canonical and drawn by Graphviz in the figures layer.
rule rulegraph:
    input:
        # the rules and their files, not the configuration's values: a config edit changes no
        # rule, so it does not redraw the graph
        workflow=["Snakefile"] + sorted(glob.glob("workflow/rules/*.smk")),
    output:
        "results/workflow/rulegraph.raw.gv",
    log:
        "logs/paper/rulegraph.log",
    benchmark:
        "results/benchmarks/rulegraph.tsv"
    shell:
        "snakemake --rulegraph --forceall --nolock all > {output}.part 2> {log}"
        " && mv {output}.part {output}"


rule figure_rulegraph:
    input:
        raw="results/workflow/rulegraph.raw.gv",
        code=code("figure_rulegraph.py"),
    output:
        dot="results/workflow/rulegraph.dot",
        pdf="figures/workflow_dag.pdf",
        png=report(
            "figures/workflow_dag.png",
            caption="../../results/report/captions/workflow_dag.rst",
            category="Report",
            subcategory="Workflow",
        ),
    log:
        "logs/figures/workflow_dag.log",
    benchmark:
        "results/benchmarks/figure_rulegraph.tsv"
    script:
        "../scripts/figure_rulegraph.py"


rule paper:
    input:
        sources=PAPER_SOURCES,
        bibliography="paper/references.bib",
        generated=PAPER_GENERATED,
        figures=PAPER_FIGURES,
    output:
        pdf=report("paper/report.pdf", caption="../report/paper.rst", category="Report"),
        aux="results/paper/report.aux",
        bbl="results/paper/report.bbl",
    log:
        "logs/paper/latexmk.log",
    benchmark:
        "results/benchmarks/paper.tsv"
    shell:
        "bash workflow/scripts/build_paper.sh paper/report.tex {output.pdf} {output.aux}"
        " {output.bbl} > {log} 2>&1"


# The HTML report's figure captions are the PDF's: read from the LaTeX sources with the
# generated numbers, figure numbers and citations of the finished build.
rule report_captions:
    input:
        sources=PAPER_SOURCES,
        generated=PAPER_GENERATED,
        aux="results/paper/report.aux",
        bbl="results/paper/report.bbl",
        code=code("report_captions.py"),
    output:
        expand("results/report/captions/{figure}.rst", figure=CAPTIONED_FIGURES),
    log:
        "logs/paper/report_captions.log",
    benchmark:
        "results/benchmarks/report_captions.tsv"
    script:
        "../scripts/report_captions.py"
