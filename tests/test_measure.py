"""The measure step: λ_max, Tr H, ‖H‖_F, Tr C of stored training runs, through the store."""
import numpy as np
import pytest
import torch
from torch import nn

from replication import measure
from replication.config import ConfigError
from replication.hessian import HessianOperator
from replication.runs import train_all
from replication.store import ResultStore
from replication.train import TrainConfig, load_model, prepare_split

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")


def test_config_validates_and_keys_differ_by_setting():
    a = measure.MeasureConfig(train_key="abc", n_samples=64)
    assert a.key != measure.MeasureConfig(train_key="abc", n_samples=64, which="best").key
    assert a.key != measure.MeasureConfig(train_key="abc", n_samples=64, measures=("lam_max",)).key
    for bad in (dict(which="middle"), dict(measures=("lam_max", "colour")), dict(n_samples=0), dict(trace_hvp=3),
                dict(measures=("trace", "trace"))):
        with pytest.raises(ConfigError):
            measure.MeasureConfig(train_key="abc", **bad)


def test_sample_indices_are_seeded_sorted_and_all_means_none():
    a = measure.sample_indices(1000, 100, 0)
    assert torch.equal(a, measure.sample_indices(1000, 100, 0)) and torch.all(a[1:] > a[:-1])
    assert not torch.equal(a, measure.sample_indices(1000, 100, 1))
    assert measure.sample_indices(1000, 1000, 0) is None


def test_measure_all_matches_a_dense_hessian_and_is_stored(tmp_path, one_thread):
    store = ResultStore(tmp_path / "store")
    base = TrainConfig(dataset="fashion-mnist", n_train=200, n_val=100, model="mlp",
                       model_options={"hidden": (6,)}, lr=0.05, batch_size=20, epochs=2)
    trained = train_all([base, TrainConfig(**{**base.to_dict(), "lr": 1e6, "model_options": {"hidden": (6,)}})],
                        store=store, progress=False)
    kw = dict(n_samples=50, lanczos_tol=1e-6, lanczos_max_iter=200, trace_hvp=300, frobenius_probes=300)
    out = measure_all = measure.measure_all(trained, store=store, **kw)
    assert trained[1].payload["diverged"] and measure_all[1] is None     # a diverged run is not measured
    m = out[0].payload
    # against the dense Hessian of the same sample
    model = load_model(base, trained[0].payload)
    split = prepare_split(base, "cpu")
    idx = measure.sample_indices(split.n_train, 50, 0)
    H = HessianOperator(model, nn.CrossEntropyLoss(), split.x_train, split.y_train, mode="eval", indices=idx)
    dense = torch.stack([H.matvec(e) for e in torch.eye(H.dim)]).double()
    ev = torch.linalg.eigvalsh((dense + dense.T) / 2).numpy()
    assert m["lam_max"] == pytest.approx(ev.max(), rel=1e-3)
    assert m["trace"] == pytest.approx(ev.sum(), rel=0.15)
    assert m["frobenius"] == pytest.approx(float(np.sqrt((ev ** 2).sum())), rel=0.15)
    assert m["trace_C"] > 0 and m["n_samples"] == 50 and m["metrics"]["train_loss"] == trained[0].payload["final"]["train_loss"]
    again = measure.measure_all(trained, store=store, **kw)
    assert again[0].from_store and again[0].payload["lam_max"] == m["lam_max"]
    only = measure.measure_all(trained[:1], store=store, measures=("trace_C",), n_samples=50)[0].payload
    assert "lam_max" not in only and only["trace_C"] == pytest.approx(m["trace_C"])
    best = measure.measure_all(trained[:1], store=store, which="best", **kw)[0].payload
    assert best["metrics"]["epoch"] == trained[0].payload["best_epoch"]
