"""Where things live.  Every location can be moved by an environment variable.

==========================  ================================  =====================================
what                        environment variable              default
==========================  ================================  =====================================
dataset cache (verified)    ``REPLICATION_DATA_ROOT``         ``<checkout>/.cache/data``
local dataset mirror        ``REPLICATION_DATA_DIR``          (none; Debian's files are also found)
result store                ``REPLICATION_STORE``             ``<checkout>/.cache/store``
==========================  ================================  =====================================

Two timings of the shared store (:mod:`replication.store`) can also be set: a claim not refreshed
for ``REPLICATION_CLAIM_STALE_S`` seconds (default 300) is broken, and a vmapped ensemble is
checkpointed at most every ``REPLICATION_CHECKPOINT_S`` seconds (default 60).

``<checkout>`` is the repository holding this package when it is run from a clone
(all defaults are git-ignored there); an installed copy uses ``~/.cache/replication``.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository root when the package runs from a clone, else ``None``."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "_toc.yml").is_file():
        return root
    return None


def cache_root() -> Path:
    root = checkout_root()
    return root / ".cache" if root is not None else Path.home() / ".cache" / "replication"


def data_root() -> Path:
    return Path(os.environ.get("REPLICATION_DATA_ROOT") or cache_root() / "data")


def data_mirror() -> Path | None:
    value = os.environ.get("REPLICATION_DATA_DIR")
    return Path(value) if value else None


def store_root() -> Path:
    return Path(os.environ.get("REPLICATION_STORE") or cache_root() / "store")
