r"""SGD as a stochastic differential equation: closed forms and simulators.

Conventions (used everywhere in the book)
-----------------------------------------
- Minibatch SGD:  theta_{k+1} = theta_k - eta * g_B(theta_k),  g_B the mean gradient over a batch B of S examples.
- Gradient noise: g_B = g + xi with Cov(xi) = C / S, C the per-example gradient covariance
  (times (N-S)/(N-1) when the S examples are distinct draws from N, see ``minibatch_noise_covariance``).
- SDE in "physical" time t = k * eta:   d theta = -grad L dt + sqrt(eta/S) C^{1/2} dW.
  Euler-Maruyama with step eta gives back theta_{k+1} = theta_k - eta grad L + (eta/sqrt S) C^{1/2} xi_k,
  so eta and S enter the SDE only through eta/S.
- Temperature (isotropic C = sigma^2 I):   T = eta * sigma^2 / S,   stationary Gibbs density p ∝ exp(-2 L / T).
  **Factor-2 convention:** this is the paper's Theorem 1 with n = T/2 (p ∝ exp(-L/n), n = eta sigma^2 / (2S)).
  Theorem 2 of the paper is off by this factor 2 in its definition of n_A; we use T throughout, so
  p_A / p_B = sqrt(det H_B / det H_A) * exp(2 (L_B - L_A) / T).

Contents
--------
1. Quadratic basin L = ½ θᵀHθ (Ornstein-Uhlenbeck): stationary covariance of the SDE (continuous Lyapunov)
   and of the discrete update (discrete Lyapunov), and a vectorized simulator with injected Gaussian noise.
2. Finite-data linear / logistic regression with real minibatch sampling (no injected noise), the
   minimum, its Hessian H and gradient covariance C, and the predictions of the stationary excess loss.
3. A 1-D double well: Laplace (Theorem 2, eq. 4) vs exact Gibbs probability of the higher minimum,
   the crossover temperature, and a simulator.

All simulators are float64 numpy, vectorized over independent chains, deterministic given ``seed``
(``np.random.default_rng(seed)``). A run that produces a non-finite value anywhere is stopped and
reported with ``diverged=True``; its summaries are then ``inf``/``nan``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.integrate import simpson
from scipy.special import expit

# Steps of noise drawn at once: bounds memory (block x chains x d floats) and Python overhead.
_NOISE_BLOCK_ELEMENTS = 2_000_000


def _noise_block_steps(n_per_step: int, n_steps: int) -> int:
    return int(max(1, min(n_steps, _NOISE_BLOCK_ELEMENTS // max(1, n_per_step))))


# ----------------------------------------------------------------------------------------------
# 1. Quadratic basin: Ornstein-Uhlenbeck process and its discretization
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# 2. Finite-data regression with real minibatch sampling
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# 3. Which minimum wins: a 1-D double well
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoubleWell:
    """Two quadratic wells q_i(θ) = L_i + ½ k_i (θ - c_i)², i ∈ {A, B}, joined by a soft minimum

        L(θ) = -τ log(exp(-q_A/τ) + exp(-q_B/τ)),

    which equals min(q_A, q_B) up to τ log 2 near the crossing and is exponentially close to q_i in well i.
    The default is the interesting case: A higher (L_A > L_B) but flatter (k_A < k_B).
    """

    c_A: float = -1.0
    L_A: float = 0.1
    k_A: float = 1.0
    c_B: float = 1.0
    L_B: float = 0.0
    k_B: float = 4.0
    tau: float = 0.05

    def __post_init__(self):
        if self.k_A <= 0 or self.k_B <= 0 or self.tau <= 0 or self.c_A == self.c_B:
            raise ValueError("need k_A, k_B, tau > 0 and c_A != c_B")

    def _wells(self, theta):
        theta = np.asarray(theta, float)
        q_A = self.L_A + 0.5 * self.k_A * (theta - self.c_A) ** 2
        q_B = self.L_B + 0.5 * self.k_B * (theta - self.c_B) ** 2
        return theta, q_A, q_B

    def loss(self, theta):
        """L(θ) = -τ logaddexp(-q_A/τ, -q_B/τ), elementwise."""
        _, q_A, q_B = self._wells(theta)
        return -self.tau * np.logaddexp(-q_A / self.tau, -q_B / self.tau)

    def grad(self, theta):
        """L'(θ) = w_A k_A (θ - c_A) + (1 - w_A) k_B (θ - c_B),  w_A = sigmoid((q_B - q_A)/τ), elementwise."""
        theta, q_A, q_B = self._wells(theta)
        w_A = expit((q_B - q_A) / self.tau)
        return w_A * self.k_A * (theta - self.c_A) + (1.0 - w_A) * self.k_B * (theta - self.c_B)

    def barrier(self) -> tuple[float, float]:
        """(location, height L) of the maximum of L between c_A and c_B (bounded scalar minimization of -L)."""
        low, high = sorted((self.c_A, self.c_B))
        result = scipy.optimize.minimize_scalar(
            lambda t: -float(self.loss(t)), bounds=(low, high), method="bounded", options={"xatol": 1e-12}
        )
        return float(result.x), float(self.loss(result.x))

    def basin(self, theta, barrier_location: float | None = None):
        """Boolean array: θ is on A's side of the barrier (pass ``barrier_location`` to skip recomputing it)."""
        location = self.barrier()[0] if barrier_location is None else barrier_location
        theta = np.asarray(theta, float)
        return theta < location if self.c_A < self.c_B else theta > location


