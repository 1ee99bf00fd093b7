"""Beside the paper: every sourced row names a figure of its chapter's page, the page shows the line
under that figure, and the line states this build's verdicts on the figure."""
import re
from pathlib import Path

import pytest

from replication import chapters, paper_findings
from replication.claims import Verdict

ROOT = Path(__file__).resolve().parents[1]
WITH_TABLE = [n for n in chapters.names() if paper_findings.table(n)]


def test_the_chapters_that_reproduce_the_papers_figures_have_a_table():
    assert {"sharpness", "interpolation", "schedules", "memorization", "invariance"} <= set(WITH_TABLE)


@pytest.mark.parametrize("chapter", WITH_TABLE)
def test_every_row_is_a_figure_of_the_page_and_is_shown_under_it(chapter):
    source = (ROOT / "book" / f"{chapter}.ipynb").read_text()
    labels = set(re.findall(r":name: (fig-[a-z0-9-]+)", source))
    for figure, row in paper_findings.table(chapter).items():
        assert figure in labels, f"{chapter}/paper.yaml: {figure} is not a figure of the page"
        assert f'nb.beside_paper(\\"{figure}\\", verdicts)' in source, f"{chapter}: no beside-the-paper line under {figure}"
        assert row["source"] and row["reported"]


def _v(id, figure, outcome, summary=""):
    return Verdict(id=id, claim=4, statement=f"statement {id}", source="s", rule="r", outcome=outcome,
                   evidence={}, chapter="sharpness", profile="smoke", figure=figure, summary=summary)


def test_the_line_states_this_builds_verdicts_on_the_figure():
    vs = [_v("claim-4-a", "fig-sh-main", "fails", "ρ = +0.3"), _v("claim-4-b", "fig-sh-v3", "holds")]
    md = paper_findings.beside("sharpness", "fig-sh-main", vs)
    assert md.startswith("**Beside the paper.** *The paper* (ICLR 2018, Fig. 1):")
    assert "*Here:* statement claim-4-a: **fails** (ρ = +0.3)." in md and "claim-4-b" not in md
    assert "no verdict of this page reads this figure" in paper_findings.beside("sharpness", "fig-sh-main", [])
    with pytest.raises(KeyError, match="no row for figure"):
        paper_findings.beside("sharpness", "fig-not-there", vs)
