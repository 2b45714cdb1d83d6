"""Rules depend on the package code they run (workflow/rules/common.smk, code()): editing a file
of a layer reruns exactly the jobs whose scripts reach that layer, and what depends on them."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
from workflow_utils import REPO, planned_jobs, snakemake, workflow_copy

sys.path.insert(0, str(REPO / "workflow" / "lib"))
from code_inputs import LAYERS, script_layers  # noqa: E402

TINY = REPO / "tests" / "data" / "tiny_config.yaml"
SRC = REPO / "src"
BELOW_REPORT = {"game", "equilibria", "learning", "analysis", "experiments"}


def rule_scripts() -> dict[str, str | None]:
    """Rule → its script's file name (None for rules without one), read from workflow/rules."""
    scripts = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", path.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            script = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', block)
            scripts[name] = script.group(1) if script else None
    scripts["all"] = None
    return scripts


def rule_layers() -> dict[str, set[str]]:
    """Rule → the layers its script reaches (what its `code` input lists)."""
    return {rule: script_layers(REPO / "workflow" / "scripts" / script, SRC) if script else set()
            for rule, script in rule_scripts().items()}


def test_script_layers_follow_the_imports():
    """The layers a script reaches are its imports' layers and everything those import: training
    reaches every layer below the report, a figure script of tidy tables only the figures, and no
    script's layers break the layer order (a script reaching a layer reaches no layer above it
    unless it imports that one itself)."""
    layers = rule_layers()
    assert layers["train"] == BELOW_REPORT
    assert layers["analyze"] == BELOW_REPORT
    assert layers["figure_overshading_theory"] == {"figures"}
    assert layers["figure_learners"] >= {"figures", "experiments", "learning"}
    assert layers["macros_learners"] >= {"report", "experiments"}
    assert "figures" not in layers["macros_week4"] and "report" not in layers["figure_week4"]
    assert layers["paper"] == set() and layers["all"] == set()
    for rule, reached in layers.items():
        if reached & {"report", "figures"}:
            assert rule.startswith(("macros_", "figure_", "provenance", "report_")), (rule,
                                                                                     reached)


def jobs_inputs(result) -> dict[str, set[str]]:
    """Rule → union of its jobs' input files, from a (not --quiet) dry run."""
    inputs: dict[str, set[str]] = {}
    rule = None
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
            inputs.setdefault(rule, set())
        elif rule and line.startswith("    input: "):
            inputs[rule].update(line.removeprefix("    input: ").split(", "))
    return inputs


def test_code_inputs_are_the_layers_the_rules_reach(tmp_path):
    """Every rule's code inputs are exactly the files of its layers (a module added to a layer
    included), io.py and __init__.py."""
    work = workflow_copy(tmp_path, TINY)
    package = work / "src" / "diffauction"
    (package / "learning" / "added_module.py").write_text('"""a module added to a layer"""\n')
    result = snakemake(work, "-n", "--cores", "1", "--forceall", "all", "results/learners/ppo.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    inputs = jobs_inputs(result)
    expected_layers = rule_layers()
    assert set(inputs) == set(expected_layers), set(inputs) ^ set(expected_layers)
    for rule, layers in expected_layers.items():
        expected = set()
        for layer in layers:
            expected |= {str(p.relative_to(work)) for p in (package / layer).glob("*.py")}
        if "learning" in layers:
            expected.add("src/diffauction/env.py")
        if "experiments" in layers:
            expected.add("src/diffauction/schemas/config.schema.yaml")
        if layers:
            expected |= {"src/diffauction/io.py", "src/diffauction/__init__.py"}
        code = {name for name in inputs[rule] if name.startswith("src/")}
        assert code == expected, (rule, sorted(code ^ expected))
    assert "src/diffauction/learning/added_module.py" in inputs["train"]


def downstream(rules: set[str], edges: set[tuple[str, str]]) -> set[str]:
    """``rules`` and every rule that (transitively) consumes their outputs."""
    found, todo = set(rules), list(rules)
    while todo:
        rule = todo.pop()
        for source, target in edges:
            if source == rule and target not in found:
                found.add(target)
                todo.append(target)
    return found


def rule_graph(work: Path) -> set[tuple[str, str]]:
    """(producer, consumer) pairs of the default target's rule graph."""
    dot = snakemake(work, "--rulegraph", "--cores", "1").stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, flags=re.M))
    return {(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, flags=re.M)}


@pytest.mark.slow
def test_editing_a_layer_reruns_exactly_what_reaches_it(tmp_path):
    """With every output present and up to date, a newer file in each layer plans exactly the
    rules that list the layer and their downstream rules (the default target's DAG)."""
    work = workflow_copy(tmp_path, TINY)
    # every output of the DAG as an empty file, then --touch: all up to date, nothing run
    plan = snakemake(work, "-n", "--cores", "1", "--forceall")
    assert plan.returncode == 0, plan.stderr[-3000:]
    for line in (plan.stdout + plan.stderr).splitlines():
        if line.startswith("    output: "):
            for name in line.removeprefix("    output: ").split(", "):
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).touch()
    assert snakemake(work, "--cores", "1", "--touch").returncode == 0
    assert planned_jobs(snakemake(work, "-n", "--cores", "1")) == {}

    edges = rule_graph(work)
    specification = rule_layers()
    in_dag = {rule for edge in edges for rule in edge}
    for layer in LAYERS:
        module = sorted((work / "src" / "diffauction" / layer).glob("*.py"))[-1]
        before = module.stat().st_mtime
        later = time.time() + 60
        os.utime(module, (later, later))
        jobs = set(planned_jobs(snakemake(work, "-n", "--cores", "1")))
        os.utime(module, (before, before))
        direct = {rule for rule, layers in specification.items() if layer in layers} & in_dag
        assert jobs == downstream(direct, edges), (layer, sorted(jobs))
        if layer == "learning":
            assert {"train", "analyze", "figure_week4", "paper"} <= jobs
            assert "smoothed_theory" not in jobs and "figure_overshading_theory" in jobs
        if layer == "figures":
            assert all(r.startswith("figure_") or r in ("paper", "report_captions", "all")
                       for r in jobs), jobs
        if layer == "report":
            assert all(r.startswith("macros_")
                       or r in ("provenance", "paper", "report_captions", "all")
                       for r in jobs), jobs
        if layer == "game":
            assert "smoothed_theory" not in jobs and "train" in jobs
