"""Per-rule wall time and peak memory of the last pipeline build, from Snakemake's `benchmark:`
files under results/benchmarks/<rule>/<job>.tsv.

    python benchmarks/pipeline_table.py [--root .]

Prints a Markdown table (slowest first) and writes benchmarks/out/pipeline.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent / "out"


def collect(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "results" / "benchmarks").rglob("*.tsv")):
        parts = path.relative_to(root / "results" / "benchmarks").with_suffix("").parts
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"rule": parts[0], "job": "/".join(parts[1:]) or "-",
                     "wall_s": float(record["s"]), "max_rss_mb": float(record["max_rss"]),
                     "cpu_s": float(record["cpu_time"])})
    return pd.DataFrame(rows).sort_values("wall_s", ascending=False, ignore_index=True)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    table = collect(args.root)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "pipeline.csv", index=False)
    print("| rule | job | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---|---|---:|---:|---:|")
    for row in table.itertuples():
        print(f"| {row.rule} | {row.job} | {row.wall_s:.1f} | {row.cpu_s:.1f} | "
              f"{row.max_rss_mb:.0f} |")
    print(f"| **sum** | | {table['wall_s'].sum():.1f} | {table['cpu_s'].sum():.1f} | |")
    return table


if __name__ == "__main__":
    main()
