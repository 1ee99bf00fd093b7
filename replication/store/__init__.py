"""Content-addressed result store, safe to share between processes and machines.

A result is stored under the key of the frozen config that produced it
(:meth:`replication.config.RunConfig.key`: a hash of the config's kind, its algorithm version,
the digest of the code that computes it, and its canonical JSON).  On disk::

    <root>/<kind>/<key>/payload.pt     the payload (torch.save of tensors, dicts, lists, numbers, strings)
    <root>/<kind>/<key>/record.json    config, provenance, wall time, sha256 of payload.pt
    <root>/<kind>/.<key>.claim         while a process computes the entry (host, pid, time)
    <root>/.quarantine/                damaged entries, moved aside (never silently deleted)
    <root>/.checkpoints/               epoch checkpoints of vmapped ensembles in flight

The package: this module (the store, its runner and checkpoints), :mod:`.payload` (the payload
format that cannot execute code when read), :mod:`.claim` (which process computes what) and
:mod:`.verdicts` (the chapters' sealed verdict files, ``<root>/verdicts/<profile>/<chapter>.json``).

Promises (each has a test in ``tests/test_store.py`` or ``tests/test_store_concurrency.py``)
---------------------------------------------------------------------------------------------
* **Computed once.**  :meth:`ResultStore.get_or_compute` / :meth:`ResultStore.run_all` return the
  stored result when one exists; ``run_all`` tallies stored / computed / wall time (:class:`Tally`).
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
* **What a kill loses.**  Every stored entry survives.  A single computation (a run of
  ``run_all``, a single training run) loses its work in flight.  A vmapped ensemble of
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
import re
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import paths, provenance
from .claim import Claim, claim_stale_s
from .payload import TAG, decode, encode, load_payload, save_payload

PAYLOAD = "payload.pt"
RECORD = "record.json"
LEGACY_PAYLOAD = "payload.pkl"            # format 1 (pickle): never loaded
FORMAT = 2
QUARANTINE = ".quarantine"
CHECKPOINTS = ".checkpoints"
TEMPORARY_MAX_AGE_S = 3600.0
_KEY = re.compile(r"[0-9a-f]{20}")          # RunConfig.key
POLL_S = 0.25                             # how often a process waiting for another's claim looks again


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def checkpoint_every_s() -> float:
    return _env_seconds("REPLICATION_CHECKPOINT_S", 60.0)


class CorruptedEntryWarning(UserWarning):
    pass


class StoreError(RuntimeError):
    """The store cannot be used (not writable, an entry cannot be written, not readable).  One line."""


class NeedsCompute(StoreError):
    """Inside :func:`serving_only`, something would have been computed."""


# -- which entries a computation rested on, and computing nothing ------------------------------------
_USE_LOGS: list[dict] = []
_SERVING_ONLY: list[str] = []


def _record_use(root: Path, kind: str, key: str, payload_sha256: str) -> None:
    for log in _USE_LOGS:
        log[(kind, key)] = payload_sha256


class recording:
    """``with recording() as used: ...`` -> ``used``: ``{(kind, key): payload sha256}`` of every entry
    any :class:`ResultStore` read or wrote inside (what a verdict file rests on)."""

    def __enter__(self) -> dict:
        self.used: dict = {}
        _USE_LOGS.append(self.used)
        return self.used

    def __exit__(self, *exc) -> None:
        _USE_LOGS.remove(self.used)


class serving_only:
    """``with serving_only("why"): ...`` -> every computation inside raises :class:`NeedsCompute` before
    it starts (stored results are read as usual): recomputing verdicts never trains."""

    def __init__(self, why: str = "nothing is computed here"):
        self.why = why

    def __enter__(self) -> None:
        _SERVING_ONLY.append(self.why)

    def __exit__(self, *exc) -> None:
        _SERVING_ONLY.pop()


@dataclass(frozen=True)
class Result:
    """A stored computation: its config, payload and provenance."""

    key: str
    kind: str
    config: dict
    payload: Any
    provenance: dict
    wall_time: float
    from_store: bool  # True when this call read it rather than computed it


@dataclass
class Tally:
    """What a runner did: results read from the store, results computed, wall time of the computed."""

    stored: int = 0
    computed: int = 0
    wall_time: float = 0.0

    def add(self, result: Result) -> None:
        if result.from_store:
            self.stored += 1
        else:
            self.computed += 1
            self.wall_time += result.wall_time

    def __str__(self) -> str:
        return f"{self.stored} stored, {self.computed} computed in {self.wall_time:.1f} s"


class Results(list):
    """A list of :class:`Result` (in the order of the configs) with the runner's :class:`Tally`."""

    def __init__(self, items: Iterable = (), tally: Tally | None = None):
        super().__init__(items)
        self.tally = tally if tally is not None else Tally()


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


