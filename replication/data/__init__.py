"""Datasets as normalized tensors, verified by content checksum.

    ds = load_dataset("fashion-mnist", device="cuda")
    ds.x_train  # (60000, 1, 28, 28) float32, (p/255 - mean) / std
    ds.y_train  # (60000,) int64
    ds = load_dataset("cifar10")              # (50000, 3, 32, 32), per-channel mean/std
    split = prepare(ds, n_train=10000, n_val=5000, label_noise=0.2, seed=0)
    xb = random_crop_flip(split.x_train[idx], padding=4, generator=g)   # on-device augmentation

The sections below describe MNIST / Fashion-MNIST; CIFAR-10 (section "CIFAR-10" further
down), :func:`prepare` (subsets, validation split, label noise) and
:func:`random_crop_flip` have their own docstrings.

Environment variables: ``REPLICATION_DATA_ROOT`` (the verified cache, see
:mod:`replication.paths`), ``REPLICATION_DATA_DIR`` (a local mirror), ``REPLICATION_OFFLINE=1``
(never download), ``REPLICATION_ACCEPT_UNVERIFIED=1`` (the default of ``allow_unverified``:
use data whose checksums do not match, e.g. the CIFAR-10 JPEG stand-in, marked non-canonical).

Normalization.  With p in {0..255} the raw pixels of the *training* images,
``mean`` and ``std`` are the population mean and standard deviation of p/255 over
all 60000*28*28 training pixels (Fashion-MNIST: 0.2860, 0.3530; MNIST: 0.1307, 0.3081),
computed exactly from the pixel histogram.  Train and test are both mapped by
x = (p/255 - mean) / std, so the training set has mean 0 and std 1.

Where the files come from, first hit wins, file by file:

1. the verified cache ``paths.data_root()/<FashionMNIST|MNIST>/raw/``: the four
   decompressed idx files in torchvision's layout (``torchvision.datasets.FashionMNIST(
   data_root(), download=False)`` accepts it), plus ``VERIFIED.json``;
2. a local mirror, the folder named by ``REPLICATION_DATA_DIR``: the idx files,
   gz-compressed or not, directly in it or in ``<FashionMNIST|MNIST>/raw/``;
3. Fashion-MNIST only: Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist/*.gz``);
4. a torchvision download into a temporary folder under ``data_root()``, unless
   ``allow_download=False`` or ``REPLICATION_OFFLINE=1``.

Verification.  A file is accepted when the md5 and byte size of its *decompressed*
content equal the official ones (table ``SPECS``); a gz file is also accepted when the
md5 of the gz itself is the one torchvision checks and the decompressed size is right.
Files from 2-4 are verified, then written into the cache atomically (temp file +
``os.replace``).  ``VERIFIED.json`` records size, mtime and md5 of each cached file, so
the next load re-hashes nothing; a cached file whose size or mtime changed is re-hashed.
Anything that does not verify raises ``DataVerificationError``, unless the caller passes
``allow_unverified=True`` (or leaves it None with ``REPLICATION_ACCEPT_UNVERIFIED=1`` set):
then the data is used as found (never cached, never memoized), with a warning, and
``Dataset.canonical`` is False.

idx format (big-endian): int32 magic 2051, n, rows, cols, then n*rows*cols uint8 pixels;
labels: int32 magic 2049, n, then n uint8 labels.  Parsed with numpy; torchvision is only
imported for the download.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import paths
from .config import ConfigError

__all__ = [
    "Dataset", "load_dataset", "dataset_provenance", "clear_memo",
    "DataVerificationError", "DatasetNotFoundError", "DATASETS",
    "Split", "prepare", "random_crop_flip", "crop_flip_params", "apply_crop_flip",
]

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DOWNLOAD_TIMEOUT_S = 20.0
VERIFIED_NAME = "VERIFIED.json"


@dataclass(frozen=True)
class _Spec:
    folder: str                              # torchvision class name = cache folder name
    content: dict[str, tuple[str, int]]      # decompressed file -> (md5, bytes)
    gz_md5: dict[str, str]                   # md5 of the official .gz (torchvision's table)
    classes: tuple[str, ...]
    debian_package: str | None = None
    debian_dir: Path | None = None


SPECS: dict[str, _Spec] = {
    "fashion-mnist": _Spec(
        folder="FashionMNIST",
        content={
            "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", 47040016),
            "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", 60008),
            "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", 7840016),
            "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", 10008),
        },
        gz_md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        debian_package="dataset-fashion-mnist",
        debian_dir=Path("/usr/share/datasets/fashion-mnist"),
    ),
    "mnist": _Spec(
        folder="MNIST",
        content={
            "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47040016),
            "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60008),
            "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7840016),
            "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10008),
        },
        gz_md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        classes=tuple(str(d) for d in range(10)),
    ),
}


@dataclass(frozen=True)
class _CifarSpec:
    """CIFAR-10 in the python-pickle layout (``cifar-10-batches-py``), torchvision's md5s."""
    folder: str                              # the folder the official archive unpacks to
    train: tuple[str, ...]                   # training batches, in order
    test: tuple[str, ...]
    meta: str
    md5: dict[str, str]                      # file -> md5 (torchvision.datasets.CIFAR10's table)
    classes: tuple[str, ...]
    torchvision_class: str = "CIFAR10"

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train, *self.test, self.meta)


