"""What one training run sees: a training subset, a held-out validation set, label noise.

:func:`prepare` (the maths, for N original training examples and one ``seed``):

1. a permutation of 0..N-1 drawn from the stream "split" of ``seed``: its LAST ``n_val``
   entries are the validation set (clean labels), its FIRST ``n_train`` the training subset
   (both sorted ascending), so subsets are nested in n_train and in n_val and never overlap;
2. label noise: ``round(label_noise * n_train)`` training positions, the first ones of a
   permutation of 0..n_train-1 drawn from the stream "label-noise", get a label drawn
   uniformly from all classes (possibly their own), so about 1/n_classes of them keep it.
   ``Split.selected_indices`` records the redrawn positions, ``Split.corrupted_indices`` the
   ones whose label changed.

Each stream is a CPU ``torch.Generator`` seeded from sha256("replication.data.prepare:
<stream>:<seed>"), so the split is the same on every machine and device.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ..config import ConfigError
from .dataset import Dataset, dataset_provenance


@dataclass(frozen=True, eq=False)
class Split:
    """What one training run sees: a training subset (labels possibly noisy), a validation
    set held out from the original training set (clean labels) and the full test set.

    Indices: ``train_indices`` / ``val_indices`` are positions in the dataset's ORIGINAL
    training set (ascending, disjoint).  ``selected_indices`` are positions in ``x_train``
    whose label was redrawn; ``corrupted_indices`` (= ``noisy_mask.nonzero()``) those whose
    label actually changed, a subset of the selected ones.  All tensors are on the dataset's
    device and may share storage with it (do not modify them in place).
    """
    x_train: torch.Tensor
    y_train: torch.Tensor            # labels trained on (noisy where noisy_mask)
    y_train_clean: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor              # clean
    x_test: torch.Tensor
    y_test: torch.Tensor
    train_indices: torch.Tensor      # int64, into the original training set
    val_indices: torch.Tensor        # int64, into the original training set
    selected_indices: torch.Tensor   # int64, into x_train: labels redrawn
    corrupted_indices: torch.Tensor  # int64, into x_train: labels changed
    noisy_mask: torch.Tensor         # bool (n_train,): y_train != y_train_clean
    seed: int
    label_noise: float               # the requested fraction of training labels to redraw
    n_classes: int
    dataset: dict                    # dataset_provenance of the source dataset

    LABEL_NOISE_CONVENTION = ("round(label_noise * n_train) training labels, chosen uniformly without "
                              "replacement, are replaced by labels drawn uniformly from all n_classes "
                              "classes (so about 1/n_classes of them keep their label), as in Zhang et al. "
                              "2017 / Arpit et al. 2017 'random labels'")

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.y_val.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.y_test.shape[0])

    @property
    def n_selected(self) -> int:
        return int(self.selected_indices.shape[0])

    @property
    def n_corrupted(self) -> int:
        return int(self.corrupted_indices.shape[0])

    def metadata(self) -> dict:
        """Plain-JSON description of the split, to store with a result."""
        n_orig = int(self.dataset["n_train"])
        return {"seed": self.seed, "n_train": self.n_train, "n_val": self.n_val, "n_test": self.n_test,
                "train_fraction": self.n_train / n_orig, "val_fraction": self.n_val / n_orig,
                "label_noise": self.label_noise, "n_selected": self.n_selected,
                "n_corrupted": self.n_corrupted,
                "corrupted_fraction": self.n_corrupted / self.n_train,
                "label_noise_convention": self.LABEL_NOISE_CONVENTION,
                "canonical": bool(self.dataset["canonical"]), "dataset": dict(self.dataset)}

    def to(self, device: str | torch.device) -> Split:
        device = torch.device(device)
        moved = {f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)
                 if isinstance(getattr(self, f.name), torch.Tensor)}
        return dataclasses.replace(self, **moved)


def _generator(seed: int, stream: str) -> torch.Generator:
    """A CPU generator for one named stream of ``seed`` (independent streams, same on every machine)."""
    h = hashlib.sha256(f"replication.data.prepare:{stream}:{seed}".encode()).digest()
    return torch.Generator(device="cpu").manual_seed(int.from_bytes(h[:8], "little") >> 1)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _require(ok: bool, name: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r}: {allowed}")


def prepare(ds: Dataset, *, n_train: int | None = None, n_val: int = 0, label_noise: float = 0.0,
            seed: int = 0) -> Split:
    """Split ``ds``'s training set into a validation set and a training subset; add label noise.

    1. A permutation of the N original training examples is drawn from ``seed``; the LAST
       ``n_val`` of it form the validation set (clean labels), the FIRST ``n_train`` the
       training subset (``n_train=None``: all N - n_val).  So for one seed, training subsets
       are nested as n_train grows, validation sets are nested as n_val grows, and the two
       never overlap.  Both index sets are sorted ascending (n_train=None, n_val=0 gives the
       original training set in its order).
    2. Label noise (:attr:`Split.LABEL_NOISE_CONVENTION`): ``round(label_noise * n_train)``
       training examples are selected (an independent permutation of the subset, drawn from
       ``seed``), and each gets a label drawn uniformly from all classes, possibly its old one.
       Selected sets are nested as label_noise grows, with the same new labels.
    Random numbers come from CPU generators seeded from ``seed``, so the split is the same
    whatever ``ds.device``.  Errors: one-line ``ValueError`` (``ConfigError``) naming the
    parameter, its value and what is allowed.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds: expected a replication.data.Dataset, got {type(ds).__name__}")
    N = ds.n_train
    _require(_is_int(seed) and 0 <= seed < 2**63, "seed", seed, "an integer in [0, 2**63)")
    _require(_is_int(n_val) and 0 <= n_val <= N - 1, "n_val", n_val,
             f"an integer in [0, {N - 1}] (the {ds.name} training set has {N} examples)")
    n_val = int(n_val)
    if n_train is None:
        n_train = N - n_val
    else:
        _require(_is_int(n_train) and 1 <= n_train <= N - n_val, "n_train", n_train,
                 f"None or an integer in [1, {N - n_val}] ({ds.name} has {N} training examples, "
                 f"n_val={n_val} of them held out)")
        n_train = int(n_train)
    _require(isinstance(label_noise, (int, float, np.floating)) and not isinstance(label_noise, bool)
             and 0.0 <= float(label_noise) <= 1.0, "label_noise", label_noise,
             "a fraction in [0, 1] of the training labels to replace at random")
    label_noise, seed = float(label_noise), int(seed)

    perm = torch.randperm(N, generator=_generator(seed, "split"))
    train_idx = perm[:n_train].sort().values
    val_idx = perm[N - n_val:].sort().values if n_val else perm[:0]

    y_all = ds.y_train.cpu()
    y_clean = y_all[train_idx]
    g = _generator(seed, "label-noise")
    order = torch.randperm(n_train, generator=g)
    new_labels = torch.randint(0, ds.n_classes, (n_train,), generator=g)
    n_sel = int(label_noise * n_train + 0.5)
    selected = order[:n_sel]
    y_noisy = y_clean.clone()
    y_noisy[selected] = new_labels[:n_sel]
    noisy = y_noisy != y_clean

    dev = ds.device
    if n_train == N:                                     # the whole set in order: no copy
        x_train = ds.x_train
    else:
        x_train = ds.x_train[train_idx.to(dev)]
    return Split(
        x_train=x_train, y_train=y_noisy.to(dev), y_train_clean=y_clean.to(dev),
        x_val=ds.x_train[val_idx.to(dev)], y_val=y_all[val_idx].to(dev),
        x_test=ds.x_test, y_test=ds.y_test,
        train_indices=train_idx.to(dev), val_indices=val_idx.to(dev),
        selected_indices=selected.sort().values.to(dev),
        corrupted_indices=noisy.nonzero().flatten().to(dev), noisy_mask=noisy.to(dev),
        seed=seed, label_noise=label_noise, n_classes=ds.n_classes, dataset=dataset_provenance(ds))

