"""Per-epoch schedules of the learning rate and of the batch size: frozen, validated, JSON-able.

A schedule maps an epoch index ``e = 0, 1, 2, ...`` (0 = the first epoch) to a positive
**multiplier** of a run's base value: a run with ``lr=0.1`` and ``lr_schedule=step((30, 60), 0.1)``
trains at 0.1, then 0.01 from epoch 30, then 0.001 from epoch 60; its batch size at epoch ``e`` is
``round(batch_size * bs_schedule.at(e))``.  Multipliers keep a schedule's *shape* separate from the
base value, so a grid over ``lr`` (or seeds) shares one schedule.

    constant()                               1 at every epoch (or ``constant(v)``: v)
    step(milestones=(30, 60), factor=0.1)    factor ** (number of milestones <= e)
    triangular(low=0.2, high=1, step_size=4) the triangular cyclic schedule of Smith (2017, "CLR"):
                                             low at e = 0, rising linearly to high at e = step_size,
                                             back to low at 2 * step_size, and so on
    table((1, 0.5, 0.25), cycle=True)        explicit per-epoch values, repeated with that period
                                             (``cycle=False``: the last value is held)

Every schedule is a frozen dataclass with ``at(epoch)``, ``to_dict()`` (``{"kind": ..., fields}``)
and :func:`from_dict` / :func:`parse` back; a run config stores ``to_dict()``.  Bad values raise a
one-line :class:`~replication.config.ConfigError` (a ``ValueError``) naming the parameter, its value
and what is allowed.

The paper's Fig. 4 pair (cyclic learning rate vs cyclic batch size at equal η/S at every epoch) is
:func:`clr_cbs_pair`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from .config import ConfigError, require
from .config import is_int as _is_int
from .config import is_number as _is_num

__all__ = ["Schedule", "Constant", "Step", "Triangular", "Table", "constant", "step", "triangular", "table",
           "from_dict", "parse", "clr_cbs_pair", "KINDS"]


def _check_epoch(epoch) -> int:
    require(_is_int(epoch) and epoch >= 0, "epoch", epoch, "an integer >= 0 (0 is the first epoch)")
    return int(epoch)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base class: ``at(epoch)`` is a positive multiplier; ``to_dict()`` its JSON form."""

    kind: ClassVar[str] = "abstract"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # pragma: no cover - overridden
        pass

    def at(self, epoch: int) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def series(self, epochs: int) -> list[float]:
        """``[at(0), ..., at(epochs - 1)]``."""
        return [self.at(e) for e in range(epochs)]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @property
    def is_constant(self) -> bool:
        return False

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if k != "kind")
        return f"{self.kind}({args})"


@dataclasses.dataclass(frozen=True)
class Constant(Schedule):
    kind: ClassVar[str] = "constant"
    value: float = 1.0

    def validate(self) -> None:
        require(_is_num(self.value) and self.value > 0, "value", self.value, "a finite number > 0")
        object.__setattr__(self, "value", float(self.value))

    def at(self, epoch: int) -> float:
        _check_epoch(epoch)
        return self.value

    @property
    def is_constant(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True)
class Step(Schedule):
    kind: ClassVar[str] = "step"
    milestones: tuple = ()
    factor: float = 0.1

    def validate(self) -> None:
        ms = self.milestones
        require(isinstance(ms, (tuple, list)) and all(_is_int(m) and m >= 1 for m in ms)
                and list(ms) == sorted(set(ms)), "milestones", ms,
                "strictly increasing epochs >= 1 at which the value is multiplied by factor")
        require(_is_num(self.factor) and self.factor > 0, "factor", self.factor, "a finite number > 0")
        object.__setattr__(self, "milestones", tuple(int(m) for m in ms))
        object.__setattr__(self, "factor", float(self.factor))

    def at(self, epoch: int) -> float:
        e = _check_epoch(epoch)
        return self.factor ** sum(1 for m in self.milestones if m <= e)


@dataclasses.dataclass(frozen=True)
class Triangular(Schedule):
    """Smith (2017) triangular policy, per epoch: cycle = floor(1 + e / (2 s)),
    x = |e / s - 2 cycle + 1|, value = low + (high - low) * max(0, 1 - x)."""

    kind: ClassVar[str] = "triangular"
    low: float = 0.1
    high: float = 1.0
    step_size: int = 1

    def validate(self) -> None:
        require(_is_num(self.low) and self.low > 0, "low", self.low, "a finite number > 0")
        require(_is_num(self.high) and self.high >= self.low, "high", self.high, f"a finite number >= low={self.low}")
        require(_is_int(self.step_size) and self.step_size >= 1, "step_size", self.step_size,
                "an integer >= 1 (epochs from low to high)")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def at(self, epoch: int) -> float:
        e = _check_epoch(epoch)
        s = self.step_size
        cycle = math.floor(1 + e / (2 * s))
        x = abs(e / s - 2 * cycle + 1)
        return self.low + (self.high - self.low) * max(0.0, 1.0 - x)


