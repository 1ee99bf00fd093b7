"""How to reproduce the book at scale (profiles, the bill of the gpu and paper profiles before they
run, executors for a multi-GPU box, a Ray cluster or a Slurm queue), the speed of each device as
the benchmark scripts measured it, and what every stored result records."""
from __future__ import annotations

from ... import benchmarks, planning, profiles
from ...params import ChapterSpec, resolve

ABOUT = 'how to run the book at scale (the bill of the gpu and paper profiles, Ray and Slurm), the speed of each device as measured, and what every stored result records.'   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("appendix", "Appendix: scale, performance, provenance", ())
BILLED = ("gpu", "paper")          # the profiles whose bill the page shows
GOAL_HOURS = {"paper": 8.0}        # the paper profile's target on one H200-class GPU (issue tracker)


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
    """The bill of ``profile`` as a numbered markdown table (chapters that train nothing are left out);
    the basis of the estimate goes in the caption when every row shares it, else in a column."""
    rows = [b for b in record["bills"][profile] if b.basis not in ("not planned", "nothing to run")]
    bases = sorted({b.basis for b in rows})
    caption = f"**Table: The bill of the `{profile}` profile.** Training runs and device-hours on one GPU"
    caption += f", {bases[0]} for every chapter." if len(bases) == 1 else "."
    head = "| chapter | training runs | epochs in all | device-hours |"
    rule = "| --- | ---: | ---: | ---: |"
    if len(bases) > 1:
        head, rule = head + " basis |", rule + " --- |"
    lines = [caption, "", head, rule]
    for b in rows:
        lines.append(f"| {b.chapter} | {b.runs} | {b.epochs_all:,} | {b.seconds_all / 3600:.2f} |"
                     + (f" {b.basis} |" if len(bases) > 1 else ""))
    total = sum(b.seconds_all for b in rows)
    lines.append(f"| all chapters | {sum(b.runs for b in rows)} | | {total / 3600:.2f} |" + (" |" if len(bases) > 1 else ""))
    return "\n".join(lines)


def bill_sentence(record: dict, profile: str, *, basis_note: bool = True) -> str:
    rows = [b for b in record["bills"][profile] if b.basis not in ("not planned", "nothing to run")]
    total = sum(b.seconds_all for b in rows) / 3600
    text = (f"By this estimate the `{profile}` profile needs about {total:.1f} device-hours on one GPU "
            f"for its training runs")
    goal = GOAL_HOURS.get(profile)
    if goal is not None:
        text += (f", {'within' if total <= goal else 'above'} the project's goal of {goal:g} GPU-hours on one "
                 f"H200-class GPU ({total / goal:.1f} times the goal)")
    text += "."
    if basis_note and not record["gpu_measured"]:
        text += (" **No GPU has been measured yet**: every number in this table is an unmeasured estimate "
                 f"(floating-point operations counted per example, divided by an assumed "
                 f"{planning.ASSUMED_FLOPS['cuda'] / 1e12:g} TFLOP/s sustained, plus "
                 f"{planning.STEP_OVERHEAD_S['cuda'] * 1e3:g} ms per optimizer step). Running "
                 "`python benchmarks/gpu_check.py` on the target GPU replaces it with measured epoch times.")
    return text


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
