"""The numbers the chapter quotes and its verdicts, judged by the rules registered in ``rules.yaml``
(thresholds are read from there; amended rules also give the outcome under the rule as first registered).

Accuracy below is the final validation accuracy (after the last epoch); a run that diverged counts
at chance accuracy (1/10) and its curve stops where it diverged.

- **break of a β** (for one training-set size N): d(β) = mean accuracy at β − mean at β = 1, with
  its 90% Welch interval [lo, hi] (the interval of a two-one-sided test at 5%, as
  :func:`replication.stats.equivalence`). β is *intact* when lo > −margin, *broken* when hi < −margin.
- **β\\*** (N): the β at which the mean d crosses −margin for good (every larger β run has mean
  d < −margin), log-interpolated between the last β above and the first below; its interval (lo, hi]:
  lo = the largest intact β below the crossing (1 if none), hi = the smallest broken β at or above the
  crossing (∞ if none: censored). No crossing within the range: β\\* > the largest β (censored).
- **claim 10** holds when the point estimates of β\\* rise with N and the intervals of the smallest and
  the largest N are separated in that order (hi(N_min) <= lo(N_max)); fails when they are separated
  in the reverse order (hi(N_max) <= lo(N_min)); inconclusive otherwise.
- **claim 1** at the small βs (1 < β <= ``small_beta``), for every N: TOST equivalence of the final
  accuracy with β = 1 within ±margin, and the largest gap between the mean validation-accuracy curves
  over epochs, compared with the margin at the rule's stated decimals (a tie is not below).  Control:
  the same rule on the square-root runs at those βs (η/S lower by √β): it must not call them the same.
- **claim 9** (the rule of the first build): per seed, D = distance(√) − distance(linear), the distance
  of a run's curve to the mean β = 1 curve (mean absolute gap over epochs) averaged over every (N, β) run
  both ways; 95% t interval over the seeds above 0 holds, below fails.  The post-hoc rule
  ``invariance-claim-9-below-predicted-break`` averages only over β·S₀ <= the smallest break batch the noise scale
  predicts (so "below the break" does not come from the linear runs); the control of both is the same D
  above the largest predicted break, where the invariance is not claimed.  D below the break measured on
  the linear runs themselves is kept as a secondary view (evidence, not a verdict).
- **claim 13** (linear scaling is explained by the invariance): holds when claims 1 and 9 hold, fails
  when either fails; its control is the same rule on their controls.
- **claim 10** control and the **prediction** control relabel the sizes (:func:`scrambled_sizes`).
- **prediction** (ours): per N, the predicted break batch S_pred = B N / (B + N − 1) with B = B_noise
  (one step's noise equals its signal) over the probed epochs of β = 1 training gives a range
  [min, max] of the mean over seeds; the measured interval (lo S₀, hi S₀].  Holds when they overlap
  for every N; fails when, for some N, the measured interval lies outside [min/slack, slack·max]
  (``slack`` from the rule); otherwise inconclusive (a censored β\\*).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ... import stats, wording
from ... import claims
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict
from .experiment import LINEAR, SQRT, curves

CHAPTER = "invariance"
CHANCE = 0.1
SOURCE_FIG6 = "ICLR 2018, Fig. 6 and 7 (ICANN 2018, Fig. 5)"


def _acc(runs, N, beta, variant=LINEAR) -> np.ndarray:
    if beta == 1:
        variant = LINEAR
    return np.array([r["val_acc"] for r in runs if r["N"] == N and r["beta"] == beta and r["variant"] == variant],
                    float)


def _loss(runs, N, beta, variant=LINEAR) -> np.ndarray:
    if beta == 1:
        variant = LINEAR
    return np.array([r["train_loss"] for r in runs if r["N"] == N and r["beta"] == beta
                     and r["variant"] == variant], float)


def size_table(runs, N, margin, variant=LINEAR) -> list[dict]:
    """Per β of size N: mean accuracy and CI, d(β) with its interval, intact/broken."""
    ref = _acc(runs, N, 1)
    out = []
    betas = sorted({r["beta"] for r in runs if r["N"] == N and (r["variant"] == variant or r["beta"] == 1)})
    for b in betas:
        a = _acc(runs, N, b, variant)
        if not len(a):
            continue
        m, ci = stats.mean_ci(a) if len(a) >= 2 else (float(a.mean()), math.inf)
        eq = stats.equivalence(a, ref, margin)
        loss = _loss(runs, N, b, variant)
        loss = loss[np.isfinite(loss)]
        out.append(dict(N=N, beta=b, variant=variant, n=len(a), acc=m, acc_ci=ci, d=eq["diff"], d_lo=eq["lo"],
                        d_hi=eq["hi"], intact=bool(eq["lo"] > -margin), broken=bool(eq["hi"] < -margin),
                        n_diverged=int(sum(r["diverged"] for r in runs if r["N"] == N and r["beta"] == b and
                                           r["variant"] == (LINEAR if b == 1 else variant))),
                        train_loss=float(loss.mean()) if len(loss) else math.nan))
    return out


def breaking_point(table: list[dict], margin: float) -> dict:
    """β* with its interval (lo, hi] from :func:`size_table` rows (the rule of the module docstring)."""
    betas = [t["beta"] for t in table]
    below = [t["d"] < -margin for t in table]
    cross = None
    for i in range(len(table)):
        if all(below[i:]):
            cross = i
            break
    out = dict(beta_star=math.nan, lo=1.0, hi=math.inf, censored=True, beta_max=max(betas))
    if cross is None or cross == 0:
        intact = [t["beta"] for t in table if t["intact"]]
        out["lo"] = max(intact) if intact else 1.0
        if cross == 0:        # even β = 1 "below" cannot happen (d = 0); kept for safety
            out["lo"] = 1.0
        return out
    b0, b1 = betas[cross - 1], betas[cross]
    d0, d1 = table[cross - 1]["d"], table[cross]["d"]
    f = (d0 + margin) / (d0 - d1) if d0 != d1 else 1.0
    out["beta_star"] = float(math.exp(math.log(b0) + f * (math.log(b1) - math.log(b0))))
    intact = [t["beta"] for t in table[:cross] if t["intact"]]
    out["lo"] = max(intact) if intact else 1.0
    broken = [t["beta"] for t in table[cross:] if t["broken"]]
    if broken:
        out["hi"], out["censored"] = min(broken), False
    return out


def curve_distance(runs, N, beta, variant, epochs) -> np.ndarray:
    """Per seed: mean over epochs of |val acc(e) − mean β = 1 val acc(e)| (chance after a divergence)."""
    ref = np.nanmean(curves(runs, N, 1, LINEAR), axis=0)
    Y = curves(runs, N, beta, variant)
    if Y.size == 0:
        return np.zeros(0)
    Y = np.where(np.isfinite(Y), Y, CHANCE)
    return np.mean(np.abs(Y - ref[None, :]), axis=1)


def largest_gap(runs, N, beta, variant=LINEAR) -> float:
    ref = np.nanmean(curves(runs, N, 1, LINEAR), axis=0)
    Y = curves(runs, N, beta, variant)
    Y = np.where(np.isfinite(Y), Y, CHANCE)
    return float(np.max(np.abs(Y.mean(0) - ref)))


def seed_spread(runs, N) -> float:
    """Median over epochs of the sd over seeds of the β = 1 validation-accuracy curve."""
    Y = curves(runs, N, 1, LINEAR)
    return float(np.median(np.nanstd(Y, axis=0, ddof=1))) if Y.shape[0] >= 2 else math.nan


def _same_curves(runs, N, beta, variant, margin, spread) -> dict:
    """Claim 1's two numbers for one (N, β, rescaling): the TOST of the final accuracy against β = 1
    and the largest gap between the mean curves."""
    eq = stats.equivalence(_acc(runs, N, beta, variant), _acc(runs, N, 1), margin)
    return dict(N=N, beta=beta, variant=variant, diff=eq["diff"], lo=eq["lo"], hi=eq["hi"], outcome=eq["outcome"],
                gap=largest_gap(runs, N, beta, variant), spread=spread)


def summary(results, params, margin: float | None = None) -> dict:
    """Every number the page quotes; ``margin`` (default ``params.margin``) is the rules' accuracy margin."""
    runs = results.runs
    margin = params.margin if margin is None else margin
    sizes = sorted(params.train_sizes)
    out: dict = {"sizes": sizes, "margin": margin, "tables": {}, "sqrt_tables": {}, "breaks": {}, "claim1": [],
                 "claim1_control": [],
                 "spread": {}, "distance": [], "prediction": {}}
    for N in sizes:
        out["tables"][N] = size_table(runs, N, margin)
        out["sqrt_tables"][N] = size_table(runs, N, margin, SQRT)
        out["breaks"][N] = breaking_point(out["tables"][N], margin)
        out["spread"][N] = seed_spread(runs, N)
        for t in out["tables"][N]:
            if 1 < t["beta"] <= params.small_beta:
                out["claim1"].append(_same_curves(runs, N, t["beta"], LINEAR, margin, out["spread"][N]))
                if t["beta"] in params.sqrt_betas:      # the control: square root, η/S lower by √β
                    out["claim1_control"].append(_same_curves(runs, N, t["beta"], SQRT, margin, out["spread"][N]))
        for b in sorted(set(params.sqrt_betas)):
            if b == 1:
                continue
            dl = curve_distance(runs, N, b, LINEAR, results.epochs)
            ds = curve_distance(runs, N, b, SQRT, results.epochs)
            if len(dl) and len(ds) == len(dl):
                out["distance"].append(dict(N=N, beta=b, linear=dl, sqrt=ds,
                                            gap_linear=largest_gap(runs, N, b, LINEAR),
                                            gap_sqrt=largest_gap(runs, N, b, SQRT)))
        rows = [r for r in results.noise if r["N"] == N]
        epochs = sorted({r["epoch"] for r in rows})
        per_epoch = [dict(epoch=e, B_noise=float(np.mean([r["B_noise"] for r in rows if r["epoch"] == e])),
                          B_pred=float(np.mean([r["B_pred"] for r in rows if r["epoch"] == e])),
                          loss=float(np.mean([r["loss"] for r in rows if r["epoch"] == e]))) for e in epochs]
        preds = [p["B_pred"] for p in per_epoch if math.isfinite(p["B_pred"])]
        out["prediction"][N] = dict(per_epoch=per_epoch, lo=min(preds) if preds else math.nan,
                                    hi=max(preds) if preds else math.nan,
                                    end=per_epoch[-1]["B_pred"] if per_epoch else math.nan)
    # claim 9: per seed, the mean over (N, β) of distance(√) − distance(linear): over every β (the rule), below
    # and above the break the noise scale predicts (the post-hoc rule and the control), and below the break
    # measured on the linear runs (main's post-hoc restriction, shown as a secondary view only)
    S0 = params.base_batch_size
    out["claim9_all"] = _distance_stats(out["distance"])
    out["claim9_below_predicted"] = _distance_stats(
        [d for d in out["distance"] if d["beta"] * S0 <= out["prediction"][d["N"]]["lo"]])
    out["claim9_above_predicted"] = _distance_stats(
        [d for d in out["distance"] if d["beta"] * S0 > out["prediction"][d["N"]]["hi"]])
    out["claim9_below_measured"] = _distance_stats(
        [d for d in out["distance"] if d["beta"] <= out["breaks"][d["N"]]["lo"]])
    return out


