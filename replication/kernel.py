"""What the running notebook kernel's page is: its chapter, the profile its parameters were resolved
with (what its exported numbers are stamped with), and the names papermill injected.

Set by :mod:`replication.notebook`, read there and by :func:`replication.figures.export`; a module of
its own so that the figures, below the notebook glue, need no import of it.
"""
from __future__ import annotations

from typing import Any

state: dict[str, Any] = {"injected": None, "chapter": "", "profile": ""}
