r"""Figure captions for the HTML report, taken from the LaTeX report so both say the same.

A figure's caption is written once, in ``paper/sections/*.tex``. After the PDF is built, this
module reads each figure environment (``\includegraphics{name.pdf}``, ``\caption{...}``,
``\label{...}``), expands the generated number macros (``\newcommand{\Name}{value}`` in
``paper/generated/*.tex``), resolves ``\ref``/``\eqref`` and ``\citet``/``\citep`` from the LaTeX
run's ``.aux`` and ``.bbl`` files, and writes the caption as reStructuredText, with the figure's
number and page in the PDF and a link to the PDF in the Snakemake report (``report.pdf``_).
Inline math stays LaTeX, in the ``:math:`` role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from diffauction.io import write_text

__all__ = [
    "FigureCaption",
    "balanced",
    "figure_captions",
    "read_macros",
    "expand_macros",
    "read_labels",
    "read_citations",
    "latex_to_rst",
    "caption_rst",
    "write_report_captions",
]


@dataclass(frozen=True)
class FigureCaption:
    figure: str  # file stem of the first \includegraphics, e.g. "week4_convergence"
    caption: str  # the LaTeX source of \caption{...}
    label: str | None


def balanced(text: str, start: int) -> tuple[str, int]:
    """The brace group opening at ``text[start] == '{'``: its content and the index after it."""
    if start >= len(text) or text[start] != "{":
        raise ValueError(f"expected '{{' at offset {start}")
    depth = 0
    for i in range(start, len(text)):
        char = text[i]
        if char == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif char == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ValueError(f"unbalanced braces from offset {start}")


def _group_after(text: str, command: str) -> str | None:
    match = re.search(re.escape(command) + r"\s*(\[[^\]]*\])?\s*\{", text)
    if match is None:
        return None
    return balanced(text, match.end() - 1)[0]


def figure_captions(tex: str) -> list[FigureCaption]:
    """Every figure environment of ``tex`` that includes a graphic and has a caption."""
    found = []
    for body in re.findall(r"\\begin\{figure\*?\}(.*?)\\end\{figure\*?\}", tex, re.S):
        graphic = _group_after(body, r"\includegraphics")
        caption = _group_after(body, r"\caption")
        if graphic is None or caption is None:
            continue
        label = _group_after(body, r"\label")
        stem = re.sub(r"\.(pdf|png)$", "", graphic.strip().split("/")[-1])
        found.append(FigureCaption(stem, caption, label))
    return found


def read_macros(tex: str) -> dict[str, str]:
    r"""``{name: value}`` of every ``\newcommand{\name}{value}`` in ``tex``."""
    macros = {}
    for match in re.finditer(r"\\newcommand\*?\{\\([A-Za-z]+)\}(\[\d\])?\{", tex):
        macros[match.group(1)] = balanced(tex, match.end() - 1)[0]
    return macros


def expand_macros(text: str, macros: dict[str, str], depth: int = 8) -> str:
    """Replace every known macro by its value, repeatedly (values may use other macros)."""
    pattern = re.compile(r"\\([A-Za-z]+)(\{\})?")
    for _ in range(depth):
        new = pattern.sub(lambda m: macros.get(m.group(1), m.group(0)), text)
        if new == text:
            return new
        text = new
    raise ValueError("macro expansion does not terminate (a macro refers to itself?)")


def read_labels(aux: str) -> dict[str, tuple[str, str]]:
    r"""``{label: (number, page)}`` from a LaTeX ``.aux`` file's ``\newlabel`` lines."""
    labels = {}
    for match in re.finditer(r"\\newlabel\{([^}]+)\}\{\{([^}]*)\}\{([^}]*)\}", aux):
        labels[match.group(1)] = (match.group(2), match.group(3))
    return labels


def read_citations(bbl: str) -> dict[str, str]:
    r"""``{key: "Author (Year)"}`` from a natbib ``.bbl`` file.

    natbib's item labels read ``\bibitem[Short(Year)Long authors]{key}``; ``\citet`` prints
    ``Short (Year)``."""
    cites = {}
    for match in re.finditer(r"\\bibitem\[(.*?)\]\{([^}]+)\}", bbl, re.S):
        label = re.sub(r"\s+", " ", match.group(1)).replace("{", "").replace("}", "")
        short = re.match(r"(.*?)\((\d{4}[a-z]?)\)", label)
        if short is None:
            raise ValueError(f"not a natbib author-year label: {match.group(1)!r}")
        name = short.group(1).replace("~", " ").strip()
        cites[match.group(2)] = f"{name} ({short.group(2)})"
    return cites


