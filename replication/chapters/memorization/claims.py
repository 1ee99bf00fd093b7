"""Summary numbers and verdicts of the memorization chapter (rules written before the numbers).

Readouts of one run (its per-epoch history):

- :func:`read_at_level`: the held-out accuracy when the training accuracy (against the noisy
  labels) first reaches a level, linearly interpolated between the two epochs around the crossing;
  ``None`` when the run never reaches it.
- :func:`first_epoch`: the first epoch at which a quantity reaches a level (``None``: never).

Rules (every one has three outcomes; intervals from ``replication.stats``) are registered in
``rules.yaml`` beside this module with their matched points and negative controls; thresholds are
read from there (``rules.get(id)["rho"]``).  Rule B is amended (issue 20): it compares runs at equal
SDE time t = epochs·N·η/S (:func:`at_sde_time`), not by epochs; the epoch count stays as the rule
as first registered.  The controls: A scrambled η/S labels; B (both forms) η alone among the runs
of one η/S; C each run's onset paired with another run's best epoch; D each momentum run paired
with the plain run of twice its effective learning rate.  The text below is the rules as first
written:


A. **Equal memorization, higher η/S generalizes better** (claim 11), per panel (noise level ×
   momentum setting).  Levels judged: the training accuracies of ``train_acc_levels`` above the
   panel's clean ceiling 1 − c (c: the fraction of corrupted labels, so every run at such a level
   fits some random labels) that runs of at least ``min_ratios`` distinct η/S reach.  At each, the
   held-out accuracies of the runs reaching it are grouped by η/S and :func:`stats.trend` gives
   Spearman ρ with a t-law interval over the runs of each group; :func:`stats.trend_outcome`
   (sign +1, |ρ| ≥ the rule's ``rho``) judges the level.  The panel holds when at least half of its
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

from ... import rules, stats
from ...power import power_text
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict, ruled
from ...claims import decision, trend_rule
from ...wording import MINUS, fixed

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


RULE_A, RULE_B = "claim-11-equal-memorization", "claim-11-slow-memorization"
RULE_C, RULE_D = "memorization-best-before-onset", "memorization-momentum-effective-ratio"


def _rho(rule_id: str) -> float:
    return float(rules.get(rule_id)["rho"])


def scrambled_labels(values) -> dict:
    """``{value: relabelled value}``: the sorted distinct values permuted by
    :func:`stats.scrambled_order` (the negative control of a trend rule)."""
    keys = sorted(set(values))
    order = stats.scrambled_order(len(keys))
    return {k: keys[int(j)] for k, j in zip(keys, order)}


def level_trends(rows: list[dict], params, *, scramble: bool = False) -> list[dict]:
    """Per training-accuracy level above the clean ceiling: the trend of held-out accuracy with η/S
    over the runs that reach it, whether it is judged, and its outcome (``scramble``: with the η/S
    labels permuted, the rule's negative control)."""
    ceiling = clean_ceiling(rows)
    relabel = scrambled_labels(r["ratio"] for r in rows) if scramble else None
    out = []
    for level in params.train_acc_levels:
        if level <= ceiling:
            continue
        groups: dict[float, list[float]] = {}
        reached = []
        for r in _usable(rows):
            v = read_at_level(r["history"], level)
            if v is not None:
                groups.setdefault(relabel[r["ratio"]] if relabel else r["ratio"], []).append(v)
                reached.append((r, v))
        t = stats.trend(groups)
        judged = t["n_groups"] >= params.min_ratios
        # run-level rank correlations with η/S, η alone and 1/S alone: does the ratio beat its parts?
        vals = [v for _, v in reached]
        alone = {f"rho_runs_{name}": stats.spearman([f(r) for r, _ in reached], vals) if len(reached) >= 3
                 else math.nan for name, f in (("ratio", lambda r: r["ratio"]), ("eta", lambda r: r["eta"]),
                                               ("inv_S", lambda r: 1.0 / r["S"]))}
        out.append(dict(level=level, judged=judged, outcome=stats.trend_outcome(t, +1, rho_min=_rho(RULE_A))
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


def speed_trend(rows: list[dict], params, *, by: str = "ratio") -> dict:
    """Rule B as first registered: epochs to ``memorization_level`` grouped by ``by`` (η/S; ``"eta"``
    for the control), falling trend."""
    groups: dict[float, list[float]] = {}
    for r in rows:
        groups.setdefault(r[by], []).append(epochs_to(r, params.memorization_level, params.epochs))
    t = stats.trend(groups)
    t["n_reached"] = sum(epochs_to(r, params.memorization_level, params.epochs) <= params.epochs for r in rows)
    t["outcome"] = stats.trend_outcome(t, -1, rho_min=_rho(RULE_B))
    return t


def sde_time_per_epoch(row: dict, n_train: int) -> float:
    """SDE time one epoch covers: N·η/((1−m)S) (constant η and S; with momentum m the effective
    learning rate is η/(1−m), so plain and momentum panels run on one clock)."""
    return n_train * row["eta"] / ((1 - row["momentum"]) * row["S"])


def value_at_epoch(values: list, epoch: float) -> float:
    """A per-epoch history value at a fractional epoch (1-based), linear between the logged epochs
    around it; the first logged epoch when ``epoch`` <= 1."""
    v = [math.nan if x is None else float(x) for x in values]
    if epoch <= 1 or len(v) == 1:
        return v[0]
    i = min(int(math.floor(epoch)), len(v))
    w = epoch - i
    return v[i - 1] if (w <= 0 or i >= len(v)) else v[i - 1] + w * (v[i] - v[i - 1])


def common_sde_time(rows: list[dict], params) -> float:
    """The largest SDE time every run of ``rows`` covers: epochs·N·min(η/S)."""
    return params.epochs * min(sde_time_per_epoch(r, params.n_train) for r in rows)


def at_sde_time(row: dict, t: float, params, key: str = "memorized_acc") -> float:
    """``key`` of one run at SDE time ``t`` (the fractional epoch t / (N·η/S), interpolated)."""
    return value_at_epoch(row["history"][key], t / sde_time_per_epoch(row, params.n_train))


def fixed_ratio_rows(rows: list[dict]) -> list[dict]:
    """The runs of the η/S with the most distinct η (the control "η alone at fixed η/S")."""
    def key(x):
        return float(f"{x:.9g}")
    by: dict = {}
    for r in rows:
        by.setdefault(key(r["ratio"]), []).append(r)
    best = max(by.values(), key=lambda rs: (len({x["eta"] for x in rs}), -min(x["ratio"] for x in rs)))
    return best


def memorized_at_equal_time(rows: list[dict], params, *, by: str = "ratio", t: float | None = None) -> dict:
    """Rule B as amended: the accuracy on the corrupted labels at the common SDE time ``t`` (default
    :func:`common_sde_time`), grouped by ``by``; rising trend (low η/S has memorized less)."""
    rows = _usable(rows)
    out = dict(rho=math.nan, lo=math.nan, hi=math.nan, n_groups=0, n_runs=0, t=math.nan, outcome=INCONCLUSIVE)
    if not rows:
        return out
    t = common_sde_time(rows, params) if t is None else t
    groups: dict[float, list[float]] = {}
    for r in rows:
        groups.setdefault(r[by], []).append(at_sde_time(r, t, params))
    out.update(stats.trend(groups), t=t)
    out["means"] = {k: float(np.mean(v)) for k, v in groups.items()}
    # a run whose first logged epoch already lies past t cannot be read at t (epoch 0 is not logged):
    # then the comparison is not at equal SDE time and the rule does not decide
    out["n_early"] = sum(t < sde_time_per_epoch(r, params.n_train) * (1 - 1e-9) for r in rows)
    out["outcome"] = (stats.trend_outcome(out, +1, rho_min=_rho(RULE_B)) if not out["n_early"] else INCONCLUSIVE)
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    a = 0.5 * (1 - level)
    lo = 0.0 if k == 0 else float(st.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def onset_check(rows: list[dict], params, *, scramble: bool = False) -> dict:
    """Rule C: best held-out epoch at or before the onset of memorization (``scramble``: each run's
    onset compared with the best epoch of another run, paired by :func:`stats.scrambled_order`)."""
    reached, before, gaps, lost = 0, 0, [], []
    usable = [r for r in _usable(rows) if first_epoch(r["history"]["memorized_acc"], params.onset_level) is not None]
    partner = ([usable[int(j)] for j in stats.scrambled_order(len(usable))] if scramble else usable)
    for r, q in zip(usable, partner):
        onset = first_epoch(r["history"]["memorized_acc"], params.onset_level)
        reached += 1
        b = best_epoch(q["history"])
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


def momentum_pairs(rows: list[dict], params, factor: float = 1.0) -> list[tuple[dict, dict]]:
    """(momentum run, plain partner with η = factor·η/(1−m), equal S and seed) for one noise level's
    rows (``factor`` 2: the control pairs, which the claim says differ)."""
    def key(eta):
        return float(f"{eta:.9g}")

    plain = {(key(r["eta"]), r["S"], r["seed"]): r for r in rows if r["momentum"] == 0}
    out = []
    for r in rows:
        if r["momentum"] > 0:
            partner = plain.get((key(factor * r["eta"] / (1 - r["momentum"])), r["S"], r["seed"]))
            if partner is not None:
                out.append((r, partner))
    return out


def momentum_check(rows: list[dict], params, factor: float = 1.0) -> dict:
    """Rule D for one noise level's rows (``factor`` 2: its negative control)."""
    E = params.epochs
    level = params.memorization_level
    # pairs where neither run reaches the level carry no information (both "after the end"): left out
    pairs = [(m, p) for m, p in momentum_pairs(rows, params, factor) if not (m["diverged"] or p["diverged"])
             and min(epochs_to(m, level, E), epochs_to(p, level, E)) <= E]
    logs = np.array([math.log(epochs_to(m, params.memorization_level, E) / epochs_to(p, params.memorization_level, E))
                     for m, p in pairs], float)
    both = sum(epochs_to(m, params.memorization_level, E) <= E and epochs_to(p, params.memorization_level, E) <= E
               for m, p in pairs)
    best = np.array([max(m["history"]["test_acc"]) - max(p["history"]["test_acc"]) for m, p in pairs], float)
    bound = math.log(params.epoch_factor)
    out = dict(n_pairs=len(pairs), n_both=both, factor=math.nan, lo=math.nan, hi=math.nan, half_log=math.nan,
               best_diff=float(best.mean()) if len(best) else math.nan, outcome=INCONCLUSIVE)
    if len(logs) >= 2:
        mean, half = stats.mean_ci(logs, level=0.90)
        out.update(factor=math.exp(mean), lo=math.exp(mean - half), hi=math.exp(mean + half), half_log=half,
                   mean_log=mean)
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
            control=combine([l["outcome"] for l in level_trends(rows, params, scramble=True) if l["judged"]]),
            speed=speed_trend(rows, params),
            speed_control=speed_trend(fixed_ratio_rows(rows), params, by="eta"),
            equal_time=memorized_at_equal_time(rows, params),
            equal_time_control=memorized_at_equal_time(fixed_ratio_rows(rows), params, by="eta",
                                                       t=common_sde_time(_usable(rows) or rows, params)),
            control_ratio=fixed_ratio_rows(rows)[0]["ratio"],
            ratio_min=min(r["ratio"] for r in rows), ratio_max=max(r["ratio"] for r in rows),
            final_memorized=[r["history"]["memorized_acc"][-1] for r in rows])
    out["onset"] = onset_check(results.rows, params)
    out["onset_control"] = onset_check(results.rows, params, scramble=True)
    out["momentum"] = {}
    if params.momentum > 0:
        for noise in params.noise_levels:
            rows = [r for r in results.rows if r["noise"] == noise]
            out["momentum"][noise] = momentum_check(rows, params)
            out["momentum"][noise]["control"] = momentum_check(rows, params, factor=2.0)
    return out


def _fmt_levels(levels: list[dict]) -> str:
    judged = [l for l in levels if l["judged"]]
    if not judged:
        return "no training-accuracy level is reached by runs of enough distinct η/S"
    return "; ".join(f"at {100 * l['level']:g}% training accuracy ρ = {rho_text(l['rho'], l['lo'], l['hi'])} "
                     f"({l['n_groups']} values of η/S, {l['n_reached']} runs): {l['outcome']}" for l in judged)


def _power(lo: float, hi: float, estimate: float, n: int, unit: str, what: str) -> str:

    hw = 0.5 * (hi - lo) if math.isfinite(hi - lo) else math.nan
    return power_text(hw, n, abs(estimate) if math.isfinite(estimate) else math.nan, unit, chapter="memorization",
                      what=what)


def _trend_power(t: dict, params) -> str:
    """A trend interval is not symmetric: the side that reaches across 0 must shrink to |ρ|."""

    rho, lo, hi = t.get("rho", math.nan), t.get("lo", math.nan), t.get("hi", math.nan)
    side = (rho - lo) if rho >= 0 else (hi - rho)
    return power_text(side, params.seeds, abs(rho) if math.isfinite(rho) else math.nan, "in ρ",
                      chapter="memorization", what="seeds per setting")


def verdicts(results, params, facts: dict | None = None) -> list[Verdict]:
    facts = facts or summary(results, params)
    common = dict(chapter="memorization", profile=params.profile)
    out = []
    for (noise, m), p in facts["panels"].items():
        judged = [l for l in p["levels"] if l["judged"]]
        widest = max(judged, key=lambda l: (l["hi"] - l["lo"]) if math.isfinite(l["hi"] - l["lo"]) else math.inf,
                     default={})
        out.append(ruled(
            RULE_A, id=f"claim-11-equal-memorization-{p['id']}", source=SOURCE, figure=FIGURE,
            statement=f"At equal training accuracy on noisy labels, higher η/S gives higher clean held-out "
                      f"accuracy, ρ(η/S, held-out accuracy) > 0 ({p['name']})",
            outcome=p["outcome"], control_outcome=p["control"], original_outcome=p["outcome"],
            control_summary=f"η/S labels scrambled: the panel {p['control']}",
            evidence={"levels_judged": p["n_judged"], "clean_ceiling": p["ceiling"],
                      **{f"rho_at_{round(100 * l['level'])}": l["rho"] for l in judged},
                      **{f"lo_at_{round(100 * l['level'])}": l["lo"] for l in judged},
                      **{f"hi_at_{round(100 * l['level'])}": l["hi"] for l in judged}},
            summary=_fmt_levels(p["levels"]), power=_trend_power(widest, params) if widest else
            "no training-accuracy level was reached by runs of enough distinct η/S", **common))
    for (noise, m), p in facts["panels"].items():
        s, e, sc, ec = p["speed"], p["equal_time"], p["speed_control"], p["equal_time_control"]
        out.append(ruled(
            RULE_B, id=f"claim-11-slow-memorization-{p['id']}", source=SOURCE, figure=FIGURE_MOMENTUM,
            statement=f"Low η/S memorizes the random labels more slowly ({p['name']})",
            outcome=e["outcome"], control_outcome=ec["outcome"],
            original_outcome=s["outcome"], original_control_outcome=sc["outcome"],
            control_summary=(f"η alone at η/S = {p['control_ratio']:g}: ρ(η, corrupted-label accuracy) = "
                             f"{rho_text(ec['rho'], ec['lo'], ec['hi'])} over {ec['n_groups']} values of η, "
                             f"{ec['outcome']} (as first registered: ρ(η, epochs) = "
                             f"{rho_text(sc['rho'], sc['lo'], sc['hi'])}, {sc['outcome']})"),
            evidence={"rho": e["rho"], "lo": e["lo"], "hi": e["hi"], "n_ratios": e["n_groups"], "n_runs": e["n_runs"],
                      "sde_time": e["t"], "epochs_rho": s["rho"], "epochs_lo": s["lo"], "epochs_hi": s["hi"],
                      "epochs_outcome": s["outcome"], "n_reached": s["n_reached"]},
            summary=(f"at the SDE time every run covers (t = {e['t']:.3g}): ρ(η/S, accuracy on the corrupted labels) = "
                     f"{rho_text(e['rho'], e['lo'], e['hi'])} over {e['n_groups']} values of η/S; as first registered "
                     f"(epochs to {100 * params.memorization_level:g}%, fixed epochs): ρ = "
                     f"{rho_text(s['rho'], s['lo'], s['hi'])}, {s['n_reached']} of {s['n_runs']} runs reach it"),
            decision=decision("Spearman ρ(η/S, corrupted-label accuracy), equal SDE time", e["rho"], e["lo"],
                              e["hi"], level="95% t-law", bounds=[-1, 1], **trend_rule(+1, _rho(RULE_B))),
            power=_trend_power(e, params), **common))
    o, oc = facts["onset"], facts["onset_control"]
    out.append(ruled(
        RULE_C, id="memorization-best-before-onset", source="ICLR 2018, App. G.3 (after Arpit et al. 2017)",
        figure=FIGURE, outcome=o["outcome"], control_outcome=oc["outcome"],
        control_summary=(f"pairing scrambled: {oc['n_before']} of {oc['n_reached']} runs "
                         f"({100 * oc['lo']:.0f}–{100 * oc['hi']:.0f}%), {oc['outcome']}" if oc["n_reached"] else ""),
        evidence={k: o[k] for k in ("fraction", "lo", "hi", "n_before", "n_reached", "n_runs", "median_gap",
                                    "median_lost")},
        summary=(f"{o['n_before']} of {o['n_reached']} runs ({100 * o['fraction']:.0f}%, interval "
                 f"{100 * o['lo']:.0f}–{100 * o['hi']:.0f}%) peak at or before the onset; the median run "
                 f"peaks {abs(o['median_gap']):g} epochs {'before' if o['median_gap'] >= 0 else 'after'} it"
                 if o["n_reached"] else "no run reaches the onset level"),
        power=(f"a Clopper–Pearson interval over {o['n_reached']} runs spans {100 * (o['hi'] - o['lo']):.0f} "
               f"percentage points; more runs reaching the onset (more seeds or epochs) would narrow it"
               if o["n_reached"] else "no run reached the onset level: more epochs would decide it"),
        **common))
    for noise, c in facts["momentum"].items():
        cc = c["control"]
        factor = params.epoch_factor
        out.append(ruled(
            RULE_D, id=f"memorization-momentum-effective-ratio-noise{round(100 * noise)}",
            source="Smith et al. 2018 (B ∝ 1/(1−m)); our test on ICLR 2018 Fig. 5", figure=FIGURE_MOMENTUM,
            statement=f"η/((1−m)S) puts momentum and plain SGD on one curve ({100 * noise:g}% noise)",
            outcome=c["outcome"], control_outcome=cc["outcome"],
            control_summary=(f"paired with twice the effective learning rate: ×{num(cc['factor'])} "
                             f"[{num(cc['lo'])}, {num(cc['hi'])}], {cc['outcome']}" if cc["n_pairs"] >= 2
                             else "fewer than two control pairs"),
            evidence={k: c[k] for k in ("factor", "lo", "hi", "n_pairs", "n_both", "best_diff")},
            summary=(f"momentum runs take {num(c['factor'])} [{num(c['lo'])}, {num(c['hi'])}] times the epochs of "
                     f"their plain partners (90% interval; {c['n_pairs']} pairs, both runs reach the level in "
                     f"{c['n_both']}); best held-out accuracy {num(100 * c['best_diff'], 1, True)} points"
                     if c["n_pairs"] >= 2 else "fewer than two pairs in which a run reaches the level"),
            power=(_power(-c["half_log"], c["half_log"], math.log(factor) - abs(c.get("mean_log", math.nan)),
                          params.seeds, "in log epoch ratio", "seeds per setting") if c["outcome"] != HOLDS else
                   "the control decides it: " + _power(-cc["half_log"], cc["half_log"],
                                                       abs(cc.get("mean_log", math.nan)) - math.log(factor),
                                                       params.seeds, "in log epoch ratio", "seeds per setting")),
            **common))
    return out
