"""Which entries a computation rested on (:class:`recording`), and computing nothing
(:class:`serving_only`).  :class:`replication.store.ResultStore` reports every entry it reads or
writes to :func:`note_use` and asks :func:`serving_reason` before anything is computed."""
from __future__ import annotations

_USE_LOGS: list[dict] = []
_SERVING_ONLY: list[str] = []


def note_use(kind: str, key: str, payload_sha256: str) -> None:
    """An entry was read or written: every open :class:`recording` notes it."""
    for log in _USE_LOGS:
        log[(kind, key)] = payload_sha256


def serving_reason() -> str | None:
    """Why nothing may be computed now (the innermost :class:`serving_only`), or ``None``."""
    return _SERVING_ONLY[-1] if _SERVING_ONLY else None


class recording:
    """``with recording() as used: ...`` -> ``used``: ``{(kind, key): payload sha256}`` of every entry
    any :class:`replication.store.ResultStore` read or wrote inside (what a verdict file rests on)."""

    def __enter__(self) -> dict:
        self.used: dict = {}
        _USE_LOGS.append(self.used)
        return self.used

    def __exit__(self, *exc) -> None:
        _USE_LOGS.remove(self.used)


class serving_only:
    """``with serving_only("why"): ...`` -> every computation inside raises
    :class:`replication.store.NeedsCompute` before it starts (stored results are read as usual):
    recomputing verdicts never trains."""

    def __init__(self, why: str = "nothing is computed here"):
        self.why = why

    def __enter__(self) -> None:
        _SERVING_ONLY.append(self.why)

    def __exit__(self, *exc) -> None:
        _SERVING_ONLY.pop()
