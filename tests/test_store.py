"""The result store: computed once, atomic, verified, resumable, provenance in every result."""
import dataclasses
import json
import math
from typing import ClassVar

import numpy as np
import pytest

from replication.config import ConfigError, RunConfig, code_digest, require
from replication import store as store_module
from replication.store import inventory
from replication.store import PAYLOAD, RECORD, CorruptedEntryWarning, ResultStore
from replication.runs import compute_all, compute_one


@dataclasses.dataclass(frozen=True)
class Toy(RunConfig):
    kind: ClassVar[str] = "toy"
    x: float
    n: int = 3
    sizes: tuple = (1, 2)

    def validate(self):
        require(self.n >= 1, "n", self.n, ">= 1")


@dataclasses.dataclass(frozen=True)
class ToyV2(Toy):
    algorithm_version: ClassVar[int] = 2


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self, cfg):
        self.calls += 1
        return {"value": np.arange(cfg.n) * cfg.x}


def test_key_is_stable_and_discriminating():
    a, b = Toy(x=0.1), Toy(x=0.1, sizes=[1, 2])
    assert a.key == b.key and a == b and hash(a) == hash(b)  # list → tuple, same key
    assert Toy(x=0.1).key != Toy(x=0.1 + 1e-12).key
    assert Toy(x=0.1).key != Toy(x=0.1, n=4).key
    assert ToyV2(x=0.1).key != Toy(x=0.1).key  # algorithm version is part of the key
    assert len(Toy(x=0.1).key) == 20


def test_key_does_not_depend_on_the_session():
    # the canonical JSON of kind, version, code digest and fields, hashed: recompute by hand
    import hashlib

    digest = code_digest((__name__,))
    assert Toy.code_modules() == (__name__,)       # default: the file of the defining module
    text = json.dumps({"algorithm_version": 1, "code": digest, "fields": {"n": 3, "sizes": [1, 2], "x": 0.5},
                       "kind": "toy"}, sort_keys=True, separators=(",", ":"))
    assert Toy(x=0.5).key == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_config_validates_on_construction():
    with pytest.raises(ConfigError, match=r"n=0: >= 1"):
        Toy(x=1.0, n=0)
    with pytest.raises(ConfigError, match="non-finite"):
        Toy(x=float("nan")).key


def test_computed_once_and_provenance(store):
    compute = Counter()
    first = compute_one(Toy(x=2.0), compute, store=store)
    second = compute_one(Toy(x=2.0), compute, store=store)
    assert compute.calls == 1
    assert not first.from_store and second.from_store
    np.testing.assert_array_equal(second.payload["value"], [0.0, 2.0, 4.0])
    for field in ("code_version", "versions", "device", "created", "data"):
        assert field in second.provenance
    assert second.provenance["versions"]["numpy"] == np.__version__
    assert second.wall_time >= 0 and second.config == {"x": 2.0, "n": 3, "sizes": [1, 2]}


def test_store_location_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "elsewhere"))
    store = ResultStore()
    compute_one(Toy(x=1.0), Counter(), store=store)
    assert (tmp_path / "elsewhere" / "toy" / Toy(x=1.0).key / RECORD).is_file()


def test_corrupted_payload_is_quarantined_and_recomputed(store):
    compute = Counter()
    cfg = Toy(x=3.0)
    compute_one(cfg, compute, store=store)
    payload = store.entry_dir(cfg) / PAYLOAD
    data = bytearray(payload.read_bytes())
    data[-3] ^= 0xFF
    payload.write_bytes(bytes(data))
    with pytest.warns(CorruptedEntryWarning, match="checksum"):
        again = compute_one(cfg, compute, store=store)
    assert compute.calls == 2 and not again.from_store
    assert list((store.root / ".quarantine").iterdir()), "the bad entry is kept aside, not deleted"
    assert store.get(cfg).from_store


def test_truncated_record_is_detected(store):
    cfg = Toy(x=4.0)
    compute_one(cfg, Counter(), store=store)
    (store.entry_dir(cfg) / RECORD).write_text('{"payload_sha')
    with pytest.warns(CorruptedEntryWarning):
        assert store.get(cfg) is None


def test_interrupted_grid_resumes_without_losing_finished_runs(store):
    configs = [Toy(x=float(i)) for i in range(5)]
    calls = []

    def flaky(cfg):
        calls.append(cfg.x)
        if cfg.x == 3.0 and calls.count(3.0) == 1:
            raise KeyboardInterrupt  # killed while the 4th run was in flight
        return {"value": cfg.x}

    with pytest.raises(KeyboardInterrupt):
        compute_all(configs, flaky, progress=False, store=store)
    assert [c in store for c in configs] == [True, True, True, False, False]
    assert not list((store.root / "toy").glob(".*tmp-*")), "no half-written entry left behind"
    results = compute_all(configs, flaky, progress=False, store=store)
    assert calls == [0.0, 1.0, 2.0, 3.0, 3.0, 4.0]  # finished runs never recomputed
    assert [r.payload["value"] for r in results] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [r.from_store for r in results] == [True, True, True, False, False]


