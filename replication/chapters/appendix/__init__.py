"""How to reproduce the book at scale (profiles, the bill of the gpu and paper profiles before they
run, executors for a multi-GPU box, a Ray cluster or a Slurm queue), the speed of each device as
the benchmark scripts measured it, and what every stored result records."""
from __future__ import annotations

from ... import benchmarks, planning, profiles
from ...params import ChapterSpec
from .. import resolve_spec as resolve

ABOUT = 'how to run the book at scale (the bill of the gpu and paper profiles, Ray and Slurm), the speed of each device as measured, and what every stored result records.'   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("appendix", "Appendix: scale, performance, provenance", ())
BILLED = ("gpu", "paper")          # the profiles whose bill the page shows


def compute(params, *, store=None, progress=True) -> dict:
    """Profiles and their descriptions, the bills of the gpu and paper profiles (runs, epochs,
    estimated device-hours per chapter, and on what basis), and the benchmark records on disk."""
    from .. import names, planned_runs, get
    from ...store import ResultStore

    store = store or ResultStore()
    bills = {}
    for profile in BILLED:
        rows = []
        for name in names():
            if name == "appendix":
                continue
            resolved = resolve(get(name).SPEC, profile)
            rows.append(planning.bill(name, planned_runs(name, resolved), store))
        bills[profile] = rows
    return {"profiles": {name: profiles.description(name) for name in profiles.NAMES},
            "bills": bills, "benchmarks": benchmarks.records(),
            "gpu_measured": bool(planning.measured_epoch_seconds())}


def profiles_table(record: dict) -> str:
    lines = ["**Table: The profiles shipped with the book.**", "",
             "| profile | what it is for |", "| --- | --- |"]
    lines += [f"| `{name}` | {text} |" for name, text in record["profiles"].items()]
    return "\n".join(lines)


def bill_table(record: dict, profile: str) -> str:
    """The bill of ``profile`` as a numbered markdown table (:func:`replication.planning.markdown_table`)."""
    return planning.markdown_table(record["bills"][profile], profile)


def bill_sentence(record: dict, profile: str) -> str:
    """The profile's device-hours against its goal and the chapter that dominates."""
    return planning.goal_sentence(profile, record["bills"][profile])


def bill_assumptions() -> str:
    """What the bills measured and what they assumed, as a markdown list."""
    return "\n".join(f"- {line}" for line in planning.assumptions())


def benchmarks_markdown(record: dict) -> str:
    found = record["benchmarks"]
    if not found:
        return "*No benchmark has been run on this checkout yet (`benchmarks/results/` is empty).*"
    return "\n\n".join(r.markdown() for r in found)


def devices_seen(record: dict) -> str:
    gpu = [r for r in record["benchmarks"] if r.benchmark.startswith("gpu")]
    if gpu:
        return "GPU measurements: " + ", ".join(f"`{r.path.name}`" for r in gpu) + "."
    return ("The benchmark records below were all measured on CPUs. No GPU measurement exists yet, so the "
            "`gpu` and `paper` profiles are sized from the estimates above, not from timings.")
