"""Profiles: named parameter sets for every chapter, as YAML a user can read and copy.

==========  ===========================================================================
``smoke``   tests and CI: every code path of every chapter, seconds per chapter
``laptop``  the default; the whole book on 2 CPU cores within 30 minutes, cold store
``gpu``     paper architectures, shortened, for one GPU
``paper``   the paper's settings in full
==========  ===========================================================================

A profile file holds ``description``, an optional ``base`` (another profile whose values it
overrides, by name or path) and ``chapters: {<chapter>: {<parameter>: <value>}}``.  ``laptop`` is
complete; the others override parts of it.  A user's own profile is a path to such a file
(``profile="my_profile.yml"``); its ``base`` defaults to ``laptop``.
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


@functools.lru_cache(maxsize=None)
def _load(path: Path, mtime: float) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProfileError(f"profile={str(path)!r}: not valid YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("chapters", {}), dict):
        raise ProfileError(f"profile={str(path)!r}: must be a mapping with a 'chapters' mapping")
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


def chapter_values(profile: str, chapter: str) -> dict:
    return dict(load(profile).get(chapter, {}))


def description(profile: str) -> str:
    path = _path(profile)
    return str(_load(path, path.stat().st_mtime).get("description", "")).strip()
