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
