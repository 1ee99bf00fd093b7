"""Appendix: reproducing at scale, performance by device, provenance."""
from __future__ import annotations

from ... import benchmarks, profiles
from ...params import ChapterSpec

SPEC = ChapterSpec("appendix", "Appendix: scale, performance, provenance", ())


def compute(params, *, store=None, progress=True) -> dict:
    """Nothing to simulate: the profiles' descriptions and the benchmark records on disk."""
    return {"profiles": {name: profiles.description(name) for name in profiles.NAMES},
            "benchmarks": benchmarks.records()}


def profiles_table(record: dict) -> str:
    lines = ["| profile | what it is for |", "| --- | --- |"]
    lines += [f"| `{name}` | {text} |" for name, text in record["profiles"].items()]
    return "\n".join(lines)


def benchmarks_markdown(record: dict) -> str:
    found = record["benchmarks"]
    if not found:
        return "*No benchmark has been run on this checkout yet (`benchmarks/results/` is empty).*"
    return "\n\n".join(r.markdown() for r in found)


def devices_seen(record: dict) -> str:
    machines = sorted({r.machine for r in record["benchmarks"]})
    gpu = [r for r in record["benchmarks"] if "cuda" in r.body.lower() or "gpu" in r.machine.lower()]
    text = f"Benchmark records exist for: {', '.join(machines) if machines else 'no machine'}. "
    text += ("GPU measurements: " + ", ".join(f"`{r.path.name}`" for r in gpu) + "." if gpu else
             "No GPU measurement has been recorded yet: the sessions that built this book so far had no "
             "GPU lent to them, so the `gpu` and `paper` profiles are sized from estimates, not timings.")
    return text
