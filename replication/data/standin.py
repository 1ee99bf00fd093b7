"""Data for machines that cannot download it: the CIFAR-10 JPEG stand-in, and random pixels in the
official layouts.  Nothing here is canonical, and nothing here is loaded by a training run: these
functions only write files where :func:`replication.data.load_dataset` looks (a local mirror,
``REPLICATION_DATA_DIR``), and the loader refuses them unless told to accept unverified data, then
marks the dataset ``canonical=False`` (the stand-in's source says "lossy JPEG stand-in").

- :func:`find_archive`: the stand-in ``cifar10-jpeg-q75.tar.gz`` (all 60,000 CIFAR-10 images as JPEG
  quality 75), in the checkout's ``shared/data/`` or in ``../shared/data`` beside it (:data:`ARCHIVES`);
- :func:`shared_folders`: those two folders where they exist, for a caller to use as a local mirror
  (REPLICATION_DATA_DIR) of the idx files in ``<FashionMNIST|MNIST>/raw/``: the checkout's gitignored
  ``shared/data/`` is what travels to a lent GPU machine (``scripts/device-data.sh`` fills it; the
  loader verifies the files by content, so they load as canonical);
- :func:`write_standin`: runs the ``cifar10_standin.py`` beside the archive, which writes the official
  ``cifar-10-batches-py/`` pickle layout and its ``STANDIN.txt`` marker (about 10 s, 180 MB);
- :func:`slice_cifar`: the first examples of each pickle of such a folder, marker kept (a copy that
  loads in milliseconds, for tests);
- :func:`write_random`: random pixels and labels of a dataset's shape, in the layout the loader's mirror
  search reads (``<mirror>/<Folder>/raw/`` idx files, ``<mirror>/cifar-10-batches-py/``): timings and
  dry runs only.

Used by ``benchmarks/gpu_check.py`` and ``tests/test_profiles_dry_run.py``.
"""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import paths
from .cifar import _unpickle
from .specs import SPECS, STANDIN_MARKER, _CifarSpec

ARCHIVE_NAME = "cifar10-jpeg-q75.tar.gz"
#: where the stand-in archive is looked for, in order (the checkout's ``shared/data/`` first)
_ROOT = paths.checkout_root()
#: the shared data folders, in order: the checkout's ``shared/data/`` (gitignored), then ``../shared/data``
SHARED = tuple(folder / "shared" / "data" for folder in ((_ROOT, _ROOT.parent) if _ROOT else ()))
ARCHIVES = tuple(folder / ARCHIVE_NAME for folder in SHARED)


def find_archive(candidates=None) -> Path | None:
    """The first of ``candidates`` (default :data:`ARCHIVES`) that is a file, else ``None``."""
    return next((Path(a) for a in (ARCHIVES if candidates is None else candidates) if Path(a).is_file()), None)


def shared_folders(candidates=None) -> list[Path]:
    """The folders of ``candidates`` (default :data:`SHARED`) that exist."""
    return [Path(f) for f in (SHARED if candidates is None else candidates) if Path(f).is_dir()]


def write_standin(archive: Path, dest: Path) -> Path:
    """``dest/cifar-10-batches-py`` written from ``archive`` by the ``cifar10_standin.py`` beside it;
    raises ``RuntimeError`` with the script's last words when it fails."""
    script = Path(archive).with_name("cifar10_standin.py")
    done = subprocess.run([sys.executable, str(script), str(dest)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return Path(dest) / SPECS["cifar10"].folder


def _write_cifar_folder(folder: Path, batches: dict, classes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for fname, batch in batches.items():
        (folder / fname).write_bytes(pickle.dumps(batch, protocol=4))
    (folder / SPECS["cifar10"].meta).write_bytes(pickle.dumps({"label_names": list(classes)}, protocol=4))


def slice_cifar(source: Path, dest: Path, per_batch: int, n_test: int) -> Path:
    """``dest/cifar-10-batches-py``: the first ``per_batch`` examples of each training batch of the
    folder ``source`` and its first ``n_test`` test examples, with its ``STANDIN.txt`` if it has one."""
    spec = SPECS["cifar10"]
    out = Path(dest) / spec.folder
    batches = {}
    for fname in (*spec.train, *spec.test):
        n = n_test if fname in spec.test else per_batch
        batch = _unpickle("cifar10", fname, (Path(source) / fname).read_bytes(), trusted=False)
        batches[fname] = {"data": np.ascontiguousarray(batch["data"][:n]), "labels": list(batch["labels"][:n])}
    _write_cifar_folder(out, batches, spec.classes)
    if (Path(source) / STANDIN_MARKER).is_file():
        (out / STANDIN_MARKER).write_bytes((Path(source) / STANDIN_MARKER).read_bytes())
    return out


def write_random(name: str, mirror: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Random pixels and labels of dataset ``name`` (``n_train`` training examples, for CIFAR-10 per
    batch, and ``n_test`` test examples) where the loader's mirror search finds them; the folder."""
    rng = np.random.default_rng(seed)
    spec = SPECS[name]
    if isinstance(spec, _CifarSpec):
        def batch(n):
            return {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                    "labels": [int(v) for v in rng.integers(0, len(spec.classes), n)]}

        folder = Path(mirror) / spec.folder
        _write_cifar_folder(folder, {f: batch(n_test if f in spec.test else n_train)
                                     for f in (*spec.train, *spec.test)}, spec.classes)
        return folder
    folder = Path(mirror) / spec.folder / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, len(spec.classes), n, dtype=np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], ">i4").tobytes() + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, n], ">i4").tobytes() + labels.tobytes())
    return folder
