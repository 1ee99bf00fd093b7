import numpy as np
import pytest
from scipy import stats as scipy_stats

from replication import stats
from replication.stats import bootstrap_ci, mean_ci, standard_error


def test_mean_ci_matches_student_t_formula():
    samples = np.array([1.0, 2.0, 4.0, 7.0])
    mean, half = mean_ci(samples, level=0.9)
    expected_half = scipy_stats.t.ppf(0.95, df=3) * samples.std(ddof=1) / 2.0
    assert mean == pytest.approx(3.5)
    assert half == pytest.approx(expected_half)
    assert standard_error(samples) == pytest.approx(samples.std(ddof=1) / 2.0)


def test_mean_ci_coverage_is_nominal_for_small_samples():
    # n = 5: a normal-quantile interval would cover only ~88%, the t interval 95%
    rng = np.random.default_rng(0)
    repetitions, n, true_mean = 4000, 5, 3.0
    draws = rng.normal(true_mean, 2.0, size=(repetitions, n))
    covered = 0
    for row in draws:
        mean, half = mean_ci(row, level=0.95)
        covered += abs(mean - true_mean) <= half
    coverage = covered / repetitions
    tolerance = 3 * np.sqrt(0.95 * 0.05 / repetitions)
    assert abs(coverage - 0.95) < tolerance


def test_half_width_shrinks_like_inverse_sqrt_n():
    rng = np.random.default_rng(1)
    half_small = np.mean([mean_ci(rng.normal(size=400))[1] for _ in range(20)])
    half_large = np.mean([mean_ci(rng.normal(size=1600))[1] for _ in range(20)])
    assert half_small / half_large == pytest.approx(2.0, rel=0.05)


def test_single_sample_has_infinite_half_width_and_bad_level_is_rejected():
    assert mean_ci([2.5]) == (2.5, float("inf"))
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], level=1.5)


def test_bootstrap_ci_agrees_with_t_interval_for_large_normal_sample():
    samples = np.random.default_rng(2).normal(1.0, 1.0, size=400)
    low, high = bootstrap_ci(samples, n_resamples=1000, seed=0)
    mean, half = mean_ci(samples)
    assert low < mean < high
    assert (high - low) / (2 * half) == pytest.approx(1.0, rel=0.15)
    assert bootstrap_ci(samples, n_resamples=1000, seed=0) == (low, high)


def test_geometric_mean_ci_is_the_t_interval_of_the_logs():
    from replication.stats import geometric_mean_ci

    x = np.array([2.0, 8.0, 32.0])                 # logs 1, 3, 5 (base 2): mean 3, sd 2
    centre, lo, hi = geometric_mean_ci(x, level=0.95)
    half = scipy_stats.t.ppf(0.975, df=2) * 2 * np.log(2) / np.sqrt(3)
    assert centre == pytest.approx(8.0)
    assert lo == pytest.approx(8.0 * np.exp(-half)) and hi == pytest.approx(8.0 * np.exp(half))
    assert lo > 0 and lo * hi == pytest.approx(centre ** 2)      # symmetric on a log axis
    # the arithmetic interval of the same seeds reaches below zero; this one cannot
    assert mean_ci(x)[0] - mean_ci(x)[1] < 0
    assert all(np.isnan(geometric_mean_ci([1.0, -1.0, 2.0])))
    assert geometric_mean_ci([3.0]) == pytest.approx((3.0, 0.0, float("inf")))


def test_rounded_decides_ties_by_the_stated_precision():
    assert stats.rounded(0.019999999999999907) == 0.02 and stats.rounded(0.0199994, 3) == 0.02
    assert not stats.rounded(0.019999999999999907) < 0.02


def test_detectable_effect_closed_form():
    from scipy.stats import norm

    assert stats.detectable_effect(1.0) == pytest.approx(1 + norm.ppf(0.8) / norm.ppf(0.975))
    assert stats.detectable_effect(2.0, power=0.5) == pytest.approx(2.0)       # power 1/2: the half-width itself
    assert stats.runs_needed(3, 0.2, 0.1) == 12 and stats.runs_needed(5, 0.1, 0.2) == 5


@pytest.mark.parametrize("n", [2, 3, 4, 6, 9, 20])
def test_scrambled_order_is_a_permutation_far_from_identity(n):
    p = stats.scrambled_order(n)
    assert sorted(p.tolist()) == list(range(n)) and p.tolist() != list(range(n))
    assert n == 2 or abs(stats.spearman(range(n), p)) <= (0.5 if n == 3 else 0.2)
