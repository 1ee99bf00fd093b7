"""Frozen, validated, hashable run configurations.

A run config is a frozen dataclass subclassing :class:`RunConfig`.  It names a ``kind`` (what
computation it configures), the ``code`` that computes it (module names), an optional
``algorithm_version``, validates itself on construction, and hashes to a stable
:attr:`RunConfig.key`:

    key = sha256( canonical_json({kind, algorithm_version, code: digest, fields}) )[:20]

Canonical JSON sorts keys and writes floats with ``repr`` (shortest round-trip form), so the key
does not depend on dict order, on tuple-vs-list, or on the Python session.

**Stale results cannot come back.**  ``digest`` is the sha256 of the source text of every module
named in the class's ``code`` (a package name means all its ``.py`` files, recursively), computed
once per process (:func:`code_digest`).  Any edit to that code (even a comment) gives new keys, so
the store recomputes instead of returning what older code computed.  We chose a digest over a
test that demands a version bump because a digest is automatic and a bump is forgettable; the
price is that a harmless edit recomputes (a cost, never a wrong result).  ``algorithm_version``
still works (a bump also changes the key), e.g. to force a recomputation after a change in a
dependency outside ``code`` (PyTorch, the data files).

What belongs in ``code``: the modules whose source determines the payload (the computation, its
models, its data preparation, its numerical kernels) and nothing that only *reads* results
(notebooks, figures, claims, statistics), or every edit of a figure would retrain everything.
A subclass that does not declare ``code`` gets the file of the module that defines it;
(for a package's ``__init__.py``, that file alone: ``"pkg.__init__"`` names it);
``code = ()`` switches the digest off (then only ``algorithm_version`` protects the results).
A computation that consumes another stored result should hold that result's ``key`` among its
fields, so the other result's code digest reaches its key too.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any, ClassVar


class ConfigError(ValueError):
    """A configuration value outside what is allowed.  The message is one line:
    ``<name>=<value>: <what is allowed>``."""


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"non-finite float {value!r} in a run config")
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    raise TypeError(f"run configs hold only JSON values, got {type(value).__name__}: {value!r}")


def canonical_json(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))


_DIGESTS: dict[tuple[str, ...], str] = {}


def code_files(modules: tuple[str, ...]) -> list[Path]:
    """The source files of ``modules`` (a package: all its ``.py`` files), sorted, without repeats."""
    files: set[Path] = set()
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ConfigError(f"code={name!r}: no such module (a run config's code names importable modules)")
        if spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                files.update(p.resolve() for p in Path(folder).rglob("*.py") if "__pycache__" not in p.parts)
        elif spec.origin and spec.origin.endswith(".py"):
            files.add(Path(spec.origin).resolve())
        else:
            raise ConfigError(f"code={name!r}: not a Python source module ({spec.origin})")
    return sorted(files)


def code_digest(modules: tuple[str, ...]) -> str:
    """sha256 over the (name, source text) of :func:`code_files` (computed once per process)."""
    modules = tuple(modules)
    if modules not in _DIGESTS:
        digest = hashlib.sha256()
        for path in code_files(modules):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _DIGESTS[modules] = digest.hexdigest()
    return _DIGESTS[modules]


def clear_code_digests() -> None:
    """Forget the per-process digests (tests that edit source files)."""
    _DIGESTS.clear()


@dataclasses.dataclass(frozen=True)
class RunConfig:
    kind: ClassVar[str] = "abstract"
    algorithm_version: ClassVar[int] = 1
    #: modules whose source determines the result (see the module docstring); None: the defining module
    code: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def code_modules(cls) -> tuple[str, ...]:
        if cls.code is not None:
            return tuple(cls.code)
        module = sys.modules.get(cls.__module__)
        if getattr(module, "__file__", None) is None:
            raise ConfigError(f"{cls.__name__}: defined outside a module file; declare its code "
                              "(code = ('package.module', ...), or () for none)")
        if hasattr(module, "__path__"):          # defined in a package's __init__.py: that file only
            return (f"{cls.__module__}.__init__",)
        return (cls.__module__,)

    @classmethod
    def code_version(cls) -> str:
        """The digest of the class's code ("" when ``code = ()``)."""
        modules = cls.code_modules()
        return code_digest(modules) if modules else ""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # lists → tuples, so configs stay hashable
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a bad value.  Subclasses extend this."""

    def to_dict(self) -> dict:
        return {f.name: _canonical(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def key(self) -> str:
        text = canonical_json({"kind": self.kind, "algorithm_version": self.algorithm_version,
                               "code": self.code_version(), "fields": self.to_dict()})
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def is_int(value: Any) -> bool:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require(condition: bool, name: str, value: Any, allowed: str) -> None:
    """Raise a one-line :class:`ConfigError` unless ``condition``."""
    if not condition:
        raise ConfigError(f"{name}={value!r}: {allowed}")
