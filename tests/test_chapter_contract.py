"""The chapter contract (docs/chapter-contract.md): what every chapter provides, and the README's
chapter table generated from _toc.yml and each chapter's ABOUT."""
from __future__ import annotations

from pathlib import Path

import pytest

from replication import chapters, readme
from replication.chapters import resolve_spec as resolve

ROOT = Path(__file__).resolve().parents[1]
TESTED = [n for n in chapters.names() if hasattr(chapters.get(n), "verdicts")]


def test_the_readme_chapter_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text()
    assert readme.updated(text) == text, "run: python -m replication readme"


def test_the_generated_table_has_one_row_per_chapter_in_toc_order():
    rows = [line for line in readme.chapter_table().splitlines()[2:]]
    assert [r.split("`")[1] for r in rows] == [f"book/{n}.ipynb" for n in chapters.names()]
    sweep = next(r for r in rows if "book/sweep.ipynb" in r)
    assert chapters.get("sweep").ABOUT.rstrip(".") in sweep and "claims 4, 5" in sweep and "CPU or GPU" in sweep


def test_a_readme_without_markers_fails_in_one_line():
    with pytest.raises(ValueError, match="README.md: needs the line"):
        readme.updated("no table here")


def test_an_edited_table_is_put_back(tmp_path):
    path = tmp_path / "README.md"
    good = (ROOT / "README.md").read_text()
    path.write_text(good.replace("| claims 2, 3 |", "| claims 2 |"))
    assert readme.update(path, check=True) and path.read_text() != good
    assert readme.update(path) and path.read_text() == good
    assert not readme.update(path, check=True)


@pytest.mark.parametrize("name", TESTED)
def test_every_chapter_that_judges_follows_the_contract(name):
    chapter = chapters.get(name)
    folder = chapters.FOLDER / name
    assert isinstance(chapter.ABOUT, str) and chapter.ABOUT.strip()
    for attr in ("SPEC", "compute", "verdicts", "plan"):
        assert hasattr(chapter, attr), f"{name}: no {attr}"
    assert (folder / "rules.yaml").is_file() and (folder / "page.py").is_file()
    assert (ROOT / "book" / f"{name}.ipynb").is_file() and (ROOT / "tests" / f"test_{name}.py").is_file()
    assert (chapter.plan.__doc__ or "").strip(), f"{name}: plan says what it plans (or why nothing)"


def test_plan_none_is_passed_on_and_a_list_is_listed():
    sde = resolve(chapters.get("sde").SPEC, "smoke")
    assert chapters.planned_runs("sde", sde) is None          # numpy simulations: nothing to bill
    width = resolve(chapters.get("width").SPEC, "smoke")
    runs = chapters.planned_runs("width", width)
    from replication.chapters.width.experiment import train_config
    assert runs == [train_config(width)]


@pytest.mark.parametrize("name", TESTED)
def test_notebooks_hold_glue_and_figure_calls_not_formatting(name):
    """A page's sentences and tables are built in its page.py: no f-string, string join, ``.format`` or
    glue with a format spec (``nb.glue(name, x, ".2f")``) in the notebook's code (the parameters cell aside)."""
    import json
    import re

    book = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    code = ["".join(c["source"]) for c in book["cells"]
            if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])]
    formatting = [line.strip() for src in code for line in src.splitlines()
                  if re.search(r"""\bf["']|\.join\(|\.format\(|,\s*["']\+?(\.\d+)?[efg%]["']\s*\)""", line)]
    assert formatting == [], f"{name}: formatting code in the notebook, move it to page.py"
