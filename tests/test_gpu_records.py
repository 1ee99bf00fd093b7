"""The one reader of the GPU-check records (replication.gpu_records): the bill's epoch times and the
precision bound a caption states, read from fake records in a temporary results folder."""
import json

import pytest

from replication import gpu_records
from replication.gpu_records import precision_bound, precision_note
from replication.wording import MINUS


def run(model, f32, bf16, ref=None, *, variant="bf16 + channels-last", data="canonical", dataset="cifar10"):
    """One entry of a record's precision section: (train loss, test acc, λ_max) per run."""
    def numbers(t):
        return {"train_loss": t[0], "test_acc": t[1], "lambda_max": t[2], "epoch_s": t[3] if len(t) > 3 else 10.0}

    entry = {"model": model, "dataset": dataset, "options": {}, "data": data, "variant": variant,
             "status": "measured", "steps": 312, "float32": numbers(f32), "bf16": numbers(bf16)}
    if ref is not None:
        entry["reference"] = numbers(ref)
    return entry


def write(folder, host, runs=(), *, device="cuda", quick=False, date="2026-01-01T00:00:00", card="NVIDIA H100 80GB HBM3",
          timings=()):
    record = {"format": "gpu-check", "device": device, "card": card, "date": date, "quick": quick,
              "batch_sizes": [128, 1024], "timings": list(timings),
              "precision": {"tolerance": dict(gpu_records.PRECISION_TOL), "runs": list(runs)}}
    (folder / f"gpu-check_{host}.json").write_text(json.dumps(record))


VGG_WITHIN = run("vgg11", (0.80, 0.700, 20.0, 12.0), (0.812, 0.696, 21.0, 6.0), (0.83, 0.690, 19.0))


def test_float32_nchw_needs_no_sentence_and_a_bad_precision_is_an_error(tmp_path):
    assert precision_note("vgg11", "float32", False, tmp_path) == ""
    with pytest.raises(ValueError, match="precision='fp16'"):
        precision_note("vgg11", "fp16", True, tmp_path)


def test_without_a_gpu_record_the_note_states_the_cpu_bound(tmp_path):
    note = precision_note("vgg11", "bf16", True, tmp_path)
    assert "not yet measured against float32 on a GPU" in note and "channels-last" in note
    assert f"within {100 * gpu_records.CPU_BF16_LOSS_TOL:g} %" in note and "tests/test_throughput.py" in note
    assert str(tmp_path) not in note and note.count(". ") == 0 and note.endswith(".")
    layout = precision_note("resnet32", "float32", True, tmp_path)
    assert "channels-last" in layout and "bf16" not in layout and f"{100 * gpu_records.CPU_LAYOUT_LOSS_TOL:g} %" in layout


def test_a_cuda_record_bounds_its_model_with_signed_differences(tmp_path):
    write(tmp_path, "h100", [VGG_WITHIN])
    bound = precision_bound("vgg11", tmp_path)
    assert bound.card == "NVIDIA H100 80GB HBM3" and bound.steps == 312 and bound.within
    assert bound.deltas["test_acc"] == pytest.approx(-0.4) and bound.deltas["lambda_max"] == pytest.approx(0.05)
    assert bound.deltas["train_loss"] == pytest.approx(0.015) and bound.speedup == pytest.approx(2.0)
    note = precision_note("vgg11", "bf16", True, tmp_path)
    assert "GPU check on NVIDIA H100 80GB HBM3" in note and "312 steps of vgg11" in note
    assert f"test accuracy {MINUS}0.4 points" in note and "λ_max +5 %" in note and "training loss +1.5 %" in note
    assert "within the stated tolerance (test accuracy within 1 point, λ_max within 10 %" in note
    assert "measured as" not in note and "non-canonical" not in note and str(tmp_path) not in note
    assert precision_bound("resnet32", tmp_path) is None                 # another model's entry bounds nothing
    assert "not yet measured" in precision_note("resnet32", "bf16", True, tmp_path)


def test_outside_the_tolerance_the_note_says_so_and_how_far_a_new_seed_moves_the_numbers(tmp_path):
    write(tmp_path, "h100", [run("resnet56", (0.5, 0.60, 30.0), (0.5, 0.585, 30.0), (0.52, 0.580, 33.0))])
    note = precision_note("resnet56", "bf16", True, tmp_path)
    assert f"test accuracy {MINUS}1.5 points" in note and "outside the stated tolerance" in note
    assert f"another seed moved them by test accuracy {MINUS}2.0 points, λ_max +10 %, training loss +4.0 %" in note


def test_quick_cpu_and_random_pixel_records_bound_nothing(tmp_path):
    write(tmp_path, "vm", [VGG_WITHIN], device="cpu", date="2026-02-01T00:00:00")
    write(tmp_path, "quick", [VGG_WITHIN], quick=True, date="2026-02-01T00:00:00")
    write(tmp_path, "random", [run("vgg11", (1, 0.1, 1), (1, 0.1, 1), data="random")])
    assert precision_bound("vgg11", tmp_path) is None
    assert gpu_records.records(tmp_path)[0]["card"] == "NVIDIA H100 80GB HBM3"   # the random one: read, not a bound


def test_the_newest_record_wins_and_a_stand_in_or_other_variant_is_named(tmp_path):
    old = run("vgg11", (0.8, 0.70, 20.0), (0.8, 0.60, 20.0))
    new = run("vgg11", (0.8, 0.70, 20.0), (0.8, 0.702, 20.0), data="non-canonical")
    write(tmp_path, "b-old", [old], date="2026-01-01T00:00:00", card="NVIDIA H200")
    write(tmp_path, "a-new", [new], date="2026-03-01T00:00:00")    # sorts first by name, is newer by date
    bound = precision_bound("vgg11", tmp_path)
    assert bound.card == "NVIDIA H100 80GB HBM3" and bound.deltas["test_acc"] == pytest.approx(0.2)
    note = precision_note("vgg11", "bf16", False, tmp_path)
    assert "measured as bf16 + channels-last" in note and "on non-canonical cifar10 data" in note
    assert "test accuracy +0.2 points" in note


def test_a_file_that_is_not_a_record_fails_naming_it(tmp_path):
    (tmp_path / "gpu-check_x.json").write_text("{not json")
    with pytest.raises(ValueError, match="gpu-check_x.json: not a GPU-check record"):
        precision_bound("vgg11", tmp_path)
    (tmp_path / "gpu-check_x.json").write_text(json.dumps({"format": "plan-calibration"}))
    with pytest.raises(ValueError, match="gpu-check_x.json"):
        gpu_records.measured_epoch_seconds(tmp_path)



def test_throughput_note_is_empty_for_float32_and_names_networks_only_when_they_differ(tmp_path):
    from replication.gpu_records import throughput_note

    assert throughput_note(["vgg11", "resnet32"], "float32", False, tmp_path) == ""
    one = throughput_note(["vgg11", "resnet32"], "bf16", True, tmp_path)
    assert one.startswith("Trained under bf16 autocast with channels-last") and "vgg11:" not in one
    two = throughput_note(["mlp", "small_cnn"], "bf16", True, tmp_path)     # the MLP has no channels-last
    assert two.count("Trained under") == 2 and two.startswith("mlp: ") and "small_cnn: " in two
    assert "channels-last" not in two.split("small_cnn: ")[0]
