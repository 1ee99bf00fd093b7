"""Frozen result records.  ``to_dict()`` gives plain floats, ints, strings and lists (JSON-ready).

Eigenvectors are kept on :class:`EigenResult` as a tensor for further use but are left out of
``to_dict()`` (they are as large as the model); everything else round-trips through JSON.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


class _Record:
    """Shared ``to_dict`` for the frozen dataclasses below (fields with metadata json=False skipped)."""

    def to_dict(self) -> dict:
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.metadata.get("json", True)
        }


@dataclasses.dataclass(frozen=True)
class EigenResult(_Record):
    """Extreme eigenpairs of a symmetric operator.

    ``eigenvalues`` are ordered as requested (``which="LA"``: largest first).  ``residuals`` are
    ||A v_i - λ_i v_i|| for the unit vectors v_i that are returned; ``converged[i]`` is
    ``residuals[i] <= tol * |λ_i|``.  ``n_hvp`` counts operator applications made by this call.
    ``mode`` is the Hessian's model mode ("eval"/"train"), ``None`` for a plain operator.
    """

    eigenvalues: tuple[float, ...]
    residuals: tuple[float, ...]
    converged: tuple[bool, ...]
    n_hvp: int
    n_iter: int
    method: str
    which: str
    tol: float
    seed: int
    mode: str | None = None
    residuals_kind: str = "lanczos"  # "lanczos" (|β_m s_mi|), "explicit" (recomputed), "power"
    eigenvectors: Any = dataclasses.field(default=None, repr=False, compare=False, metadata={"json": False})

    @property
    def all_converged(self) -> bool:
        return all(self.converged)


@dataclasses.dataclass(frozen=True)
class Estimate(_Record):
    """A stochastic estimate (trace, squared Frobenius norm, ...) with its standard error.

    ``stderr`` is s/sqrt(n) over the independent probe terms (ddof = 1); ``inf`` for one probe.
    ``n_probes`` is the number of random probe vectors, ``n_hvp`` the operator applications.
    """

    quantity: str
    estimate: float
    stderr: float
    n_probes: int
    n_hvp: int
    method: str
    distribution: str
    seed: int
    mode: str | None = None

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return (self.estimate - z * self.stderr, self.estimate + z * self.stderr)


@dataclasses.dataclass(frozen=True)
class FrobeniusEstimate(_Record):
    """||A||_F from ||A||_F^2 = E||A v||^2 (E[v v^T] = I).

    ``squared``/``squared_stderr`` are the unbiased estimate of ||A||_F^2 and its standard error;
    ``estimate = sqrt(max(squared, 0))`` with the delta-method standard error
    ``squared_stderr / (2 estimate)``.
    """

    estimate: float
    stderr: float
    squared: float
    squared_stderr: float
    n_probes: int
    n_hvp: int
    distribution: str
    seed: int
    mode: str | None = None

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return (self.estimate - z * self.stderr, self.estimate + z * self.stderr)


@dataclasses.dataclass(frozen=True)
class SpectralDensity(_Record):
    """Stochastic Lanczos quadrature: per probe, Ritz values ``nodes[i]`` and weights ``weights[i]``.

    Each probe's weights sum to 1; the spectral measure (1/n) Σ_j δ(t − λ_j) is estimated by the
    average over probes of Σ_k weights[i][k] δ(t − nodes[i][k]).  ``density(grid, sigma)`` smooths
    it with a Gaussian kernel.
    """

    nodes: tuple[tuple[float, ...], ...]
    weights: tuple[tuple[float, ...], ...]
    n_probes: int
    n_iter: int
    n_hvp: int
    seed: int
    mode: str | None = None

    def density(self, grid, sigma: float):
        import numpy as np

        grid = np.asarray(grid, dtype=np.float64)
        out = np.zeros_like(grid)
        for nodes, weights in zip(self.nodes, self.weights):
            for t, w in zip(nodes, weights):
                out += w * np.exp(-0.5 * ((grid - t) / sigma) ** 2)
        return out / (len(self.nodes) * sigma * math.sqrt(2 * math.pi))
