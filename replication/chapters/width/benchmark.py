"""The Hessian benchmark against PyHessian, read from ``benchmarks/results/hessian_*.md`` (never typed)."""
from __future__ import annotations

import re
import socket
from pathlib import Path


def _table(lines: list[str]) -> list[dict]:
    """Rows of the first markdown table in ``lines`` as dicts keyed by its header."""
    rows = [ln.strip() for ln in lines if ln.strip().startswith("|")]
    if len(rows) < 2:
        return []
    cells = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]  # noqa: E731
    header = cells(rows[0])
    return [dict(zip(header, cells(r))) for r in rows[2:]]


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:].lower().startswith(heading.lower()):
            rest = lines[i + 1:]
            end = next((j for j, ln in enumerate(rest) if ln.startswith("## ")), len(rest))
            return rest[:end]
    return []


def parse_benchmark(text: str) -> dict:
    """The parts of a ``bench_hessian.py`` result file the chapter shows."""
    lines = text.splitlines()
    end = next((i for i, ln in enumerate(lines) if ln.startswith("## ")), len(lines))
    intro = [ln for ln in lines[:end] if ln.strip() and not ln.startswith("#")]
    host = re.search(r"\bhost ([\w.\-]+?)\.?(?:\s|$)", text)
    date = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", text)
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "")
    return {"title": title, "setup": intro[:2], "host": host.group(1) if host else None,
            "date": date.group(1) if date else None,
            "cost": _table(_section(text, "Cost until")), "as_run": _table(_section(text, "As run"))}


def load_benchmark(folder: Path | None = None) -> dict:
    """The Hessian benchmark record of this host (else the newest), parsed; ``found`` False if none.

    Files are found by :func:`replication.benchmarks.records` (``benchmarks/results/hessian_<host>.md``);
    ``date`` is the file's modification date (UTC), as the appendix shows it."""
    from ... import benchmarks

    this_host = socket.gethostname()
    found = benchmarks.records("hessian", folder)
    if not found:
        return {"found": False, "folder": str(folder or benchmarks.results_folder()), "this_host": this_host}
    mine = [r for r in found if r.machine == this_host]
    record = (mine or sorted(found, key=lambda r: r.path.stat().st_mtime))[-1]
    parsed = parse_benchmark(record.path.read_text())
    host = parsed["host"] or record.machine
    from ...paths import checkout_root

    root = checkout_root()
    try:
        shown = str(record.path.resolve().relative_to(root)) if root is not None else str(record.path)
    except ValueError:
        shown = str(record.path)
    return {"found": True, "file": shown, "this_host": this_host,
            **parsed, "host": host, "same_host": host == this_host,
            "date": parsed["date"] or record.modified, "date_source": "file" if parsed["date"] else "modified"}
