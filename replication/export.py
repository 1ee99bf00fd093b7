"""A chapter's results, taken away: every stored training run it declares and its verdicts, as CSV
and JSON a reader can open without this package.

``python -m replication export CHAPTER --profile P --output DIR`` writes, for each chapter::

    DIR/<chapter>/runs.csv       one row per training run: key, whether stored, the config's fields,
                                 the final metrics, divergence, epochs completed, wall time
    DIR/<chapter>/runs.json      the same runs with their per-epoch histories, Hessian probes and
                                 provenance (parameters are left out: they are tensors, not numbers)
    DIR/<chapter>/verdicts.json  the chapter's stored verdict record at that profile (if any); a verdict
                                 file found damaged, hand-edited or stale is recomputed from the stored
                                 results, and the command says so (or why verdicts.json is left out)

Nothing is computed: runs not in the store are listed with ``stored = false``.  Every figure's own
numbers are also beside it in the book (``data/<chapter>/<figure>.csv``).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

SKIP = ("state_dict", "best_state_dict")


def _plain(value: Any) -> Any:
    """JSON-safe: tensors and arrays become lists, non-finite floats None, unknown objects text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in SKIP}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _flat(prefix: str, value: Any, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}{k}.", v, out)
    else:
        out[prefix[:-1]] = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def export_chapter(chapter: str, params, output: Path, store=None) -> dict:
    """Write the files above for ``chapter`` at ``params``; returns counts (runs, stored, files) and a
    ``note`` naming anything left out or recomputed (empty when nothing was)."""
    from . import chapters
    from . import verdict_files as verdicts
    from .chapters import recompute_verdicts
    from .store import ResultStore

    store = store or ResultStore()
    folder = Path(output) / chapter
    folder.mkdir(parents=True, exist_ok=True)
    configs = list({c.key: c for c in (chapters.planned_runs(chapter, params) or [])}.values())
    rows, runs = [], []
    for cfg in configs:
        found = store.get(cfg)
        row: dict = {"key": cfg.key, "stored": found is not None}
        _flat("config.", cfg.to_dict(), row)
        entry: dict = {"key": cfg.key, "config": cfg.to_dict(), "stored": found is not None}
        if found is not None:
            payload = found.payload
            _flat("final.", _plain(payload.get("final", {})), row)
            row.update(diverged=payload.get("diverged"), epochs_completed=payload.get("epochs_completed"),
                       wall_time_s=round(found.wall_time, 3))
            entry.update(payload=_plain(payload), provenance=_plain(found.provenance), wall_time=found.wall_time)
        rows.append(row)
        runs.append(entry)
    written = []
    if rows:
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        with open(folder / "runs.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        (folder / "runs.json").write_text(json.dumps(runs, indent=1))
        written += ["runs.csv", "runs.json"]
    found, note = verdicts.check(chapter, params.profile, store_root=store.root), ""
    if found.state not in (verdicts.VALID, verdicts.ABSENT):
        found = recompute_verdicts(found, store_root=store.root)
        note = found.note
    elif found.state == verdicts.ABSENT and hasattr(chapters.get(chapter), "verdicts"):
        note = f"{chapter}: no verdict file at profile {params.profile} (run the chapter first); verdicts.json not written"
    if found.record is not None:
        record = dict(found.record, verdicts=[v.to_dict() for v in found.record["verdicts"]])
        (folder / "verdicts.json").write_text(json.dumps(record, indent=1, default=str))
        written.append("verdicts.json")
    elif note and found.state != verdicts.ABSENT:
        note += "; verdicts.json not written"
    return {"chapter": chapter, "runs": len(rows), "stored": sum(r["stored"] for r in rows), "files": written,
            "folder": str(folder), "note": note}