SPECS["cifar10"] = _CifarSpec(
    folder="cifar-10-batches-py",
    train=tuple(f"data_batch_{k}" for k in range(1, 6)),
    test=("test_batch",),
    meta="batches.meta",
    md5={
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    classes=("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
)
DATASETS = tuple(SPECS)
STANDIN_MARKER = "STANDIN.txt"


class DataVerificationError(RuntimeError):
    """A dataset file does not have the official content (md5 / size / idx header)."""


class DatasetNotFoundError(FileNotFoundError):
    """No place searched holds the dataset, and it could not be downloaded."""


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


# ----------------------------------------------------------------------------- loading

_MEMO: dict[tuple, Dataset] = {}


def clear_memo() -> None:
    """Forget the datasets kept in this process (the files on disk stay)."""
    _MEMO.clear()


def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def _env_offline() -> bool:
    return _env_flag("REPLICATION_OFFLINE")


def _env_accept_unverified() -> bool:
    return _env_flag("REPLICATION_ACCEPT_UNVERIFIED")


ACCEPT_HOW = ("pass allow_unverified=True to load_dataset, or set REPLICATION_ACCEPT_UNVERIFIED=1 "
              "(the data is then marked canonical=False)")


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


def _build(name, contents, md5s, origins, canonical, dtype) -> Dataset:
    x_tr = _parse_idx(contents["train-images-idx3-ubyte"], "train-images-idx3-ubyte", 2051)
    y_tr = _parse_idx(contents["train-labels-idx1-ubyte"], "train-labels-idx1-ubyte", 2049)
    x_te = _parse_idx(contents["t10k-images-idx3-ubyte"], "t10k-images-idx3-ubyte", 2051)
    y_te = _parse_idx(contents["t10k-labels-idx1-ubyte"], "t10k-labels-idx1-ubyte", 2049)
    for x, y, split in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if len(x) != len(y):
            raise DataVerificationError(f"{name}: {split} has {len(x)} images but {len(y)} labels")
    n_classes = len(SPECS[name].classes)
    if y_tr.size and max(y_tr.max(), y_te.max() if y_te.size else 0) >= n_classes:
        raise DataVerificationError(f"{name}: labels outside 0..{n_classes - 1}")

    mean, std = _pixel_mean_std(x_tr)
    work = torch.float64 if dtype == torch.float64 else torch.float32

    def normalize(p: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(p.astype(np.float64 if work == torch.float64 else np.float32))
        return x.div_(255.0).sub_(mean).div_(std).unsqueeze(1).to(dtype)

    return Dataset(
        name=name,
        x_train=normalize(x_tr), y_train=torch.from_numpy(y_tr.astype(np.int64)),
        x_test=normalize(x_te), y_test=torch.from_numpy(y_te.astype(np.int64)),
        mean=mean, std=std, source="; ".join(dict.fromkeys(origins[f] for f in FILES)),
        fingerprint=_fingerprint(md5s), canonical=canonical)


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


def _parse_idx(data: bytes, fname: str, magic: int) -> np.ndarray:
    """(n, rows, cols) uint8 images for magic 2051, (n,) uint8 labels for 2049."""
    ndim = 3 if magic == 2051 else 1
    head = 4 * (1 + ndim)
    if len(data) < head:
        raise DataVerificationError(f"{fname}: {len(data)} bytes is too short for an idx header")
    found, *shape = (int(v) for v in np.frombuffer(data, dtype=">i4", count=1 + ndim))
    if found != magic:
        raise DataVerificationError(f"{fname}: idx magic number {found}, expected {magic}")
    if len(data) != head + int(np.prod(shape)):
        raise DataVerificationError(
            f"{fname}: header says shape {tuple(shape)} = {head + int(np.prod(shape))} bytes, file has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(shape)


# ----------------------------------------------------------------------------- resolution

def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class _Place:
    """A folder that may hold the files: how to describe it, and how to fix it."""
    folder: Path
    origin: str
    fix: str


def _fixes(spec: _Spec) -> str:
    fixes = ["point REPLICATION_DATA_DIR at a folder holding the canonical idx files (gz or not)"]
    if spec.debian_package:
        fixes.append(f"`apt-get install {spec.debian_package}` (Debian/Ubuntu)")
    fixes.append("download it: run once with internet access, without REPLICATION_OFFLINE=1 "
                 "or allow_download=False")
    return "; or ".join(fixes)


def _resolve(name: str, spec: _Spec, allow_download: bool, allow_unverified: bool):
    """Find, verify and cache the four files: (contents, md5s, origins, canonical)."""
    cache = paths.data_root() / spec.folder / "raw"
    table = _read_verified(cache)
    contents, md5s, origins = {}, {}, {}
    canonical = True
    searched = [f"1. verified cache {cache}"]

    for fname in FILES:                                    # 1. the verified cache
        got = _from_cache(name, spec, fname, cache, table, allow_unverified)
        if got is not None:
            contents[fname], md5s[fname], origins[fname], ok = got
            canonical &= ok
    missing = [f for f in FILES if f not in contents]
    if missing:
        searched[0] += " (missing: " + ", ".join(missing) + ")"

    places = []
    mirror = paths.data_mirror()
    if mirror is None:
        searched.append("2. local mirror: REPLICATION_DATA_DIR is not set")
    else:
        fix = f"replace it with the canonical file, or point REPLICATION_DATA_DIR (now {mirror}) elsewhere"
        for folder in (mirror, mirror / spec.folder / "raw"):
            places.append(_Place(folder, f"local mirror REPLICATION_DATA_DIR ({folder})", fix))
        searched.append(f"2. local mirror REPLICATION_DATA_DIR: {mirror} and {mirror / spec.folder / 'raw'}")
    if spec.debian_dir is not None:
        places.append(_Place(spec.debian_dir, f"Debian package {spec.debian_package} ({spec.debian_dir})",
                             f"reinstall it: `apt-get install --reinstall {spec.debian_package}`"))
        searched.append(f"3. Debian package {spec.debian_package}: {spec.debian_dir}")
    else:
        searched.append(f"3. Debian: no Debian package ships {name}")

    def take(place_list):
        nonlocal canonical
        for fname in [f for f in FILES if f not in contents]:
            for place in place_list:
                candidates = [p for p in (place.folder / fname, place.folder / (fname + ".gz")) if p.is_file()]
                if candidates:
                    got = _from_source(name, spec, fname, candidates, place, cache, table, allow_unverified)
                    contents[fname], md5s[fname], origins[fname], ok = got
                    canonical &= ok
                    break

    take(places)                                           # 2. mirror, 3. Debian
    missing = [f for f in FILES if f not in contents]
    if missing:                                            # 4. download
        if not allow_download:
            why = ("REPLICATION_OFFLINE=1" if _env_offline() else "allow_download=False")
            searched.append(f"4. download: disabled ({why})")
        else:
            paths.data_root().mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".download-{spec.folder}-", dir=paths.data_root()))
            try:
                raw = _download(spec, tmp)
                take([_Place(raw, f"download via torchvision.datasets.{spec.folder}",
                             "delete the cached file and retry the download")])
                missing = [f for f in FILES if f not in contents]
                if missing:
                    searched.append(f"4. download: finished but {', '.join(missing)} not found in it")
            except (DataVerificationError, KeyboardInterrupt):
                raise
            except Exception as e:  # network errors, torchvision missing, mirrors down, ...
                searched.append(f"4. download: failed ({type(e).__name__}: {_short(e)})")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    missing = [f for f in FILES if f not in contents]
    if missing:
        raise DatasetNotFoundError(
            f"{name}: dataset not found (missing {', '.join(missing)}). Searched, in order:\n  "
            + "\n  ".join(searched)
            + f"\nTo fix: {_fixes(spec)}.")
    return contents, md5s, origins, canonical


def _short(e: Exception, limit: int = 600) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _from_cache(name, spec, fname, cache, table, allow_unverified):
    """(content, md5, origin, canonical) of a cached file, None when absent."""
    path = cache / fname
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    md5, size = spec.content[fname]
    entry = table.get(fname) or {}
    origin = entry.get("origin", "unknown origin")
    described = f"verified cache {cache} (from {origin})"

    def official(m):  # the table's md5, or the one recorded for a file whose official gz we checked
        return m == md5 or (m == entry.get("md5") and entry.get("attested_by") == f"gz md5 {spec.gz_md5[fname]}")

    if (entry.get("size") == st.st_size == len(data) == size and entry.get("mtime_ns") == st.st_mtime_ns
            and official(entry.get("md5"))):
        return data, entry["md5"], described, True           # verified before, unchanged since
    found = _md5(data)
    if len(data) == size and official(found):
        table[fname] = {**entry, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": found,
                        "origin": origin}
        _write_verified(cache, table)
        return data, found, described, True
    message = _mismatch(name, fname, path, "the verified cache", found, len(data), md5, size,
                        f"delete {path} (it is re-created from a canonical source on the next load)")
    if not allow_unverified:
        raise DataVerificationError(message)
    warnings.warn(message + "\nUsing it anyway (allow_unverified=True or REPLICATION_ACCEPT_UNVERIFIED=1).",
                  stacklevel=4)
    return data, found, f"UNVERIFIED {path}", False


def _from_source(name, spec, fname, candidates, place, cache, table, allow_unverified):
    """Verify the first candidate that passes (plain before .gz), install it in the cache."""
    md5, size = spec.content[fname]
    first_error = None
    for path in candidates:
        raw = path.read_bytes()
        attested = None
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as e:
                msg = (f"{name}: {path.name} from {place.origin} could not be decompressed ({e}); "
                       f"it is corrupt or truncated. To fix: {place.fix}; or {_fixes(spec)}.")
                first_error = first_error or (msg, raw, _md5(raw))
                continue
            if _md5(raw) == spec.gz_md5[fname]:
                attested = f"gz md5 {spec.gz_md5[fname]}"
        else:
            data = raw
        found = _md5(data)
        if len(data) == size and (found == md5 or attested):
            _install(cache, fname, data)
            st = (cache / fname).stat()
            table[fname] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": found,
                            "origin": place.origin, "file": str(path),
                            "attested_by": attested or f"content md5 {md5}"}
            _write_verified(cache, table)
            return data, found, f"verified cache {cache} (from {place.origin})", True
        msg = _mismatch(name, fname, path, place.origin, found, len(data), md5, size, place.fix)
        first_error = first_error or (msg, data, found)
    message, data, found = first_error
    if not allow_unverified:
        raise DataVerificationError(message)
    warnings.warn(message + "\nUsing it anyway (allow_unverified=True or REPLICATION_ACCEPT_UNVERIFIED=1); "
                  "it is not cached.", stacklevel=5)
    return data, found, f"UNVERIFIED {candidates[0]}", False


def _mismatch(name, fname, path, origin, found, found_size, md5, size, fix) -> str:
    return (f"{name}: {fname} from {origin} ({path}) is not the official file: "
            f"found md5 {found}, {found_size} bytes (decompressed); expected md5 {md5}, {size} bytes. "
            f"To fix: {fix}; or {_fixes(SPECS[name])}. To use it anyway: {ACCEPT_HOW}.")


def _install(cache: Path, fname: str, data: bytes) -> None:
    """Write ``cache/fname`` atomically: a temp file in the same folder, then os.replace."""
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{fname}.", suffix=".tmp", dir=cache)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())                 # mkstemp makes 0600
        os.replace(tmp, cache / fname)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _read_verified(cache: Path) -> dict:
    try:
        table = json.loads((cache / VERIFIED_NAME).read_text())
        return table if isinstance(table, dict) else {}
    except (FileNotFoundError, ValueError, OSError):
        return {}


def _write_verified(cache: Path, table: dict) -> None:
    if not table or not cache.is_dir():
        return
    text = json.dumps(table, indent=1, sort_keys=True)
    with contextlib.suppress(OSError):                    # a read-only cache still loads
        if (cache / VERIFIED_NAME).is_file() and (cache / VERIFIED_NAME).read_text() == text:
            return
        fd, tmp = tempfile.mkstemp(prefix=".VERIFIED.", suffix=".tmp", dir=cache)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, cache / VERIFIED_NAME)


