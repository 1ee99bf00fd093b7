"""Grids of training runs, computed through the result store.

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
import itertools
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import ConfigError, require
from .ensemble import can_ensemble, group_key, train_ensemble
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


def _plan(configs: list[TrainConfig], missing: list[int], ensemble, max_ensemble: int) -> list[list[int]]:
    """Units of work: lists of config indices (one run, or one vmapped ensemble)."""
    if ensemble not in ("auto", True, False):
        raise ConfigError(f"ensemble={ensemble!r}: 'auto', True or False")
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


def train_all(configs: Iterable[TrainConfig], store=None, progress: bool = True, ensemble="auto",
              max_ensemble: int = 64, executor=None):
    """Every config's :class:`replication.store.Result`, in order, as a
    :class:`replication.store.Results` list whose ``tally`` counts the runs read from the store, the
    runs trained, and their wall time (see the module docstring).

    ``ensemble``: "auto"/True (vmap the groups that can be), False (one run at a time).
    ``executor``: where the missing units run (:mod:`replication.executors`; default: the one set
    by ``executors.use``, else this process)."""
    from . import executors
    from tqdm import tqdm

    from .store import POLL_S, Results, ResultStore, Tally

    configs = list(configs)
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"train_all: expected TrainConfig, got {type(c).__name__}")
    require(isinstance(max_ensemble, int) and max_ensemble >= 1, "max_ensemble", max_ensemble, "an integer >= 1")
    store = store if store is not None else ResultStore()
    results: list = [store.get(c) for c in configs]
    first_of: dict[str, int] = {}
    missing = []
    for i, r in enumerate(results):
        if r is None and configs[i].key not in first_of:
            first_of[configs[i].key] = i
            missing.append(i)
    units = _plan(configs, missing, ensemble, max_ensemble)
    if missing:
        store.check_writable()                   # before any training
    n_stored = len(configs) - len(missing)
    bar = tqdm(total=sum(configs[i].epochs for i in missing), unit="epoch", dynamic_ncols=True,
               desc=f"train ({n_stored} of {len(configs)} stored, {len(missing)} to train)",
               disable=not progress or not missing)

    def tick(n_epochs: int) -> None:             # whole epochs: the bar never passes its total
        bar.update(max(0, min(int(n_epochs), bar.total - bar.n)))

    def attempt(unit: list[int]) -> list[int]:
        """Train the members of ``unit`` this process can claim; those claimed elsewhere are returned."""
        mine, claims, elsewhere = [], [], []
        try:
            for i in unit:
                found = store.get(configs[i])
                claim = None
                if found is None:
                    claim = store.claim(configs[i])
                    if not claim.acquire():
                        elsewhere.append(i)
                        continue
                    claims.append(claim)
                    found = store.get(configs[i])      # finished elsewhere before we claimed it
                if found is not None:
                    results[i] = found
                    tick(configs[i].epochs)
                else:
                    mine.append(i)
            if mine:
                cfgs = [configs[i] for i in mine]
                start = time.perf_counter()
                checkpoint = None
                if len(mine) == 1:
                    payloads = [train(cfgs[0], progress=tick)]
                else:
                    checkpoint = store.checkpoint(TrainConfig.kind, [c.key for c in cfgs])
                    payloads = train_ensemble(cfgs, progress=tick, checkpoint=checkpoint)
                wall = (time.perf_counter() - start) / len(mine)
                for i, cfg, payload in zip(mine, cfgs, payloads):
                    results[i] = store.put(cfg, payload, wall_time=wall, device=cfg.device,
                                           data=data_provenance(cfg))
                if checkpoint is not None:
                    checkpoint.discard()
        finally:
            for claim in claims:
                claim.release()
        return elsewhere

    executor = executor if executor is not None else executors.current()
    try:
        if getattr(executor, "distributed", False) and units:   # workers train and store; we read back
            executor.map_units([[configs[i] for i in u] for u in units], str(store.root),
                               on_done=lambda k: tick(sum(configs[i].epochs for i in units[k])))
            for unit in units:
                for i in unit:
                    results[i] = store.get(configs[i])
                    if results[i] is None:
                        raise RuntimeError(f"{executor.describe()}: run {configs[i].key} finished but is not in "
                                           f"the store {store.root} (is REPLICATION_STORE shared with the workers?)")
            units = []
        pending = units
        while pending:
            waiting = [left for left in (attempt(unit) for unit in pending) if left]
            if waiting and sum(map(len, waiting)) == sum(map(len, pending)):
                time.sleep(POLL_S)                # all claimed by other processes: wait for them
            pending = waiting
    finally:
        bar.close()
    tally = Tally()
    for i, c in enumerate(configs):
        if results[i] is None:                       # a duplicate of a config computed above
            results[i] = results[first_of[c.key]]
        tally.add(results[i])
    return Results(results, tally)


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
