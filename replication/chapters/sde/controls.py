"""The negative controls that need runs or data of their own (the rest are computed from the
chapter's runs in ``claims.py``).  Kept apart from ``experiment.py`` so that the stored runs of the
chapter's four experiments keep their keys (a run's key includes the digest of the module that
defines its config).

- ``CONTROL_WELL``: claim 3's control potential, the double well with its higher minimum A made as
  sharp as B (k_A = k_B).  Theorem 2 then predicts no crossover: the lower minimum B is the more
  probable at every temperature (``sde.crossover_temperature`` is infinite).

The C = H rule's premise and control designs use ``experiment.c_over_h`` (its bootstrap resamples in
bounded blocks, so many examples fit in memory).
"""
from __future__ import annotations

from ... import rules, sde
from .experiment import WELL, DoubleWellRun

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
