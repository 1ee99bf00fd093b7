"""Where training runs execute: in this process, on a Ray cluster, or as Slurm jobs (submitit).

Every executor runs *units* (one training run, or one vmapped ensemble of runs that share an
architecture and batch size) and every worker writes its results into the same result store, so
the store stays the one place where results live, a rerun resumes from it after any interruption,
and the chapters read their runs back exactly as after a local run.

==========  ==========================================================================================
``local``   in this process, one unit after another (the default)
``ray``     each unit a Ray task with the CPUs/GPUs it needs (a fraction of a GPU for small models),
            retried on worker loss; ``address`` joins an existing cluster, otherwise a local one starts
``slurm``   each unit a Slurm job through submitit, as one job array; pre-empted jobs are requeued;
            partition / time / GPUs per job from the options.  ``cluster="local"`` runs the same jobs
            as local processes (submitit's local executor: the tests, a workstation), named as a debug mode
==========  ==========================================================================================

What an executor needs is checked when :func:`make` builds it, before anything runs: ``sbatch`` on
the PATH for Slurm, a cluster answering at ``address`` for Ray; every option is bounded
(:data:`BOUNDS`).  Units that fail come back as :class:`JobsFailed`: one line per failed unit with
where its log is (the runs that finished are stored; the same command retries the rest).

An executor is handed the *unit function* by the runner (:func:`replication.runs.run`):
``map_units(work, units, on_done)`` calls ``work(unit)`` for every unit (a list of configs) in a
worker and ``on_done(i)`` as unit ``i`` finishes.  ``work`` is picklable and complete: the runner
binds it to the store and the computation (:func:`replication.runs.run_unit`: the same runner on one
unit, into the store), so this module knows nothing of what is computed and imports nothing that
computes.  The store's per-entry claim files make two workers (or a worker and a retry) that meet
the same run safe: it is computed at most once.  ``REPLICATION_STORE`` must name storage every
worker sees (a shared filesystem) for ``ray`` across machines and for ``slurm``.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

NAMES = ("local", "ray", "slurm")
#: models whose units take a fraction of a GPU on Ray (several run side by side on one device)
SMALL_MODELS = ("mlp", "small_cnn")


class ExecutorError(ValueError):
    """A bad executor option, or what it needs is missing (one line: the option, its value, what is allowed)."""


class JobsFailed(ExecutorError):
    """Units that failed on an executor: one line per failed unit, with where its log is."""

    def __init__(self, executor: str, total: int, failures: list[str]):
        self.failures = failures
        super().__init__(f"{len(failures)} of {total} {executor} units failed (the runs that finished are "
                         "stored; run the same command again to retry the rest):\n" + "\n".join(failures))


#: every option: (type, lowest, highest); what each executor accepts is its dataclass's fields
BOUNDS = {"num_cpus": (int, 1, 4096), "max_retries": (int, 0, 100), "time_min": (int, 1, 60 * 24 * 30),
          "gpus_per_job": (int, 0, 64), "cpus_per_job": (int, 1, 1024), "max_parallel": (int, 1, 100_000),
          "address": (str, None, None), "partition": (str, None, None), "folder": (str, None, None),
          "cluster": (str, None, None)}


def _check_option(key: str, value) -> None:
    kind, low, high = BOUNDS[key]
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExecutorError(f"{key}={value!r}: must be an integer in [{low}, {high}]")
        if not low <= value <= high:
            raise ExecutorError(f"{key}={value!r}: must be an integer in [{low}, {high}]")
    elif not isinstance(value, str) or not value.strip():
        raise ExecutorError(f"{key}={value!r}: must be a non-empty string")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def call(work: Callable[[list], Any], unit: Sequence) -> Any:
    """What a worker runs: ``work(unit)`` (a module-level function, as Ray's remote tasks need)."""
    return work(list(unit))


def resources(configs: Sequence) -> dict:
    """CPUs and GPUs one unit asks for: a GPU unit of a small model takes a quarter of a GPU."""
    first = configs[0]
    if not str(first.device).startswith("cuda"):
        return {"num_cpus": 1, "num_gpus": 0}
    return {"num_cpus": 1, "num_gpus": 0.25 if first.model in SMALL_MODELS else 1}


class LocalExecutor:
    """Units one after another in this process (the runner's own loop)."""

    name = "local"
    distributed = False

    def describe(self) -> str:
        return "local (this process)"


@dataclasses.dataclass
class RayExecutor:
    """Units as Ray tasks.  ``address``: an existing cluster ("auto", "ray://host:10001", ...), or
    ``None`` for a local one with ``num_cpus`` CPUs (no dashboard).  ``max_retries``: re-runs of a
    task whose worker died (the store keeps what any attempt finished)."""

    address: str | None = None
    num_cpus: int | None = None
    max_retries: int = 3
    name: str = "ray"
    distributed: bool = True

    def describe(self) -> str:
        return f"ray ({self.address or 'a local cluster'})"

    def check(self) -> None:
        """With an ``address``: one-line :class:`ExecutorError` unless a Ray cluster answers there."""
        if not self.address:
            return
        import socket

        address = self.address
        if address == "auto":
            if not (os.environ.get("RAY_ADDRESS") or Path("/tmp/ray/ray_current_cluster").is_file()):
                raise ExecutorError("address='auto': no running Ray cluster found on this machine (start one "
                                    "with 'ray start --head', or leave out --address for a local one)")
        else:
            host, _, port = address.split("://")[-1].rpartition(":")
            try:
                with socket.create_connection((host or "127.0.0.1", int(port)), timeout=10):
                    pass
            except (OSError, ValueError) as error:
                raise ExecutorError(f"address={address!r}: no Ray cluster reachable there "
                                    f"({getattr(error, 'strerror', None) or error}); expected host:port "
                                    "or ray://host:port of a running cluster") from None
        try:
            self._init()
        except Exception as error:  # noqa: BLE001 - whatever ray says, one line
            raise ExecutorError(f"address={address!r}: cannot join the Ray cluster ({_first_line(error)})") from None

    def _init(self) -> None:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "ignore_reinit_error": True}
            if self.address:
                kwargs["address"] = self.address
            elif self.num_cpus:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)

    def map_units(self, work: Callable[[list], Any], units: Sequence[Sequence],
                  on_done: Callable[[int], None]) -> None:
        """``work(unit)`` of every unit as a Ray task (see the module docstring)."""
        import ray

        self._init()
        remote = ray.remote(call)
        pending = {remote.options(max_retries=self.max_retries, retry_exceptions=False, **resources(u))
                   .remote(work, list(u)): i for i, u in enumerate(units)}
        errors = []
        logs = _ray_logs()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as error:  # noqa: BLE001 - reported after the others finish
                    errors.append(f"unit {i} ({len(units[i])} runs, first {units[i][0].key}): {_first_line(error)}; "
                                  f"log: {logs}")
                on_done(i)
        if errors:
            raise JobsFailed("Ray", len(units), errors)


