"""Chapter parameters: a profile's values, overridden by explicit ones, validated before compute.

Each chapter declares a :class:`ChapterSpec`: its parameters with type, bounds and help text.
:func:`resolve_values` turns a profile's section and the explicit values into frozen
:class:`ChapterParams`, or raises :class:`ParameterError` with one line naming the parameter, its
value and what is allowed.  The same path serves papermill runs (through :mod:`replication.notebook`)
and the CLI.

Parameters flow one way and this module imports nothing from the package: the profile files are read
by :mod:`replication.profiles` (a YAML reader that imports nothing either), this module validates one
chapter's values against its ``SPEC``, and the chapter registry (:mod:`replication.chapters`:
``resolve(chapter, profile, explicit)``, ``resolve_spec(spec, ...)``) reads the profile and checks it
whole against every chapter.  What several chapters declare alike is built here once: :func:`device` (with
:func:`check_device`, the one CUDA refusal), :func:`seeds`, :func:`lanczos_tol`, the throughput options
(:func:`precision`, :func:`channels_last`, :func:`throughput`), and the
cross-parameter rules :func:`check_at_most`, :func:`check_largest_at_most`, :func:`check_split`,
:func:`check_increasing_pair` and :func:`check_augment`.
"""
from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence


TYPES = ("int", "float", "str", "bool", "int_list", "float_list", "str_list")


class ParameterError(ValueError):
    """Bad chapter parameter.  Shown as one line, also inside a notebook."""

    def _render_traceback_(self):  # IPython: print this one line instead of a traceback
        return [f"ParameterError: {self}"]


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    type: str
    help: str
    low: float | None = None       # inclusive bounds (for lists: of every element)
    high: float | None = None
    choices: tuple | None = None
    min_len: int = 1               # lists only
    unique: bool = True            # lists only: False where entries may repeat (paired lists, layer widths)

    def allowed(self) -> str:
        what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                "int_list": "a list of integers", "float_list": "a list of numbers",
                "str_list": "a list of strings"}[self.type]
        parts = [what]
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.low is not None and self.high is not None:
            parts.append(f"in [{self.low:g}, {self.high:g}]")
        elif self.low is not None:
            parts.append(f">= {self.low:g}")
        elif self.high is not None:
            parts.append(f"<= {self.high:g}")
        if self.type.endswith("_list") and self.min_len > 1:
            parts.append(f"at least {self.min_len} entries")
        if self.type.endswith("_list") and self.unique:
            parts.append("no entry twice")
        return ", ".join(parts)

    def coerce(self, value: Any) -> Any:
        """The validated value (lists become tuples) or :class:`ParameterError`."""
        def fail() -> ParameterError:
            return ParameterError(f"{self.name}={value!r}: must be {self.allowed()} ({self.help})")

        if self.type.endswith("_list"):
            items = value
            if isinstance(items, str):  # papermill -p passes lists as text
                import yaml

                try:
                    items = yaml.safe_load(items)
                except yaml.YAMLError:
                    raise fail() from None
            if not isinstance(items, (list, tuple)) or len(items) < self.min_len:
                raise fail()
            element = Param(self.name, self.type[: -len("_list")], self.help, self.low, self.high,
                            self.choices)
            try:
                values = tuple(element.coerce(v) for v in items)
            except ParameterError:
                raise fail() from None
            repeated = [v for i, v in enumerate(values) if v in values[:i]]
            if repeated and self.unique:
                raise ParameterError(f"{self.name}={value!r}: {repeated[0]!r} is listed twice; every entry must "
                                     f"differ ({self.help})")
            return values
        if self.type == "bool":
            if not isinstance(value, bool):
                raise fail()
            return value
        if self.type == "str":
            if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
                raise fail()
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail()
        if self.type == "int":
            if not isinstance(value, int):      # 2.0 is a float: an integer is written without a point
                raise fail()
        else:
            value = float(value)
            if not math.isfinite(value):
                raise fail()
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise fail()
        if self.choices is not None and value not in self.choices:
            raise fail()
        return value


