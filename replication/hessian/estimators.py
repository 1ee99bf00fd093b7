"""Stochastic trace and Frobenius-norm estimators with standard errors.

All probes v satisfy E[v v^T] = I (Rademacher ±1 or standard Gaussian), drawn from a
``torch.Generator`` seeded with ``seed``.

- Hutchinson:  tr(A) = E[v^T A v];  estimate = mean of n terms v_i^T A v_i, stderr = s/√n.
- Hutch++ (Meyer, Musco, Musco & Woodruff 2021), m = 3s operator applications:
  Q = orth(A S) for s probes S, then tr(A) = tr(Q^T A Q) + E[g^T (I−QQ^T) A (I−QQ^T) g] with s
  further probes g.  The first term is computed exactly given Q; stderr is that of the second
  (Hutchinson on the deflated remainder).
- Frobenius norm: ||A||_F^2 = E||A v||^2 = tr(A^T A), for Gaussian and Rademacher probes alike;
  the squared norm is estimated without bias, the norm as its square root (delta-method stderr).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._linop import as_operator, dot, generator, norm, probe
from .results import Estimate, FrobeniusEstimate


def _mean_se(samples) -> tuple[float, float]:
    x = np.asarray(samples, dtype=np.float64)
    mean = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("inf")
    return mean, se


def hutchinson_trace(A, n_probes: int = 100, *, seed: int = 0, distribution: str = "rademacher",
                     dim: int | None = None, dtype: torch.dtype | None = None) -> Estimate:
    """tr(A) ≈ (1/n) Σ v_i^T A v_i with its standard error s/√n."""
    if n_probes < 1:
        raise ValueError("n_probes must be at least 1")
    op = as_operator(A, dim=dim, dtype=dtype)
    gen = generator(seed)
    terms = []
    for _ in range(n_probes):
        v = probe(op, gen, distribution)
        terms.append(dot(v, op(v)))
    mean, se = _mean_se(terms)
    return Estimate("trace", mean, se, n_probes, op.n_hvp, "hutchinson", distribution, int(seed), op.mode)


def hutchpp_trace(A, n_hvp: int = 99, *, seed: int = 0, distribution: str = "rademacher",
                  dim: int | None = None, dtype: torch.dtype | None = None) -> Estimate:
    """Hutch++ with ``n_hvp`` = 3s operator applications (rounded down to a multiple of 3, ≥ 6).

    ``n_probes`` in the result counts the 2s random vectors drawn; ``stderr`` is over the s
    deflated Hutchinson terms.
    """
    s = int(n_hvp) // 3
    if s < 2:
        raise ValueError("Hutch++ needs n_hvp >= 6 (two probes per stage)")
    op = as_operator(A, dim=dim, dtype=dtype)
    s = min(s, op.dim)
    gen = generator(seed)
    S = torch.stack([probe(op, gen, distribution) for _ in range(s)], dim=1)
    AS = torch.stack([op(S[:, j]) for j in range(s)], dim=1)
    Q, _ = torch.linalg.qr(AS.double())
    Q = Q.to(op.dtype)
    exact = sum(dot(Q[:, j], op(Q[:, j].contiguous())) for j in range(Q.shape[1]))
    terms = []
    for _ in range(s):
        g = probe(op, gen, distribution)
        g = g - Q @ (Q.T @ g)
        Ag = op(g)
        Ag = Ag - Q @ (Q.T @ Ag)
        terms.append(dot(g, Ag))
    mean, se = _mean_se(terms)
    return Estimate("trace", exact + mean, se, 2 * s, op.n_hvp, "hutch++", distribution, int(seed), op.mode)


def frobenius_norm(A, n_probes: int = 100, *, seed: int = 0, distribution: str = "rademacher",
                   dim: int | None = None, dtype: torch.dtype | None = None) -> FrobeniusEstimate:
    """||A||_F from ||A||_F^2 ≈ (1/n) Σ ||A v_i||^2."""
    if n_probes < 1:
        raise ValueError("n_probes must be at least 1")
    op = as_operator(A, dim=dim, dtype=dtype)
    gen = generator(seed)
    terms = []
    for _ in range(n_probes):
        v = probe(op, gen, distribution)
        terms.append(norm(op(v)) ** 2)
    sq, sq_se = _mean_se(terms)
    value = math.sqrt(max(sq, 0.0))
    se = sq_se / (2 * value) if value > 0 else float("inf")
    return FrobeniusEstimate(value, se, sq, sq_se, n_probes, op.n_hvp, distribution, int(seed), op.mode)
