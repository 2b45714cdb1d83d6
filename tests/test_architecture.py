"""The package's architecture, checked: the layer contract (import-linter, pyproject.toml), no
import cycles, modules and functions of readable size, and literature cited instead of files
outside the repository."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_utils import REPO

PACKAGE = REPO / "src" / "diffauction"
LAYERS = ["game", "equilibria", "learning", "analysis", "experiments", "report", "figures"]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: functions that are flat tables (one macro or one column per line), exempt from the size limit
FLAT_TABLES = {
    ("report/mechanisms.py", "mechanism_macros"),
    ("report/mechanisms.py", "mechanism_tables"),
    ("report/nonlinear.py", "nonlinear_macros"),
    ("report/overshading.py", "overshading_macros"),
    ("report/learners.py", "learners_tables"),
}


def modules() -> list:
    return sorted(PACKAGE.rglob("*.py"))


def test_layer_contract_holds():
    """lint-imports: each layer imports only the layers below it; env uses the game only; no
    cycles between the modules of a layer."""
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([lint_imports, "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "3 kept, 0 broken" in result.stdout, result.stdout


def test_every_layer_is_a_subpackage_listed_in_the_contract():
    contract = (REPO / "pyproject.toml").read_text()
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").exists(), layer
        assert f'"diffauction.{layer}' in contract, layer
    top_level = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top_level == {"env", "io"}, top_level


def test_a_layer_imports_no_layer_above_it():
    """The same rule read from the sources, independent of import-linter's configuration."""
    for path in modules():
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) < 2:
            continue
        own = LAYERS.index(rel.parts[0])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("diffauction."):
                target = node.module.split(".")[1]
                if target in LAYERS and rel.parts[0] not in ("report", "figures"):
                    assert LAYERS.index(target) <= own, (str(rel), node.module)
                if rel.parts[0] in ("report", "figures"):
                    other = {"report": "figures", "figures": "report"}[rel.parts[0]]
                    assert target != other, (str(rel), node.module)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_sizes(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: {len(text.splitlines())}"
    rel = path.relative_to(PACKAGE).as_posix()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            size = node.end_lineno - node.lineno + 1
            if (rel, node.name) not in FLAT_TABLES:
                assert size <= MAX_FUNCTION_LINES, f"{rel}: {node.name} has {size} lines"


def test_literature_is_cited_not_files_outside_the_repository():
    pattern = re.compile(r"ANCHORS|\.\./shared")
    roots = [REPO / "src", REPO / "paper", REPO / "workflow", REPO / "README.md"]
    found = []
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix in {".py", ".tex", ".smk", ".md", ".yaml", ".rst", ".sh", ".bib"}:
                if pattern.search(path.read_text(errors="ignore")):
                    found.append(str(path.relative_to(REPO)))
    assert not found, found


#: modules whose pipeline jobs only read tables and write tables, macros or figures: importing
#: torch (~1.8 s of CPU per job) would be most of such a job's cost on the 2-core build
TORCH_FREE = ["diffauction.io", "diffauction.report.overshading", "diffauction.report.smoothing",
              "diffauction.report.week4", "diffauction.report.provenance",
              "diffauction.report.captions", "diffauction.figures.overshading",
              "diffauction.figures.nonlinear", "diffauction.figures.smoothing",
              "diffauction.figures.week4", "diffauction.figures.workflow_dag",
              "diffauction.experiments.smoothing"]


def test_table_and_figure_modules_start_without_torch():
    """The jobs that only turn tables into tables, macros and figures do not import torch (the
    provenance reads torch's version from its installed metadata), and that version is still the
    one torch itself reports."""
    code = ("import importlib, sys\n"
            f"for name in {TORCH_FREE!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == "[]", f"torch imported by a table/figure module: {out}"
    import torch

    from diffauction.io import provenance
    assert provenance()["torch_version"] == torch.__version__
