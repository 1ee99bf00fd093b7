"""The bill before the work: FLOP counts against closed forms, measured timings preferred and
interpolated, stored runs not billed, and the command line."""
import json

import pytest

from replication import planning
from replication.runs import grid, train_all
from replication.store import ResultStore
from replication.train import TrainConfig


def test_mlp_flops_match_the_closed_form():
    train, evaluate = planning.flops_per_example("mlp", json.dumps({"hidden": [16]}), "fashion-mnist")
    forward = 2 * (784 * 16 + 16 * 10)          # a multiply-add per weight, per example
    assert evaluate == forward
    assert 2 * forward <= train <= 3 * forward  # backward: weight gradients, and input gradients past layer 1


def test_epoch_time_interpolates_a_step_cost_and_an_example_cost():
    measured = (128, 10.0, 1024, 4.0)
    assert planning.epoch_seconds_at(measured, 128) == pytest.approx(10.0)
    assert planning.epoch_seconds_at(measured, 1024) == pytest.approx(4.0)
    assert planning.epoch_seconds_at(measured, 64) > 10.0 > planning.epoch_seconds_at(measured, 256) > 4.0


def test_measured_records_are_read_and_quick_or_cpu_ones_ignored(tmp_path):
    table = ("| model | params | data | s/epoch @128 | s/epoch @1024 | eval s (@128 run) | HVP s (samples) | smoke |\n"
             "|---|---|---|---|---|---|---|---|\n| vgg11 | 9,231,114 | cifar10 | 6.00 | 3.00 | 0.5 | 0.01 (2000) | 4, 1.0, 0, vmap |\n")
    (tmp_path / "gpu-check_h200.md").write_text("# GPU check: cuda (NVIDIA H200)\n\nDevice: cuda (NVIDIA H200)\n\n" + table)
    (tmp_path / "gpu-check_vm.md").write_text("# GPU check: cpu (quick mode: tiny sizes, numbers mean nothing)\n\n"
                                               "Device: cpu\n\n" + table.replace("vgg11", "resnet20"))
    assert planning.measured_epoch_seconds(tmp_path) == {"vgg11": (128, 6.0, 1024, 3.0)}


def test_stored_runs_are_not_billed(tmp_path):
    base = TrainConfig(dataset="fashion-mnist", n_train=256, n_val=128, n_test=128, model="mlp",
                       model_options={"hidden": (8,)}, epochs=1, batch_size=64)
    configs = grid(base, lr=[0.05, 0.1], seed=[0, 1])
    store = ResultStore(tmp_path)
    before = planning.bill("x", configs, store)
    assert (before.runs, before.stored, before.epochs) == (4, 0, 4) and before.seconds == before.seconds_all > 0
    assert before.basis == "unmeasured estimate"
    train_all(configs[:2], store=store, progress=False)
    after = planning.bill("x", configs + configs[:1], store)      # duplicates count once
    assert (after.runs, after.stored, after.epochs) == (4, 2, 2)
    assert after.seconds == pytest.approx(before.seconds / 2) and after.seconds_all == before.seconds_all
    assert planning.bill("y", None, store).basis == "not planned"


def test_plan_command_prints_the_bill(capsys, monkeypatch, tmp_path):
    from replication.cli import main

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path))
    assert main(["plan", "--profile", "paper"]) == 0
    out = capsys.readouterr().out
    assert "device-hours on cuda" in out and "unmeasured" in out
    assert main(["plan", "nosuch"]) == 2


def test_appendix_bill_table_states_a_shared_basis_once():
    from replication.chapters import appendix
    from replication.notebook import numbered_tables

    def bill(chapter, basis, hours):
        return planning.ChapterBill(chapter, runs=3, stored=0, epochs=30, seconds=hours * 3600,
                                    seconds_all=hours * 3600, basis=basis, epochs_all=30)

    same = {"bills": {"gpu": [bill("a", "unmeasured estimate", 1.0), bill("b", "unmeasured estimate", 0.5),
                              bill("c", "nothing to run", 0.0)]}}
    md = appendix.bill_table(same, "gpu")
    assert md.count("unmeasured estimate") == 1 and "| basis |" not in md.splitlines()[2]
    assert "| c |" not in md and md.splitlines()[-1] == "| all chapters | 6 | | 1.50 |"
    assert numbered_tables(md).startswith(":::{table} The bill of the `gpu` profile.")
    mixed = {"bills": {"gpu": [bill("a", "measured", 1.0), bill("b", "unmeasured estimate", 0.5)]}}
    md = appendix.bill_table(mixed, "gpu")
    assert "basis |" in md.splitlines()[2] and "| a | 3 | 30 | 1.00 | measured |" in md
