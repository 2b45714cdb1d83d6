"""Helpers to run the Snakemake workflow in a scratch copy of the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the package sources travel too: every rule lists the package layers its script runs as inputs
WORKFLOW_FILES = ["Snakefile", "workflow", "config", "profiles", "paper/report.tex",
                  "paper/references.bib",
                  "paper/sections", "figures/README.md", "paper/generated/README.md", "src"]


def workflow_copy(destination: Path, config: Path | None = None) -> Path:
    """Copy what the workflow needs (not results) into ``destination``; optionally swap in a
    different ``config/config.yaml``."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(source, target, ignore=ignore)
        else:
            shutil.copy2(source, target)
    if config is not None:
        shutil.copy2(config, destination / "config" / "config.yaml")
    return destination


def snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", *args], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout)


def dry_run_with_config(tmp_path: Path, config: dict) -> tuple[subprocess.CompletedProcess, str]:
    """``snakemake -n`` in a workflow copy that uses ``config``; returns (result, all output)."""
    import yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    work = workflow_copy(tmp_path / "work", bad)
    result = snakemake(work, "-n", "--cores", "1")
    return result, result.stdout + result.stderr


def planned_jobs(result) -> dict[str, int]:
    """Rule → job count from a dry run's job-stats table."""
    text = result.stdout + result.stderr
    jobs, inside = {}, False
    for line in text.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if not parts or parts[0].startswith("-"):
                if parts and parts[0] == "total":
                    break
                continue
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs
