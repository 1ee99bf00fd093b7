"""Run configs of the chapter "SGD as a stochastic differential equation", the computations the
store keeps, and the rows (one per setting, seeds kept) that the claims and figures read.

1. ``QuadraticRun`` on L = ½ θᵀHθ with injected noise of covariance C = H (the OU check), over
   (η/S, S) pairs, and at a fixed η/S with η·λ_max growing toward 2 (the breakdown sweep).
2. ``RegressionRun``: linear / logistic regression with real minibatch sampling (no injected noise).
3. ``DoubleWellRun``: which of two minima SGD occupies as the temperature T = ησ²/S grows; chains
   start balanced, half at each minimum.

Times are physical (t = k·η): a run of time τ at learning rate η takes ⌈τ/η⌉ steps, so runs at
different η cover the same stretch of the SDE.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from ... import sde, stats
from ...config import RunConfig, require

# The double well of Section 4: A higher (L_A > L_B) but flatter (k_A < k_B).  Fixed, recorded in
# every config; eq. (4) puts the Laplace crossover at T* = 2 (L_A - L_B) / log sqrt(k_B / k_A).
WELL = dict(c_A=-0.75, L_A=0.1, k_A=1.0, c_B=0.75, L_B=0.0, k_B=4.0, tau=0.02)
#: the modules every run's computation executes; each config adds its model's module (replication.config)
CODE = ("replication.chapters.sde.experiment", "replication.sde.__init__", "replication.sde.common")
BOOTSTRAP_DRAWS = 2000   # resamples of the N examples behind the interval of Tr C / Tr H


def _steps(burn_in_time: float, measure_time: float, eta: float) -> tuple[int, int]:
    """(total steps, burn-in steps) covering the given physical times at step size eta."""
    burn_in = math.ceil(burn_in_time / eta)
    return burn_in + max(1, math.ceil(measure_time / eta)), burn_in


# -- run configs -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class QuadraticRun(RunConfig):
    """SGD with injected noise of covariance C = H on L = ½ θᵀHθ, H = Q diag(spread spectrum) Qᵀ."""

    kind: ClassVar[str] = "sde-quadratic"
    code: ClassVar[tuple[str, ...]] = CODE + ("replication.sde.quadratic",)
    dim: int
    lam_min: float
    lam_max: float
    eta: float
    batch_size: int
    n_chains: int
    burn_in_time: float
    measure_time: float
    seed: int
    spectrum_seed: int = 0

    def validate(self) -> None:
        require(self.dim >= 2, "dim", self.dim, ">= 2")
        require(0 < self.lam_min < self.lam_max, "lam_min", self.lam_min, "0 < lam_min < lam_max")
        require(self.eta > 0, "eta", self.eta, "> 0")
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")

    @property
    def hessian(self) -> np.ndarray:
        return sde.rotated_matrix(sde.spread_spectrum(self.dim, self.lam_min, self.lam_max), self.spectrum_seed)

    @property
    def steps(self) -> tuple[int, int]:
        return _steps(self.burn_in_time, self.measure_time, self.eta)


@dataclasses.dataclass(frozen=True)
class RegressionRun(RunConfig):
    """Minibatch SGD (reshuffled epochs, no injected noise) on a synthetic regression problem."""

    kind: ClassVar[str] = "sde-regression"
    code: ClassVar[tuple[str, ...]] = CODE + ("replication.sde.regression",)
    loss: str
    n_examples: int
    dim: int
    noise_std: float
    eta: float
    batch_size: int
    n_chains: int
    burn_in_time: float
    measure_time: float
    seed: int
    data_seed: int = 0
    lam_min: float = 0.2
    lam_max: float = 2.0
    record_every: int = 10  # logistic only: the full-data loss is recorded every this many steps
    sampling: str = "epochs"  # "epochs": reshuffle every epoch; "independent": fresh distinct draws each step

    def validate(self) -> None:
        require(self.loss in ("linear", "logistic"), "loss", self.loss, "linear or logistic")
        require(1 <= self.batch_size <= self.n_examples, "batch_size", self.batch_size, "in [1, n_examples]")
        require(self.sampling in ("epochs", "independent"), "sampling", self.sampling, "epochs or independent")

    def problem(self):
        if self.loss == "linear":
            X, y = sde.make_linear_regression(self.n_examples, self.dim, noise_std=self.noise_std,
                                              lam_min=self.lam_min, lam_max=self.lam_max, seed=self.data_seed)
            return X, y, sde.linear_regression_minimum(X, y)
        X, y = sde.make_logistic_regression(self.n_examples, self.dim, self.data_seed, lam_min=self.lam_min,
                                            lam_max=self.lam_max)
        return X, y, sde.logistic_regression_minimum(X, y)

    @property
    def epochs(self) -> tuple[int, int]:
        epoch_time = self.eta * (self.n_examples // self.batch_size)
        burn_in = math.ceil(self.burn_in_time / epoch_time)
        return burn_in + max(1, math.ceil(self.measure_time / epoch_time)), burn_in


@dataclasses.dataclass(frozen=True)
class DoubleWellRun(RunConfig):
    """SGD with isotropic injected noise (variance σ² per example) on the 1-D double well ``WELL``."""

    kind: ClassVar[str] = "sde-double-well"
    code: ClassVar[tuple[str, ...]] = CODE + ("replication.sde.double_well",)
    eta: float
    sigma2: float
    batch_size: int
    n_chains: int
    burn_in_time: float
    measure_time: float
    seed: int
    well: tuple = tuple(sorted(WELL.items()))
    init: str = "balanced"

    @property
    def temperature(self) -> float:
        return self.eta * self.sigma2 / self.batch_size

    @property
    def steps(self) -> tuple[int, int]:
        return _steps(self.burn_in_time, self.measure_time, self.eta)


# -- computations (what the store keeps) ----------------------------------------------------------
def run_quadratic(cfg: QuadraticRun) -> dict:
    H = cfg.hessian
    n_steps, burn_in = cfg.steps
    out = sde.simulate_quadratic_sgd(H, H, cfg.eta, cfg.batch_size, n_chains=cfg.n_chains, n_steps=n_steps,
                                     burn_in=burn_in, seed=cfg.seed)
    eigenvalues, Q = np.linalg.eigh(H)
    coords = out.final_theta @ Q  # per-eigendirection coordinates of the final samples
    return {"chain_mean_loss": out.chain_mean_loss, "diverged": out.diverged, "eigenvalues": eigenvalues,
            "eigen_variance": coords.var(axis=0) if not out.diverged else np.full(cfg.dim, np.inf),
            "final_loss": 0.5 * np.einsum("cd,cd->c", out.final_theta @ H, out.final_theta)}


def run_regression(cfg: RegressionRun) -> dict:
    X, y, minimum = cfg.problem()
    n_epochs, burn_in = cfg.epochs
    out = sde.simulate_minibatch_sgd(X, y, cfg.eta, cfg.batch_size, n_chains=cfg.n_chains, n_epochs=n_epochs,
                                     burn_in_epochs=burn_in, seed=cfg.seed, loss=cfg.loss,
                                     record_every=1 if cfg.loss == "linear" else cfg.record_every,
                                     sampling=cfg.sampling)
    return {"chain_mean_excess_loss": out.chain_mean_excess_loss, "diverged": out.diverged,
            "steps_per_epoch": out.steps_per_epoch, "epochs": n_epochs}


def run_double_well(cfg: DoubleWellRun) -> dict:
    n_steps, burn_in = cfg.steps
    out = sde.simulate_double_well(sde.DoubleWell(**dict(cfg.well)), eta=cfg.eta, sigma2=cfg.sigma2,
                                   S=cfg.batch_size, n_chains=cfg.n_chains, n_steps=n_steps, burn_in=burn_in,
                                   seed=cfg.seed, init=cfg.init)
    return dataclasses.asdict(out)


# -- the chapter's grids -----------------------------------------------------------------------------
def quadratic_configs(params, ratios, batch_sizes) -> list[QuadraticRun]:
    return [QuadraticRun(dim=params.quad_dim, lam_min=params.quad_lam_min, lam_max=params.quad_lam_max,
                         eta=ratio * S, batch_size=S, n_chains=params.chains, seed=seed,
                         burn_in_time=params.quad_burn_in_time, measure_time=params.quad_measure_time)
            for ratio in ratios for S in batch_sizes for seed in range(params.seeds)]


# Input spectra (covariance of x): the logistic Hessian is about p(1-p) ~ 0.15 times it, so its
# inputs are scaled up to keep both problems' curvature in a similar range.
REGRESSION_SPECTRUM = {"linear": (0.2, 2.0), "logistic": (1.0, 10.0)}


def regression_configs(params) -> list[RegressionRun]:
    return [RegressionRun(loss=loss, n_examples=params.reg_examples, dim=params.reg_dim,
                          noise_std=params.reg_noise_std, eta=eta, batch_size=S, n_chains=params.reg_chains,
                          burn_in_time=params.reg_burn_in_time, measure_time=params.reg_measure_time, seed=seed,
                          sampling=sampling, lam_min=REGRESSION_SPECTRUM[loss][0],
                          lam_max=REGRESSION_SPECTRUM[loss][1])
            for loss in params.reg_losses for sampling in params.reg_sampling for eta in params.reg_etas
            for S in params.reg_batch_sizes for seed in range(params.seeds)]


def double_well_configs(params) -> list[DoubleWellRun]:
    return [DoubleWellRun(eta=params.well_eta, sigma2=params.well_sigma2, batch_size=S, n_chains=params.chains,
                          burn_in_time=params.well_burn_in_time, measure_time=params.well_measure_time, seed=seed)
            for S in params.well_batch_sizes for seed in range(params.seeds)]


def _group(results, key):
    groups: dict = {}
    for r in results:
        groups.setdefault(key(r.config), []).append(r)
    return groups


def _ci(values) -> tuple[float, float]:
    values = np.asarray(values, float)
    if not np.all(np.isfinite(values)):
        return math.inf, math.nan
    return stats.mean_ci(values)


def quadratic_rows(results, H) -> list[dict]:
    """One row per (η, S): mean loss over seeds with its 95% CI, the seeds' means, the theories, and
    ``transient``: the relative variance deficit left after the burn-in of a chain started at the
    minimum, max_i |1 − ηλ_i|^(2·burn-in steps) (large: the point is not equilibrated)."""
    rows = []
    trace = float(np.trace(H))
    lam = np.linalg.eigvalsh(H)
    lam_max = float(lam[-1])
    for (eta, S), runs in _group(results, lambda c: (c["eta"], c["batch_size"])).items():
        seed_means = [float(np.mean(r.payload["chain_mean_loss"])) for r in runs]
        mean, half = _ci(seed_means)
        variance = np.mean([r.payload["eigen_variance"] for r in runs], axis=0)
        burn_in = QuadraticRun(**runs[0].config).steps[1]
        transient = float(np.max(np.abs(1 - eta * lam)) ** (2 * burn_in))
        rows.append(dict(eta=eta, S=S, ratio=eta / S, eta_lam_max=eta * lam_max, loss=mean, loss_ci=half,
                         seed_losses=seed_means, transient=transient,
                         sde=sde.sde_stationary_loss(H, H, eta, S), discrete=sde.discrete_stationary_loss(H, H, eta, S),
                         naive=eta / (4 * S) * trace, diverged=any(r.payload["diverged"] for r in runs),
                         eigenvalues=runs[0].payload["eigenvalues"], eigen_variance=variance,
                         final_loss=np.concatenate([r.payload["final_loss"] for r in runs])))
    return sorted(rows, key=lambda r: (r["ratio"], r["S"]))


def c_over_h(X, y, minimum, loss: str, *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
             block: int = 2_000_000) -> dict:
    """Tr C / Tr H at the minimum, with a 95% bootstrap interval over the N examples.

    Per example n: Tr H = mean h_n ||x_n||² (h = 1 linear, p(1 − p) logistic) and Tr C = mean
    r_n² ||x_n||² − ||g||² (r the residual; g = 0 at the minimum); the bootstrap resamples the ratio
    of the means a_n = r_n² ||x_n||², b_n = h_n ||x_n||².  The resamples are drawn in blocks of at most
    ``block`` indices so that memory stays bounded for large N (the C = H premise and its control);
    when draws × N fits one block they are the single draw of the whole matrix."""
    X = np.asarray(X, float)
    norms = np.sum(X * X, axis=1)
    if loss == "linear":
        r = X @ minimum.w_star - y
        h = np.ones_like(r)
    else:
        from scipy.special import expit

        p = expit(X @ minimum.w_star)
        r, h = p - y, p * (1 - p)
    a, b = r * r * norms, h * norms
    value = float(np.trace(minimum.C) / np.trace(minimum.H))
    rng = np.random.default_rng(seed)
    chunk = max(1, block // len(a))
    boot = []
    for start in range(0, draws, chunk):
        idx = rng.integers(0, len(a), size=(min(chunk, draws - start), len(a)))
        boot.append(a[idx].mean(axis=1) / b[idx].mean(axis=1))
    lo, hi = np.quantile(np.concatenate(boot), [0.025, 0.975])
    return dict(value=value, lo=float(lo), hi=float(hi))


def regression_rows(results) -> list[dict]:
    """One row per (loss, sampling, η, S): the measured excess loss (mean, CI, the seeds' means) and
    every prediction, η·λ_max(H), and Tr C / Tr H with its bootstrap interval."""
    rows = []
    problems: dict = {}
    key = lambda c: (c["loss"], c["sampling"], c["eta"], c["batch_size"])  # noqa: E731
    for (loss, sampling, eta, S), runs in _group(results, key).items():
        cfg = RegressionRun(**runs[0].config)
        if loss not in problems:
            X, y, minimum = cfg.problem()
            problems[loss] = (X, y, minimum, c_over_h(X, y, minimum, loss))
        X, y, minimum, ch = problems[loss]
        exact = (sde.linear_sgd_exact_excess_loss(X, y, eta, S)
                 if loss == "linear" and sampling == "independent" else math.nan)
        seed_means = [float(np.mean(r.payload["chain_mean_excess_loss"])) for r in runs]
        mean, half = _ci(seed_means)
        N = cfg.n_examples
        rows.append(dict(loss=loss, sampling=sampling, eta=eta, S=S, ratio=eta / S, excess=mean, excess_ci=half,
                         seed_excess=seed_means, eta_lam_max=eta * float(np.linalg.eigvalsh(minimum.H)[-1]),
                         trace_H=float(np.trace(minimum.H)), trace_C=float(np.trace(minimum.C)),
                         C_over_H=ch["value"], C_over_H_lo=ch["lo"], C_over_H_hi=ch["hi"],
                         pred_trace_H=sde.naive_trace_loss(minimum.H, eta, S),
                         pred_trace_C=sde.sde_trace_loss(minimum.C, eta, S) * (N - S) / (N - 1),
                         pred_lyapunov=sde.predicted_excess_loss(minimum.H, minimum.C, eta, S, N=N),
                         pred_discrete=sde.predicted_excess_loss(minimum.H, minimum.C, eta, S, N=N, discrete=True),
                         pred_exact=exact,
                         diverged=any(r.payload["diverged"] for r in runs)))
    return sorted(rows, key=lambda r: (r["loss"], r["sampling"], r["ratio"], r["S"]))


def well_rows(results) -> list[dict]:
    """One row per batch size: time fraction in A (mean, CI, the seeds'), crossings, both laws."""
    rows = []
    for S, runs in _group(results, lambda c: c["batch_size"]).items():
        cfg = DoubleWellRun(**{**runs[0].config, "well": tuple(map(tuple, runs[0].config["well"]))})
        well = sde.DoubleWell(**dict(cfg.well))
        T = cfg.temperature
        seed_fractions = [r.payload["time_fraction_A"] for r in runs]
        mean, half = _ci(seed_fractions)
        rows.append(dict(S=S, T=T, fraction_A=mean, fraction_A_ci=half, seed_fractions=seed_fractions,
                         final_fraction_A=float(np.mean([r.payload["final_fraction_A"] for r in runs])),
                         crossings=float(np.mean([r.payload["mean_crossings"] for r in runs])),
                         laplace=float(sde.laplace_probability_A(well, T)),
                         gibbs=float(sde.gibbs_probability_A(well, T)),
                         diverged=any(r.payload["diverged"] for r in runs)))
    return sorted(rows, key=lambda r: r["T"])


def well() -> "sde.DoubleWell":
    return sde.DoubleWell(**WELL)
