"""Atomic output files and provenance.

Every output is written to a temporary file in its target folder and renamed into place only
when complete, so an interrupted job never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from diffauction import __version__


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; finished outputs get the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV with a fixed float format (17 significant digits round-trip exactly)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g", lineterminator="\n")


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(obj, path: str | Path) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


def git_commit(root: str | Path | None = None) -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files differ; ``unknown`` outside git."""
    cwd = Path(root) if root else Path.cwd()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=cwd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if status.strip() else "")


def provenance() -> dict[str, str]:
    """Versions that determine a result: package, git commit, torch, Python.

    torch's version is its installed distribution's (what ``torch.__version__`` reports), read
    without importing torch, so the jobs that only write tables and figures start in a fraction
    of the time.
    """
    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch_version": importlib.metadata.version("torch"),
        "python_version": platform.python_version(),
    }


def concatenate_csv(parts, target) -> None:
    """Concatenate CSV files with one header (block outputs, already in run order)."""
    with atomic_path(target) as tmp, open(tmp, "w") as out:
        for i, part in enumerate(parts):
            with open(part) as src:
                header = src.readline()
                if i == 0:
                    out.write(header)
                out.writelines(src)
