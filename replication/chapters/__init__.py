"""The book's chapters: one folder each, listed once (in ``_toc.yml``).

The chapter contract (the design note ``docs/chapter-contract.md`` shows it with the sweep chapter).
A chapter ``<name>`` is the folder ``replication/chapters/<name>/``::

    __init__.py     ABOUT    one sentence: what the chapter tests (the introduction's contents and the
                             README's chapter table, ``python -m replication readme``, print it)
                    SPEC     its parameters, a ChapterSpec (validated before any compute; every profile
                             file has one section ``<name>:`` whose keys are SPEC's names)
                    compute(params, *, store=None, progress=True) -> results
                             every number the page shows, through the result store (a second call
                             reads them back); :func:`evaluate` calls it, so the common start and end
                             (the default store, the device check, the stored/computed tally) belong
                             there, not in each chapter
                    verdicts(results, params) -> [Verdict]
                             (chapters that test no claim leave it out)
                    plan(params) -> [TrainConfig] | None
                             the training runs compute will need (``python -m replication plan``,
                             the executors, ``export``); ``None``, with the reason in its docstring,
                             for a chapter whose computations are not training runs (they run where
                             the chapter is computed)
    experiment.py   run configs and grids built from the parameters
    rules.yaml      its verdicts' rules as data (replication.rules): statement, measure, the matched
                    point of training, the decision with its thresholds, the negative control; each
                    registered with a digest before the numbers, changed only by an amendment
    paper.yaml      (optional) what the paper reported for each figure the page reproduces, sourced
                    (replication.paper_findings); shown under the figure beside this build's verdicts
    claims.py       the summary numbers and the verdicts: each made by ``claims.ruled(rule_id, ...)``
                    from the rule's outcome on the runs and on its negative control
    figures.py      the chapter's figures (and the rows exported beside them), on the shared style of
                    replication.figures
    page.py         every table and every sentence with a number that the page shows, as markdown
                    strings (tables announced ``**Table: caption**``), and the values its prose glues
                    (``{name: value}``, shown with :func:`replication.page.glue`)

plus ``book/<name>.ipynb`` (its page: prose, glue and figure calls, no formatting code; committed
without outputs, its parameters cell written by ``python -m replication notebook-params <name>``),
``tests/test_<name>.py``, one line ``- file: book/<name>`` in ``_toc.yml`` and one section ``<name>:``
in every profile file.  Adding a chapter touches those and nothing else.

**Which chapters exist, and their order, come from ``_toc.yml`` alone**: every ``book/<name>``
entry with a folder here is a chapter (other entries, such as the bibliography, are plain pages).
Without a checkout (an installed copy) the folders are listed alphabetically.

:func:`evaluate` is the one way a chapter's results are produced: compute (through the store), the
verdicts from the results, and the verdicts saved beside the results (``replication.claims``) so
the claims page can gather them without re-running anything.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..params import ParameterError

FOLDER = Path(__file__).resolve().parent


def _folders() -> set[str]:
    return {p.name for p in FOLDER.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}


def toc_entries(root: Path) -> list[str]:
    """The ``book/<name>`` entries of ``<root>/_toc.yml`` in reading order (root first)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [toc]):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return [Path(f).name for f in files]


def names() -> tuple[str, ...]:
    """Chapter names in reading order."""
    from ..paths import checkout_root

    folders = _folders()
    root = checkout_root()
    if root is None:
        return tuple(sorted(folders))
    return tuple(n for n in toc_entries(root) if n in folders)


def get(name: str) -> ModuleType:
    known = names()
    if name not in known:
        raise ParameterError(f"chapter={name!r}: must be one of {', '.join(known)} (or 'all' for run)")
    return importlib.import_module(f"{__name__}.{name}")


def require_device(device: str) -> None:
    """Before any compute: a chapter asked for CUDA where there is none fails in one line (the one
    wording of this refusal; the CLI's note before ``run`` and ``params`` is this message)."""
    if isinstance(device, str) and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ParameterError(f"device={device!r}: no CUDA device is available here "
                                 "(use device=cpu, or profile laptop)")


def planned_runs(name: str, params) -> list | None:
    """The training runs chapter ``name`` will need at ``params`` (its ``plan(params)``), or ``None``
    when its plan says there are none to plan (its computations then run where it is computed)."""
    runs = get(name).plan(params) if hasattr(get(name), "plan") else None
    return None if runs is None else list(runs)


def verdicts_of(name: str, params, *, store=None, progress: bool = True):
    """``(results, verdicts, sources)`` of chapter ``name``: computed through the store; ``sources``:
    ``{(kind, key): payload sha256}`` of every stored result they rest on (nothing is saved)."""
    from ..store import recording

    chapter = get(name)
    with recording() as sources:
        results = chapter.compute(params, store=store, progress=progress)
        verdicts = list(chapter.verdicts(results, params)) if hasattr(chapter, "verdicts") else []
    return results, verdicts, dict(sources)


def evaluate(name: str, params, *, store=None, progress: bool = True):
    """``(results, verdicts)`` of chapter ``name``: computed through the store, verdicts saved with the
    keys and checksums of the results they rest on (a valid file saying the same is left untouched)."""
    from .. import claims

    results, verdicts, sources = verdicts_of(name, params, store=store, progress=progress)
    if hasattr(get(name), "verdicts"):
        claims.save(name, params.profile, verdicts, params=params.as_dict(),
                    store_root=getattr(store, "root", None), sources=sources)
    return results, verdicts