def _download(spec: _Spec, into: Path) -> Path:
    """Download with torchvision into ``into``, with a socket timeout; return its raw folder.

    Raises whatever went wrong (ImportError, RuntimeError listing the mirrors' errors, ...).
    """
    import socket
    import torchvision.datasets  # only here: loading never needs torchvision

    cls = getattr(torchvision.datasets, spec.folder)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            cls(str(into), train=True, download=True)
    finally:
        socket.setdefaulttimeout(old)
    return into / spec.folder / "raw"


# ----------------------------------------------------------------------------- CIFAR-10
#
# load_dataset("cifar10"): the python-pickle layout the official archive unpacks to,
# ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``.  All seven files come
# from ONE place, the first that holds all of them:
#
#   1. the verified cache ``paths.data_root()/cifar-10-batches-py`` (+ VERIFIED.json; the
#      layout torchvision.datasets.CIFAR10(data_root()) reads);
#   2. the local mirror REPLICATION_DATA_DIR: the folder itself, or its cifar-10-batches-py/;
#   3. a torchvision download into a temporary folder under data_root(), unless
#      allow_download=False or REPLICATION_OFFLINE=1.
#
# A file verifies when its md5 is torchvision's (CIFAR10.train_list / test_list / meta,
# the md5s of the official files).  Verified files from 2-3 are copied into the cache
# (atomically); the cache trusts size+mtime recorded in VERIFIED.json.  If any file of the
# chosen place does not verify, DataVerificationError names every such file and says how
# to accept it; with allow_unverified=True (or REPLICATION_ACCEPT_UNVERIFIED=1) the files
# are used as found, never cached nor memoized, and the Dataset has canonical=False and a
# source starting "NOT canonical CIFAR-10: lossy JPEG stand-in (STANDIN.txt present)" when
# the folder holds the stand-in's marker (shared/data/cifar10_standin.py), else
# "NOT canonical CIFAR-10: UNVERIFIED files ...".  Unverified pickles are read with an
# unpickler that only admits numpy arrays (no arbitrary code).
#
# Normalization: per channel c, mean[c]/std[c] are the exact population mean/std of p/255
# over the training images' channel-c pixels; train and test map to (p/255 - mean[c])/std[c].
# Images are (N, 3, 32, 32) (the pickles' rows are 1024 R, 1024 G, 1024 B values, row-major),
# labels int64.

