"""Summary numbers and verdicts of the memorization chapter (rules written before the numbers).

Readouts of one run (its per-epoch history):

- :func:`read_at_level`: the held-out accuracy when the training accuracy (against the noisy
  labels) first reaches a level, linearly interpolated between the two epochs around the crossing;
  ``None`` when the run never reaches it.
- :func:`first_epoch`: the first epoch at which a quantity reaches a level (``None``: never).

Rules (every one has three outcomes; intervals from ``replication.stats``):

A. **Equal memorization, higher η/S generalizes better** (claim 11), per panel (noise level ×
   momentum setting).  Levels judged: the training accuracies of ``train_acc_levels`` above the
   panel's clean ceiling 1 − c (c: the fraction of corrupted labels, so every run at such a level
   fits some random labels) that runs of at least ``min_ratios`` distinct η/S reach.  At each, the
   held-out accuracies of the runs reaching it are grouped by η/S and :func:`stats.trend` gives
   Spearman ρ with a t-law interval over the runs of each group; :func:`stats.trend_outcome`
   (sign +1, |ρ| ≥ :data:`RHO_MIN`) judges the level.  The panel holds when at least half of its
   judged levels hold and none fails; fails when at least half fail and none holds; otherwise, or
   with no judged level, inconclusive.
B. **Low η/S memorizes more slowly** (claim 11), per panel: epochs until the accuracy on the
   corrupted labels first reaches ``memorization_level`` (runs that never do count as
   ``epochs + 1``, i.e. "later than the end", which ranks them last), grouped by η/S, trend with
   sign −1, :func:`stats.trend_outcome`.
C. **Best held-out accuracy before memorization** (Arpit et al. 2017, repeated by the paper): over
   the runs whose corrupted-label accuracy reaches ``onset_level``, the fraction whose best held-out
   epoch is at or before that onset; 95 % Clopper–Pearson interval.  Holds when its lower end is
   above one half, fails when its upper end is below one half, inconclusive otherwise.
D. **η/((1−m)S) puts momentum and plain runs on one curve** (Smith et al. 2018, our addition), per
   noise level: each momentum run is paired with the plain run of equal η/(1−m), S and seed; the
   paired log ratio of their epochs to ``memorization_level`` (censored as in B; pairs in which
   neither run reaches it are left out) has a 90 % t
   interval (two one-sided tests at 5 %).  Holds when the interval lies within ±log ``epoch_factor``,
   fails when it lies entirely outside, inconclusive otherwise.
"""
from __future__ import annotations

import functools
import math
from typing import Iterable

import numpy as np
from scipy import stats as st

from ... import stats
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict
from ...wording import MINUS, fixed

RHO_MIN = 0.5
SOURCE = "ICLR 2018, Fig. 5"
FIGURE = "fig-memo-curves"
FIGURE_MOMENTUM = "fig-memo-speed"


# -- numbers as a reader sees them ---------------------------------------------------------------------------


#: a number with ``digits`` decimals for the page, "–" when missing
num = functools.partial(fixed, missing="–")


def rho_text(rho, lo, hi, digits: int = 2) -> str:
    """A rank correlation with its interval: "−0.97 [−0.97, −0.87]"; zero without a sign."""
    def r(x):
        return num(x, digits, sign=True)
    return f"{r(rho)} [{r(lo)}, {r(hi)}]" if math.isfinite(rho) else "–"


# -- readouts of one run ----------------------------------------------------------------------------------
def first_epoch(values: Iterable[float | None], level: float) -> int | None:
    """The first epoch (1-based) whose value reaches ``level``; ``None`` if none does."""
    for i, v in enumerate(values):
        if v is not None and v >= level:
            return i + 1
    return None


def read_at_level(history: dict, level: float, *, x: str = "train_acc", y: str = "test_acc") -> float | None:
    """``y`` when ``x`` first reaches ``level``, interpolated linearly in ``x`` between the epoch
    before the crossing and the crossing epoch (the first epoch alone when it already reaches it)."""
    xs, ys = history[x], history[y]
    e = first_epoch(xs, level)
    if e is None:
        return None
    i = e - 1
    if i == 0 or xs[i] == xs[i - 1]:
        return float(ys[i])
    w = (level - xs[i - 1]) / (xs[i] - xs[i - 1])
    return float(ys[i - 1] + w * (ys[i] - ys[i - 1]))


def best_epoch(history: dict) -> int:
    """The epoch of best held-out accuracy (the first on ties)."""
    acc = history["test_acc"]
    return int(np.argmax(acc)) + 1


