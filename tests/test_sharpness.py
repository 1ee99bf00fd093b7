"""Chapter "η/S, the width of the minimum and generalization": parameters, the grids, the
end-of-training measures (Tr C two ways against a per-example loop), the statistics and the rules
that turn runs into verdicts, and the chapter's compute at a tiny size through the store."""
import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from replication import models
from replication.chapters import sharpness
from replication.hessian import covariance
from replication.params import ParameterError, resolve
from replication.store import ResultStore

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")


def test_every_profile_resolves_and_the_laptop_grid_is_the_challenge_grid():
    for profile in ("smoke", "laptop", "gpu", "paper"):
        p = resolve(sharpness.SPEC, profile)
        assert len(p.lrs) == len(p.batch_sizes)
    laptop = resolve(sharpness.SPEC, "laptop")
    pairs = set(zip(laptop.lrs, laptop.batch_sizes))
    assert len(pairs) == 16 and pairs == set(sharpness.CHALLENGE_PAIRS)
    assert laptop.depth == 20 and laptop.width == 50 and laptop.seeds >= 2


@pytest.mark.parametrize("explicit, pattern", [
    ({"lrs": [0.1, 0.2, 0.3, 0.4]}, r"^lrs=\[0.1, 0.2, 0.3, 0.4\]: must have one entry per batch size"),
    ({"batch_sizes": [20, 20, 20], "lrs": [0.01, 0.01, 0.01]}, r"pairs must differ"),
    ({"lrs": [0.01, 0.02, 0.03], "batch_sizes": [10, 20, 30]}, r"at least two ratios"),
    ({"batch_sizes": [20, 40, 1000]}, r"every batch size must be <= n_train=400"),
    ({"rescale_betas": [0.5, 1.0, 100.0]}, r"beta=100 gives batch size 2000"),
    ({"hessian_samples": 1000}, r"^hessian_samples=1000: must be <= n_train=400"),
    ({"v3_depth": 3}, r"^v3_depth=3: must be below depth=3"),
    ({"n_train": 59_000, "n_val": 2000}, r"n_train \+ n_val must be <= 60000"),
    ({"init": "orthogonal"}, r"^init='orthogonal': must be a string, one of torch, he, xavier"),
])
def test_bad_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern) as info:
        resolve(sharpness.SPEC, "smoke", explicit)
    assert "\n" not in str(info.value)


def test_grids_pair_lrs_with_batch_sizes_and_share_the_beta_one_run():
    p = resolve(sharpness.SPEC, "smoke", {"rescale_lr": 0.02, "rescale_batch_size": 40})
    g = sharpness.grids(p)
    assert [(lab["eta"], lab["S"]) for lab, _ in g["main"][::p.seeds]] == list(zip(p.lrs, p.batch_sizes))
    assert all(c.lr == lab["eta"] and c.batch_size == lab["S"] and c.seed == lab["seed"] for lab, c in g["main"])
    assert len(g["main"]) == len(p.lrs) * p.seeds and len(g["v3"]) == len(p.lrs) * p.v3_seeds
    assert {c.options["hidden"] for _, c in g["main"]} == {(p.width,) * p.depth}
    assert {c.options["hidden"] for _, c in g["v3"]} == {(p.width,) * p.v3_depth}
    ratios = {lab["eta"] / lab["S"] for lab, _ in g["rescale"]}
    assert max(ratios) == pytest.approx(min(ratios))
    # (0.02, 40) at beta = 1 is also a main-grid pair: the same config, so the same stored run
    keys_main = {c.key for _, c in g["main"]}
    assert any(lab["beta"] == 1.0 and c.key in keys_main for lab, c in g["rescale"])
    assert "v3" not in sharpness.grids(resolve(sharpness.SPEC, "smoke", {"v3_depth": 0}))
    # the registry's default initialization is left out of the options (other chapters' keys)
    torch_init = sharpness.grids(resolve(sharpness.SPEC, "smoke", {"init": "torch"}))
    assert "init" not in torch_init["main"][0][1].options


def _loop_trace_C(model, X, y):
    grads = []
    for i in range(X.shape[0]):
        model.zero_grad()
        nn.functional.cross_entropy(model(X[i:i + 1]), y[i:i + 1]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
    G = torch.stack(grads)
    return float(((G - G.mean(0)) ** 2).sum(1).mean()), float((G ** 2).sum(1).mean())


def test_trace_C_by_outer_products_and_by_vmap_equal_a_per_example_loop():
    model = models.build("mlp", hidden=(7, 5, 6), seed=3)
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 1, 28, 28, generator=gen), torch.randint(0, 10, (40,), generator=gen)
    trace_C, trace_F = _loop_trace_C(model, X, y)
    fast = covariance.gradient_covariance_trace(model, X, y, method="linear", chunk=16)
    generic = covariance.gradient_covariance_trace(model, X, y, method="vmap", chunk=7)
    assert fast["method"] == "linear" and covariance.gradient_covariance_trace(model, X, y)["method"] == "linear"
    for est in (fast, generic):
        assert est["trace_C"] == pytest.approx(trace_C, rel=1e-5)
        assert est["trace_F"] == pytest.approx(trace_F, rel=1e-5)
        assert est["trace_F"] - est["grad_norm2"] == pytest.approx(est["trace_C"], rel=1e-12)
    cnn = models.build("small_cnn", channels=(2,), seed=0)
    assert not covariance._linear_only(cnn)
    assert covariance.gradient_covariance_trace(cnn, X[:6], y[:6])["method"] == "vmap"