def test_failed_write_leaves_no_entry(store, monkeypatch):
    cfg = Toy(x=5.0)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "save_payload", boom)
    with pytest.raises(OSError):
        store.put(cfg, {"value": 1}, wall_time=0.0)
    assert cfg not in store
    assert not list((store.root / "toy").glob(".*tmp-*"))


# -- the code digest in the key ---------------------------------------------------------------------
def test_key_holds_a_digest_of_the_declared_code(tmp_path, monkeypatch):
    from replication.config import clear_code_digests

    pkg = tmp_path / "digestpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "kernel.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "reader.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    @dataclasses.dataclass(frozen=True)
    class Declared(RunConfig):
        kind: ClassVar[str] = "declared"
        code: ClassVar[tuple] = ("digestpkg.sub.kernel",)
        x: float = 1.0

    clear_code_digests()
    before = Declared().key
    (tmp_path / "reader.py").write_text("X = 2\n")
    clear_code_digests()
    assert Declared().key == before                      # code outside `code` does not matter
    (pkg / "sub" / "kernel.py").write_text("def f(x):\n    return 2 * x\n")
    assert Declared().key == before                      # computed once per process
    clear_code_digests()
    assert Declared().key != before                      # the named module's code does

    @dataclasses.dataclass(frozen=True)
    class Missing(RunConfig):
        kind: ClassVar[str] = "missing"
        code: ClassVar[tuple] = ("no_such_module_here",)

    @dataclasses.dataclass(frozen=True)
    class Package(RunConfig):
        kind: ClassVar[str] = "package"
        code: ClassVar[tuple] = ("digestpkg.sub",)

    with pytest.raises(ConfigError, match="no_such_module_here"):
        Missing().key
    with pytest.raises(ConfigError, match=r"code='digestpkg.sub': a package; name the modules"):
        Package().key
    clear_code_digests()


def test_training_key_covers_the_training_code_and_not_the_readers():
    from replication.config import code_files
    from replication.train import TrainConfig

    names = {name for name, _ in code_files(TrainConfig.code_modules())}
    for needed in ("replication.train.loop", "replication.ensemble", "replication.models",
                   "replication.schedules", "replication.hessian.eigen", "replication.data.dataset"):
        assert needed in names
    for reader in ("notebook", "figures", "claims", "stats", "book", "runs", "store.__init__", "executors"):
        assert f"replication.{reader}" not in names
    assert not any(".chapters." in n for n in names)
    assert "replication.hessian.density" not in names        # never called by a training run


# -- reading cannot execute code --------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))       # "code execution": creates the marker file