def _distance_stats(rows) -> dict:
    if not rows:
        return dict(D=np.zeros(0), mean=math.nan, lo=math.nan, hi=math.nan, linear=math.nan, sqrt=math.nan,
                    n_settings=0)
    D = np.mean([d["sqrt"] - d["linear"] for d in rows], axis=0)
    m, h = stats.mean_ci(D) if len(D) >= 2 else (float(D.mean()), math.inf)
    return dict(D=D, mean=m, lo=m - h, hi=m + h, linear=float(np.mean([d["linear"].mean() for d in rows])),
                sqrt=float(np.mean([d["sqrt"].mean() for d in rows])), n_settings=len(rows))


def fig7_summary(fig7, margin: float) -> dict | None:
    """The second network's numbers (the paper's Fig. 7), descriptive (no verdict): per training-set size
    its :func:`size_table` and β\\* by the same :func:`breaking_point` rule as the main network's;
    ``rising``: the point estimates rise with N (a censored size counts as above every finite one);
    ``separated``: the intervals of the smallest and the largest N are disjoint in that order.
    ``None`` when the second network was not run."""
    if fig7 is None:
        return None
    sizes = sorted({r["N"] for r in fig7.runs})
    tables = {N: size_table(fig7.runs, N, margin) for N in sizes}
    breaks = {N: breaking_point(tables[N], margin) for N in sizes}
    est = [breaks[N]["beta_star"] for N in sizes]
    rising = math.isfinite(est[0]) and all(math.isfinite(a) and (math.isnan(b) or b > a) for a, b in zip(est, est[1:]))
    separated = breaks[sizes[0]]["hi"] <= breaks[sizes[-1]]["lo"]
    return dict(sizes=sizes, margin=margin, tables=tables, breaks=breaks, rising=rising, separated=separated,
                n_runs=len(fig7.runs), n_diverged=sum(r["diverged"] for r in fig7.runs))


