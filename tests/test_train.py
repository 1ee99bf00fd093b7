"""The MLP and the one training engine at its simplest: seeded, exactly plain SGD, stored once."""
import math

import pytest
import torch
from torch import nn

from replication import models
from replication.runs import train_stored
from replication.train import TrainConfig, load_model, prepare_split, train

# the width chapter's kind of run: plain SGD, no validation set, PyTorch's default init
TINY = TrainConfig(n_train=256, n_val=0, model="mlp", model_options={"hidden": (16,)}, lr=0.1, batch_size=32,
                   epochs=3, seed=0)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny problems: one thread (see conftest)."""


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


def test_one_full_batch_epoch_is_one_plain_sgd_step():
    import dataclasses

    cfg = dataclasses.replace(TINY, batch_size=256, epochs=1, lr=0.3)
    out = train(cfg)
    split = prepare_split(cfg)
    X, y = split.x_train, split.y_train
    model = models.mlp(784, (16,), 10, seed=cfg.seed)      # the engine builds exactly this network
    loss = nn.functional.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        torch.testing.assert_close(out["state_dict"][name], p.detach() - 0.3 * g, rtol=1e-5, atol=1e-6)
    # the recorded training loss is the loss of the trained network over all n_train examples
    trained = load_model(cfg, out)
    with torch.no_grad():
        assert out["final"]["train_loss"] == pytest.approx(float(nn.functional.cross_entropy(trained(X), y)),
                                                           rel=1e-5)
    assert out["best_state_dict"] is None and out["final"]["val_acc"] is None   # n_val=0: no validation set


def test_training_learns_and_drops_the_incomplete_last_batch():
    import dataclasses

    out = train(dataclasses.replace(TINY, n_train=250, epochs=4))
    h = out["history"]
    assert h["steps"] == [7] * 4
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0]
    assert h["train_acc"][-1] > 0.6 and h["test_acc"][-1] > 0.4  # 10 classes: chance is 0.1


def test_train_rejects_other_configs_and_the_store_round_trips(store):
    with pytest.raises(TypeError, match="expected a TrainConfig"):
        train({"lr": 0.1})
    first = train_stored(TINY, store)
    again = train_stored(TINY, store)
    assert not first.from_store and again.from_store
    assert again.provenance["data"]["name"] == "fashion-mnist" and again.provenance["data"]["canonical"]
    assert torch.equal(first.payload["state_dict"]["1.weight"], again.payload["state_dict"]["1.weight"])


# -- training to a training-loss target -----------------------------------------------------------------
def test_a_target_stops_at_the_first_epoch_at_or_below_it_and_the_run_so_far_is_unchanged():
    import dataclasses

    free = train(dataclasses.replace(TINY, n_train=250, epochs=5, hessian_epochs=(5,)))
    losses = free["history"]["train_loss"]
    assert free["stopped_epoch"] is None and free["target_loss"] is None
    k = 3                                             # a target met first after epoch 3 of the free run
    target = 0.5 * (losses[k - 2] + losses[k - 1]) if losses[k - 1] < losses[k - 2] else losses[k - 1]
    assert min(losses[: k - 1]) > target >= losses[k - 1]
    out = train(dataclasses.replace(TINY, n_train=250, epochs=5, hessian_epochs=(5,), target_loss=target))
    assert out["stopped_epoch"] == k and out["epochs_completed"] == k and out["target_loss"] == target
    assert out["history"]["train_loss"] == losses[:k]          # same run until it stops (bit-identical)
    assert [q["epoch"] for q in out["hessian"]] == [k]           # "at the end" = where it stopped
    assert out["final"]["train_loss"] <= target
    capped = train(dataclasses.replace(TINY, n_train=250, epochs=2, hessian_epochs=(2,), target_loss=1e-6))
    assert capped["stopped_epoch"] is None and capped["epochs_completed"] == 2
    assert [q["epoch"] for q in capped["hessian"]] == [2]


def test_target_loss_is_validated_and_left_out_of_the_key_when_unset():
    import dataclasses

    from replication.config import ConfigError

    assert "target_loss" not in TINY.to_dict()
    with_target = dataclasses.replace(TINY, target_loss=0.5)
    assert with_target.to_dict()["target_loss"] == 0.5 and with_target.key != TINY.key
    assert dataclasses.replace(TINY, target_loss=1).key == dataclasses.replace(TINY, target_loss=1.0).key
    for bad in (0, -1.0, float("nan"), "low"):
        with pytest.raises(ConfigError, match="target_loss"):
            dataclasses.replace(TINY, target_loss=bad)
