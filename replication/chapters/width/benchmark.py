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


def _cost(row: dict, who: str) -> str:
    """``6 HVPs, 5.2 s`` from a cost row's ``<who>: HVPs`` and ``<who>: time (s)`` cells (text kept as is)."""
    hvp, seconds = row.get(f"{who}: HVPs", ""), row.get(f"{who}: time (s)", "")
    if not hvp.replace(".", "", 1).isdigit():
        return hvp
    return f"{hvp} HVPs" + (f", {seconds} s" if seconds else "")


def _ratio(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return (f"more than {text[1:].strip()}" if text.startswith(">") else text) + f" the {what}"


def _target(text: str) -> str:
    return {"λ_max": r"$\lambda_{\max}$"}.get(text, text.replace("top-", "top "))


def benchmark_markdown(bench: dict) -> str:
    """The benchmark's provenance, its recorded setup and its cost table (or why there is none); never a
    folder of the machine."""
    if not bench.get("found"):
        return (f"*The benchmark against PyHessian (`benchmarks/bench_hessian.py`) has not been run on this "
                f"machine (host `{bench['this_host']}`): the repository holds no `benchmarks/results/hessian_*.md`.*")
    date = (bench["date"] if bench["date_source"] == "file"
            else f"{bench['date']} (the file's date; the record states none)")
    where = "this machine" if bench["same_host"] else f"another machine, not this one (`{bench['this_host']}`)"
    lines = [f"Source: the record `{bench['file']}`, host `{bench['host']}` ({where}), {date}.", ""]
    if bench["setup"]:
        lines += ["```{admonition} The benchmark's setup, as recorded", "\n\n".join(bench["setup"]), "```", ""]
    cost = bench["cost"]
    if cost and {"target", "ours: HVPs", "PyHessian: HVPs"} <= set(cost[0]):
        lines += ["**Table: the benchmark against PyHessian.** HVPs and seconds until each estimate is, and stays, "
                  "within the benchmark's relative tolerance of a float64 reference, graph building included. "
                  "PyHessian is credited with an ideal stopping rule; the record also lists the runs with its own.",
                  "", "| target | ours (Lanczos) | PyHessian (power iteration) | PyHessian needs |",
                  "| --- | --- | --- | --- |"]
        for r in cost:
            ratio = ", ".join(x for x in (_ratio(r.get("HVP ratio", ""), "HVPs"),
                                          _ratio(r.get("time ratio", ""), "time")) if x)
            lines.append(f"| {_target(r['target'])} | {_cost(r, 'ours')} | {_cost(r, 'PyHessian')} | {ratio} |")
    elif cost:
        header = list(cost[0])
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(r.get(h, "") for h in header) + " |" for r in cost]
    return "\n".join(lines)
