"""replication.hessian against dense Hessians, closed forms, finite differences and known spectra.

Conventions checked here: the loss is the size-weighted mean over samples; "½ MSE" below is
loss_fn(out, y) = 0.5 * mean((out - y)^2), whose Hessian for a bias-free linear model is X^T X / N
(torch's nn.MSELoss has no ½: 2 X^T X / N).
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from replication.hessian import (
    HessianOperator,
    frobenius_norm,
    hutchinson_trace,
    hutchpp_trace,
    lanczos,
    power_iteration,
    spectral_density,
)
from replication.hessian.operator import resolve_method

torch.set_num_threads(1)
# torch.func's decompositions (used by the dense references) call the deprecated torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")

F64 = torch.float64


# ---------------------------------------------------------------- fixtures and references
def mlp(act: type[nn.Module], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), act(), nn.Linear(8, 3))


def cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def data(kind: str, n: int = 13, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 1, 6, 6) if kind == "cnn" else (n, 5)
    return torch.randn(shape, generator=g), torch.randint(0, 3, (n,), generator=g)


MODELS = {
    "mlp-tanh": (lambda: mlp(nn.Tanh), "mlp"),
    "mlp-relu": (lambda: mlp(nn.ReLU), "mlp"),
    "cnn": (cnn, "cnn"),
}


def dense_hessian(model, loss_fn, X, y) -> torch.Tensor:
    """Independent reference: torch.func.hessian of the loss as a function of the flat θ (float64).

    Eval mode only: for train-mode batch norm, torch.func's vmap-based jacrev/jacfwd give a wrong
    Hessian in torch 2.14 (off by ~0.2 against finite differences), so that case is checked
    against finite differences instead (``fd_hvp``).
    """
    m = copy.deepcopy(model).to(F64).eval()
    named = [(n, p) for n, p in m.named_parameters()]
    sizes = [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])
    Xd = X.to(F64)
    yd = y.to(F64) if y.is_floating_point() else y

    def loss(flat):
        params = {n: c.view(p.shape) for (n, p), c in zip(named, torch.split(flat, sizes))}
        return loss_fn(functional_call(m, params, (Xd,)), yd)

    return torch.func.hessian(loss)(theta)


def fd_hvp(model, loss_fn, X, y, v, train: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """[∇L(θ+εv) − ∇L(θ−εv)] / (2ε) with plain autograd on a float64 copy (buffers untouched)."""
    theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach().to(F64)
    return (flat_grad(model, loss_fn, X, y, theta + eps * v, train)
            - flat_grad(model, loss_fn, X, y, theta - eps * v, train)) / (2 * eps)


def flat_grad(model, loss_fn, X, y, theta, train: bool = False) -> torch.Tensor:
    m = copy.deepcopy(model).to(F64).train(train)
    torch.nn.utils.vector_to_parameters(theta, m.parameters())
    loss = loss_fn(m(X.to(F64)), y)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(m.parameters()))])


def random_symmetric(eigenvalues, seed: int) -> torch.Tensor:
    lam = torch.as_tensor(eigenvalues, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), generator=g, dtype=F64))
    A = (Q * lam) @ Q.T
    return 0.5 * (A + A.T)


@pytest.fixture(scope="module")
def tanh_case():
    model = mlp(nn.Tanh)
    X, y = data("mlp")
    loss_fn = nn.CrossEntropyLoss()
    return model, loss_fn, X, y, dense_hessian(model, loss_fn, X, y)


# ---------------------------------------------------------------- Hessian-vector products
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("method", ["double_backward", "func"])
def test_hvp_matches_dense_hessian(name, method):
    make, kind = MODELS[name]
    model = make()
    X, y = data(kind)
    loss_fn = nn.CrossEntropyLoss()
    D = dense_hessian(model, loss_fn, X, y)
    g = torch.Generator().manual_seed(5)
    v = torch.randn(D.shape[0], generator=g, dtype=F64)
    H64 = HessianOperator(model, loss_fn, X, y, mode="eval", method=method, dtype=F64)
    assert H64.dim == D.shape[0]
    for _ in range(2):  # the second call reuses the cached graph (double backward)
        assert torch.allclose(H64.matvec(v), D @ v, rtol=1e-10, atol=1e-12)
    assert H64.n_hvp == 2
    H32 = HessianOperator(model, loss_fn, X, y, mode="eval", method=method)
    hv32 = H32.matvec(v)
    assert hv32.dtype == torch.float32
    assert torch.allclose(hv32.double(), D @ v, rtol=1e-4, atol=1e-5 * D.abs().max().item())
    assert torch.allclose(H64.to_dense(), D, atol=1e-12)


@pytest.mark.parametrize("method", ["double_backward", "func"])
def test_short_last_batch_is_weighted_by_size(method, tanh_case):
    model, loss_fn, X, y, D = tanh_case  # 13 samples: batches of 4, 4, 4, 1
    v = torch.randn(D.shape[0], generator=torch.Generator().manual_seed(2), dtype=F64)
    full = HessianOperator(model, loss_fn, X, y, mode="eval", method=method, dtype=F64).matvec(v)
    batched = HessianOperator(model, loss_fn, X, y, mode="eval", method=method, dtype=F64, batch_size=4)
    assert batched.n_batches == 4
    assert torch.allclose(batched.matvec(v), full, rtol=1e-10, atol=1e-13)
    assert torch.allclose(full, D @ v, rtol=1e-10, atol=1e-13)
    # an unweighted mean over the 4 batch Hessians would be wrong by far more than the tolerance
    naive = sum(dense_hessian(model, loss_fn, X[s:s + 4], y[s:s + 4]) for s in range(0, 13, 4)) / 4
    assert (naive @ v - full).norm() > 1e-3 * full.norm()
    if method == "double_backward":  # all graphs cached
        cached = HessianOperator(model, loss_fn, X, y, mode="eval", dtype=F64, batch_size=4, cache_graph=True)
        assert torch.allclose(cached.matvec(v), full, rtol=1e-10, atol=1e-13)
        assert torch.allclose(cached.matvec(v), full, rtol=1e-10, atol=1e-13)


def test_operator_is_a_snapshot_of_theta(tanh_case):
    model, loss_fn, X, y, D = tanh_case
    model = copy.deepcopy(model)
    v = torch.randn(D.shape[0], generator=torch.Generator().manual_seed(1))
    for method in ("double_backward", "func"):
        H = HessianOperator(model, loss_fn, X, y, mode="eval", method=method)
        before = H.matvec(v)
        with torch.no_grad():
            model[0].weight.add_(1.0)
        assert torch.equal(H.matvec(v), before)


def test_subset_indices(tanh_case):
    model, loss_fn, X, y, _ = tanh_case
    idx = [0, 3, 4, 9, 12]
    D = dense_hessian(model, loss_fn, X[idx], y[idx])
    H = HessianOperator(model, loss_fn, X, y, mode="eval", dtype=F64, indices=idx)
    assert H.n_samples == 5
    assert torch.allclose(H.to_dense(), D, atol=1e-12)


def test_linear_regression_closed_form():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 6, generator=g, dtype=F64), torch.randn(40, 1, generator=g, dtype=F64)
    model = nn.Linear(6, 1, bias=False).to(F64)
    half_mse = lambda out, target: 0.5 * ((out - target) ** 2).mean()  # noqa: E731
    H = HessianOperator(model, half_mse, X, y, mode="eval", batch_size=7)
    expected = X.T @ X / 40
    assert torch.allclose(H.to_dense(), expected, atol=1e-13)
    H2 = HessianOperator(model, nn.MSELoss(), X, y, mode="eval")
    assert torch.allclose(H2.to_dense(), 2 * expected, atol=1e-13)
    top = lanczos(H, k=2, tol=1e-10)
    assert np.allclose(top.eigenvalues, torch.linalg.eigvalsh(expected).flip(0)[:2].numpy(), rtol=1e-9)
    with pytest.raises(ValueError, match="reduction"):
        HessianOperator(model, nn.MSELoss(reduction="sum"), X, y, mode="eval")


def test_logistic_regression_closed_form():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(50, 4, generator=g, dtype=F64)
    y = (torch.rand(50, 1, generator=g, dtype=F64) < 0.5).to(F64)
    model = nn.Linear(4, 1, bias=False).to(F64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0, 0.3, 2.0]]))
    for method in ("double_backward", "func"):
        H = HessianOperator(model, nn.BCEWithLogitsLoss(), X, y, mode="eval", method=method)
        p = torch.sigmoid(X @ model.weight.detach().T).squeeze(1)
        expected = X.T @ (X * (p * (1 - p))[:, None]) / 50
        assert torch.allclose(H.to_dense(), expected, atol=1e-13)


def test_finite_difference_agrees_with_exact_hvp(tanh_case):
    model, loss_fn, X, y, _ = tanh_case
    H = HessianOperator(model, loss_fn, X, y, mode="eval", dtype=F64)
    theta = H.parameters_vector()
    fd_theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach().to(F64)
    for seed in range(3):
        v = torch.randn(H.dim, generator=torch.Generator().manual_seed(seed), dtype=F64)
        v /= v.norm()
        eps = 1e-5
        fd = fd_hvp(model, loss_fn, X, y, v, eps=eps)
        assert torch.equal(theta, fd_theta)
        exact = H.matvec(v)
        assert (fd - exact).norm() <= 1e-7 * exact.norm()
    assert torch.allclose(H.gradient(), flat_grad(model, loss_fn, X, y, theta), atol=1e-14)


# ---------------------------------------------------------------- spectra of real Hessians
@pytest.mark.parametrize("name", list(MODELS))
def test_eigenvalues_trace_frobenius_match_dense(name):
    make, kind = MODELS[name]
    model = make()
    X, y = data(kind)
    loss_fn = nn.CrossEntropyLoss()
    D = dense_hessian(model, loss_fn, X, y)
    ev = torch.linalg.eigvalsh(D).flip(0).numpy()
    H = HessianOperator(model, loss_fn, X, y, mode="eval", dtype=F64)
    top = lanczos(H, k=3, tol=1e-9)
    assert top.all_converged and top.mode == "eval"
    assert np.allclose(top.eigenvalues, ev[:3], rtol=1e-8, atol=1e-12)
    assert top.n_hvp == H.n_hvp <= H.dim
    # float32 operator (the default): same values to float32 accuracy
    top32 = lanczos(HessianOperator(model, loss_fn, X, y, mode="eval"), k=3, tol=1e-4)
    assert np.allclose(top32.eigenvalues, ev[:3], rtol=2e-4)
    # power iteration finds the largest-magnitude eigenvalue
    lm = ev[np.argmax(np.abs(ev))]
    pw = power_iteration(H, k=1, tol=1e-7, criterion="residual", max_iter=3000)
    assert pw.converged[0]
    assert abs(pw.eigenvalues[0] - lm) <= 1e-6 * abs(lm)
    # trace and Frobenius norm: within 4 standard errors (deterministic seed) and the error bar is honest
    tr, fro = float(np.trace(D.numpy())), float(torch.linalg.norm(D))
    est = hutchinson_trace(H, n_probes=400, seed=3)
    assert abs(est.estimate - tr) <= 4 * est.stderr and est.stderr < 0.2 * abs(tr) + 0.2 * fro
    est_pp = hutchpp_trace(H, n_hvp=3 * 40, seed=3)
    assert abs(est_pp.estimate - tr) <= 4 * est_pp.stderr + 1e-9
    f = frobenius_norm(H, n_probes=400, seed=3)
    assert abs(f.estimate - fro) <= 4 * f.stderr and f.stderr < 0.05 * fro


def test_hutchinson_and_frobenius_error_bars_cover_at_stated_rate(tanh_case):
    D = tanh_case[4]
    tr, fro2 = float(torch.trace(D)), float((D ** 2).sum())
    seeds, n = 300, 30
    cover = {"trace-rad": 0, "trace-gauss": 0, "fro2-rad": 0, "fro2-gauss": 0}
    for s in range(seeds):
        for dist, tag in (("rademacher", "rad"), ("gaussian", "gauss")):
            t = hutchinson_trace(D, n_probes=n, seed=s, distribution=dist)
            lo, hi = t.interval(1.96)
            cover[f"trace-{tag}"] += lo <= tr <= hi
            f = frobenius_norm(D, n_probes=n, seed=s, distribution=dist)
            cover[f"fro2-{tag}"] += abs(f.squared - fro2) <= 1.96 * f.squared_stderr
    rates = {k: v / seeds for k, v in cover.items()}
    # nominal 95 %; n = 30 and skewed terms cost a little. A stderr off by √n would give ~100 % or ~30 %.
    assert all(0.88 <= r <= 0.99 for r in rates.values()), rates


def test_rademacher_estimates_are_exact_on_diagonal_matrices():
    # v_i^2 = 1: v^T D v = tr D and ||D v||^2 = ||D||_F^2 for every Rademacher probe
    d = torch.linspace(-3.0, 5.0, 50, dtype=F64)
    t = hutchinson_trace(torch.diag(d), n_probes=5, seed=1)
    assert math.isclose(t.estimate, float(d.sum()), rel_tol=1e-12, abs_tol=1e-12) and t.stderr < 1e-12
    f = frobenius_norm(torch.diag(d), n_probes=5, seed=1)
    assert math.isclose(f.squared, float((d ** 2).sum()), rel_tol=1e-12) and f.squared_stderr < 1e-10
    assert math.isclose(f.estimate, float(d.norm()), rel_tol=1e-12)
    g = frobenius_norm(torch.diag(d), n_probes=5, seed=1, distribution="gaussian")
    assert g.squared_stderr > 1.0  # Gaussian probes are not exact


def test_hutchpp_beats_hutchinson_on_decaying_spectrum():
    lam = 100.0 * 0.5 ** np.arange(60)
    A = random_symmetric(lam, seed=4)
    truth = float(lam.sum())
    errs_h, errs_pp = [], []
    for s in range(10):
        errs_h.append(abs(hutchinson_trace(A, n_probes=30, seed=s).estimate - truth))
        pp = hutchpp_trace(A, n_hvp=30, seed=s)
        assert pp.n_hvp == 30 and pp.n_probes == 20
        errs_pp.append(abs(pp.estimate - truth))
    assert np.mean(errs_pp) < 0.01 * np.mean(errs_h)


# ---------------------------------------------------------------- Lanczos on known spectra
def spectra(n: int = 120):
    rng = np.random.default_rng(0)
    bulk = rng.uniform(-1.0, 3.0, n)
    separated = np.concatenate([[20.0, 15.0, 11.0, 8.0, 6.0], bulk[5:]])
    clustered = np.concatenate([[10.0, 10.0 - 1e-3, 10.0 - 2e-3, 9.0, 9.0 - 1e-4], bulk[5:]])
    negative = np.concatenate([[-30.0, -25.0, 7.0, 6.5, 5.0], bulk[5:]])
    return {"separated": separated, "clustered": clustered, "negative": negative}


@pytest.mark.parametrize("spectrum", ["separated", "clustered", "negative"])
@pytest.mark.parametrize("seed", range(4))
def test_lanczos_known_spectra(spectrum, seed):
    lam = spectra()[spectrum]
    A = random_symmetric(lam, seed=seed)
    calls = []

    def matvec(v):
        calls.append(1)
        return A @ v

    normA = float(np.abs(lam).max())
    for which, order in (("LA", np.sort(lam)[::-1]), ("SA", np.sort(lam)),
                         ("LM", lam[np.argsort(-np.abs(lam), kind="stable")])):
        calls.clear()
        res = lanczos(matvec, dim=len(lam), k=4, which=which, tol=1e-10, seed=seed)
        assert res.n_hvp == len(calls)
        assert res.all_converged
        assert np.allclose(res.eigenvalues, order[:4], rtol=0, atol=1e-8 * normA), (which, res.eigenvalues)
        V = res.eigenvectors
        true_res = [float((A @ v - t * v).norm()) for t, v in zip(res.eigenvalues, V)]
        assert np.allclose(res.residuals, true_res, rtol=0, atol=1e-10 * normA)
        assert torch.allclose(V @ V.T, torch.eye(4, dtype=F64), atol=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_lanczos_reports_unconverged_residuals_truthfully(seed):
    lam = spectra()["clustered"]
    A = random_symmetric(lam, seed=seed)
    res = lanczos(A, k=3, tol=1e-10, max_iter=6, seed=seed)
    assert res.n_iter == 6 and not res.all_converged
    true_res = [float((A @ v - t * v).norm()) for t, v in zip(res.eigenvalues, res.eigenvectors)]
    assert max(true_res) > 1e-3  # genuinely unconverged
    assert np.allclose(res.residuals, true_res, rtol=1e-6, atol=1e-12)
    assert all(c == (r <= 1e-10 * abs(t)) for c, r, t in zip(res.converged, res.residuals, res.eigenvalues))
    explicit = lanczos(A, k=3, tol=1e-10, max_iter=6, seed=seed, explicit_residuals=True)
    assert explicit.n_hvp == 6 + 3 and explicit.residuals_kind == "explicit"
    assert np.allclose(explicit.residuals, true_res, rtol=1e-10, atol=1e-13)


def test_lanczos_invariant_subspaces_and_multiplicity():
    # 4 distinct eigenvalues: Krylov spaces become invariant after 4 steps; top-6 needs restarts
    lam = np.repeat([5.0, 2.0, 1.0, -1.0], [10, 20, 30, 40])
    A = random_symmetric(lam, seed=0)
    res = lanczos(A, k=6, tol=1e-10, seed=1)
    assert np.allclose(res.eigenvalues, 5.0, atol=1e-9) and res.all_converged
    # a start vector inside an invariant subspace (an eigenvector of 2) must not end the search
    lam2 = np.array([5.0, 2.0] + list(np.linspace(-1, 1, 30)))
    B = random_symmetric(lam2, seed=2)
    v2 = torch.linalg.eigh(B).eigenvectors[:, -2]
    top = lanczos(B, k=1, tol=1e-10, v0=v2)
    assert math.isclose(top.eigenvalues[0], 5.0, rel_tol=1e-9) and top.n_hvp > 1
    sd = spectral_density(A, n_probes=20, n_iter=30, seed=0)
    for nodes, weights in zip(sd.nodes, sd.weights):
        assert len(nodes) == 4 and np.allclose(sorted(nodes), [-1.0, 1.0, 2.0, 5.0], atol=1e-9)
        assert math.isclose(sum(weights), 1.0, rel_tol=1e-12)
    mean_w = np.mean([np.array(w)[np.argsort(nd)] for nd, w in zip(sd.nodes, sd.weights)], axis=0)
    assert np.allclose(mean_w, [0.4, 0.3, 0.2, 0.1], atol=0.04)
    grid = np.linspace(-3, 7, 2001)
    assert math.isclose(np.trapezoid(sd.density(grid, 0.1), grid) if hasattr(np, "trapezoid")
                        else np.trapz(sd.density(grid, 0.1), grid), 1.0, rel_tol=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_lanczos_does_not_stop_before_a_hidden_top_eigenvalue_appears(seed):
    # top-3 of 10, 9.5, 9, 8.5 above a bulk in [-1, 3]; the start vector has a component of only
    # 1e-6 along the eigenvector of 9.5, so the Krylov space reveals 9.5 late
    lam = np.concatenate([[10.0, 9.5, 9.0, 8.5], np.random.default_rng(0).uniform(-1.0, 3.0, 116)])
    A = random_symmetric(lam, seed=seed)
    hidden = torch.linalg.eigh(A).eigenvectors[:, -2]
    v0 = torch.randn(len(lam), generator=torch.Generator().manual_seed(seed + 10), dtype=F64)
    v0 -= (hidden @ v0) * hidden
    v0 = v0 / v0.norm() + 1e-6 * hidden
    steps = []
    res = lanczos(A, k=3, tol=1e-3, v0=v0, callback=lambda n, h, v, r: steps.append((n, v.copy(), r.copy())))
    # the plain residual rule (stop once the k reported pairs are converged) would have returned
    # 10, 9, 8.5 with every residual under tolerance
    n_plain, plain = next((n, v) for n, v, r in steps if np.all(r <= 1e-3 * np.abs(v)))
    assert np.allclose(plain, [10.0, 9.0, 8.5], rtol=1e-3) and n_plain < res.n_iter
    assert res.all_converged
    assert np.allclose(res.eigenvalues, [10.0, 9.5, 9.0], rtol=1e-3), res.eigenvalues


def test_power_iteration_deflation_and_pyhessian_rule():
    lam = spectra()["separated"]
    A = random_symmetric(lam, seed=1)
    res = power_iteration(A, k=3, tol=1e-9, criterion="residual", max_iter=2000, seed=0)
    # deflation leaks: eigenpair i cannot get its residual below about that of pair i-1
    assert res.converged[0] and res.which == "LM" and max(res.residuals) < 1e-7
    assert np.allclose(res.eigenvalues, [20.0, 15.0, 11.0], atol=1e-7)
    V = res.eigenvectors
    assert np.allclose(res.residuals, [float((A @ v - t * v).norm()) for t, v in zip(res.eigenvalues, V)],
                       atol=1e-12)
    loose = power_iteration(A, k=1, tol=1e-3, criterion="rayleigh", seed=0)  # PyHessian's default rule
    assert loose.n_hvp < res.n_hvp
    assert loose.converged[0] == (loose.residuals[0] <= 1e-3 * abs(loose.eigenvalues[0]))


# ---------------------------------------------------------------- mode, dtype, determinism, records
def test_dropout_in_train_mode_is_refused_and_mode_is_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 3))
    X, y = data("mlp")
    with pytest.raises(ValueError, match="dropout"):
        HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="train")
    with pytest.raises(ValueError, match="mode must be given"):
        HessianOperator(model, nn.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="mode"):
        HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="inference")
    model.train()
    model[0].eval()  # mixed flags must come back as they were
    nodrop = nn.Sequential(model[0], model[1], model[3])
    D = dense_hessian(nodrop, nn.CrossEntropyLoss(), X, y)
    for dtype in (None, F64):  # the user's model itself (float32) or a float64 copy
        H = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="eval", dtype=dtype)
        v = torch.randn(H.dim, generator=torch.Generator().manual_seed(0)).to(H.dtype)
        a, b = H.matvec(v), H.matvec(v)
        assert torch.equal(a, b)  # dropout off: deterministic
        assert torch.allclose(a.double(), D @ v.double(), rtol=1e-5 if dtype is None else 1e-12, atol=1e-7)
        assert [m.training for m in model.modules()] == [True, False, True, True, True]
        assert next(model.parameters()).dtype == torch.float32  # user's model not cast
    # p = 0 dropout is inactive: train mode allowed
    zero = nn.Sequential(nn.Linear(5, 3), nn.Dropout(0.0))
    HessianOperator(zero, nn.CrossEntropyLoss(), X, y, mode="train")


@pytest.mark.parametrize("method", ["double_backward", "func"])
def test_batchnorm_train_mode_allowed_recorded_and_side_effect_free(method):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).eval()
    with torch.no_grad():
        model[1].running_mean.fill_(0.3)
        model[1].running_var.fill_(2.0)
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = data("mlp")
    H = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="train", method=method, dtype=F64)
    assert H.info()["batchnorm_in_train_mode"] and H.info()["mode"] == "train"
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(0), dtype=F64)
    hv_train = H.matvec(v)
    fd = fd_hvp(model, nn.CrossEntropyLoss(), X, y, v, train=True)
    assert (hv_train - fd).norm() <= 1e-7 * fd.norm()
    H_eval = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="eval", method=method, dtype=F64)
    hv_eval = H_eval.matvec(v)
    assert torch.allclose(hv_eval, dense_hessian(model, nn.CrossEntropyLoss(), X, y) @ v, atol=1e-11)
    assert (hv_train - hv_eval).norm() > 1e-3 * hv_eval.norm()
    assert not model.training and not any(m.training for m in model.modules())
    for k, val in model.state_dict().items():  # running statistics untouched
        assert torch.equal(val, buffers[k]), k
    assert lanczos(H, k=1, tol=1e-6).mode == "train"
    H32 = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="train", method=method)  # no copy
    hv32 = H32.matvec(v.float())
    assert torch.allclose(hv32.double(), hv_train, rtol=1e-4, atol=1e-6)
    assert not any(m.training for m in model.modules())
    for k, val in model.state_dict().items():
        assert torch.equal(val, buffers[k]), k


def test_same_seed_same_results_and_json_records(tanh_case):
    model, loss_fn, X, y, _ = tanh_case
    make = lambda: HessianOperator(model, loss_fn, X, y, mode="eval")  # noqa: E731
    runs = [
        lambda H, s: lanczos(H, k=2, tol=1e-5, seed=s),
        lambda H, s: power_iteration(H, k=2, seed=s),
        lambda H, s: hutchinson_trace(H, n_probes=10, seed=s),
        lambda H, s: hutchpp_trace(H, n_hvp=12, seed=s),
        lambda H, s: frobenius_norm(H, n_probes=10, seed=s, distribution="gaussian"),
        lambda H, s: spectral_density(H, n_probes=2, n_iter=8, seed=s),
    ]
    for run in runs:
        first, second, other = run(make(), 7), run(make(), 7), run(make(), 8)
        assert first.to_dict() == second.to_dict()
        assert first.to_dict() != other.to_dict()
        record = json.loads(json.dumps(first.to_dict()))
        assert record == first.to_dict() and record["mode"] == "eval"
    top = lanczos(make(), k=2, tol=1e-5, seed=7)
    assert "eigenvectors" not in top.to_dict() and top.eigenvectors.shape == (2, make().dim)


def test_method_choice_and_scipy_view(tanh_case):
    from scipy.sparse.linalg import eigsh

    model, loss_fn, X, y, D = tanh_case
    assert resolve_method("auto") == "double_backward"
    with pytest.raises(ValueError, match="method"):
        resolve_method("finite_difference")
    H = HessianOperator(model, loss_fn, X, y, mode="eval", dtype=F64)
    assert H.method == "double_backward" and H.info()["method"] == "double_backward"
    top = eigsh(H.as_scipy(), k=1, which="LA", tol=1e-12)[0][0]
    assert math.isclose(top, float(torch.linalg.eigvalsh(D)[-1]), rel_tol=1e-9)


def test_one_batching_rule_for_every_hessian_over_many_samples():
    """hessian.batch_size_for is the rule the measurements and the interpolation endpoints use:
    one batch up to BATCH samples, batches of BATCH beyond (the training probes and the bill use it too)."""
    from replication.hessian import batch_size_for
    from replication.hessian.operator import BATCH

    assert batch_size_for(1) is None and batch_size_for(BATCH) is None and batch_size_for(BATCH + 1) == BATCH
