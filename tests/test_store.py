"""The result store: computed once, atomic, verified, resumable, provenance in every result."""
import dataclasses
import json
import pickle
from typing import ClassVar

import numpy as np
import pytest

from replication.config import ConfigError, RunConfig, require
from replication.store import PAYLOAD, RECORD, CorruptedEntryWarning, ResultStore


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
    # the canonical JSON of fields, hashed: recompute by hand
    import hashlib

    text = json.dumps({"algorithm_version": 1, "fields": {"n": 3, "sizes": [1, 2], "x": 0.5}, "kind": "toy"},
                      sort_keys=True, separators=(",", ":"))
    assert Toy(x=0.5).key == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_config_validates_on_construction():
    with pytest.raises(ConfigError, match=r"n=0: >= 1"):
        Toy(x=1.0, n=0)
    with pytest.raises(ConfigError, match="non-finite"):
        Toy(x=float("nan")).key


def test_computed_once_and_provenance(store):
    compute = Counter()
    first = store.get_or_compute(Toy(x=2.0), compute)
    second = store.get_or_compute(Toy(x=2.0), compute)
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
    store.get_or_compute(Toy(x=1.0), Counter())
    assert (tmp_path / "elsewhere" / "toy" / Toy(x=1.0).key / RECORD).is_file()


def test_corrupted_payload_is_quarantined_and_recomputed(store):
    compute = Counter()
    cfg = Toy(x=3.0)
    store.get_or_compute(cfg, compute)
    payload = store.entry_dir(cfg) / PAYLOAD
    data = bytearray(payload.read_bytes())
    data[-3] ^= 0xFF
    payload.write_bytes(bytes(data))
    with pytest.warns(CorruptedEntryWarning, match="checksum"):
        again = store.get_or_compute(cfg, compute)
    assert compute.calls == 2 and not again.from_store
    assert list((store.root / ".quarantine").iterdir()), "the bad entry is kept aside, not deleted"
    assert store.get(cfg).from_store


def test_truncated_record_is_detected(store):
    cfg = Toy(x=4.0)
    store.get_or_compute(cfg, Counter())
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
        store.run_all(configs, flaky, progress=False)
    assert [c in store for c in configs] == [True, True, True, False, False]
    assert not list((store.root / "toy").glob(".*tmp-*")), "no half-written entry left behind"
    results = store.run_all(configs, flaky, progress=False)
    assert calls == [0.0, 1.0, 2.0, 3.0, 3.0, 4.0]  # finished runs never recomputed
    assert [r.payload["value"] for r in results] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [r.from_store for r in results] == [True, True, True, False, False]


def test_failed_write_leaves_no_entry(store, monkeypatch):
    cfg = Toy(x=5.0)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pickle, "dump", boom)
    with pytest.raises(OSError):
        store.put(cfg, {"value": 1}, wall_time=0.0)
    assert cfg not in store
    assert not list((store.root / "toy").glob(".*tmp-*"))
