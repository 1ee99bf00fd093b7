r"""Finite-data linear and logistic regression with real minibatch sampling (no injected noise).

The data sets, the minimum with its Hessian H and per-example gradient covariance C, the
predictions of the stationary excess loss (the paper's trace relation eta/(4S) Tr H, the SDE's
eta/(4S) Tr C, the discrete update's, and the exact law of linear-regression SGD with independent
batches), and a simulator of real minibatch SGD (conventions: :mod:`replication.sde`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from .common import psd_sqrt, rotated_matrix, spread_spectrum
from .quadratic import discrete_stationary_loss, sde_stationary_loss


class RegressionMinimum(NamedTuple):
    """Minimum of a finite-sum loss: w_star, L(w_star), Hessian H and per-example gradient covariance C there."""

    w_star: np.ndarray
    loss_star: float
    H: np.ndarray
    C: np.ndarray


def _gaussian_design(N: int, d: int, lam_min: float, lam_max: float, rng: np.random.Generator) -> np.ndarray:
    """N Gaussian rows with covariance Q diag(spread_spectrum) Qᵀ, Q Haar-random."""
    covariance = rotated_matrix(spread_spectrum(d, lam_min, lam_max), seed=int(rng.integers(2**31)))
    return rng.standard_normal((N, d)) @ psd_sqrt(covariance)


def make_linear_regression(
    N: int, d: int, *, noise_std: float, lam_min: float, lam_max: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """X (N x d), rows ~ N(0, Q diag(spread_spectrum(d, lam_min, lam_max)) Qᵀ); y = X w_true + noise_std ε.

    w_true ~ N(0, I/d) and ε ~ N(0, 1), both drawn from ``seed``.
    """
    rng = np.random.default_rng(seed)
    X = _gaussian_design(N, d, lam_min, lam_max, rng)
    w_true = rng.standard_normal(d) / math.sqrt(d)
    y = X @ w_true + noise_std * rng.standard_normal(N)
    return X, y


def _per_example_moments(X: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean gradient g = (1/N) Σ r_n x_n and covariance C = (1/N) Σ r_n² x_n x_nᵀ - g gᵀ of g_n = r_n x_n."""
    N = X.shape[0]
    g = X.T @ residual / N
    C = (X * residual[:, None] ** 2).T @ X / N - np.outer(g, g)
    return g, 0.5 * (C + C.T)


def linear_regression_minimum(X: np.ndarray, y: np.ndarray) -> RegressionMinimum:
    """Minimum of L(w) = (1/2N) Σ_n (x_n·w - y_n)², its Hessian H = XᵀX/N and gradient covariance C.

    C = (1/N) Σ_n r_n² x_n x_nᵀ - g gᵀ at w_star (r_n = x_n·w_star - y_n; g ≈ 0 there).
    With Gaussian label noise of variance s², C ≈ s² H (up to O(d/N)), so C = H only when s = 1:
    the trace relation eta/(4S) Tr H is then off by the factor s².
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    residual = X @ w_star - y
    _, C = _per_example_moments(X, residual)
    return RegressionMinimum(
        w_star=w_star, loss_star=0.5 * float(np.mean(residual**2)), H=X.T @ X / X.shape[0], C=C
    )


def make_logistic_regression(
    N: int, d: int, seed: int, *, w_scale: float = 1.0, lam_min: float = 0.5, lam_max: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Well-specified logistic data: Gaussian X as in ``make_linear_regression``, w_true ~ N(0, w_scale² I / d),
    labels y_n ~ Bernoulli(sigmoid(x_n·w_true)) in {0, 1} (float)."""
    rng = np.random.default_rng(seed)
    X = _gaussian_design(N, d, lam_min, lam_max, rng)
    w_true = w_scale * rng.standard_normal(d) / math.sqrt(d)
    y = (rng.random(N) < expit(X @ w_true)).astype(np.float64)
    return X, y