def _cifar_fixes() -> str:
    return ("point REPLICATION_DATA_DIR at a folder holding the official cifar-10-batches-py files "
            "(unpacked from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz); or download it: "
            "run once with internet access, without REPLICATION_OFFLINE=1 or allow_download=False")


def _present(spec: _CifarSpec, folder: Path) -> list[str]:
    return [f for f in spec.files if (folder / f).is_file()]


def _load_cifar(name, spec, allow_download, allow_unverified, dtype) -> Dataset:
    contents, md5s, source, canonical = _resolve_cifar(name, spec, allow_download, allow_unverified)
    return _build_cifar(name, spec, contents, md5s, source, canonical, dtype)


def _resolve_cifar(name: str, spec: _CifarSpec, allow_download: bool, allow_unverified: bool):
    """(contents, md5s, source, canonical) of the seven files, all from one place."""
    cache = paths.data_root() / spec.folder
    searched = []

    def note(number, what, folder):
        have = _present(spec, folder)
        missing = [f for f in spec.files if f not in have]
        searched.append(f"{number}. {what} {folder}"
                        + (f" (incomplete: missing {', '.join(missing)})" if have else " (no CIFAR-10 files)"))

    if len(_present(spec, cache)) == len(spec.files):          # 1. the verified cache
        return _cifar_from_cache(name, spec, cache, allow_unverified)
    note(1, "verified cache", cache)

    mirror = paths.data_mirror()                                  # 2. the local mirror
    if mirror is None:
        searched.append("2. local mirror: REPLICATION_DATA_DIR is not set")
    else:
        fix = (f"replace them with the official files, or point REPLICATION_DATA_DIR (now {mirror}) "
               "elsewhere")
        for folder in (mirror, mirror / spec.folder):
            if len(_present(spec, folder)) == len(spec.files):
                place = _Place(folder, f"local mirror REPLICATION_DATA_DIR ({folder})", fix)
                return _cifar_from_source(name, spec, place, cache, allow_unverified)
            note(2, "local mirror REPLICATION_DATA_DIR:", folder)

    if not allow_download:                                        # 3. download
        why = "REPLICATION_OFFLINE=1" if _env_offline() else "allow_download=False"
        searched.append(f"3. download: disabled ({why})")
    else:
        paths.data_root().mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".download-{spec.folder}-", dir=paths.data_root()))
        try:
            folder = _download_cifar(spec, tmp)
            if len(_present(spec, folder)) == len(spec.files):
                place = _Place(folder, f"download via torchvision.datasets.{spec.torchvision_class}",
                               "delete the cache folder and retry the download")
                return _cifar_from_source(name, spec, place, cache, allow_unverified)
            missing = [f for f in spec.files if f not in _present(spec, folder)]
            searched.append(f"3. download: finished but {', '.join(missing)} not found in it")
        except (DataVerificationError, KeyboardInterrupt):
            raise
        except Exception as e:  # network errors, torchvision missing, mirrors down, ...
            searched.append(f"3. download: failed ({type(e).__name__}: {_short(e)})")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise DatasetNotFoundError(
        f"{name}: dataset not found (no place holds all of {', '.join(spec.files)}). Searched, in order:\n  "
        + "\n  ".join(searched) + f"\nTo fix: {_cifar_fixes()}.")


