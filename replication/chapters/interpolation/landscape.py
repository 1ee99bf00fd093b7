"""The loss landscape around trained networks: points on a line between two parameter vectors,
batch-norm statistics recomputed at every point, filter-normalized random directions, widths.

Everything here works on ``state_dict`` s (CPU or device tensors) and a model of the matching
architecture; nothing is trained.

- :func:`blend`: the state ``(1 - α) θ_a + α θ_b`` (floating tensors; integer buffers such as
  ``num_batches_tracked`` are taken from ``θ_a``).  With ``bn="interpolate"`` the batch-norm running
  statistics are blended too (what treating the state dict as one vector gives); with
  ``bn="recompute"`` they are recomputed afterwards by :func:`recompute_bn`.
- :func:`recompute_bn`: reset every batch-norm layer's running mean/variance and average them over
  the given training examples (train-mode forward passes in batches of :data:`BN_BATCH`, no
  gradient, ``momentum=None`` = a plain average over the batches), as ``torch.optim.swa_utils
  .update_bn`` and the mode-connectivity literature do.
- :func:`filter_normalized_direction`: Li et al. (2018): a Gaussian direction whose every filter
  (an output channel of a convolution, an output row of a linear layer) is rescaled to the norm of
  the same filter of θ; biases and batch-norm parameters get 0.
- :func:`rise_distance` / :func:`width_at`: how far one can go from a point along a sampled 1-D
  curve before the loss rises by Δ above its value there (linear interpolation between samples).
- :func:`barrier`: the largest excess of the loss over the straight chord between the endpoints
  (α in [0, 1]), as in Frankle et al. (2020).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

BN_BATCH = 256            # examples per forward pass when the batch-norm statistics are recomputed
EVAL_BATCH = 1_000


def is_bn_buffer(name: str, model: nn.Module) -> bool:
    module_name, _, leaf = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    return isinstance(module, nn.modules.batchnorm._BatchNorm) and leaf in ("running_mean", "running_var",
                                                                            "num_batches_tracked")


def blend(state_a: dict, state_b: dict, alpha: float, *, model: nn.Module | None = None,
          bn: str = "recompute") -> dict:
    """``(1 - alpha) * a + alpha * b`` for every floating tensor (see the module docstring).

    ``bn="recompute"``: batch-norm running statistics are copied from ``a`` (they are recomputed
    afterwards); ``bn="interpolate"``: blended like the weights.  ``model`` tells which buffers are
    batch-norm statistics (needed with ``bn="recompute"``)."""
    if bn not in ("recompute", "interpolate"):
        raise ValueError(f"bn={bn!r}: 'recompute' or 'interpolate'")
    out = {}
    for k, a in state_a.items():
        b = state_b[k]
        if not a.is_floating_point() or (bn == "recompute" and model is not None and is_bn_buffer(k, model)):
            out[k] = a.clone()
        else:
            out[k] = a + float(alpha) * (b.to(a.dtype) - a)
    return out


def has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def recompute_bn(model: nn.Module, X: torch.Tensor) -> None:
    """Running statistics of every batch-norm layer = their average over ``X`` (see module docstring)."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    saved = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    for s in range(0, X.shape[0], BN_BATCH):
        model(X[s:s + BN_BATCH])
    for m, mom in zip(layers, saved):
        m.momentum = mom
    model.train(was_training)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over (X, y), in eval mode."""
    model.eval()
    loss, correct = 0.0, 0
    for s in range(0, X.shape[0], EVAL_BATCH):
        out = model(X[s:s + EVAL_BATCH])
        loss += float(nn.functional.cross_entropy(out, y[s:s + EVAL_BATCH], reduction="sum"))
        correct += int((out.argmax(1) == y[s:s + EVAL_BATCH]).sum())
    return loss / X.shape[0], correct / X.shape[0]


def load_state(model: nn.Module, state: dict, X_bn: torch.Tensor | None) -> nn.Module:
    """Load ``state`` into ``model``; recompute its batch-norm statistics on ``X_bn`` if given."""
    model.load_state_dict(state)
    if X_bn is not None:
        recompute_bn(model, X_bn)
    return model.eval()


def filter_normalized_direction(state: dict, model: nn.Module, gen: torch.Generator) -> dict:
    """A random direction, filter-wise normalized to ``state`` (Li et al. 2018; see module docstring)."""
    params = dict(model.named_parameters())
    out = {}
    for k, v in state.items():
        if k not in params or v.dim() <= 1:   # biases, batch-norm weights and buffers: not moved
            out[k] = torch.zeros_like(v)
            continue
        d = torch.randn(v.shape, generator=gen, dtype=v.dtype).to(v.device)
        flat_d, flat_v = d.reshape(v.shape[0], -1), v.reshape(v.shape[0], -1)
        scale = flat_v.norm(dim=1, keepdim=True) / flat_d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out[k] = (flat_d * scale).reshape(v.shape)
    return out


def shifted(state: dict, directions: list[tuple[float, dict]]) -> dict:
    """``state + Σ t_i d_i`` over floating tensors."""
    out = {k: v.clone() for k, v in state.items()}
    for t, d in directions:
        for k in out:
            if out[k].is_floating_point():
                out[k].add_(d[k], alpha=float(t))
    return out


# -- widths and barriers ---------------------------------------------------------------------------------
def rise_distance(x, loss, start: int, step: int, delta: float, limit: float | None = None) -> tuple[float, bool]:
    """Distance along ``x`` from ``x[start]`` (walking by ``step`` = ±1) to where ``loss`` first reaches
    ``loss[start] + delta`` (linear interpolation between samples).  Returns ``(distance, censored)``:
    censored when the loss never rises that far within the samples (or within ``limit``); the
    distance is then the distance walked (to the last sample, or ``limit``)."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    level = loss[start] + delta
    i = start
    while 0 <= i + step < len(x):
        j = i + step
        if limit is not None and abs(x[j] - x[start]) > limit + 1e-12:
            return float(limit), True
        if not np.isfinite(loss[j]) or loss[j] >= level:
            if not np.isfinite(loss[j]):
                return float(abs(x[j] - x[start])), False
            frac = (level - loss[i]) / (loss[j] - loss[i]) if loss[j] != loss[i] else 1.0
            return float(abs(x[i] + frac * (x[j] - x[i]) - x[start])), False
        i = j
    return float(abs(x[i] - x[start])), True


