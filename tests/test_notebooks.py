"""Chapter notebooks: committed without outputs, parameters cell = laptop profile, papermill-runnable."""
import ast
from pathlib import Path

import nbformat
import pytest

from replication import chapters, notebook, profiles

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def test_every_chapter_has_a_notebook_and_vice_versa():
    assert {p.stem for p in NOTEBOOKS} == set(chapters.names())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_source_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_defaults_equal_the_laptop_profile(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    index = tagged[0]
    before = "\n".join(c.source for c in nb.cells[:index] if c.cell_type == "code")
    assert "nb.start()" in before, "nb.start() must run before the parameters cell (it watches the injected names)"
    values = {}
    for node in ast.parse(nb.cells[index].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds plain assignments only"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    spec = chapters.get(path.stem).SPEC
    assert set(values) == {"profile"} | set(spec.names)
    assert values.pop("profile") == profiles.DEFAULT
    assert values == profiles.chapter_values(profiles.DEFAULT, path.stem)
    assert nb.cells[index].source == notebook.parameters_source(path.stem), (
        f"{path.name}: parameters cell out of date; run: python -m replication notebook-params {path.stem}")
    after = "\n".join(c.source for c in nb.cells[index + 1:] if c.cell_type == "code")
    assert f'chapter_params("{path.stem}", globals())' in after


@pytest.mark.slow
def test_bad_parameter_fails_fast_in_papermill(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "store"))
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(ROOT / "book" / "sde.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke", "seeds": 0}, progress_bar=False,
                                   cwd=str(ROOT / "book"))
    assert info.value.ename == "ParameterError"
    assert info.value.evalue.startswith("seeds=0: must be an integer, in [2, 1000]")
    assert not (tmp_path / "store").exists(), "nothing computed before the parameters were checked"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(ROOT / "book" / "sde.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke", "sedes": 4}, progress_bar=False,
                                   cwd=str(ROOT / "book"))
    assert info.value.evalue.startswith("sedes=4: unknown parameter of chapter 'sde'")
