"""The introduction: how this copy of the book was built."""
from __future__ import annotations

import json
from pathlib import Path

from ... import profiles, provenance
from ...params import ChapterSpec, Param, device

ABOUT = "what replicates, in one synthesis computed from the verdicts; the contents; and the record of this build."   # the README's chapter table
SPEC = ChapterSpec("intro", "Introduction", (
    Param("build_info", "str", "path of a build record; '' reads the book command's record beside the "
                               "notebook's folder when there is one"),
    device("device the chapters compute on"),
))


def compute(params, *, store=None, progress=True) -> dict:
    """The build record: profile, device, code version, time, and each chapter's wall time."""
    record = {"profile": params.profile, "profile_description": profiles.description(params.profile)
              if params.profile in profiles.NAMES else "user profile",
              "device": provenance.device_name(params.device), "code_version": provenance.code_version(),
              "built": provenance.utc_now(), "versions": provenance.library_versions(), "chapters": []}
    path = Path(params.build_info) if params.build_info else Path.cwd().parent / "build_info.json"
    if path.is_file():                       # the book command writes it into the stage, beside book/
        record["chapters"] = json.loads(path.read_text()).get("chapters", [])
    record["contents"] = contents()
    from .. import claims as claims_page

    verdicts = claims_page.compute(params, store=store)
    record["findings"] = claims_page.findings(verdicts)
    record["synthesis"] = claims_page.synthesis(verdicts)
    return record


def contents() -> list[dict]:
    """Every chapter after this one, in reading order: name, title, and its ``ABOUT`` summary (else
    the first paragraph of its docstring), so the list on the page is never out of step with the book."""
    import inspect

    from .. import get, names

    out = []
    for name in names():
        if name == "intro":
            continue
        module = get(name)
        about = getattr(module, "ABOUT", None) or (inspect.getdoc(module) or "").split("\n\n")[0]
        out.append({"name": name, "title": module.SPEC.title, "about": " ".join(about.split())})
    return out


def contents_markdown(record: dict) -> str:
    return "\n".join(f"- {{doc}}`{c['title']} <{c['name']}>`: {c['about']}" for c in record["contents"])


def render(record: dict) -> str:
    """The build record as markdown (shown on the introduction page)."""
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    lines = ["**Table: This copy of the book.** Written by the build itself.", "",
             "| | this build |", "| --- | --- |",
             f"| profile | **{record['profile']}**: {record['profile_description']} |",
             f"| device | {record['device']} |",
             f"| code version | `{record['code_version']}` |",
             f"| built | {record['built']} |",
             f"| libraries | {versions} |"]
    if record["chapters"]:
        lines += ["", "**Table: Wall time of each chapter in this build.** Computing its runs (or reading "
                  "them from the result store) and executing its notebook; a chapter unchanged since the "
                  "previous build is reused.", "",
                  "| chapter | wall time (s) | this build |", "| --- | ---: | --- |"]
        lines += [f"| {c['chapter']} | {c['seconds']:.0f} | {'reused' if c['reused'] else 'executed'} |"
                  for c in record["chapters"]]
        total = sum(c["seconds"] for c in record["chapters"])
        lines.append(f"| all chapters | {total:.0f} | |")
    else:
        lines += ["", "*This page was executed on its own, not by the book command: no chapter timings.*"]
    return "\n".join(lines)
