"""Extreme eigenvalues of a symmetric operator: Lanczos (ours) and power iteration (PyHessian's).

Lanczos with full reorthogonalization
    Krylov basis q_1..q_m kept in the operator's dtype, every new vector orthogonalized twice
    (classical Gram–Schmidt) against all previous ones; the tridiagonal T_m (α_j, β_j) is kept in
    float64 and diagonalized by ``scipy.linalg.eigh_tridiagonal`` after every step.  For a Ritz pair
    (θ_i, y_i = Q_m s_i) the residual is ||A y_i − θ_i y_i|| = |β_m| · |e_m^T s_i| (exact in exact
    arithmetic; with full reorthogonalization it matches the recomputed residual up to rounding,
    ≈ eps·||A||, which the tests check; the rounding error of a float32 HVP itself, ~1e-7·||H||
    per entry, is not in it: ``explicit_residuals=True`` recomputes).

Stopping rule: the k wanted Ritz pairs and the next one
    It stops when the k wanted Ritz pairs *and the (k+1)-th* (in the order of ``which``) all have
    residual ≤ tol·|θ_i| + atol.  A residual r bounds the distance to *some* eigenvalue,
    |λ − θ| ≤ r, but does not show that none is missing: in K_m(A, q_1) the weight of an eigenvector
    v_j grows like |v_j^T q_1| · T_{m−1}(1 + 2γ_j) (Chebyshev polynomial, γ_j the relative gap), so
    when v_j^T q_1 is small, k other Ritz pairs can converge first and λ_j is skipped (issue 25:
    top-5 of the benchmark Hessian stopped after 13 HVPs with λ_6 in place of λ_5, every residual
    ≤ 1e-3·θ).  Asking the (k+1)-th pair to converge as well makes the space resolve one eigenvalue
    beyond θ_k, and those are the steps in which a skipped λ_j > θ_k gets amplified.  It is a
    safeguard, not a proof (a start vector exactly orthogonal to v_j never reveals it in exact
    arithmetic).  Chosen by measurement on ``benchmarks/bench_hessian.py`` (seed 0, one float32
    Lanczos trajectory, all rules replayed on it): the plain rule stopped at 13 HVPs with λ_5
    missing; an ARPACK-style minimum size m ≥ 2k+1 = 11 stops there too; the (k+1)-th rule stops at
    18 with all five within 1e-3 (the estimates stay within 1e-3 from step 16); for k = 1 it costs
    12 HVPs instead of 8.  A probe block (a fresh random start orthogonal to the basis, exact
    Rayleigh–Ritz over both blocks, stopping once its best Ritz value converges below θ_k) also
    catches exactly orthogonal starts, but on the dense test of ``tests/test_hessian.py``
    (n = 120, top-3, tol 1e-3) it needed 40–120 operator applications against 16–20, because the
    probe's best Ritz value has to converge inside the bulk of the spectrum.
    When a Krylov space becomes invariant (β ≈ 100·eps·||T||: a start vector in an invariant
    subspace, or repeated eigenvalues), the run continues from a random vector orthogonal to the
    basis, and stops only once such a fresh block's converged best Ritz value would not enter the
    top k, so that multiplicities are counted.

Power iteration (as in PyHessian)
    v ← Hv/||Hv|| from a Gaussian start; top-k by deflation (the iterate is orthogonalized against
    the eigenvectors already found).  PyHessian's stopping rule is the relative change of the
    Rayleigh quotient, |λ_t − λ_{t−1}| / (|λ_{t−1}| + 1e-6) < tol (``criterion="rayleigh"``); a
    residual rule is also offered.  The reported residual belongs to the returned vector; its
    ``converged`` flag is always the residual test, whatever the stopping rule.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal

from ._linop import Operator, as_operator, dot, generator, norm, orthogonalize_
from .results import EigenResult

WHICH = ("LA", "SA", "LM")


class _Basis:
    """Rows q_1..q_m in a buffer that grows geometrically."""

    def __init__(self, dim: int, dtype, device, capacity: int = 16):
        self._Q = torch.empty((max(1, capacity), dim), dtype=dtype, device=device)
        self.m = 0

    def append(self, q: torch.Tensor) -> None:
        if self.m == self._Q.shape[0]:
            grown = torch.empty((2 * self.m, self._Q.shape[1]), dtype=self._Q.dtype, device=self._Q.device)
            grown[: self.m] = self._Q
            self._Q = grown
        self._Q[self.m] = q
        self.m += 1

    @property
    def rows(self) -> torch.Tensor:
        return self._Q[: self.m]


def _tridiagonal_eig(alphas, betas) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(alphas, dtype=np.float64)
    if d.size == 1:
        return d.copy(), np.ones((1, 1))
    return eigh_tridiagonal(d, np.asarray(betas[: d.size - 1], dtype=np.float64))


def _select(theta: np.ndarray, which: str, k: int) -> np.ndarray:
    if which == "LA":
        order = np.argsort(-theta, kind="stable")
    elif which == "SA":
        order = np.argsort(theta, kind="stable")
    else:
        order = np.argsort(-np.abs(theta), kind="stable")
    return order[:k]


def _wanted_ritz(alphas, betas, beta_next: float, which: str, k: int):
    """Wanted Ritz values θ_i (ordered), residual norms |β_next · e_m^T s_i|, and S[:, idx]."""
    theta, S = _tridiagonal_eig(alphas, betas)
    idx = _select(theta, which, k)
    return theta[idx], np.abs(beta_next * S[-1, idx]), S[:, idx]


def _random_unit(op: Operator, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(op.dim, generator=gen, dtype=torch.float64).to(op.device, op.dtype)
    return v / norm(v)


def lanczos_process(op: Operator, q0: torch.Tensor, max_steps: int, gen: torch.Generator,
                    stop: Callable | None = None, restart: bool = True):
    """Run Lanczos with full reorthogonalization from unit q0.

    ``stop(alphas, betas, beta_next, block_start, breakdown)`` is called after every step and ends
    the run when true.  At an invariant subspace (β ≈ 0, ``breakdown``) the run either restarts
    with a random vector orthogonal to the basis (β recorded as 0, a new block starts at index
    ``block_start``; ``restart=True``) or ends.  Returns (basis, alphas, betas, beta_next) with
    len(betas) == len(alphas) − 1 and beta_next the coupling to the next vector.
    """
    eps = torch.finfo(op.dtype).eps
    basis = _Basis(op.dim, op.dtype, op.device, capacity=min(max_steps, 16))
    alphas: list[float] = []
    betas: list[float] = []
    q = q0
    beta_next = 0.0
    block_start = 0
    last = min(max_steps, op.dim)
    for j in range(last):
        basis.append(q)
        w = op(q)
        alpha = dot(w, q)
        w.sub_(q, alpha=alpha)
        if j > block_start:
            w.sub_(basis.rows[j - 1], alpha=betas[-1])
        orthogonalize_(w, basis.rows)
        beta_next = norm(w)
        alphas.append(alpha)
        scale = max(abs(a) for a in alphas) + (max(betas) if betas else 0.0)
        breakdown = beta_next <= 100 * eps * max(scale, np.finfo(float).tiny)
        if breakdown:
            beta_next = 0.0
        if stop is not None and stop(alphas, betas, beta_next, block_start, breakdown):
            break
        if j + 1 == last:
            break
        if breakdown:
            if not restart:
                break
            w = _random_unit(op, gen)
            orthogonalize_(w, basis.rows)
            q = w / norm(w)
            betas.append(0.0)
            block_start = j + 1
            continue
        betas.append(beta_next)
        q = w / beta_next
    return basis, alphas, betas, beta_next


def _key(x, which: str):
    """Larger is more wanted."""
    return x if which == "LA" else (-x if which == "SA" else abs(x))


def lanczos(
    A,
    k: int = 1,
    *,
    which: str = "LA",
    tol: float = 1e-3,
    atol: float = 0.0,
    max_iter: int | None = None,
    seed: int = 0,
    v0: torch.Tensor | None = None,
    dim: int | None = None,
    dtype: torch.dtype | None = None,
    explicit_residuals: bool = False,
    return_eigenvectors: bool = True,
    callback: Callable | None = None,
) -> EigenResult:
    """Top-k eigenpairs (``which``: "LA" largest, "SA" smallest, "LM" largest magnitude).

    ``A``: a :class:`HessianOperator`, anything with ``matvec``/``dim``, a callable with ``dim=``,
    or a dense symmetric matrix.  Stops when every wanted Ritz pair and the next one (k+1 pairs,
    see the module docstring) have ||Ay − θy|| ≤ tol·|θ| + atol, or after ``max_iter`` steps (default min(dim, max(300, 20k))).  ``explicit_residuals`` recomputes
    the residuals with k extra operator applications (counted in ``n_hvp``).
    ``callback(n_iter, n_hvp, eigenvalues, residuals)`` is called after every step with the wanted
    Ritz values (ordered) and their residual estimates.
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    op = as_operator(A, dim=dim, dtype=dtype)
    if not 1 <= k <= op.dim:
        raise ValueError(f"k must be in [1, {op.dim}], got {k}")
    if tol < 0 or atol < 0:
        raise ValueError("tol and atol must be non-negative")
    max_iter = min(op.dim, max_iter if max_iter is not None else max(300, 20 * k))
    if max_iter < k:
        raise ValueError(f"max_iter={max_iter} < k={k}")
    gen = generator(seed)
    if v0 is None:
        q0 = _random_unit(op, gen)
    else:
        q0 = torch.as_tensor(v0).to(op.device, op.dtype).reshape(-1).clone()
        q0 /= norm(q0)

    guard = min(k + 1, op.dim)  # the k wanted Ritz pairs and the next one must have converged

    def stop(alphas, betas, beta_next, block_start, breakdown):
        values, res, _ = _wanted_ritz(alphas, betas, beta_next, which, guard)
        if callback is not None:
            callback(len(alphas), op.n_hvp, values[:k], res[:k])
        if len(alphas) < guard or not np.all(res <= tol * np.abs(values) + atol):
            return False
        values = values[:k]
        if block_start == 0 and not breakdown:
            return True  # the ordinary case
        # A Krylov space became invariant: eigenvalue multiplicities are invisible to it.  Stop only
        # once a fresh block (random start orthogonal to all before) has a converged best Ritz value
        # that would not enter the top k.
        if block_start == 0:
            return False
        best, best_res, _ = _wanted_ritz(alphas[block_start:], betas[block_start:], beta_next, which, 1)
        if best_res[0] > tol * abs(best[0]) + atol:
            return False
        kth = values[-1]
        return _key(best[0], which) <= _key(kth, which) + tol * abs(kth) + atol

    basis, alphas, betas, beta_next = lanczos_process(op, q0, max_iter, gen, stop=stop)
    values, residuals, S = _wanted_ritz(alphas, betas, beta_next, which, k)
    vectors = None
    if return_eigenvectors or explicit_residuals:
        coeffs = torch.as_tensor(S.T.copy()).to(op.device, op.dtype)
        vectors = coeffs @ basis.rows
        vectors /= torch.linalg.vector_norm(vectors.double(), dim=1, keepdim=True).to(op.dtype)
    kind = "lanczos"
    if explicit_residuals:
        residuals = np.array([norm(op(y) - float(t) * y) for t, y in zip(values, vectors)])
        kind = "explicit"
    converged = residuals <= tol * np.abs(values) + atol
    return EigenResult(
        eigenvalues=tuple(float(x) for x in values),
        residuals=tuple(float(x) for x in residuals),
        converged=tuple(bool(c) for c in converged),
        n_hvp=op.n_hvp,
        n_iter=len(alphas),
        method="lanczos",
        which=which,
        tol=float(tol),
        seed=int(seed),
        mode=op.mode,
        residuals_kind=kind,
        eigenvectors=vectors if return_eigenvectors else None,
    )