def width_at(x, loss, at: float, delta: float, *, inward: int = 0, limit: float | None = None) -> dict:
    """Width of the Δ-sublevel interval of the loss around ``x = at``: distances to the left and to
    the right (``rise_distance``), their sum, and which are censored.  ``inward`` (±1) names the side
    facing the other endpoint, whose distance is capped at ``limit``."""
    x = np.asarray(x, float)
    start = int(np.argmin(np.abs(x - at)))
    left = rise_distance(x, loss, start, -1, delta, limit if inward == -1 else None)
    right = rise_distance(x, loss, start, +1, delta, limit if inward == +1 else None)
    return dict(left=left[0], right=right[0], width=left[0] + right[0], left_censored=left[1],
                right_censored=right[1])


def barrier(x, loss) -> float:
    """max over α in [0, 1] of loss(α) − ((1 − α) loss(0) + α loss(1)); 0 when the line stays below the chord."""
    x, loss = np.asarray(x, float), np.asarray(loss, float)
    i0, i1 = int(np.argmin(np.abs(x))), int(np.argmin(np.abs(x - 1)))
    inside = (x >= 0) & (x <= 1)
    chord = (1 - x) * loss[i0] + x * loss[i1]
    excess = (loss - chord)[inside]
    return float(max(0.0, np.nanmax(excess))) if excess.size else math.nan


def alpha_grid(n: int, lo: float = -1.0, hi: float = 2.0) -> tuple[float, ...]:
    """At least ``n`` values of α on [lo, hi] (lo, hi integers around [0, 1]) holding 0 and 1: a uniform
    grid whose step divides 1, plus points halving the step towards 0 and 1 from both sides."""
    if n < 7:
        raise ValueError(f"n={n}: at least 7 points")
    span = hi - lo
    per_unit = max(2, int(round(n / 2 / span)))           # coarse points per unit of α
    coarse = np.linspace(lo, hi, int(span * per_unit) + 1)
    h = 1.0 / per_unit
    fine: list[float] = []
    q = 0
    while len(coarse) + len(fine) < n:
        q += 1
        off = h / 2 ** q
        fine += [0 - off, 0 + off, 1 - off, 1 + off]
    values = sorted({round(float(v), 10) for v in list(coarse) + fine if lo - 1e-12 <= v <= hi + 1e-12})
    return tuple(values)