@dataclasses.dataclass(frozen=True)
class ChapterSpec:
    name: str
    title: str
    params: tuple[Param, ...]
    check: Callable[[dict], None] | None = None  # cross-parameter rules; raises ParameterError

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParameterError(f"{name}: unknown parameter of chapter {self.name!r}; "
                             f"allowed: profile, {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


class ChapterParams(Mapping):
    """Resolved, validated parameters of one chapter: a read-only mapping with attribute access,
    plus where each value came from (``sources[name]`` is the profile name or ``"explicit"``)."""

    def __init__(self, chapter: str, profile: str, values: dict, sources: dict):
        self.chapter = chapter
        self.profile = profile
        self._values = MappingProxyType(dict(values))
        self.sources = MappingProxyType(dict(sources))

    def __getitem__(self, name):
        return self._values[name]

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"ChapterParams({self.chapter!r}, profile={self.profile!r}, {dict(self._values)})"

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._values.items()}

    def table(self) -> str:
        """A markdown table: parameter, value, source."""
        rows = ["| parameter | value | from |", "| --- | --- | --- |", f"| profile | {self.profile} | |"]
        rows += [f"| {k} | {', '.join(map(str, v)) if isinstance(v, tuple) else v} | {self.sources[k]} |"
                 for k, v in self._values.items()]
        return "\n".join(rows)


def check_section(spec: ChapterSpec, section: Any, where: str) -> dict:
    """``section`` (one chapter's values in a profile file) checked against ``spec``: a mapping whose
    every key is a parameter of ``spec`` with an allowed value; else one line starting ``where``
    (``profile='<file>': chapters.<chapter>``).  Returns the coerced values."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ParameterError(f"{where}: must be a mapping {{parameter: value}}")
    out = {}
    for key, value in section.items():
        if key not in spec.names:
            raise ParameterError(f"{where}.{key}: unknown parameter; allowed: {', '.join(spec.names)}")
        try:
            out[key] = spec.param(key).coerce(value)
        except ParameterError as error:
            raise ParameterError(f"{where}.{error}") from None
    return out


def resolve_values(spec: ChapterSpec, section: Any, explicit: Mapping[str, Any] | None = None, *,
                   label: str, source: str) -> ChapterParams:
    """``spec``'s chapter's parameters from a profile's ``section`` for it (already read: ``label`` is
    the profile's name, ``source`` the file it came from) with ``explicit`` values on top: every
    value validated, then the chapter's cross-parameter ``check``.  Reads nothing."""
    explicit = dict(explicit or {})
    for name, value in explicit.items():
        if name not in spec.names:
            raise ParameterError(f"{name}={value!r}: unknown parameter of chapter {spec.name!r}; "
                                 f"allowed: profile, {', '.join(spec.names)}")
    profile_values = check_section(spec, section, f"profile={source!r}: chapters.{spec.name}")
    values, sources = {}, {}
    for p in spec.params:
        if p.name in explicit:
            values[p.name], sources[p.name] = p.coerce(explicit[p.name]), "explicit"
        elif p.name in profile_values:
            values[p.name], sources[p.name] = profile_values[p.name], label
        else:
            raise ParameterError(f"{p.name}: profile {label!r} gives no value and none was passed")
    if spec.check is not None:
        spec.check(values)
    return ChapterParams(spec.name, label, values, sources)


# -- parameters several chapters declare alike --------------------------------------------------------
DEVICES = ("cpu", "cuda")
LANCZOS_TOL_HELP = "Lanczos stopping rule for λ_max: residual <= tol·λ"


def device(help: str = "device the networks are trained on") -> Param:
    """The ``device`` parameter: ``cpu`` or ``cuda`` (refused where there is none: :func:`check_device`)."""
    return Param("device", "str", help, choices=DEVICES)


def seeds(help: str, *, low: int = 2, high: int = 1000) -> Param:
    """The ``seeds`` parameter: independent repetitions (at least two, for an interval)."""
    return Param("seeds", "int", help, low=low, high=high)


def lanczos_tol(help: str = LANCZOS_TOL_HELP, *, name: str = "lanczos_tol") -> Param:
    """A Lanczos stopping rule: stop when the residual ``||Hv - λv|| <= tol·|λ|``; tol in [1e-10, 0.5]."""
    return Param(name, "float", help, low=1e-10, high=0.5)


