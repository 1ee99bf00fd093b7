"""The negative controls that need runs or data of their own (the rest are computed from the
chapter's runs in ``claims.py``).  Kept apart from ``experiment.py`` so that the stored runs of the
chapter's four experiments keep their keys (a run's key includes the digest of the module that
defines its config).

- ``CONTROL_WELL``: claim 3's control potential, the double well with its higher minimum A made as
  sharp as B (k_A = k_B).  Theorem 2 then predicts no crossover: the lower minimum B is the more
  probable at every temperature (``sde.crossover_temperature`` is infinite).
- ``c_over_h_large``: Tr C / Tr H with a bootstrap interval over many examples, resampled in blocks
  so that memory stays bounded (the C = H rule's premise and control designs).
"""
from __future__ import annotations

import numpy as np

from ... import rules, sde
from .experiment import BOOTSTRAP_DRAWS, WELL, DoubleWellRun

CONTROL_WELL = {**WELL, "k_A": WELL["k_B"]}


def control_well_configs(params) -> list[DoubleWellRun]:
    """Claim 3's negative control: the profile's double-well runs on ``CONTROL_WELL``, at the
    temperatures T = η σ² / S above the main well's window T*·(1 + window) — there the main well's A
    must be the more probable, the control's must not; none when the profile has no such temperature."""
    window = rules.get("claim-3-flatter-minimum-wins")["window"]
    upper = sde.crossover_temperature(sde.DoubleWell(**WELL)) * (1 + window)
    return [DoubleWellRun(eta=params.well_eta, sigma2=params.well_sigma2, batch_size=S, n_chains=params.chains,
                          burn_in_time=params.well_burn_in_time, measure_time=params.well_measure_time, seed=seed,
                          well=tuple(sorted(CONTROL_WELL.items())))
            for S in params.well_batch_sizes if params.well_eta * params.well_sigma2 / S > upper
            for seed in range(params.seeds)]


def c_over_h_large(X, y, minimum, loss: str, *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> dict:
    """Tr C / Tr H at the minimum with a 95% bootstrap interval over the N examples, as
    ``experiment.c_over_h`` (per example: a_n = r_n² ‖x_n‖², b_n = h_n ‖x_n‖², ratio of the means),
    resampled in blocks of at most two million indices."""
    from scipy.special import expit

    X = np.asarray(X, float)
    norms = np.sum(X * X, axis=1)
    if loss == "linear":
        r = X @ minimum.w_star - y
        h = np.ones_like(r)
    else:
        p = expit(X @ minimum.w_star)
        r, h = p - y, p * (1 - p)
    a, b = r * r * norms, h * norms
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(a))
    boot = []
    for start in range(0, draws, chunk):
        idx = rng.integers(0, len(a), size=(min(chunk, draws - start), len(a)))
        boot.append(a[idx].mean(axis=1) / b[idx].mean(axis=1))
    lo, hi = np.quantile(np.concatenate(boot), [0.025, 0.975])
    return dict(value=float(np.trace(minimum.C) / np.trace(minimum.H)), lo=float(lo), hi=float(hi))
