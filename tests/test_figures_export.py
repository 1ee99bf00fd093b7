"""The numbers behind a figure travel with what made them, under a name unique across the book."""
import csv
import json

import pytest

from replication import figures, notebook

PROV = {"code_version": "0.1.0+gabc1234567", "device": "cpu (Test CPU, 1 threads)", "host": "h"}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_carries_profile_code_version_and_device(tmp_path):
    rows = [{"eta": 0.1, "S": 50, "seed": 0, "acc": float("nan")}, {"eta": 0.2, "S": 50, "seed": 1, "acc": 0.9}]
    path = figures.export("invariance", "curves", rows, meta={"provenance": PROV, "profile": "smoke"},
                          folder=tmp_path / "data")
    assert path.endswith("data/invariance/invariance-curves.csv")
    read = _read(path)
    assert list(read[0]) == ["eta", "S", "seed", "acc", "profile", "code_version", "device"]
    assert {(r["profile"], r["code_version"], r["device"]) for r in read} == \
        {("smoke", "0.1.0+gabc1234567", "cpu (Test CPU, 1 thread)")}
    assert read[0]["acc"] == "" and read[1]["acc"] == "0.9"
    assert json.loads((tmp_path / "data" / "invariance" / "invariance-curves.json").read_text())["profile"] == "smoke"


def test_the_downloaded_json_names_no_folder_of_the_machine(tmp_path):
    source = "verified cache /home/alice/.cache/data/FashionMNIST/raw (from Debian package x (/usr/share/datasets/x))"
    data = {"name": "fashion-mnist", "source": source, "fingerprint": "5c76"}
    meta = {"provenance": dict(PROV, data=data), "profile": "smoke", "runs": [{"data": data, "eta/S": "η/S"}]}
    figures.export("invariance", "final", [{"eta": 0.1}], meta=meta, folder=tmp_path / "data")
    written = json.loads((tmp_path / "data" / "invariance" / "invariance-final.json").read_text())
    assert written["provenance"]["data"]["source"] == "verified cache (from Debian package x )"
    assert written["runs"][0]["data"] == dict(data, source=written["provenance"]["data"]["source"])
    assert written["runs"][0]["eta/S"] == "η/S" and "/home/" not in json.dumps(written)   # other text kept


def test_names_are_unique_across_chapters(tmp_path):
    meta = {"provenance": PROV, "profile": "smoke"}
    paths = {figures.export(ch, "final", [{"x": 1}], meta=meta, folder=tmp_path) for ch in ("invariance", "schedules")}
    assert {p.rsplit("/", 1)[1] for p in paths} == {"invariance-final.csv", "schedules-final.csv"}
    # a name that already starts with its chapter is not doubled
    assert figures.export("memorization", "memorization-runs", [{"x": 1}], meta=meta, folder=tmp_path) \
        .endswith("/memorization/memorization-runs.csv")


def test_the_profile_comes_from_the_notebook_when_meta_has_none(tmp_path, monkeypatch):
    monkeypatch.setitem(notebook._state, "profile", "laptop")
    path = figures.export("schedules", "curves", [{"x": 1}], meta={"provenance": PROV}, folder=tmp_path)
    assert _read(path)[0]["profile"] == "laptop"
    # a rows' own column of the same name is kept, a profile file is named without its folder
    path = figures.export("schedules", "curves", [{"x": 1, "device": "cuda:0"}],
                          meta={"provenance": PROV}, folder=tmp_path, profile="/some/where/mine.yaml")
    assert _read(path)[0]["device"] == "cuda:0" and _read(path)[0]["profile"] == "mine"


def test_numbers_not_computed_say_so(tmp_path):
    from replication.provenance import code_version

    path = figures.export("schedules", "paper_numbers", [{"gain": 1.5}], meta={"source": "the paper"},
                          folder=tmp_path, profile="smoke")
    assert _read(path) == [{"gain": "1.5", "profile": "smoke", "code_version": code_version(),
                            "device": "none (not computed)"}]


@pytest.mark.parametrize("meta, message", [
    ({"provenance": "cpu", "profile": "smoke"}, "meta['provenance'] must be"),
    ({"provenance": {"device": "cpu"}, "profile": "smoke"}, "meta['provenance'] must be"),
    ({"provenance": PROV}, "no profile"),
])
def test_without_provenance_or_profile_nothing_is_written(tmp_path, monkeypatch, meta, message):
    monkeypatch.setitem(notebook._state, "profile", "")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        figures.export("sde", "ou", [{"x": 1}], meta=meta, folder=tmp_path)
    assert not list(tmp_path.rglob("*.csv"))


def test_without_paths_drops_a_folder_and_the_preposition_it_leaves_behind():
    from replication.figures import without_paths

    assert without_paths("lossy JPEG stand-in (STANDIN.txt present) in /data/cifar10") == \
        "lossy JPEG stand-in (STANDIN.txt present)"
    assert without_paths("read from ~/cache/x; verified") == "read; verified"
    assert without_paths("C:\\data\\x (in /tmp/y)") == ""
    assert without_paths("results in the store") == "results in the store"      # no path: words kept


def test_a_caption_names_a_profile_file_without_its_folder():
    from replication.figures import provenance_text

    prov = {"device": "cpu", "code_version": "abc", "data": {"name": "mnist", "canonical": True}}
    assert provenance_text(prov, profile="laptop").startswith("Computed with profile laptop;")
    mine = provenance_text(prov, profile="/home/someone/lab/mine.yaml")
    assert "profile mine.yaml;" in mine and "/home" not in mine