@dataclasses.dataclass(frozen=True)
class Table(Schedule):
    kind: ClassVar[str] = "table"
    values: tuple = (1.0,)
    cycle: bool = True

    def validate(self) -> None:
        v = self.values
        require(isinstance(v, (tuple, list)) and len(v) >= 1 and all(_is_num(a) and a > 0 for a in v),
                "values", v, "a non-empty list of finite numbers > 0 (one per epoch)")
        require(isinstance(self.cycle, bool), "cycle", self.cycle, "true or false")
        object.__setattr__(self, "values", tuple(float(a) for a in v))

    def at(self, epoch: int) -> float:
        e = _check_epoch(epoch)
        n = len(self.values)
        return self.values[e % n] if self.cycle else self.values[min(e, n - 1)]


KINDS: dict[str, type[Schedule]] = {c.kind: c for c in (Constant, Step, Triangular, Table)}


def constant(value: float = 1.0) -> Constant:
    return Constant(value)


def step(milestones, factor: float = 0.1) -> Step:
    return Step(tuple(milestones) if isinstance(milestones, list) else milestones, factor)


def triangular(low: float, high: float, step_size: int) -> Triangular:
    return Triangular(low, high, step_size)


def table(values, cycle: bool = True) -> Table:
    return Table(tuple(values) if isinstance(values, list) else values, cycle)


def from_dict(d: dict) -> Schedule:
    """The schedule written by ``to_dict()`` (``{"kind": ..., fields}``)."""
    if not isinstance(d, dict):
        raise ConfigError(f"schedule={d!r}: a mapping {{kind: ..., ...}} with kind one of {', '.join(KINDS)}")
    d = dict(d)
    kind = d.pop("kind", None)
    require(kind in KINDS, "kind", kind, f"one of {', '.join(KINDS)}")
    cls = KINDS[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    allowed = ", ".join(sorted(names))
    require(not unknown, f"{kind} schedule field", unknown[0] if unknown else None, f"one of {allowed}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def parse(value: Any) -> Schedule:
    """A :class:`Schedule` from itself, its ``to_dict()`` form, a kind name with no parameters
    (``"constant"``) or a positive number (a constant)."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, dict):
        return from_dict(value)
    if isinstance(value, str):
        return from_dict({"kind": value})
    if _is_num(value):
        return Constant(float(value))
    raise ConfigError(f"schedule={value!r}: a schedule, a mapping {{kind: ..., ...}} with kind one of "
                      f"{', '.join(KINDS)}, or a number > 0")


def clr_cbs_pair(lr_low: float, lr_high: float, bs_low: int, bs_high: int, step_size: int) -> tuple[dict, dict]:
    """The paper's Fig. 4 pair: (CLR, CBS) as field overrides of a run config.

    CLR: the learning rate cycles between ``lr_low`` and ``lr_high`` at a fixed batch size
    ``bs_low``.  CBS: the batch size cycles between ``bs_high`` and ``bs_low`` (inversely) at a fixed
    learning rate ``lr_high``.  Both start at the low-noise end (epoch 0: η = lr_low, S = bs_low
    for CLR; η = lr_high, S = bs_high for CBS) and have the period ``2 * step_size`` epochs.

    Construction, exact at every epoch: the triangular CLR learning rate
    η_lin(e) = Triangular(lr_low, lr_high, step_size) gives the CBS batch size
    S(e) = round(bs_low * lr_high / η_lin(e)) (an integer in [bs_low, bs_high]); the CLR learning
    rate is then η(e) = lr_high * bs_low / S(e), which differs from η_lin(e) by less than
    1 / (2 bs_low) relative (rounding of S), so that η/S = lr_high / S(e) in both runs at every
    epoch.  Requires ``bs_high / bs_low == lr_high / lr_low`` (the same range of η/S).

    Returns two dicts with keys ``lr``, ``batch_size``, ``lr_schedule``, ``bs_schedule``
    (``dataclasses.replace(base, **clr)``); both have ``lr = lr_high`` and ``batch_size = bs_low``
    as base values and express the cycle as per-epoch ``table`` multipliers of one period.
    """
    require(_is_num(lr_low) and lr_low > 0, "lr_low", lr_low, "a finite number > 0")
    require(_is_num(lr_high) and lr_high > lr_low, "lr_high", lr_high, f"a finite number > lr_low={lr_low}")
    require(_is_int(bs_low) and bs_low >= 1, "bs_low", bs_low, "an integer >= 1")
    require(_is_int(bs_high) and bs_high > bs_low, "bs_high", bs_high, f"an integer > bs_low={bs_low}")
    require(_is_int(step_size) and step_size >= 1, "step_size", step_size, "an integer >= 1 (epochs)")
    expected = bs_low * lr_high / lr_low
    require(abs(bs_high - expected) <= 1e-6 * expected, "bs_high", bs_high,
            f"bs_low * lr_high / lr_low = {expected:g}, so that both schedules span the same eta/S range")
    shape = Triangular(float(lr_low), float(lr_high), int(step_size))
    sizes = [min(bs_high, max(bs_low, round(bs_low * lr_high / shape.at(e)))) for e in range(2 * step_size)]
    clr = {"lr": float(lr_high), "batch_size": int(bs_low),
           "lr_schedule": Table(tuple(bs_low / s for s in sizes)), "bs_schedule": Constant()}
    cbs = {"lr": float(lr_high), "batch_size": int(bs_low),
           "lr_schedule": Constant(), "bs_schedule": Table(tuple(s / bs_low for s in sizes))}
    return clr, cbs
