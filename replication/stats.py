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


def geometric_mean_ci(samples, level: float = 0.95) -> tuple[float, float, float]:
    """``(centre, low, high)``: the geometric mean of positive samples and the Student-t interval of
    the mean of their logarithms, mapped back,

        exp(m ± t_{(1+level)/2, n-1} · s / sqrt(n)),   m, s the mean and sd of log x.

    For quantities that vary by factors (λ_max, Tr H, ‖H‖_F on a log axis) this interval stays
    positive and symmetric on the axis they are drawn on, where the arithmetic one can reach below
    zero at three seeds.  Non-positive or non-finite samples give ``nan``; one sample an infinite
    interval ``(x, 0, inf)``.
    """
    values = _as_samples(samples)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        return float("nan"), float("nan"), float("nan")
    m, half = mean_ci(np.log(values), level)
    return float(np.exp(m)), float(np.exp(m - half)), float(np.exp(m + half))


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


# -- rule helpers: every rule has three outcomes (holds / fails / inconclusive) -------------------------
# Intervals over seeds use the Student-t law of a mean (m + s/sqrt(n) * T_{n-1}), which stays honest
# at n = 3 where a percentile bootstrap of three values is far too narrow (it cannot exceed their range).


def spearman_rows(x, Y) -> np.ndarray:
    """Spearman ρ between ``x`` and each row of ``Y`` (Pearson correlation of average ranks, ties as in
    ``scipy.stats.spearmanr``); nan where a row or ``x`` is constant."""
    from scipy.stats import rankdata

    rx = rankdata(np.asarray(x, float))
    ry = rankdata(np.atleast_2d(np.asarray(Y, float)), axis=1)
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ry @ rx) / np.where(den > 0, den, 1.0), np.nan)


def spearman(x, y) -> float:
    """Spearman ρ of two sequences (nan below three points)."""
    if len(x) < 3:
        return float("nan")
    return float(spearman_rows(x, y)[0])


