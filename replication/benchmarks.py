"""Benchmark records: what ``benchmarks/*.py`` measured, as they wrote it.

Each benchmark script writes one markdown file per machine into ``benchmarks/results/``
(``<benchmark>_<host>.md``: its provenance lines, then its tables).  The book's appendix and the
chapters show these files as they are; nothing here types or edits a number.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from . import paths


@dataclasses.dataclass(frozen=True)
class BenchmarkRecord:
    benchmark: str      # e.g. "hessian"
    machine: str        # the host part of the file name
    path: Path
    title: str
    body: str           # the markdown below the title
    modified: str       # file time, UTC

    def markdown(self, heading_level: int = 3) -> str:
        """The record under a heading of ``heading_level``, its own headings demoted below it."""
        body = "\n".join("#" * heading_level + line if line.startswith("#") else line
                         for line in self.body.splitlines())
        return f"{'#' * heading_level} {self.title}\n\n{body}\n\n*Source: `{self.path.name}`, written {self.modified}.*"


def results_folder() -> Path | None:
    root = paths.checkout_root()
    return root / "benchmarks" / "results" if root is not None else None


def records(benchmark: str | None = None, folder: Path | None = None) -> list[BenchmarkRecord]:
    folder = folder or results_folder()
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.md")):
        name, _, machine = path.stem.partition("_")
        if benchmark is not None and name != benchmark:
            continue
        text = path.read_text().strip()
        first, _, body = text.partition("\n")
        title = first.lstrip("# ").strip() if first.startswith("#") else path.stem
        modified = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).strftime("%Y-%m-%d")
        found.append(BenchmarkRecord(name, machine or "?", path, title, body.strip() if first.startswith("#") else text,
                                     modified))
    return found