def fig7_text(f7: dict) -> str:
    """One sentence of the result: β\\* per size and whether it rises with N."""
    parts = "; ".join(f"N = {N:,}: {break_text(f7['breaks'][N])}" for N in f7["sizes"])
    if f7["rising"] and f7["separated"]:
        trend = "β∗ rises with the training-set size and the intervals of the smallest and largest sets are separated"
    elif f7["rising"]:
        trend = ("β∗ rises with the training-set size, as in the paper, but the intervals of the smallest and "
                 "largest sets overlap, so the seeds do not pin the order down")
    else:
        trend = "β∗ does not rise with the training-set size here"
    return f"{parts}: {trend}."


def _fmt_beta(b: float) -> str:
    return "∞" if not math.isfinite(b) else f"{b:g}"


#: intervals of accuracy differences in points, one decimal, a true minus
signed = functools.partial(wording.signed, fmt="+.1f")


def break_text(br: dict) -> str:
    if math.isnan(br["beta_star"]):
        return f"β∗ > {br['beta_max']:g} (no break in range)"
    close = "]" if math.isfinite(br["hi"]) else ")"
    return f"β∗ ≈ {br['beta_star']:.3g} in ({_fmt_beta(br['lo'])}, {_fmt_beta(br['hi'])}{close}"


