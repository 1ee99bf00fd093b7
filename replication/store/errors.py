"""What the store raises and warns: one line each."""
from __future__ import annotations


class StoreError(RuntimeError):
    """The store cannot be used (not writable, an entry cannot be written, not readable).  One line."""


class NeedsCompute(StoreError):
    """Inside :func:`replication.store.serving_only`, something would have been computed."""


class CorruptedEntryWarning(UserWarning):
    """A damaged entry (or checkpoint) was moved aside or dropped; it is recomputed."""
