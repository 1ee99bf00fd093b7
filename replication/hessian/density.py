"""Spectral density by stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; PyHessian).

For a unit probe v (normalized Rademacher), m Lanczos steps give T_m = S diag(θ) S^T, and
v^T f(A) v ≈ Σ_k S_{1k}^2 f(θ_k) (Gauss quadrature, exact for polynomials of degree < 2m).
Averaging over probes estimates (1/n) tr f(A), i.e. the spectral measure (1/n) Σ_j δ(t − λ_j).
"""
from __future__ import annotations

import torch

from ._linop import as_operator, generator, norm, probe
from .eigen import _tridiagonal_eig, lanczos_process
from .results import SpectralDensity


def spectral_density(A, n_probes: int = 10, n_iter: int = 80, *, seed: int = 0,
                     dim: int | None = None, dtype: torch.dtype | None = None) -> SpectralDensity:
    """SLQ nodes and weights, ``n_iter`` Lanczos steps (full reorthogonalization) per probe."""
    if n_probes < 1 or n_iter < 1:
        raise ValueError("n_probes and n_iter must be positive")
    op = as_operator(A, dim=dim, dtype=dtype)
    gen = generator(seed)
    nodes, weights = [], []
    for _ in range(n_probes):
        v = probe(op, gen, "rademacher")
        v = v / norm(v)
        _, alphas, betas, _ = lanczos_process(op, v, min(n_iter, op.dim), gen, restart=False)
        theta, S = _tridiagonal_eig(alphas, betas)
        nodes.append(tuple(float(t) for t in theta))
        weights.append(tuple(float(w) for w in S[0] ** 2))
    return SpectralDensity(tuple(nodes), tuple(weights), n_probes, n_iter, op.n_hvp, int(seed), op.mode)
