"""CIFAR-10 from the official pickles; the lossy stand-in is refused unless accepted, and labelled.

``load_dataset("cifar10")`` reads the python-pickle layout the official archive unpacks to,
``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``.  All seven files come
from ONE place, the first that holds all of them:

1. the verified cache ``paths.data_root()/cifar-10-batches-py`` (+ VERIFIED.json; the layout
   ``torchvision.datasets.CIFAR10(data_root())`` reads);
2. the local mirror ``REPLICATION_DATA_DIR``: the folder itself, or its ``cifar-10-batches-py/``;
3. a torchvision download into a temporary folder under ``data_root()``, unless
   ``allow_download=False`` or ``REPLICATION_OFFLINE=1``.

A file verifies when its md5 is torchvision's (``CIFAR10.train_list`` / ``test_list`` /
``meta``, the md5s of the official files).  Verified files from 2-3 are copied into the cache
(atomically); the cache trusts size+mtime recorded in VERIFIED.json.  If any file of the
chosen place does not verify, ``DataVerificationError`` names every such file and says how to
accept it; with ``allow_unverified=True`` (or ``REPLICATION_ACCEPT_UNVERIFIED=1``) the files are
used as found, never cached nor memoized, and the Dataset has ``canonical=False`` and a source
starting "NOT canonical CIFAR-10: lossy JPEG stand-in (STANDIN.txt present)" when the folder
holds the stand-in's marker (shared/data/cifar10_standin.py), else "NOT canonical CIFAR-10:
UNVERIFIED files ...".  Unverified pickles are read with an unpickler that only admits numpy
arrays (no arbitrary code).

Normalization: per channel c, mean[c]/std[c] are the exact population mean/std of p/255 over
the training images' channel-c pixels; train and test map to (p/255 - mean[c])/std[c].
Images are (N, 3, 32, 32) (each pickle row is 1024 R, 1024 G, 1024 B values, row-major),
labels int64.
"""
from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import paths
from .dataset import Dataset, _fingerprint, _pixel_mean_std
from .search import Search
from .specs import STANDIN_MARKER, _CifarSpec
from .verify import (ACCEPT_HOW, DataVerificationError, _install, _Place, _read_verified, _seam, _short,
                     _torchvision_download, _write_verified)


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
    search = Search(name)

    def note(number, what, folder):
        have = _present(spec, folder)
        missing = [f for f in spec.files if f not in have]
        search.note(f"{number}. {what} {folder}"
                    + (f" (incomplete: missing {', '.join(missing)})" if have else " (no CIFAR-10 files)"))

    if len(_present(spec, cache)) == len(spec.files):          # 1. the verified cache
        return _cifar_from_cache(name, spec, cache, allow_unverified)
    note(1, "verified cache", cache)

    mirror = paths.data_mirror()                                  # 2. the local mirror
    if mirror is None:
        search.note("2. local mirror: REPLICATION_DATA_DIR is not set")
    else:
        fix = (f"replace them with the official files, or point REPLICATION_DATA_DIR (now {mirror}) "
               "elsewhere")
        for folder in (mirror, mirror / spec.folder):
            if len(_present(spec, folder)) == len(spec.files):
                place = _Place(folder, f"local mirror REPLICATION_DATA_DIR ({folder})", fix)
                return _cifar_from_source(name, spec, place, cache, allow_unverified)
            note(2, "local mirror REPLICATION_DATA_DIR:", folder)

    def take(folder):                                             # 3. download
        missing = [f for f in spec.files if f not in _present(spec, folder)]
        if missing:
            return None, missing
        place = _Place(folder, f"download via torchvision.datasets.{spec.torchvision_class}",
                       "delete the cache folder and retry the download")
        return _cifar_from_source(name, spec, place, cache, allow_unverified), []

    found = search.download(3, spec, "_download_cifar", allow_download, take)
    if found is not None:
        return found
    raise search.not_found(f"no place holds all of {', '.join(spec.files)}", _cifar_fixes())


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
        md5s[f] = found = _seam("_md5")(data)
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
    md5s = {f: _seam("_md5")(b) for f, b in contents.items()}
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
    _torchvision_download(spec.torchvision_class, into)
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