def epochs_to(row: dict, level: float, epochs: int) -> int:
    """Epochs until the corrupted-label accuracy reaches ``level``; ``epochs + 1`` when it never does."""
    e = first_epoch(row["history"]["memorized_acc"], level)
    return epochs + 1 if e is None else e


# -- grouping -------------------------------------------------------------------------------------------------
def panels(rows: list[dict]) -> dict[tuple[float, float], list[dict]]:
    """``{(noise, momentum): rows}`` in grid order."""
    out: dict = {}
    for r in rows:
        out.setdefault((r["noise"], r["momentum"]), []).append(r)
    return out


def panel_id(noise: float, momentum: float) -> str:
    return f"noise{round(100 * noise)}-" + ("plain" if momentum == 0 else f"momentum{round(100 * momentum)}")


def panel_name(noise: float, momentum: float) -> str:
    return f"{100 * noise:g}% noise, " + ("plain SGD" if momentum == 0 else f"momentum {momentum:g}")


def clean_ceiling(rows: list[dict]) -> float:
    """1 − c: the training accuracy of a network that predicts every true label (c = corrupted fraction)."""
    return 1.0 - float(np.mean([r["corrupted_fraction"] for r in rows]))


def _usable(rows):
    return [r for r in rows if not r["diverged"]]


def level_trends(rows: list[dict], params) -> list[dict]:
    """Per training-accuracy level above the clean ceiling: the trend of held-out accuracy with η/S
    over the runs that reach it, whether it is judged, and its outcome."""
    ceiling = clean_ceiling(rows)
    out = []
    for level in params.train_acc_levels:
        if level <= ceiling:
            continue
        groups: dict[float, list[float]] = {}
        reached = []
        for r in _usable(rows):
            v = read_at_level(r["history"], level)
            if v is not None:
                groups.setdefault(r["ratio"], []).append(v)
                reached.append((r, v))
        t = stats.trend(groups)
        judged = t["n_groups"] >= params.min_ratios
        # run-level rank correlations with η/S, η alone and 1/S alone: does the ratio beat its parts?
        vals = [v for _, v in reached]
        alone = {f"rho_runs_{name}": stats.spearman([f(r) for r, _ in reached], vals) if len(reached) >= 3
                 else math.nan for name, f in (("ratio", lambda r: r["ratio"]), ("eta", lambda r: r["eta"]),
                                               ("inv_S", lambda r: 1.0 / r["S"]))}
        out.append(dict(level=level, judged=judged, outcome=stats.trend_outcome(t, +1, rho_min=RHO_MIN)
                        if judged else NOT_RUN, n_reached=t["n_runs"], **t, **alone, n_total=len(rows)))
    return out


def combine(outcomes: list[str]) -> str:
    """The panel outcome from its judged levels' outcomes (rule A)."""
    if not outcomes:
        return INCONCLUSIVE
    n, h, f = len(outcomes), outcomes.count(HOLDS), outcomes.count(FAILS)
    if 2 * h >= n and f == 0:
        return HOLDS
    if 2 * f >= n and h == 0:
        return FAILS
    return INCONCLUSIVE


