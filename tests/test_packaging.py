"""environment.yml and pyproject.toml name the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml
from workflow_utils import REPO

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name → conda-forge name where they differ


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_names = {requirement_name(s) for s in project["dependencies"]}
    pip_names |= {requirement_name(s) for s in project["optional-dependencies"]["test"]}
    wanted = {CONDA_NAMES.get(name, name) for name in pip_names}
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {requirement_name(s) for s in environment["dependencies"] if isinstance(s, str)}
    conda -= {"python", "pip"}
    assert conda == wanted, (sorted(conda - wanted), sorted(wanted - conda))
    pip_section = next(s for s in environment["dependencies"] if isinstance(s, dict))["pip"]
    assert "-e ." in pip_section


def test_torch_requirement_is_a_range_the_cpu_build_satisfies():
    """CI installs torch 2.13.0 (CPU) first; a pin or an upper bound below it would make pip
    fetch a multi-GB CUDA build instead."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    torch = next(s for s in project["dependencies"] if requirement_name(s) == "torch")
    assert "==" not in torch and "<" not in torch and ">=" in torch, torch
    lower = tuple(int(x) for x in torch.split(">=")[1].split(".")[:2])
    assert lower <= (2, 13)
