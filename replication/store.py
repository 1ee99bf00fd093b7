"""Content-addressed result store.

A result is stored under the key of the frozen config that produced it
(:meth:`replication.config.RunConfig.key`: a hash of the config's kind, its algorithm version
and its canonical JSON).  On disk::

    <root>/<kind>/<key>/payload.pkl   the computed payload (pickle of numpy arrays, floats, tensors)
    <root>/<kind>/<key>/record.json   config, provenance, wall time, sha256 of payload.pkl

Guarantees
----------
* **Computed once.**  :meth:`ResultStore.get_or_compute` returns the stored result when one exists.
* **Atomic.**  An entry is written into a temporary directory and renamed into place; a crash
  mid-write leaves no entry (the temporary directory is swept on the next write), so an
  interrupted grid resumes with every finished run intact.
* **Verified.**  A read checks the payload's sha256 against ``record.json``.  A corrupted entry is
  moved to ``<root>/.quarantine/`` (never silently deleted), a warning names it, and it is recomputed.
* **Located by the environment.**  ``REPLICATION_STORE`` points the store elsewhere (a cluster's
  shared filesystem); the default lives in the git-ignored ``.cache/store`` of the checkout.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from . import paths, provenance

PAYLOAD = "payload.pkl"
RECORD = "record.json"


class CorruptedEntryWarning(UserWarning):
    pass


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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else paths.store_root()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # -- locations -----------------------------------------------------------------
    def entry_dir(self, config) -> Path:
        return self.root / config.kind / config.key

    def __contains__(self, config) -> bool:
        return (self.entry_dir(config) / RECORD).is_file()

    # -- read ----------------------------------------------------------------------
    def get(self, config) -> Result | None:
        """The stored result for ``config``, or ``None``.  Corrupted entries are quarantined."""
        entry = self.entry_dir(config)
        if not (entry / RECORD).is_file():
            return None
        try:
            record = json.loads((entry / RECORD).read_text())
            if sha256_file(entry / PAYLOAD) != record["payload_sha256"]:
                raise ValueError("payload checksum mismatch")
            with open(entry / PAYLOAD, "rb") as f:
                payload = pickle.load(f)
        except Exception as error:  # noqa: BLE001 - any unreadable entry is treated alike
            self._quarantine(entry, error)
            return None
        return Result(key=config.key, kind=config.kind, config=record["config"], payload=payload,
                      provenance=record["provenance"], wall_time=record["wall_time"], from_store=True)

    def _quarantine(self, entry: Path, error: Exception) -> None:
        target = self.root / ".quarantine" / f"{entry.parent.name}-{entry.name}-{uuid.uuid4().hex[:6]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(entry), str(target))
        warnings.warn(f"corrupted store entry {entry} ({error}); moved to {target}, recomputing",
                      CorruptedEntryWarning, stacklevel=3)

    # -- write ---------------------------------------------------------------------
    def put(self, config, payload: Any, *, wall_time: float, device: str = "cpu",
            data: dict | None = None) -> Result:
        """Store ``payload`` atomically under ``config``'s key and return it as a :class:`Result`."""
        entry = self.entry_dir(config)
        entry.parent.mkdir(parents=True, exist_ok=True)
        self._sweep_temporaries(entry.parent)
        prov = provenance.collect(device)
        prov["data"] = data if data is not None else {"source": "synthetic (seeded)", "canonical": True}
        tmp = Path(tempfile.mkdtemp(prefix=f".{config.key}.tmp-", dir=entry.parent))
        try:
            with open(tmp / PAYLOAD, "wb") as f:
                pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            record = {"key": config.key, "kind": config.kind, "config": config.to_dict(),
                      "algorithm_version": config.algorithm_version, "provenance": prov,
                      "wall_time": wall_time, "payload_sha256": sha256_file(tmp / PAYLOAD)}
            (tmp / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True))
            try:
                os.replace(tmp, entry)
            except OSError:  # an entry appeared meanwhile (another process): keep the first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Result(key=config.key, kind=config.kind, config=config.to_dict(), payload=payload,
                      provenance=prov, wall_time=wall_time, from_store=False)

    @staticmethod
    def _sweep_temporaries(folder: Path, older_than_s: float = 24 * 3600) -> None:
        now = time.time()
        for tmp in folder.glob(".*.tmp-*"):
            try:
                if now - tmp.stat().st_mtime > older_than_s:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                pass

    # -- compute -------------------------------------------------------------------
    def get_or_compute(self, config, compute: Callable[[Any], Any], *, device: str = "cpu",
                       data: dict | None = None) -> Result:
        """The stored result, or ``compute(config)`` timed, stored and returned."""
        found = self.get(config)
        if found is not None:
            return found
        start = time.perf_counter()
        payload = compute(config)
        return self.put(config, payload, wall_time=time.perf_counter() - start, device=device, data=data)

    def run_all(self, configs: Iterable, compute: Callable[[Any], Any], *, desc: str = "runs",
                progress: bool = True, device: str = "cpu", data: dict | None = None) -> list[Result]:
        """Every config's result, in order: store hits first, then the missing ones computed with one
        progress bar (ETA over the remaining runs).  Killed and restarted, it loses at most the run
        in flight.  ``data``: the provenance of the data the computations read (default: synthetic)."""
        configs = list(configs)
        results: list[Result | None] = [self.get(c) for c in configs]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            from tqdm import tqdm

            bar = tqdm(missing, desc=f"{desc} ({len(configs) - len(missing)} stored)",
                       disable=not progress, unit="run")
            for i in bar:
                results[i] = self.get_or_compute(configs[i], compute, device=device, data=data)
        return results  # type: ignore[return-value]
