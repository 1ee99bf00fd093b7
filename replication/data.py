"""Datasets as normalized tensors, verified by content checksum.

    ds = load_dataset("fashion-mnist", device="cuda")
    ds.x_train  # (60000, 1, 28, 28) float32, (p/255 - mean) / std
    ds.y_train  # (60000,) int64

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
``allow_unverified=True``: then the data is used as found (never cached), with a warning,
and ``Dataset.canonical`` is False.

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
import shutil
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import paths

__all__ = [
    "Dataset", "load_dataset", "dataset_provenance", "clear_memo",
    "DataVerificationError", "DatasetNotFoundError", "DATASETS",
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
DATASETS = tuple(SPECS)


class DataVerificationError(RuntimeError):
    """A dataset file does not have the official content (md5 / size / idx header)."""


class DatasetNotFoundError(FileNotFoundError):
    """No place searched holds the dataset, and it could not be downloaded."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Normalized train/test tensors of one dataset, plus where they came from.

    ``fingerprint`` is derived from the md5s of the four decompressed files only, so it
    is the same for the same data wherever it came from.  ``canonical`` is True when
    every file verified against the official checksums.
    """
    name: str
    x_train: torch.Tensor     # (N, 1, 28, 28), dtype as requested, normalized
    y_train: torch.Tensor     # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float               # of p/255 over the training pixels
    std: float
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
                f"mean={self.mean:.4f}, std={self.std:.4f}, fingerprint={self.fingerprint}, "
                f"canonical={self.canonical}, source={self.source!r})")


def dataset_provenance(ds: Dataset) -> dict:
    """What to stamp on a result computed from ``ds``."""
    return {"name": ds.name, "source": ds.source, "fingerprint": ds.fingerprint,
            "canonical": ds.canonical, "n_train": ds.n_train, "n_test": ds.n_test}


# ----------------------------------------------------------------------------- loading

_MEMO: dict[tuple, Dataset] = {}


def clear_memo() -> None:
    """Forget the datasets kept in this process (the files on disk stay)."""
    _MEMO.clear()


def _env_offline() -> bool:
    return os.environ.get("REPLICATION_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def load_dataset(name: str, device: str | torch.device = "cpu", *,
                 allow_download: bool | None = None, dtype: torch.dtype = torch.float32,
                 allow_unverified: bool = False) -> Dataset:
    """Load ``name`` (one of ``DATASETS``) as normalized tensors on ``device``.

    allow_download: None means "unless REPLICATION_OFFLINE=1".
    allow_unverified: use files that fail verification (with a warning; never cached;
        the result has ``canonical=False``).  Off by default: such files raise
        ``DataVerificationError``.
    Verified datasets are memoized per (name, device, dtype, data root, mirror).
    """
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(map(repr, DATASETS))}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating point dtype, got {dtype}")
    device = torch.device(device)
    if allow_download is None:
        allow_download = not _env_offline()
    key = (name, str(device), dtype, str(paths.data_root()), str(paths.data_mirror()))
    if key in _MEMO:
        return _MEMO[key]
    if device.type != "cpu":
        ds = load_dataset(name, "cpu", allow_download=allow_download, dtype=dtype,
                          allow_unverified=allow_unverified).to(device)
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


def _fingerprint(md5s: dict[str, str]) -> str:
    text = "\n".join(f"{f} {md5s[f]}" for f in FILES)
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
    warnings.warn(message + "\nUsing it anyway (allow_unverified=True).", stacklevel=4)
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
    warnings.warn(message + "\nUsing it anyway (allow_unverified=True); it is not cached.", stacklevel=5)
    return data, found, f"UNVERIFIED {candidates[0]}", False


def _mismatch(name, fname, path, origin, found, found_size, md5, size, fix) -> str:
    return (f"{name}: {fname} from {origin} ({path}) is not the official file: "
            f"found md5 {found}, {found_size} bytes (decompressed); expected md5 {md5}, {size} bytes. "
            f"To fix: {fix}; or {_fixes(SPECS[name])}.")


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
