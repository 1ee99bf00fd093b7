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
1. :mod:`~replication.sde.quadratic`: the quadratic basin L = ½ θᵀHθ (Ornstein-Uhlenbeck): stationary
   covariance of the SDE (continuous Lyapunov) and of the discrete update (discrete Lyapunov), and a
   vectorized simulator with injected Gaussian noise.
2. :mod:`~replication.sde.regression`: finite-data linear / logistic regression with real minibatch
   sampling (no injected noise), the minimum, its Hessian H and gradient covariance C, and the
   predictions of the stationary excess loss.
3. :mod:`~replication.sde.double_well`: a 1-D double well: Laplace (Theorem 2, eq. 4) vs exact Gibbs
   probability of the higher minimum, the crossover temperature, and a simulator.

:mod:`~replication.sde.common` holds what they share (random spectra and rotations, PSD square
roots, the noise block size).  Every name is re-exported here: ``from replication import sde;
sde.simulate_double_well(...)``.

All simulators are float64 numpy, vectorized over independent chains, deterministic given ``seed``
(``np.random.default_rng(seed)``). A run that produces a non-finite value anywhere is stopped and
reported with ``diverged=True``; its summaries are then ``inf``/``nan``.
"""
from .common import psd_sqrt, random_orthogonal, rotated_matrix, spread_spectrum
from .double_well import (DoubleWell, DoubleWellResult, _initial_positions, crossover_temperature,
                          gibbs_probability_A, laplace_probability_A, simulate_double_well)
from .quadratic import (QuadraticSGDResult, discrete_spectral_radius, discrete_stationary_covariance,
                        discrete_stationary_loss, sde_stationary_covariance, sde_stationary_loss,
                        simulate_quadratic_sgd)
from .regression import (MinibatchSGDResult, RegressionMinimum, linear_regression_minimum,
                         linear_sgd_exact_excess_loss, linear_sgd_exact_stationary_covariance, logistic_loss,
                         logistic_regression_minimum, make_linear_regression, make_logistic_regression,
                         minibatch_noise_covariance, naive_trace_loss, predicted_excess_loss, sde_trace_loss,
                         simulate_minibatch_sgd)

__all__ = [
    "psd_sqrt", "random_orthogonal", "rotated_matrix", "spread_spectrum",
    "QuadraticSGDResult", "discrete_spectral_radius", "discrete_stationary_covariance", "discrete_stationary_loss",
    "sde_stationary_covariance", "sde_stationary_loss", "simulate_quadratic_sgd",
    "MinibatchSGDResult", "RegressionMinimum", "linear_regression_minimum", "linear_sgd_exact_excess_loss",
    "linear_sgd_exact_stationary_covariance", "logistic_loss", "logistic_regression_minimum",
    "make_linear_regression", "make_logistic_regression", "minibatch_noise_covariance", "naive_trace_loss",
    "predicted_excess_loss", "sde_trace_loss", "simulate_minibatch_sgd",
    "DoubleWell", "DoubleWellResult", "crossover_temperature", "gibbs_probability_A", "laplace_probability_A",
    "simulate_double_well",
]