def _craft(entry, name, obj):
    import hashlib
    import pickle

    data = pickle.dumps(obj)
    (entry / name).write_bytes(data)
    record = json.loads((entry / RECORD).read_text())
    record["payload_sha256"] = hashlib.sha256(data).hexdigest()
    (entry / RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize("name", [PAYLOAD, "payload.pkl"])
def test_a_crafted_payload_with_matching_checksum_runs_no_code(store, tmp_path, name):
    import torch

    cfg = Toy(x=6.0)
    compute = Counter()
    compute_one(cfg, compute, store=store)
    entry = store.entry_dir(cfg)
    marker = tmp_path / "pwned"
    if name == PAYLOAD:                        # a torch.save file whose pickle calls open()
        torch.save({"value": _Exploit(str(marker))}, entry / PAYLOAD)
        record = json.loads((entry / RECORD).read_text())
        record["payload_sha256"] = store_module.sha256_file(entry / PAYLOAD)
        (entry / RECORD).write_text(json.dumps(record))
    else:                                      # an old-format pickle entry
        (entry / PAYLOAD).unlink()
        _craft(entry, name, {"value": _Exploit(str(marker))})
    with pytest.warns(CorruptedEntryWarning):
        again = compute_one(cfg, compute, store=store)
    assert not marker.exists(), "reading an entry executed code"
    assert compute.calls == 2 and not again.from_store and store.get(cfg).from_store


def test_payloads_round_trip_exactly(store):
    from collections import OrderedDict

    import torch

    payload = {
        "arrays": [np.arange(6).astype(d).reshape(2, 3) for d in
                   ("float32", "float64", "float16", "int8", "int32", "int64", "uint8", "uint16", "bool",
                    "complex128")],
        "big_endian": np.arange(3, dtype=">f8"),
        "strided": np.arange(10.0)[::-3],
        "strings": np.array(["a", "bc"]),
        "scalars": (np.float64(0.1), np.int64(3), np.float32(2.5), np.bool_(True), 1, 0.5, True, None, "s"),
        "special": [float("nan"), float("inf"), -0.0],
        "tensors": OrderedDict(w=torch.randn(3, 2), b=torch.zeros(2, dtype=torch.bfloat16),
                               view=torch.arange(100.0)[10:12]),
        7: {(1, "a"): [1, 2.0]},
    }
    cfg = Toy(x=7.0)
    store.put(cfg, payload, wall_time=0.0)
    back = store.get(cfg).payload
    assert back.keys() == payload.keys() and back[7] == payload[7]
    for a, b in zip(back["arrays"] + [back["big_endian"], back["strided"], back["strings"]],
                    payload["arrays"] + [payload["big_endian"], payload["strided"], payload["strings"]]):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    for a, b in zip(back["scalars"], payload["scalars"]):
        assert type(a) is type(b) and a == b
    assert type(back["scalars"]) is tuple and type(back["tensors"]) is OrderedDict
    assert math.isnan(back["special"][0]) and back["special"][1:] == [float("inf"), 0.0]
    assert math.copysign(1, back["special"][2]) == -1
    for k, t in payload["tensors"].items():
        assert back["tensors"][k].dtype == t.dtype and torch.equal(back["tensors"][k], t)
    assert back["tensors"]["view"].untyped_storage().nbytes() == 8      # not the whole storage


def test_what_cannot_be_stored_safely_is_refused_when_writing(store):
    @dataclasses.dataclass
    class Opaque:
        x: int = 1

    for bad in ({"a": Opaque()}, {"a": np.array([object()])}, {"__replication_store__": 1}):
        with pytest.raises(TypeError):
            store.put(Toy(x=8.0), bad, wall_time=0.0)
    assert Toy(x=8.0) not in store


# -- damaged entries --------------------------------------------------------------------------------
@pytest.mark.parametrize("lose", [RECORD, PAYLOAD, "both"])
def test_an_entry_missing_a_file_is_quarantined_recomputed_once_and_stored(store, lose):
    cfg = Toy(x=9.0)
    compute = Counter()
    compute_one(cfg, compute, store=store)
    entry = store.entry_dir(cfg)
    for name in ([RECORD, PAYLOAD] if lose == "both" else [lose]):
        (entry / name).unlink()
    with pytest.warns(CorruptedEntryWarning, match="missing"):
        again = compute_one(cfg, compute, store=store)
    assert compute.calls == 2 and not again.from_store
    assert store.get(cfg).from_store and cfg in store         # stored again, not thrown away
    compute_one(cfg, compute, store=store)
    assert compute.calls == 2
    assert len(list((store.root / ".quarantine").iterdir())) == 1


def test_put_over_a_damaged_entry_replaces_it(store):
    cfg = Toy(x=10.0)
    store.entry_dir(cfg).mkdir(parents=True)
    (store.entry_dir(cfg) / "stray").write_text("x")
    with pytest.warns(CorruptedEntryWarning):
        store.put(cfg, {"value": 1.0}, wall_time=0.0)
    assert store.get(cfg).payload == {"value": 1.0}


# -- writability ------------------------------------------------------------------------------------
def test_an_unwritable_store_fails_before_any_compute_with_one_line(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    for root in (tmp_path / "a-file" / "store", "/proc/replication-store"):
        store = ResultStore(root)
        compute = Counter()
        with pytest.raises(store_module.StoreError) as info:
            compute_all([Toy(x=1.0), Toy(x=2.0)], compute, progress=False, store=store)
        message = str(info.value)
        assert compute.calls == 0 and "\n" not in message
        assert str(root) in message and "REPLICATION_STORE" in message


def test_a_read_only_store_still_serves_what_it_holds(store, monkeypatch):
    configs = [Toy(x=float(i)) for i in range(3)]
    compute_all(configs, Counter(), progress=False, store=store)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_module.tempfile, "mkstemp", denied)
    reader = ResultStore(store.root)
    results = compute_all(configs, Counter(), progress=False, store=reader)
    assert results.tally.stored == 3 and results.tally.computed == 0
    with pytest.raises(store_module.StoreError, match="Permission denied"):
        compute_all(configs + [Toy(x=5.0)], Counter(), progress=False, store=reader)


# -- tally, temporaries, inventory ------------------------------------------------------------------
def test_the_runner_returns_a_list_with_a_tally(store):
    compute = Counter()
    first = compute_all([Toy(x=1.0), Toy(x=2.0), Toy(x=1.0)], compute, progress=False, store=store)
    assert isinstance(first, list) and len(first) == 3 and first[2] is first[0]
    assert (first.tally.stored, first.tally.computed) == (0, 2) and compute.calls == 2   # each result once
    assert first.tally.wall_time == pytest.approx(first[0].wall_time + first[1].wall_time)
    second = compute_all([Toy(x=1.0), Toy(x=3.0)], compute, progress=False, data=lambda c: {"canonical": False},
                         store=store)
    assert (second.tally.stored, second.tally.computed) == (1, 1) and "1 stored, 1 computed" in str(second.tally)
    assert second[1].provenance["data"] == {"canonical": False}


def test_temporaries_older_than_an_hour_are_swept_at_the_next_write(store):
    import os
    import time

    store.put(Toy(x=1.0), {"value": 1}, wall_time=0.0)
    folder = store.root / "toy"
    old, fresh = folder / ".abc.tmp-old", folder / ".abc.tmp-fresh"
    for tmp in (old, fresh):
        tmp.mkdir()
        (tmp / PAYLOAD).write_text("half")
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    os.utime(fresh, (time.time() - 30 * 60,) * 2)
    store.put(Toy(x=2.0), {"value": 2}, wall_time=0.0)
    assert not old.exists() and fresh.exists()       # a write in flight elsewhere is left alone


def test_summary_counts_results_quarantine_legacy_and_size(store):
    for i in range(3):
        store.put(Toy(x=float(i)), {"value": np.zeros(100)}, wall_time=0.0)
    store.put(ToyV2(x=0.0), {"value": 1}, wall_time=0.0)
    (store.entry_dir(Toy(x=0.0)) / RECORD).unlink()
    with pytest.warns(CorruptedEntryWarning):
        assert store.get(Toy(x=0.0)) is None
    legacy = store.root / "toy" / ("0" * 20)
    legacy.mkdir()
    (legacy / "payload.pkl").write_bytes(b"x")
    (legacy / RECORD).write_text("{}")
    (store.root / "verdicts" / "laptop").mkdir(parents=True)     # other things kept in the store root
    (store.root / "verdicts" / "laptop" / "sde.json").write_text("{}")
    summary = inventory.summary(store.root)
    assert summary["results"] == 3 and summary["per_kind"] == {"toy": 3}
    assert summary["quarantined"] == 1 and summary["legacy"] == 1 and summary["incomplete"] == 0
    assert summary["bytes"] > 3 * 800


# -- claims -----------------------------------------------------------------------------------------
def _write_claim(path, **info):
    import socket

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "token": "other", **info}))


