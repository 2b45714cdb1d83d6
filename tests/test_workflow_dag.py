"""The appendix's rule-graph figure: canonical dot text and byte-reproducible drawings."""

import random
import re
import shutil

import pytest

from diffauction.figures.workflow_dag import (
    canonical_rulegraph,
    parse_rulegraph,
    pin_pdf_dates,
    render_rulegraph,
    stage_of,
)

RULES = ["all", "train", "merge_blocks", "analyze", "figure_week4", "macros_week4", "paper",
         "smoothed_theory", "macros_learners_ppo", "figure_overshading_theory"]
EDGES = [("train", "merge_blocks"), ("merge_blocks", "analyze"), ("analyze", "macros_week4"),
         ("merge_blocks", "figure_week4"), ("macros_week4", "paper"), ("figure_week4", "paper"),
         ("smoothed_theory", "figure_overshading_theory"),
         ("figure_overshading_theory", "paper"), ("macros_learners_ppo", "paper"),
         ("paper", "all"), ("analyze", "all")]


def snakemake_style(seed: int) -> str:
    """Rule-graph text as snakemake prints it: numbering and edge order vary run to run."""
    rng = random.Random(seed)
    names = RULES[:]
    rng.shuffle(names)
    ids = {name: i for i, name in enumerate(names)}
    edges = EDGES[:]
    rng.shuffle(edges)
    lines = ["digraph snakemake_dag {", "    graph[bgcolor=white, margin=0];"]
    lines += [f'\t{ids[n]}[label = "{n}", color = "0.{ids[n]} 0.6 0.85", style="rounded"];'
              for n in names]
    lines += [f"\t{ids[a]} -> {ids[b]}" for a, b in edges]
    return "\n".join(lines + ["}"]) + "\n"


def test_parse_reads_rules_and_edges_by_name():
    rules, edges = parse_rulegraph(snakemake_style(0))
    assert rules == sorted(RULES)
    assert edges == set(EDGES)


def test_canonical_text_does_not_depend_on_snakemakes_order():
    texts = {canonical_rulegraph(snakemake_style(seed)) for seed in range(6)}
    assert len(texts) == 1
    text = texts.pop()
    assert '"all"' not in text  # the aggregate target is left out, with its edges
    assert text.count("->") == len([e for e in EDGES if "all" not in e])
    labels = re.findall(r'label="(\w+)"', text)
    assert labels == sorted(r for r in RULES if r != "all")


def test_stages_follow_the_rule_names():
    assert stage_of("train") == stage_of("merge_blocks") == stage_of("learners_train")
    assert stage_of("train") == "training"
    assert stage_of("figure_overshading_theory") == "figures"  # "figure_" before "theory"
    assert stage_of("macros_learners_ppo") == "report"  # "macros_" before "ppo"
    assert stage_of("smoothed_theory") == "theory"
    assert stage_of("analyze") == stage_of("nonlinear_tables") == "analysis"
    assert stage_of("something_else") == "other"


@pytest.mark.parametrize("text, message", [
    ("graph { a -- b }", "digraph"),
    ('digraph { 0[label = "a"];\n 0 -> 1\n}', "undeclared"),
    ("digraph { }", "no rules"),
])
def test_bad_rule_graphs_are_rejected(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rulegraph(text)


def test_pdf_dates_are_pinned_without_moving_any_byte():
    pdf = b"%PDF-1.5\n<< /CreationDate (D:20261203185116Z) /ModDate (D:20261203185117Z) >>\n"
    pinned = pin_pdf_dates(pdf, 0)
    assert len(pinned) == len(pdf)
    assert pinned.count(b"(D:19700101000000Z)") == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_drawings_are_byte_reproducible(tmp_path, monkeypatch):
    dot = canonical_rulegraph(snakemake_style(1))
    render_rulegraph(dot, tmp_path / "a.pdf", tmp_path / "a.png", epoch=1767225600)
    render_rulegraph(dot, tmp_path / "b.pdf", tmp_path / "b.png", epoch=1767225600)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert b"(D:20260101000000Z)" in (tmp_path / "a.pdf").read_bytes()
    # the environment's SOURCE_DATE_EPOCH does not change the figure (CI's second build sets it)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    render_rulegraph(dot, tmp_path / "c.pdf")
    render_rulegraph(dot, tmp_path / "d.pdf", epoch=1700000000)
    assert (tmp_path / "c.pdf").read_bytes() == (tmp_path / "a.pdf").read_bytes()
    assert (tmp_path / "d.pdf").read_bytes() != (tmp_path / "a.pdf").read_bytes()
    with pytest.raises(ValueError, match="pdf or png"):
        render_rulegraph(dot, tmp_path / "c.svg")