def laplace_probability_A(well: DoubleWell, T):
    """Laplace approximation of P(A) under p ∝ exp(-2L/T) (Theorem 2 in the T convention, q = 1):

        p_A / p_B = sqrt(k_B / k_A) · exp(2 (L_B - L_A) / T),   P(A) = r / (1 + r),

    computed as sigmoid(log r) so that it is stable for any T > 0. Vectorized in T.
    """
    T = np.asarray(T, float)
    log_ratio = 0.5 * math.log(well.k_B / well.k_A) + 2.0 * (well.L_B - well.L_A) / T
    return expit(log_ratio)


def _log_basin_mass(well: DoubleWell, low: float, high: float, T: float, points_per_std: int) -> float:
    """log ∫_low^high exp(-2L/T) dθ by Simpson's rule; the exponent is shifted by its grid minimum m:
    log ∫ e^{-E} = -m + log ∫ e^{-(E - m)}, E = 2L/T."""
    std_min = math.sqrt(T / (2.0 * max(well.k_A, well.k_B)))
    n = int(min(4_000_001, max(2001, points_per_std * (high - low) / std_min))) | 1
    grid = np.linspace(low, high, n)
    energy = 2.0 * well.loss(grid) / T
    shift = float(energy.min())
    return -shift + math.log(simpson(np.exp(-(energy - shift)), x=grid))


def gibbs_probability_A(well: DoubleWell, T, *, points_per_std: int = 40):
    """Exact P(A) = ∫_A e^{-2L/T} / ∫ e^{-2L/T} by quadrature, A = A's side of the barrier. Vectorized in T.

    Each basin is integrated separately on a uniform grid from the barrier to 12 Gibbs standard deviations
    sqrt(T / (2 k_min)) beyond the outer centre, with spacing std_min/points_per_std (std_min = sqrt(T/(2 k_max)));
    exponents are shifted by their minimum before exponentiating.
    """
    T_array = np.asarray(T, float)
    location, _ = well.barrier()
    left_outer = min(well.c_A, well.c_B)
    right_outer = max(well.c_A, well.c_B)
    out = np.empty(T_array.shape)
    for index, temperature in np.ndenumerate(T_array):
        reach = 12.0 * math.sqrt(temperature / (2.0 * min(well.k_A, well.k_B)))
        log_left = _log_basin_mass(well, left_outer - reach, location, temperature, points_per_std)
        log_right = _log_basin_mass(well, location, right_outer + reach, temperature, points_per_std)
        p_left = expit(log_left - log_right)
        out[index] = p_left if well.c_A < well.c_B else 1.0 - p_left
    return out if out.ndim else float(out)


def crossover_temperature(well: DoubleWell) -> float:
    """Temperature where the Laplace approximation gives p_A = p_B (eq. 4 of the paper with n = T/2):

        T* = 2 (L_A - L_B) / log sqrt(k_B / k_A) = 4 (L_A - L_B) / log(k_B / k_A).

    Higher-but-flatter A: A is preferred for T > T*. Lower-but-sharper A: A is preferred for T < T*.
    Returns ``math.inf`` when no finite positive crossover exists, i.e. the same minimum is preferred
    at every temperature: A higher *and* sharper (A never preferred), A lower and flatter (always),
    or equal depth or equal curvature.
    """
    depth_gap = well.L_A - well.L_B
    log_curvature_ratio = math.log(well.k_B / well.k_A)
    if depth_gap == 0 or log_curvature_ratio == 0 or (depth_gap > 0) != (log_curvature_ratio > 0):
        return math.inf
    return 4.0 * depth_gap / log_curvature_ratio


