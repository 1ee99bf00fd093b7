"""Confidence intervals over independent samples.

Every quantity the book reports with an error bar is a mean over *independent* replicates
(independent chains, seeds or runs), never over the correlated steps of one chain.

- ``mean_ci``       mean and Student-t half-width: mean ± t_{(1+level)/2, n-1} · s / sqrt(n)
- ``standard_error`` s / sqrt(n), with s the sample standard deviation (ddof = 1)
- ``bootstrap_ci``  percentile bootstrap interval for any statistic (small or skewed samples)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as _scipy_stats


def _as_samples(samples) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("need at least one sample")
    return values


def standard_error(samples) -> float:
    """s / sqrt(n) with the unbiased sample standard deviation; ``inf`` for a single sample."""
    values = _as_samples(samples)
    if values.size < 2:
        return float("inf")
    return float(values.std(ddof=1) / np.sqrt(values.size))


def mean_ci(samples, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval over independent samples.

    half_width = t_{(1+level)/2, n-1} · s / sqrt(n), s the sample standard deviation (ddof=1).
    The interval is exact for normal samples and asymptotically right otherwise.
    One sample gives an infinite half-width; non-finite samples propagate (nan/inf).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = _as_samples(samples)
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("inf")
    t_quantile = _scipy_stats.t.ppf(0.5 * (1.0 + level), df=values.size - 1)
    return mean, float(t_quantile * standard_error(values))


def bootstrap_ci(
    samples,
    statistic: Callable[[np.ndarray], float] = np.mean,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval (low, high) of ``statistic`` over independent samples.

    Resamples the n values with replacement ``n_resamples`` times and returns the
    (1-level)/2 and (1+level)/2 quantiles of the statistic. Deterministic given ``seed``.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = _as_samples(samples)
    rng = np.random.default_rng(seed)
    resample_index = rng.integers(0, values.size, size=(n_resamples, values.size))
    replicates = np.array([statistic(values[row]) for row in resample_index])
    alpha = 0.5 * (1.0 - level)
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return float(low), float(high)
