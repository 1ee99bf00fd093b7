"""A minimal, fast trainer: plain SGD on an MLP with the whole dataset resident as tensors.

    cfg = TrainRun(n_train=10_000, hidden=(400, 400, 400), lr=0.05, batch_size=128, epochs=5, seed=0)
    result = train_stored(cfg, store)                 # computed once, then read from the store
    model = load_model(cfg, result.payload)           # the trained network (CPU, eval mode)

What it does, exactly:

- Data: the first ``n_train`` examples of the training split of ``dataset`` (normalized tensors from
  :func:`replication.data.load_dataset`), and the whole test split, moved once to ``device``.
- Model: :func:`replication.models.mlp` with ``seed`` (PyTorch's default init, seeded).
- Each epoch: a permutation of the ``n_train`` indices from a ``torch.Generator`` seeded with
  ``seed`` (one generator for the whole run, so epochs differ), walked in consecutive batches of
  ``batch_size``; the last incomplete batch is dropped, so every step averages exactly
  ``batch_size`` examples.  One step: θ ← θ − lr · ∇(mean cross-entropy of the batch).  No momentum,
  no weight decay, no schedule.
- After each epoch, in eval mode: cross-entropy and accuracy over all ``n_train`` training examples,
  accuracy over the test split.

Returns a payload of per-epoch lists and the final ``state_dict`` as CPU tensors.  On CPU, with the
same thread count, the same config gives bit-identical results.

Deliberately small: the full training engine (learning-rate schedules, vmapped ensembles of many
runs, convolutional models, CIFAR-10) is a later piece of work; this covers what the "width"
chapter needs, one trained MLP whose Hessian it measures.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from . import models
from .config import RunConfig, require

EVAL_BATCH = 10_000  # examples per forward pass when evaluating


@dataclasses.dataclass(frozen=True)
class TrainRun(RunConfig):
    """Plain-SGD training of a ReLU MLP on a subset of a dataset's training split."""

    kind: ClassVar[str] = "train-mlp"
    dataset: str = "fashion-mnist"
    n_train: int = 10_000
    hidden: tuple = (400, 400, 400)
    lr: float = 0.05
    batch_size: int = 128
    epochs: int = 5
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        from .data import DATASETS

        require(self.dataset in DATASETS, "dataset", self.dataset, f"one of {', '.join(DATASETS)}")
        require(self.n_train >= 1, "n_train", self.n_train, ">= 1")
        require(len(self.hidden) >= 1 and all(isinstance(h, int) and h >= 1 for h in self.hidden),
                "hidden", self.hidden, "a non-empty list of positive integers")
        require(self.lr > 0, "lr", self.lr, "> 0")
        require(1 <= self.batch_size <= self.n_train, "batch_size", self.batch_size, "in [1, n_train]")
        require(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        require(self.device in ("cpu", "cuda") or self.device.startswith("cuda:"), "device", self.device,
                "cpu or cuda")

    @property
    def architecture(self) -> str:
        return models.describe(784, self.hidden, 10)


def _data(cfg: TrainRun):
    from .data import load_dataset

    ds = load_dataset(cfg.dataset)
    if cfg.n_train > ds.n_train:
        raise ValueError(f"n_train={cfg.n_train}: the {cfg.dataset} training split has {ds.n_train} examples")
    return ds


def training_data(cfg: TrainRun, device: str | torch.device | None = None):
    """(X_train, y_train, X_test, y_test): the subset the model is trained on, flattened, on ``device``."""
    ds = _data(cfg)
    device = torch.device(device or cfg.device)
    X = ds.x_train[: cfg.n_train].reshape(cfg.n_train, -1).to(device)
    y = ds.y_train[: cfg.n_train].to(device)
    return X, y, ds.x_test.reshape(ds.n_test, -1).to(device), ds.y_test.to(device)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over all of (X, y), in eval mode."""
    was_training = model.training
    model.eval()
    loss, correct = 0.0, 0
    for s in range(0, X.shape[0], EVAL_BATCH):
        out = model(X[s:s + EVAL_BATCH])
        loss += float(nn.functional.cross_entropy(out, y[s:s + EVAL_BATCH], reduction="sum"))
        correct += int((out.argmax(1) == y[s:s + EVAL_BATCH]).sum())
    model.train(was_training)
    return loss / X.shape[0], correct / X.shape[0]


def train(cfg: TrainRun) -> dict:
    """Train as the module docstring says; the payload the store keeps."""
    device = torch.device(cfg.device)
    X, y, X_test, y_test = training_data(cfg, device)
    model = models.mlp(X.shape[1], cfg.hidden, 10, seed=cfg.seed).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    gen = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
    steps = cfg.n_train // cfg.batch_size
    history: dict[str, list] = {"train_loss": [], "train_acc": [], "test_acc": []}
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(cfg.n_train, generator=gen).to(device)
        for k in range(steps):
            idx = order[k * cfg.batch_size:(k + 1) * cfg.batch_size]
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train_loss, train_acc = evaluate(model, X, y)
        history["train_loss"].append(train_loss)
        history["train_acc"].append(train_acc)
        history["test_acc"].append(evaluate(model, X_test, y_test)[1])
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {**history, "state_dict": state, "steps_per_epoch": steps,
            "n_parameters": models.n_parameters(model), "architecture": cfg.architecture}


def train_stored(cfg: TrainRun, store=None):
    """``train(cfg)`` through the result store, stamped with the dataset's provenance."""
    from .data import dataset_provenance
    from .store import ResultStore

    store = store or ResultStore()
    return store.get_or_compute(cfg, train, device=cfg.device, data=dataset_provenance(_data(cfg)))


def load_model(cfg: TrainRun, payload: dict, device: str | torch.device = "cpu") -> nn.Module:
    """The trained network of ``payload`` (from :func:`train`), in eval mode on ``device``."""
    model = models.mlp(784, cfg.hidden, 10, seed=cfg.seed)
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()