def logistic_loss(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Mean log loss (1/N) Σ_n [log(1 + e^{z_n}) - y_n z_n], z_n = x_n·w; W of shape (d,) or (chains, d)."""
    z = np.asarray(W, float) @ X.T
    return np.mean(np.logaddexp(0.0, z) - y * z, axis=-1)


def logistic_regression_minimum(
    X: np.ndarray, y: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100
) -> RegressionMinimum:
    """Maximum-likelihood logistic regression by Newton's method (float64, from w = 0).

    H = (1/N) Σ p_n(1-p_n) x_n x_nᵀ,  C = (1/N) Σ (p_n - y_n)² x_n x_nᵀ - g gᵀ,  p_n = sigmoid(x_n·w_star).
    For well-specified labels E[(p - y)² | x] = p(1-p), so C ≈ H (Fisher = Hessian) up to O(1/sqrt N).
    Raises RuntimeError if Newton does not converge (e.g. separable data: no finite minimum).
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    N, d = X.shape
    w = np.zeros(d)
    for _ in range(max_iter):
        p = expit(X @ w)
        grad = X.T @ (p - y) / N
        hessian = (X * (p * (1 - p))[:, None]).T @ X / N
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(w))):
            break
    else:
        raise RuntimeError("Newton's method did not converge (separable data?)")
    p = expit(X @ w)
    _, C = _per_example_moments(X, p - y)
    H = (X * (p * (1 - p))[:, None]).T @ X / N
    return RegressionMinimum(w_star=w, loss_star=float(logistic_loss(X, y, w)), H=0.5 * (H + H.T), C=C)


def minibatch_noise_covariance(C: np.ndarray, S: int, N: int) -> np.ndarray:
    """Covariance of the mean gradient over S *distinct* examples drawn from N:  C/S · (N-S)/(N-1).

    The finite-population correction (N-S)/(N-1) → 1 for S << N and → 0 at S = N (full-batch GD, no noise).
    """
    if not 1 <= S <= N:
        raise ValueError("need 1 <= S <= N")
    return np.asarray(C, float) / S * ((N - S) / (N - 1))


def naive_trace_loss(H: np.ndarray, eta: float, S: float) -> float:
    """The paper's trace relation E[L] = eta/(4S) Tr H (assumes C = H and the SDE limit)."""
    return eta / (4 * S) * float(np.trace(H))


def sde_trace_loss(C: np.ndarray, eta: float, S: float) -> float:
    """E[L] = eta/(4S) Tr C: the SDE's stationary loss for any C (trace of H Σ + Σ H = (eta/S) C).

    Equal to ``sde_stationary_loss``; the discrete update adds O(eta λ) corrections that do depend on
    how C is aligned with H (``discrete_stationary_loss``).
    """
    return eta / (4 * S) * float(np.trace(C))


def predicted_excess_loss(
    H: np.ndarray, C: np.ndarray, eta: float, S: int, *, N: int | None = None, discrete: bool = False
) -> float:
    """Stationary E[L(w) - L(w_star)] = ½ Tr(H Σ) predicted from H and the per-example gradient covariance C.

    The noise covariance per step is C/S, times (N-S)/(N-1) when N is given (batches of distinct examples).
    discrete=False: SDE, H Σ + Σ H = eta · noise, which gives eta/(4S) Tr C · (N-S)/(N-1) for any C;
    discrete=True: Σ = A Σ Aᵀ + eta² · noise, A = I - eta H (``inf`` if eta λ_max >= 2).
    Neither includes the multiplicative noise of the batch Hessian (a relative O(eta Tr H / S) effect for
    linear regression) or the anticorrelation of batches within one reshuffled epoch (relative
    O(S / (eta λ N)) in each eigendirection); both vanish in the SDE limit with many steps per epoch.
    """
    noise = np.asarray(C, float) / S if N is None else minibatch_noise_covariance(C, S, N)
    if discrete:
        return discrete_stationary_loss(H, noise, eta, 1.0)
    return sde_stationary_loss(H, noise, eta, 1.0)