def test_sample_indices_are_seeded_sorted_and_all_means_none():
    a = sharpness.sample_indices(1000, 100, 0)
    assert torch.equal(a, sharpness.sample_indices(1000, 100, 0)) and torch.all(a[1:] > a[:-1])
    assert not torch.equal(a, sharpness.sample_indices(1000, 100, 1))
    assert sharpness.sample_indices(1000, 1000, 0) is None


def _rows(values: dict, *, diverged=()):
    """Runs with a measure ``m`` per (eta, S) and seed; everything else derived."""
    rows = []
    for (eta, S), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append(dict(eta=eta, S=S, ratio=eta / S, seed=seed, diverged=(eta, S, seed) in diverged,
                             frobenius=v, lam_max=v, trace=v, val_acc=0.5 + 0.01 * math.log(eta / S),
                             train_loss=1.0, trace_C=v, eta_lam=eta * v, train_acc=0.9))
    return rows


def test_spearman_bootstrap_resamples_seeds_within_pairs_and_the_rules():
    falling = _rows({(0.01, 100): [10.0, 11.0], (0.02, 100): [8.0, 8.5], (0.04, 100): [5.0, 6.0],
                     (0.08, 100): [2.0, 2.5]})
    t = sharpness.spearman_ci(falling, "frobenius")
    assert t["rho"] == pytest.approx(-1.0) and t["hi"] == pytest.approx(-1.0) and t["n_pairs"] == 4
    assert sharpness._trend_verdict(t, -1) == "holds"
    assert sharpness._trend_verdict(t, +1) == "fails: the opposite trend"
    noisy = _rows({(0.01, 100): [1.0, 9.0], (0.02, 100): [2.0, 10.0], (0.04, 100): [7.0, 1.0], (0.08, 100): [6.0, 5.0]})
    t = sharpness.spearman_ci(noisy, "frobenius")
    assert t["lo"] < 0 < t["hi"] and sharpness._trend_verdict(t, -1) == "not shown"
    # a diverged run is left out, not counted as a width
    div = _rows({(0.01, 100): [10.0, 1e9], (0.02, 100): [8.0, 8.5], (0.04, 100): [5.0, 6.0]},
                diverged={(0.01, 100, 1)})
    assert sharpness.spearman_ci(div, "frobenius")["n_runs"] == 5
    assert sharpness.pair_table(div)[0]["frobenius"] == 10.0 and sharpness.pair_table(div)[0]["n_diverged"] == 1


def test_fits_tell_the_ratio_from_eta_alone():
    rng = np.random.default_rng(0)
    pairs = [(eta, S) for eta in (0.005, 0.01, 0.02, 0.05) for S in (50, 100, 500, 1000)]
    by_ratio = _rows({(eta, S): list(3.0 * (eta / S) ** -0.5 * np.exp(0.02 * rng.standard_normal(2)))
                      for eta, S in pairs})
    f = sharpness.fits(by_ratio, "frobenius")
    assert f["r2_ratio"] > 0.95 > f["r2_eta"] and f["lo"] <= 0 <= f["hi"]
    assert f["b"] == pytest.approx(-0.5, abs=0.05) and f["c"] == pytest.approx(0.5, abs=0.05)
    by_eta = _rows({(eta, S): list(2.0 / eta * np.exp(0.02 * rng.standard_normal(2))) for eta, S in pairs})
    f = sharpness.fits(by_eta, "frobenius")
    assert f["r2_eta"] > 0.95 > f["r2_ratio"] and not (f["lo"] <= 0 <= f["hi"])
    # the controlled fit finds the ratio's own slope when the training loss varies independently
    for i, r in enumerate(by_ratio):
        r["train_loss"] = 0.1 * (1 + i % 3)
    c = sharpness.controlled(by_ratio, "frobenius")
    assert c["b"] == pytest.approx(-0.5, abs=0.05) and c["hi"] < 0


