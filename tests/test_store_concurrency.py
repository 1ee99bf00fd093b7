"""The store shared by real processes: two processes split a grid; a process killed with SIGKILL
loses only its work in flight (its claim is broken at once, finished entries are kept); a killed
vmapped ensemble resumes from its last epoch checkpoint and ends exactly as if never killed."""
import dataclasses
import multiprocessing
import os
import signal
import time
from typing import ClassVar

import pytest
import torch

from replication.config import RunConfig
from replication.store import ResultStore
from replication.runs import compute_all

FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True, scope="module")
def _warm_provenance():
    """Forked children inherit the parent's cached provenance (git state, versions) instead of
    each asking git again."""
    from replication import provenance

    provenance.collect("cpu")


@dataclasses.dataclass(frozen=True)
class Slow(RunConfig):
    kind: ClassVar[str] = "slow"
    i: int
    log: str = ""
    seconds: float = 0.15


def slow_compute(cfg: Slow) -> dict:
    time.sleep(cfg.seconds)
    with open(cfg.log, "a") as f:                 # O_APPEND: one whole line per computation
        f.write(f"{os.getpid()} {cfg.i}\n")
    return {"i": cfg.i, "pid": os.getpid()}


def _worker(root, configs, barrier, out):
    barrier.wait()
    results = compute_all(configs, slow_compute, progress=False, store=ResultStore(root))
    out.put((os.getpid(), results.tally.computed, [r.payload["i"] for r in results]))


def _log(path):
    return [line.split() for line in open(path).read().splitlines()] if os.path.exists(path) else []


def test_two_processes_on_one_grid_split_the_work(tmp_path):
    log = str(tmp_path / "computed.log")
    configs = [Slow(i=i, log=log) for i in range(10)]
    barrier, out = FORK.Barrier(2), FORK.Queue()
    procs = [FORK.Process(target=_worker, args=(tmp_path / "store", configs, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    reports = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    lines = _log(log)
    assert sorted(int(i) for _, i in lines) == list(range(10)), "every run computed exactly once"
    by_pid = {pid: sum(1 for p, _ in lines if int(p) == pid) for pid, _, _ in reports}
    assert all(n >= 2 for n in by_pid.values()), f"both processes worked: {by_pid}"
    for pid, computed, order in reports:
        assert order == list(range(10)) and computed == by_pid[pid]   # and each returns the whole grid
    assert not list((tmp_path / "store" / "slow").glob(".*.claim"))


def _grid_until_killed(root, configs):
    compute_all(configs, slow_compute, progress=False, store=ResultStore(root))


def test_a_killed_process_loses_only_its_run_in_flight(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATION_CLAIM_STALE_S", "3600")   # only the dead-process rule can free it
    log = str(tmp_path / "computed.log")
    configs = [Slow(i=i, log=log, seconds=0.3) for i in range(5)]
    root = tmp_path / "store"
    child = FORK.Process(target=_grid_until_killed, args=(root, configs))
    child.start()
    store = ResultStore(root)
    deadline = time.time() + 120
    while sum(c in store for c in configs) < 2 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    done_before = [c.i for c in configs if c in store]
    assert len(done_before) >= 2 and len(done_before) < 5
    assert list((root / "slow").glob(".*.claim")), "the killed process left its claim behind"
    results = compute_all(configs, slow_compute, progress=False, store=store)
    assert [r.payload["i"] for r in results] == list(range(5))
    assert results.tally.stored == len(done_before)
    mine = [int(i) for pid, i in _log(log) if int(pid) == os.getpid()]
    assert sorted(mine) == [i for i in range(5) if i not in done_before]   # finished runs never redone
    assert not list((root / "slow").glob(".*.claim"))


# -- a vmapped ensemble killed mid-training -----------------------------------------------------------
def _train_until_killed(root, configs, kill_after_calls):
    from replication import runs

    torch.set_num_threads(1)
    real = runs.train_ensemble

    def killed_midway(cfgs, progress=None, checkpoint=None):
        calls = []

        def tick(n):
            calls.append(n)
            progress(n)
            if len(calls) == kill_after_calls:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(cfgs, progress=tick, checkpoint=checkpoint)

    runs.train_ensemble = killed_midway
    runs.train_all(configs, store=ResultStore(root), progress=False)


def test_a_killed_ensemble_resumes_from_its_checkpoint_and_ends_identical(tmp_path, monkeypatch, one_thread):
    from replication import runs
    from replication.train import TrainConfig

    monkeypatch.setenv("REPLICATION_CHECKPOINT_S", "0")       # a checkpoint at every epoch boundary
    base = TrainConfig(n_train=400, n_val=100, n_test=200, model="mlp", model_options={"hidden": (16,)},
                       batch_size=50, epochs=4, momentum=0.9)
    configs = runs.grid(base, lr=[0.05, 0.1], seed=[0, 1])
    root = tmp_path / "killed"
    child = FORK.Process(target=_train_until_killed, args=(root, configs, 3))   # killed in epoch 3
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL
    store = ResultStore(root)
    assert not any(c in store for c in configs)
    assert len(list((root / ".checkpoints").rglob("*.pt"))) == 1
    resumed = runs.train_all(configs, store=store, progress=False)
    assert all(r.payload["resumed_from_epoch"] == 2 for r in resumed)
    assert not list((root / ".checkpoints").rglob("*.pt")), "the checkpoint goes once the runs are stored"
    whole = runs.train_all(configs, store=ResultStore(tmp_path / "whole"), progress=False)
    for a, b in zip(resumed, whole):
        assert b.payload["resumed_from_epoch"] is None
        assert a.payload["history"] == b.payload["history"] and a.payload["best_epoch"] == b.payload["best_epoch"]
        for name, tensor in b.payload["state_dict"].items():
            assert torch.equal(a.payload["state_dict"][name], tensor)