def speed_trend(rows: list[dict], params) -> dict:
    groups: dict[float, list[float]] = {}
    for r in rows:
        groups.setdefault(r["ratio"], []).append(epochs_to(r, params.memorization_level, params.epochs))
    t = stats.trend(groups)
    t["n_reached"] = sum(epochs_to(r, params.memorization_level, params.epochs) <= params.epochs for r in rows)
    t["outcome"] = stats.trend_outcome(t, -1, rho_min=RHO_MIN)
    return t


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    a = 0.5 * (1 - level)
    lo = 0.0 if k == 0 else float(st.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def onset_check(rows: list[dict], params) -> dict:
    """Rule C: best held-out epoch at or before the onset of memorization."""
    reached, before, gaps, lost = 0, 0, [], []
    for r in _usable(rows):
        onset = first_epoch(r["history"]["memorized_acc"], params.onset_level)
        if onset is None:
            continue
        reached += 1
        b = best_epoch(r["history"])
        before += b <= onset
        gaps.append(onset - b)
        acc = r["history"]["test_acc"]
        lost.append(max(acc) - acc[-1])
    lo, hi = clopper_pearson(before, reached)
    frac = before / reached if reached else math.nan
    outcome = INCONCLUSIVE if not reached else (HOLDS if lo > 0.5 else FAILS if hi < 0.5 else INCONCLUSIVE)
    return dict(n_runs=len(rows), n_reached=reached, n_before=before, fraction=frac, lo=lo, hi=hi,
                median_gap=float(np.median(gaps)) if gaps else math.nan,
                median_lost=float(np.median(lost)) if lost else math.nan, outcome=outcome)


def momentum_pairs(rows: list[dict], params) -> list[tuple[dict, dict]]:
    """(momentum run, plain partner with equal η/(1−m), S and seed) for one noise level's rows."""
    def key(eta):
        return float(f"{eta:.9g}")

    plain = {(key(r["eta"]), r["S"], r["seed"]): r for r in rows if r["momentum"] == 0}
    out = []
    for r in rows:
        if r["momentum"] > 0:
            partner = plain.get((key(r["eta"] / (1 - r["momentum"])), r["S"], r["seed"]))
            if partner is not None:
                out.append((r, partner))
    return out


def momentum_check(rows: list[dict], params) -> dict:
    """Rule D for one noise level's rows."""
    E = params.epochs
    level = params.memorization_level
    # pairs where neither run reaches the level carry no information (both "after the end"): left out
    pairs = [(m, p) for m, p in momentum_pairs(rows, params) if not (m["diverged"] or p["diverged"])
             and min(epochs_to(m, level, E), epochs_to(p, level, E)) <= E]
    logs = np.array([math.log(epochs_to(m, params.memorization_level, E) / epochs_to(p, params.memorization_level, E))
                     for m, p in pairs], float)
    both = sum(epochs_to(m, params.memorization_level, E) <= E and epochs_to(p, params.memorization_level, E) <= E
               for m, p in pairs)
    best = np.array([max(m["history"]["test_acc"]) - max(p["history"]["test_acc"]) for m, p in pairs], float)
    bound = math.log(params.epoch_factor)
    out = dict(n_pairs=len(pairs), n_both=both, factor=math.nan, lo=math.nan, hi=math.nan,
               best_diff=float(best.mean()) if len(best) else math.nan, outcome=INCONCLUSIVE)
    if len(logs) >= 2:
        mean, half = stats.mean_ci(logs, level=0.90)
        out.update(factor=math.exp(mean), lo=math.exp(mean - half), hi=math.exp(mean + half))
        if -bound < mean - half and mean + half < bound:
            out["outcome"] = HOLDS
        elif mean - half >= bound or mean + half <= -bound:
            out["outcome"] = FAILS
    return out


# -- everything the page quotes ------------------------------------------------------------------------------
def summary(results, params) -> dict:
    by_panel = panels(results.rows)
    out = {"panels": {}, "n_runs": len(results.rows), "n_diverged": sum(r["diverged"] for r in results.rows)}
    for (noise, m), rows in by_panel.items():
        levels = level_trends(rows, params)
        judged = [l for l in levels if l["judged"]]
        out["panels"][(noise, m)] = dict(
            name=panel_name(noise, m), id=panel_id(noise, m), n_runs=len(rows),
            n_diverged=sum(r["diverged"] for r in rows), ceiling=clean_ceiling(rows),
            levels=levels, outcome=combine([l["outcome"] for l in judged]), n_judged=len(judged),
            speed=speed_trend(rows, params),
            ratio_min=min(r["ratio"] for r in rows), ratio_max=max(r["ratio"] for r in rows),
            final_memorized=[r["history"]["memorized_acc"][-1] for r in rows])
    out["onset"] = onset_check(results.rows, params)
    out["momentum"] = {}
    if params.momentum > 0:
        for noise in params.noise_levels:
            rows = [r for r in results.rows if r["noise"] == noise]
            out["momentum"][noise] = momentum_check(rows, params)
    return out


def _fmt_levels(levels: list[dict]) -> str:
    judged = [l for l in levels if l["judged"]]
    if not judged:
        return "no training-accuracy level is reached by runs of enough distinct η/S"
    return "; ".join(f"at {100 * l['level']:g}% training accuracy ρ = {rho_text(l['rho'], l['lo'], l['hi'])} "
                     f"({l['n_groups']} values of η/S, {l['n_reached']} runs): {l['outcome']}" for l in judged)


def verdicts(results, params, facts: dict | None = None) -> list[Verdict]:
    facts = facts or summary(results, params)
    common = dict(chapter="memorization", profile=params.profile)
    out = []
    for (noise, m), p in facts["panels"].items():
        out.append(Verdict(
            id=f"claim-11-equal-memorization-{p['id']}", claim=11, source=SOURCE, figure=FIGURE,
            statement=f"At equal training accuracy on noisy labels, higher η/S gives higher clean held-out "
                      f"accuracy ({p['name']})",
            rule=f"at each training-accuracy level above the clean ceiling reached by runs of ≥ {params.min_ratios} "
                 f"distinct η/S: Spearman ρ(η/S, held-out accuracy), 95% t-law interval over runs per η/S; a level "
                 f"holds if the interval is above 0 and ρ ≥ {RHO_MIN:g}, fails if it is below 0 or within "
                 f"±{RHO_MIN:g}; the panel holds if half or more of its levels hold and none fails, fails "
                 f"the other way round, else inconclusive",
            outcome=p["outcome"],
            evidence={"levels_judged": p["n_judged"], "clean_ceiling": p["ceiling"],
                      **{f"rho_at_{round(100 * l['level'])}": l["rho"] for l in p["levels"] if l["judged"]},
                      **{f"lo_at_{round(100 * l['level'])}": l["lo"] for l in p["levels"] if l["judged"]},
                      **{f"hi_at_{round(100 * l['level'])}": l["hi"] for l in p["levels"] if l["judged"]}},
            summary=_fmt_levels(p["levels"]), **common))
    for (noise, m), p in facts["panels"].items():
        s = p["speed"]
        out.append(Verdict(
            id=f"claim-11-slow-memorization-{p['id']}", claim=11, source=SOURCE, figure=FIGURE_MOMENTUM,
            statement=f"Low η/S memorizes the random labels more slowly ({p['name']})",
            rule=f"epochs until the accuracy on the corrupted labels reaches {100 * params.memorization_level:g}% "
                 f"(never: counted as {params.epochs + 1}), grouped by η/S: holds if Spearman ρ ≤ −{RHO_MIN:g} "
                 f"with its 95% t-law interval below 0, fails if the interval is above 0 or within "
                 f"±{RHO_MIN:g}, else inconclusive",
            outcome=s["outcome"],
            evidence={"rho": s["rho"], "lo": s["lo"], "hi": s["hi"], "n_ratios": s["n_groups"],
                      "n_reached": s["n_reached"], "n_runs": s["n_runs"]},
            summary=f"ρ = {rho_text(s['rho'], s['lo'], s['hi'])} over {s['n_groups']} values of η/S; "
                    f"{s['n_reached']} of {s['n_runs']} runs reach {100 * params.memorization_level:g}%", **common))
    o = facts["onset"]
    out.append(Verdict(
        id="memorization-best-before-onset", claim=None, source="ICLR 2018, App. G.3 (after Arpit et al. 2017)",
        figure=FIGURE,
        statement="The best clean held-out accuracy comes before the corrupted labels start to be learned",
        rule=f"over the runs whose accuracy on the corrupted labels reaches {100 * params.onset_level:g}%: the "
             f"fraction whose best held-out epoch is at or before that epoch, 95% Clopper–Pearson interval; "
             f"holds if it lies above one half, fails if below, else inconclusive",
        outcome=o["outcome"],
        evidence={k: o[k] for k in ("fraction", "lo", "hi", "n_before", "n_reached", "n_runs", "median_gap",
                                    "median_lost")},
        summary=(f"{o['n_before']} of {o['n_reached']} runs ({100 * o['fraction']:.0f}%, interval "
                 f"{100 * o['lo']:.0f}–{100 * o['hi']:.0f}%) peak at or before the onset; the median run "
                 f"peaks {abs(o['median_gap']):g} epochs {'before' if o['median_gap'] >= 0 else 'after'} it"
                 if o["n_reached"] else "no run reaches the onset level"),
        **common))
    for noise, c in facts["momentum"].items():
        out.append(Verdict(
            id=f"memorization-momentum-effective-ratio-noise{round(100 * noise)}", claim=None,
            source="Smith et al. 2018 (B ∝ 1/(1−m)); our test on ICLR 2018 Fig. 5", figure=FIGURE_MOMENTUM,
            statement=f"η/((1−m)S) puts momentum and plain SGD on one curve ({100 * noise:g}% noise)",
            rule=f"each momentum run paired with the plain run of equal η/(1−m), S and seed: epochs to "
                 f"{100 * params.memorization_level:g}% on the corrupted labels (never: {params.epochs + 1}; pairs "
                 f"where neither run gets there left out); "
                 f"holds if the 90% t interval of the geometric-mean ratio lies within ×{params.epoch_factor:g} "
                 f"either way, fails if entirely outside, else inconclusive",
            outcome=c["outcome"],
            evidence={k: c[k] for k in ("factor", "lo", "hi", "n_pairs", "n_both", "best_diff")},
            summary=(f"momentum runs take {num(c['factor'])} [{num(c['lo'])}, {num(c['hi'])}] times the epochs of "
                     f"their plain partners (90% interval; {c['n_pairs']} pairs, both runs reach the level in "
                     f"{c['n_both']}); best held-out accuracy {num(100 * c['best_diff'], 1, True)} points"
                     if c["n_pairs"] >= 2 else "fewer than two pairs in which a run reaches the level"),
            **common))
    return out
