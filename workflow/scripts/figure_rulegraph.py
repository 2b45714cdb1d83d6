"""The appendix's workflow figure: the canonical rule graph, drawn by Graphviz."""
import sys
from pathlib import Path

from diffauction.figures.workflow_dag import canonical_rulegraph, render_rulegraph
from diffauction.io import write_text

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
dot = canonical_rulegraph(Path(snakemake.input.raw).read_text())
write_text(dot, snakemake.output.dot)
render_rulegraph(dot, snakemake.output.pdf, snakemake.output.png)
