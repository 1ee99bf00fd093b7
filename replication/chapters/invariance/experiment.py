"""Run configs and measurements of the chapter "Same η/S, same dynamics, and where it breaks".

For every training-set size N of ``train_sizes`` and every factor β of ``betas``:

- **linear** rescaling: η = β η₀, S = round(β S₀) (η/S fixed, the paper's Fig. 6 and 7);
- **square-root** rescaling, for β in ``sqrt_betas``: η = √β η₀, S = round(β S₀) (η/√S fixed).

Every run trains for the same number of ``epochs`` (the paper compares at equal epochs). Under the
SDE, equal epochs are equal "time": t = steps·η = (E N / (β S₀))·β η₀ = E N η₀ / S₀ for every β, so the
fewer, larger steps of a large β are exactly what the invariance says should not matter; a β whose
S exceeds N is not run for that size.

Along β = 1 training, the gradient noise scale B_noise = Tr C / |ḡ|² (McCandlish et al. 2018) is
measured over the whole training set (:mod:`replication.hessian.covariance`) at initialization and
after the epochs of ``noise_epochs`` (and at the end): a β = 1 run stopped after k epochs is the first k
epochs of the full run (same seed, same batch order, constant η), so these are points along one
trajectory per seed. :class:`NoiseScaleRun` is its own kind in the result store.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar

import numpy as np
import torch

from ...config import RunConfig, require
from ...params import throughput
from ...hessian.covariance import gradient_covariance_trace, gradient_noise_scale
from ...train.config import SETUP_CODE

LINEAR, SQRT = "linear", "sqrt"


def model_options(params) -> dict:
    return {"hidden": tuple(params.hidden)} if params.model == "mlp" else {}


def batch_size(params, beta: float) -> int:
    return int(round(beta * params.base_batch_size))


def lr(params, beta: float, variant: str) -> float:
    return params.base_lr * (beta if variant == LINEAR else math.sqrt(beta))


def settings(params, n: int) -> list[tuple[float, str]]:
    """(β, variant) pairs run for training-set size ``n`` (β = 1 once: both variants coincide)."""
    out = [(b, LINEAR) for b in params.betas if batch_size(params, b) <= n]
    out += [(b, SQRT) for b in params.sqrt_betas if b != 1 and batch_size(params, b) <= n]
    return out


def base_config(params, n: int):
    from ...train import TrainConfig

    return TrainConfig(dataset=params.dataset, n_train=n, n_val=params.n_val, n_test=params.n_test,
                       model=params.model, model_options=model_options(params), lr=params.base_lr,
                       batch_size=params.base_batch_size, momentum=params.momentum, augment=params.augment,
                       epochs=params.epochs, device=params.device,
                       accept_unverified_data=params.accept_unverified_data, **throughput(params, params.model))


def grid(params) -> list[tuple[dict, object]]:
    """``[(labels, TrainConfig)]``: every (N, β, variant, seed)."""
    out = []
    for n in params.train_sizes:
        base = base_config(params, n)
        for beta, variant in settings(params, n):
            for s in range(params.seeds):
                cfg = dataclasses.replace(base, lr=lr(params, beta, variant), batch_size=batch_size(params, beta),
                                          seed=s)
                out.append((dict(N=n, beta=beta, variant=variant, seed=s, eta=cfg.lr, S=cfg.batch_size), cfg))
    return out


def prefix_configs(params) -> list[tuple[dict, object]]:
    """β = 1 runs stopped after each epoch of ``noise_epochs`` below ``epochs`` (points along training)."""
    out = []
    for n in params.train_sizes:
        base = base_config(params, n)
        for k in sorted(set(params.noise_epochs)):
            if 1 <= k < params.epochs:
                for s in range(params.seeds):
                    out.append((dict(N=n, epoch=k, seed=s), dataclasses.replace(base, epochs=k, seed=s)))
    return out


@dataclasses.dataclass(frozen=True)
class NoiseScaleRun(RunConfig):
    """Tr C and |ḡ|² over ``n_samples`` training examples (all if >= N) of the network of the stored
    training run ``train_key`` at its end (``at="final"``) or at its initialization (``at="init"``)."""

    kind: ClassVar[str] = "invariance-noise-scale"
    code: ClassVar[tuple[str, ...]] = (("replication.chapters.invariance.experiment", "replication.hessian.covariance",
                                        "replication.train.loop") + SETUP_CODE)
    train_key: str
    n_samples: int
    at: str = "final"

    def validate(self) -> None:
        require(isinstance(self.train_key, str) and len(self.train_key) > 0, "train_key", self.train_key,
                "the key of a stored training run")
        require(isinstance(self.n_samples, int) and self.n_samples >= 2, "n_samples", self.n_samples, ">= 2")
        require(self.at in ("final", "init"), "at", self.at, "final or init")


def measure_noise(cfg: NoiseScaleRun, train_cfg, payload: dict | None) -> dict:
    from ...train import build_model, load_model, prepare_split

    device = torch.device(train_cfg.device)
    model = build_model(train_cfg).to(device).eval() if cfg.at == "init" else \
        load_model(train_cfg, payload, device, which="final")
    split = prepare_split(train_cfg, device)
    X, y = split.x_train, split.y_train
    n = min(cfg.n_samples, split.n_train)
    if n < split.n_train:
        gen = torch.Generator().manual_seed(20_011)
        idx = torch.randperm(split.n_train, generator=gen)[:n].sort().values.to(device)
        X, y = X[idx], y[idx]
    start = time.perf_counter()
    cov = gradient_covariance_trace(model, X, y)
    with torch.no_grad():
        loss = float(torch.nn.functional.cross_entropy(model(X), y))
    return {**cov, "B_noise": gradient_noise_scale(cov), "loss": loss, "seconds": time.perf_counter() - start}


def predicted_batch(b_noise: float, n: int) -> float:
    """The batch size at which one step's noise equals its signal, sampling S of N without replacement:
    Tr C (N - S) / (S (N - 1)) = |ḡ|²  <=>  S = B N / (B + N - 1), with B = B_noise (→ B_noise for N ≫ B)."""
    if not math.isfinite(b_noise):
        return float(n)
    return b_noise * n / (b_noise + n - 1)


def _row(labels: dict, result, chance: float) -> dict:
    p = result.payload
    h = p["history"]
    E = len(h["epoch"])
    diverged = bool(p["diverged"])
    val = [v if v is not None and not (diverged and i == E - 1) else math.nan for i, v in enumerate(h["val_acc"])]
    loss = [v if v is not None and math.isfinite(v) else math.nan for v in h["train_loss"]]
    final_val = chance if diverged else p["final"]["val_acc"]
    final_loss = math.nan if diverged else p["final"]["train_loss"]
    return dict(labels, ratio=labels["eta"] / labels["S"], diverged=diverged, val_acc=final_val,
                train_loss=final_loss, val_curve=val, loss_curve=loss, steps=int(sum(h["steps"])),
                key=result.key)


def curves(runs: list, N: int, beta: float, variant: str, key: str = "val_curve") -> np.ndarray:
    """Seeds × epochs array of one setting's curves (nan after a divergence)."""
    rows = [r for r in runs if r["N"] == N and r["beta"] == beta and r["variant"] == variant]
    if variant == SQRT and beta == 1:
        rows = [r for r in runs if r["N"] == N and r["beta"] == 1 and r["variant"] == LINEAR]
    if not rows:
        return np.zeros((0, 0))
    E = max(len(r[key]) for r in rows)
    out = np.full((len(rows), E), np.nan)
    for i, r in enumerate(sorted(rows, key=lambda r: r["seed"])):
        out[i, :len(r[key])] = r[key]
    return out
