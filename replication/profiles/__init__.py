"""Profiles: named parameter sets for every chapter, as YAML a user can read and copy.

==========  ===========================================================================
``smoke``   tests and CI: every code path of every chapter, seconds per chapter
``laptop``  the default; the whole book on 2 CPU cores within 30 minutes, cold store
``gpu``     paper architectures, shortened, for one GPU
``paper``   the paper's settings in full
==========  ===========================================================================

A profile file holds ``description``, an optional ``base`` (another profile whose values it
overrides, by name or path) and ``chapters: {<chapter>: {<parameter>: <value>}}``.  This module
only reads them: invalid YAML, text that is not UTF-8, an unknown top-level key, a ``base`` that is
not a name or path, a ``chapters`` or section that is not a mapping, or a ``base`` chain that loops is
a one-line :class:`ProfileError` naming the file and the key.  What the sections *mean* is checked
above it, where the chapters are known: ``replication.chapters.check_profile`` (every section a
chapter, every key one of its ``SPEC``'s parameters, every value allowed) and
``replication.params.resolve`` (one chapter's section).  It imports nothing from the package.
``laptop`` is complete; the others override parts of it.  A user's own profile is a path to such a
file (``profile="my_profile.yml"``); its ``base`` defaults to ``laptop``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

DEFAULT = "laptop"
FOLDER = Path(__file__).resolve().parent
NAMES = ("smoke", "laptop", "gpu", "paper")


class ProfileError(ValueError):
    pass


def _path(profile: str) -> Path:
    if profile in NAMES:
        return FOLDER / f"{profile}.yaml"
    path = Path(profile).expanduser()
    if path.suffix in (".yml", ".yaml") and path.is_file():
        return path.resolve()
    raise ProfileError(f"profile={profile!r}: must be one of {', '.join(NAMES)} "
                       f"or the path of a profile YAML file")


def label(profile: str) -> str:
    return profile if profile in NAMES else str(_path(profile))


def in_command(profile) -> str:
    """``profile`` as a command on a page spells it: a built-in name, or a profile file by its name
    alone (never the folder it has on the machine that built the page)."""
    return str(profile) if profile in NAMES else Path(str(profile)).name


KEYS = ("description", "base", "chapters")


def _yaml_error(path: Path, error: Exception) -> ProfileError:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return ProfileError(f"profile={str(path)!r}: not valid YAML ({where}{' '.join(str(problem).split())})")


@functools.lru_cache(maxsize=None)
def _load(path: Path, mtime: float) -> dict:
    """The file's mapping, its keys checked (one-line :class:`ProfileError` naming the file and key)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise _yaml_error(path, error) from None
    except UnicodeDecodeError as error:
        raise ProfileError(f"profile={str(path)!r}: not UTF-8 text (byte {error.object[error.start]:#04x} at "
                           f"position {error.start})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"profile={str(path)!r}: must be a mapping with keys {', '.join(KEYS)}")
    for key in data:
        if key not in KEYS:
            raise ProfileError(f"profile={str(path)!r}: unknown key {key!r}; allowed: {', '.join(KEYS)}")
    if not isinstance(data.get("chapters") or {}, dict):
        raise ProfileError(f"profile={str(path)!r}: chapters must be a mapping {{chapter: {{parameter: value}}}}")
    if "base" in data and not isinstance(data["base"], str):
        raise ProfileError(f"profile={str(path)!r}: base={data['base']!r}: a profile name or a YAML path")
    for chapter, values in (data.get("chapters") or {}).items():
        if values is not None and not isinstance(values, dict):
            raise ProfileError(f"profile={str(path)!r}: chapters.{chapter}: must be a mapping {{parameter: value}}")
    return data


def load(profile: str, _seen: tuple = ()) -> dict:
    """All chapters' values of ``profile`` with its bases applied: ``{chapter: {param: value}}``."""
    path = _path(profile)
    if path in _seen:
        raise ProfileError(f"profile={profile!r}: its 'base' chain loops")
    data = _load(path, path.stat().st_mtime)
    base = data.get("base", None if profile == DEFAULT else DEFAULT)
    merged: dict = {}
    if base is not None:
        merged = {k: dict(v) for k, v in load(base, _seen + (path,)).items()}
    for chapter, values in (data.get("chapters") or {}).items():
        merged.setdefault(chapter, {}).update(values or {})
    return merged


def files(profile: str) -> list[tuple[Path, dict]]:
    """``(file, its own chapters sections)`` of ``profile`` and of each ``base`` below it, the
    profile first: what each file says, so a check above can name the file that says it."""
    load(profile)                      # the chain read once: a loop or an unreadable file fails here
    out, name = [], profile
    while name is not None:
        path = _path(name)
        data = _load(path, path.stat().st_mtime)
        out.append((path, dict(data.get("chapters") or {})))
        name = data.get("base", None if name == DEFAULT else DEFAULT)
    return out


def chapter_values(profile: str, chapter: str) -> dict:
    """``chapter``'s section of ``profile``, bases applied (``{}`` when the profile has none)."""
    return dict(load(profile).get(chapter, {}))


def source(profile: str) -> str:
    """The file ``profile`` is read from, as error messages name it."""
    return str(_path(profile))


def description(profile: str) -> str:
    path = _path(profile)
    return str(_load(path, path.stat().st_mtime).get("description", "")).strip()