def _ray_logs() -> str:
    """Where this Ray session's worker logs are (``<session>/logs``)."""
    try:
        import ray

        return str(Path(ray._private.worker._global_node.get_session_dir_path()) / "logs")
    except Exception:  # noqa: BLE001 - private API: fall back to Ray's default place
        return "/tmp/ray/session_latest/logs (on the worker's machine)"


def _jobs_folder() -> str:
    from .paths import cache_root

    return str(cache_root() / "submitit")


@dataclasses.dataclass
class SlurmExecutor:
    """Units as Slurm jobs through submitit, submitted as one job array.  ``folder``: where submitit
    keeps job scripts and logs; ``cluster``: "slurm", or "local" (submitit's local executor, same
    code path without a scheduler); ``partition``, ``time_min``, ``gpus_per_job``, ``cpus_per_job``,
    ``max_parallel`` (array throttle); pre-empted or timed-out jobs are requeued by submitit.
    ``cluster="slurm"`` needs ``sbatch`` on the PATH (:meth:`check`); "local" and "debug" are debug
    modes that run no scheduler and say so."""

    folder: str = dataclasses.field(default_factory=_jobs_folder)
    cluster: str = "slurm"
    partition: str | None = None
    time_min: int = 240
    gpus_per_job: int = 1
    cpus_per_job: int = 4
    max_parallel: int = 32
    name: str = "slurm"
    distributed: bool = True

    def describe(self) -> str:
        if self.cluster != "slurm":
            return (f"submitit's {self.cluster} executor (debug mode: local processes on this machine, no Slurm; "
                    f"logs in {self.folder})")
        return f"slurm via submitit (partition {self.partition or 'default'}; logs in {self.folder})"

    def check(self) -> None:
        """One-line :class:`ExecutorError` unless Slurm's ``sbatch`` is on the PATH (cluster="slurm")."""
        import shutil

        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ExecutorError("executor='slurm': no 'sbatch' on the PATH, so there is no Slurm here; "
                                "run where Slurm is, or use --cluster local (submitit's local debug mode)")

    def map_units(self, work: Callable[[list], Any], units: Sequence[Sequence],
                  on_done: Callable[[int], None]) -> None:
        """``work(unit)`` of every unit as one job of a Slurm (or submitit local) job array."""
        import submitit

        executor = submitit.AutoExecutor(folder=self.folder, cluster=None if self.cluster == "slurm" else self.cluster)
        params: dict[str, Any] = {"timeout_min": self.time_min, "cpus_per_task": self.cpus_per_job}
        if self.cluster == "slurm":
            params.update(slurm_array_parallelism=self.max_parallel, gpus_per_node=self.gpus_per_job)
            if self.partition:
                params["slurm_partition"] = self.partition
        executor.update_parameters(**params)
        jobs = executor.map_array(call, [work] * len(units), [list(u) for u in units])
        errors = []
        for i, job in enumerate(jobs):
            try:
                job.result()
            except Exception as error:  # noqa: BLE001 - reported after the others finish
                errors.append(f"unit {i} (job {job.job_id}, {len(units[i])} runs): {_first_line(error)}; "
                              f"log: {job.paths.stderr}")
            on_done(i)
        if errors:
            raise JobsFailed("Slurm" if self.cluster == "slurm" else f"submitit {self.cluster}", len(units), errors)