PRECISIONS = ("float32", "bf16")        # as replication.train.config.PRECISIONS (a test keeps them equal)


def precision(help: str = "arithmetic of the training step: float32 (the paper's), or bf16 (forward and backward "
              "under bfloat16 autocast; weights, optimizer and evaluation stay float32; a GPU option)", *,
              name: str = "precision") -> Param:
    """The ``precision`` parameter of a chapter's training runs: ``float32`` or ``bf16``."""
    return Param(name, "str", help, choices=PRECISIONS)


def channels_last(help: str = "store the convolutional networks' activations channels-last (NHWC; a GPU option; "
                  "the MLP ignores it)", *, name: str = "channels_last") -> Param:
    """The ``channels_last`` parameter: NHWC memory layout for the convolutional networks."""
    return Param(name, "bool", help)


def throughput(values: Any, model: str, *, prefix: str = "") -> dict:
    """The run-config fields of a chapter's throughput options for a network ``model``:
    ``{"precision": ..., "channels_last": ...}``, channels-last only for a convolutional network
    (a fully connected one has no channel axis).  ``prefix`` names options like ``cifar_precision``;
    ``values`` is a chapter's parameters, read by attribute."""
    return {"precision": getattr(values, f"{prefix}precision"),
            "channels_last": bool(getattr(values, f"{prefix}channels_last")) and model != "mlp"}


def cuda_refusal(device: Any) -> str | None:
    """The one line refusing ``device`` when it names CUDA and this machine has none, else ``None``."""
    if isinstance(device, str) and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"device={device!r}: no CUDA device is available here (use device=cpu, or profile laptop)"
    return None


def check_device(device: Any) -> None:
    """Before any compute: a device naming CUDA where there is none is a one-line :class:`ParameterError`."""
    refusal = cuda_refusal(device)
    if refusal is not None:
        raise ParameterError(refusal)


# -- cross-parameter rules several chapters share (each a one-line ParameterError) -------------------
def check_at_most(values: Mapping[str, Any], names: Sequence[str], bound: str = "n_train") -> None:
    """Every ``values[name] <= values[bound]`` (samples drawn from the training set, batch sizes)."""
    for name in names:
        if values[name] > values[bound]:
            raise ParameterError(f"{name}={values[name]!r}: must be <= {bound}={values[bound]}")


def check_largest_at_most(values: Mapping[str, Any], name: str, bound: str = "n_train") -> None:
    """Every batch size in the list ``values[name]`` is ``<= values[bound]``."""
    if max(values[name]) > values[bound]:
        raise ParameterError(f"{name}={list(values[name])!r}: every batch size must be <= {bound}={values[bound]}")


def check_split(values: Mapping[str, Any], total: int, *, train: str = "n_train", note: str = "") -> None:
    """Training and validation examples fit in the ``total`` of the training split:
    ``values[train] + values["n_val"] <= total``; ``note`` (e.g. the dataset) goes in the message."""
    if values[train] + values["n_val"] > total:
        where = f"{note}; " if note else ""
        raise ParameterError(f"{train}={values[train]!r}: {train} + n_val must be <= {total} "
                             f"({where}n_val={values['n_val']})")


def check_increasing_pair(values: Mapping[str, Any], low: str, high: str) -> None:
    """``values[low] < values[high]`` (the ends of a range), naming ``high``."""
    if values[high] <= values[low]:
        raise ParameterError(f"{high}={values[high]!r}: must be > {low}={values[low]!r}")


def check_augment(values: Mapping[str, Any]) -> None:
    """Random crop and flip is a CIFAR-10 augmentation: ``augment`` only with ``dataset=cifar10``."""
    if values["augment"] and values["dataset"] != "cifar10":
        raise ParameterError(f"augment={values['augment']!r}: only with dataset=cifar10 (crop + flip)")


def parse_assignments(items: Sequence[str]) -> dict:
    """``["seeds=4", "etas=[0.1, 0.2]"]`` → ``{"seeds": 4, "etas": [0.1, 0.2]}`` (YAML values)."""
    import yaml

    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"{item!r}: parameters are written NAME=VALUE")
        try:
            out[name.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ParameterError(f"{name.strip()}={text!r}: not a readable value") from None
    return out
