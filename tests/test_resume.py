"""A killed build never leaves complete-looking outputs, and resuming gives the same tables."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import time

import pytest
import yaml
from workflow_utils import REPO, snakemake, workflow_copy

TARGETS = ["results/week4/trajectory.csv", "results/week4/runs.csv"]


def slow_week4_config(tmp_path):
    """The tiny config with a week-4 experiment that trains for several seconds."""
    config = yaml.safe_load((REPO / "tests" / "data" / "tiny_config.yaml").read_text())
    config["experiments"]["week4"].update(steps=20000, batch_size=8192, record_every=500)
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_identical_tables(tmp_path):
    config = slow_week4_config(tmp_path)
    reference = workflow_copy(tmp_path / "reference", config)
    done = snakemake(reference, "--cores", "1", *TARGETS)
    assert done.returncode == 0, done.stderr[-3000:]

    work = workflow_copy(tmp_path / "killed", config)
    process = subprocess.Popen(["snakemake", "--cores", "1", *TARGETS], cwd=work,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    log = work / "logs" / "train" / "week4" / "0.log"
    deadline = time.time() + 120
    while not log.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert log.exists(), "training never started"
    time.sleep(1.5)  # well inside training
    assert process.poll() is None, "training finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # a crash takes the job processes with it, whatever session Snakemake started them in
    subprocess.run(["pkill", "-KILL", "-f", str(work)], check=False)
    time.sleep(0.5)

    block = work / "results" / "week4" / "blocks" / "0"
    assert not (block / "trajectory.csv").exists() and not (block / "runs.csv").exists()
    assert not any((work / target).exists() for target in TARGETS)

    assert snakemake(work, "--unlock", "--cores", "1").returncode == 0
    start = time.time()
    resumed = snakemake(work, "--cores", "1", "--rerun-incomplete", *TARGETS)
    elapsed = time.time() - start
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for target in TARGETS:
        assert filecmp.cmp(reference / target, work / target, shallow=False), target
    print(f"resume after SIGKILL took {elapsed:.1f} s")
