"""What a store holds, counted without reading a payload (``python -m replication store``)."""
from __future__ import annotations

import re
from pathlib import Path

_KEY = re.compile(r"[0-9a-f]{20}")          # RunConfig.key


def summary(root: Path) -> dict:
    """Counts and sizes of the store at ``root``: results per kind, quarantined, old pickle entries,
    incomplete entries, claims, checkpoints, temporaries, bytes on disk (no payload is read)."""
    from . import CHECKPOINTS, LEGACY_PAYLOAD, PAYLOAD, QUARANTINE, RECORD

    root = Path(root)
    out = {"root": str(root), "results": 0, "per_kind": {}, "quarantined": 0, "legacy": 0,
           "incomplete": 0, "claims": 0, "checkpoints": 0, "temporaries": 0, "bytes": 0}
    if not root.is_dir():
        return out
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                out["bytes"] += path.stat().st_size
        except OSError:
            pass
    quarantine = root / QUARANTINE
    out["quarantined"] = sum(1 for p in quarantine.iterdir()) if quarantine.is_dir() else 0
    checkpoints = root / CHECKPOINTS
    out["checkpoints"] = sum(1 for _ in checkpoints.rglob("*.pt")) if checkpoints.is_dir() else 0
    for kind in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
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
