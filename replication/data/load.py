"""``load_dataset``: the one entry point; which loader, which device, and the in-process memo.

A verified dataset is kept per (name, device, dtype, data root, mirror) for the life of the
process (:func:`clear_memo` forgets them); unverified data is never memoized.  A dataset for a
non-CPU device is loaded on the CPU (memoized there too) and moved.
"""
from __future__ import annotations

import torch

from .. import paths
from .cifar import _load_cifar
from .dataset import Dataset
from .idx import _build, _resolve
from .specs import DATASETS, SPECS, _CifarSpec
from .verify import _env_accept_unverified, _env_offline

_MEMO: dict[tuple, Dataset] = {}


def clear_memo() -> None:
    """Forget the datasets kept in this process (the files on disk stay)."""
    _MEMO.clear()


def load_dataset(name: str, device: str | torch.device = "cpu", *,
                 allow_download: bool | None = None, dtype: torch.dtype = torch.float32,
                 allow_unverified: bool | None = None) -> Dataset:
    """Load ``name`` (one of ``DATASETS``) as normalized tensors on ``device``.

    allow_download: None means "unless REPLICATION_OFFLINE=1".
    allow_unverified: use files that fail verification (with a warning; never cached;
        never memoized; the result has ``canonical=False`` and says so in ``source``).
        None (the default) means "only if REPLICATION_ACCEPT_UNVERIFIED=1"; an explicit
        False refuses whatever the environment says.  Refused files raise
        ``DataVerificationError``.  This is how the CIFAR-10 JPEG stand-in is accepted.
    Verified datasets are memoized per (name, device, dtype, data root, mirror).
    """
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(map(repr, DATASETS))}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating point dtype, got {dtype}")
    device = torch.device(device)
    if allow_download is None:
        allow_download = not _env_offline()
    if allow_unverified is None:
        allow_unverified = _env_accept_unverified()
    key = (name, str(device), dtype, str(paths.data_root()), str(paths.data_mirror()))
    if key in _MEMO:
        return _MEMO[key]
    if device.type != "cpu":
        ds = load_dataset(name, "cpu", allow_download=allow_download, dtype=dtype,
                          allow_unverified=allow_unverified).to(device)
    elif isinstance(SPECS[name], _CifarSpec):
        ds = _load_cifar(name, SPECS[name], allow_download, allow_unverified, dtype)
    else:
        contents, md5s, origins, canonical = _resolve(name, SPECS[name], allow_download, allow_unverified)
        ds = _build(name, contents, md5s, origins, canonical, dtype)
    if ds.canonical:
        _MEMO[key] = ds
    return ds