def _cifar_from_cache(name, spec, cache, allow_unverified):
    table = _read_verified(cache)
    contents, md5s, bad, changed = {}, {}, [], False
    for f in spec.files:
        path = cache / f
        st = path.stat()
        contents[f] = data = path.read_bytes()
        entry = table.get(f) if isinstance(table.get(f), dict) else {}
        if (entry.get("md5") == spec.md5[f] and entry.get("size") == st.st_size == len(data)
                and entry.get("mtime_ns") == st.st_mtime_ns):
            md5s[f] = entry["md5"]                              # verified before, unchanged since
            continue
        md5s[f] = found = _md5(data)
        if found == spec.md5[f]:
            table[f] = {**entry, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": found,
                        "origin": entry.get("origin", "placed in the cache")}
            changed = True
        else:
            bad.append(f)
    if not bad:
        if changed:
            _write_verified(cache, table)
        origins = dict.fromkeys(table[f].get("origin", "unknown origin") for f in spec.files)
        return contents, md5s, f"verified cache {cache} (from {'; '.join(origins)})", True
    message = _cifar_mismatch(name, spec, cache, "the verified cache", md5s, bad,
                              f"delete {cache} (it is re-created from a canonical source on the next load)")
    return _cifar_unverified(message, contents, md5s, cache, allow_unverified)