@dataclass(frozen=True)
class DoubleWellResult:
    """Output of ``simulate_double_well``.

    temperature:              T = eta sigma2 / S.
    final_fraction_A:         fraction of chains in A's basin after the last step.
    chain_time_fraction_A:    (n_chains,) fraction of steps k >= burn_in each chain spent in A.
    time_fraction_A, time_fraction_A_se: mean and standard error (over chains) of chain_time_fraction_A.
    mean_crossings:           mean number of transitions per chain after burn-in; a transition is
                              counted when a chain last seen in the core of one well reaches the core of
                              the other (core = the half of a basin nearer its centre), so jitter at the
                              barrier does not count. Few transitions ⇒ the time average is not equilibrated.
    diverged:                 a non-finite value appeared (e.g. eta k >= 2); summaries are nan.
    """

    temperature: float
    final_fraction_A: float
    chain_time_fraction_A: np.ndarray
    time_fraction_A: float
    time_fraction_A_se: float
    mean_crossings: float
    diverged: bool


def _initial_positions(well: DoubleWell, init, n_chains: int, barrier_location: float, rng) -> np.ndarray:
    if isinstance(init, str):
        if init == "uniform":  # uniform between the two centres
            return rng.uniform(min(well.c_A, well.c_B), max(well.c_A, well.c_B), size=n_chains)
        if init == "barrier":
            return np.full(n_chains, barrier_location)
        if init == "balanced":  # half the chains at each centre (the odd one out at A)
            return np.where(np.arange(n_chains) % 2 == 0, well.c_A, well.c_B).astype(float)
        raise ValueError(f"init must be 'uniform', 'balanced', 'barrier' or a float, got {init!r}")
    return np.full(n_chains, float(init))


def simulate_double_well(
    well: DoubleWell,
    *,
    eta: float,
    sigma2: float,
    S: float,
    n_chains: int,
    n_steps: int,
    burn_in: int,
    seed: int,
    init="uniform",
) -> DoubleWellResult:
    """Independent chains of θ <- θ - eta L'(θ) + eta sqrt(sigma2/S) ξ, ξ ~ N(0, 1); temperature T = eta sigma2/S.

    init: "balanced" (alternate chains at c_A and c_B: an unequilibrated run is not biased towards either
    well), "uniform" (uniform between c_A and c_B: biased towards the well whose side of the barrier is
    longer), "barrier" (all at the barrier) or a float (all there).
    Basin occupancy is recorded for states θ_k, burn_in <= k < n_steps.
    """
    if not 0 <= burn_in < n_steps:
        raise ValueError("need 0 <= burn_in < n_steps")
    rng = np.random.default_rng(seed)
    location, _ = well.barrier()
    a_is_left = well.c_A < well.c_B
    # cores: A-side of the midpoint between c_A and the barrier, and likewise for B
    core_A_edge = 0.5 * (well.c_A + location)
    core_B_edge = 0.5 * (well.c_B + location)
    theta = _initial_positions(well, init, n_chains, location, rng)
    noise_scale = eta * math.sqrt(sigma2 / S)
    time_in_A = np.zeros(n_chains)
    last_core = np.zeros(n_chains, dtype=np.int8)  # +1: A, -1: B, 0: neither yet
    transitions = np.zeros(n_chains)
    block = _noise_block_steps(n_chains, n_steps)
    diverged = False

    def side(values, edge, towards_A):
        return values < edge if (towards_A == a_is_left) else values > edge

    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n_steps, block):
            steps = min(block, n_steps - start)
            noise = noise_scale * rng.standard_normal((steps, n_chains))
            for j in range(steps):
                if start + j >= burn_in:
                    time_in_A += (theta < location) if a_is_left else (theta > location)
                    in_core_A = side(theta, core_A_edge, True)
                    in_core_B = side(theta, core_B_edge, False)
                    core = in_core_A.astype(np.int8) - in_core_B.astype(np.int8)
                    transitions += (core * last_core) < 0
                    last_core = np.where(core != 0, core, last_core)
                theta = theta - eta * well.grad(theta) + noise[j]
            if not np.isfinite(theta).all():
                diverged = True
                break
    n_recorded = n_steps - burn_in
    if diverged:
        nan = float("nan")
        return DoubleWellResult(eta * sigma2 / S, nan, np.full(n_chains, nan), nan, nan, nan, True)
    chain_fraction = time_in_A / n_recorded
    final_in_A = well.basin(theta, barrier_location=location)
    return DoubleWellResult(
        temperature=eta * sigma2 / S,
        final_fraction_A=float(final_in_A.mean()),
        chain_time_fraction_A=chain_fraction,
        time_fraction_A=float(chain_fraction.mean()),
        time_fraction_A_se=float(chain_fraction.std(ddof=1) / math.sqrt(n_chains)) if n_chains > 1 else math.inf,
        mean_crossings=float(transitions.mean()),
        diverged=False,
    )
