"""Content-addressed result store, safe to share between processes and machines.

A result is stored under the key of the frozen config that produced it
(:meth:`replication.config.RunConfig.key`: a hash of the config's kind, its algorithm version,
the digest of the code that computes it, and its canonical JSON).  On disk::

    <root>/<kind>/<key>/payload.pt     the payload (torch.save of tensors, dicts, lists, numbers, strings)
    <root>/<kind>/<key>/record.json    config, provenance, wall time, sha256 of payload.pt
    <root>/<kind>/.<key>.claim         while a process computes the entry (host, pid, time)
    <root>/.quarantine/                damaged entries, moved aside (never silently deleted)
    <root>/.checkpoints/               epoch checkpoints of vmapped ensembles in flight

The store gets, puts, claims and checkpoints; what computes the missing entries is the one runner,
:func:`replication.runs.run` (get, dedupe, claim, compute, put, wait for what other processes
hold; it returns the results with their :class:`Tally`).  The package, one job a module: this one
(:class:`ResultStore`: get / put / claim / checkpoint), :mod:`.result` (:class:`Result`,
:class:`Tally`, :class:`Results`), :mod:`.payload` (the payload format that cannot execute code when
read), :mod:`.claim` (which process computes what), :mod:`.checkpoint` (state of a computation in
flight), :mod:`.files` (permissions, checksums, temporaries on a shared disk), :mod:`.usage` (which
entries a computation rested on; computing nothing), :mod:`.errors`, :mod:`.inventory` (what a store
holds) and :mod:`.verdicts` (the chapters' sealed verdict files,
``<root>/verdicts/<profile>/<chapter>.json``).

Promises (each has a test in ``tests/test_store.py``, ``tests/test_store_concurrency.py`` or ``tests/test_runs.py``)
-----------------------------------------------------------------------------------------------------------------
* **Computed once.**  The runner (:func:`replication.runs.run`) returns the stored result when one
  exists, computes a key asked for twice once, and tallies stored / computed / wall time
  (:class:`Tally`).
* **Reading cannot execute code.**  Payloads are written with ``torch.save`` and read with
  ``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers; numpy
  arrays and scalars travel as tensors tagged with their exact dtype (:func:`encode`), so a
  round trip returns the same types, dtypes and values.  Anything else (a dataclass, an object
  array) is refused when *writing*.  Old entries written with ``pickle`` (``payload.pkl``) are
  never loaded: they are quarantined like damaged ones and recomputed.
* **Atomic.**  An entry is written into a temporary directory and renamed into place; a crash
  mid-write leaves no entry.  Temporaries older than one hour (``TEMPORARY_MAX_AGE_S``; a write in
  flight is seconds old) are removed at the next write into the same kind folder.
* **Self-healing.**  A read checks that both files exist, the record parses, the payload's sha256
  matches and the payload decodes.  Any entry failing that (whatever is missing) is moved to
  ``.quarantine/`` with a warning naming it (:class:`CorruptedEntryWarning`), recomputed once and
  stored.
* **Shared by processes.**  Before computing an entry a process creates its claim file
  (``O_EXCL``); other processes skip it and compute other entries, then wait for it and read it, so
  two processes on one grid split the work.  The holder refreshes its claims every
  ``CLAIM_STALE_S / 5`` seconds; a claim is *stale*, and broken, when it was not refreshed for
  ``CLAIM_STALE_S`` (``REPLICATION_CLAIM_STALE_S``, default 300 s) or when it names a process of
  this host that no longer exists (kill -9).  The rare race of two breakers costs at most a
  duplicate computation, never a wrong result (the first complete entry wins).
* **Writable, or a one-line error before any compute.**  :meth:`ResultStore.check_writable` runs
  before the first computation (a read-only store that holds every result still serves reads):
  :class:`StoreError` names the path and ``REPLICATION_STORE``.
* **What a kill loses.**  Every stored entry survives.  A single computation (a measurement, a
  single training run) loses its work in flight.  A vmapped ensemble of
  :func:`replication.runs.train_all` writes a checkpoint (parameters, momentum, generators,
  histories) at the end of an epoch once ``CHECKPOINT_EVERY_S`` seconds (``REPLICATION_CHECKPOINT_S``,
  default 60) have passed since its previous checkpoint; restarted with the same members, it
  resumes from there, so a kill loses the epochs since that checkpoint (at most about a minute
  plus one epoch).  Resumed members are identical to uninterrupted ones on the same device and
  thread count.
* **Shared by users.**  Entries, checkpoints and verdict files get the permissions the umask allows
  (:func:`share_as_umask_allows`; ``mkdtemp``/``mkstemp`` alone would give 0700/0600), so with
  ``umask 002`` in a setgid folder every member of the group reads and writes them.  A permission
  error is a one-line :class:`StoreError` naming the path, its owner and mode, never "damaged", and
  nothing is quarantined for it.
* **Served read-only.**  Inside :func:`serving_only` any computation raises :class:`NeedsCompute`
  before it starts; :class:`recording` notes the key and payload sha256 of every entry read or
  written (what a chapter's verdicts rest on, :mod:`.verdicts`).
* **Located by the environment.**  ``REPLICATION_STORE`` points the store elsewhere (a cluster's
  shared filesystem; claims rely on ``O_EXCL`` creation and renames being atomic there, as on
  local disks and NFSv3+); the default lives in the git-ignored ``.cache/store`` of the checkout.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterable

from .. import paths, provenance
from .checkpoint import Checkpoint, checkpoint_every_s
from .claim import Claim, claim_stale_s
from .errors import CorruptedEntryWarning, NeedsCompute, StoreError
from .files import (TEMPORARY_MAX_AGE_S, permission_problem, sha256_file, share_as_umask_allows, sweep_temporaries,
                    umask)
from .payload import TAG, decode, encode, load_payload, save_payload
from .result import Result, Results, Tally
from .usage import note_use, recording, serving_only, serving_reason

PAYLOAD = "payload.pt"
RECORD = "record.json"
LEGACY_PAYLOAD = "payload.pkl"            # format 1 (pickle): never loaded
FORMAT = 2
QUARANTINE = ".quarantine"
CHECKPOINTS = ".checkpoints"
POLL_S = 0.25                             # how often a process waiting for another's claim looks again


# -- the store --------------------------------------------------------------------------------------
class ResultStore:
    """The results under ``root`` (default: ``REPLICATION_STORE``, else the checkout's ``.cache/store``):
    :meth:`get`, :meth:`put`, :meth:`claim` and :meth:`checkpoint` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else paths.store_root()
        self._writable = False

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # -- locations -----------------------------------------------------------------
    def entry_dir(self, config) -> Path:
        return self.root / config.kind / config.key

    def claim(self, config) -> Claim:
        return Claim(self.root / config.kind / f".{config.key}.claim")

    def __contains__(self, config) -> bool:
        entry = self.entry_dir(config)
        return (entry / RECORD).is_file() and (entry / PAYLOAD).is_file()

    def check_writable(self) -> None:
        """Raise a one-line :class:`StoreError` unless an entry can be written under the root.  Every
        computation calls this first, so inside :func:`serving_only` it raises :class:`NeedsCompute`."""
        why = serving_reason()
        if why is not None:
            raise NeedsCompute(f"result store {self.root} lacks results this needs (serving only what is "
                               f"stored: {why})")
        if self._writable:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as error:
            raise StoreError(f"result store {self.root} is not writable ({error.strerror or error}); "
                             "set REPLICATION_STORE to a writable folder") from None
        self._writable = True

    # -- read ----------------------------------------------------------------------
    def get(self, config) -> Result | None:
        """The stored result for ``config``, or ``None``.  A damaged entry is quarantined (None)."""
        entry = self.entry_dir(config)
        try:
            if not entry.exists():
                return None
            if (entry / LEGACY_PAYLOAD).exists() and not (entry / PAYLOAD).exists():
                raise ValueError("an old pickle entry (never loaded)")
            for name in (RECORD, PAYLOAD):
                if not (entry / name).is_file():
                    raise ValueError(f"{name} is missing")
            record = json.loads((entry / RECORD).read_text())
            if sha256_file(entry / PAYLOAD) != record["payload_sha256"]:
                raise ValueError("payload checksum mismatch")
            payload = load_payload(entry / PAYLOAD)
            result = Result(key=config.key, kind=config.kind, config=record["config"], payload=payload,
                            provenance=record["provenance"], wall_time=record["wall_time"], from_store=True)
        except PermissionError as error:         # another user's entry: not damage, never quarantined
            raise StoreError(permission_problem(entry, error)) from None
        except Exception as error:  # noqa: BLE001 - any unreadable entry is treated alike
            self._quarantine(entry, error)
            return None
        note_use(config.kind, config.key, record["payload_sha256"])
        return result

    def _quarantine(self, entry: Path, error: Exception) -> None:
        target = self.root / QUARANTINE / f"{entry.parent.name}-{entry.name}-{uuid.uuid4().hex[:6]}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(entry, target)
        except FileNotFoundError:
            return                              # another process moved it first
        except OSError as move_error:
            raise StoreError(f"damaged store entry {entry} ({' '.join(str(error).split())}) cannot be "
                             f"moved to {target.parent} ({move_error.strerror or move_error})") from None
        try:
            (target / "QUARANTINED.txt").write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                                                    f"{' '.join(str(error).split())}\n")
        except OSError:
            pass
        warnings.warn(f"damaged store entry {entry} ({' '.join(str(error).split())}); moved to {target}, "
                      "recomputing", CorruptedEntryWarning, stacklevel=3)

    # -- write ---------------------------------------------------------------------
    def put(self, config, payload: Any, *, wall_time: float, device: str = "cpu",
            data: dict | None = None) -> Result:
        """Store ``payload`` atomically under ``config``'s key and return it as a :class:`Result`."""
        self.check_writable()
        entry = self.entry_dir(config)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"result store {self.root} is not writable ({error.strerror or error}); "
                             "set REPLICATION_STORE to a writable folder") from None
        sweep_temporaries(entry.parent)
        prov = provenance.collect(device)
        prov["data"] = data if data is not None else {"source": "synthetic (seeded)", "canonical": True}
        tmp = Path(tempfile.mkdtemp(prefix=f".{config.key}.tmp-", dir=entry.parent))
        try:
            share_as_umask_allows(tmp, folder=True)
            save_payload(payload, tmp / PAYLOAD)
            record = {"format": FORMAT, "key": config.key, "kind": config.kind, "config": config.to_dict(),
                      "algorithm_version": config.algorithm_version,
                      "code": {"modules": list(config.code_modules()), "digest": config.code_version()},
                      "provenance": prov, "wall_time": wall_time,
                      "payload_sha256": sha256_file(tmp / PAYLOAD)}
            (tmp / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True))
            placed = self._move_into_place(config, tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if placed:                               # otherwise the valid entry found there was read (and noted)
            note_use(config.kind, config.key, record["payload_sha256"])
        return Result(key=config.key, kind=config.kind, config=config.to_dict(), payload=payload,
                      provenance=prov, wall_time=wall_time, from_store=False)

    def _move_into_place(self, config, tmp: Path, entry: Path) -> bool:
        """Rename ``tmp`` to ``entry`` (True).  An entry already there is kept when it is valid (another
        process wrote it first: False) and quarantined when damaged (then ``tmp`` takes its place)."""
        for _ in range(2):
            try:
                os.replace(tmp, entry)
                return True
            except OSError:
                pass
            if self.get(config) is not None:     # valid: keep the first; a damaged one is quarantined
                shutil.rmtree(tmp, ignore_errors=True)
                return False
        raise StoreError(f"cannot write store entry {entry} (something keeps reappearing there)")

    # -- checkpoints ---------------------------------------------------------------
    def checkpoint(self, kind: str, keys: Iterable[str]) -> "Checkpoint":
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
        return Checkpoint(self.root / CHECKPOINTS / kind / f"{name}.pt")


__all__ = ["Result", "Results", "Tally", "ResultStore", "StoreError", "NeedsCompute", "recording", "serving_only",
           "umask", "share_as_umask_allows", "permission_problem", "CorruptedEntryWarning", "Checkpoint",
           "Claim", "claim_stale_s", "checkpoint_every_s", "encode", "decode", "save_payload", "load_payload",
           "TAG", "sha256_file", "PAYLOAD", "RECORD", "QUARANTINE", "CHECKPOINTS", "POLL_S",
           "TEMPORARY_MAX_AGE_S"]
