"""The HTML report's figure captions are the LaTeX report's, numbers and references resolved."""

import re
from pathlib import Path

import pytest
from docutils.core import publish_parts

from diffauction.report.captions import (
    balanced,
    caption_rst,
    expand_macros,
    figure_captions,
    latex_to_rst,
    read_citations,
    read_labels,
    read_macros,
    write_report_captions,
)

REPO = Path(__file__).resolve().parents[1]

SECTION = r"""
\section{X}
Text with a figure.
\begin{figure}[t]
  \centering
  \includegraphics[width=\linewidth]{week4_convergence.pdf}
  \caption{Slopes $w_i$ over \WeekFourSeeds{} seeds at $\beta=\Beta$, see
    Section~\ref{sec:a} and~\eqref{eq:b}; \emph{dashed}: the BNE \citep{krishna2009}.}
  \label{fig:week4}
\end{figure}
\begin{table}\caption{not a figure}\end{table}
"""
MACROS = r"""\newcommand{\WeekFourSeeds}{8}
\newcommand{\Beta}{\num{50}}
\newcommand{\Nested}{{a}{b}}
"""
AUX = r"""\newlabel{sec:a}{{2}{3}{Title}{section.2}{}}
\newlabel{eq:b}{{4}{3}{}{equation.4}{}}
\newlabel{fig:week4}{{1}{4}{Week}{figure.1}{}}
"""
BBL = r"""\begin{thebibliography}{3}
\bibitem[Krishna(2009)]{krishna2009}
Vijay Krishna.
\bibitem[Kagel and Levin(1993)]{kagel1993}
J. Kagel and D. Levin.
\bibitem[Bichler et~al.(2021)Bichler, Fichtl, Heidekr{\"u}ger, Kohring, and
  Sutterer]{bichler2021}
M. Bichler et al.
\end{thebibliography}
"""


def test_balanced_groups_nest_and_respect_escapes():
    text = r"\caption{a {b} \{ c}rest"
    content, end = balanced(text, text.index("{"))
    assert content == r"a {b} \{ c" and text[end:] == "rest"
    with pytest.raises(ValueError, match="unbalanced"):
        balanced("{open", 0)


def test_figures_macros_labels_and_citations_are_read():
    (figure,) = figure_captions(SECTION)
    assert figure.figure == "week4_convergence" and figure.label == "fig:week4"
    assert figure.caption.startswith("Slopes $w_i$")
    assert read_macros(MACROS) == {"WeekFourSeeds": "8", "Beta": r"\num{50}",
                                   "Nested": "{a}{b}"}
    assert read_labels(AUX)["fig:week4"] == ("1", "4")
    assert read_citations(BBL) == {"krishna2009": "Krishna (2009)",
                                   "kagel1993": "Kagel and Levin (1993)",
                                   "bichler2021": "Bichler et al. (2021)"}


def test_macros_expand_recursively_and_loops_are_refused():
    assert expand_macros(r"\A{} and \B", {"A": r"\B", "B": "7"}) == "7 and 7"
    with pytest.raises(ValueError, match="terminate"):
        expand_macros(r"\A", {"A": r"\A x"})


def test_latex_becomes_rst_with_resolved_references():
    labels = read_labels(AUX)
    rst = latex_to_rst(r"At $\beta=50$, see Section~\ref{sec:a}, \eqref{eq:b}; "
                       r"\emph{x} -- \citet{krishna2009}", labels, read_citations(BBL))
    assert rst == r"At :math:`\beta=50`, see Section 2, (4); *x* – Krishna (2009)"
    with pytest.raises(KeyError, match="nobody"):
        latex_to_rst(r"\citep{nobody}", labels, read_citations(BBL))


def test_caption_has_number_page_and_a_link_that_docutils_resolves():
    (figure,) = figure_captions(SECTION)
    rst = caption_rst(figure, read_macros(MACROS), read_labels(AUX), read_citations(BBL))
    assert rst.startswith("**Figure 1.** Slopes :math:`w_i` over 8 seeds at :math:`\\beta=")
    assert "Figure 1 of the report (page 4)" in rst and "`report.pdf`_" in rst
    # Snakemake appends a target for every report item; with it the link must resolve cleanly
    html = publish_parts(rst + "\n.. _report.pdf: javascript:show('report.pdf')\n",
                         writer="html", settings_overrides={"report_level": 1})["body"]
    assert "System Message" not in html and "javascript:show" in html


def test_writer_refuses_a_figure_without_caption(tmp_path):
    files = {"s.tex": SECTION, "m.tex": MACROS, "r.aux": AUX, "r.bbl": BBL}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = dict(sources=[str(tmp_path / "s.tex")], generated=[str(tmp_path / "m.tex")],
                aux=str(tmp_path / "r.aux"), bbl=str(tmp_path / "r.bbl"))
    write_report_captions(**args, outputs=[str(tmp_path / "out" / "week4_convergence.rst")])
    assert (tmp_path / "out" / "week4_convergence.rst").read_text().startswith("**Figure 1.**")
    with pytest.raises(ValueError, match="nonexistent"):
        write_report_captions(**args, outputs=[str(tmp_path / "out" / "nonexistent.rst")])
    assert not (tmp_path / "out" / "nonexistent.rst").exists()


def test_every_figure_of_the_report_has_one_caption_and_label():
    """The report's own sources: each included graphic is captioned and labelled once, so the
    HTML report can take every figure's caption from the PDF."""
    tex = "\n".join(p.read_text() for p in sorted((REPO / "paper" / "sections").glob("*.tex")))
    figures = figure_captions(tex)
    included = re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}", tex)
    assert len(figures) == len(included) == len({f.figure for f in figures})
    assert all(f.label and f.label.startswith("fig:") for f in figures)
