"""Negative controls and power statements of the chapter's rules (issue 20).

A control applies a rule where the claim predicts the *other* outcome; a rule that holds there too
cannot tell the claim from its negation (:func:`replication.claims.judge`).

- :func:`scrambled` relabels the runs' η/S: the distinct ratios, sorted, are mapped onto themselves
  by :func:`replication.stats.scrambled_order` (the permutation least rank-correlated with the
  identity), η kept.  A trend over the scrambled labels is not a trend over η/S.
- :func:`eta_at_fixed_ratio` keeps only η/S values run at two or more η, subtracts from each run the
  mean of its η/S (centred y_i − ȳ_{η/S(i)}) and groups the residuals by η: a trend there is an
  effect of η at fixed η/S, which the claim says is absent.
- :func:`either` combines two controls: holds if the rule holds on either, fails if it holds on
  neither and fails on one.
- :func:`trend_power`, :func:`tost_power`: the "could have seen" text of an inconclusive verdict,
  from the interval's half-width through :func:`replication.stats.detectable_effect` and
  :func:`replication.stats.runs_needed` (these helpers could be shared by other chapters).
"""
from __future__ import annotations

import math

import numpy as np

from ... import stats

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


def _ratio_key(r: dict) -> float:
    return float(f"{r['ratio']:.10g}")


def scrambled(rows: list[dict]) -> list[dict]:
    """Copies of ``rows`` whose η/S is replaced by another ratio of the design, the same for every run
    of a ratio: ratio k of the sorted distinct ratios becomes ratio ``scrambled_order(n)[k]``."""
    ratios = sorted({_ratio_key(r) for r in rows})
    order = stats.scrambled_order(len(ratios))
    relabel = {ratios[k]: ratios[int(order[k])] for k in range(len(ratios))}
    return [dict(r, ratio=relabel[_ratio_key(r)]) for r in rows]


def eta_at_fixed_ratio(values: list[tuple[float, float, float]]) -> dict:
    """``{η: residuals}`` from ``(ratio, η, y)`` triples: y less the mean y of its η/S, for the η/S
    values run at two or more η (the others carry no information on η at fixed η/S)."""
    by_ratio: dict = {}
    for ratio, eta, y in values:
        by_ratio.setdefault(float(f"{ratio:.10g}"), []).append((eta, y))
    groups: dict = {}
    for items in by_ratio.values():
        if len({e for e, _ in items}) < 2:
            continue
        centre = float(np.mean([y for _, y in items]))
        for eta, y in items:
            groups.setdefault(float(eta), []).append(y - centre)
    return groups


def either(*outcomes: str) -> str:
    """Two (or more) controls as one: holds if the rule holds on any (it cannot tell the claim from
    that control); fails if it holds on none and fails on at least one; otherwise inconclusive.
    (A Spearman trend over three η can never *fail* on noise, so "fails on all" would let no
    trend verdict hold whatever the data.)"""
    if any(o == HOLDS for o in outcomes):
        return HOLDS
    if any(o == FAILS for o in outcomes):
        return FAILS
    return INCONCLUSIVE


def trend_power(t: dict, rho_min: float, runs_per_group: int, profiles: dict[str, int]) -> str:
    """What an inconclusive trend rule could have seen: the half-width of ρ's interval, the smallest
    |ρ| told from 0 with 80% power (:func:`stats.detectable_effect`), and the seeds per group that
    would shrink the half-width to ``rho_min`` (:func:`stats.runs_needed`), with the profile whose
    seeds suffice (``profiles``: name -> seeds; none if none does)."""
    lo, hi = t.get("lo", math.nan), t.get("hi", math.nan)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"too few η/S values with finite runs ({t.get('n_groups', 0)}) for an interval of ρ; three or more decide"
    hw = 0.5 * (hi - lo)
    need = stats.runs_needed(runs_per_group, hw, rho_min)
    enough = [p for p, n in sorted(profiles.items(), key=lambda kv: kv[1]) if n >= need]
    return (f"ρ's 95% interval is ±{hw:.2f} wide, so only |ρ| >= {min(1.0, stats.detectable_effect(hw)):.2f} would "
            f"have been seen with 80% power; about {need} seeds per setting would narrow it to ±{rho_min:g} "
            + (f"(the {enough[0]} profile has {profiles[enough[0]]})" if enough else "(no profile has that many)"))


def tost_power(test: dict, margin: float, n: int, profiles: dict[str, int], unit: str = "") -> str:
    """What an inconclusive equivalence test could have seen: its 90% interval's half-width, the
    smallest difference detected with 80% power, and the runs per side that would leave room for a
    difference inside the margin (half-width at most margin − |diff|, or margin/2 if |diff| >= margin)."""
    lo, hi = test.get("lo", math.nan), test.get("hi", math.nan)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "fewer than two runs on a side: no interval; two or more runs per side decide"
    hw = 0.5 * (hi - lo)
    room = margin - abs(test.get("diff", 0.0))
    need = stats.runs_needed(n, hw, room if room > 0 else margin / 2)
    enough = [p for p, k in sorted(profiles.items(), key=lambda kv: kv[1]) if k >= need]
    return (f"the 90% interval is ±{hw:.3g}{unit} wide against a margin of ±{margin:.3g}{unit}, so only a difference of "
            f"{stats.detectable_effect(hw, level=0.9):.3g}{unit} or more would have been seen with 80% power; about {need} "
            "runs per side would decide " + (f"(the {enough[0]} profile has {profiles[enough[0]]})" if enough
                                             else "(no profile has that many)"))


def sample_power(dev: float, tol: float, n_samples: int, n_whole: int) -> str:
    """An inconclusive width verdict because the Hessian's sample failed the chapter's own check."""
    if not np.isfinite(dev):
        return "the Hessian's sample was not checked against the whole training set; a check within tolerance decides"
    return (f"the Hessian's sample of {n_samples:,} examples is off by {100 * dev:.0f}% against the tolerance of "
            f"{100 * tol:.0f}%, so no width trend of that size can be read; measuring on a sample that passes the "
            f"check (at most the whole set of {n_whole:,}) decides")
