"""The provenance appendix: which config, seeds, code and libraries produced each experiment."""

from __future__ import annotations

import pandas as pd

from diffauction.report.latex import latex_table


def provenance_table(summaries: list[pd.DataFrame]) -> str:
    """Appendix table: for every experiment, its config hash, seeds, runs, and the versions and
    commit that produced it (read from the result tables themselves)."""
    rows = []
    for frame in summaries:
        first = frame.iloc[0]
        seeds = sorted(int(s) for s in frame["seed"].unique())
        seed_text = (f"{seeds[0]}--{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1))
                     else ", ".join(map(str, seeds)))
        commit = str(first["git_commit"])
        rows.append({
            "experiment": str(first["experiment"]).replace("_", r"\_"),
            "config_hash": f"\\texttt{{{first['config_hash']}}}",
            "runs": frame["run"].nunique(),
            "seeds": seed_text,
            "package": first["package_version"],
            "commit": f"\\texttt{{{commit[:10]}{'-dirty' if commit.endswith('-dirty') else ''}}}",
            "torch": first["torch_version"],
            "python": first["python_version"],
            "device": first.get("device", "cpu"),
        })
    frame = pd.DataFrame(rows)
    identity = str
    return latex_table(
        frame,
        [("experiment", "experiment", identity), ("config_hash", "config hash", identity),
         ("runs", "runs", lambda x: f"{int(x)}"), ("seeds", "seeds", identity),
         ("package", "diffauction", identity), ("commit", "git commit", identity),
         ("torch", "torch", identity), ("python", "Python", identity),
         ("device", "device", identity)],
        caption=("Provenance of every experiment, read from its result tables: the hash of its "
                 "resolved configuration, its seeds, the code and library versions, and the device "
                 "that trained it (CPU and GPU draw different random numbers)."),
        label="tab:provenance")
