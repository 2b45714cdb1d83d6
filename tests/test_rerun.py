"""Rules depend on the package code they run (workflow/rules/common.smk, code()): editing a file
of a layer reruns exactly the jobs whose scripts reach that layer, and what depends on them."""

from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

import pytest
from workflow_utils import REPO, planned_jobs, snakemake, workflow_copy

TINY = REPO / "tests" / "data" / "tiny_config.yaml"
LAYERS = ["game", "equilibria", "learning", "analysis", "experiments", "report", "figures"]
# a layer's files outside its folder (common.smk, _LAYER_EXTRAS)
LAYER_OF_MODULE = {"env": "learning", "schemas": "experiments"}

BELOW_REPORT = {"game", "equilibria", "learning", "analysis", "experiments"}
SIMULATION = {"game", "equilibria", "learning", "experiments"}  # experiments.mechanisms
# rule → the layers its script reaches through its imports: the specification of the code inputs
RULE_LAYERS = {
    "train": BELOW_REPORT,
    "merge_blocks": BELOW_REPORT,
    "analyze": BELOW_REPORT,
    "smoothed_theory": {"equilibria", "experiments"},
    "overshading_tables": {"equilibria", "experiments"},
    "figure_week4": {"equilibria", "figures"},
    "figure_overshading_theory": {"figures"},
    "figure_overshading_scaling": {"figures"},
    "figure_overshading_annealing": {"figures"},
    "mechanism_train": SIMULATION,
    "mechanism_gradient_noise": SIMULATION,
    "mechanism_analysis": SIMULATION,
    "figure_mechanism_convergence": SIMULATION | {"figures"},
    "figure_mechanism_bids": SIMULATION | {"figures"},
    "macros_mechanisms": SIMULATION | {"report"},
    "nonlinear_tables": BELOW_REPORT,
    "figure_nonlinear_asymmetric": {"figures"},
    "figure_nonlinear_bids": {"figures"},
    "figure_nonlinear_convergence": {"figures"},
    "macros_nonlinear": {"game", "equilibria", "report"},
    "learners_train": BELOW_REPORT,
    "learners_aggregate": BELOW_REPORT,
    "learners_ppo": BELOW_REPORT,
    "figure_learners": BELOW_REPORT | {"figures"},
    "macros_learners": BELOW_REPORT | {"report"},
    "macros_learners_ppo": BELOW_REPORT | {"report"},
    "macros_week4": {"equilibria", "report"},
    "macros_overshading": {"equilibria", "report"},
    "provenance": {"equilibria", "report"},
    "paper": set(),
    "all": set(),
}


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


def _imports(path: Path, package: str) -> list[str]:
    """The diffauction modules (and maybe attributes) a file imports, absolute."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            if module.split(".")[0] == "diffauction":
                names += [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "diffauction"]
    return names


def reached_layers(script: Path) -> set[str]:
    """The package layers a script reaches: every module it imports, directly or through the
    modules it imports (parent packages included), mapped to its layer."""
    src = REPO / "src"
    seen, todo = set(), [(script, "")]
    while todo:
        path, module = todo.pop()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in _imports(path, package):
            parts = name.split(".")
            for i in range(2, len(parts) + 1):
                sub = ".".join(parts[:i])
                base = src.joinpath(*parts[:i])
                found = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
                if found.exists() and sub not in seen:
                    seen.add(sub)
                    todo.append((found, sub))
    layers = {LAYER_OF_MODULE.get(m.split(".")[1], m.split(".")[1]) for m in seen}
    return layers & set(LAYERS)


def test_rule_layers_are_what_the_scripts_import():
    """The specification above matches the imports (update both when an import changes)."""
    scripts = rule_scripts()
    assert set(scripts) == set(RULE_LAYERS), set(scripts) ^ set(RULE_LAYERS)
    for rule, script in scripts.items():
        reached = reached_layers(REPO / "workflow" / "scripts" / script) if script else set()
        assert reached == RULE_LAYERS[rule], (rule, script, sorted(reached))


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
    assert set(inputs) == set(RULE_LAYERS), set(inputs) ^ set(RULE_LAYERS)
    for rule, layers in RULE_LAYERS.items():
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
    in_dag = {rule for edge in edges for rule in edge}
    for layer in LAYERS:
        module = sorted((work / "src" / "diffauction" / layer).glob("*.py"))[-1]
        before = module.stat().st_mtime
        later = time.time() + 60
        os.utime(module, (later, later))
        jobs = set(planned_jobs(snakemake(work, "-n", "--cores", "1")))
        os.utime(module, (before, before))
        direct = {rule for rule, layers in RULE_LAYERS.items() if layer in layers} & in_dag
        assert jobs == downstream(direct, edges), (layer, sorted(jobs))
        if layer == "learning":
            assert {"train", "analyze", "figure_week4", "paper"} <= jobs
            assert "smoothed_theory" not in jobs and "figure_overshading_theory" in jobs
        if layer == "figures":
            assert all(r.startswith("figure_") or r in ("paper", "all") for r in jobs), jobs
        if layer == "report":
            assert all(r.startswith("macros_") or r in ("provenance", "paper", "all")
                       for r in jobs), jobs
        if layer == "game":
            assert "smoothed_theory" not in jobs and "train" in jobs
