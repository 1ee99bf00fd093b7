"""The package's import graph: no loops, no upward arrows, and no module over 400 lines unless it is
one idea (issue 22, "Done when").

The graph is read from the source with :mod:`ast`; nothing is imported.  Its nodes are the modules
of ``replication`` (a package is its ``__init__``: ``replication.chapters`` is
``replication/chapters/__init__.py``).  Every ``import replication...`` and ``from ... import ...``
that names a module of the package is an arrow, wherever it stands: **imports inside functions
count**, because a lazy import that closes a loop is still a loop (it only moves the failure from
import time to call time) and a lazy import that climbs is still a climb.  ``from P import name``
is an arrow to the module ``P.name`` when there is one, else to ``P``.  Imports by string
(``importlib.import_module``, as the chapter registry's ``get`` does) are not arrows: the registry
lists chapters, it does not depend on them.

**No loops**: no chain of arrows leads from a module back to itself; a loop is reported as the
chain ``a -> b -> ... -> a``.

**No upward arrows**: the package is built in floors, :data:`FLOORS`, from the foundation (paths,
config, stats, the profile reader, ...) to the top (chapters, the book, the command line).  A unit is
a top-level module or a subpackage of ``replication`` with all the modules in it
(``replication.store.files`` belongs to the unit ``store``); every unit stands on exactly one
floor.  An arrow between two units points up when the importer's floor is below the imported
unit's floor.  Arrows inside one unit are not ordered by floor; a loop among them is still a loop.
So ``profiles/__init__ -> chapters/__init__`` (the reader of the profile files checking them against
every chapter, the issue's "climb of 8 floors") is an upward arrow, and ``executors <-> runs`` is a
loop whose ``executors -> runs`` half climbs.

**One idea per module**: no module of ``replication`` is longer than :data:`MAX_LINES` lines unless
:data:`LONG_MODULES` names it with the reason.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "replication"
MAX_LINES = 400

#: Floors of the package, foundation first.  A unit may import units on its own floor or below.
FLOORS: tuple[tuple[str, frozenset], ...] = tuple((name, frozenset(units.split())) for name, units in (
    ("foundation", "replication paths plaintext bibstyle wording stats config rules models hessian sde "
                   "paper_findings kernel profiles"),
    ("parameters, provenance, presentation", "params provenance schedules benchmarks gpu_records power figures "
                                              "figure_files page"),
    ("the result store", "store"),
    ("on the store", "claims verdict_files assets executors"),
    ("data", "data"),
    ("training", "train"),
    ("vmapped training", "ensemble"),
    ("running grids of work", "planning runs"),
    ("measuring trained networks (a grid of measurements, through the runner)", "measure"),
    ("chapters", "chapters"),
    ("pages and exports", "export book notebook reproduce readme"),
    ("command line", "cli __main__"),
))

#: Arrows known to be wrong that this branch cannot remove, each with who removes it.  Delete an entry
#: once its arrow is gone: an entry whose arrow no longer exists fails the test, so the list only shrinks.
KNOWN_UNTIL_MERGED: dict[tuple[str, str], str] = {}

#: Modules allowed over MAX_LINES lines, each with the reason (one idea, or who splits it).
LONG_MODULES: dict[str, str] = {
    "replication/planning.py": "one idea: the bill (counted FLOPs, measured CPU steps, the device model and its "
                               "words), its cost model written out in a 50-line docstring",
    "replication/chapters/sharpness/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/sde/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/schedules/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/memorization/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/invariance/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/interpolation/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/width/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/sweep/claims.py": "one idea: the chapter's numbers and verdicts under rules.yaml",
    "replication/chapters/sharpness/page.py": "one idea: the words and tables of the chapter's page, the longest "
                                               "in the book (two designs, a shallow network, the appendix's ResNet)",
}


# -- reading the graph ------------------------------------------------------------------------------
def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(name: str, path: Path, node: ast.AST, known: set) -> list[str]:
    if isinstance(node, ast.Import):
        wanted = [a.name for a in node.names]
    else:
        if node.level:
            base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        wanted = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
    out = []
    for target in wanted:
        while target and target not in known:          # a name inside a module: the module
            target = target.rpartition(".")[0]
        if target:
            out.append(target)
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """``{module: modules it imports}``, function-level imports included (see the module docstring)."""
    found = modules(package)
    known = set(found)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        arrows = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                arrows.update(t for t in _targets(name, path, node, known) if t != name)
        graph[name] = arrows
    return graph


# -- the rules ------------------------------------------------------------------------------------
def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """One chain ``[a, b, ..., a]`` for every strongly connected set of two or more modules."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):                                      # Tarjan's algorithm, iterative over successors
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        work = [(v, iter(sorted(graph.get(v, ()))))]
        while work:
            node, successors = work[-1]
            for w in successors:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        members.append(w)
                        if w == node:
                            break
                    if len(members) > 1:
                        found.append(_chain(graph, set(members)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _chain(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest loop through the first member, as a chain of modules ending where it starts."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no loop through {start}")  # pragma: no cover  (members are strongly connected)


def unit(module: str) -> str:
    """The top-level module or subpackage ``module`` belongs to (``replication`` for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def floor_of(u: str) -> int:
    hits = [i for i, (_, units) in enumerate(FLOORS) if u in units]
    assert len(hits) == 1, (f"replication unit {u!r} stands on {len(hits)} floors of FLOORS; put it on one: the "
                            "lowest floor above every unit it imports")
    return hits[0]


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every arrow from a unit to a unit on a higher floor, as ``a -> b (floor x -> floor y)``."""
    out = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            fa, fb = floor_of(unit(a)), floor_of(unit(b))
            if fa < fb:
                out.append(f"{a} -> {b} ({FLOORS[fa][0]} -> {FLOORS[fb][0]})")
    return out


@functools.lru_cache(maxsize=1)
def _package_graph() -> dict[str, frozenset]:
    """The package's graph, read once for all the tests below."""
    return {a: frozenset(bs) for a, bs in import_graph().items()}


def _without_known(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {a: {b for b in bs if (a, b) not in KNOWN_UNTIL_MERGED} for a, bs in graph.items()}


# -- the tests ------------------------------------------------------------------------------------
def test_the_rules_see_the_issues_examples():
    """The checks catch what issue 22 measured (so they can fail), and pass a sane layout."""
    bad = {"replication.chapters": {"replication.params"}, "replication.params": {"replication.profiles"},
           "replication.profiles": {"replication.chapters"},
           "replication.executors": {"replication.runs"}, "replication.runs": {"replication.executors"}}
    assert sorted(loops(bad)) == [
        ["replication.chapters", "replication.params", "replication.profiles", "replication.chapters"],
        ["replication.executors", "replication.runs", "replication.executors"]]
    assert upward(bad) == [
        "replication.executors -> replication.runs (on the store -> running grids of work)",
        "replication.profiles -> replication.chapters (foundation -> chapters)"]
    sane = {"replication.chapters": {"replication.params", "replication.profiles"},
            "replication.params": set(), "replication.profiles": set(),
            "replication.runs": {"replication.executors"}, "replication.executors": set()}
    assert loops(sane) == [] and upward(sane) == []


def test_the_graph_reads_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "replication"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n\ndef f():\n    from . import c\n    return c\n")
    (pkg / "c.py").write_text("import os\nfrom replication.sub.b import thing\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom . import missing_name\n")
    graph = import_graph(pkg)
    assert graph == {"replication": set(), "replication.a": {"replication.sub.b", "replication.c"},
                     "replication.c": {"replication.sub.b"}, "replication.sub": set(),
                     "replication.sub.b": {"replication.a", "replication.sub"}}
    assert loops(graph) == [["replication.a", "replication.sub.b", "replication.a"]]


def test_no_import_loops():
    found = loops(_without_known(_package_graph()))
    assert not found, "import loops: " + "; ".join(" -> ".join(chain) for chain in found)


def test_no_upward_arrows():
    found = upward(_without_known(_package_graph()))
    assert not found, "upward arrows: " + "; ".join(found)


def test_every_known_exception_still_exists():
    graph = _package_graph()
    gone = [f"{a} -> {b}" for a, b in KNOWN_UNTIL_MERGED if b not in graph.get(a, ())]
    assert not gone, f"delete from KNOWN_UNTIL_MERGED (the arrow is gone): {', '.join(gone)}"


def test_parameters_flow_one_way():
    """Neither the profile reader nor params imports anything from the package: a profile is read and
    checked against the chapters' SPECs by the chapter registry (``chapters.resolve``,
    ``chapters.resolve_spec``), which stands above both."""
    graph = _package_graph()
    assert graph["replication.profiles"] == set()
    assert graph["replication.params"] == set()


def test_no_module_over_400_lines_unless_one_idea():
    root = PACKAGE.parent
    lengths = {path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in PACKAGE.rglob("*.py")}
    long = sorted(f"{name} ({n} lines)" for name, n in lengths.items() if n > MAX_LINES and name not in LONG_MODULES)
    assert not long, f"over {MAX_LINES} lines, not in LONG_MODULES: {', '.join(long)}"
    short = sorted(name for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES)
    assert not short, f"delete from LONG_MODULES (now {MAX_LINES} lines or fewer, or gone): {', '.join(short)}"
