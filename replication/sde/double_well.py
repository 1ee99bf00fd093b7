r"""Which minimum wins: a 1-D double well, two quadratic wells joined by a soft minimum.

The Laplace approximation of the probability of the higher minimum (Theorem 2, eq. 4 of the paper,
in the T convention of :mod:`replication.sde`), the exact Gibbs probability by quadrature, the
crossover temperature, and a simulator of SGD with isotropic injected noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.integrate import simpson
from scipy.special import expit

from .common import _noise_block_steps


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
