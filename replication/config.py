"""Frozen, validated, hashable run configurations.

A run config is a frozen dataclass subclassing :class:`RunConfig`.  It names a ``kind`` (what
computation it configures), the ``code`` that computes it (module names), an optional
``algorithm_version``, validates itself on construction, and hashes to a stable
:attr:`RunConfig.key`:

    key = sha256( canonical_json({kind, algorithm_version, code: digest, fields}) )[:20]

Canonical JSON sorts keys and writes floats with ``repr`` (shortest round-trip form), so the key
does not depend on dict order, on tuple-vs-list, or on the Python session.

**Stale results cannot come back.**  ``digest`` is the sha256 of the *executable content* of every
module named in the class's ``code``: the module's syntax tree without its docstrings (module,
class and function docstrings), dumped canonically (:func:`executable_source`; comments never
reach the tree), computed once per process (:func:`code_digest`).  A change to any statement or
expression of that code gives new keys, so the store recomputes instead of returning what older
code computed; a change to a docstring, a comment, blank lines or line breaks leaves the keys
alone.  We chose a digest over a test that demands a version bump because a digest is automatic
and a bump is forgettable; the price is that a harmless code edit (a renamed local variable)
recomputes (a cost, never a wrong result).  ``algorithm_version`` still works (a bump also changes
the key), e.g. to force a recomputation after a change in a dependency outside ``code`` (PyTorch,
the data files).

**What belongs in ``code``: the modules the computation executes.**  Start from the function that
computes the payload from the config (``train``, ``measure``, a chapter's ``run_*``; not the
one-line glue that hands it to the store) and follow every call into this package: each module
whose functions or classes run while the payload is computed (the computation, its models, its
data loading and preparation, its numerical kernels), each module whose constants or types it
uses, and each package ``__init__`` its names are imported through, is named, module by module.
A package name is refused (``"pkg.__init__"`` names a package's own file), so a docstring edit in
one Hessian estimator does not retrain runs that never call it.  Left out: what only keys, stamps
or stores results (``replication.config``, ``replication.provenance``, ``replication.paths``,
``replication.store``, ``replication.runs``, ``replication.executors``), what only fetches data
files whose content is then verified by checksum (``replication.data.npm``,
``replication.assets``), and everything that only *reads* results (notebooks, figures, claims,
statistics).  The list is per class, so it covers every path an instance can take (every
dataset's loader, a run trained alone or in a vmapped ensemble).  Shared lists:
``replication.train.config`` (``TRAIN_CODE``, ``SETUP_CODE``).  ``tests/test_code_digest.py``
traces a tiny computation of each kind in a fresh interpreter and fails when a module whose code
ran is missing from its class's ``code``, or a listed module had no function run or was not even
imported.
A subclass that does not declare ``code`` gets the file of the module that defines it
(for a package's ``__init__.py``, that file alone: ``"pkg.__init__"`` names it);
``code = ()`` switches the digest off (then only ``algorithm_version`` protects the results).
A computation that consumes another stored result should hold that result's ``key`` among its
fields, so the other result's code digest reaches its key too; one that holds it by its fields
instead (the width chapter's runs on its trained network) lists that result's code as well.
"""
from __future__ import annotations

import ast
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


def code_files(modules: tuple[str, ...]) -> list[tuple[str, Path]]:
    """``(module name, source file)`` of each of ``modules``, sorted by name, without repeats.

    A name must be a module with a ``.py`` file; a package is refused (name the modules its
    computation executes; ``"pkg.__init__"`` names the package's own file)."""
    files: dict[str, Path] = {}
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ConfigError(f"code={name!r}: no such module (a run config's code names importable modules)")
        if spec.submodule_search_locations is not None:
            raise ConfigError(f"code={name!r}: a package; name the modules the computation executes "
                              f"('{name}.<module>', or '{name}.__init__' for the package's own file)")
        if not (spec.origin and spec.origin.endswith(".py")):
            raise ConfigError(f"code={name!r}: not a Python source module ({spec.origin})")
        files[name] = Path(spec.origin).resolve()
    return sorted(files.items())


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without the docstrings of its module, classes and functions (a docstring-only body
    becomes ``pass``)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _dump(node) -> str:
    """``ast.dump(node, include_attributes=False)`` written out by hand, leaving out fields that are
    ``None`` or empty lists, so the text is the same on every Python version (3.13's ``ast.dump``
    leaves them out, older ones write them; 3.12 added ``type_params=[]``)."""
    if isinstance(node, ast.AST):
        fields = ", ".join(f"{name}={_dump(value)}" for name, value in ast.iter_fields(node)
                           if value is not None and not (isinstance(value, list) and not value))
        return f"{type(node).__name__}({fields})"
    if isinstance(node, list):
        return "[" + ", ".join(_dump(v) for v in node) + "]"
    return repr(node)


def executable_source(path: Path) -> str:
    """The canonical dump of the AST of ``path`` without docstrings: what the module executes.
    Comments, blank lines, formatting and docstrings do not reach it; any change to a statement
    or expression does."""
    return _dump(_strip_docstrings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))


def code_digest(modules: tuple[str, ...]) -> str:
    """sha256 over (module name, :func:`executable_source`) of :func:`code_files` (once per process)."""
    modules = tuple(modules)
    if modules not in _DIGESTS:
        digest = hashlib.sha256()
        for name, path in code_files(modules):
            digest.update(name.encode() + b"\0" + executable_source(path).encode() + b"\0")
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
