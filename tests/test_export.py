"""A chapter's stored runs and verdicts leave the store as CSV and JSON, without computing anything."""
import csv
import json

from replication import verdict_files
from replication import chapters, claims
from replication.cli import main
from replication.chapters import resolve_spec as resolve
from replication.runs import train_all
from replication.store import ResultStore


def test_export_writes_stored_runs_and_verdicts_and_computes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "store"))
    params = resolve(chapters.get("memorization").SPEC, "smoke")
    configs = chapters.planned_runs("memorization", params)
    store = ResultStore(tmp_path / "store")
    train_all(configs[:2], store=store, progress=False)            # two of them stored, the rest not
    verdict_files.save("memorization", params.profile, [], params=params.as_dict(), store_root=store.root)
    assert main(["export", "memorization", "--profile", "smoke", "--output", str(tmp_path / "out")]) == 0
    folder = tmp_path / "out" / "memorization"
    rows = list(csv.DictReader(open(folder / "runs.csv")))
    assert len(rows) == len({c.key for c in configs})
    stored = [r for r in rows if r["stored"] == "True"]
    assert {r["key"] for r in stored} == {c.key for c in configs[:2]}
    assert all(r["final.train_acc"] for r in stored) and not any(r.get("final.train_acc") for r in rows if r not in stored)
    runs = json.loads((folder / "runs.json").read_text())
    first = next(r for r in runs if r["stored"])
    assert "state_dict" not in first["payload"] and first["payload"]["history"]["train_loss"]
    assert json.loads((folder / "verdicts.json").read_text())["chapter"] == "memorization"
    assert len(list(store.root.glob("train/*/record.json"))) == 2, "export computed nothing"
