"""The training engine: run configs, the single-run loop, grids through the store, the CLI."""
import dataclasses
import math
import os

import pytest
import torch
from torch import nn

from replication import runs
from replication.cli import main as cli_main
from replication.config import ConfigError
from replication.hessian import HessianOperator, lanczos
from replication.schedules import step
from replication.runs import train_stored
from replication.train import TrainConfig, hessian_indices, load_model, prepare_split, train

TINY = TrainConfig(n_train=600, n_val=200, model="mlp", model_options={"hidden": (24,)}, lr=0.1, batch_size=50,
                   epochs=2, seed=0)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny problems: one thread (see conftest)."""


@pytest.mark.parametrize("change, message", [
    (dict(dataset="cifar"), r"^dataset='cifar': one of fashion-mnist, mnist, cifar10$"),
    (dict(n_train=59_000, n_val=5_000), r"^n_train=59000: null \(all\) or an integer in \[1, 55000\]"),
    (dict(batch_size=601), r"^batch_size=601: an integer in \[1, 600\]"),
    (dict(lr=-0.1), r"^lr=-0.1: "),
    (dict(momentum=1.0), r"^momentum=1.0: in \[0, 1\)$"),
    (dict(augment=True), r"^augment=True: false unless dataset='cifar10'"),
    (dict(model="resnet"), r"^model='resnet': one of mlp"),
    (dict(model_options={"width": 2}), r"^model_options=\{'width': 2\}: mlp: unknown option"),
    (dict(bs_schedule={"kind": "step", "milestones": [1], "factor": 20.0}),
     r"^bs_schedule='step\(milestones=\[1\], factor=20.0\)': batch sizes in \[1, 600\] at every epoch; epoch 1 gives 1000$"),
    (dict(lr_schedule={"kind": "triangle"}), r"^lr_schedule: kind='triangle': one of "),
    (dict(hessian_epochs=(3,)), r"^hessian_epochs=\(3,\): a list of epochs in \[0, 2\]"),
    (dict(device="gpu"), r"^device='gpu': cpu, cuda or cuda:N$"),
])
def test_config_validation_is_one_line_naming_the_field(change, message):
    with pytest.raises(ConfigError, match=message) as info:
        dataclasses.replace(TINY, **change)
    assert "\n" not in str(info.value)


def test_config_key_is_stable_and_json_round_trips():
    a = TrainConfig(n_train=600, model_options={"hidden": [24]}, lr=1, lr_schedule={"kind": "step", "milestones": [1]})
    b = TrainConfig(n_train=600, model_options=(("hidden", (24,)),), lr=1.0, lr_schedule=step((1,), 0.1))
    assert a == b and a.key == b.key and hash(a) == hash(b)
    assert TrainConfig.from_dict(a.to_dict()) == a
    assert a.key != dataclasses.replace(a, seed=1).key
    assert a.to_dict()["lr_schedule"] == {"kind": "step", "milestones": [1], "factor": 0.1}
    assert [a.lr_at(e) for e in range(3)] == pytest.approx([1.0, 0.1, 0.1])


def test_same_seed_same_history_seed_matters_and_schedules_are_logged():
    cfg = dataclasses.replace(TINY, label_noise=0.25, bs_schedule=step((1,), 2.0), lr_schedule=step((1,), 0.5),
                              momentum=0.9, weight_decay=1e-4, hessian_epochs=(0, 2), hessian_samples=64)
    a, b = train(cfg), train(cfg)
    assert a["history"] == b["history"] and a["hessian"][0]["lambda_max"] == b["hessian"][0]["lambda_max"]
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]) and v.device.type == "cpu"
    h = a["history"]
    assert h["epoch"] == [1, 2] and h["batch_size"] == [50, 100] and h["steps"] == [12, 6]  # 600 // S
    assert h["lr"] == pytest.approx([0.1, 0.05]) and h["ratio"] == pytest.approx([0.002, 0.0005])
    assert set(h) >= {"train_loss", "val_acc", "test_acc", "memorized_acc", "clean_acc", "corrupted_true_acc"}
    assert [p["epoch"] for p in a["hessian"]] == [0, 2] and all(p["n_hvp"] >= 2 for p in a["hessian"])
    assert a["split"]["n_corrupted"] > 100 and not a["diverged"]
    c = train(dataclasses.replace(cfg, seed=1))
    assert c["history"]["train_loss"] != h["train_loss"]


def test_metrics_parameters_and_hessian_probe_are_what_they_say():
    cfg = dataclasses.replace(TINY, label_noise=0.5, epochs=3, hessian_epochs=(3,), hessian_samples=100)
    out = train(cfg)
    split = prepare_split(cfg)
    final = load_model(cfg, out)
    with torch.no_grad():
        pred = final(split.x_train).argmax(1)
        noisy = split.noisy_mask
        assert out["final"]["memorized_acc"] == (pred[noisy] == split.y_train[noisy]).sum().item() / noisy.sum().item()
        assert out["final"]["clean_acc"] == (pred[~noisy] == split.y_train[~noisy]).sum().item() / (~noisy).sum().item()
        loss = nn.functional.cross_entropy(final(split.x_train), split.y_train).item()
        assert out["final"]["train_loss"] == pytest.approx(loss, rel=1e-5)
        best = load_model(cfg, out, which="best")
        assert (best(split.x_val).argmax(1) == split.y_val).sum().item() / split.n_val == out["best_val_acc"]
    assert out["best_val_acc"] == max(out["history"]["val_acc"])
    H = HessianOperator(final, nn.CrossEntropyLoss(), split.x_train, split.y_train, mode="eval",
                        indices=hessian_indices(cfg))
    ref = lanczos(H, k=1, tol=1e-6, seed=5).eigenvalues[0]
    probe = out["hessian"][0]
    assert probe["converged"] and abs(probe["lambda_max"] - ref) <= 2e-3 * ref


def test_divergence_ends_the_run_without_raising(store):
    configs = runs.grid(dataclasses.replace(TINY, epochs=4), lr=[0.1, 1e5])
    results = runs.train_all(configs, store=store, progress=False, ensemble=False)
    ok, bad = (r.payload for r in results)
    assert not ok["diverged"] and ok["epochs_completed"] == 4
    assert bad["diverged"] and bad["epochs_completed"] == bad["diverged_epoch"] < 4
    assert not math.isfinite(bad["history"]["train_loss"][-1])


def test_grid_is_the_cartesian_product_and_checks_its_axes():
    configs = runs.grid(TINY, lr=[0.1, 0.2], seed=[0, 1, 2])
    assert [(c.lr, c.seed) for c in configs] == [(0.1, 0), (0.1, 1), (0.1, 2), (0.2, 0), (0.2, 1), (0.2, 2)]
    with pytest.raises(ConfigError, match=r"^axis='learning_rate': a TrainConfig field"):
        runs.grid(TINY, learning_rate=[0.1])
    with pytest.raises(ConfigError, match=r"^batch_size=1000: "):
        runs.grid(TINY, batch_size=[10, 1000])
    pair = [dict(lr=0.1, batch_size=50), dict(lr=0.2, batch_size=100)]
    assert [(c.lr, c.batch_size) for c in runs.grid(TINY, overrides=pair)] == [(0.1, 50), (0.2, 100)]


def test_train_all_stores_each_run_under_its_own_key_and_resumes(store, monkeypatch):
    configs = runs.grid(dataclasses.replace(TINY, epochs=1), lr=[0.05, 0.1], seed=[0, 1]) + [
        dataclasses.replace(TINY, epochs=1, model_options={"hidden": (8,)})]
    calls = []
    real = runs.train_ensemble

    def interrupted(cfgs, progress=None, checkpoint=None):   # the ensemble group is "in flight" when killed
        calls.append(len(cfgs))
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "train_ensemble", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs.train_all(configs[::-1], store=store, progress=False)   # the single run goes first
    assert calls == [4] and configs[4] in store and not any(c in store for c in configs[:4])
    monkeypatch.setattr(runs, "train_ensemble", real)
    results = runs.train_all(configs, store=store, progress=False)
    assert [r.from_store for r in results] == [False] * 4 + [True]
    assert (results.tally.stored, results.tally.computed) == (1, 4)
    assert results.tally.wall_time == pytest.approx(sum(r.wall_time for r in results[:4]))
    assert all(r.payload["trained_as"] == "vmapped ensemble of 4" for r in results[:4])
    single = train_stored(configs[1], store)                          # a later single call finds it
    assert single.from_store and single.provenance["data"]["canonical"]
    assert single.provenance["data"]["fingerprint"] == results[1].provenance["data"]["fingerprint"]
    again = runs.train_all(configs + configs[:1], store=store, progress=False)
    assert all(r.from_store for r in again) and again[-1].key == again[0].key
    assert (again.tally.stored, again.tally.computed, again.tally.wall_time) == (5, 0, 0.0)   # each run once


def test_progress_counts_whole_epochs_and_ends_at_its_total(store, monkeypatch):
    import tqdm

    bars = []
    real = tqdm.tqdm

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    configs = runs.grid(dataclasses.replace(TINY, epochs=3), lr=[0.05, 1e5], seed=[0, 1]) + [
        dataclasses.replace(TINY, epochs=3, model_options={"hidden": (8,)}, lr=1e5)]
    runs.train_all(configs, store=store, progress=True)
    (bar,) = bars
    assert bar.total == 15 and bar.n == 15 and isinstance(bar.n, int)   # diverged runs credit their rest


def test_accept_unverified_from_the_environment_reaches_training_runs(store, isolated_data, tmp_path, monkeypatch):
    import numpy as np

    from replication import data
    from replication.train import TrainConfig

    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, shape in (("train-images-idx3-ubyte", (60, 28, 28)), ("t10k-images-idx3-ubyte", (20, 28, 28))):
        a = rng.integers(0, 256, shape)
        (mirror / name).write_bytes(np.array([2051, *shape], dtype=">i4").tobytes() + a.astype(np.uint8).tobytes())
    for name, n in (("train-labels-idx1-ubyte", 60), ("t10k-labels-idx1-ubyte", 20)):
        (mirror / name).write_bytes(np.array([2049, n], dtype=">i4").tobytes() + (np.arange(n) % 10).astype(np.uint8).tobytes())
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    cfg = TrainConfig(dataset="mnist", n_train=40, n_val=10, n_test=20, model_options={"hidden": (8,)},
                      batch_size=10, epochs=1)
    with pytest.raises(data.DataVerificationError):
        runs.train_all([cfg], store=store, progress=False)
    monkeypatch.setenv("REPLICATION_ACCEPT_UNVERIFIED", "1")
    with pytest.warns(UserWarning, match="REPLICATION_ACCEPT_UNVERIFIED"):
        (result,) = runs.train_all([cfg], store=store, progress=False)
    assert result.provenance["data"]["canonical"] is False
    assert "UNVERIFIED" in result.provenance["data"]["source"]


def test_cli_train_validates_before_computing_and_prints_one_line_per_run(store, tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("base: {n_train: 600, lr: 0.1, epoch: 2}\naxes: {seed: [0, 1]}\n")
    assert cli_main(["train", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: base.epoch=2: unknown field") and "\n" not in err
    bad.write_text("base: {n_train: 600, n_val: 100}\naxes: {batch_size: [64, 700]}\n")
    assert cli_main(["train", str(bad), "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("error: batch_size=700: an integer in [1, 600]")
    good = tmp_path / "grid.yml"
    good.write_text("base: {n_train: 300, n_val: 100, model_options: {hidden: [8]}, epochs: 1, batch_size: 100}\n"
                    "axes: {lr: [0.1, 0.2]}\n")
    assert cli_main(["train", str(good), "--device", "cpu", "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and "val_acc=" in lines[1] and "diverged=False" in lines[2]
    assert str(store.root) in lines[-1]


def _gpu_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_without_cuda_says_so_and_exits_0(capsys):
    assert _gpu_check().main([]) == 0
    assert "CUDA is not available" in capsys.readouterr().out


def test_gpu_check_quick_cpu_mode_runs_every_model(store, tmp_path, monkeypatch):
    import os

    from replication import models

    monkeypatch.delenv("REPLICATION_DATA_DIR", raising=False)
    def replication_env():
        return {k: v for k, v in os.environ.items() if k.startswith("REPLICATION_")}

    before = replication_env()
    out = tmp_path / "gpu-check.md"
    with pytest.warns(UserWarning):                      # the synthetic CIFAR-10 is loaded as unverified
        assert _gpu_check().main(["--device", "cpu", "--quick", "--sections", "timings", "precision",
                                  "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# GPU check: CPU") and replication_env() == before
    for name in models.MODEL_NAMES:
        assert f"| {name}" in text
    assert "vmapped ensemble of 4" in text and "bit-identical" in text and "Data cifar10:" in text
    _check_precision_section(text, out.with_suffix(".json"), tmp_path)


def test_gpu_check_precision_section_alone_says_which_networks_it_did_not_measure(store, tmp_path, monkeypatch):
    import json

    monkeypatch.delenv("REPLICATION_DATA_DIR", raising=False)
    out = tmp_path / "gpu-check_vm-precision.md"
    assert _gpu_check().main(["--device", "cpu", "--quick", "--sections", "precision", "--models", "mlp",
                              "--output", str(out)]) == 0
    text = out.read_text()
    assert "s/epoch @" not in text and "## Precision bound" in text
    assert "Data fashion-mnist:" in text and "Data cifar10:" not in text    # a section obtains only what it trains on
    for name in ("vgg11", "resnet32", "resnet56"):
        assert f"| {name} | | | | | | | | not measured (left out by --models) |" in text
    assert "| mlp | bf16 | 8 |" in text
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["timings"] == [] and [e["status"] for e in record["precision"]["runs"]].count("measured") == 1


def test_gpu_check_chapters_section_runs_chapters_at_smoke_and_a_failure_is_one_line(store, tmp_path, monkeypatch):
    """The chapters section: each chapter's compute at smoke (no notebook, no Jupyter importable), a row
    with seconds, the tally and the verdicts' outcomes; data that is not canonical accepted explicitly
    (the chapter's parameter, else the environment variable, restored after); a chapter that raises is one
    line and the next still runs; nothing lands in the default store."""
    import json
    import os
    import sys

    from replication import chapters

    for name in ("nbformat", "papermill", "IPython", "ipykernel", "myst_nb", "jupyter_book", "torchvision"):
        monkeypatch.setitem(sys.modules, name, None)          # as on the GPU machine: none of them installed
    monkeypatch.delenv("REPLICATION_DATA_DIR", raising=False)
    monkeypatch.delenv("REPLICATION_ACCEPT_UNVERIFIED", raising=False)

    def boom(params, *, store=None, progress=True):
        raise RuntimeError("CUDA error: an illegal memory access\nwas encountered | at step 3")

    monkeypatch.setattr(chapters.get("memorization"), "compute", boom)
    check = _gpu_check()
    obtain = check._obtain

    def pretend_not_canonical(name, *args):       # as if Fashion-MNIST were a stand-in: accepted, and said so
        accept, how = obtain(name, *args)
        return (True, "NOT canonical: pretend") if name == "fashion-mnist" else (accept, how)

    monkeypatch.setattr(check, "_obtain", pretend_not_canonical)
    before = {k: v for k, v in os.environ.items() if k.startswith("REPLICATION_")}
    out = tmp_path / "gpu-check_vm-chapters.md"
    assert check.main(["--device", "cpu", "--quick", "--sections", "chapters",
                       "--chapters", "width", "sde", "memorization", "sweep", "--output", str(out)]) == 0
    assert {k: v for k, v in os.environ.items() if k.startswith("REPLICATION_")} == before
    text = out.read_text()
    assert "## Chapters at the smoke profile" in text and "s/epoch @" not in text and "## Precision" not in text
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ") and not line.startswith("| chapter")}
    assert list(rows) == ["width", "sde", "memorization", "sweep"]
    for name in ("width", "sde", "sweep"):
        cells = rows[name]
        assert cells[-1] == "done" and float(cells[3]) > 0 and int(cells[5]) > 0, cells
        computed, stored = (int(n) for n in cells[4].split(", "))
        assert computed > 0 and stored >= 0
        assert sum(int(part.split()[-1]) for part in cells[6].split(", ")) == int(cells[5])
    assert rows["width"][2] == "fashion-mnist non-canonical (accepted: REPLICATION_ACCEPT_UNVERIFIED=1)"
    assert rows["sweep"][2] == "fashion-mnist non-canonical (accepted: accept_unverified_data=True)"
    assert rows["sde"][1:3] == ["cpu", "none"]
    failed = rows["memorization"][-1]
    assert failed == "**failed**: RuntimeError: CUDA error: an illegal memory access was encountered / at step 3"
    assert "Traceback" not in text and "Chapters: 3 of 4 computed without error" in text
    record = json.loads(out.with_suffix(".json").read_text())
    entries = {e["chapter"]: e for e in record["chapters"]["runs"]}
    assert entries["memorization"]["status"] == "failed" and entries["sweep"]["status"] == "done"
    assert sum(entries["sweep"]["outcomes"].values()) == entries["sweep"]["verdicts"] == len(entries["sweep"]["verdict_ids"])
    assert record["finished"] == ["chapters"] and record["timings"] == [] and record["precision"] is None
    assert not (store.root / "verdicts").exists()                  # the check's own temporary store only
    from replication import gpu_records

    assert gpu_records.measured_epoch_seconds(tmp_path) == {}     # the one reader takes such a record in its stride
    # past --time-limit nothing starts, and each chapter says so
    assert check.main(["--device", "cpu", "--quick", "--sections", "chapters", "--chapters", "sde",
                       "--time-limit", "0", "--output", str(out)]) == 0
    assert "| sde | | | | | | | | not run (time limit of 0 s reached) |" in out.read_text()


def _check_precision_section(text, path, tmp_path):
    """The precision bound: a row of numbers and a verdict per network in the report, and a JSON record
    that replication.gpu_records reads (once it is marked as a CUDA run: quick CPU records bound nothing)."""
    import json
    import math
    import re

    from replication import gpu_records

    section = text.split("## Precision bound: bf16 + channels-last against float32", 1)[1]
    assert "Tolerance of the bound: test accuracy within 1 point" in section
    number = r"[−+]?\d+(?:\.\d+)?"
    for name, variant in (("vgg11", "bf16 + channels-last"), ("resnet32", "bf16 + channels-last"),
                          ("resnet56", "bf16 + channels-last"), ("mlp", "bf16")):
        row = next(line for line in section.splitlines() if line.startswith(f"| {name}"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == variant and int(cells[2]) == 8, row
        for cell in cells[3:6]:                                  # loss, accuracy, λ_max: f32 → bf16 (Δ)
            assert re.fullmatch(rf"{number} → {number} \({number}(?: %)?\)", cell), row
        assert re.fullmatch(rf"{number} → {number} \({number}×\)", cells[7]), row
        assert re.match(r"(within|\*\*outside\*\*) \(quick mode: not a bound\)", cells[8]), row
    record = json.loads(path.read_text())
    assert record["format"] == gpu_records.FORMAT and record["quick"] and record["device"] == "cpu"
    runs = {e["model"]: e for e in record["precision"]["runs"]}
    assert set(runs) == {"vgg11", "resnet32", "resnet56", "mlp"} and all(e["status"] == "measured" for e in runs.values())
    for e in runs.values():
        for key in ("float32", "bf16", "reference"):
            assert all(math.isfinite(e[key][k]) for k in ("train_loss", "test_acc", "lambda_max", "epoch_s"))
        assert e["within"] == gpu_records.within(e["deltas"], record["precision"]["tolerance"])
    assert gpu_records.precision_bound("mlp", path.parent) is None          # a quick CPU record bounds nothing
    folder = tmp_path / "as-if-cuda"
    folder.mkdir()
    (folder / "gpu-check_x.json").write_text(json.dumps({**record, "quick": False, "device": "cuda"}))
    bound = gpu_records.precision_bound("mlp", folder)
    assert bound.steps == 8 and bound.float32["test_acc"] == runs["mlp"]["float32"]["test_acc"]
    assert bound.deltas == pytest.approx(runs["mlp"]["deltas"]) and bound.data == record["data"]["fashion-mnist"]["kind"]
    assert (gpu_records.precision_bound("vgg11", folder) is None) == (record["data"]["cifar10"]["kind"] == "random")
    assert set(gpu_records.measured_epoch_seconds(folder)) == {r["model"] for r in record["timings"]}
