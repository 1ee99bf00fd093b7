r"""The quadratic basin L = ½ θᵀHθ: the Ornstein-Uhlenbeck process of SGD and its discretization.

Stationary covariance of the SDE d θ = -H θ dt + sqrt(eta/S) C^{1/2} dW (continuous Lyapunov
equation H Σ + Σ H = (eta/S) C) and of the discrete update θ <- (I - eta H) θ + (eta/sqrt S) C^{1/2} ξ
(discrete Lyapunov equation Σ = A Σ Aᵀ + (eta²/S) C, A = I - eta H), their stationary losses
½ Tr(H Σ), and a vectorized simulator with injected Gaussian noise (conventions:
:mod:`replication.sde`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .common import _noise_block_steps, psd_sqrt


def sde_stationary_covariance(H: np.ndarray, C: np.ndarray, eta: float, S: float) -> np.ndarray:
    """Stationary covariance Σ of the OU process d θ = -H θ dt + sqrt(eta/S) C^{1/2} dW.

    Σ solves the continuous Lyapunov equation  H Σ + Σ H = (eta/S) C.
    C = H gives Σ = eta/(2S) I; C commuting with H gives Σ = eta/(2S) H^{-1} C.
    """
    sigma = scipy.linalg.solve_continuous_lyapunov(np.asarray(H, float), (eta / S) * np.asarray(C, float))
    return 0.5 * (sigma + sigma.T)


def sde_stationary_loss(H: np.ndarray, C: np.ndarray, eta: float, S: float) -> float:
    """E[L] = ½ Tr(H Σ) under the SDE's stationary law (loss measured from the minimum).

    Taking the trace of the Lyapunov equation, 2 Tr(H Σ) = (eta/S) Tr C, so E[L] = eta/(4S) Tr C for
    *any* C, commuting with H or not (``sde_trace_loss``); with C = H it is the paper's eta/(4S) Tr H.
    Σ itself depends on more than Tr C (Σ = eta/(2S) H^{-1} C only when C and H commute).
    """
    return 0.5 * float(np.sum(np.asarray(H, float) * sde_stationary_covariance(H, C, eta, S)))


def discrete_spectral_radius(H: np.ndarray, eta: float) -> float:
    """Spectral radius of A = I - eta H; the discrete update is stable iff it is < 1 (eta λ_max < 2 for H ≻ 0)."""
    H = np.asarray(H, float)
    return float(np.max(np.abs(np.linalg.eigvals(np.eye(H.shape[0]) - eta * H))))


def discrete_stationary_covariance(H: np.ndarray, C: np.ndarray, eta: float, S: float) -> np.ndarray:
    """Exact stationary covariance of θ <- (I - eta H) θ + (eta/sqrt S) C^{1/2} ξ,  ξ ~ N(0, I).

    Σ solves the discrete Lyapunov equation  Σ = A Σ Aᵀ + (eta²/S) C,  A = I - eta H.
    For diagonal H = C = diag(λ): Σ_ii = (eta/S) / (2 - eta λ_i), which → eta/(2S) as eta → 0 at fixed eta/S.
    Raises ValueError when the spectral radius of A is >= 1 (no stationary law).
    """
    H = np.asarray(H, float)
    if discrete_spectral_radius(H, eta) >= 1.0:
        raise ValueError("spectral radius of I - eta H is >= 1: no stationary distribution")
    a = np.eye(H.shape[0]) - eta * H
    sigma = scipy.linalg.solve_discrete_lyapunov(a, (eta**2 / S) * np.asarray(C, float))
    return 0.5 * (sigma + sigma.T)


def discrete_stationary_loss(H: np.ndarray, C: np.ndarray, eta: float, S: float) -> float:
    """½ Tr(H Σ) for the discrete update's stationary Σ; ``inf`` when no stationary law exists (eta λ_max >= 2)."""
    if discrete_spectral_radius(H, eta) >= 1.0:
        return math.inf
    return 0.5 * float(np.sum(np.asarray(H, float) * discrete_stationary_covariance(H, C, eta, S)))


@dataclass(frozen=True)
class QuadraticSGDResult:
    """Output of ``simulate_quadratic_sgd``.

    chain_mean_loss: (n_chains,) time average of L(θ_k) = ½ θ_kᵀ H θ_k over burn_in <= k < n_steps.
    final_theta:     (n_chains, d) θ_{n_steps}.
    diverged:        a non-finite value appeared; the run stopped and chain_mean_loss is inf.
    """

    chain_mean_loss: np.ndarray
    final_theta: np.ndarray
    diverged: bool


def simulate_quadratic_sgd(
    H: np.ndarray,
    C: np.ndarray,
    eta: float,
    S: float,
    *,
    n_chains: int,
    n_steps: int,
    burn_in: int,
    seed: int,
) -> QuadraticSGDResult:
    """Independent chains of θ_{k+1} = θ_k - eta H θ_k + (eta/sqrt S) C^{1/2} ξ_k on L = ½ θᵀHθ, from θ_0 = 0.

    One (n_chains x d) @ (d x d) product per step (G = θ H gives both the update and the loss ½ Σ G θ);
    the noise is drawn and multiplied by (eta/sqrt S) C^{1/2} in blocks of steps.
    """
    if not 0 <= burn_in < n_steps:
        raise ValueError("need 0 <= burn_in < n_steps")
    H = np.asarray(H, float)
    d = H.shape[0]
    noise_map = (eta / math.sqrt(S)) * psd_sqrt(np.asarray(C, float))  # symmetric, so ξ @ noise_map works row-wise
    rng = np.random.default_rng(seed)
    theta = np.zeros((n_chains, d))
    loss_sum = np.zeros(n_chains)
    block = _noise_block_steps(n_chains * d, n_steps)
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n_steps, block):
            steps = min(block, n_steps - start)
            noise = rng.standard_normal((steps, n_chains, d)) @ noise_map
            for j in range(steps):
                grad = theta @ H
                if start + j >= burn_in:
                    loss_sum += 0.5 * np.einsum("cd,cd->c", grad, theta)
                theta -= eta * grad
                theta += noise[j]
            if not np.isfinite(theta).all():
                diverged = True
                break
    chain_mean_loss = np.full(n_chains, np.inf) if diverged else loss_sum / (n_steps - burn_in)
    return QuadraticSGDResult(chain_mean_loss=chain_mean_loss, final_theta=theta, diverged=diverged)
