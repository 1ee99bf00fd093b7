"""Build the book: execute every chapter with papermill for a profile, then render the HTML.

Steps (``python -m replication book --profile laptop``):

1. Validate every chapter's parameters (profile + overrides) before anything runs.
2. Stage a copy of the book sources in ``<output>/stage`` (``_config.yml``, ``_toc.yml``, ``book/``).
3. For each chapter: run its compute here (progress bars with ETA on the console; results go to
   the store), then execute its notebook with papermill into the stage (it reads the store back).
   A chapter whose source notebook, parameters and package sources are unchanged since its last
   successful execution is reused.  The staged copy is then prepared for reading
   (:func:`present`): its parameter cells are removed from the page (they stay in the notebook for
   papermill), a figure this profile does not make (its cell tagged ``if-glued``) leaves it, and one
   line says how to reproduce the page.  The introduction runs last: it reports the build (profile,
   device, code version, per-chapter wall times).
4. ``jupyter-book build --warningiserror`` on the stage (MathJax is vendored by the
   ``replication.assets`` Sphinx extension, so the HTML works offline).  The HTML lands in
   ``<output>/html``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping


from . import chapters, paths, profiles

INTRO = "intro"
BUILD_RECORD = "build_info.json"   # written into the stage root, beside the book/ folder of notebooks
CLAIMS = "claims"
LAST = (CLAIMS, INTRO)


@dataclasses.dataclass
class ChapterRun:
    chapter: str
    seconds: float
    reused: bool


def repo_root() -> Path:
    root = paths.checkout_root()
    if root is None:
        raise RuntimeError("the book is built from a clone of the repository (no _toc.yml found)")
    return root


def _package_digest() -> str:
    """Hash of the package's sources: an edit to the code re-executes the chapters."""
    digest = hashlib.sha256()
    for path in sorted(paths.PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(paths.PACKAGE_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()


def _records_digest() -> str:
    """Hash of the measurement records pages read (the appendix, the bill, captions), in
    :func:`replication.benchmarks.results_folder`: a new or re-measured record re-executes the
    chapters that show it (a page never shows a stale record)."""
    from .benchmarks import results_folder

    digest = hashlib.sha256()
    folder = results_folder()
    for path in sorted(folder.rglob("*")) if folder is not None and folder.is_dir() else ():
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _fingerprint(notebook: Path, parameters: dict) -> str:
    """Identifies one execution: the source notebook, its parameters, the package's code and the
    measurement records the pages read."""
    text = notebook.read_bytes() + json.dumps(parameters, sort_keys=True).encode()
    return hashlib.sha256(text + _package_digest().encode() + _records_digest().encode()).hexdigest()


def execute_chapter(chapter: str, source: Path, target: Path, parameters: dict, *,
                    timeout: int = 3600, progress: bool = True) -> float:
    """Run ``source`` with papermill into ``target``; return the wall time in seconds."""
    import papermill

    start = time.perf_counter()
    papermill.execute_notebook(str(source), str(target), parameters=parameters, kernel_name="python3",
                               progress_bar=progress, execution_timeout=timeout, cwd=str(target.parent))
    return time.perf_counter() - start


def build(profile: str = profiles.DEFAULT, *, overrides: Mapping[str, Mapping[str, Any]] | None = None,
          output: Path | None = None, force: bool = False, html: bool = True,
          progress: bool = True, log=print) -> list[ChapterRun]:
    root = repo_root()
    output = Path(output) if output is not None else root / "_build"
    overrides = {k: dict(v) for k, v in (overrides or {}).items()}
    notebooks = [n for n in chapters.names() if (root / "book" / f"{n}.ipynb").is_file()]
    for name in overrides:
        if name not in notebooks:
            raise ValueError(f"overrides for chapter {name!r}: no such chapter; chapters: {', '.join(notebooks)}")
    resolved = {name: chapters.resolve(name, profile, overrides.get(name))
                for name in notebooks}  # 1. validate everything before any compute

    stage = output / "stage"
    _stage_sources(root, stage)
    stamps_path = stage / ".executed.json"
    stamps = json.loads(stamps_path.read_text()) if stamps_path.is_file() else {}
    runs: list[ChapterRun] = []
    last = [n for n in LAST if n in notebooks]        # they read what the other chapters stored
    order = [n for n in notebooks if n not in LAST] + last
    for name in order:
        parameters = {"profile": profile, **overrides.get(name, {})}
        if name == INTRO:
            info = {"profile": profiles.label(profile), "chapters": [dataclasses.asdict(r) for r in runs]}
            (stage / BUILD_RECORD).write_text(json.dumps(info, indent=1))   # the introduction finds it there
        source, target = root / "book" / f"{name}.ipynb", stage / "book" / f"{name}.ipynb"
        stamp = _fingerprint(source, parameters)
        if name != INTRO and not force and stamps.get(name, {}).get("stamp") == stamp and target.is_file():
            runs.append(ChapterRun(name, stamps[name]["seconds"], True))
            present(target, name, parameters)           # idempotent: a copy staged by an older build too
            log(f"[book] {name}: unchanged, reused ({stamps[name]['seconds']:.1f} s when executed)")
            continue
        stamps.pop(name, None)
        stamps_path.write_text(json.dumps(stamps, indent=1))
        start = time.perf_counter()
        if name != INTRO:  # compute here, with progress bars and ETA on the console; the notebook
            log(f"[book] computing {name} (profile {profiles.label(profile)})")  # then reads the store
            chapters.evaluate(name, resolved[name], progress=progress)
        log(f"[book] executing {name}")
        execute_chapter(name, source, target, parameters, progress=progress)
        present(target, name, parameters)
        seconds = time.perf_counter() - start
        stamps[name] = {"stamp": stamp, "seconds": seconds}
        stamps_path.write_text(json.dumps(stamps, indent=1))
        runs.append(ChapterRun(name, seconds, False))
    if html:
        render(stage, output, log=log)
    return runs


PARAMETER_TAGS = ("parameters", "injected-parameters")   # the defaults, and the values papermill injected
REPRODUCE = "reproduce"                                   # cell metadata key of the line this module adds
IF_GLUED = "if-glued"     # tag of a figure's markdown cell that a profile may leave out (its section not run)


def reproduce_command(chapter: str, parameters: Mapping[str, Any]) -> str:
    """The papermill command that executes ``chapter`` as this build did: ``-p`` for a scalar
    parameter, ``-y`` (YAML) for a list or mapping; a profile file by its name, never its folder."""
    import shlex

    import yaml

    parts = ["papermill", f"book/{chapter}.ipynb", f"{chapter}.ipynb"]
    for key, value in parameters.items():
        if key == "profile":
            value = profiles.in_command(value)
        if isinstance(value, (list, tuple, dict)):
            text = yaml.safe_dump({key: list(value) if isinstance(value, tuple) else value},
                                  default_flow_style=True).strip()
            parts += ["-y", shlex.quote(text)]
        else:
            parts += ["-p", key, shlex.quote(str(value))]
    return " ".join(parts)


def present(notebook: Path, chapter: str, parameters: Mapping[str, Any]) -> None:
    """Prepare an executed (staged) notebook for its page: the cells tagged ``parameters`` and
    ``injected-parameters`` get ``remove-cell`` (the page leaves them out; papermill still finds them
    in the notebook), and right after them one markdown line gives :func:`reproduce_command`.
    Download links to ``data/<chapter>/<name>.csv`` that :func:`replication.figures.export` wrote
    as ``<chapter>-<name>.csv`` (names unique across the book) are pointed at that file.  A markdown
    cell tagged ``if-glued`` (:data:`IF_GLUED`: a figure whose section this profile does not run, the
    page saying so in its place) leaves the page when the notebook did not glue a figure it names,
    caption and download link with it; any other figure left unglued still fails the build.
    Idempotent: a second call leaves one such line."""
    import re

    import nbformat

    from .figures import export_name
    from .reproduce import figure_keys

    book = nbformat.read(notebook, as_version=4)
    before = nbformat.writes(book)
    glued = {o.get("metadata", {}).get("scrapbook", {}).get("name") for c in book.cells if c.cell_type == "code"
             for o in c.get("outputs", [])}
    book.cells = [c for c in book.cells if REPRODUCE not in c.metadata and not (
        IF_GLUED in c.metadata.get("tags", []) and set(figure_keys({"cells": [c]}).values()) - glued)]
    data = notebook.parent / "data" / chapter

    def exported(m: "re.Match") -> str:
        stem = export_name(chapter, m["stem"])
        return f"data/{chapter}/{stem}{m['ext']}" if (data / f"{stem}{m['ext']}").is_file() else m[0]

    link = re.compile(rf"data/{re.escape(chapter)}/(?P<stem>[\w.-]+?)(?P<ext>\.csv|\.json)\b")
    for cell in book.cells:
        if cell.cell_type == "markdown":
            cell.source = link.sub(exported, cell.source)
    last = None
    for i, cell in enumerate(book.cells):
        tags = list(cell.metadata.get("tags", []))
        if any(t in tags for t in PARAMETER_TAGS):
            cell.metadata["tags"] = [t for t in tags if t not in ("hide-input", "hide-cell", "remove-input")] \
                + ([] if "remove-cell" in tags else ["remove-cell"])
            last = i
    if last is not None and chapter != INTRO:   # the introduction opens with its findings; its build is the book's
        line = nbformat.v4.new_markdown_cell(
            f"*Reproduce this page:* `{reproduce_command(chapter, parameters)}` "
            f"(the results come back from the result store when they are there).")
        line.metadata[REPRODUCE] = True
        book.cells.insert(last + 1, line)
    if chapter != INTRO:
        _figure_lines(book, chapter, parameters)
    if nbformat.writes(book) != before:
        nbformat.write(book, notebook)


def _figure_lines(book, chapter: str, parameters: Mapping[str, Any]) -> None:
    """Under every numbered figure (after its "beside the paper" line when it has one), one line with
    the command that reproduces that figure alone (:func:`replication.reproduce.figure_command`)."""
    import nbformat

    from .reproduce import figure_command, figure_keys

    cells, i = book.cells, 0
    while i < len(cells):
        cell = cells[i]
        labels = list(figure_keys({"cells": [cell]})) if cell.cell_type == "markdown" else []
        if not labels:
            i += 1
            continue
        at = i + 1
        if at < len(cells) and cells[at].cell_type == "code" and "beside_paper(" in cells[at].source:
            at += 1
        text = " ".join(f"`{figure_command(chapter, label, parameters)}`" for label in labels)
        line = nbformat.v4.new_markdown_cell(f"*Reproduce this figure:* {text}")
        line.metadata[REPRODUCE] = True
        cells.insert(at, line)
        i = at + 1


def _stage_sources(root: Path, stage: Path) -> None:
    """Copy config and non-notebook book sources into the stage (executed notebooks stay)."""
    (stage / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    for path in (root / "book").rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and "_build" not in path.parts:
            target = stage / "book" / path.relative_to(root / "book")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def render(stage: Path, output: Path, *, log=print) -> Path:
    """``jupyter-book build --warningiserror`` of the stage; returns the HTML folder."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage), "--path-output", str(output / "jb"),
           "--builder", "html", "--warningiserror", "--keep-going", "--all"]
    log("[book] jupyter-book " + " ".join(cmd[1:]))
    completed = subprocess.run(cmd, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{completed.stdout[-6000:]}\n{completed.stderr[-6000:]}")
    built = output / "jb" / "_build" / "html"
    target = output / "html"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(built, target)
    return target


def report(runs: list[ChapterRun], html: Path | None) -> str:
    lines = ["", "chapter            seconds   ", "-----------------  --------  -------"]
    for r in runs:
        lines.append(f"{r.chapter:<17}  {r.seconds:8.1f}  {'reused' if r.reused else 'ran'}")
    if html is not None:
        lines.append(f"\nHTML: {html / 'index.html'}")
    return "\n".join(lines)
