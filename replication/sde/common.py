"""What the three models of :mod:`replication.sde` share: the random matrices their problems are
built from (log-spaced spectra, Haar-random rotations, PSD square roots) and how many steps of noise
a simulator draws at once (bounded memory, one draw per block).  Everything is float64 numpy,
deterministic given ``seed``.
"""
from __future__ import annotations

import numpy as np

# Steps of noise drawn at once: bounds memory (block x chains x d floats) and Python overhead.
_NOISE_BLOCK_ELEMENTS = 2_000_000


def _noise_block_steps(n_per_step: int, n_steps: int) -> int:
    return int(max(1, min(n_steps, _NOISE_BLOCK_ELEMENTS // max(1, n_per_step))))


def spread_spectrum(d: int, lam_min: float, lam_max: float) -> np.ndarray:
    """d log-spaced eigenvalues in **descending** order: lam_max, ..., lam_min (geometric progression)."""
    if d < 1 or not 0 < lam_min <= lam_max:
        raise ValueError("need d >= 1 and 0 < lam_min <= lam_max")
    return np.geomspace(lam_max, lam_min, d)


def random_orthogonal(d: int, seed: int) -> np.ndarray:
    """Haar-random d x d orthogonal matrix (QR of a Gaussian matrix with the sign of diag(R) fixed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def rotated_matrix(eigenvalues, seed: int) -> np.ndarray:
    """Symmetric Q diag(eigenvalues) Qᵀ with a Haar-random orthogonal Q (deterministic given seed)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(eigenvalues.size, seed)
    matrix = (q * eigenvalues) @ q.T
    return 0.5 * (matrix + matrix.T)


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root R = V diag(sqrt(max(λ, 0))) Vᵀ of a symmetric PSD matrix, R R = matrix."""
    eigenvalues, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T

