"""The standard CIFAR augmentation on device: pad, random crop, horizontal flip, vectorized.

For a batch x of shape (B, C, H, W), padding p and per-example draws dy, dx in {0..2p} and a
flip bit f:  out[i, c, r, k] = P[i, c, dy[i] + r, dx[i] + (W-1-k if f[i] else k)], where P is x
padded by p on each side with the fill value (normalized units: 0 = the training-set mean).
Implemented as two ``gather``s on x's device; the draws come from a caller's generator
(:func:`crop_flip_params`), so an augmented epoch is reproducible.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .subsets import _is_int, _require


def crop_flip_params(n: int, *, padding: int = 4, flip: bool = True, generator: torch.Generator,
                     device: str | torch.device | None = None):
    """(dy, dx, flipped) for ``n`` examples: int64 offsets in [0, 2*padding] of the crop window
    in the padded image, and a bool "flip horizontally" per example (all False when not
    ``flip``).  Drawn on ``generator``'s device (offsets first, then flips), returned on
    ``device`` (default: the generator's)."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    _require(_is_int(padding) and padding >= 0, "padding", padding, "an integer >= 0")
    _require(_is_int(n) and n >= 0, "n", n, "an integer >= 0")
    gdev = generator.device
    offsets = torch.randint(0, 2 * int(padding) + 1, (2, int(n)), generator=generator, device=gdev)
    flipped = torch.randint(0, 2, (int(n),), generator=generator, device=gdev).bool()
    if not flip:
        flipped = torch.zeros_like(flipped)
    device = gdev if device is None else torch.device(device)
    return offsets[0].to(device), offsets[1].to(device), flipped.to(device)


def apply_crop_flip(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flipped: torch.Tensor, *,
                    padding: int = 4, fill: float | Sequence[float] = 0.0) -> torch.Tensor:
    """out[i] = crop of x[i] padded by ``padding`` (value ``fill``, one per channel or one for all),
    window rows dy[i]..dy[i]+H-1 and columns dx[i]..dx[i]+W-1, mirrored left-right where
    flipped[i].  Vectorized (two gathers), on x's device; a new tensor."""
    if x.ndim != 4:
        raise ValueError(f"x: expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    _require(_is_int(padding) and padding >= 0, "padding", padding, "an integer >= 0")
    B, C, H, W = x.shape
    p = int(padding)
    if p:
        fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(-1)
        _require(fill_t.numel() in (1, C), "fill", fill, f"one number, or {C} (one per channel)")
        padded = fill_t.view(1, -1, 1, 1).expand(B, C, H + 2 * p, W + 2 * p).clone()
        padded[:, :, p:p + H, p:p + W] = x
    else:
        padded = x
    dev = x.device
    dy, dx, flipped = dy.to(dev), dx.to(dev), flipped.to(dev)
    rows = dy.view(B, 1) + torch.arange(H, device=dev)                       # (B, H)
    ar = torch.arange(W, device=dev)
    cols = dx.view(B, 1) + torch.where(flipped.view(B, 1), W - 1 - ar, ar)    # (B, W)
    out = padded.gather(2, rows.view(B, 1, H, 1).expand(B, C, H, W + 2 * p))
    return out.gather(3, cols.view(B, 1, 1, W).expand(B, C, H, W))


def random_crop_flip(x: torch.Tensor, *, padding: int = 4, flip: bool = True,
                     fill: float | Sequence[float] = 0.0, generator: torch.Generator) -> torch.Tensor:
    """The standard CIFAR augmentation on a batch (B, C, H, W), on any device, vectorized:
    pad by ``padding``, crop back to H x W at a random offset per example, flip horizontally
    with probability 1/2 per example (if ``flip``).  Deterministic given ``generator``
    (its random numbers: :func:`crop_flip_params`; a generator on x's device avoids a
    host-to-device copy).

    Padding value: ``fill=0`` pads normalized images with 0, i.e. the training-set MEAN colour.
    torchvision's ``RandomCrop(32, padding=4)`` on raw images pads black instead; to match it
    pass ``fill=[-m / s for m, s in zip(ds.channel_mean, ds.channel_std)]``.
    """
    if x.ndim != 4:
        raise ValueError(f"x: expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    dy, dx, flipped = crop_flip_params(x.shape[0], padding=padding, flip=flip, generator=generator,
                                       device=x.device)
    return apply_crop_flip(x, dy, dx, flipped, padding=padding, fill=fill)