def _prediction_text(N: int, ev: dict) -> str:
    """One size of the prediction's summary: the measured β∗S₀ with its interval, the predicted range."""
    lo, hi, m = ev[f"measured_lo_{N}"], ev[f"measured_hi_{N}"], ev[f"measured_{N}"]
    measured = (f"measured β∗S₀ ≈ {m:.0f} in ({lo:.0f}, {_fmt_beta(hi)}{']' if math.isfinite(hi) else ')'}"
                if math.isfinite(m) else f"measured β∗S₀ above {lo:.0f} (no break in range)")
    p_lo, p_hi, p_end = ev[f"predicted_lo_{N}"], ev[f"predicted_hi_{N}"], ev[f"predicted_end_{N}"]
    predicted = (f"predicted {p_lo:.0f}–{p_hi:.0f} along training, {p_end:.0f} at the end" if math.isfinite(p_lo)
                 else "no prediction")
    return f"N = {N:,}: {measured}, {predicted}"


# -- the rules' outcomes, each a function of its numbers so that its control runs through the same code --
def claim1_outcome(rows: list[dict], margin: float, decimals: int | None = None) -> str:
    """Claim 1's rule on rows of :func:`_same_curves`: every TOST holds and the largest curve gap is below
    ``margin`` (compared at ``decimals`` decimals when given: a tie is not below): holds; a TOST fails:
    fails; otherwise (also no rows) inconclusive."""
    if not rows:
        return INCONCLUSIVE
    gap = max(c["gap"] for c in rows)
    if decimals is not None:
        gap, margin = stats.rounded(gap, decimals), stats.rounded(margin, decimals)
    if any(c["outcome"] == FAILS for c in rows):
        return FAILS
    if all(c["outcome"] == HOLDS for c in rows) and gap < margin:
        return HOLDS
    return INCONCLUSIVE


