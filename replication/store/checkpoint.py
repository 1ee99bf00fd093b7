"""Checkpoints: the resumable state of a computation in flight (a vmapped ensemble), one file each
under ``<root>/.checkpoints/<kind>/``, written atomically and read with ``weights_only=True``."""
from __future__ import annotations

import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Callable

from .errors import CorruptedEntryWarning, StoreError
from .files import permission_problem, share_as_umask_allows, sweep_temporaries
from .payload import load_payload, save_payload


def checkpoint_every_s() -> float:
    """Seconds between two checkpoints (``REPLICATION_CHECKPOINT_S``, default 60)."""
    try:
        return float(os.environ.get("REPLICATION_CHECKPOINT_S", 60.0))
    except ValueError:
        return 60.0


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
        sweep_temporaries(self.path.parent)     # left by a kill mid-write
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
