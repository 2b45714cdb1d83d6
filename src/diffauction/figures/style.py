"""The one shared figure style: seaborn theme, sizes, palette and reproducible save options.

Figure rules list this file as an input, so a style change reruns every figure and the report
(and nothing else).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from diffauction.io import atomic_path  # noqa: E402

WIDTH_IN = 6.8  # one LaTeX text width
HEIGHT_IN = 2.7
PALETTE = "colorblind"
BNE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.0}
SMOOTHED_STYLE = {"color": "0.45", "linestyle": ":", "linewidth": 1.2}
BAND_ALPHA = 0.25


def apply() -> None:
    """Set the seaborn theme and the rcParams every figure shares."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.0)
    plt.rcParams.update({
        "figure.dpi": 150,
        "savefig.dpi": 200,
        "savefig.bbox": "tight",
        "font.family": "DejaVu Sans",
        "axes.titlesize": 9,
        "axes.labelsize": 9,
        "legend.fontsize": 7.5,
        "pdf.fonttype": 42,
        "svg.hashsalt": "diffauction",
    })


def colors(n: int) -> list:
    return sns.color_palette(PALETTE, n)


def save(fig, *paths: str | Path) -> None:
    """Save to each path (format from the suffix) without timestamps, atomically."""
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".")
        metadata = {"CreationDate": None, "Producer": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
    plt.close(fig)
