"""One figure of the book, reproduced without Jupyter: ``python -m replication figure CHAPTER LABEL``.

A figure on a page is ``{glue:figure} KEY`` with ``:name: LABEL`` in the chapter's notebook, and the
notebook's code makes it with ``nb.glue(KEY, fig)``.  :func:`reproduce_figure` runs the notebook's code
cells in order in a plain Python namespace, with the parameters given as papermill would inject
them (right after the cell tagged ``parameters``), until ``KEY`` is glued; then it writes that
figure (SVG, PNG or PDF by the file's suffix).  The chapter's results come from the result store
(what is missing is computed first, as on the page).  IPython magics (``%matplotlib``) are skipped;
the page's markdown and glued text are not displayed.

The notebook is read as JSON and its cells are the project's own source (``book/<chapter>.ipynb``),
not data from the store: nothing read from the store executes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from .params import ParameterError

_FIGURE = re.compile(r"^[`:]{3,}\{glue:figure\}\s+(?P<key>\S+)\s*\n(?P<options>(?::[\w-]+:.*\n?)*)", re.M)
FORMATS = (".svg", ".png", ".pdf")


class _Done(Exception):
    """Raised from the glue hook once the wanted figure exists (the rest of the page is not run)."""


def notebook_path(chapter: str) -> Path:
    from .paths import checkout_root

    root = checkout_root()
    path = (root / "book" / f"{chapter}.ipynb") if root is not None else None
    if path is None or not path.is_file():
        raise ParameterError(f"chapter={chapter!r}: its notebook book/{chapter}.ipynb is not here "
                             f"(figures are reproduced from a checkout)")
    return path


def figure_keys(notebook: Mapping[str, Any]) -> dict[str, str]:
    """``{label: glue key}`` of every numbered figure in the notebook's markdown, in page order."""
    found: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", ""))
        for m in _FIGURE.finditer(source):
            name = re.search(r"^:name:\s*(\S+)", m["options"], re.M)
            if name:
                found[name[1]] = m["key"]
    return found


def _code(cell: Mapping[str, Any]) -> str:
    lines = "".join(cell.get("source", "")).splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def reproduce_figure(chapter: str, label: str, *, profile: str, overrides: Mapping[str, Any] | None = None,
                     output: Path | str | None = None) -> Path:
    """Write figure ``label`` of ``chapter`` (as the page shows it at ``profile`` with ``overrides``) to
    ``output`` (default ``<chapter>-<label>.svg``); returns the file's path.  Bad input (unknown
    chapter, label, parameter or output format) fails in one line before any compute; a figure the page
    does not make at this profile (its section not run there) fails in one line after it."""
    from . import chapters, profiles
    from . import notebook as nb
    chapters.get(chapter)                              # a known chapter, else one line
    overrides = dict(overrides or {})
    chapters.resolve(chapter, profile, overrides)      # the profile and every parameter, before compute
    book = json.loads(notebook_path(chapter).read_text(encoding="utf-8"))
    keys = figure_keys(book)
    if label not in keys:
        raise ParameterError(f"figure={label!r}: no such figure in chapter {chapter!r}; figures: "
                             f"{', '.join(keys) or 'none'}")
    output = Path(output) if output is not None else Path(f"{chapter}-{label}.svg")
    if output.suffix.lower() not in FORMATS:
        raise ParameterError(f"--output={str(output)!r}: the suffix must be one of {', '.join(FORMATS)}")
    key = keys[label]

    import matplotlib

    matplotlib.use("Agg")
    captured: dict[str, Any] = {}
    glue_before, markdown_before = nb.glue, nb.markdown

    def glue(name, value, fmt=None):
        if type(value).__name__ == "Figure" and name == key:
            captured[name] = value
            raise _Done
        if type(value).__name__ == "Figure":
            import matplotlib.pyplot as plt

            plt.close(value)

    namespace: dict[str, Any] = {"__name__": "__main__"}
    injected = {"profile": profile, **overrides}
    try:
        nb.glue, nb.markdown = glue, (lambda text: None)
        for cell in book["cells"]:
            if cell.get("cell_type") != "code":
                continue
            exec(compile(_code(cell), f"book/{chapter}.ipynb", "exec"), namespace)
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                namespace.update(injected)               # as papermill's injected cell
                nb._state["injected"] = set(injected)
    except _Done:
        pass
    finally:
        nb.glue, nb.markdown = glue_before, markdown_before
    if key not in captured:             # a figure whose section this profile does not run (its cell: if-glued)
        raise ParameterError(f"figure={label!r}: book/{chapter}.ipynb ran to its end without making it at profile "
                             f"{profiles.in_command(profile)} (glue key {key!r}); the page leaves it out there")
    figure = captured[key]
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, bbox_inches="tight", dpi=2 * figure.dpi,
                   metadata={"Date": None} if output.suffix.lower() == ".svg" else None)
    return output


def figure_command(chapter: str, label: str, parameters: Mapping[str, Any]) -> str:
    """The shell line that reproduces figure ``label`` as this build made it (``parameters``: the
    profile and the overrides the build passed to papermill)."""
    import shlex

    import yaml

    from . import profiles

    parts = ["python -m replication figure", chapter, label]
    for name, value in parameters.items():
        if name == "profile":
            value = profiles.in_command(value)
            parts += ["--profile", shlex.quote(str(value))]
            continue
        text = yaml.safe_dump(list(value) if isinstance(value, tuple) else value, default_flow_style=True).strip()
        text = text.removesuffix("\n...").strip()
        parts += ["-p", shlex.quote(f"{name}={text}")]
    return " ".join(parts)
