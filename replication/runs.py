"""The one runner, and grids of training runs computed through it.

:func:`run` computes what the result store lacks, for training and measurements alike::

    results = run(configs, work, store=store)   # a Results list, in order, with its Tally

1. reads every config's result from the store; a key asked for twice is computed once;
2. splits the missing configs into *units* (``plan``; default: one config each);
3. for each unit, claims its configs (:meth:`replication.store.ResultStore.claim`), calls
   ``work(configs, tick, checkpoint)`` on those it holds (the payloads, one per config), puts each
   payload under its config's key, then drops the unit's checkpoint and releases its claims;
4. units claimed by other processes are retried after the others, every ``POLL_S`` seconds, and
   read once their holder has stored them;
5. returns the results with a :class:`replication.store.Tally` (read, computed, wall time), which it
   also adds to every open :class:`counting` (a chapter's compute is counted this way).

On a distributed executor (:mod:`replication.executors`) the units run in workers, each the same
runner on one unit (:func:`run_unit`), and the results are read back from the shared store.
:class:`Each` makes a unit function of a per-config ``compute(config) -> payload``;
:func:`compute_all` / :func:`compute_one` are the runner for such measurements.

Training runs:

    base = TrainConfig(dataset="fashion-mnist", n_train=10_000, model="mlp", epochs=20)
    configs = grid(base, lr=[0.01, 0.05, 0.1], batch_size=[64, 256], seed=[0, 1])   # 12 configs
    results = train_all(configs)           # list of replication.store.Result, in order

:func:`train_all`:

- reads every config's result from the store; only the missing ones are trained;
- groups the missing configs that differ only in ``lr`` and ``seed`` and can be vmapped (no batch
  norm, no augmentation: :func:`replication.ensemble.can_ensemble`) and trains each group as one
  :func:`replication.ensemble.train_ensemble` (at most ``max_ensemble`` members at a time); the
  others one at a time with :func:`replication.train.train`;
- stores every run under ITS OWN config key as soon as its group finishes (with the data's
  provenance: fingerprint, canonical flag), so a later single call finds it;
- checkpoints an ensemble at epoch boundaries (at most every ``REPLICATION_CHECKPOINT_S``
  seconds, default 60) and resumes it from there: a grid killed and restarted loses the single run
  in flight, or the epochs of the ensemble in flight since its last checkpoint
  (:mod:`replication.store` says exactly what is kept);
- claims each run before training it (:class:`replication.store.Claim`): two processes on one grid
  train disjoint runs, and each waits for the other's to read them;
- checks that the store is writable before training anything;
- shows one tqdm progress bar over the epochs to train (whole epochs: its ETA never goes negative);
- returns a list (:class:`replication.store.Results`) whose ``tally`` says how many runs were read
  from the store, how many were trained, and their wall time.

Command line: ``python -m replication train GRID.yml [--device cpu|cuda] [--no-progress]`` with ::

    base:  {dataset: fashion-mnist, n_train: 10000, model: mlp, model_options: {hidden: [400, 400]}}
    axes:  {lr: [0.01, 0.1], batch_size: [64, 512], seed: [0, 1]}
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import executors
from .config import ConfigError, require
from .ensemble import can_ensemble, group_key, train_ensemble
from .store import POLL_S, Results, ResultStore, Tally
from .train import TrainConfig, data_provenance, train

OVERRIDES = "overrides"   # the axis whose values are mappings of several fields (e.g. clr_cbs_pair)


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(TrainConfig))


def grid(base: TrainConfig, **axes: Sequence[Any]) -> list[TrainConfig]:
    """The cartesian product of ``axes`` (field name → list of values) applied to ``base``.

    The last axis varies fastest.  The axis ``overrides`` takes mappings of several fields, e.g.
    ``grid(base, overrides=list(clr_cbs_pair(...)), seed=[0, 1])``.  Every config is validated."""
    if not isinstance(base, TrainConfig):
        raise TypeError(f"grid: base must be a TrainConfig, got {type(base).__name__}")
    names = field_names()
    for name, values in axes.items():
        require(name in names or name == OVERRIDES, "axis", name,
                f"a TrainConfig field ({', '.join(names)}) or '{OVERRIDES}'")
        require(isinstance(values, (list, tuple)) and len(values) >= 1, name, values, "a non-empty list of values")
        if name == OVERRIDES:
            for v in values:
                require(isinstance(v, dict) and set(v) <= set(names), OVERRIDES, v,
                        "mappings of TrainConfig fields to values")
    configs = []
    for combo in itertools.product(*axes.values()):
        changes: dict = {}
        for name, value in zip(axes, combo):
            changes.update(value if name == OVERRIDES else {name: value})
        configs.append(dataclasses.replace(base, **changes))
    return configs


# -- the one runner -----------------------------------------------------------------------------------
_COUNTING: list[Tally] = []


class counting:
    """``with counting() as tally: ...`` -> every result a runner returns inside is added to ``tally``
    (each result once, by kind and key: :class:`replication.store.Tally`)."""

    def __enter__(self) -> Tally:
        self.tally = Tally()
        _COUNTING.append(self.tally)
        return self.tally

    def __exit__(self, *exc) -> None:
        _COUNTING.remove(self.tally)


class Each:
    """The unit function of a per-config ``compute(config) -> payload``: its configs one after the
    other, a tick each."""

    def __init__(self, compute: Callable[[Any], Any]):
        self.compute = compute

    def __call__(self, configs: Sequence, tick: Callable[[int], None], checkpoint=None) -> list:
        out = []
        for cfg in configs:
            out.append(self.compute(cfg))
            tick(1)
        return out


def _per_config(value, cfg):
    return value(cfg) if callable(value) else value


def run(configs: Iterable, work: Callable, *, store=None, plan: Callable | None = None, progress: bool = True,
        desc: str = "runs", unit: str = "run", size: Callable[[Any], int] | None = None,
        device: str | Callable = "cpu", data: dict | Callable | None = None, executor=None) -> Results:
    """Every config's :class:`replication.store.Result`, in order, as a
    :class:`replication.store.Results` list with its tally (see the module docstring).

    ``work(configs, tick, checkpoint) -> [payload per config]``: computes one unit; ``tick(n)``
    advances the progress bar by n (of ``size(config)`` per config, default 1, counted in ``unit``s);
    ``checkpoint``: a :class:`replication.store.Checkpoint` for a unit of several configs, else None.
    ``plan(configs, missing) -> [[index, ...], ...]``: the units of the missing configs (indices into
    ``configs``; default one each).  ``device``, ``data``: the device and the data's provenance each
    record names (a value, or a function of the config).  ``executor``: where the units run (default
    this process); a distributed one needs ``work``, ``device`` and ``data`` picklable."""
    configs = list(configs)
    store = store if store is not None else ResultStore()
    size = size if size is not None else (lambda cfg: 1)
    results: list = [store.get(c) for c in configs]
    first: dict[str, int] = {}
    missing = []
    for i, (cfg, found) in enumerate(zip(configs, results)):
        if found is None and cfg.key not in first:
            first[cfg.key] = i
            missing.append(i)
    units = plan(configs, missing) if plan is not None and missing else [[i] for i in missing]
    if missing:
        store.check_writable()                   # before any compute
    from tqdm import tqdm

    bar = tqdm(total=sum(size(configs[i]) for i in missing), unit=unit, dynamic_ncols=True,
               desc=f"{desc} ({len(configs) - len(missing)} of {len(configs)} stored)",
               disable=not progress or not missing)

    def tick(n: int) -> None:                     # whole units: the bar never passes its total
        bar.update(max(0, min(int(n), bar.total - bar.n)))

    def attempt(unit: list[int]) -> list[int]:
        """Compute the members of ``unit`` this process can claim; those claimed elsewhere are returned."""
        mine, claims, elsewhere = [], [], []
        try:
            for i in unit:
                found = store.get(configs[i])
                if found is None:
                    claim = store.claim(configs[i])
                    if not claim.acquire():
                        elsewhere.append(i)
                        continue
                    claims.append(claim)
                    found = store.get(configs[i])      # finished elsewhere before we claimed it
                if found is not None:
                    results[i] = found
                    tick(size(configs[i]))
                else:
                    mine.append(i)
            if mine:
                cfgs = [configs[i] for i in mine]
                checkpoint = store.checkpoint(cfgs[0].kind, [c.key for c in cfgs]) if len(cfgs) > 1 else None
                start = time.perf_counter()
                payloads = list(work(cfgs, tick, checkpoint))
                if len(payloads) != len(cfgs):
                    raise RuntimeError(f"{desc}: the unit function returned {len(payloads)} payloads for "
                                       f"{len(cfgs)} configs")
                wall = (time.perf_counter() - start) / len(cfgs)
                for i, cfg, payload in zip(mine, cfgs, payloads):
                    results[i] = store.put(cfg, payload, wall_time=wall, device=_per_config(device, cfg),
                                           data=_per_config(data, cfg))
                if checkpoint is not None:
                    checkpoint.discard()
        finally:
            for claim in claims:
                claim.release()
        return elsewhere

    executor = executor if executor is not None else executors.LocalExecutor()
    try:
        if getattr(executor, "distributed", False) and units:   # workers compute and store; we read back
            on_worker = functools.partial(run_unit, work, str(store.root), device, data)
            executor.map_units(on_worker, [[configs[i] for i in u] for u in units],
                               on_done=lambda k: tick(sum(size(configs[i]) for i in units[k])))
            for i in (i for u in units for i in u):
                found = store.get(configs[i])
                if found is None:
                    raise RuntimeError(f"{executor.describe()}: {configs[i].kind} {configs[i].key} finished but is "
                                       f"not in the store {store.root} (is REPLICATION_STORE shared with the workers?)")
                results[i] = dataclasses.replace(found, from_store=False)   # computed for this call, elsewhere
            units = []
        pending = units
        while pending:
            waiting = [left for left in (attempt(u) for u in pending) if left]
            if waiting and sum(map(len, waiting)) == sum(map(len, pending)):
                time.sleep(POLL_S)                # all claimed by other processes: wait for them
            pending = waiting
    finally:
        bar.close()
    for i, cfg in enumerate(configs):
        if results[i] is None:                   # a key asked for twice: computed once, above
            results[i] = results[first[cfg.key]]
    out = Results(results)
    for tally in _COUNTING:
        tally.update(out.tally)
    return out


def run_unit(work: Callable, store_root: str, device, data, configs: Sequence) -> list[str]:
    """A worker's entry point (what an executor calls, ``functools.partial`` bound but for ``configs``):
    :func:`run` of one unit into the store at ``store_root``; returns its keys.  Results already
    stored (or computed meanwhile by another worker) are not computed again."""
    configs = list(configs)
    _fault_injection(configs, store_root)
    os.environ["REPLICATION_STORE"] = str(store_root)
    run(configs, work, store=ResultStore(store_root), plan=lambda cfgs, missing: [missing], progress=False,
        device=device, data=data, executor=executors.LocalExecutor())
    return [c.key for c in configs]


def _fault_injection(configs: Sequence, store_root: str) -> None:
    """For the tests: when ``<store_root>/.kill-once`` exists, the first worker to run a unit with a
    seed-1 config renames it to ``.killed`` and dies abruptly (as a lost node would); retries live."""
    if any(getattr(c, "seed", None) == 1 for c in configs):
        request = Path(store_root) / ".kill-once"
        try:
            os.rename(request, Path(store_root) / ".killed")
        except FileNotFoundError:
            return
        os._exit(17)


def compute_all(configs: Iterable, compute: Callable[[Any], Any], *, store=None, desc: str = "runs",
                progress: bool = True, device: str | Callable = "cpu", data: dict | Callable | None = None) -> Results:
    """:func:`run` of a per-config ``compute(config) -> payload`` in this process, one config at a time."""
    return run(configs, Each(compute), store=store, progress=progress, desc=desc, device=device, data=data)


def compute_one(config, compute: Callable[[Any], Any], *, store=None, device: str | Callable = "cpu",
                data: dict | Callable | None = None):
    """The stored result of ``config``, or ``compute(config)`` timed, stored and returned (claimed while
    computed; when another process holds the claim, its result is awaited)."""
    return compute_all([config], compute, store=store, progress=False, device=device, data=data)[0]


# -- training runs --------------------------------------------------------------------------------------
def train_stored(cfg: TrainConfig, store=None):
    """``train(cfg)`` through the result store, in this process (:func:`compute_one`), stamped with the
    dataset's provenance."""
    return compute_one(cfg, train, store=store, device=cfg.device, data=data_provenance(cfg))