def mean_draws(values, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` plausible values of the mean of ``values``: m + s/sqrt(n) · T_{n-1} (the posterior of
    a normal mean under the reference prior).  One value gives that value (no spread can be known)."""
    v = _as_samples(values)
    if v.size < 2:
        return np.full(n_draws, v.mean())
    return v.mean() + v.std(ddof=1) / np.sqrt(v.size) * rng.standard_t(v.size - 1, n_draws)


def trend(groups, *, level: float = 0.95, n_draws: int = 4000, seed: int = 0) -> dict:
    """Monotone trend of a quantity over a setting ``x``: ``groups`` maps x -> the values of its seeds.

    ρ = Spearman(x, per-group mean); its interval: the ``level`` quantiles of ρ recomputed on draws
    of every group's mean from :func:`mean_draws` (t-law over the seeds, honest at small n).
    Returns ``rho, lo, hi, n_groups, n_runs``."""
    keys = sorted(k for k, v in groups.items() if len(np.ravel(v)))
    values = [np.asarray(groups[k], float).ravel() for k in keys]
    out = dict(rho=float("nan"), lo=float("nan"), hi=float("nan"), n_groups=len(keys),
               n_runs=int(sum(len(v) for v in values)))
    if len(keys) < 3:
        return out
    rng = np.random.default_rng(seed)
    out["rho"] = spearman(keys, [v.mean() for v in values])
    draws = np.column_stack([mean_draws(v, n_draws, rng) for v in values])
    reps = spearman_rows(keys, draws)
    reps = reps[np.isfinite(reps)]
    if len(reps):
        alpha = 0.5 * (1 - level)
        out["lo"], out["hi"] = (float(q) for q in np.quantile(reps, [alpha, 1 - alpha]))
    return out


def trend_outcome(t: dict, sign: int, *, rho_min: float = 0.5) -> str:
    """Verdict on a claimed trend (``sign`` +1 rising, -1 falling) from :func:`trend`:
    holds when the interval lies on the claimed side of 0 and |ρ| >= ``rho_min``; fails when the
    interval lies on the other side of 0, or entirely within (-rho_min, +rho_min) (no trend of
    the claimed size); inconclusive otherwise (including too few groups)."""
    if not np.isfinite(t.get("lo", np.nan)):
        return "inconclusive"
    lo, hi = (t["lo"], t["hi"]) if sign > 0 else (-t["hi"], -t["lo"])
    rho = sign * t["rho"]
    if lo > 0 and rho >= rho_min:
        return "holds"
    if hi < 0 or (lo > -rho_min and hi < rho_min):
        return "fails"
    return "inconclusive"


def ols(y, *columns, level: float = 0.95) -> dict:
    """Least squares y = a + Σ b_j x_j with classical t intervals on every coefficient.

    Returns ``coef`` (a, b_1, ...), ``lo``/``hi`` (per coefficient), ``r2``, ``n``; nan intervals when
    there are no residual degrees of freedom."""
    y = np.asarray(y, float)
    X = np.column_stack([np.ones_like(y)] + [np.asarray(c, float) for c in columns])
    n, p = X.shape
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    total = float(np.sum((y - y.mean()) ** 2))
    out = dict(coef=coef, n=n, r2=1 - float(resid @ resid) / total if total > 0 else float("nan"),
               lo=np.full(p, np.nan), hi=np.full(p, np.nan))
    if n > p:
        sigma2 = float(resid @ resid) / (n - p)
        cov = sigma2 * np.linalg.pinv(X.T @ X)
        half = _scipy_stats.t.ppf(0.5 * (1 + level), n - p) * np.sqrt(np.clip(np.diag(cov), 0, None))
        out["lo"], out["hi"] = coef - half, coef + half
    return out


def sign_outcome(lo: float, hi: float, sign: int) -> str:
    """holds when the interval [lo, hi] lies on the side of 0 given by ``sign``; fails when it lies on
    the other side; inconclusive when it contains 0 (or is nan)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if (lo > 0 and sign > 0) or (hi < 0 and sign < 0):
        return "holds"
    if (hi < 0 and sign > 0) or (lo > 0 and sign < 0):
        return "fails"
    return "inconclusive"


def equivalence(a, b, margin: float, *, alpha: float = 0.05) -> dict:
    """Two one-sided tests (Welch) that the means of ``a`` and ``b`` differ by less than ``margin``.

    ``diff`` = mean(a) - mean(b) with its (1 - 2 alpha) Welch interval [lo, hi].  Outcome: holds when
    the interval lies within (-margin, +margin) (both one-sided tests reject at ``alpha``); fails
    when it lies entirely outside (the difference exceeds the margin with confidence); inconclusive
    otherwise.  Needs two or more values on each side."""
    a, b = _as_samples(a), _as_samples(b)
    diff = float(a.mean() - b.mean())
    out = dict(diff=diff, lo=float("nan"), hi=float("nan"), margin=margin, n_a=a.size, n_b=b.size,
               outcome="inconclusive")
    if a.size < 2 or b.size < 2:
        return out
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = float(np.sqrt(va + vb))
    if se == 0:
        out["lo"] = out["hi"] = diff
    else:
        df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
        half = float(_scipy_stats.t.ppf(1 - alpha, df) * se)
        out["lo"], out["hi"] = diff - half, diff + half
    if -margin < out["lo"] and out["hi"] < margin:
        out["outcome"] = "holds"
    elif out["lo"] >= margin or out["hi"] <= -margin:
        out["outcome"] = "fails"
    return out


# -- rules' small print: ties, power, controls -------------------------------------------------------------
def rounded(x: float, decimals: int = 6) -> float:
    """``x`` at the stated precision of a rule, so that a comparison with its threshold is decided by
    the rounding the rule states, never by floating-point noise (0.019999999999999907 < 0.02 is a
    tie at 6 decimals, and a tie goes to the side the rule names)."""
    return float(np.round(float(x), decimals)) if np.isfinite(x) else float(x)


def detectable_effect(half_width: float, *, level: float = 0.95, power: float = 0.8) -> float:
    """The smallest true effect a two-sided ``level`` interval of this half-width detects with
    probability ``power`` (normal approximation): δ = hw · (z_{(1+level)/2} + z_{power}) / z_{(1+level)/2}.
    At level 0.95 and power 0.8: δ ≈ 1.43 hw."""
    if not np.isfinite(half_width) or half_width < 0:
        return float("nan")
    z = _scipy_stats.norm.ppf(0.5 * (1 + level))
    return float(half_width * (z + _scipy_stats.norm.ppf(power)) / z)


def runs_needed(n: int, half_width: float, target: float) -> int:
    """Replicates needed to shrink a half-width ``half_width`` measured on ``n`` replicates to
    ``target`` (the 1/√n law of a mean): ⌈n · (hw / target)²⌉, at least ``n``."""
    if not (np.isfinite(half_width) and np.isfinite(target)) or target <= 0:
        return 0
    return max(int(n), int(np.ceil(n * (half_width / target) ** 2)))


def scrambled_order(n: int) -> np.ndarray:
    """A fixed permutation of ``range(n)`` as uncorrelated with the identity as possible (the
    smallest |Spearman ρ|, never the identity; ties: the first in lexicographic order for n <= 8, else
    the best of 2,000 seeded shuffles; two groups: the reversal).  The negative control of a trend rule relabels its groups with it: a rule
    that still finds the trend is not reading the setting it names."""
    from itertools import permutations

    if n < 2:
        return np.arange(n)
    ident = np.arange(n)
    if n <= 8:
        candidates = (np.array(p) for p in permutations(range(n)))
    else:
        rng = np.random.default_rng(0)
        candidates = (rng.permutation(n) for _ in range(2000))
    best, best_rho = ident[::-1].copy(), np.inf     # two groups: the reversal is the only scramble
    for p in candidates:
        if np.array_equal(p, ident):
            continue
        rho = abs(spearman(ident, p))
        if rho < best_rho - 1e-12:
            best, best_rho = p, rho
    return best
