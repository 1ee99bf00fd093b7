"""The staged notebooks as pages: parameter cells left out of the page (still in the notebook for
papermill), one line with the command that reproduces the page."""
import shlex

import nbformat
import pytest
import yaml

from replication import book


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"),
                nbformat.v4.new_code_cell("nb.start()", metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_code_cell('profile = "laptop"\nseeds = 3', metadata={"tags": ["parameters", "hide-input"]}),
                nbformat.v4.new_code_cell('# Parameters\nprofile = "smoke"', metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("params = nb.chapter_params('sde', globals())",
                                          metadata={"tags": ["hide-input"]})]
    nbformat.write(nb, path)
    return path


def test_parameter_cells_leave_the_page_and_one_line_reproduces_it(tmp_path):
    path = _notebook(tmp_path / "sde.ipynb")
    parameters = {"profile": "smoke", "seeds": 4, "quad_ratios": [0.001, 0.004]}
    book.present(path, "sde", parameters)
    book.present(path, "sde", parameters)                 # a reused stage is presented again: still one line
    cells = nbformat.read(path, as_version=4).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    assert tags[2] == ["parameters", "remove-cell"] and tags[3] == ["injected-parameters", "remove-cell"]
    assert tags[5] == ["hide-input"], "other cells keep their tags"
    lines = [c for c in cells if book.REPRODUCE in c.metadata]
    assert len(lines) == 1 and cells.index(lines[0]) == 4, "right after the parameters papermill injected"
    command = lines[0].source.split("`")[1]
    words = shlex.split(command)
    assert words[:3] == ["papermill", "book/sde.ipynb", "sde.ipynb"]
    assert words[words.index("profile") + 1] == "smoke" and words[words.index("seeds") + 1] == "4"
    assert yaml.safe_load(words[words.index("-y") + 1]) == {"quad_ratios": [0.001, 0.004]}


def test_a_profile_file_is_named_without_its_folder(tmp_path):
    command = book.reproduce_command("width", {"profile": str(tmp_path / "mine.yaml")})
    assert command == "papermill book/width.ipynb width.ipynb -p profile mine.yaml"
    assert str(tmp_path) not in command


def test_the_introduction_hides_its_parameters_without_a_line(tmp_path):
    path = _notebook(tmp_path / "intro.ipynb")
    book.present(path, book.INTRO, {"profile": "smoke"})
    cells = nbformat.read(path, as_version=4).cells
    assert "remove-cell" in cells[2].metadata["tags"] and "remove-cell" in cells[3].metadata["tags"]
    assert not [c for c in cells if book.REPRODUCE in c.metadata]


@pytest.mark.parametrize("tags", [[], ["remove-input"]])
def test_a_notebook_without_parameters_is_left_as_it_is(tmp_path, tags):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": tags})]
    nbformat.write(nb, tmp_path / "x.ipynb")
    before = (tmp_path / "x.ipynb").read_text()
    book.present(tmp_path / "x.ipynb", "x", {"profile": "smoke"})
    assert (tmp_path / "x.ipynb").read_text() == before


def test_download_links_follow_the_exported_names(tmp_path):
    path = _notebook(tmp_path / "invariance.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "{download}`numbers <data/invariance/curves.csv>`, {download}`more <data/invariance/noise.csv>`"))
    nbformat.write(nb, path)
    (tmp_path / "data" / "invariance").mkdir(parents=True)
    (tmp_path / "data" / "invariance" / "invariance-curves.csv").write_text("x\n")
    book.present(path, "invariance", {"profile": "smoke"})
    text = nbformat.read(path, as_version=4).cells[-1].source
    # the exported file is linked; a link to a file export did not write is left for Sphinx to report
    assert "<data/invariance/invariance-curves.csv>" in text and "<data/invariance/noise.csv>" in text


def _glued(name):
    """A code cell's output as myst-nb's glue writes it (display=False: behind a mime prefix)."""
    return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "x"},
                                  metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


def test_a_figure_the_profile_does_not_make_leaves_the_page_only_where_its_cell_says_it_may(tmp_path):
    """A figure cell tagged if-glued whose figure the notebook did not glue leaves the page, caption, link
    and reproduce line with it; one whose figure was glued stays; an untagged unglued figure stays (the
    build then fails on it, as it should)."""
    path = _notebook(tmp_path / "sharpness.ipynb")
    nb = nbformat.read(path, as_version=4)
    code = nbformat.v4.new_code_cell("nb.glue('shown', fig)")
    code.outputs = [_glued("shown")]

    def figure(key, label, tags):
        return nbformat.v4.new_markdown_cell(f"```{{glue:figure}} {key}\n:name: {label}\n\nCaption "
                                             f"{{download}}`numbers <data/sharpness/{label}.csv>`.\n```",
                                             metadata={"tags": tags})

    nb.cells += [code, figure("shown", "fig-shown", [book.IF_GLUED]), figure("absent", "fig-absent", [book.IF_GLUED]),
                 figure("forgotten", "fig-forgotten", [])]
    nbformat.write(nb, path)
    book.present(path, "sharpness", {"profile": "smoke"})
    book.present(path, "sharpness", {"profile": "smoke"})
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert "fig-shown" in text and "figure sharpness fig-shown --profile smoke" in text
    assert "fig-absent" not in text and "absent" not in text
    assert "fig-forgotten" in text


def test_a_new_benchmark_record_re_executes_the_chapters_that_show_it(tmp_path, monkeypatch):
    """The reuse fingerprint covers the measurement records pages read (benchmarks/results), not only
    the notebook, its parameters and the package: the appendix showed a replaced record's old table."""
    from replication import book, paths

    notebook = tmp_path / "appendix.ipynb"
    notebook.write_text("{}")
    records = tmp_path / "benchmarks" / "results"
    records.mkdir(parents=True)
    (records / "sweep_vm.md").write_text("| S | ratio |\n| 16 | 1.98× |\n")
    monkeypatch.setattr(paths, "checkout_root", lambda: tmp_path)
    before = book._fingerprint(notebook, {"profile": "laptop"})
    assert book._fingerprint(notebook, {"profile": "laptop"}) == before               # stable
    (records / "sweep_vm.md").write_text("| S | ratio |\n| 16 | 2.05× |\n")
    remeasured = book._fingerprint(notebook, {"profile": "laptop"})
    (records / "gpu-check_h200.json").write_text("{}")
    assert len({before, remeasured, book._fingerprint(notebook, {"profile": "laptop"})}) == 3
