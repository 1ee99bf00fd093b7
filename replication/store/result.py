"""What a store read or a runner returns: :class:`Result` (one entry), :class:`Tally` (what a runner
did) and :class:`Results` (a runner's list of results with its tally)."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable


@dataclasses.dataclass(frozen=True)
class Result:
    """A stored computation: its config, payload and provenance."""

    key: str
    kind: str
    config: dict
    payload: Any
    provenance: dict
    wall_time: float
    from_store: bool  # True when this call read it rather than computed it


@dataclasses.dataclass
class Tally:
    """What runners did, each result counted once by its kind and key however often it was asked
    for: ``stored`` results read from the store, ``computed`` results computed, ``wall_time`` the
    computed ones' wall time.

    Tallies add up (``a + b``, :meth:`update`) as sets do: a result two runners returned counts once,
    as computed when either computed it (it was computed in this session)."""

    seen: dict = dataclasses.field(default_factory=dict)    # (kind, key) -> (from_store, wall_time)

    def add(self, result: Result) -> None:
        self._note((result.kind, result.key), result.from_store, result.wall_time)

    def _note(self, where: tuple, from_store: bool, wall_time: float) -> None:
        before = self.seen.get(where)
        if before is None or (before[0] and not from_store):
            self.seen[where] = (bool(from_store), float(wall_time))

    def update(self, other: "Tally") -> None:
        for where, (from_store, wall_time) in other.seen.items():
            self._note(where, from_store, wall_time)

    def __add__(self, other: "Tally") -> "Tally":
        out = Tally(dict(self.seen))
        out.update(other)
        return out

    def of_kinds(self, *kinds: str) -> "Tally":
        """The results of these kinds only (e.g. a page that counts training runs)."""
        return Tally({where: seen for where, seen in self.seen.items() if where[0] in kinds})

    @property
    def stored(self) -> int:
        return sum(1 for from_store, _ in self.seen.values() if from_store)

    @property
    def computed(self) -> int:
        return sum(1 for from_store, _ in self.seen.values() if not from_store)

    @property
    def wall_time(self) -> float:
        return sum(wall for from_store, wall in self.seen.values() if not from_store)

    def __str__(self) -> str:
        return f"{self.stored} stored, {self.computed} computed in {self.wall_time:.1f} s"


class Results(list):
    """A list of :class:`Result` (in the order of the configs) with the runner's :class:`Tally`."""

    def __init__(self, items: Iterable = (), tally: Tally | None = None):
        super().__init__(items)
        if tally is None:
            tally = Tally()
            for result in self:
                if result is not None:
                    tally.add(result)
        self.tally = tally
