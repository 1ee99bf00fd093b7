"""The few helpers a chapter notebook calls.

A chapter notebook runs, in order::

    from replication import notebook as nb
    nb.start()                               # 1. before the parameters cell
    profile = "laptop"; seeds = 8; ...       # 2. the cell tagged `parameters` (laptop defaults)
                                             #    (papermill injects its cell right after it)
    params = nb.chapter_params("sde", globals())   # 3. resolve + validate, before any compute

Which values are *explicit*?  Every name papermill injected (seen by an IPython ``pre_run_cell``
hook on the cell papermill writes, which starts with ``# Parameters``), and every value a reader
edited in the parameters cell (it differs from the laptop default).  All other parameters take
the chosen profile's values.  So ``papermill ch.ipynb out.ipynb -p profile smoke`` runs the smoke
profile, and ``-p profile smoke -p seeds 8`` runs it with 8 seeds even though 8 is the laptop
default.
"""
from __future__ import annotations

import ast
import re
from typing import Any, Mapping

from . import kernel as _kernel, profiles
from .params import ChapterParams, ParameterError

_state = _kernel.state                   # this page: chapter, profile, injected names


def injected_names(source: str) -> set[str] | None:
    """Names assigned by a papermill-injected cell's source, or ``None`` if it is not one."""
    if not source.lstrip().startswith("# Parameters"):
        return None
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def start() -> None:
    """The first cell of every chapter: :func:`sharp_figures`, then :func:`watch_parameters`."""
    sharp_figures()
    watch_parameters()


def sharp_figures() -> None:
    """Figures a reader displays while editing a notebook, as PNGs at twice their resolution
    ("retina"), shown at the column size they were drawn for (:data:`replication.figures.COLUMN_INCHES`).
    The book's own figures go through :func:`glue`, which renders them the same way and writes their
    SVG twin (:mod:`replication.figure_files`).  Does nothing outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def watch_parameters() -> None:
    """Remember which names papermill injects (call before the parameters cell)."""
    _state["injected"] = None
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def remember(info) -> None:
        names = injected_names(getattr(info, "raw_cell", "") or "")
        if names is not None:
            _state["injected"] = names

    for callback in list(shell.events.callbacks["pre_run_cell"]):
        if getattr(callback, "__name__", "") == "remember" and callback.__module__ == __name__:
            shell.events.unregister("pre_run_cell", callback)
    shell.events.register("pre_run_cell", remember)


def _differs(a: Any, b: Any) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return norm(a) != norm(b)


def chapter_params(chapter: str, namespace: Mapping[str, Any]) -> ChapterParams:
    """Resolve and validate the chapter's parameters from the notebook's globals."""
    from . import chapters

    spec = chapters.get(chapter).SPEC
    _state["chapter"] = chapter              # names this page's table labels (numbered_tables)
    injected = set(_state["injected"] or ())
    unknown = sorted(injected - set(spec.names) - {"profile"})
    if unknown:
        raise ParameterError(f"{unknown[0]}={namespace.get(unknown[0])!r}: unknown parameter of chapter "
                             f"{chapter!r}; allowed: profile, {', '.join(spec.names)}")
    profile = namespace.get("profile", profiles.DEFAULT)
    if not isinstance(profile, str):
        raise ParameterError(f"profile={profile!r}: must be one of {', '.join(profiles.NAMES)} "
                             f"or the path of a profile YAML file")
    _state["profile"] = profile              # what this page's exported numbers were computed with
    defaults = profiles.chapter_values(profiles.DEFAULT, chapter)
    explicit = {name: namespace[name] for name in spec.names if name in namespace
                and (name in injected or _differs(namespace[name], defaults.get(name)))}
    return chapters.resolve(chapter, profile, explicit)


def beside_paper(figure: str, verdicts) -> None:
    """Under a figure that reproduces one of the paper's: what the paper reported and what this build
    finds (:mod:`replication.paper_findings`)."""
    from .paper_findings import beside

    markdown(beside(_state["chapter"], figure, verdicts))


def current_profile() -> str:
    """The profile of the last :func:`chapter_params` in this kernel ("" before it)."""
    return _state["profile"]


def glue(name: str, value: Any, fmt: str | None = None) -> None:
    """Glue a value (or a matplotlib figure) for the prose without displaying it here:
    ``{glue:text}`name``` in text, ``{glue:figure} name`` for a numbered figure."""
    from myst_nb import glue as _glue

    if type(value).__name__ == "Figure" and type(value).__module__.startswith("matplotlib"):
        import matplotlib.pyplot as plt

        from .figure_files import shown

        figure = value
        value = shown(figure)  # the PNG the page shows; its SVG twin (the click target) beside it
        plt.close(figure)      # shown once, where the prose places it
    _glue(name, format(value, fmt) if fmt else value, display=False)


def glue_all(values: Mapping[str, Any]) -> None:
    """Glue every ``name: value`` of a chapter page's mapping (its ``page.py``), in order, for the prose."""
    for name, value in values.items():
        glue(name, value)