def make(name: str = "local", **options) -> LocalExecutor | RayExecutor | SlurmExecutor:
    """The executor ``name`` with ``options`` (validated: one-line :class:`ExecutorError`)."""
    if name not in NAMES:
        raise ExecutorError(f"executor={name!r}: must be one of {', '.join(NAMES)}")
    options = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        if options:
            raise ExecutorError(f"{next(iter(options))}={next(iter(options.values()))!r}: not an option of "
                                "the local executor")
        return LocalExecutor()
    cls = RayExecutor if name == "ray" else SlurmExecutor
    allowed = {f.name for f in dataclasses.fields(cls)} - {"name", "distributed"}
    for key, value in options.items():
        if key not in allowed:
            raise ExecutorError(f"{key}={value!r}: not an option of the {name} executor; "
                                f"options: {', '.join(sorted(allowed))}")
    module = "ray" if name == "ray" else "submitit"
    try:
        __import__(module)
    except ImportError:
        raise ExecutorError(f"executor={name!r}: needs the Python package {module!r} "
                            f"(pip install {module}, or pip install -e .[scale])") from None
    for key, value in options.items():
        _check_option(key, value)
    if name == "slurm" and options.get("cluster", "slurm") not in ("slurm", "local", "debug"):
        raise ExecutorError(f"cluster={options['cluster']!r}: must be slurm, local or debug")
    executor = cls(**options)
    executor.check()                             # what it needs is there, before anything runs
    return executor


# -- the executor train_all uses when none is passed ------------------------------------------------------
_current: list = [LocalExecutor()]


def current():
    return _current[-1]


class use:
    """``with executors.use(make("ray")): chapters.evaluate(...)`` — every ``train_all`` inside runs
    its missing units on that executor."""

    def __init__(self, executor) -> None:
        self.executor = executor

    def __enter__(self):
        _current.append(self.executor)
        return self.executor

    def __exit__(self, *exc) -> None:
        _current.pop()