# -- the store --------------------------------------------------------------------------------------
class ResultStore:
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
        if _SERVING_ONLY:
            raise NeedsCompute(f"result store {self.root} lacks results this needs (serving only what is "
                               f"stored: {_SERVING_ONLY[-1]})")
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
        _record_use(self.root, config.kind, config.key, record["payload_sha256"])
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
        self._sweep_temporaries(entry.parent)
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
            _record_use(self.root, config.kind, config.key, record["payload_sha256"])
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

    @staticmethod
    def _sweep_temporaries(folder: Path, older_than_s: float = TEMPORARY_MAX_AGE_S) -> None:
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

    # -- compute -------------------------------------------------------------------
    def get_or_compute(self, config, compute: Callable[[Any], Any], *, device: str = "cpu",
                       data: dict | None = None) -> Result:
        """The stored result, or ``compute(config)`` timed, stored and returned (claimed while computed;
        when another process holds the claim, its result is awaited)."""
        return self.run_all([config], compute, progress=False, device=device, data=data)[0]

    def run_all(self, configs: Iterable, compute: Callable[[Any], Any], *, desc: str = "runs",
                progress: bool = True, device: str = "cpu", data: dict | Callable | None = None) -> Results:
        """Every config's result, in order (a :class:`Results` list with its :class:`Tally`).

        Store hits are read; the missing ones are claimed and computed one at a time with a progress
        bar; those another process has claimed are awaited and read.  ``data``: the data's provenance
        for the record (a dict, or a function of the config).  Killed and restarted, it loses at most
        the run in flight."""
        configs = list(configs)
        tally = Tally()
        results: list[Result | None] = [self.get(c) for c in configs]
        first: dict[str, int] = {}
        todo = []
        for i, (c, r) in enumerate(zip(configs, results)):
            if r is None and c.key not in first:
                first[c.key] = i
                todo.append(i)
        if todo:
            from tqdm import tqdm

            self.check_writable()
            with tqdm(total=len(todo), desc=f"{desc} ({len(configs) - len(todo)} stored)", unit="run",
                      disable=not progress) as bar:
                def one(i: int) -> Result | None:
                    def run(cfg):
                        start = time.perf_counter()
                        payload = compute(cfg)
                        prov = data(cfg) if callable(data) else data
                        return self.put(cfg, payload, wall_time=time.perf_counter() - start, device=device,
                                        data=prov)
                    return self.claimed(configs[i], run)

                self._drain(todo, one, results, bar)
        for i, c in enumerate(configs):
            if results[i] is None:
                results[i] = results[first[c.key]]
            tally.add(results[i])
        return Results(results, tally)

    def claimed(self, config, work: Callable[[Any], Result]) -> Result | None:
        """``work(config)`` under ``config``'s claim, unless the result is (now) stored; None when
        another live process holds the claim."""
        found = self.get(config)
        if found is not None:
            return found
        claim = self.claim(config)
        if not claim.acquire():
            return None
        try:
            found = self.get(config)             # finished by another process meanwhile
            return found if found is not None else work(config)
        finally:
            claim.release()

    @staticmethod
    def _drain(todo: list, one: Callable[[Any], Any], results: list, bar) -> None:
        """Call ``one(item)`` for every item until each has a result; items claimed elsewhere
        (``one`` returns None) are retried after the others, every ``POLL_S`` seconds."""
        pending = list(todo)
        while pending:
            waiting = []
            for item in pending:
                got = one(item)
                if got is None:
                    waiting.append(item)
                    continue
                for index, result in (got if isinstance(got, list) else [(item, got)]):
                    results[index] = result
                    bar.update(1)
            if waiting and len(waiting) == len(pending):
                time.sleep(POLL_S)
            pending = waiting

    # -- checkpoints ---------------------------------------------------------------
    def checkpoint(self, kind: str, keys: Iterable[str]) -> "Checkpoint":
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
        return Checkpoint(self.root / CHECKPOINTS / kind / f"{name}.pt")

    # -- inventory -----------------------------------------------------------------
    def summary(self) -> dict:
        """Counts and sizes: results per kind, quarantined, old pickle entries, incomplete entries,
        claims, checkpoints, temporaries, bytes on disk (no payload is read)."""
        out = {"root": str(self.root), "results": 0, "per_kind": {}, "quarantined": 0, "legacy": 0,
               "incomplete": 0, "claims": 0, "checkpoints": 0, "temporaries": 0, "bytes": 0}
        if not self.root.is_dir():
            return out
        for path in self.root.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink():
                    out["bytes"] += path.stat().st_size
            except OSError:
                pass
        quarantine = self.root / QUARANTINE
        out["quarantined"] = sum(1 for p in quarantine.iterdir()) if quarantine.is_dir() else 0
        checkpoints = self.root / CHECKPOINTS
        out["checkpoints"] = sum(1 for _ in checkpoints.rglob("*.pt")) if checkpoints.is_dir() else 0
        for kind in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for entry in kind.iterdir():
                if entry.name.endswith(".claim"):
                    out["claims"] += 1
                elif ".tmp-" in entry.name or ".stale-" in entry.name:
                    out["temporaries"] += 1
                elif entry.is_dir() and _KEY.fullmatch(entry.name):    # not e.g. verdicts/<profile>
                    if (entry / RECORD).is_file() and (entry / PAYLOAD).is_file():
                        out["results"] += 1
                        out["per_kind"][kind.name] = out["per_kind"].get(kind.name, 0) + 1
                    elif (entry / LEGACY_PAYLOAD).exists():
                        out["legacy"] += 1
                    else:
                        out["incomplete"] += 1
        return out


