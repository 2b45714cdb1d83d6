#!/usr/bin/env python3
"""Byte-reproducibility check: build the workflow from clean in a fresh clone of HEAD and compare
the SHA-256 of every output with the outputs of a reference tree that was built the same way.

    python .ci/compare_builds.py [--reference .] [--cores 2] [--config FILE]

Outputs compared: every result table (results/**/*.csv, except Snakemake's timing files under
results/benchmarks), every figure (figures/*.pdf, *.png), the generated LaTeX (paper/generated)
and paper/report.pdf. Exit status 1 on any difference; the table of hashes goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATTERNS = ["results/**/*.csv", "results/**/*.rst", "results/workflow/rulegraph.dot",
            "figures/*.pdf",
            "figures/*.png", "paper/generated/*.tex",
            "paper/report.pdf"]


def outputs(root: Path) -> dict[str, str]:
    found = {}
    for pattern in PATTERNS:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("results/benchmarks/"):
                continue  # wall times, memory: measurements, not results
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("."))
    parser.add_argument("--cores", default="2")
    parser.add_argument("--config", type=Path, help="use this config in both builds")
    args = parser.parse_args(argv)
    reference = args.reference.resolve()
    with tempfile.TemporaryDirectory(prefix="diffauction-rebuild-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(reference), str(clone)],
                       check=True)
        if args.config:
            (clone / "config" / "config.yaml").write_bytes(args.config.read_bytes())
        start = time.time()
        env = {**os.environ, "SOURCE_DATE_EPOCH": subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=reference, capture_output=True,
            text=True, check=True).stdout.strip()}
        subprocess.run(["snakemake", "--cores", args.cores, "--quiet", "all"], cwd=clone,
                       check=True, env=env)
        print(f"second build from clean: {time.time() - start:.0f} s")
        ours, theirs = outputs(reference), outputs(clone)
    names = sorted(set(ours) | set(theirs))
    differ = [n for n in names if ours.get(n) != theirs.get(n)]
    for name in names:
        status = "identical" if name not in differ else "DIFFERENT"
        print(f"{status:9s}  {(ours.get(name) or '-')[:16]}  {(theirs.get(name) or '-')[:16]}  "
              f"{name}")
    print(f"{len(names) - len(differ)} of {len(names)} outputs byte-identical")
    return 1 if differ or not names else 0


if __name__ == "__main__":
    sys.exit(main())
