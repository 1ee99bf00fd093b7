"""What a run measures after an epoch: losses and accuracies over whole sets (for K vmapped members
at once), the per-epoch metrics of one member, and the Hessian probe (λ_max by Lanczos, warm-started
from the same run's previous probe).
"""
from __future__ import annotations

import time

import torch
from torch import nn

from .config import TrainConfig

EVAL_BATCH = 10_000
CONV_EVAL_BATCH = 1_000   # examples per evaluation forward pass for convolutional models


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work on ``device`` (so wall times measure it); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def eval_batch(cfg: TrainConfig) -> int:
    return EVAL_BATCH if cfg.model == "mlp" else CONV_EVAL_BATCH


@torch.no_grad()
def evaluate_sets(logits_fn, split, chunk: int) -> dict:
    """Per member: summed cross-entropy and predictions over the train/val/test sets.

    ``logits_fn(X)`` returns logits of shape (K, n, C) for K members.  Returns
    ``{set: (loss_sum (K,), predictions (K, n))}`` (val omitted when empty).
    """
    out = {}
    sets = {"train": (split.x_train, split.y_train), "val": (split.x_val, split.y_val),
            "test": (split.x_test, split.y_test)}
    for name, (X, y) in sets.items():
        if X.shape[0] == 0:
            continue
        losses, preds = None, []
        for s in range(0, X.shape[0], chunk):
            logits = logits_fn(X[s:s + chunk])
            K, n, C = logits.shape
            loss = nn.functional.cross_entropy(logits.reshape(K * n, C), y[s:s + chunk].repeat(K),
                                               reduction="none").view(K, n).sum(1, dtype=torch.float64)
            losses = loss if losses is None else losses + loss
            preds.append(logits.argmax(-1))
        out[name] = (losses.cpu(), torch.cat(preds, 1))
    return out


def epoch_metrics(evaluated: dict, split, member: int) -> dict:
    """The per-epoch metrics of one member from :func:`evaluate_sets`."""
    def acc(pred, y, mask=None):
        hit = pred == y
        if mask is not None:
            if not bool(mask.any()):
                return None
            hit = hit[mask]
        return int(hit.sum()) / hit.numel()

    loss, pred = evaluated["train"]
    pred = pred[member]
    m = {"train_loss": float(loss[member]) / split.n_train, "train_acc": acc(pred, split.y_train)}
    if split.label_noise > 0:
        noisy = split.noisy_mask
        m["memorized_acc"] = acc(pred, split.y_train, noisy)
        m["corrupted_true_acc"] = acc(pred, split.y_train_clean, noisy)
        m["clean_acc"] = acc(pred, split.y_train, ~noisy)
    if "val" in evaluated:
        loss, p = evaluated["val"]
        m["val_loss"], m["val_acc"] = float(loss[member]) / split.n_val, acc(p[member], split.y_val)
    else:
        m["val_loss"], m["val_acc"] = None, None
    loss, p = evaluated["test"]
    m["test_loss"], m["test_acc"] = float(loss[member]) / split.n_test, acc(p[member], split.y_test)
    return m


#: id(split) -> {run config key: the top eigenvector of that run's previous probe} (warm starts).
#: An entry lives as long as its split (one training call), so a run's first probe is always cold.
_WARM_STARTS: dict[int, dict] = {}


def _warm_starts(split) -> dict:
    import weakref

    key = id(split)
    if key not in _WARM_STARTS:
        _WARM_STARTS[key] = {}
        weakref.finalize(split, _WARM_STARTS.pop, key, None)
    return _WARM_STARTS[key]


def hessian_probe(model: nn.Module, split, idx: torch.Tensor, cfg: TrainConfig, epoch: int) -> dict:
    """λ_max (Lanczos) of the training loss of ``model`` on ``split.x_train[idx]``, eval mode.

    Warm start: Lanczos starts from the top eigenvector of the previous probe of the same run (same
    ``cfg.key`` within one training call on ``split``), or from a random vector seeded with
    ``cfg.seed`` at a run's first probe."""
    from ..hessian import HessianOperator, batch_size_for, lanczos

    device = split.x_train.device
    idx = idx.to(device)
    n = int(idx.shape[0])
    starts = _warm_starts(split)
    v0 = starts.get(cfg.key)
    start = time.perf_counter()
    H = HessianOperator(model, nn.CrossEntropyLoss(), split.x_train, split.y_train, mode="eval",
                        indices=idx, batch_size=batch_size_for(n))
    top = lanczos(H, k=1, tol=cfg.hessian_tol, max_iter=min(H.dim, cfg.hessian_max_iter), seed=cfg.seed,
                  v0=v0, return_eigenvectors=True)
    synchronize(device)
    seconds = time.perf_counter() - start
    starts[cfg.key] = top.eigenvectors[0].detach()
    info = H.info()
    H.release()
    return {"epoch": int(epoch), "lambda_max": float(top.eigenvalues[0]), "residual": float(top.residuals[0]),
            "converged": bool(top.converged[0]), "n_hvp": int(top.n_hvp), "n_iter": int(top.n_iter),
            "warm_start": v0 is not None,
            "tol": cfg.hessian_tol, "seconds": seconds, "seconds_per_hvp": seconds / max(1, top.n_hvp),
            "n_samples": n, "mode": info["mode"], "method": info["method"], "dtype": info["dtype"]}
