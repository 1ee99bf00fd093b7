"""Benchmark records: what ``benchmarks/*.py`` measured, as they wrote it.

Each benchmark script writes one markdown file per machine into ``benchmarks/results/``
(``<benchmark>_<host>.md``: its provenance lines, then its tables).  The book's appendix and the
chapters show these files as they are; nothing here types or edits a number.  Only the notation
changes on the page (:meth:`BenchmarkRecord.markdown`): e-notation in the book's number style
(:func:`replication.wording.without_e_notation`: ``1.5e-06`` -> ``1.5×10⁻⁶``) and the plain forms of
the book's symbols as math (``λ_max`` -> :math:`\\lambda_{\\max}`).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from pathlib import Path

from . import paths
from .wording import without_e_notation

# Plain forms of the book's symbols the scripts write, and the math the page shows for them.
PLAIN_MATH = ((re.compile(r"λ(\d)\.\.λ(\d)"), r"$\\lambda_\1, \\dots, \\lambda_\2$"),
              (re.compile(r"λ_max"), r"$\\lambda_{\\max}$"),
              (re.compile(r"‖H‖_F"), r"$\\|H\\|_F$"))


def for_page(text: str) -> str:
    """``text`` (markdown a script wrote) in the book's notation; code spans are left as written."""
    parts = re.split(r"(```.*?```|`[^`\n]*`)", without_e_notation(text), flags=re.S)
    for i, part in enumerate(parts):
        if not part.startswith("`"):
            for plain, tex in PLAIN_MATH:
                part = plain.sub(tex, part)
            parts[i] = part
    return "".join(parts)


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
        return (f"{'#' * heading_level} {for_page(self.title)}\n\n{for_page(body)}\n\n"
                f"*Source: `{self.path.name}`, written {self.modified}.*")


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
