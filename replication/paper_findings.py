"""Beside the paper: under each figure that reproduces one of the paper's, what the paper reported
and what this build finds, one line each.

What the paper reported comes from a sourced table per chapter, ``chapters/<name>/paper.yaml``: a
list of ``{figure: <label>, source: <where the paper says it>, reported: <the finding in our words,
its numbers where the paper gives them>}``, written from ``shared/docs/paper.md`` (never from
memory).  What we find is read from the chapter's verdicts on that figure (``Verdict.figure``), so
the line always states this build's computed outcome and numbers.  Only YAML is read."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent / "chapters"


@lru_cache(maxsize=None)
def table(chapter: str) -> dict[str, dict]:
    """``{figure label: {source, reported}}`` of a chapter (empty without a paper.yaml)."""
    import yaml

    path = CHAPTERS / chapter / "paper.yaml"
    if not path.is_file():
        return {}
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out = {}
    for row in rows:
        if not {"figure", "source", "reported"} <= set(row):
            raise ValueError(f"{chapter}/paper.yaml: each row needs figure, source, reported (got {sorted(row)})")
        out[row["figure"]] = {"source": str(row["source"]), "reported": str(row["reported"])}
    return out


def beside(chapter: str, figure: str, verdicts) -> str:
    """Markdown: the paper's finding for ``figure`` and this build's verdicts on it, one line each."""
    row = table(chapter).get(figure)
    if row is None:
        raise KeyError(f"{chapter}/paper.yaml has no row for figure {figure!r}")
    ours = [v for v in verdicts if v.figure == figure]
    lines = [f"**Beside the paper.** *The paper* ({row['source']}): {row['reported'].rstrip('.')}."]
    if not ours:
        lines.append("*Here:* no verdict of this page reads this figure; the text around it says what it shows.")
    for v in ours:
        lines.append(f"*Here:* {v.statement.rstrip('.')}: **{v.outcome}**"
                     + (f" ({v.summary.rstrip('.')})." if v.summary else "."))
    return "  \n".join(lines) + "\n"
