"""What one run starts from: its dataset (kept in this process), its data split on the device, its
freshly initialized model, and the fixed subset of training examples its Hessian probes use.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os

import torch
from torch import nn

from .. import models
from .config import TrainConfig

_DATA_CACHE: dict = {}


def load_data(cfg: TrainConfig):
    """The dataset of ``cfg`` on the CPU (kept in this process: one per (name, override, location))."""
    from .. import paths
    from ..data import load_dataset

    # accept_unverified_data=True accepts; False leaves it to REPLICATION_ACCEPT_UNVERIFIED (None)
    allow = True if cfg.accept_unverified_data else None
    key = (cfg.dataset, allow, os.environ.get("REPLICATION_ACCEPT_UNVERIFIED"), str(paths.data_root()),
           str(paths.data_mirror()))
    if key not in _DATA_CACHE:
        ds = load_dataset(cfg.dataset, "cpu", allow_unverified=allow)
        if len(_DATA_CACHE) >= 2:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = ds
    return _DATA_CACHE[key]


def data_provenance(cfg: TrainConfig) -> dict:
    """What the store records about the data of ``cfg`` (fingerprint, canonical flag, source)."""
    from ..data import dataset_provenance

    return dataset_provenance(load_data(cfg))


def prepare_split(cfg: TrainConfig, device: str | torch.device | None = None):
    """The :class:`replication.data.Split` of ``cfg`` on ``device`` (default ``cfg.device``)."""
    from ..data import prepare

    split = prepare(load_data(cfg), n_train=cfg.n_train, n_val=cfg.n_val, label_noise=cfg.label_noise,
                    seed=cfg.data_seed)
    if cfg.n_test is not None and cfg.n_test < split.n_test:
        split = dataclasses.replace(split, x_test=split.x_test[: cfg.n_test], y_test=split.y_test[: cfg.n_test])
    return split.to(device or cfg.device)


def _derived_seed(seed: int, stream: str) -> int:
    digest = hashlib.sha256(f"replication.train:{stream}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def hessian_indices(cfg: TrainConfig) -> torch.Tensor:
    """The fixed training-example subset of the Hessian probes (CPU, ascending), drawn from ``data_seed``."""
    gen = torch.Generator(device="cpu").manual_seed(_derived_seed(cfg.data_seed, "hessian"))
    return torch.randperm(cfg.n_train_total, generator=gen)[: min(cfg.hessian_samples, cfg.n_train_total)].sort().values


def build_model(cfg: TrainConfig) -> nn.Module:
    """A freshly initialized CPU model of ``cfg`` (its seed)."""
    build = getattr(models, "build", None)
    if build is None:
        return models.mlp(784, cfg.options.get("hidden", (400, 400, 400)), 10, seed=cfg.seed)
    return build(cfg.model, n_classes=cfg.n_classes, in_shape=cfg.in_shape, seed=cfg.seed, **cfg.options)