def test_a_claim_of_a_dead_process_or_not_refreshed_is_broken(store, monkeypatch):
    import os
    import subprocess
    import sys
    import time

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cfg = Toy(x=11.0)
    _write_claim(store.claim(cfg).path, pid=dead.pid)
    assert compute_one(cfg, Counter(), store=store).payload["value"][1] == 11.0
    cfg = Toy(x=12.0)
    _write_claim(store.claim(cfg).path, pid=os.getpid(), host="another-host")
    monkeypatch.setenv("REPLICATION_CLAIM_STALE_S", "60")
    os.utime(store.claim(cfg).path, (time.time() - 120,) * 2)
    assert compute_one(cfg, Counter(), store=store).payload["value"][1] == 12.0
    assert not store.claim(cfg).path.exists()


def test_a_live_claim_is_waited_for_and_its_result_read(store):
    import os
    import threading

    cfg = Toy(x=13.0)
    claim_path = store.claim(cfg).path
    _write_claim(claim_path, pid=os.getpid())          # a live process (this one) holds it

    def other_process_finishes():
        store.put(cfg, {"value": "theirs"}, wall_time=0.0)
        claim_path.unlink()

    timer = threading.Timer(0.6, other_process_finishes)
    timer.start()
    compute = Counter()
    results = compute_all([Toy(x=14.0), cfg], compute, progress=False, store=store)
    timer.join()
    assert compute.calls == 1 and results[1].payload == {"value": "theirs"}   # waited, did not compute
    assert results.tally.stored == 1 and results.tally.computed == 1


def test_a_held_claim_is_refreshed_so_a_long_computation_keeps_it(store, monkeypatch):
    import time

    monkeypatch.setenv("REPLICATION_CLAIM_STALE_S", "0.5")
    cfg = Toy(x=15.0)
    mine = store.claim(cfg)
    assert mine.acquire()
    try:
        time.sleep(1.2)                                  # longer than the stale age: only refreshes save it
        assert not store.claim(cfg).is_stale() and not store.claim(cfg).acquire()
    finally:
        mine.release()
    assert not mine.path.exists() and store.claim(cfg).acquire()
