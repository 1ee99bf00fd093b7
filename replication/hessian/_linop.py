"""Uniform access to symmetric operators: a HessianOperator, any object with ``matvec`` and
``dim``, a plain callable (``dim`` given), or a dense symmetric matrix (tensor or ndarray).
Also the seeded probe vectors shared by all estimators."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


class Operator:
    """matvec on flat torch vectors with its own application counter."""

    def __init__(self, matvec: Callable, dim: int, dtype: torch.dtype, device: torch.device, mode):
        self._matvec = matvec
        self.dim = int(dim)
        self.dtype = dtype
        self.device = torch.device(device)
        self.mode = mode
        self.n_hvp = 0

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.n_hvp += 1
        out = self._matvec(v)
        return torch.as_tensor(out).to(self.device, self.dtype).reshape(-1)


def as_operator(A, *, dim: int | None = None, dtype: torch.dtype | None = None, device=None) -> Operator:
    if isinstance(A, np.ndarray):
        A = torch.from_numpy(A)
    if isinstance(A, torch.Tensor):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"a dense operator must be square, got shape {tuple(A.shape)}")
        M = A.to(dtype=dtype or (A.dtype if A.is_floating_point() else torch.float64))
        if device is not None:
            M = M.to(device)
        return Operator(lambda v: M @ v, M.shape[0], M.dtype, M.device, None)
    if hasattr(A, "matvec") and hasattr(A, "dim"):
        return Operator(A.matvec, A.dim, dtype or getattr(A, "dtype", torch.float64),
                        device or getattr(A, "device", "cpu"), getattr(A, "mode", None))
    if callable(A):
        if dim is None:
            raise ValueError("a plain matvec callable needs dim=")
        return Operator(A, dim, dtype or torch.float64, device or "cpu", None)
    raise TypeError(f"cannot use {type(A).__name__} as a linear operator")


def generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


def probe(op: Operator, gen: torch.Generator, distribution: str) -> torch.Tensor:
    """One probe vector with E[v v^T] = I: Rademacher (±1) or standard Gaussian."""
    if distribution == "rademacher":
        v = torch.randint(0, 2, (op.dim,), generator=gen, dtype=torch.int8).to(op.dtype).mul_(2).sub_(1)
    elif distribution == "gaussian":
        v = torch.randn(op.dim, generator=gen, dtype=op.dtype if op.dtype in (torch.float32, torch.float64)
                        else torch.float32).to(op.dtype)
    else:
        raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")
    return v.to(op.device)


def dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """Inner product accumulated in float64."""
    return float(torch.dot(a.double(), b.double()))


def norm(a: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a.double()))


def orthogonalize_(w: torch.Tensor, Q: torch.Tensor | None, passes: int = 2) -> torch.Tensor:
    """w ← (I − Q^T Q) w for orthonormal rows Q, classical Gram–Schmidt applied twice."""
    if Q is None or Q.shape[0] == 0:
        return w
    for _ in range(passes):
        w.sub_(Q.T @ (Q @ w))
    return w
