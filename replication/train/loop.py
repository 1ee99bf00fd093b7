"""The loop of one run (plain or momentum SGD, the data resident on the device), and the entry
points: :func:`train`, :func:`load_model` (through the store: :func:`replication.runs.train_stored`) (see :mod:`replication.train`).
"""
from __future__ import annotations

import contextlib
import time

import torch
from torch import nn

from .. import models, provenance
from .config import TrainConfig
from .evaluation import epoch_metrics, eval_batch, evaluate_sets, hessian_probe, synchronize
from .record import Recorder, cpu_state
from .setup import _derived_seed, build_model, data_provenance, hessian_indices, prepare_split


def train(cfg: "TrainConfig", progress=None) -> dict:
    """Train ``cfg`` as :mod:`replication.train` says; the payload the store keeps.

    ``progress(n)``, if given, is called with the number of epochs just finished."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"train: expected a TrainConfig, got {type(cfg).__name__}")
    return _train_config(cfg, progress)


def load_model(cfg: "TrainConfig", payload: dict, device: str | torch.device = "cpu",
               which: str = "final") -> nn.Module:
    """The trained network of ``payload`` (from :func:`train`), in eval mode on ``device``:
    ``which="final"`` (the end of training) or ``"best"`` (the epoch of best validation accuracy)."""
    if which not in ("final", "best"):
        raise ValueError(f"which={which!r}: 'final' or 'best'")
    state = payload["state_dict"] if which == "final" else payload["best_state_dict"]
    if state is None:
        raise ValueError(f"which={which!r}: this run has no best-validation parameters (n_val=0)")
    model = build_model(cfg)
    model.load_state_dict(state)
    return model.to(device).eval()


def _train_config(cfg: TrainConfig, progress=None) -> dict:
    from ..data import random_crop_flip

    device = torch.device(cfg.device)
    split = prepare_split(cfg, device)
    X, y = split.x_train, split.y_train
    N = split.n_train
    model = build_model(cfg).to(device)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if cfg.precision == "bf16"
                else contextlib.nullcontext())
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
    aug_gen = None
    if cfg.augment:
        aug_gen = torch.Generator(device=device).manual_seed(_derived_seed(cfg.seed, "augment"))
    rec = Recorder(cfg, split)
    h_idx = hessian_indices(cfg) if cfg.hessian_epochs else None
    chunk = eval_batch(cfg)

    def logits_fn(xb):
        return model(xb).unsqueeze(0)

    if 0 in cfg.hessian_epochs:
        rec.hessian.append(hessian_probe(model, split, h_idx, cfg, 0))
    for e in range(cfg.epochs):
        lr, S = cfg.lr_at(e), cfg.batch_size_at(e)
        for group in opt.param_groups:
            group["lr"] = lr
        steps = N // S
        order = torch.randperm(N, generator=gen).to(device)
        model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for k in range(steps):
            idx = order[k * S:(k + 1) * S]
            xb = X[idx]
            if aug_gen is not None:
                xb = random_crop_flip(xb, padding=4, generator=aug_gen)
            if xb.dim() == 4:
                xb = xb.contiguous(memory_format=layout)
            with autocast:
                loss = nn.functional.cross_entropy(model(xb).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
        batch_loss = float(loss_sum) / steps
        synchronize(device)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.eval()
        metrics = epoch_metrics(evaluate_sets(logits_fn, split, chunk), split, 0)
        eval_seconds = time.perf_counter() - start
        ok = rec.add_epoch(e + 1, batch_loss, metrics, train_seconds, eval_seconds, lambda: cpu_state(model))
        if ok and cfg.probe_after(e + 1, rec.stopped):
            rec.hessian.append(hessian_probe(model, split, h_idx, cfg, e + 1))
        if progress is not None:
            progress(1 if ok and not rec.stopped else cfg.epochs - e)
        if not ok or rec.stopped:
            break
    return rec.payload(cpu_state(model), models.n_parameters(model), trained_as="single run",
                       device_name=provenance.device_name(str(device)))
