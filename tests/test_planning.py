"""The bill before the work: FLOP counts against closed forms and linear in the batch, a run's cost
against its closed form, measured timings used where they exist and counted (not guessed) where the
calibration lacks a shape, a profile's bill as the sum of its chapters', stored runs not billed,
and the command line."""
import json

import pytest

from replication import planning
from replication.runs import grid, train_all
from replication.store import ResultStore
from replication.train import TrainConfig

EMPTY = {"machine": {}, "shapes": {}}


def mlp_config(**kw) -> TrainConfig:
    base = dict(dataset="fashion-mnist", n_train=1024, n_val=128, n_test=256, model="mlp",
                model_options={"hidden": (16, 8)}, epochs=3, batch_size=64)
    return TrainConfig(**{**base, **kw})


def closed_form_mlp(hidden=(16, 8), inputs=784, classes=10) -> tuple[int, int]:
    """(training, evaluation) FLOPs per example of a bias-carrying ReLU MLP as FlopCounterMode counts
    them: a Linear layer i -> o is one (i x o) matrix product, 2·i·o FLOPs per example forward; the
    backward pass adds 2·i·o for the weight gradient of every layer and 2·i·o for the input gradient
    of every layer but the first (the data needs no gradient); activations, biases and the loss are
    elementwise and not counted."""
    widths = (inputs, *hidden, classes)
    layers = [(i, o) for i, o in zip(widths, widths[1:])]
    forward = sum(2 * i * o for i, o in layers)
    return 3 * forward - 2 * layers[0][0] * layers[0][1], forward


def test_mlp_flops_match_the_closed_form():
    shape = planning.Shape.of(mlp_config())
    train, evaluate = closed_form_mlp()
    for batch in (1, 3, 8):
        c = planning.count_step(shape, batch)
        assert (c["train_flops"], c["eval_flops"]) == (batch * train, batch * evaluate)
    per_example = planning.counted(shape)
    assert (per_example["train_flops_per_example"], per_example["eval_flops_per_example"]) == (train, evaluate)


@pytest.mark.parametrize("model,options,dataset", [("mlp", {"hidden": (32,)}, "fashion-mnist"),
                                                   ("small_cnn", {"channels": (4, 8)}, "fashion-mnist")])
def test_flops_scale_linearly_with_the_batch(model, options, dataset):
    shape = planning.Shape.of(TrainConfig(dataset=dataset, model=model, model_options=options))
    one = planning.count_step(shape, 1)
    assert one["train_flops"] > one["eval_flops"] > 0 and one["ops"] > 0
    for batch in (2, 5, 16):
        c = planning.count_step(shape, batch)
        assert (c["train_flops"], c["eval_flops"]) == (batch * one["train_flops"], batch * one["eval_flops"])
        assert c["ops"] == one["ops"]          # the operators a step dispatches do not grow with the batch


