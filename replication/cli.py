"""``python -m replication``: run chapters' computations and build the book without Jupyter.

Examples::

    python -m replication run sde --profile smoke            # one chapter's compute, into the store
    python -m replication run all --profile gpu -f grid.yml   # every chapter (e.g. on a GPU machine)
    python -m replication plan --profile paper                # runs and device-hours before anything runs
    python -m replication export memorization --output out/   # a chapter's stored runs and verdicts, CSV/JSON
    python -m replication figure sharpness fig-sh-main        # one figure of a page, as an SVG file
    python -m replication run all --profile paper --executor ray [--address auto]
    python -m replication run all --profile paper --executor slurm --partition gpu --time-min 240
    python -m replication params sde --profile laptop -p seeds=16
    python -m replication book --profile laptop               # execute every chapter, build the HTML
    python -m replication data fashion-mnist                  # obtain + verify a dataset
    python -m replication store                               # where results live, how many
    python -m replication train grid.yml --device cuda        # a grid of training runs, into the store
    python -m replication notebook-params [CHAPTER ...]       # regenerate the notebooks' parameters cells
    python -m replication readme [--check]                    # regenerate the README's chapter table
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import profiles
from .params import ParameterError, cuda_refusal, parse_assignments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m replication", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_params(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", default=profiles.DEFAULT,
                       help=f"{', '.join(profiles.NAMES)} or a profile YAML path (default {profiles.DEFAULT})")
        p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override one parameter (YAML value); repeatable")
        p.add_argument("-f", "--params-file", type=Path,
                       help="YAML file of overrides: {chapter: {name: value}} (or {name: value} for one chapter)")

    run = sub.add_parser("run", help="compute one chapter's results (or 'all') into the result store")
    run.add_argument("chapter", help="chapter name or 'all'")
    add_params(run)
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--executor", default="local", help="where training runs execute: local (default), "
                     "ray or slurm (see replication.executors)")
    run.add_argument("--address", default=None, help="ray: address of an existing cluster (default: start a local one)")
    run.add_argument("--cpus", type=int, default=None, help="ray: CPUs of the local cluster")
    run.add_argument("--partition", default=None, help="slurm: partition")
    run.add_argument("--time-min", type=int, default=None, help="slurm: time limit per job, minutes")
    run.add_argument("--gpus-per-job", type=int, default=None, help="slurm: GPUs per job")
    run.add_argument("--cluster", default=None, help="slurm: 'slurm' (default; needs sbatch on the PATH) or "
                     "'local' (debug mode: submitit's local executor, no scheduler)")
    run.add_argument("--jobs-folder", default=None, help="slurm: where submitit keeps scripts and logs")

    export = sub.add_parser("export", help="write a chapter's stored runs and verdicts as CSV and JSON")
    export.add_argument("chapter", help="chapter name or 'all'")
    add_params(export)
    export.add_argument("--output", type=Path, default=Path("export"), help="folder (default ./export)")

    figure = sub.add_parser("figure", help="reproduce one figure of a chapter (from the result store) "
                            "as a file, without Jupyter")
    figure.add_argument("chapter", help="chapter name")
    figure.add_argument("label", help="the figure's label on the page (e.g. fig-sh-main; a wrong one lists them)")
    add_params(figure)
    figure.add_argument("--output", type=Path, default=None,
                        help="file to write: .svg, .png or .pdf (default ./<chapter>-<label>.svg)")

    plan = sub.add_parser("plan", help="the bill before the work: runs stored / to compute and estimated "
                                       "device-hours per chapter")
    plan.add_argument("chapter", nargs="?", default="all", help="chapter name or 'all' (default)")
    add_params(plan)

    show = sub.add_parser("params", help="show a chapter's resolved parameters and where each comes from")
    show.add_argument("chapter", help="chapter name or 'all'")
    add_params(show)

    book = sub.add_parser("book", help="execute every chapter with papermill, then build the HTML book")
    add_params(book)
    book.add_argument("--output", type=Path, default=None, help="build folder (default _build/)")
    book.add_argument("--force", action="store_true", help="re-execute chapters even when unchanged")
    book.add_argument("--no-html", action="store_true", help="execute the chapters only")

    data = sub.add_parser("data", help="obtain and verify a dataset into the data cache")
    data.add_argument("name", nargs="+", help="fashion-mnist, mnist")

    train = sub.add_parser("train", help="train a grid of runs (YAML: base, axes) into the result store")
    train.add_argument("grid", type=Path, help="YAML file: base: {field: value}, axes: {field: [values]}")
    train.add_argument("--device", choices=("cpu", "cuda"), default=None, help="override the grid's device")
    train.add_argument("--no-progress", action="store_true")

    sub.add_parser("store", help="show the result store's location and contents")
    sub.add_parser("chapters", help="list the chapters and their parameters")
    cells = sub.add_parser("notebook-params", help="rewrite notebooks' parameters cells from the chapter's "
                                                   "parameters and the laptop profile")
    cells.add_argument("chapter", nargs="*", help="chapters (default: all)")
    cells.add_argument("--check", action="store_true", help="only report the notebooks that are out of date")
    readme = sub.add_parser("readme", help="rewrite the README's chapter table from _toc.yml and each chapter's ABOUT")
    readme.add_argument("--check", action="store_true", help="only report whether it is out of date")
    rules = sub.add_parser("rules", help="the rule registry: every verdict's rule, its digest and amendments")
    rules.add_argument("chapter", nargs="*", help="chapters (default: all)")
    rules.add_argument("--register", action="store_true",
                       help="fill in the digest of new rules ('digest: pending') in their rules.yaml")
    return parser


def _overrides(args, chapter_names: list[str]) -> dict[str, dict]:
    import yaml

    overrides: dict[str, dict] = {}
    if args.params_file is not None:
        if not args.params_file.is_file():
            raise ParameterError(f"--params-file={str(args.params_file)!r}: no such file")
        try:
            loaded = yaml.safe_load(args.params_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ParameterError(f"--params-file={str(args.params_file)!r}: not valid YAML "
                                 f"({' '.join(str(error).split())})") from None
        except UnicodeDecodeError as error:
            raise ParameterError(f"--params-file={str(args.params_file)!r}: not UTF-8 text (byte "
                                 f"{error.object[error.start]:#04x} at position {error.start})") from None
        if not isinstance(loaded, dict):
            raise ParameterError(f"--params-file={str(args.params_file)!r}: must hold a YAML mapping")
        from . import chapters

        known = set(chapters.names())
        own = {p for n in chapter_names for p in chapters.get(n).SPEC.names}
        sections = all(isinstance(v, dict) for v in loaded.values()) and not (set(loaded) & own)
        unknown = sorted(set(loaded) - known - {"all"})
        if sections and unknown:                # {chapter: {...}} with a name that is no chapter
            raise ParameterError(f"--params-file={str(args.params_file)!r}: {unknown[0]!r}: unknown chapter; "
                                 f"chapters: {', '.join(sorted(known))}")
        if sections:
            overrides = {k: dict(v) for k, v in loaded.items()}
        elif len(chapter_names) == 1:
            overrides = {chapter_names[0]: dict(loaded)}
        else:
            raise ParameterError(f"--params-file={str(args.params_file)!r}: with several chapters, "
                                 f"write {{chapter: {{name: value}}}}; chapters: {', '.join(chapter_names)}")
    explicit = parse_assignments(args.param)
    if explicit:
        if len(chapter_names) != 1:
            raise ParameterError(f"-p {args.param[0]!r}: -p applies to one chapter; use -f for several")
        overrides.setdefault(chapter_names[0], {}).update(explicit)
    return overrides


def _executor_options(args) -> dict:
    if args.executor == "ray":
        return {"address": args.address, "num_cpus": args.cpus}
    if args.executor == "slurm":
        return {"partition": args.partition, "time_min": args.time_min, "gpus_per_job": args.gpus_per_job,
                "cluster": args.cluster, "folder": args.jobs_folder}
    for flag in ("address", "cpus", "partition", "time_min", "gpus_per_job", "cluster", "jobs_folder"):
        if getattr(args, flag) is not None:
            raise ParameterError(f"--{flag.replace('_', '-')}={getattr(args, flag)!r}: only with --executor ray or slurm")
    return {}


def _train_planned(resolved: dict, executor, *, progress: bool) -> None:
    """Every chapter's declared training runs, on ``executor``, with one progress bar over all of them."""
    from . import chapters
    from .runs import train_all

    configs = []
    for name, params in resolved.items():
        configs += chapters.planned_runs(name, params) or []
    if configs:
        print(f"[run] {len(configs)} training runs of {len(resolved)} chapter(s) on {executor.describe()}")
        train_all(configs, progress=progress, executor=executor)


