"""GPU throughput options (bf16 autocast, channels-last) are part of the run config and give the
float32 results within stated tolerances; checked on CPU at tiny size."""
import dataclasses

import pytest
import torch

from replication.ensemble import can_ensemble
from replication.gpu_records import CPU_BF16_LOSS_TOL as BF16_LOSS_TOL   # the captions state these bounds
from replication.gpu_records import CPU_LAYOUT_LOSS_TOL as LAYOUT_LOSS_TOL
from replication.train import ConfigError, TrainConfig, train

# BF16_LOSS_TOL: relative difference of the final training loss, bf16 vs float32, one short run;
# LAYOUT_LOSS_TOL: channels-last vs NCHW, every epoch: the same arithmetic summed in another order, so
LAYOUT_WEIGHT_TOL = 5e-3  # rounding differences that SGD carries along (absolute, weights of size ~0.25)


def _cfg(**kw):
    base = dict(dataset="fashion-mnist", n_train=512, n_val=128, n_test=128, model="small_cnn", epochs=2,
                batch_size=64, lr=0.05, seed=3)
    return TrainConfig(**{**base, **kw})


def test_options_are_part_of_the_key_only_when_set():
    plain = _cfg()
    assert "precision" not in plain.to_dict() and "channels_last" not in plain.to_dict()
    assert _cfg(precision="bf16").key != plain.key != _cfg(channels_last=True).key
    assert TrainConfig.from_dict(_cfg(precision="bf16").to_dict()).precision == "bf16"


def test_bad_options_fail_in_one_line():
    with pytest.raises(ConfigError, match=r"^precision='fp8': one of float32, bf16"):
        _cfg(precision="fp8")
    with pytest.raises(ConfigError, match=r"^channels_last=True: .*convolutional"):
        _cfg(model="mlp", channels_last=True)


def test_throughput_options_are_never_vmapped():
    mlp = _cfg(model="mlp")
    assert can_ensemble(mlp) and not can_ensemble(dataclasses.replace(mlp, precision="bf16"))


@pytest.fixture(scope="module")
def float32_run():
    torch.set_num_threads(1)
    return train(_cfg())


def test_bf16_autocast_matches_float32_within_tolerance(float32_run):
    bf16 = train(_cfg(precision="bf16"))
    a, b = float32_run["final"]["train_loss"], bf16["final"]["train_loss"]
    assert a != b, "autocast took effect"
    assert abs(b - a) / a < BF16_LOSS_TOL
    assert all(v.dtype == torch.float32 for v in bf16["state_dict"].values() if v.is_floating_point())


def test_channels_last_matches_float32_within_tolerance(float32_run):
    nhwc = train(_cfg(channels_last=True))
    for a, b in zip(float32_run["history"]["train_loss"], nhwc["history"]["train_loss"]):
        assert abs(a - b) / a < LAYOUT_LOSS_TOL
    for k, v in float32_run["state_dict"].items():
        if v.is_floating_point():
            assert torch.allclose(nhwc["state_dict"][k], v, rtol=0, atol=LAYOUT_WEIGHT_TOL), k


# -- the chapters' throughput parameters: profile -> chapter parameters -> run configs ----------------
def _declared(profile):
    from replication import chapters

    out = []
    for name in chapters.names():
        out += [(name, c) for c in chapters.planned_runs(name, chapters.resolve(name, profile)) or []]
    return out


def test_the_chapter_parameter_names_the_run_configs_precisions():
    from replication import params
    from replication.train import config

    assert params.PRECISIONS == config.PRECISIONS


@pytest.mark.parametrize("profile", ["gpu", "paper"])
def test_gpu_profiles_train_every_convolutional_network_in_bf16_channels_last(profile):
    runs = _declared(profile)
    conv = [(n, c) for n, c in runs if c.model != "mlp"]
    assert conv, profile
    wrong = sorted({(n, c.model) for n, c in conv if (c.precision, c.channels_last) != ("bf16", True)})
    assert not wrong, f"{profile}: convolutional runs not in bf16 + channels-last: {wrong}"
    assert all(not c.channels_last for _, c in runs if c.model == "mlp")


@pytest.mark.parametrize("profile", ["laptop", "smoke"])
def test_cpu_profiles_train_in_float32_so_their_stored_keys_stay(profile):
    runs = _declared(profile)
    assert runs and all((c.precision, c.channels_last) == ("float32", False) for _, c in runs)
    assert all("precision" not in c.to_dict() for _, c in runs)


def test_a_bad_precision_is_one_line_naming_the_parameter():
    from replication import chapters
    from replication.params import ParameterError

    with pytest.raises(ParameterError, match=r"^precision='fp16': must be .*one of float32, bf16"):
        chapters.resolve("schedules", "laptop", {"precision": "fp16"})
    with pytest.raises(ParameterError, match=r"^cifar_channels_last='yes': must be true or false"):
        chapters.resolve("sharpness", "laptop", {"cifar_channels_last": "yes"})


def test_channels_last_reaches_only_the_convolutional_networks():
    from replication import chapters

    params = chapters.resolve("invariance", "laptop", {"precision": "bf16", "channels_last": True})
    runs = chapters.planned_runs("invariance", params)
    assert {c.model for c in runs} >= {"mlp", "small_cnn"}
    assert all(c.precision == "bf16" for c in runs)
    assert all(c.channels_last == (c.model != "mlp") for c in runs)


def test_a_page_of_bf16_runs_says_so_in_its_runs_line_and_a_float32_page_does_not():
    """The deviation is said where the runs are described (the "Runs:" line with their provenance)."""
    from types import SimpleNamespace

    from replication import chapters
    from replication.chapters.invariance import page as invariance_page
    from replication.chapters.schedules import page as schedules_page

    prov = {"device": "cpu", "code_version": "abc", "data": {"canonical": True}}
    results = SimpleNamespace(stored=2, computed=0, wall_time=1.0, train_wall_time=1.0, provenance=prov,
                              architecture="VGG-11", canonical=True)
    for page, name, extra in ((invariance_page, "invariance", ("data",)), (schedules_page, "schedules", ())):
        plain = page.runs_line(results, chapters.resolve(name, "laptop"), *extra)
        bf16 = page.runs_line(results, chapters.resolve(name, "laptop", {"precision": "bf16"}), *extra)
        assert "bf16" not in plain and bf16.startswith(plain) and "Trained under bf16 autocast" in bf16, name