def linear_sgd_exact_stationary_covariance(X: np.ndarray, y: np.ndarray, eta: float, S: int) -> np.ndarray:
    r"""Exact stationary covariance of w - w_star for linear-regression SGD with *independent* batches
    (``sampling="independent"``: S distinct examples drawn afresh every step), multiplicative noise included.

    With P_n = x_n x_nᵀ, H_B = (1/S) Σ_{n∈B} P_n = H + D_B and ξ_B = (1/S) Σ_{n∈B} r_n x_n (r at w_star),
    δ_{k+1} = (I - eta H_B) δ_k - eta ξ_B, E δ = 0, so Σ = E[δδᵀ] solves
        H Σ + Σ H - eta (H Σ H + f M(Σ)) = eta f C,   f = (N-S) / (S (N-1)),
        M(Σ) = (1/N) Σ_n (P_n - H) Σ (P_n - H)      (finite-population covariance of the batch Hessian).
    Solved as a d² x d² linear system (keep d small, <= ~30). Raises ValueError when the second moment is
    unstable (spectral radius of Σ -> E[(I - eta H_B) Σ (I - eta H_B)] >= 1).
    Dropping the eta (HΣH + f M) term gives the SDE prediction (``predicted_excess_loss`` with N).
    """
    X = np.asarray(X, float)
    N, d = X.shape
    minimum = linear_regression_minimum(X, y)
    H, C = minimum.H, minimum.C
    f = (N - S) / (S * (N - 1))
    eye = np.eye(d)
    per_example = np.einsum("ni,nj->nij", X, X).reshape(N, d * d)
    fourth_moment = per_example.T @ per_example / N - np.kron(H, H)  # (1/N) Σ (P_n - H) ⊗ (P_n - H)
    second_moment_of_step = np.kron(H, H) + f * fourth_moment  # vec(E[H_B Σ H_B]) = this @ vec(Σ)
    drift = np.kron(eye, H) + np.kron(H, eye)
    transition = np.eye(d * d) - eta * drift + eta**2 * second_moment_of_step
    if np.max(np.abs(np.linalg.eigvals(transition))) >= 1.0:
        raise ValueError("second moment of SGD is unstable at this learning rate")
    sigma = np.linalg.solve(drift - eta * second_moment_of_step, eta * f * C.reshape(-1)).reshape(d, d)
    return 0.5 * (sigma + sigma.T)


def linear_sgd_exact_excess_loss(X: np.ndarray, y: np.ndarray, eta: float, S: int) -> float:
    """½ Tr(H Σ) with Σ from ``linear_sgd_exact_stationary_covariance``; ``inf`` if the second moment is unstable."""
    try:
        sigma = linear_sgd_exact_stationary_covariance(X, y, eta, S)
    except ValueError:
        return math.inf
    X = np.asarray(X, float)
    return 0.5 * float(np.sum((X.T @ X / X.shape[0]) * sigma))


@dataclass(frozen=True)
class MinibatchSGDResult:
    """Output of ``simulate_minibatch_sgd``.

    chain_mean_excess_loss: (n_chains,) time average of L(w_k) - L(w_star) over the recorded steps after burn-in.
    final_w:                (n_chains, d) parameters at the end.
    diverged:               a non-finite value appeared; the run stopped and chain_mean_excess_loss is inf.
    steps_per_epoch:        floor(N / S) (the last incomplete batch of each epoch is dropped).
    """

    chain_mean_excess_loss: np.ndarray
    final_w: np.ndarray
    diverged: bool
    steps_per_epoch: int