def _plan(configs: list[TrainConfig], missing: list[int], ensemble, max_ensemble: int) -> list[list[int]]:
    """Units of work: lists of config indices (one run, or one vmapped ensemble)."""
    if not ensemble:
        return [[i] for i in missing]
    groups: dict[str, list[int]] = {}
    units = []
    for i in missing:
        if can_ensemble(configs[i]):
            groups.setdefault(group_key(configs[i]), []).append(i)
        else:
            units.append([i])
    for members in groups.values():
        for s in range(0, len(members), max_ensemble):
            units.append(members[s:s + max_ensemble])
    units.sort(key=lambda u: u[0])
    return units


def train_unit(configs: Sequence[TrainConfig], tick: Callable[[int], None], checkpoint=None) -> list[dict]:
    """The unit function of training: one run (:func:`replication.train.train`), or a vmapped ensemble
    (:func:`replication.ensemble.train_ensemble`, resumed from and saved to ``checkpoint``)."""
    if len(configs) == 1:
        return [train(configs[0], progress=tick)]
    return train_ensemble(list(configs), progress=tick, checkpoint=checkpoint)


def _device(cfg: TrainConfig) -> str:
    return cfg.device


def _epochs(cfg: TrainConfig) -> int:
    return cfg.epochs


def train_all(configs: Iterable[TrainConfig], store=None, progress: bool = True, ensemble="auto",
              max_ensemble: int = 64, executor=None) -> Results:
    """Every config's :class:`replication.store.Result`, in order, as a
    :class:`replication.store.Results` list whose ``tally`` counts the runs read from the store, the
    runs trained, and their wall time (see the module docstring): :func:`run` of :func:`train_unit`.

    ``ensemble``: "auto"/True (vmap the groups that can be), False (one run at a time).
    ``executor``: where the missing units run (:mod:`replication.executors`; default: the one set
    by ``executors.use``, else this process)."""
    configs = list(configs)
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"train_all: expected TrainConfig, got {type(c).__name__}")
    if ensemble not in ("auto", True, False):
        raise ConfigError(f"ensemble={ensemble!r}: 'auto', True or False")
    require(isinstance(max_ensemble, int) and max_ensemble >= 1, "max_ensemble", max_ensemble, "an integer >= 1")
    return run(configs, train_unit, store=store, progress=progress, desc="train", unit="epoch", size=_epochs,
               plan=functools.partial(_plan, ensemble=ensemble, max_ensemble=max_ensemble), device=_device,
               data=data_provenance, executor=executor if executor is not None else executors.current())


