"""Captions of the HTML report's figures, taken from the built LaTeX report."""
import sys

from diffauction.report.captions import write_report_captions

sys.stderr = sys.stdout = open(snakemake.log[0], "w")
write_report_captions(
    sources=list(snakemake.input.sources),
    generated=list(snakemake.input.generated),
    aux=snakemake.input.aux,
    bbl=snakemake.input.bbl,
    outputs=list(snakemake.output),
)
