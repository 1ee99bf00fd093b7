"""Files on a disk that several users and processes share: permissions, checksums, temporaries.

* :func:`share_as_umask_allows` gives a folder or file the permissions the umask allows
  (``mkdtemp``/``mkstemp`` alone give 0700/0600), so a group-shared store (umask 002, setgid folder)
  holds entries every member of the group can read and write.
* :func:`permission_problem`: one line about a permission error (who owns what, what to do).
* :func:`sha256_file`: the checksum every record keeps of its payload.
* :func:`sweep_temporaries`: what killed writes left behind, removed once older than
  ``TEMPORARY_MAX_AGE_S`` (a write in flight is seconds old).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

TEMPORARY_MAX_AGE_S = 3600.0


def umask() -> int:
    """This process's umask, read without changing it where Linux shows it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)                     # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def share_as_umask_allows(path: Path, *, folder: bool) -> None:
    """Give ``path`` the permissions the umask allows (``0o777 & ~umask`` for a folder, ``0o666 &
    ~umask`` for a file), keeping a setgid bit it inherited.  ``mkdtemp``/``mkstemp`` create 0700/0600
    whatever the umask; without this a group-shared store (umask 002, setgid folder) would hold entries
    only their writer can read."""
    full = 0o777 if folder else 0o666
    keep = os.stat(path).st_mode & 0o7000
    os.chmod(path, keep | (full & ~umask()))


def permission_problem(path: Path, error: OSError) -> str:
    """One line about a permission error at ``path``: who owns what, and what to do."""
    where = Path(error.filename) if getattr(error, "filename", None) else path
    try:
        st = os.stat(where)
        owner = f"owned by uid {st.st_uid}, gid {st.st_gid}, mode {st.st_mode & 0o7777:o}"
    except OSError:
        owner = "its owner unknown"
    return (f"permission denied at {where} ({owner}; this process runs as uid {os.getuid()}): a shared "
            "store needs every user in its group with umask 002 and a setgid folder (see the README's "
            "store section); ask its owner to run chmod -R g+rwX on the store")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sweep_temporaries(folder: Path, older_than_s: float = TEMPORARY_MAX_AGE_S) -> None:
    """Remove the temporaries in ``folder`` older than ``older_than_s`` (left by killed writes)."""
    now = time.time()
    for tmp in list(folder.glob(".*.tmp-*")) + list(folder.glob(".*.claim.stale-*")):
        try:
            if now - tmp.stat().st_mtime > older_than_s:
                if tmp.is_dir():
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)
        except OSError:
            pass
