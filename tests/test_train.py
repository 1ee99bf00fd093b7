"""The minimal trainer and the MLP: seeded, deterministic, exactly plain SGD, stored once."""
import math

import pytest
import torch
from torch import nn

from replication import models
from replication.config import ConfigError
from replication.train import TrainRun, evaluate, load_model, train, train_stored, training_data

TINY = dict(n_train=256, hidden=(16,), lr=0.1, batch_size=32, epochs=3, seed=0)


def test_mlp_shapes_parameter_count_and_seeded_default_init():
    assert models.n_parameters(models.mlp(784, (400, 400, 400), 10, seed=0)) == 638810  # the benchmark's network
    model = models.mlp(784, (16, 8), 10, seed=3)
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)  # input flattened
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    state = torch.random.get_rng_state()
    again = models.mlp(784, (16, 8), 10, seed=3)
    assert torch.equal(state, torch.random.get_rng_state()), "the global RNG is neither read nor advanced"
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)
    other = models.mlp(784, (16, 8), 10, seed=4)
    assert not torch.equal(model[1].weight, other[1].weight)
    for layer in (m for m in model if isinstance(m, nn.Linear)):  # PyTorch's default: U(±1/sqrt(fan_in))
        bound = 1 / math.sqrt(layer.in_features)
        for p in (layer.weight, layer.bias):
            assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound
    assert models.describe(784, (400, 400), 10) == "784-400-400-10"


def test_same_config_same_bits_and_seed_matters():
    a, b = train(TrainRun(**TINY)), train(TrainRun(**TINY))
    assert a["train_loss"] == b["train_loss"] and a["test_acc"] == b["test_acc"]
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k])
        assert a["state_dict"][k].device.type == "cpu"
    c = train(TrainRun(**{**TINY, "seed": 1}))
    assert not torch.equal(a["state_dict"]["1.weight"], c["state_dict"]["1.weight"])
    assert len(a["train_loss"]) == len(a["train_acc"]) == len(a["test_acc"]) == TINY["epochs"]
    assert a["steps_per_epoch"] == 256 // 32 and a["architecture"] == "784-16-10"


def test_one_full_batch_epoch_is_one_plain_sgd_step():
    cfg = TrainRun(**{**TINY, "batch_size": 256, "epochs": 1, "lr": 0.3})
    out = train(cfg)
    X, y, _, _ = training_data(cfg)
    model = models.mlp(784, cfg.hidden, 10, seed=cfg.seed)
    loss = nn.functional.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        torch.testing.assert_close(out["state_dict"][name], p.detach() - 0.3 * g, rtol=1e-5, atol=1e-6)
    # the recorded training loss is the loss of the trained network over all n_train examples
    trained = load_model(cfg, out)
    assert out["train_loss"][0] == pytest.approx(evaluate(trained, X, y)[0], rel=1e-6)


def test_training_learns_and_drops_the_incomplete_last_batch():
    cfg = TrainRun(**{**TINY, "n_train": 250, "epochs": 4})
    out = train(cfg)
    assert out["steps_per_epoch"] == 7
    assert out["train_loss"][-1] < 0.8 * out["train_loss"][0]
    assert out["train_acc"][-1] > 0.6 and out["test_acc"][-1] > 0.4  # 10 classes: chance is 0.1


def test_config_validation_and_store_round_trip(store):
    with pytest.raises(ConfigError, match=r"^batch_size=512: in \[1, n_train\]"):
        TrainRun(**{**TINY, "batch_size": 512})
    with pytest.raises(ConfigError, match="^dataset='cifar'"):
        TrainRun(**{**TINY, "dataset": "cifar"})
    with pytest.raises(ConfigError, match="^hidden="):
        TrainRun(**{**TINY, "hidden": ()})
    cfg = TrainRun(**{**TINY, "epochs": 1})
    assert TrainRun(**{**TINY, "epochs": 1, "hidden": [16]}).key == cfg.key  # list or tuple: one key
    first = train_stored(cfg, store)
    again = train_stored(cfg, store)
    assert not first.from_store and again.from_store
    assert again.provenance["data"]["name"] == "fashion-mnist" and again.provenance["data"]["canonical"]
    assert torch.equal(first.payload["state_dict"]["1.weight"], again.payload["state_dict"]["1.weight"])