def _library_errors() -> tuple[type[BaseException], ...]:
    """The errors the library raises for bad input or a bad environment (shown as one line)."""
    from .config import ConfigError
    from .executors import ExecutorError
    from .rules import RuleError
    from .store import StoreError

    errors: list = [ParameterError, profiles.ProfileError, ConfigError, StoreError, ExecutorError, RuleError,
                    OSError]
    try:
        from .data import DatasetNotFoundError, DataVerificationError

        errors += [DatasetNotFoundError, DataVerificationError]
    except ImportError:  # pragma: no cover - the data package keeps these names
        pass
    try:
        from .assets import AssetError

        errors.append(AssetError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def _store_report() -> str:
    from .store import QUARANTINE, ResultStore
    from .store.inventory import summary

    store = ResultStore()
    s = summary(store.root)
    kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(s["per_kind"].items()))
    lines = [f"{s['root']}  (set REPLICATION_STORE to move it)",
             f"results: {s['results']}" + (f" ({kinds})" if kinds else ""),
             f"quarantined entries: {s['quarantined']}"
             + (f" (in {store.root / QUARANTINE}; never read again, delete when inspected)" if s["quarantined"] else ""),
             f"size on disk: {s['bytes'] / 2**20:.1f} MiB"]
    extras = [f"{s[k]} {label}" for k, label in (
        ("legacy", "old pickle entries (never loaded; recomputed when needed)"),
        ("incomplete", "incomplete entries (quarantined when read)"), ("claims", "claims (computations in flight)"),
        ("checkpoints", "ensemble checkpoints (resumed when the same runs are trained again)"),
        ("temporaries", "temporaries")) if s[k]]
    if extras:
        lines.append("also: " + "; ".join(extras))
    return "\n".join(lines)