# -- command line -------------------------------------------------------------------------------------
def load_grid(path: Path, device: str | None = None) -> list[TrainConfig]:
    """The configs of a grid YAML file (``base``: field → value, ``axes``: field → list of values).
    Raises :class:`ConfigError` with a one-line message for anything wrong."""
    import yaml

    if not Path(path).is_file():
        raise ConfigError(f"grid={str(path)!r}: no such file")
    try:
        spec = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"grid={str(path)!r}: not valid YAML ({' '.join(str(error).split())})") from None
    require(isinstance(spec, dict) and set(spec) <= {"base", "axes"}, "grid", str(path),
            "a YAML mapping with keys 'base' (field: value) and 'axes' (field: [values])")
    base, axes = spec.get("base") or {}, spec.get("axes") or {}
    require(isinstance(base, dict), "base", base, "a mapping of TrainConfig fields to values")
    require(isinstance(axes, dict), "axes", axes, "a mapping of TrainConfig fields to lists of values")
    names = field_names()
    for where, mapping in (("base", base), ("axes", axes)):
        for key in mapping:
            require(key in names or (where == "axes" and key == OVERRIDES), f"{where}.{key}", mapping[key],
                    f"unknown field; fields: {', '.join(names)}")
    if device is not None:
        base = {**base, "device": device}
        axes = {k: v for k, v in axes.items() if k != "device"}
    return grid(TrainConfig(**base), **axes)