def _facts(rescale_lam, rescale_acc, trace_C):
    rows = _rows({(0.01, 100): [10.0, 11.0], (0.02, 100): [8.0, 8.5], (0.04, 100): [5.0, 6.0]})
    resc = []
    for beta, lam, acc in zip((0.5, 1.0, 2.0), rescale_lam, rescale_acc):
        for seed in (0, 1):
            resc.append(dict(eta=0.01 * beta, S=int(50 * beta), ratio=2e-4, beta=beta, seed=seed, diverged=False,
                             frobenius=lam, lam_max=lam, trace=lam, val_acc=acc, train_loss=0.5, train_acc=0.9,
                             trace_C=lam, eta_lam=0.01 * beta * lam))
    for r in rows + resc:
        r["trace_C"] = trace_C * r["trace"]

    @dataclasses.dataclass
    class R:
        runs: dict
        check: list

    return sharpness.summary(R(runs={"main": rows, "rescale": resc}, check=[]))


def test_verdicts_follow_the_written_rules():
    v = {r["claim"]: r["verdict"] for r in sharpness.verdicts(_facts((10.0, 10.0, 12.0), (0.8, 0.805, 0.8), 1.0))}
    assert v["4. ‖H‖_F falls as η/S grows: deep MLP (ICLR)"] == "holds"
    assert v["5. Validation accuracy rises with η/S: deep MLP (ICLR)"] == "holds"
    assert v["7. Same η/S, same width (rescaling η and S by β)"] == "holds: same width, same accuracy"
    assert v["C ≈ H at the end of training (the v3 trace relation's assumption)"] == "holds"
    v = {r["claim"]: r["verdict"] for r in sharpness.verdicts(_facts((20.0, 10.0, 4.0), (0.8, 0.8, 0.795), 5.0))}
    assert v["7. Same η/S, same width (rescaling η and S by β)"].startswith("fails for width")
    assert v["C ≈ H at the end of training (the v3 trace relation's assumption)"] == "fails"
    v = {r["claim"]: r["verdict"] for r in sharpness.verdicts(_facts((10.0, 10.0, 10.0), (0.7, 0.8, 0.9), 1.0))}
    assert v["7. Same η/S, same width (rescaling η and S by β)"] == "width stays, accuracy moves"
    assert "| claim | rule | evidence | verdict |" in sharpness.verdict_table(_facts((10, 10, 10), (0.8,) * 3, 1.0))


def test_compute_at_a_tiny_size_through_the_store(tmp_path):
    p = resolve(sharpness.SPEC, "smoke", {"lrs": [0.05, 0.02, 0.01], "batch_sizes": [50, 100, 200],
                                          "seeds": 2, "v3_depth": 0, "rescale_betas": [1.0, 2.0],
                                          "rescale_seeds": 2, "rescale_lr": 0.05, "rescale_batch_size": 50,
                                          "n_train": 400, "hessian_samples": 32})
    store = ResultStore(tmp_path / "store")
    res = sharpness.compute(p, store=store, progress=False)
    assert set(res.runs) == {"main", "rescale"} and len(res.runs["main"]) == 6 and len(res.runs["rescale"]) == 4
    row = res.runs["main"][0]
    assert row["n_samples"] == 32 and row["lam_max"] > 0 and row["trace_C"] > 0
    assert row["eta_lam"] == pytest.approx(row["eta"] * row["lam_max"])
    # beta = 1 is the main grid's (0.05, 50): computed once
    assert res.computed == 6 + 2 + 6 + 2 + 2 and len(res.check) == 2
    assert all(c["n_full"] == 400 for c in res.check)
    again = sharpness.compute(p, store=store, progress=False)
    assert again.computed == 0 and again.runs["main"][3]["frobenius"] == res.runs["main"][3]["frobenius"]
    facts = sharpness.summary(res)
    assert "| network |" in sharpness.trend_table(facts)
    assert sharpness.pairs_table(facts["main"]["pairs"]).count("\n") == 2 + 3 - 1
    assert "whole training set" in sharpness.check_table(facts["check"], 32)
    from replication import plots_sharpness as plots

    for fig in (plots.figure1(res.runs["main"], facts["main"]["pairs"], title="t"),
                plots.edge_of_stability(res.runs), plots.rescaling(res.runs["rescale"], facts["rescale"]["pairs"]),
                plots.c_versus_h(res.runs)):
        plots.footer(fig, res.provenance, profile="smoke", seeds=2)
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_vectorized_spearman_equals_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    x = np.array([1, 2, 2, 3, 4, 5, 5, 6.0])
    Y = rng.integers(0, 4, (20, 8)).astype(float)
    got = sharpness._spearman_rows(x, Y)
    for row, value in zip(Y, got):
        want = spearmanr(x, row).statistic
        assert (math.isnan(want) and math.isnan(value)) or value == pytest.approx(want, abs=1e-12)
    assert math.isnan(sharpness._spearman(x, np.ones(8)))