class Checkpoint:
    """One file holding the resumable state of a computation in flight (written atomically, read
    with ``weights_only=True``).  :meth:`maybe_save` writes at most every ``checkpoint_every_s()``."""

    def __init__(self, path: Path):
        self.path = path
        self.last = time.monotonic()

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        try:
            return load_payload(self.path)
        except PermissionError as error:          # another user's checkpoint: say so, never discard it
            raise StoreError(permission_problem(self.path, error)) from None
        except Exception as error:  # noqa: BLE001 - a damaged checkpoint is only a lost head start
            warnings.warn(f"unreadable checkpoint {self.path} ({' '.join(str(error).split())}); starting over",
                          CorruptedEntryWarning, stacklevel=2)
            self.discard()
            return None

    def maybe_save(self, state_fn: Callable[[], dict]) -> bool:
        if time.monotonic() - self.last < checkpoint_every_s():
            return False
        self.save(state_fn())
        return True

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ResultStore._sweep_temporaries(self.path.parent)     # left by a kill mid-write
        tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            save_payload(state, tmp)
            share_as_umask_allows(tmp, folder=False)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.last = time.monotonic()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


__all__ = ["Result", "Results", "Tally", "ResultStore", "StoreError", "NeedsCompute", "recording", "serving_only",
           "umask", "share_as_umask_allows", "permission_problem", "CorruptedEntryWarning", "Checkpoint",
           "Claim", "claim_stale_s", "checkpoint_every_s", "encode", "decode", "save_payload", "load_payload",
           "TAG", "sha256_file", "PAYLOAD", "RECORD"]
