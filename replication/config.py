"""Frozen, validated, hashable run configurations.

A run config is a frozen dataclass subclassing :class:`RunConfig`.  It names a ``kind`` (what
computation it configures) and an ``algorithm_version`` (bumped when that computation changes what
it returns), validates itself on construction, and hashes to a stable :attr:`RunConfig.key`:

    key = sha256( canonical_json({kind, algorithm_version, fields}) )[:20]

Canonical JSON sorts keys and writes floats with ``repr`` (shortest round-trip form), so the key
does not depend on dict order, on tuple-vs-list, or on the Python session.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
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


@dataclasses.dataclass(frozen=True)
class RunConfig:
    kind: ClassVar[str] = "abstract"
    algorithm_version: ClassVar[int] = 1

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
                               "fields": self.to_dict()})
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
