"""The book's chapters: one folder each, listed once (in ``_toc.yml``).

The chapter contract (the design note ``docs/chapter-contract.md`` shows it with the sweep chapter).
A chapter ``<name>`` is the folder ``replication/chapters/<name>/``::

    __init__.py     ABOUT    one sentence: what the chapter tests (the introduction's contents and the
                             README's chapter table, ``python -m replication readme``, print it)
                    SPEC     its parameters, a ChapterSpec (validated before any compute; every profile
                             file has one section ``<name>:`` whose keys are SPEC's names)
                    compute(params, *, store, progress=True) -> results
                             every number the page shows, through the result store (a second call
                             reads them back); :func:`compute` here calls it and owns the common
                             start and end (the default store, the device check, the stored/computed
                             tally of results that subclass :class:`Counted`), not each chapter
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
                    (``{name: value}``, shown with :func:`replication.notebook.glue_all`)

plus ``book/<name>.ipynb`` (its page: prose, glue and figure calls, no formatting code; committed
without outputs, its parameters cell written by ``python -m replication notebook-params <name>``),
``tests/test_<name>.py``, one line ``- file: book/<name>`` in ``_toc.yml`` and one section ``<name>:``
in every profile file.  Adding a chapter touches those and nothing else.

**Which chapters exist, and their order, come from ``_toc.yml`` alone**: every ``book/<name>``
entry with a folder here is a chapter (other entries, such as the bibliography, are plain pages).
Without a checkout (an installed copy) the folders are listed alphabetically.

The registry also checks profiles against the chapters it lists (:func:`check_profile`: every
section a chapter, every key a parameter of its ``SPEC``, every value allowed) and resolves a
chapter's parameters through that check (:func:`resolve`); the profile files are only read by
``replication.profiles``, which knows no chapter.

:func:`evaluate` is the one way a chapter's results are produced: compute (through the store), the
verdicts from the results, and the verdicts saved beside the results (``replication.claims``) so
the claims page can gather them without re-running anything.  The common start and end of every
chapter's ``compute`` are :func:`compute`'s, not the chapter's: the default store, the device check
(:func:`replication.params.check_device`, before anything runs) and the tally of the results it rested on (every
runner's, :class:`replication.runs.counting`), which ``results.stored`` / ``results.computed`` read
(:class:`Counted`).  A chapter's own ``compute`` is handed a store and only computes.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from .. import profiles
from ..params import ChapterParams, ParameterError, check_device, check_section, resolve_values

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


def check_profile(profile: str) -> None:
    """Every section of ``profile`` (bases applied) against the registry: a chapter that exists, each
    key one of its ``SPEC``'s parameters, each value allowed; else one line naming the file and the
    key (``profile='<file>': chapters.<chapter>.<key>: ...``).  Before any chapter computes, so a typo
    in one chapter's section of a user's file stops every chapter."""
    try:
        for path, sections in profiles.files(profile):
            known = names()
            for chapter, values in sections.items():
                where = f"profile={str(path)!r}: chapters.{chapter}"
                if chapter not in known:
                    raise ParameterError(f"{where}: unknown chapter; chapters: {', '.join(known)}")
                check_section(get(chapter).SPEC, values, where)
    except profiles.ProfileError as error:
        raise ParameterError(str(error)) from None


def resolve_spec(spec, profile: str = profiles.DEFAULT, explicit=None) -> ChapterParams:
    """``explicit`` validated over ``profile``'s section for ``spec``'s chapter (only that section is
    checked; :func:`resolve` checks the whole profile first).  For a chapter outside the registry
    (a test's toy chapter) and for callers holding a SPEC."""
    try:
        section, label, source = (profiles.chapter_values(profile, spec.name), profiles.label(profile),
                                  profiles.source(profile))
    except profiles.ProfileError as error:
        raise ParameterError(str(error)) from None
    return resolve_values(spec, section, explicit, label=label, source=source)


def resolve(chapter: str, profile: str = profiles.DEFAULT, explicit=None) -> ChapterParams:
    """Chapter ``chapter``'s parameters: ``profile`` checked whole (:func:`check_profile`), then its
    section with ``explicit`` on top validated (``replication.params.resolve_values``).  The way the
    CLI, the book and the notebooks resolve parameters."""
    spec = get(chapter).SPEC
    check_profile(profile)
    return resolve_spec(spec, profile, explicit)


class Counted:
    """A chapter's results that :func:`compute` counts: ``tally`` (a :class:`replication.store.Tally`
    of every result its compute rested on, each once) with ``stored`` and ``computed`` read from it
    (of the kinds in ``counted_kinds`` only, when a page counts e.g. its training runs alone).
    Not a dataclass field: results made outside :func:`compute` have none, and say so when read."""

    tally = None
    counted_kinds: tuple = ()          # empty: every kind

    def _tally(self):
        if self.tally is None:
            raise AttributeError(f"{type(self).__name__} has no tally: compute a chapter with "
                                 "replication.chapters.compute (or evaluate), which counts its results")
        return self.tally.of_kinds(*self.counted_kinds) if self.counted_kinds else self.tally

    @property
    def stored(self) -> int:
        """Results read from the store."""
        return self._tally().stored

    @property
    def computed(self) -> int:
        """Results computed by this compute."""
        return self._tally().computed


def compute(name: str, params, *, store=None, progress: bool = True):
    """The results of chapter ``name`` at ``params``: the common start (the default store, the device
    check before anything runs), the chapter's own ``compute``, and the common end (the tally of the
    results it rested on, attached to results that are :class:`Counted`)."""
    from ..runs import counting
    from ..store import ResultStore

    chapter = get(name)
    store = store if store is not None else ResultStore()
    device = getattr(params, "device", None)
    if device is not None:                     # chapters without a device parameter compute on the CPU
        check_device(device)
    with counting() as tally:
        results = chapter.compute(params, store=store, progress=progress)
    if isinstance(results, Counted):
        results.tally = tally
    return results


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
        results = compute(name, params, store=store, progress=progress)
        verdicts = list(chapter.verdicts(results, params)) if hasattr(chapter, "verdicts") else []
    return results, verdicts, dict(sources)


def evaluate(name: str, params, *, store=None, progress: bool = True):
    """``(results, verdicts)`` of chapter ``name``: computed through the store, verdicts saved with the
    keys and checksums of the results they rest on (a valid file saying the same is left untouched)."""
    from .. import verdict_files

    results, verdicts, sources = verdicts_of(name, params, store=store, progress=progress)
    if hasattr(get(name), "verdicts"):
        verdict_files.save(name, params.profile, verdicts, params=params.as_dict(),
                    store_root=getattr(store, "root", None), sources=sources)
    return results, verdicts


def profile_bill(profile, store, wanted=None) -> list:
    """The bill (:func:`replication.planning.bill`) of every chapter of ``profile`` (a name or a YAML
    path), or of the chapters ``wanted``; a chapter that declares no training runs is "not planned"."""
    from .. import planning

    calibration, measured = planning.load_calibration(), planning.measured_epoch_seconds()
    return [planning.bill(n, planned_runs(n, resolve(n, profile)), store, calibration=calibration, measured=measured)
            for n in (list(wanted) if wanted is not None else names())]


# -- verdict files: recomputed from the stored results where not valid --------------------------------
def recompute_verdicts(found, *, store_root=None):
    """``found`` with its verdicts recomputed from the stored results (nothing trains: inside
    :func:`replication.store.serving_only`) and saved where the store is writable; ``note`` says what
    happened, or why it could not be done."""
    import json

    from ..store import NeedsCompute, ResultStore, StoreError, serving_only
    from ..verdict_files import save, sources_of

    params_found = None
    try:
        record = json.loads(found.path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and isinstance(record.get("params"), dict):
            params_found = record["params"]
    except (OSError, ValueError):
        pass
    what = f"{found.chapter}: its verdict file was {found.state} ({found.problem})"
    store = ResultStore(store_root) if store_root is not None else None
    try:
        params = resolve(found.chapter, found.profile, params_found)
        with serving_only(f"recomputing the verdicts of {found.chapter}"):
            _, verdicts, sources = verdicts_of(found.chapter, params, store=store, progress=False)
    except NeedsCompute:
        found.note = (f"{what}; its results are not all stored, so its verdicts are left out: run "
                      f"python -m replication run {found.chapter} --profile {found.profile}")
        return found
    except ParameterError as error:
        found.note = f"{what}; its parameters cannot be resolved ({error}), so its verdicts are left out"
        return found
    record = {"chapter": found.chapter, "profile": found.profile, "params": params.as_dict(), "verdicts": verdicts,
              "sources": sources_of(sources)}
    try:
        save(found.chapter, found.profile, verdicts, params=params.as_dict(), store_root=store_root, sources=sources)
        saved = "and saved"
    except StoreError:
        saved = "(not saved: the store is read-only)"
    found.record = record
    found.note = f"{what}; recomputed from {len(sources)} stored results {saved}"
    return found


def collect_verdicts(chapters, profile: str, *, store_root=None, repair: bool = True) -> dict:
    """``{chapter: replication.verdict_files.VerdictFile}``: every file checked; with ``repair``, those
    not valid recomputed (:func:`recompute_verdicts`), each with a warning naming it."""
    import warnings

    from ..verdict_files import ABSENT, VALID, VerdictFileWarning, check

    out = {}
    for chapter in chapters:
        found = check(chapter, profile, store_root=store_root)
        if found.state not in (VALID, ABSENT):
            if repair:
                found = recompute_verdicts(found, store_root=store_root)
            else:
                found.note = f"{chapter}: its verdict file is {found.state} ({found.problem}); left out"
            warnings.warn(found.note, VerdictFileWarning, stacklevel=2)
        out[chapter] = found
    return out


def collect(chapters, profile: str, *, store_root=None) -> dict:
    """``{chapter: trusted verdict record or None}`` (see :func:`collect_verdicts`; files not valid are
    recomputed from the stored results, with a warning naming each)."""
    return {c: f.record for c, f in collect_verdicts(chapters, profile, store_root=store_root).items()}