def claim10_outcome(brs: list[dict]) -> str:
    """Claim 10's rule on the breaks of the sizes in increasing order of N (:func:`breaking_point`)."""
    est = [b["beta_star"] for b in brs]
    lo_min, hi_min = brs[0]["lo"], brs[0]["hi"]
    lo_max, hi_max = brs[-1]["lo"], brs[-1]["hi"]
    rising = all(math.isfinite(a) and (math.isnan(b) or b > a) for a, b in zip(est, est[1:])) and \
        math.isfinite(est[0])
    if rising and hi_min <= lo_max:
        return HOLDS
    if hi_max <= lo_min:
        return FAILS
    return INCONCLUSIVE


def claim13_outcome(o1: str, o9: str) -> str:
    if o1 == HOLDS and o9 == HOLDS:
        return HOLDS
    if FAILS in (o1, o9):
        return FAILS
    return INCONCLUSIVE


def prediction_outcome(measured: list[tuple[float, float, bool]], predicted: list[tuple[float, float]],
                       slack: float) -> str:
    """The noise-scale rule: per size the measured (lo, hi] batch interval with its censoring and the
    predicted range [min, max].  Holds when they overlap (uncensored) for every size; fails when for
    some size the measured interval lies outside [min/slack, slack·max]; otherwise inconclusive."""
    ok, bad = [], []
    for (m_lo, m_hi, censored), (p_lo, p_hi) in zip(measured, predicted):
        if not math.isfinite(p_lo):
            continue
        ok.append(m_lo < p_hi and m_hi >= p_lo and not censored)
        bad.append(m_lo >= slack * p_hi or m_hi < p_lo / slack)
    if ok and all(ok):
        return HOLDS
    if any(bad):
        return FAILS
    return INCONCLUSIVE


def scrambled_sizes(n: int) -> list[int]:
    """The relabelling of ``n`` sizes for the controls: :func:`stats.scrambled_order`, except that with two
    sizes (where every order has |ρ| = 1 and it returns the identity) it is the reversal, the only other order."""
    perm = [int(i) for i in stats.scrambled_order(n)]
    return perm[::-1] if perm == sorted(perm) else perm


def sign_power(c: dict, unit: float = 100.0, what: str = "points", seeds: int | None = None) -> str:
    """What a sign rule's runs could have seen: the smallest D detected at 80% power from the half-width,
    and the seeds that would shrink the interval below the measured |D| (:func:`stats.runs_needed`)."""
    if not math.isfinite(c.get("hi", math.nan)):
        return "no interval: fewer than two seeds or no setting"
    hw = (c["hi"] - c["lo"]) / 2
    n = len(c["D"])
    need = stats.runs_needed(n, hw, abs(c["mean"])) if c["mean"] else 0
    text = (f"an effect of {unit * stats.detectable_effect(hw):.1f} {what} (80% power) from {n} seeds; "
            + (f"the measured {unit * abs(c['mean']):.1f} would need about {need} seeds" if need else
               "a zero mean needs no more seeds to stay undecided"))
    return text + _profiles_with(need)


