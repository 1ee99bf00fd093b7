"""The chapters' verdict files: sealed, tied to the stored results they rest on, checked when read.

A chapter's verdicts at a profile live in ``<store>/verdicts/<profile>/<chapter>.json``::

    {"format": 2, "chapter", "profile", "code_version", "written", "params",
     "verdicts": [Verdict.to_dict(), ...],
     "sources": [{"kind", "key", "payload_sha256"}, ...],   # every stored result they were computed from
     "sha256": "..."}                                        # of everything above, canonical JSON

The seal is ``sha256(json.dumps(body, sort_keys=True, separators=(",", ":")))`` of the record
without its ``sha256`` field, so changing any byte of what it says (an outcome flipped by hand)
breaks it.  :func:`check` reads a file and names its state:

==============  =====================================================================================
``valid``       parses, the seal matches, every source is in the store with the same payload sha256
``absent``      no file (the chapter was not run at this profile)
``damaged``     not JSON, or not a verdict record
``unsealed``    a record without a seal (written before files were sealed)
``hand-edited`` the seal does not match the content
``stale``       a result it rests on is no longer in the store, or its payload changed
==============  =====================================================================================

Anything but ``valid`` and ``absent`` is never read as absent and never trusted: the chapter registry's
:func:`replication.chapters.collect_verdicts` recomputes such a chapter's verdicts from the stored
results (:func:`replication.chapters.recompute_verdicts`, inside :func:`replication.store.serving_only`,
so nothing trains) and says so in the file's ``note``;
where that needs results the store lacks, the note says that instead.  :func:`save` leaves a
valid file with the same content untouched, so a read-only store that holds a chapter's results
and verdicts serves it without writing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Mapping

FORMAT = 2
VALID, ABSENT, DAMAGED, UNSEALED, EDITED, STALE = "valid", "absent", "damaged", "unsealed", "hand-edited", "stale"


class VerdictFileWarning(UserWarning):
    """A verdict file that is not valid (damaged, unsealed, hand-edited or stale) was read."""


@dataclasses.dataclass
class VerdictFile:
    """What :func:`check` found at ``path``: its ``state``, the ``problem`` in words (empty when
    valid or absent), the ``record`` (verdicts as :class:`replication.claims.Verdict`; ``None``
    unless valid or recomputed) and, after :func:`collect`, a ``note`` for the reader."""

    chapter: str
    profile: str
    path: Path
    state: str
    problem: str = ""
    record: dict | None = None
    note: str = ""

    @property
    def trusted(self) -> bool:
        return self.record is not None

    def describe(self) -> str:
        return f"verdict file {self.path} is {self.state}: {self.problem}"


def _slug(profile: str) -> str:
    """A folder name for a profile (a user profile's path becomes its file name and a hash)."""
    if re.match(r"^[a-z0-9_-]+$", profile):
        return profile
    stem = re.sub(r"[^a-z0-9_-]+", "-", Path(profile).stem.lower()).strip("-") or "profile"
    return f"{stem}-{hashlib.sha256(profile.encode()).hexdigest()[:8]}"


def verdict_file(chapter: str, profile: str, store_root: Path | None = None) -> Path:
    from . import paths

    root = Path(store_root) if store_root is not None else paths.store_root()
    return root / "verdicts" / _slug(profile) / f"{chapter}.json"


def seal(body: Mapping) -> str:
    """The sha256 of ``body`` (a record without its ``sha256`` field) as canonical JSON."""
    text = json.dumps({k: v for k, v in body.items() if k != "sha256"}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def sources_of(sources: Mapping | Iterable | None) -> list[dict]:
    """``{(kind, key): sha256}`` (what :class:`replication.store.recording` gives) as sorted records."""
    if sources is None:
        return []
    items = sources.items() if isinstance(sources, Mapping) else ((tuple(s[:2]), s[2]) for s in sources)
    return [{"kind": kind, "key": key, "payload_sha256": sha} for (kind, key), sha in sorted(items)]


def _content(record: Mapping) -> dict:
    """What must be equal for a rewrite to change nothing (all but the time it was written and the seal)."""
    return {k: v for k, v in record.items() if k not in ("written", "sha256")}


def save(chapter: str, profile: str, verdicts: Iterable, *, params: Mapping | None = None,
         store_root: Path | None = None, sources: Mapping | Iterable | None = None) -> Path:
    """Write a chapter's verdicts, sealed, with the stored results they rest on (``sources``:
    ``{(kind, key): payload sha256}``), atomically and readable as the umask allows.  A valid file
    saying the same is left as it is (nothing is written: a read-only store serves it)."""
    from . import claims, provenance
    from .store import StoreError, share_as_umask_allows

    verdicts = list(verdicts)
    claims.by_id(verdicts)                              # ids unique
    path = verdict_file(chapter, profile, store_root)
    body = {"format": FORMAT, "chapter": chapter, "profile": profile, "code_version": provenance.code_version(),
            "written": provenance.utc_now(), "params": dict(params or {}),
            "verdicts": [v.to_dict() for v in verdicts], "sources": sources_of(sources)}
    body = json.loads(json.dumps(body, default=str))    # as it will read back (tuples as lists, objects as text)
    body["sha256"] = seal(body)
    try:
        current = json.loads(path.read_text())
        if _content(current) == _content(body) and current.get("sha256") == seal(current):
            return path
    except (OSError, ValueError, AttributeError):
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{chapter}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f, indent=1, sort_keys=True, ensure_ascii=False)
            share_as_umask_allows(Path(tmp), folder=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise StoreError(f"cannot write verdict file {path} ({error.strerror or error}); set "
                         "REPLICATION_STORE to a writable folder") from None
    return path


def _stale_because(record: Mapping, store_root: Path) -> str:
    """Why the record's sources no longer match the store ('' when they all do)."""
    sources = record.get("sources")
    if not isinstance(sources, list):
        return "it names no stored results"
    for source in sources:
        entry = store_root / str(source.get("kind")) / str(source.get("key"))
        try:
            stored = json.loads((entry / "record.json").read_text()).get("payload_sha256")
        except FileNotFoundError:
            return f"the stored result {source.get('kind')}/{source.get('key')} it rests on is gone"
        except (ValueError, AttributeError):
            return f"the stored result {source.get('kind')}/{source.get('key')} it rests on is damaged"
        if stored != source.get("payload_sha256"):
            return f"the stored result {source.get('kind')}/{source.get('key')} it rests on has changed"
    return ""


def check(chapter: str, profile: str, *, store_root: Path | None = None) -> VerdictFile:
    """Read and verify a chapter's verdict file at ``profile`` (see the module docstring).  A file
    this process may not read raises the store's one-line permission error."""
    from . import claims, paths
    from .store import StoreError, permission_problem

    root = Path(store_root) if store_root is not None else paths.store_root()
    path = verdict_file(chapter, profile, root)
    found = VerdictFile(chapter, profile, path, ABSENT)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    except PermissionError as error:
        raise StoreError(permission_problem(path, error)) from None
    except UnicodeDecodeError:
        found.state, found.problem = DAMAGED, "not UTF-8 text"
        return found
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or not isinstance(record.get("verdicts"), list):
            raise ValueError("not a verdict record")
        verdicts = [claims.Verdict.from_dict(v) for v in record["verdicts"]]
    except (ValueError, KeyError, TypeError) as error:
        found.state, found.problem = DAMAGED, f"unreadable ({' '.join(str(error).split())[:160]})"
        return found
    if "sha256" not in record:
        found.state, found.problem = UNSEALED, "it carries no checksum (written before verdict files were sealed)"
        return found
    if record["sha256"] != seal(record):
        found.state, found.problem = EDITED, "its sha256 does not match its content (changed after it was written)"
        return found
    why = _stale_because(record, root)
    if why:
        found.state, found.problem = STALE, why
        return found
    found.state, found.record = VALID, dict(record, verdicts=verdicts)
    return found


def load(chapter: str, profile: str, *, store_root: Path | None = None) -> dict | None:
    """A chapter's valid verdict record at ``profile`` (verdicts as Verdict), else ``None``; a file
    that exists but is not valid warns (:class:`VerdictFileWarning`) naming what is wrong."""
    found = check(chapter, profile, store_root=store_root)
    if found.state not in (VALID, ABSENT):
        warnings.warn(found.describe(), VerdictFileWarning, stacklevel=2)
    return found.record