def _cuda_unavailable(params) -> str | None:
    """The refusal of a ``device`` parameter naming CUDA where CUDA is not available, else None."""
    return cuda_refusal(params.get("device"))


def _rules(names: list[str], *, register: bool) -> int:
    from . import chapters, rules

    for name in names:
        chapters.get(name)                       # an unknown chapter is a one-line error
    paths = [p for p in sorted(rules.CHAPTERS.glob("*/rules.yaml")) if not names or p.parent.name in names]
    if register:
        for path in paths:
            for rid in rules.register_pending(path):
                print(f"registered {rid} ({path.parent.name})")
    for path in paths:
        for rule in rules.load_file(path).values():
            state = "pending" if rule.registered_digest == rules.PENDING else (
                f"amended {len(rule.amendments)}x" if rule.amended else "as registered")
            print(f"{rule.id:<44} {rule.digest}  {rule.registered_date}  {state}")
    problems = [p for p in rules.check() if not names or any(f"({n})" in p for n in names)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"registry digest {rules.registry_digest()}")
    return 2 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Every command; a library error (bad parameter, profile, grid, store, data) is one line on
    stderr and exit status 2, never a traceback."""
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except KeyError as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    except _library_errors() as error:
        from .executors import JobsFailed

        if isinstance(error, JobsFailed):       # one line per failed unit, each with its log
            print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
            for line in error.failures:
                print(f"  {' '.join(line.split())}", file=sys.stderr)
            return 2
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


def _main(args) -> int:
    from . import chapters

    if args.command == "train":
        from .runs import cli_train

        return cli_train(args.grid, args.device, progress=not args.no_progress)
    if args.command == "chapters":
        for name in chapters.names():
            spec = chapters.get(name).SPEC
            print(f"{name}: {spec.title}")
            for p in spec.params:
                print(f"    {p.name:<22} {p.allowed()}  — {p.help}")
        return 0
    if args.command == "store":
        print(_store_report())
        return 0
    if args.command == "rules":
        return _rules(args.chapter, register=args.register)
    if args.command == "notebook-params":
        from . import notebook
        from .paths import checkout_root

        root = checkout_root()
        if root is None:
            raise ParameterError("notebook-params: run from a clone of the repository (no _toc.yml found)")
        stale = []
        for name in args.chapter or chapters.names():
            chapters.get(name)
            if notebook.write_parameters_cell(root / "book" / f"{name}.ipynb", check=args.check):
                stale.append(name)
        verb = "out of date" if args.check else "rewritten"
        print(f"{verb}: {', '.join(stale)}" if stale else "every parameters cell is up to date")
        return 1 if args.check and stale else 0
    if args.command == "readme":
        from . import readme
        from .paths import checkout_root

        root = checkout_root()
        if root is None:
            raise ParameterError("readme: run from a clone of the repository (no _toc.yml found)")
        stale = readme.update(root / "README.md", check=args.check)
        print(("out of date: " if args.check else "rewritten: ") + "README.md chapter table" if stale
              else "the README's chapter table is up to date")
        return 1 if args.check and stale else 0
    if args.command == "data":
        from .data import dataset_provenance, load_dataset

        for name in args.name:
            print(dataset_provenance(load_dataset(name)))
        return 0
    if args.command == "book":
        from . import book

        names = [n for n in chapters.names()]
        overrides = _overrides(args, names)
        runs = book.build(args.profile, overrides=overrides, output=args.output, force=args.force,
                          html=not args.no_html)
        output = args.output or book.repo_root() / "_build"
        print(book.report(runs, None if args.no_html else output / "html"))
        return 0
    names = list(chapters.names()) if getattr(args, "chapter", None) == "all" else [args.chapter]
    for name in names:
        chapters.get(name)  # unknown chapter → error
    overrides = _overrides(args, names)
    resolved = {n: chapters.resolve(n, args.profile, overrides.get(n)) for n in names}
    for params in resolved.values():
        note = _cuda_unavailable(params)
        if note and (args.command == "run" or (args.command == "params" and params.sources["device"] == "explicit")):
            raise ParameterError(note)
    if args.command == "params":
        for name, params in resolved.items():
            if len(resolved) > 1:
                print(f"\n## {name}\n")
            print(params.table())
            note = _cuda_unavailable(params)
            if note:     # a profile for another machine: it validates, and says what run would do here
                print(f"note: {name}: {note}; 'run' refuses it on this machine", file=sys.stderr)
        return 0
    if args.command == "figure":
        from .reproduce import reproduce_figure

        name = names[0]
        written = reproduce_figure(name, args.label, profile=args.profile, overrides=overrides.get(name),
                                   output=args.output)
        print(f"[figure] {name} {args.label}: {written}")
        return 0
    if args.command == "export":
        from .export import export_chapter

        for name, params in resolved.items():
            done = export_chapter(name, params, args.output)
            print(f"[export] {name}: {done['stored']} of {done['runs']} runs stored; "
                  f"{', '.join(done['files']) or 'nothing to write'} in {done['folder']}")
            if done["note"]:
                print(f"[export] note: {done['note']}")
        return 0
    if args.command == "plan":
        from . import planning
        from .store import ResultStore

        store = ResultStore()
        calibration, measured = planning.load_calibration(), planning.measured_epoch_seconds()
        bills = [planning.bill(n, chapters.planned_runs(n, p), store, calibration=calibration, measured=measured)
                 for n, p in resolved.items()]
        devices = sorted({p["device"] for p in resolved.values() if "device" in p})
        print(f"profile {profiles.label(args.profile)}; store {store.root}")
        print(planning.table(bills, device=", ".join(devices) or "cpu"))
        if args.chapter == "all":
            print(planning.goal_sentence(profiles.label(args.profile), bills))
        for line in planning.assumptions(calibration, measured):
            print(f"- {line}")
        counted = sorted({k for b in bills for k in b.shapes} - set(calibration["shapes"]))
        if counted:
            print(f"- Not in the calibration file (FLOPs counted now, CPU time assumed): {'; '.join(counted)}")
        return 0
    from . import executors

    executor = executors.make(args.executor, **_executor_options(args))
    if executor.distributed:
        _train_planned(resolved, executor, progress=not args.no_progress)
    for name, params in resolved.items():
        start = time.perf_counter()
        with executors.use(executor):
            _, verdicts = chapters.evaluate(name, params, progress=not args.no_progress)
        tally = ", ".join(f"{v.id}: {v.outcome}" for v in verdicts)
        print(f"[run] {name}: done in {time.perf_counter() - start:.1f} s (profile {params.profile})"
              + (f"; verdicts: {tally}" if tally else ""))
    return 0
