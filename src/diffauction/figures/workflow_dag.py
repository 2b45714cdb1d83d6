"""The workflow's rule graph as a figure (the report's appendix "How this report is built").

``snakemake --rulegraph`` prints the graph of rules in Graphviz's dot language, but not in a
fixed order: nodes are numbered and edges listed in the order of Python sets, which changes from
one process to the next. :func:`canonical_rulegraph` parses that output and writes it again with
the rules sorted by name, the edges sorted, the aggregate target ``all`` left out and every rule
coloured by its stage of the pipeline, so the same workflow always gives the same dot text.
:func:`render_rulegraph` lays it out with Graphviz's ``dot`` (Gansner et al.'s layered drawing)
and pins the one timestamp Cairo writes into a PDF, so the figure is byte-for-byte reproducible.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
import subprocess
from pathlib import Path

from diffauction.io import atomic_path

__all__ = [
    "FIXED_EPOCH",
    "STAGES",
    "parse_rulegraph",
    "stage_of",
    "canonical_rulegraph",
    "render_rulegraph",
    "pin_pdf_dates",
]

#: stage → (fill colour, rule-name patterns); the first stage whose pattern matches wins
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "figures": ("#fce5cd", (r"^figure",)),
    "report": ("#ead1dc", (r"^macros", r"^paper", r"^provenance", r"caption", r"rulegraph")),
    "training": ("#cfe2f3", (r"train", r"merge_blocks", r"ppo")),
    "theory": ("#d9ead3", (r"theory", r"smoothed", r"fixed_point", r"equilibri")),
    "analysis": ("#fff2cc", (r"analy", r"aggregate", r"tables", r"noise", r"decompos")),
}
OTHER_STAGE = ("other", "#eeeeee")
#: the date written into the PDF (2026-01-01 00:00 UTC)
FIXED_EPOCH = 1767225600

_NODE = re.compile(r'^\s*(\d+)\s*\[\s*label\s*=\s*"([^"]+)"')
_EDGE = re.compile(r"^\s*(\d+)\s*->\s*(\d+)\s*;?\s*$")
_PDF_DATE = re.compile(rb"\(D:(\d{14})Z\)")


def parse_rulegraph(dot_text: str) -> tuple[list[str], set[tuple[str, str]]]:
    """Rule names and (upstream, downstream) edges of ``snakemake --rulegraph`` output."""
    if not re.search(r"\bdigraph\b", dot_text):
        raise ValueError("not a rule graph: the text has no 'digraph' (snakemake --rulegraph "
                         "prints one on stdout)")
    names: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in dot_text.splitlines():
        if node := _NODE.match(line):
            names[node.group(1)] = node.group(2)
        elif edge := _EDGE.match(line):
            edges.append((edge.group(1), edge.group(2)))
    unknown = sorted({i for edge in edges for i in edge} - set(names))
    if unknown:
        raise ValueError(f"rule graph has edges to undeclared nodes {unknown}")
    if not names:
        raise ValueError("rule graph has no rules")
    return sorted(names.values()), {(names[a], names[b]) for a, b in edges}


def stage_of(rule: str) -> str:
    """The pipeline stage a rule belongs to, from its name (``other`` when none matches)."""
    for stage, (_, patterns) in STAGES.items():
        if any(re.search(pattern, rule) for pattern in patterns):
            return stage
    return OTHER_STAGE[0]


def _fill(stage: str) -> str:
    return STAGES[stage][0] if stage in STAGES else OTHER_STAGE[1]


def canonical_rulegraph(dot_text: str, drop: tuple[str, ...] = ("all",)) -> str:
    """The rule graph in a fixed order, coloured by stage, left to right, without ``drop``."""
    rules, edges = parse_rulegraph(dot_text)
    rules = [rule for rule in rules if rule not in drop]
    index = {rule: i for i, rule in enumerate(rules)}
    lines = [
        "digraph rulegraph {",
        '  graph [rankdir=LR, bgcolor=white, margin=0, nodesep=0.08, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, '
        'height=0.22, penwidth=0.6];',
        '  edge [color="#777777", arrowsize=0.5, penwidth=0.6];',
    ]
    for rule in rules:
        lines.append(f'  {index[rule]} [label="{rule}", fillcolor="{_fill(stage_of(rule))}"];')
    for up, down in sorted(edges):
        if up in index and down in index:
            lines.append(f"  {index[up]} -> {index[down]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def pin_pdf_dates(pdf: bytes, epoch: int) -> bytes:
    """Replace every ``(D:YYYYMMDDhhmmssZ)`` date by ``epoch`` (UTC); the length is unchanged,
    so the PDF's cross-reference offsets stay valid."""
    stamp = _dt.datetime.fromtimestamp(epoch, tz=_dt.UTC).strftime("%Y%m%d%H%M%S")
    return _PDF_DATE.sub(b"(D:" + stamp.encode() + b"Z)", pdf)


def _dot_executable() -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz's 'dot' is not on PATH: install graphviz (Debian: "
                           "apt-get install graphviz) to draw the workflow's rule graph")
    return dot


def render_rulegraph(dot_text: str, *paths: str | Path, epoch: int | None = None) -> None:
    """Lay ``dot_text`` out with Graphviz and write each path (format from its suffix: pdf or
    png), atomically. PDF dates are pinned to ``epoch`` (default :data:`FIXED_EPOCH`), not taken
    from the environment: like the matplotlib figures, saved without a date, the figure has no
    date to tell, and a build with ``SOURCE_DATE_EPOCH`` set must give the same bytes as one
    without."""
    if epoch is None:
        epoch = FIXED_EPOCH
    dot = _dot_executable()
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".")
        if fmt not in ("pdf", "png"):
            raise ValueError(f"rule graph format must be pdf or png, got {path.name!r}")
        args = [dot, f"-T{fmt}"] + (["-Gdpi=150"] if fmt == "png" else [])
        done = subprocess.run(args, input=dot_text.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed ({done.returncode}): {done.stderr.decode().strip()}")
        data = pin_pdf_dates(done.stdout, epoch) if fmt == "pdf" else done.stdout
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
