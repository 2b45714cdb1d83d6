"""The Snakemake DAG: dry runs, config errors at load time, and a tiny end-to-end build."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from workflow_utils import REPO, dry_run_with_config, planned_jobs, snakemake, workflow_copy

TINY = REPO / "tests" / "data" / "tiny_config.yaml"
needs_latex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")


def test_dry_run_of_the_whole_dag(tmp_path):
    work = workflow_copy(tmp_path)
    result = snakemake(work, "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout + result.stderr
    for rule in ["train", "analyze", "smoothed_theory", "figure_week4", "macros_week4", "paper"]:
        assert rule in out
    assert not (work / "results").exists()  # a dry run writes no result


@pytest.mark.parametrize("path, value, key, allowed", [
    (("experiments", "week4", "n_agents"), 1, "experiments.week4.n_agents", "integer >= 2"),
    (("experiments", "week4", "beta"), 0, "experiments.week4.beta", "a number > 0"),
    (("experiments", "week4", "optimizer", "name"), "adamw", "experiments.week4.optimizer.name",
     "adam, sgd"),
    (("device",), "tpu", "device", "cpu, cuda, auto"),
    (("experiments", "week4", "stepz"), 10, "experiments.week4.stepz", "did you mean 'steps'"),
])
def test_bad_config_fails_at_dry_run_naming_the_key(tmp_path, path, value, key, allowed):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    result, out = dry_run_with_config(tmp_path, config)
    assert result.returncode != 0
    assert key in out and allowed in out, out
    assert "Traceback" not in out
    assert "Job stats" not in out  # nothing was scheduled


def test_missing_report_experiment_is_a_config_error(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    del config["experiments"]["tradeoff"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    work = workflow_copy(tmp_path / "work", bad)
    result = snakemake(work, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "missing: ['tradeoff']" in result.stdout + result.stderr


@pytest.mark.slow
@needs_latex
def test_tiny_config_end_to_end_to_pdf(tmp_path):
    work = workflow_copy(tmp_path, TINY)
    result = snakemake(work, "--cores", "2", timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    pdf = work / "paper" / "report.pdf"
    assert pdf.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    for name in ["week4_convergence", "overshading_theory", "overshading_scaling",
                 "overshading_annealing"]:
        assert (work / "figures" / f"{name}.pdf").stat().st_size > 0
        assert (work / "figures" / f"{name}.png").stat().st_size > 0
    runs = pd.read_csv(work / "results" / "week4" / "runs.csv")
    assert {"experiment", "config_hash", "seed", "git_commit", "torch_version"} <= set(runs)
    assert sorted(runs["seed"].unique()) == [0, 1]
    macros = (work / "paper" / "generated" / "week4.tex").read_text()
    assert "\\newcommand{\\WeekFourBeta}{50}" in macros
    table = pd.read_csv(work / "results" / "overshading" / "smoothed_equilibrium.csv")
    assert list(table.columns) == ["n_agents", "beta", "w_smoothed", "w_bne"]
    # nothing is left to do, and regenerating one figure reruns only that figure
    again = snakemake(work, "-n", "--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr
    (work / "figures" / "week4_convergence.pdf").unlink()
    plan = snakemake(work, "-n", "--cores", "1", "figures/week4_convergence.pdf")
    text = plan.stdout + plan.stderr
    assert "figure_week4" in text and "rule train" not in text and "rule analyze" not in text


@pytest.mark.slow
@needs_latex
def test_rerun_precision_after_a_full_build(tmp_path):
    """Changing one experiment reruns only it and what depends on it; changing the figure style
    reruns only the figures and the report."""
    work = workflow_copy(tmp_path, TINY)
    assert snakemake(work, "--cores", "2", timeout=1800).returncode == 0

    config_path = work / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["experiments"]["tradeoff"]["steps"] += 1
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    plan = snakemake(work, "-n", "--cores", "1")
    jobs = planned_jobs(plan)
    text = plan.stdout + plan.stderr
    assert jobs.get("train") == 1 and "experiment=tradeoff" in text, text[-3000:]
    assert jobs.get("analyze") == 1
    for untouched in ["week4", "overshading", "annealing_n2", "annealing_n5"]:
        assert f"experiment={untouched}" not in text
    assert "figure_week4" not in jobs and "macros_week4" not in jobs
    assert "paper" in jobs

    config["experiments"]["tradeoff"]["steps"] -= 1
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    style = work / "src" / "diffauction" / "figures" / "style.py"
    style.write_text(style.read_text() + "\n# a style tweak\n")
    plan = snakemake(work, "-n", "--cores", "1")
    jobs = planned_jobs(plan)
    allowed = ("paper", "report_captions", "all")  # captions are read from the rebuilt PDF
    assert jobs and all(r.startswith("figure_") or r in allowed for r in jobs), jobs
    assert "figure_week4" in jobs and "paper" in jobs
