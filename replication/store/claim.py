"""Claims: which process computes which store entry.

A claim is the file ``<root>/<kind>/.<key>.claim`` created with ``O_EXCL`` (host, pid, token, time).
Its holder refreshes its mtime every ``claim_stale_s() / 5`` seconds (one daemon thread per process);
a claim is stale, and broken, when it was not refreshed for ``claim_stale_s()`` seconds
(``REPLICATION_CLAIM_STALE_S``, default 300) or when it names a process of this host that no longer
exists.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def claim_stale_s() -> float:
    return _env_seconds("REPLICATION_CLAIM_STALE_S", 300.0)


class _Heartbeat:
    """One daemon thread per process refreshing the mtime of the claims it holds."""

    def __init__(self):
        self._reset()
        if hasattr(os, "register_at_fork"):      # a forked child holds none of its parent's claims
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.paths: set[Path] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, path: Path) -> None:
        with self.lock:
            self.paths.add(path)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="store-claims", daemon=True)
                self.thread.start()

    def discard(self, path: Path) -> None:
        with self.lock:
            self.paths.discard(path)

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            every = max(claim_stale_s() / 5, 0.05)      # read each time: the setting may change
            time.sleep(min(every, 1.0))
            if time.monotonic() - last < every:
                continue
            last = time.monotonic()
            with self.lock:
                held = list(self.paths)
            for path in held:
                try:
                    os.utime(path)
                except OSError:
                    pass


_HEARTBEAT = _Heartbeat()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # exists, owned by someone else
        return True
    return True


class Claim:
    """The claim file of one entry: ``acquire()`` (False when another live process holds it)."""

    def __init__(self, path: Path):
        self.path = path
        self.token = uuid.uuid4().hex
        self.held = False

    def info(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def is_stale(self) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > claim_stale_s():
            return True
        info = self.info()
        if info and info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            return not _pid_alive(info["pid"])
        return False

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # less the umask
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                       "started": time.time()}, f)
        return True

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._create():
            if not self.is_stale():
                return False
            self._break()
            if not self._create():
                return False
        self.held = True
        _HEARTBEAT.add(self.path)
        return True

    def _break(self) -> None:
        """Move a stale claim aside; if what was moved turns out fresh (a race), put it back."""
        before = self.info()
        aside = self.path.with_name(f"{self.path.name}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        moved = None
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            pass
        if before is not None and moved is not None and moved.get("token") != before.get("token"):
            try:
                os.link(aside, self.path)       # someone's fresh claim: restore it (never clobbers)
            except OSError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            _HEARTBEAT.discard(self.path)
            info = self.info()
            if info is None or info.get("token") == self.token:
                self.path.unlink(missing_ok=True)
            self.held = False


