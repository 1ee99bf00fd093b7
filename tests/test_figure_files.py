"""A page's figure: the PNG it shows, its SVG twin as the click target, and the one-line command
that reproduces it alone."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from replication import figure_files, reproduce  # noqa: E402
from replication.params import ParameterError  # noqa: E402


def _figure(width=4.0, height=3.0, label="x"):
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 4], label=label)
    ax.set_xlabel("η/S")
    return fig


def test_render_gives_a_retina_png_and_a_deterministic_svg():
    fig = _figure()
    png, svg = figure_files.render(fig)
    again_png, again_svg = figure_files.render(fig)
    plt.close(fig)
    w, h = figure_files.png_size(png)
    assert 600 < w <= 800 and 450 < h <= 600          # twice 100 dpi, cropped tight: below 800 x 600
    assert (png, svg) == (again_png, again_svg)         # the same figure, the same bytes (names stay put)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and b"<path" in svg and b"Date" not in svg
    with pytest.raises(ValueError):
        figure_files.png_size(svg)


def test_shown_writes_the_svg_named_by_the_png_and_declares_half_size(tmp_path):
    fig = _figure()
    shown = figure_files.shown(fig, tmp_path / "figures")
    data, meta = shown._repr_mimebundle_()
    assert data["image/png"] == shown.png
    w, h = figure_files.png_size(shown.png)
    assert meta["image/png"] == {"width": w // 2, "height": h // 2}
    svg = tmp_path / "figures" / (hashlib.sha256(shown.png).hexdigest() + ".svg")
    assert [p.name for p in (tmp_path / "figures").iterdir()] == [svg.name]
    assert ET.fromstring(svg.read_bytes()).tag.endswith("svg")
    other = figure_files.shown(_figure(label="y", height=2.0), tmp_path / "figures")
    assert figure_files.vector_name(other.png) != svg.name and len(list((tmp_path / "figures").iterdir())) == 2
    plt.close("all")


def _doctree(uri: str):
    from docutils import nodes
    from docutils.utils import new_document
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser

    doc = new_document("page", get_default_settings(Parser))
    figure = nodes.figure()
    figure += nodes.image(uri=uri, width="330px")
    figure += nodes.caption(text="A caption.")
    doc += figure
    return doc


def test_the_click_target_is_the_svg_twin_when_there_is_one(tmp_path):
    from docutils import nodes

    from replication.assets import VECTOR_IMAGES, vector_targets

    sha = "ab" * 32
    (tmp_path / "src" / "book" / "data" / "figures").mkdir(parents=True)
    (tmp_path / "src" / "book" / "data" / "figures" / f"{sha}.svg").write_text("<svg/>")
    app = SimpleNamespace(srcdir=str(tmp_path / "src"), outdir=str(tmp_path / "out"))
    doc = _doctree(f"_build/jupyter_execute/{sha}.png")
    vector_targets(app, doc, "book/sharpness")
    (image,) = doc.findall(nodes.image)
    assert isinstance(image.parent, nodes.reference)
    assert image.parent["refuri"] == f"../{VECTOR_IMAGES}/{sha}.svg"
    assert (tmp_path / "out" / VECTOR_IMAGES / f"{sha}.svg").read_text() == "<svg/>"
    without = _doctree(f"_build/jupyter_execute/{'cd' * 32}.png")     # no twin: Sphinx's own link stays
    vector_targets(app, without, "book/sharpness")
    (image,) = without.findall(nodes.image)
    assert isinstance(image.parent, nodes.figure)


def test_a_figure_shown_from_a_file_links_to_its_twin_too(tmp_path, monkeypatch):
    from docutils import nodes

    from replication.assets import VECTOR_IMAGES, vector_targets

    book = tmp_path / "src" / "book"
    monkeypatch.chdir(book.mkdir(parents=True) or book)           # figure_files writes beside the notebook
    path = figure_files.saved(_figure(), "data/interpolation/surface.png")
    png = (book / path).read_bytes()
    assert figure_files.png_size(png)[0] > 600
    svg = book / "data" / "figures" / figure_files.vector_name(png)
    assert ET.fromstring(svg.read_bytes()).tag.endswith("svg")
    app = SimpleNamespace(srcdir=str(tmp_path / "src"), outdir=str(tmp_path / "out"))
    doc = _doctree("book/data/interpolation/surface.png")
    vector_targets(app, doc, "book/interpolation")
    (image,) = doc.findall(nodes.image)
    assert image.parent["refuri"] == f"../{VECTOR_IMAGES}/{svg.name}"
    plt.close("all")


NOTEBOOK = {"cells": [
    {"cell_type": "markdown", "source": "```{glue:figure} sh_fig_main\n:name: fig-sh-main\n\nCaption.\n```"},
    {"cell_type": "markdown", "source": ":::{glue:figure} other\n:figwidth: 100%\n:name: fig-other\n\nB.\n:::\n"},
    {"cell_type": "markdown", "source": "Prose with `{glue:figure}` in backticks only."},
]}


def test_figure_labels_map_to_their_glue_keys():
    assert reproduce.figure_keys(NOTEBOOK) == {"fig-sh-main": "sh_fig_main", "fig-other": "other"}


def test_figure_command_spells_the_build_parameters():
    line = reproduce.figure_command("sharpness", "fig-sh-main", {"profile": "laptop", "seeds": 2, "lrs": [0.1, 0.2]})
    assert line == "python -m replication figure sharpness fig-sh-main --profile laptop -p seeds=2 -p 'lrs=[0.1, 0.2]'"
    assert "/" not in reproduce.figure_command("sde", "fig-a", {"profile": "/home/x/my.yaml"}).split("--profile")[1]


def test_a_line_under_every_figure_after_its_paper_line():
    from replication.book import REPRODUCE, _figure_lines

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(NOTEBOOK["cells"][0]["source"]),
                  nbformat.v4.new_code_cell('nb.beside_paper("fig-sh-main", verdicts)'),
                  nbformat.v4.new_markdown_cell("Text."),
                  nbformat.v4.new_markdown_cell(NOTEBOOK["cells"][1]["source"])]
    _figure_lines(book, "sharpness", {"profile": "smoke"})
    kinds = [("line" if REPRODUCE in c.metadata else c.cell_type) for c in book.cells]
    assert kinds == ["markdown", "code", "line", "markdown", "markdown", "line"]
    assert "figure sharpness fig-sh-main --profile smoke" in book.cells[2].source
    assert "fig-other" in book.cells[5].source


def test_bad_figure_requests_fail_in_one_line_before_compute(tmp_path):
    with pytest.raises(ParameterError, match=r"figure='fig-nope': no such figure in chapter 'schedules'; figures: fig-"):
        reproduce.reproduce_figure("schedules", "fig-nope", profile="smoke")
    label = next(iter(reproduce.figure_keys(__import__("json").loads(reproduce.notebook_path("schedules").read_text()))))
    with pytest.raises(ParameterError, match=r"--output='x.jpg': the suffix must be one of \.svg, \.png, \.pdf"):
        reproduce.reproduce_figure("schedules", label, profile="smoke", output="x.jpg")
    with pytest.raises(ParameterError, match=r"chapter='nope'"):
        reproduce.reproduce_figure("nope", label, profile="smoke")
    with pytest.raises(ParameterError, match="seeds"):
        reproduce.reproduce_figure("schedules", label, profile="smoke", overrides={"seeds": -1})


def test_a_figure_the_profile_does_not_make_fails_in_one_line(tmp_path, monkeypatch):
    """The sharpness chapter's ResNet figure at the laptop profile: the page leaves it out, and the
    figure command says so in one line (not a traceback, not a placeholder)."""
    import json

    book = {"cells": [{"cell_type": "markdown", "source": NOTEBOOK["cells"][0]["source"], "metadata": {}},
                      {"cell_type": "code", "source": "x = 1", "metadata": {}}]}
    (tmp_path / "sde.ipynb").write_text(json.dumps(book))
    monkeypatch.setattr(reproduce, "notebook_path", lambda chapter: tmp_path / "sde.ipynb")
    with pytest.raises(ParameterError, match=r"^figure='fig-sh-main': book/sde.ipynb ran to its end without making "
                                             r"it at profile smoke \(glue key 'sh_fig_main'\); the page leaves") as info:
        reproduce.reproduce_figure("sde", "fig-sh-main", profile="smoke", output=tmp_path / "f.svg")
    assert "\n" not in str(info.value) and not (tmp_path / "f.svg").exists()


def test_reproduce_one_figure_from_the_store(tmp_path, monkeypatch):
    """End to end at the smoke profile: the file is the figure the page glues (its axes' labels)."""
    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    keys = reproduce.figure_keys(__import__("json").loads(reproduce.notebook_path("schedules").read_text()))
    label = next(iter(keys))
    out = reproduce.reproduce_figure("schedules", label, profile="smoke")
    assert out == Path(f"schedules-{label}.svg") and out.is_file()
    root = ET.fromstring(out.read_bytes())
    assert root.tag.endswith("svg") and len(out.read_bytes()) > 10_000
    png = reproduce.reproduce_figure("schedules", label, profile="smoke", output=tmp_path / "f.png")
    w, h = figure_files.png_size(png.read_bytes())
    assert w > 600 and h > 200