_TEXT_COMMANDS = {"emph": "*{}*", "textit": "*{}*", "textbf": "**{}**", "texttt": "``{}``"}


def _cite(keys: str, cites: dict[str, str], parenthetical: bool) -> str:
    names = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in cites:
            raise KeyError(f"caption cites {key!r}, which the bibliography does not list")
        names.append(cites[key])
    text = "; ".join(names)
    return f"({text})" if parenthetical else text


def latex_to_rst(text: str, labels: dict[str, tuple[str, str]],
                 cites: dict[str, str] | None = None) -> str:
    """A caption's LaTeX (macros already expanded) as one paragraph of reStructuredText."""
    cites = cites or {}
    text = re.sub(r"\\eqref\{([^}]+)\}", lambda m: f"({labels[m.group(1)][0]})", text)
    text = re.sub(r"\\ref\{([^}]+)\}", lambda m: labels[m.group(1)][0], text)
    text = re.sub(r"\\cite([tp])\{([^}]+)\}",
                  lambda m: _cite(m.group(2), cites, m.group(1) == "p"), text)
    pieces = re.split(r"(?<!\\)\$(.*?)(?<!\\)\$", text, flags=re.S)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:  # math
            out.append(":math:`" + re.sub(r"\s+", " ", piece.strip()) + "`")
            continue
        for name, template in _TEXT_COMMANDS.items():
            piece = re.sub(r"\\" + name + r"\{([^{}]*)\}", lambda m, t=template: t.format(
                m.group(1)), piece)
        piece = re.sub(r"\\num\{([^{}]*)\}", r"\1", piece)
        piece = piece.replace("---", "\u2014").replace("--", "\u2013").replace("~", " ")
        piece = re.sub(r"\\[,;:! ]", " ", piece).replace(r"\%", "%").replace(r"\&", "&")
        piece = re.sub(r"\{\}", "", piece)
        out.append(piece)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def caption_rst(figure: FigureCaption, macros: dict[str, str],
                labels: dict[str, tuple[str, str]], cites: dict[str, str] | None = None,
                pdf_name: str = "report.pdf") -> str:
    """The report caption of one figure: its number, its LaTeX caption and a link to the PDF."""
    body = latex_to_rst(expand_macros(figure.caption, macros), labels, cites)
    where = ""
    if figure.label and figure.label in labels:
        number, page = labels[figure.label]
        where = f"Figure {number} of the report (page {page}). "
        body = f"**Figure {number}.** {body}"
    return f"{body}\n\n{where}Full text, with the derivations and tables: `{pdf_name}`_.\n"


def write_report_captions(sources: list[str], generated: list[str], aux: str, bbl: str,
                          outputs: list[str]) -> None:
    """Write ``outputs`` (``<figure>.rst`` each) from the LaTeX sources of the built report.

    Every output must name a figure that the sources include with a caption, and every figure
    must be included once, so a caption can neither go missing nor be taken from the wrong
    figure."""
    figures: dict[str, FigureCaption] = {}
    for source in sources:
        for figure in figure_captions(Path(source).read_text()):
            if figure.figure in figures:
                raise ValueError(f"figure {figure.figure!r} is included twice in the sources")
            figures[figure.figure] = figure
    macros: dict[str, str] = {}
    for path in generated:
        macros.update(read_macros(Path(path).read_text()))
    labels = read_labels(Path(aux).read_text())
    cites = read_citations(Path(bbl).read_text())
    wanted = {Path(out).stem: out for out in outputs}
    missing = sorted(set(wanted) - set(figures))
    if missing:
        raise ValueError(f"no captioned figure in the LaTeX sources for {missing}; "
                         f"captioned figures: {sorted(figures)}")
    for stem, out in wanted.items():
        write_text(caption_rst(figures[stem], macros, labels, cites), out)