def power_iteration(
    A,
    k: int = 1,
    *,
    tol: float = 1e-3,
    atol: float = 0.0,
    max_iter: int = 100,
    criterion: str = "rayleigh",
    seed: int = 0,
    dim: int | None = None,
    dtype: torch.dtype | None = None,
    return_eigenvectors: bool = True,
    callback: Callable | None = None,
) -> EigenResult:
    """Top-k eigenpairs by largest magnitude, PyHessian's way (power iteration + deflation).

    ``max_iter`` is per eigenvalue (as PyHessian's ``maxIter``).  ``criterion="rayleigh"`` stops on
    a relative Rayleigh-quotient change below ``tol`` (PyHessian), ``"residual"`` on
    ||Hv − λv|| ≤ tol·|λ| + atol.  ``callback(index, n_iter, n_hvp, eigenvalue, residual)`` after
    every HVP.
    """
    if criterion not in ("rayleigh", "residual"):
        raise ValueError(f"criterion must be 'rayleigh' or 'residual', got {criterion!r}")
    op = as_operator(A, dim=dim, dtype=dtype)
    if not 1 <= k <= op.dim:
        raise ValueError(f"k must be in [1, {op.dim}], got {k}")
    gen = generator(seed)
    found = _Basis(op.dim, op.dtype, op.device, capacity=k)
    values, residuals, n_iter = [], [], 0
    for i in range(k):
        v = _random_unit(op, gen)
        lam_prev = None
        lam, res = 0.0, float("inf")
        for it in range(max_iter):
            orthogonalize_(v, found.rows)
            v = v / norm(v)
            Hv = op(v)
            lam = dot(Hv, v)
            res = norm(Hv - lam * v)
            n_iter += 1
            if callback is not None:
                callback(i, it + 1, op.n_hvp, lam, res)
            if criterion == "rayleigh":
                done = lam_prev is not None and abs(lam - lam_prev) / (abs(lam_prev) + 1e-6) < tol
            else:
                done = res <= tol * abs(lam) + atol
            size = norm(Hv)
            if done or size == 0.0 or it + 1 == max_iter:
                break  # v is the vector that lam and res describe
            lam_prev = lam
            v = Hv / size
        found.append(v)
        values.append(lam)
        residuals.append(res)
    converged = [r <= tol * abs(x) + atol for x, r in zip(values, residuals)]
    return EigenResult(
        eigenvalues=tuple(float(x) for x in values),
        residuals=tuple(float(x) for x in residuals),
        converged=tuple(bool(c) for c in converged),
        n_hvp=op.n_hvp,
        n_iter=n_iter,
        method=f"power({criterion})",
        which="LM",
        tol=float(tol),
        seed=int(seed),
        mode=op.mode,
        residuals_kind="power",
        eigenvectors=found.rows.clone() if return_eigenvectors else None,
    )
