"""Vmapped ensembles: every member is the run train() does alone, up to float rounding."""
import dataclasses

import pytest

from replication.ensemble import can_ensemble, group_key, train_ensemble
from replication.schedules import step
from replication.train import TrainConfig, train

BASE = TrainConfig(n_train=1500, n_val=500, n_test=1000, model="mlp", model_options={"hidden": (48, 32)}, lr=0.1,
                   batch_size=64, epochs=2, momentum=0.9, weight_decay=5e-4, label_noise=0.1,
                   bs_schedule=step((1,), 2.0), lr_schedule=step((1,), 0.5), hessian_epochs=(2,), hessian_samples=100)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny problems: one thread (see conftest)."""


def _close(a, b, rel):
    return all(abs(x - y) <= rel * max(abs(x), 1e-12) for x, y in zip(a, b)) and len(a) == len(b)


def test_each_member_equals_its_single_run():
    configs = [dataclasses.replace(BASE, lr=lr, seed=s) for lr, s in [(0.05, 0), (0.1, 1), (0.02, 7)]]
    together = train_ensemble(configs)
    for cfg, member in zip(configs, together):
        alone = train(cfg)
        for key in ("batch_loss", "train_loss", "val_loss", "test_loss", "val_acc", "train_acc", "memorized_acc"):
            assert _close(member["history"][key], alone["history"][key], 1e-4), (cfg.seed, key)
        for key in ("epoch", "lr", "batch_size", "ratio", "steps"):
            assert member["history"][key] == alone["history"][key]
        assert member["best_epoch"] == alone["best_epoch"] and not member["diverged"]
        assert member["hessian"][0]["lambda_max"] == pytest.approx(alone["hessian"][0]["lambda_max"], rel=1e-3)
        for name, tensor in alone["state_dict"].items():
            assert (member["state_dict"][name] - tensor).abs().max() <= 1e-4 * tensor.abs().max()
        assert member["trained_as"] == "vmapped ensemble of 3" and alone["trained_as"] == "single run"


def test_a_diverging_member_leaves_the_others_alone():
    cfg = dataclasses.replace(BASE, momentum=0.0, weight_decay=0.0, hessian_epochs=(), epochs=3, label_noise=0.0,
                              n_train=600)
    configs = [dataclasses.replace(cfg, lr=1e5, seed=0), dataclasses.replace(cfg, lr=0.05, seed=1)]
    bad, good = train_ensemble(configs)
    assert bad["diverged"] and bad["epochs_completed"] < 3
    alone = train(configs[1])
    assert not good["diverged"] and _close(good["history"]["train_loss"], alone["history"]["train_loss"], 1e-4)


def test_who_can_be_grouped():
    assert can_ensemble(BASE)
    assert group_key(BASE) == group_key(dataclasses.replace(BASE, lr=0.3, seed=5))
    assert group_key(BASE) != group_key(dataclasses.replace(BASE, batch_size=32))
    assert not can_ensemble(TrainConfig(n_train=600, model="small_cnn", model_options={"batch_norm": True}))
    assert can_ensemble(TrainConfig(n_train=600, model="small_cnn"))
    with pytest.raises(ValueError, match="differ in more than lr and seed"):
        train_ensemble([BASE, dataclasses.replace(BASE, batch_size=32)])


def test_with_a_target_each_member_stops_where_its_single_run_stops_and_is_probed_there():
    cfg = dataclasses.replace(BASE, momentum=0.0, weight_decay=0.0, label_noise=0.0, epochs=4, n_train=600,
                              bs_schedule=step((), 1.0), lr_schedule=step((), 1.0), hessian_epochs=(4,))
    free = train(dataclasses.replace(cfg, lr=0.1, seed=1))["history"]["train_loss"]
    target = free[1] + 0.25 * (free[0] - free[1])      # the lr=0.1 run meets it after epoch 2
    configs = [dataclasses.replace(cfg, lr=lr, seed=s, target_loss=target) for lr, s in
               [(0.1, 1), (0.002, 0), (0.3, 2)]]
    together = train_ensemble(configs)
    for c, member in zip(configs, together):
        alone = train(c)
        assert member["stopped_epoch"] == alone["stopped_epoch"]
        assert member["epochs_completed"] == alone["epochs_completed"]
        assert _close(member["history"]["train_loss"], alone["history"]["train_loss"], 1e-4)
        assert [q["epoch"] for q in member["hessian"]] == [q["epoch"] for q in alone["hessian"]]
        assert member["hessian"][0]["lambda_max"] == pytest.approx(alone["hessian"][0]["lambda_max"], rel=1e-3)
        for name, tensor in alone["state_dict"].items():    # a stopped member stopped changing
            assert (member["state_dict"][name] - tensor).abs().max() <= 1e-4 * tensor.abs().max()
    fast, slow, _ = together
    assert fast["stopped_epoch"] == 2 and [q["epoch"] for q in fast["hessian"]] == [2]
    assert slow["stopped_epoch"] is None and slow["epochs_completed"] == 4     # the cap, reported