def markdown(text: str) -> None:
    """Show computed markdown, in the book's notation (:func:`replication.wording.mathify`: plain
    ``λ_max`` or ``6.58e-05`` in chapter texts become rendered math and powers of ten).  A table
    announced as ``**Table: caption** more caption`` followed by a blank line and a markdown table
    becomes a numbered table with that caption (see :func:`numbered_tables`)."""
    from IPython.display import Markdown, display

    from .wording import mathify

    display(Markdown(numbered_tables(mathify(text))))


_TABLE = re.compile(r"^\*\*Table:\s*(?P<bold>.*?)\*\*(?P<rest>[^\n]*(?:\n(?!\n)[^\n]*)*)\n\n"
                    r"(?P<table>\|[^\n]*\|\n\|[ :|-]+\|(?:\n\|[^\n]*\|)*)", re.M)


def numbered_tables(text: str, page: str | None = None) -> str:
    """Every ``**Table: caption** ...`` + markdown table in ``text`` as a MyST ``{table}`` directive, so
    Sphinx numbers it ("Table 3") and shows the caption above it; the label is derived from the page
    (default: the chapter of the last :func:`chapter_params`) and the table's content
    (``tbl-<page>-<hash>``): stable across builds, and distinct when two pages show the same table."""
    page = _state["chapter"] if page is None else page
    import hashlib

    def directive(m: "re.Match") -> str:
        bold, rest = m["bold"].strip(), m["rest"].strip()
        if rest and rest[0] in ",;:.)":       # "**Table: count**, over the draws": one sentence
            caption = bold.rstrip(".") + rest
        else:
            caption = bold.rstrip(".") + (". " + rest if rest else "")
        caption = " ".join(caption.split())
        if caption[:1].isascii() and caption[:1].islower():   # a caption starts a sentence ("η/S" stays)
            caption = caption[0].upper() + caption[1:]
        label = "tbl-" + (f"{page}-" if page else "") + hashlib.sha256(m["table"].encode()).hexdigest()[:10]
        return f":::{{table}} {caption}\n:name: {label}\n\n{m['table']}\n:::"

    return _TABLE.sub(directive, text)


def evaluate(params: ChapterParams):
    """``(results, verdicts)`` of the chapter ``params`` belongs to (read back from the store when
    the book command computed it first), verdicts glued by id: ``{glue:text}`verdict-<id>``` is the
    outcome, ``verdict-<id>-summary`` its one-sentence summary."""
    from . import chapters

    results, verdicts = chapters.evaluate(params.chapter, params, progress=False)
    glue_verdicts(verdicts)
    return results, verdicts


def glue_verdicts(verdicts) -> None:
    for v in verdicts:
        glue(f"verdict-{v.id}", v.outcome)
        glue(f"verdict-{v.id}-summary", v.summary or v.outcome)


def verdict_table(verdicts, *, caption: str = "") -> None:
    """The chapter's verdicts, one list item per test: outcome and claim, rule, evidence."""
    from .figures import verdict_markdown

    markdown(verdict_markdown(verdicts, caption=caption))


# -- the parameters cell, generated ------------------------------------------------------------------
PROFILE_LINE = 'profile = "laptop"  # smoke | laptop | gpu | paper | path/to/profile.yaml'


def parameters_source(chapter: str) -> str:
    """The source of ``chapter``'s parameters cell: ``profile`` and every parameter of its SPEC with
    the laptop profile's value (so a notebook opened in Jupyter runs as the book does)."""
    from . import chapters

    spec = chapters.get(chapter).SPEC
    values = profiles.chapter_values(profiles.DEFAULT, chapter)
    lines = [PROFILE_LINE.replace('"laptop"', f'"{profiles.DEFAULT}"')]
    for p in spec.params:
        value = values[p.name]
        lines.append(f"{p.name} = {list(value) if isinstance(value, tuple) else value!r}")
    return "\n".join(lines)


def write_parameters_cell(path, *, check: bool = False) -> bool:
    """Rewrite the cell tagged ``parameters`` of the notebook at ``path`` from
    :func:`parameters_source`; returns whether it changed (with ``check``: only report)."""
    import nbformat

    from pathlib import Path

    path = Path(path)
    book = nbformat.read(path, as_version=4)
    cells = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name}: needs exactly one cell tagged 'parameters', found {len(cells)}")
    source = parameters_source(path.stem)
    if cells[0].source == source:
        return False
    if not check:
        cells[0].source = source
        nbformat.write(book, path)
    return True


def data_label(data: Mapping[str, Any]) -> str:
    """How a page names the data of its runs: dataset, canonical or not, fingerprint; never a path."""
    from .figures import data_label as label

    return label(data)
