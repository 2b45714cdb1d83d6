"""The SLURM profiles (profiles/slurm, profiles/slurm-gpu) without a SLURM cluster: they parse,
name only real rules, give every job of the DAG runtime/memory/CPUs, and a missing `sbatch` is a
clear error. The real cluster run is .ci/slurm_test.sh."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_utils import REPO, workflow_copy

SLURM = REPO / "profiles" / "slurm" / "config.yaml"
SLURM_GPU = REPO / "profiles" / "slurm-gpu" / "config.yaml"
TINY = REPO / "tests" / "data" / "tiny_config.yaml"
REQUIRED = {"runtime", "mem_mb", "cpus_per_task"}


def fake_sbatch(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has an `sbatch` (the profile checks for one when it loads)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 'fake sbatch: no cluster here' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def load_profile(path: Path, env: dict[str, str], monkeypatch) -> dict:
    """The profile as Snakemake reads it (YTE-processed YAML)."""
    import yte

    monkeypatch.setenv("PATH", env["PATH"])
    with open(path) as stream:
        return yte.process_yaml(stream, require_use_yte=True)


def workflow_rules() -> set[str]:
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    return {m for f in files for m in re.findall(r"^rule (\w+):", f.read_text(), re.M)}


def snakemake(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def job_resources(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job in a dry run's listing."""
    jobs = []
    for block in re.split(r"\n\s*\n", dry_run_output):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            pairs = (item.split("=", 1) for item in resources.group(1).split(", "))
            jobs.append((rule.group(1), {key: value for key, value in pairs}))
    return jobs


def test_slurm_profile_parses_with_resources_and_job_settings(tmp_path, monkeypatch):
    profile = load_profile(SLURM, fake_sbatch(tmp_path), monkeypatch)
    assert profile["executor"] == "slurm"
    assert profile["jobs"] >= 1 and profile["latency-wait"] >= 5 and profile["retries"] >= 1
    assert REQUIRED <= set(profile["default-resources"])
    assert profile["default-resources"]["cpus_per_task"] == "threads"
    for rule in ["train", "mechanism_train"]:
        assert REQUIRED <= set(profile["set-resources"][rule]), rule
    # keys the workflow profile profiles/default sets win over this profile: keep them out
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert not set(default) & set(profile), set(default) & set(profile)


def test_profiles_name_only_rules_of_the_workflow(tmp_path, monkeypatch):
    rules = workflow_rules()
    assert {"train", "merge_blocks", "analyze", "paper"} <= rules
    env = fake_sbatch(tmp_path)
    for path in [SLURM, SLURM_GPU]:
        unknown = set(load_profile(path, env, monkeypatch)["set-resources"]) - rules
        assert not unknown, f"{path.relative_to(REPO)} sets resources of unknown rules {unknown}"


def test_gpu_profile_is_the_slurm_profile_plus_one_gpu_per_training_job(tmp_path, monkeypatch):
    env = fake_sbatch(tmp_path)
    cpu = load_profile(SLURM, env, monkeypatch)["set-resources"]
    gpu = yaml.safe_load(SLURM_GPU.read_text())
    assert set(gpu) == {"set-resources"}  # everything else comes from profiles/slurm
    gpu = gpu["set-resources"]
    assert gpu["train"]["gpu"] == 1
    gpu["train"] = {k: v for k, v in gpu["train"].items() if k != "gpu"}
    assert gpu == cpu, "profiles/slurm-gpu must repeat profiles/slurm's set-resources"


SLURM_COMMANDS = {"sbatch", "srun", "salloc", "squeue", "sinfo", "sacct", "scontrol", "scancel",
                  "sacctmgr", "sshare", "sstat", "sprio", "sreport", "sattach", "sbcast", "sdiag",
                  "strigger", "scrontab", "sview", "sh5util"}


def path_without_slurm(tmp_path: Path) -> str:
    """A PATH with everything of the current one except the SLURM commands."""
    bin_dir = tmp_path / "no-slurm-bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name not in SLURM_COMMANDS and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return str(bin_dir)


def test_missing_sbatch_is_a_clear_error(tmp_path):
    result = snakemake(["--profile", "profiles/slurm", "-n"], REPO,
                       {**os.environ, "PATH": path_without_slurm(tmp_path)})
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "the SLURM profile submits every job with `sbatch`, which is not on PATH" in out, out
    assert "Traceback" not in out


@pytest.mark.parametrize("profiles, gpu", [(["profiles/slurm"], False),
                                           (["profiles/slurm", "profiles/slurm-gpu"], True)])
def test_every_job_of_the_dag_gets_runtime_memory_and_cpus(tmp_path, profiles, gpu):
    config = yaml.safe_load(TINY.read_text())
    config["runs_per_job"] = 3
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    work = workflow_copy(tmp_path / "work", path)
    args = [arg for profile in profiles for arg in ("--profile", profile)]
    # --executor local: the dry run needs neither SLURM nor the executor plugin
    result = snakemake([*args, "--executor", "local", "-n"], work, fake_sbatch(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_resources(result.stdout + result.stderr)
    rules = {rule for rule, _ in jobs}
    assert {"train", "merge_blocks", "analyze", "paper"} <= rules
    assert sum(rule == "train" for rule, _ in jobs) > len(config["experiments"])  # split
    for rule, resources in jobs:
        if rule == "all":
            continue
        assert REQUIRED <= set(resources), (rule, resources)
        assert int(resources["cpus_per_task"]) >= 1
        assert ("gpu" in resources) == (gpu and rule == "train"), (rule, resources)
    train = next(resources for rule, resources in jobs if rule == "train")
    assert train["runtime"] == "60" and train["mem_mb"] == "2000"
    assert train["cpus_per_task"] == str(config.get("threads", 1))