def simulate_minibatch_sgd(
    X: np.ndarray,
    y: np.ndarray,
    eta: float,
    S: int,
    *,
    n_chains: int,
    n_epochs: int,
    burn_in_epochs: int,
    seed: int,
    loss: str = "linear",
    record_every: int = 1,
    sampling: str = "epochs",
) -> MinibatchSGDResult:
    """Real minibatch SGD w <- w - eta · (1/S) Σ_{n∈B} ∇l_n(w), independent chains, all started at w_star.

    sampling="epochs" (real SGD): each chain draws its own random permutation of the N examples every
    epoch and walks through it in floor(N/S) batches of S distinct examples; the last incomplete batch
    (N mod S examples) is dropped. Batches of one epoch are anticorrelated (they partition the data).
    sampling="independent": every step draws S distinct examples afresh (an "epoch" is then just
    floor(N/S) steps); this is the sampling for which ``linear_sgd_exact_excess_loss`` is exact.
    loss="linear": l_n = ½ (x_n·w - y_n)², excess loss ½ (w - w*)ᵀ H (w - w*) (exact), recorded every step.
    loss="logistic": y in {0, 1}, l_n = log(1 + e^{z}) - y z; the full-data excess loss costs O(N d) per
    chain, so it is recorded every ``record_every`` steps (the average then is over those steps only).
    The time average runs over all recorded steps of epochs burn_in_epochs, ..., n_epochs - 1.
    """
    if loss not in ("linear", "logistic"):
        raise ValueError(f"loss must be 'linear' or 'logistic', got {loss!r}")
    if sampling not in ("epochs", "independent"):
        raise ValueError(f"sampling must be 'epochs' or 'independent', got {sampling!r}")
    if not 0 <= burn_in_epochs < n_epochs:
        raise ValueError("need 0 <= burn_in_epochs < n_epochs")
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    N, d = X.shape
    steps_per_epoch = N // S
    if steps_per_epoch < 1:
        raise ValueError("batch size larger than the data set")
    minimum = linear_regression_minimum(X, y) if loss == "linear" else logistic_regression_minimum(X, y)
    rng = np.random.default_rng(seed)
    w = np.tile(minimum.w_star, (n_chains, 1))
    loss_sum = np.zeros(n_chains)
    n_recorded = 0
    step = 0
    diverged = False
    ordered = np.tile(np.arange(N), (n_chains, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(n_epochs):
            if sampling == "epochs":
                permutation = rng.permuted(ordered, axis=1)
                batches = permutation[:, : steps_per_epoch * S].reshape(n_chains, steps_per_epoch, S)
            for b in range(steps_per_epoch):
                if epoch >= burn_in_epochs and step % record_every == 0:
                    loss_sum += _excess_loss(X, y, w, minimum, loss)
                    n_recorded += 1
                if sampling == "epochs":
                    idx = batches[:, b]
                else:  # S distinct examples per chain: the S smallest of N uniform keys
                    idx = np.argpartition(rng.random((n_chains, N)), S - 1, axis=1)[:, :S] if S < N else ordered
                x_batch, y_batch = X[idx], y[idx]  # (chains, S, d), (chains, S)
                z = np.einsum("csd,cd->cs", x_batch, w)
                dloss_dz = z - y_batch if loss == "linear" else expit(z) - y_batch
                w -= (eta / S) * np.einsum("csd,cs->cd", x_batch, dloss_dz)
                step += 1
            if not np.isfinite(w).all():
                diverged = True
                break
    chain_mean = np.full(n_chains, np.inf) if diverged or n_recorded == 0 else loss_sum / n_recorded
    return MinibatchSGDResult(
        chain_mean_excess_loss=chain_mean, final_w=w, diverged=diverged, steps_per_epoch=steps_per_epoch
    )


def _excess_loss(X, y, w, minimum: RegressionMinimum, loss: str) -> np.ndarray:
    if loss == "linear":
        delta = w - minimum.w_star
        return 0.5 * np.einsum("cd,cd->c", delta @ minimum.H, delta)
    return logistic_loss(X, y, w) - minimum.loss_star