def cli_train(path: Path, device: str | None = None, progress: bool = True) -> int:
    """``python -m replication train``: validate everything, then train; 0 on success, 2 on a bad grid."""
    from .store import ResultStore

    try:
        configs = load_grid(path, device)
        if any(c.device.startswith("cuda") for c in configs):
            import torch

            require(torch.cuda.is_available(), "device", "cuda", "cpu (CUDA is not available on this machine)")
        for cfg in {(c.dataset, c.accept_unverified_data): c for c in configs}.values():
            data_provenance(cfg)                      # the data is there and verifies (or is accepted)
    except (ConfigError, TypeError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except (FileNotFoundError, RuntimeError) as error:   # DatasetNotFoundError, DataVerificationError
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    store = ResultStore()
    print(f"[train] {len(configs)} runs from {path}; results in {store.root / TrainConfig.kind}")
    results = train_all(configs, store=store, progress=progress)
    for cfg, r in zip(configs, results):
        final = r.payload["final"]
        val = final.get("val_acc")
        print(f"{r.key}  val_acc={'n/a' if val is None else f'{val:.4f}'}  diverged={r.payload['diverged']}  "
              f"{'stored' if r.from_store else 'trained'}  {cfg.describe()}")
    print(f"[train] {results.tally}; store: {store.root}")
    return 0