def _profiles_with(need: int) -> str:
    """Which named profile runs at least ``need`` seeds of this chapter (none: say so)."""
    if not need:
        return ""
    from ... import profiles

    names = [p for p in ("laptop", "gpu", "paper")
             if profiles.chapter_values(p, CHAPTER).get("seeds", 0) >= need]
    return f" ({'profile ' + names[0] + ' runs enough' if names else 'no profile runs that many'})"


def _d_decision(c: dict, level: float) -> dict:
    """Claim 9's deciding number: D in points with its t interval over seeds, against 0."""
    return claims.decision("D, points (distance √ − distance linear)", 100 * c["mean"], 100 * c["lo"], 100 * c["hi"],
                           level=f"{level:.0%} t over seeds", **claims.sign_rule(+1))


def verdicts(results, params) -> list[Verdict]:
    from ... import rules

    r1, r9, r9p = rules.get(RULE_1), rules.get(RULE_9), rules.get(RULE_9_POSTHOC)
    r10, r13, rp = rules.get(RULE_10), rules.get(RULE_13), rules.get(RULE_PREDICTION)
    margin = r1["margin"]
    s = summary(results, params, margin=margin)
    common = dict(chapter=CHAPTER, profile=params.profile)
    out = []
    # -- claim 1: the rule now decides the curve gap at its stated decimals; the control: square root
    c1, c1c = s["claim1"], s["claim1_control"]
    o1 = claim1_outcome(c1, margin, r1["decimals"])
    o1_first = claim1_outcome(c1, r1.original()["margin"])
    o1c = claim1_outcome(c1c, margin, r1["decimals"]) if c1c else NOT_RUN
    if not c1:
        sent1, ev1 = "No β in (1, small_beta] was run.", {}
    else:
        worst = max(c1, key=lambda c: max(abs(c["lo"]), abs(c["hi"])) if math.isfinite(c["lo"]) else math.inf)
        gap = max(c["gap"] for c in c1)
        spread = float(np.nanmax([c["spread"] for c in c1]))
        ev1 = dict(worst_diff=worst["diff"], worst_lo=worst["lo"], worst_hi=worst["hi"], largest_gap=gap,
                   largest_gap_rounded=stats.rounded(gap, r1["decimals"]), seed_sd=spread, margin=margin,
                   n_tests=len(c1), n_equivalent=sum(c["outcome"] == HOLDS for c in c1))
        sent1 = (f"{ev1['n_equivalent']} of {len(c1)} (N, β) settings equivalent to β = 1 within ±{100 * margin:g} "
                 f"points (widest 90% interval [{signed(100 * worst['lo'])}, {signed(100 * worst['hi'])}] points at "
                 f"N = {worst['N']:,}, β = {worst['beta']:g}); largest gap between mean curves "
                 f"{100 * gap:.1f} points against a seed sd of up to {100 * spread:.1f} points.")
    ctl1 = ("no square-root run at these βs" if not c1c else
            f"{sum(c['outcome'] == HOLDS for c in c1c)} of {len(c1c)} square-root settings equivalent, largest gap "
            f"{100 * max(c['gap'] for c in c1c):.1f} points")
    out.append(claims.ruled(
        RULE_1, id="claim-1-same-curves-small-beta", outcome=o1, original_outcome=o1_first, control_outcome=o1c,
        control_summary=ctl1, source="ICLR 2018, §4.2 and Fig. 6", figure="fig-inv-curves", evidence=ev1,
        summary=sent1, power=_claim1_power(c1, margin), **common))
    # -- claim 10, and its control: the sizes relabelled by a scrambled order
    sizes = s["sizes"]
    brs = [s["breaks"][N] for N in sizes]
    o10 = claim10_outcome(brs)
    perm = scrambled_sizes(len(sizes))
    o10c = claim10_outcome([brs[i] for i in perm])
    ev10 = {}
    for N, b in zip(sizes, brs):
        ev10[f"beta_star_{N}"], ev10[f"lo_{N}"], ev10[f"hi_{N}"] = b["beta_star"], b["lo"], b["hi"]
    out.append(claims.ruled(
        RULE_10, id="claim-10-break-grows-with-n", outcome=o10, control_outcome=o10c,
        control_summary="sizes in the order " + ", ".join(f"{sizes[i]:,}" for i in perm),
        source=SOURCE_FIG6, figure="fig-inv-final", evidence=ev10,
        summary="; ".join(f"N = {N:,}: {break_text(b)}" for N, b in zip(sizes, brs)) + ".",
        power=("the breaks are located only to the β grid (each interval spans one or more doublings of β); "
               "more seeds narrow the Welch intervals that classify a β as intact or broken, a finer β grid "
               "narrows β∗ itself" if o10 == INCONCLUSIVE else ""), **common))
    # -- claim 9: the rule of the first build, over every β run both ways (primary); the control: above the
    #    break the noise scale predicts
    c9a, c9b, c9c, c9m = (s["claim9_all"], s["claim9_below_predicted"], s["claim9_above_predicted"],
                          s["claim9_below_measured"])
    o9 = stats.sign_outcome(c9a["lo"], c9a["hi"], +1)
    o9c = stats.sign_outcome(c9c["lo"], c9c["hi"], +1) if c9c["n_settings"] else NOT_RUN

    def _d(c):
        return (f"{100 * c['linear']:.1f} points (linear) against {100 * c['sqrt']:.1f} (square root), "
                f"D = {signed(100 * c['mean'])} [{signed(100 * c['lo'])}, {signed(100 * c['hi'])}] points over "
                f"{c['n_settings']} (N, β) settings")

    def _ev(c, prefix=""):
        return {f"{prefix}D": c["mean"], f"{prefix}D_lo": c["lo"], f"{prefix}D_hi": c["hi"],
                f"{prefix}distance_linear": c["linear"], f"{prefix}distance_sqrt": c["sqrt"],
                f"{prefix}n_settings": c["n_settings"]}

    ctl9 = (f"above the predicted break: {_d(c9c)}" if c9c["n_settings"] else "no β above the predicted break")
    out.append(claims.ruled(
        RULE_9, id="claim-9-linear-beats-sqrt", outcome=o9, control_outcome=o9c, control_summary=ctl9,
        source="ICLR 2018, §4.2; ICANN 2018", figure="fig-inv-final",
        evidence=dict(_ev(c9a), **_ev(c9m, "below_measured_break_")),
        summary=(f"Over every β run both ways: {_d(c9a)}." if c9a["n_settings"] else "No β ran with both rescalings.")
        + (f" Secondary view, not a verdict (restricted after the numbers to β below each size's break as measured "
           f"on the linear runs themselves): {_d(c9m)}." if c9m["n_settings"] else ""),
        decision=_d_decision(c9a, r9["level"]),
        power=sign_power(c9a) if o9 == INCONCLUSIVE else "", **common))
    # -- claim 9, openly post-hoc: below the break the noise scale predicts (not from the linear runs)
    o9p = stats.sign_outcome(c9b["lo"], c9b["hi"], +1) if c9b["n_settings"] else INCONCLUSIVE
    out.append(claims.ruled(
        RULE_9_POSTHOC, id="invariance-claim-9-below-predicted-break", outcome=o9p, control_outcome=o9c, control_summary=ctl9,
        source="ICLR 2018, §4.2; ICANN 2018", figure="fig-inv-final", evidence=_ev(c9b),
        summary=(f"Below the break the gradient noise scale predicts: {_d(c9b)}." if c9b["n_settings"] else
                 "No β below the predicted break ran with both rescalings."),
        power=(sign_power(c9b) if c9b["n_settings"] else "no setting below the predicted break: smaller βs or "
               "larger training sets would put some there") if o9p == INCONCLUSIVE else "", **common))
    # -- claim 13 from the primary claims 1 and 9; its control from their controls
    # from the verdicts of 1 and 9 (a 'not discriminating' one does not hold)
    v1, v9 = claims.judge(o1, o1c), claims.judge(o9, o9c)
    o13 = claim13_outcome(v1, v9)
    o13c = claim13_outcome(o1c, o9c) if NOT_RUN not in (o1c, o9c) else NOT_RUN
    out.append(claims.ruled(
        RULE_13, id="claim-13-linear-scaling-explained", outcome=o13, control_outcome=o13c,
        control_summary=f"claim 1's control {o1c}, claim 9's control {o9c}",
        source="ICLR 2018, §1", figure="fig-inv-final",
        evidence=dict(claim_1=v1, claim_9=v9, claim_10=o10, claim_9_below_predicted_break=o9p),
        summary=(f"Judged from claim 1 (same curves at small β), {v1}, and claim 9 (linear closer than square "
                 f"root, over every β), {v9}; claim 10 (the limit grows with N) is {o10}; the post-hoc claim 9 "
                 f"below the predicted break is {o9p}."),
        power=("decided by claims 1 and 9: see theirs" if o13 == INCONCLUSIVE else ""), **common))
    # -- ours: the noise scale predicts the break (amended: a margin that can fail); control: scrambled sizes
    S0 = params.base_batch_size
    ev = {}
    measured, predicted = [], []
    for N in sizes:
        b, p = s["breaks"][N], s["prediction"][N]
        m_lo, m_hi = b["lo"] * S0, b["hi"] * S0
        ev[f"measured_lo_{N}"], ev[f"measured_hi_{N}"] = m_lo, m_hi
        ev[f"predicted_lo_{N}"], ev[f"predicted_hi_{N}"] = p["lo"], p["hi"]
        ev[f"predicted_end_{N}"] = p["end"]
        ev[f"measured_{N}"] = b["beta_star"] * S0
        measured.append((m_lo, m_hi, b["censored"]))
        predicted.append((p["lo"], p["hi"]))
    op = prediction_outcome(measured, predicted, rp["slack"])
    op_first = prediction_outcome(measured, predicted, rp.original()["slack"])
    opc = prediction_outcome(measured, [predicted[i] for i in perm], rp["slack"]) if len(sizes) > 1 else NOT_RUN
    out.append(claims.ruled(
        RULE_PREDICTION, id="invariance-noise-scale-predicts-break", outcome=op, original_outcome=op_first,
        control_outcome=opc, control_summary="each size's measured break against the prediction of size " +
        ", ".join(f"{sizes[i]:,}" for i in perm) + " in turn",
        source="McCandlish et al. 2018; Li, Malladi & Arora 2021", figure="fig-inv-noise", evidence=ev,
        summary="; ".join(_prediction_text(N, ev) for N in sizes) + ".",
        power=("a censored break (no β broken within the range) cannot be placed: larger βs would" if
               op == INCONCLUSIVE else ""), **common))
    return out


def _claim1_power(rows: list[dict], margin: float) -> str:
    """Claim 1's TOSTs: the smallest accuracy difference the widest 90% interval rules out."""
    finite = [c for c in rows if math.isfinite(c["lo"])]
    if not finite:
        return "no interval: fewer than two seeds"
    hw = max((c["hi"] - c["lo"]) / 2 for c in finite)
    return (f"the widest 90% interval has half-width {100 * hw:.1f} points against a margin of {100 * margin:g}: "
            f"differences above {100 * stats.detectable_effect(hw):.1f} points are seen at 80% power; a tie of the "
            f"curve gap with the margin is decided by rounding, not by more seeds")


RULE_1 = "claim-1-same-curves-small-beta"
RULE_9 = "claim-9-linear-beats-sqrt"
RULE_9_POSTHOC = "invariance-claim-9-below-predicted-break"
RULE_10 = "claim-10-break-grows-with-n"
RULE_13 = "claim-13-linear-scaling-explained"
RULE_PREDICTION = "invariance-noise-scale-predicts-break"