def test_run_cost_is_the_closed_form_of_steps_evaluations_and_probes():
    cfg = mlp_config(bs_schedule={"kind": "table", "values": [1.0, 2.0, 4.0], "cycle": False},
                     hessian_epochs=(0, 3), hessian_samples=300, hessian_max_iter=7)
    train, evaluate = closed_form_mlp()
    cost = planning.ShapeCost(train, evaluate, ops=10, cpu_a=1e-3, cpu_b=2e-5, flops_source="test")
    c = planning.run_cost(cfg, cost)
    steps = [1024 // 64, 1024 // 128, 1024 // 256]
    assert c.steps == sum(steps) == 16 + 8 + 4 and c.epochs == 3
    flops = 3 * 1024 * train + 3 * (1024 + 128 + 256) * evaluate + 2 * 7 * 300 * planning.HVP_FACTOR * train
    assert c.flops == pytest.approx(flops)
    launches = (sum(steps) * 10 + 2 * 7 * planning.HVP_FACTOR * 10) * planning.LAUNCH_S
    assert c.device_s == pytest.approx(flops / planning.ASSUMED_DEVICE_FLOPS["float32"] + launches)
    cpu = sum(k * (1e-3 + 2e-5 * s) for k, s in zip(steps, (64, 128, 256)))
    assert c.cpu_s == pytest.approx(cpu + (flops - 3 * 1024 * train) * 2e-5 / train)
    assert (c.device_basis, c.cpu_basis) == ("assumed", "measured")
    shared = planning.run_cost(cfg, cost, share=4)
    assert c.device_s - shared.device_s == pytest.approx(launches * 3 / 4)   # an ensemble shares the launches
    bf16 = planning.run_cost(TrainConfig(**{**cfg.to_dict(), "precision": "bf16"}), cost)
    assert bf16.device_s < c.device_s and bf16.flops == c.flops


def test_hessian_probes_on_many_examples_launch_per_batch():
    cost = planning.ShapeCost(*closed_form_mlp(), ops=10, cpu_a=None, cpu_b=None, flops_source="test")
    one, three = (planning.run_cost(mlp_config(n_train=6000, hessian_epochs=(3,), hessian_samples=k,
                                               hessian_max_iter=5), cost) for k in (2500, 6000))
    flops = 5 * (6000 - 2500) * planning.HVP_FACTOR * cost.train_flops
    launches = 5 * 2 * planning.HVP_FACTOR * 10 * planning.LAUNCH_S        # two more batches of 2500 per HVP
    assert three.flops - one.flops == pytest.approx(flops)
    assert three.device_s - one.device_s == pytest.approx(flops / planning.ASSUMED_DEVICE_FLOPS["float32"] + launches)


def test_a_shape_missing_from_the_calibration_is_counted_not_guessed():
    cfg = mlp_config()
    shape = planning.Shape.of(cfg)
    missing = planning.shape_cost(shape, EMPTY)
    train, evaluate = closed_form_mlp()
    assert (missing.train_flops, missing.eval_flops, missing.flops_source) == (train, evaluate, "counted now")
    assert missing.cpu_a is None and planning.run_cost(cfg, missing).cpu_basis == "assumed"
    entry = {"train_flops_per_example": 2 * train, "eval_flops_per_example": evaluate, "ops_per_step": 3,
             "cpu_step_a_s": 1e-3, "cpu_step_b_s": 1e-5}
    present = planning.shape_cost(shape, {"machine": {}, "shapes": {shape.key: entry}})
    assert (present.train_flops, present.flops_source, present.cpu_b) == (2 * train, "calibration file", 1e-5)
    assert planning.run_cost(cfg, present).cpu_basis == "measured"


def test_the_committed_calibration_agrees_with_a_fresh_count():
    calibration = planning.load_calibration()
    machine, shapes = calibration["machine"], calibration["shapes"]
    assert shapes and {"cpu", "threads", "torch", "date"} <= set(machine)
    mlps = [entry for key, entry in shapes.items() if key.startswith("mlp ")]
    assert mlps
    for entry in mlps:
        hidden = tuple(entry["options"]["hidden"])
        train, evaluate = closed_form_mlp(hidden, classes=entry["n_classes"])
        assert (entry["train_flops_per_example"], entry["eval_flops_per_example"]) == (train, evaluate)
    for entry in shapes.values():
        a, b = entry["cpu_step_a_s"], entry["cpu_step_b_s"]
        assert a >= 0 and b >= 0 and a + b > 0


def test_bad_calibration_file_is_one_line(tmp_path):
    path = tmp_path / "plan_calibration.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="not a plan calibration"):
        planning.load_calibration(path)
    assert planning.load_calibration(tmp_path / "absent.json") == EMPTY


def test_measured_gpu_epochs_replace_the_assumed_throughput():
    cfg = mlp_config(batch_size=128, dataset="fashion-mnist", n_train=5_500)
    cost = planning.ShapeCost(*closed_form_mlp(), ops=10, cpu_a=None, cpu_b=None, flops_source="test")
    measured = {"mlp": (128, 11.0, 1024, 2.0)}
    c = planning.run_cost(cfg, cost, measured=measured)
    evals = 3 * (5_500 + 128 + 256) * cost.eval_flops / planning.ASSUMED_DEVICE_FLOPS["float32"]
    assert c.device_basis == "measured" and c.device_s == pytest.approx(3 * 11.0 * 5_500 / 55_000 + evals)
    assert planning.run_cost(cfg, cost, measured={"vgg11": measured["mlp"]}).device_basis == "assumed"


def test_epoch_time_interpolates_a_step_cost_and_an_example_cost():
    measured = (128, 10.0, 1024, 4.0)
    assert planning.epoch_seconds_at(measured, 128) == pytest.approx(10.0)
    assert planning.epoch_seconds_at(measured, 1024) == pytest.approx(4.0)
    assert planning.epoch_seconds_at(measured, 64) > 10.0 > planning.epoch_seconds_at(measured, 256) > 4.0


def test_measured_records_are_read_and_quick_or_cpu_ones_ignored(tmp_path):
    import json

    def write(name, **kw):     # a GPU-check record as benchmarks/gpu_check.py writes it (replication.gpu_records)
        record = {"format": "gpu-check", "device": "cuda", "quick": False, "date": "2026-01-01T00:00:00",
                  "batch_sizes": [128, 1024], "timings": [{"model": "vgg11", "epoch_s_128": 6.0, "epoch_s_1024": 3.0}]}
        (tmp_path / f"gpu-check_{name}.json").write_text(json.dumps({**record, **kw}))

    write("h200")
    write("vm", device="cpu", timings=[{"model": "resnet20", "epoch_s_16": 1.0, "epoch_s_32": 2.0}])
    write("quick", quick=True, timings=[{"model": "mlp", "epoch_s_128": 1.0, "epoch_s_1024": 2.0}])
    (tmp_path / "gpu-check_h100.md").write_text("| mlp | 1 | fashion-mnist | 1.00 | 2.00 |\n")   # the report: not read
    assert planning.measured_epoch_seconds(tmp_path) == {"vgg11": (128, 6.0, 1024, 3.0)}
    assert planning.measured_epoch_seconds(tmp_path / "absent") == {}


def test_stored_runs_are_not_billed(tmp_path):
    base = TrainConfig(dataset="fashion-mnist", n_train=256, n_val=128, n_test=128, model="mlp",
                       model_options={"hidden": (8,)}, epochs=1, batch_size=64)
    configs = grid(base, lr=[0.05, 0.1], seed=[0, 1])
    store = ResultStore(tmp_path)
    before = planning.bill("x", configs, store, calibration=EMPTY, measured={})
    assert (before.runs, before.stored, before.epochs, before.steps_all) == (4, 0, 4, 16)
    assert before.seconds == before.seconds_all > 0 and before.basis == "assumed"
    train_all(configs[:2], store=store, progress=False)
    after = planning.bill("x", configs + configs[:1], store, calibration=EMPTY, measured={})   # duplicates count once
    assert (after.runs, after.stored, after.epochs) == (4, 2, 2)
    assert after.seconds == pytest.approx(before.seconds / 2) and after.seconds_all == before.seconds_all
    assert planning.bill("y", None, store).basis == "not planned"


def test_a_profile_bill_is_the_sum_of_its_chapters(tmp_path):
    from replication import chapters
    from replication.chapters import resolve_spec as resolve

    store = ResultStore(tmp_path)
    bills = chapters.profile_bill("smoke", store)
    t = planning.totals(bills)
    alone = [planning.bill(n, chapters.planned_runs(n, resolve(chapters.get(n).SPEC, "smoke")), store)
             for n in chapters.names()]
    planned = [b for b in alone if b.basis != "not planned"]
    assert len(planned) >= 2 and t["runs"] == sum(b.runs for b in planned)
    for field, key in (("steps_all", "steps"), ("epochs_all", "epochs")):
        assert t[key] == sum(getattr(b, field) for b in planned)
    assert t["flops"] == pytest.approx(sum(b.flops_all for b in planned))
    assert t["device_hours"] == pytest.approx(sum(b.seconds_all for b in planned) / 3600)
    assert t["cpu_hours"] == pytest.approx(sum(b.cpu_seconds_all for b in planned) / 3600)
    text = planning.table(bills)
    assert text.splitlines()[-1].split()[1] == f"{t['runs']:,}"


def test_goal_sentence_says_by_how_much_and_which_chapter_dominates():
    def bill(chapter, hours):
        return planning.ChapterBill(chapter, runs=3, stored=0, epochs=30, seconds=hours * 3600,
                                    seconds_all=hours * 3600, basis="assumed", epochs_all=30, cpu_basis="measured")

    over = planning.goal_sentence("paper", [bill("a", 9.0), bill("b", 3.0)])
    assert "4.0 h above its goal of 8" in over and "a dominates with 9.0 h (75 %)" in over
    assert "within its goal of 8" in planning.goal_sentence("paper", [bill("a", 5.0)])
    assert "goal" not in planning.goal_sentence("gpu", [bill("a", 5.0)])


def test_plan_command_prints_the_bill_and_its_assumptions(capsys, monkeypatch, tmp_path):
    from replication.cli import main

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path))
    assert main(["plan", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "PFLOP" in out and "CPU-h" in out and "dev-h" in out
    assert "flop_counter" in out and "assumed sustained" in out and "No GPU-check record" in out


def test_a_bad_profile_is_one_line(capsys):
    from replication.cli import main

    assert main(["plan", "--profile", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nosuch" in err and "paper" in err
    assert main(["plan", "nosuch"]) == 2


def test_appendix_bill_table_states_a_shared_basis_once():
    from replication.chapters import appendix
    from replication.notebook import numbered_tables

    def bill(chapter, basis, hours):
        return planning.ChapterBill(chapter, runs=3, stored=0, epochs=30, seconds=hours * 3600,
                                    seconds_all=hours * 3600, basis=basis, epochs_all=30, steps_all=300,
                                    flops_all=2e15, cpu_seconds_all=7200.0, cpu_basis="measured")

    same = {"bills": {"gpu": [bill("a", "assumed", 1.0), bill("b", "assumed", 0.5), bill("c", "nothing to run", 0.0)]}}
    md = appendix.bill_table(same, "gpu")
    assert md.count("device/CPU basis assumed/measured for every chapter.") == 1 and "basis" not in md.splitlines()[2]
    assert "| c |" not in md and md.splitlines()[-1] == "| all chapters | 6 | 60 | 600 | 4 | 4.0 | 1.50 |"
    assert numbered_tables(md).startswith(":::{table} The bill of the `gpu` profile.")
    mixed = {"bills": {"gpu": [bill("a", "measured", 1.0), bill("b", "assumed", 0.5), bill("c", "assumed", 0.5)]}}
    md = appendix.bill_table(mixed, "gpu")         # the basis goes in the caption: no eighth column
    assert "basis" not in md.splitlines()[2] and md.splitlines()[2].count("|") == 8
    assert "device/CPU basis assumed/measured for every chapter but a measured/measured." in md.splitlines()[0]
    assert "| a | 3 | 30 | 300 | 2 | 2.0 | 1.00 |" in md


def test_gpu_check_times_apply_to_the_default_network_only(tmp_path):
    store = ResultStore(tmp_path)
    measured = {"mlp": (128, 11.0, 1024, 2.0)}
    default = TrainConfig(dataset="fashion-mnist", n_train=1024, n_val=128, n_test=256, model="mlp", epochs=2)
    narrow = mlp_config()
    assert planning.bill("a", [default], store, calibration=EMPTY, measured=measured).basis == "measured"
    assert planning.bill("b", [narrow], store, calibration=EMPTY, measured=measured).basis == "assumed"
    assert "default options" in " ".join(planning.assumptions(EMPTY, measured))


def test_bench_plan_writes_a_calibration_the_bill_reads(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_plan.py"
    spec = importlib.util.spec_from_file_location("bench_plan", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "plan_calibration.json"
    assert bench.main(["--profiles", "smoke", "--steps", "1", "--warmup", "0", "--min-seconds", "0",
                       "--output", str(out)]) == 0
    calibration = planning.load_calibration(out)
    assert calibration["machine"]["torch"] and calibration["shapes"]
    from replication import chapters
    from replication.chapters import resolve_spec as resolve

    cfg = chapters.planned_runs("sweep", resolve(chapters.get("sweep").SPEC, "smoke"))[0]
    cost = planning.shape_cost(planning.Shape.of(cfg), calibration)
    assert cost.flops_source == "calibration file" and cost.cpu_b is not None
