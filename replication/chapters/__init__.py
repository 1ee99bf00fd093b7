"""One module per book chapter.  Each declares ``SPEC`` (its parameters) and
``compute(params, *, store=None, progress=True)`` (its results, through the result store), so a
chapter's computation runs the same from its notebook, from ``python -m replication run``, or
from a cluster job."""
from __future__ import annotations

import importlib
from types import ModuleType

from ..params import ParameterError

NAMES = ("intro", "sde", "width", "sharpness", "appendix")


def get(name: str) -> ModuleType:
    if name not in NAMES:
        raise ParameterError(f"chapter={name!r}: must be one of {', '.join(NAMES)} (or 'all' for run)")
    return importlib.import_module(f"{__name__}.{name}")