def _cifar_from_source(name, spec, place, cache, allow_unverified):
    contents = {f: (place.folder / f).read_bytes() for f in spec.files}
    md5s = {f: _md5(b) for f, b in contents.items()}
    bad = [f for f in spec.files if md5s[f] != spec.md5[f]]
    if bad:
        message = _cifar_mismatch(name, spec, place.folder, place.origin, md5s, bad, place.fix)
        return _cifar_unverified(message, contents, md5s, place.folder, allow_unverified)
    table = {}
    for f in spec.files:
        _install(cache, f, contents[f])
        st = (cache / f).stat()
        table[f] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": md5s[f], "origin": place.origin,
                    "file": str(place.folder / f), "attested_by": f"content md5 {spec.md5[f]}"}
    with contextlib.suppress(FileNotFoundError):                 # a stale marker no longer applies
        (cache / STANDIN_MARKER).unlink()
    _write_verified(cache, table)
    return contents, md5s, f"verified cache {cache} (from {place.origin})", True


def _cifar_mismatch(name, spec, folder, origin, md5s, bad, fix) -> str:
    standin = (folder / STANDIN_MARKER).is_file()
    what = ("the lossy JPEG stand-in (STANDIN.txt present), not canonical CIFAR-10" if standin
            else "not the official CIFAR-10 files")
    files = "; ".join(f"{f}: md5 {md5s[f]}, expected {spec.md5[f]}" for f in bad)
    return (f"{name}: {len(bad)} of {len(spec.files)} files in {folder} ({origin}) do not verify: {files}. "
            f"This is {what}. To use it anyway: {ACCEPT_HOW}. "
            f"To get canonical data: {fix}; or {_cifar_fixes()}.")


