"""What a loaded dataset is: normalized tensors, their statistics, where they came from.

Normalization.  With p in {0..255} the raw pixels of the *training* images, ``mean`` and
``std`` are the population mean and standard deviation of p/255 over all training pixels
(per channel for CIFAR-10), computed exactly from the 256-bin pixel histogram
(:func:`_pixel_mean_std`).  Train and test are both mapped by x = (p/255 - mean) / std, so the
training set has mean 0 and std 1.

Fingerprint.  ``_fingerprint(md5s, files)`` = the first 16 hex digits of
sha256("<file> <md5>" lines joined by newlines, in ``files`` order): it depends on the
files' content only, not on where they came from.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .specs import FILES, SPECS


@dataclass(frozen=True, eq=False)
class Dataset:
    """Normalized train/test tensors of one dataset, plus where they came from.

    ``fingerprint`` is derived from the md5s of the dataset's files only (the four
    decompressed idx files; CIFAR-10: the seven pickles), so it is the same for the same
    data wherever it came from.  ``canonical`` is True when every file verified against the
    official checksums; when False, ``source`` starts with "UNVERIFIED" (MNIST family) or
    "NOT canonical CIFAR-10: ..." and every result made from it should say so.

    ``mean``/``std``: population statistics of p/255 over the training pixels; a float for
    the one-channel datasets, a tuple (R, G, B) of per-channel values for CIFAR-10
    (:attr:`channel_mean` / :attr:`channel_std` are always tuples).
    """
    name: str
    x_train: torch.Tensor     # (N, C, H, W): (N, 1, 28, 28) or (N, 3, 32, 32), normalized
    y_train: torch.Tensor     # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float | tuple[float, ...]
    std: float | tuple[float, ...]
    source: str
    fingerprint: str
    canonical: bool

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.y_test.shape[0])

    @property
    def classes(self) -> tuple[str, ...]:
        return SPECS[self.name].classes

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def channel_mean(self) -> tuple[float, ...]:
        return tuple(self.mean) if isinstance(self.mean, tuple) else (self.mean,)

    @property
    def channel_std(self) -> tuple[float, ...]:
        return tuple(self.std) if isinstance(self.std, tuple) else (self.std,)

    def to(self, device: str | torch.device) -> Dataset:
        """The same dataset with its four tensors on ``device`` (self if already there)."""
        device = torch.device(device)
        if self.x_train.device == device:
            return self
        return dataclasses.replace(
            self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
            x_test=self.x_test.to(device), y_test=self.y_test.to(device))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, {self.x_train.dtype}, {self.device}, "
                f"mean={_fmt(self.mean)}, std={_fmt(self.std)}, fingerprint={self.fingerprint}, "
                f"canonical={self.canonical}, source={self.source!r})")


def _fmt(v: float | tuple[float, ...]) -> str:
    return f"{v:.4f}" if isinstance(v, float) else "(" + ", ".join(f"{a:.4f}" for a in v) + ")"


def dataset_provenance(ds: Dataset) -> dict:
    """What to stamp on a result computed from ``ds``."""
    return {"name": ds.name, "source": ds.source, "fingerprint": ds.fingerprint,
            "canonical": ds.canonical, "n_train": ds.n_train, "n_test": ds.n_test}



def _pixel_mean_std(pixels: np.ndarray) -> tuple[float, float]:
    """Exact population mean and std of pixels/255, from the 256-bin histogram."""
    flat = pixels.reshape(-1)
    counts = np.zeros(256, dtype=np.int64)
    for i in range(0, flat.size, 1 << 20):               # chunks: bincount casts to int64
        counts += np.bincount(flat[i:i + (1 << 20)], minlength=256)
    v = np.arange(256, dtype=np.float64) / 255.0
    n = counts.sum()
    mean = float((counts * v).sum() / n)
    var = float((counts * (v - mean) ** 2).sum() / n)
    return mean, var ** 0.5


def _fingerprint(md5s: dict[str, str], files: Sequence[str] = FILES) -> str:
    text = "\n".join(f"{f} {md5s[f]}" for f in files)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