def _cifar_unverified(message, contents, md5s, folder, allow_unverified):
    if not allow_unverified:
        raise DataVerificationError(message)
    warnings.warn(message + "\nUsing it anyway (allow_unverified=True or REPLICATION_ACCEPT_UNVERIFIED=1): "
                  "not cached, and the dataset is marked canonical=False.", stacklevel=6)
    if (folder / STANDIN_MARKER).is_file():
        source = f"NOT canonical CIFAR-10: lossy JPEG stand-in (STANDIN.txt present) in {folder}"
    else:
        source = f"NOT canonical CIFAR-10: UNVERIFIED files in {folder} (md5s differ from the official ones)"
    return contents, md5s, source, False


def _download_cifar(spec: _CifarSpec, into: Path) -> Path:
    """Download with torchvision into ``into`` (it checks the archive's md5 and unpacks it);
    return the unpacked folder.  Raises whatever went wrong."""
    import socket
    import torchvision.datasets

    cls = getattr(torchvision.datasets, spec.torchvision_class)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            cls(str(into), train=True, download=True)
    finally:
        socket.setdefaulttimeout(old)
    return into / spec.folder


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR batch needs (numpy arrays, dtypes); no other globals."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 pickle")


def _unpickle(name: str, fname: str, data: bytes, trusted: bool) -> dict:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # numpy.core.* names in old pickles
            if trusted:                                            # the official bytes (md5 checked)
                obj = pickle.loads(data, encoding="latin1")
            else:
                obj = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:
        raise DataVerificationError(f"{name}: {fname} is not a readable CIFAR pickle "
                                    f"({type(e).__name__}: {_short(e, 200)})") from e
    if not isinstance(obj, dict):
        raise DataVerificationError(f"{name}: {fname} holds a {type(obj).__name__}, expected a dict")
    return obj


def _build_cifar(name, spec, contents, md5s, source, canonical, dtype) -> Dataset:
    batches = {f: _unpickle(name, f, contents[f], canonical) for f in spec.files}
    label_names = batches[spec.meta].get("label_names")
    if list(label_names or ()) != list(spec.classes):
        raise DataVerificationError(f"{name}: {spec.meta} lists label_names {label_names!r}, "
                                    f"expected {list(spec.classes)}")

    def stack(files):
        xs, ys = [], []
        for f in files:
            x, y = batches[f].get("data"), batches[f].get("labels")
            if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == 3072):
                raise DataVerificationError(f"{name}: {f}['data'] is not an (n, 3072) uint8 array "
                                            f"(got {type(x).__name__} {getattr(x, 'shape', '')} "
                                            f"{getattr(x, 'dtype', '')})")
            y = np.asarray(y if y is not None else [], dtype=np.int64)
            if y.shape != (x.shape[0],):
                raise DataVerificationError(f"{name}: {f} has {x.shape[0]} images but {y.size} labels")
            if y.size and (y.min() < 0 or y.max() >= len(spec.classes)):
                raise DataVerificationError(f"{name}: {f} has labels outside 0..{len(spec.classes) - 1}")
            xs.append(x)
            ys.append(y)
        return np.concatenate(xs).reshape(-1, 3, 32, 32), np.concatenate(ys)

    x_tr, y_tr = stack(spec.train)
    x_te, y_te = stack(spec.test)
    if len(y_tr) == 0:
        raise DataVerificationError(f"{name}: the training batches hold no images")
    stats = [_pixel_mean_std(x_tr[:, c]) for c in range(3)]
    mean = tuple(m for m, _ in stats)
    std = tuple(s for _, s in stats)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    m = torch.tensor(mean, dtype=work).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=work).view(1, 3, 1, 1)

    def normalize(p: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(p).to(work).div_(255.0).sub_(m).div_(s).to(dtype)

    return Dataset(
        name=name, x_train=normalize(x_tr), y_train=torch.from_numpy(y_tr),
        x_test=normalize(x_te), y_test=torch.from_numpy(y_te),
        mean=mean, std=std, source=source, fingerprint=_fingerprint(md5s, spec.files), canonical=canonical)


# ----------------------------------------------------------------------------- subsets, validation, label noise

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


# ----------------------------------------------------------------------------- augmentation

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
