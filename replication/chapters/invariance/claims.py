"""The numbers the chapter quotes and its verdicts; every rule is fixed here before the numbers.

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
  over epochs. Holds when every TOST holds and the largest gap is below the margin; fails when a
  TOST fails (the difference exceeds the margin with confidence); inconclusive otherwise. The seed
  spread (sd over seeds at β = 1) is reported beside the gap.
- **claim 9**: for every seed, the distance of a run's validation-accuracy curve to the mean β = 1
  curve (mean absolute gap over epochs), averaged over the (N, β) run with both rescalings where the
  invariance is claimed, 1 < β <= lo(N) (the lower end of β*'s interval: beyond the break neither
  rescaling keeps the dynamics); D = distance(√) − distance(linear), with a t interval over the seeds
  (the seeds are the independent replicates; the two rescalings of a seed share its initialization
  and batch order). Holds when the 95% interval of D lies above 0, fails when below, inconclusive
  otherwise (also when no β qualifies). The same D over every β run both ways is reported beside it.
  (This restriction to β <= lo(N) was added after the first laptop build, where the average over
  every β was dominated by βs beyond the break.)
- **claim 13** (linear scaling is explained by the invariance), judged from the two above: holds when
  claims 1 and 9 hold, fails when either fails, inconclusive otherwise.
- **prediction** (ours): per N, the predicted break batch S_pred = B N / (B + N − 1) with B = B_noise
  (one step's noise equals its signal) over the probed epochs of β = 1 training gives a range
  [min, max] of the mean over seeds; the measured interval (lo S₀, hi S₀]. Holds when they overlap
  for every N; fails when, for some N, the measured interval lies outside [min/2, 2·max]; inconclusive
  otherwise (including a censored β\\*).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ... import stats, wording
from ...claims import FAILS, HOLDS, INCONCLUSIVE, Verdict
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


def summary(results, params) -> dict:
    runs, margin = results.runs, params.margin
    sizes = sorted(params.train_sizes)
    out: dict = {"sizes": sizes, "margin": margin, "tables": {}, "sqrt_tables": {}, "breaks": {}, "claim1": [],
                 "spread": {}, "distance": [], "prediction": {}}
    for N in sizes:
        out["tables"][N] = size_table(runs, N, margin)
        out["sqrt_tables"][N] = size_table(runs, N, margin, SQRT)
        out["breaks"][N] = breaking_point(out["tables"][N], margin)
        out["spread"][N] = seed_spread(runs, N)
        for t in out["tables"][N]:
            if 1 < t["beta"] <= params.small_beta:
                eq = stats.equivalence(_acc(runs, N, t["beta"]), _acc(runs, N, 1), margin)
                out["claim1"].append(dict(N=N, beta=t["beta"], diff=eq["diff"], lo=eq["lo"], hi=eq["hi"],
                                          outcome=eq["outcome"], gap=largest_gap(runs, N, t["beta"]),
                                          spread=out["spread"][N]))
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
    # claim 9: per seed, the mean over (N, β) of distance(√) − distance(linear); below the break, and over all
    below = [d for d in out["distance"] if d["beta"] <= out["breaks"][d["N"]]["lo"]]
    out["claim9"] = _distance_stats(below)
    out["claim9_all"] = _distance_stats(out["distance"])
    return out


def _distance_stats(rows) -> dict:
    if not rows:
        return dict(D=np.zeros(0), mean=math.nan, lo=math.nan, hi=math.nan, linear=math.nan, sqrt=math.nan,
                    n_settings=0)
    D = np.mean([d["sqrt"] - d["linear"] for d in rows], axis=0)
    m, h = stats.mean_ci(D) if len(D) >= 2 else (float(D.mean()), math.inf)
    return dict(D=D, mean=m, lo=m - h, hi=m + h, linear=float(np.mean([d["linear"].mean() for d in rows])),
                sqrt=float(np.mean([d["sqrt"].mean() for d in rows])), n_settings=len(rows))


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


def verdicts(results, params) -> list[Verdict]:
    s = summary(results, params)
    margin, prof = params.margin, params.profile
    common = dict(chapter=CHAPTER, profile=prof)
    out = []
    # -- claim 1
    c1 = s["claim1"]
    if not c1:
        o1, sent1 = INCONCLUSIVE, "No β in (1, small_beta] was run."
        ev1 = {}
    else:
        worst = max(c1, key=lambda c: max(abs(c["lo"]), abs(c["hi"])) if math.isfinite(c["lo"]) else math.inf)
        gap = max(c["gap"] for c in c1)
        spread = float(np.nanmax([c["spread"] for c in c1]))
        if any(c["outcome"] == FAILS for c in c1):
            o1 = FAILS
        elif all(c["outcome"] == HOLDS for c in c1) and gap < margin:
            o1 = HOLDS
        else:
            o1 = INCONCLUSIVE
        ev1 = dict(worst_diff=worst["diff"], worst_lo=worst["lo"], worst_hi=worst["hi"], largest_gap=gap,
                   seed_sd=spread, margin=margin, n_tests=len(c1),
                   n_equivalent=sum(c["outcome"] == HOLDS for c in c1))
        sent1 = (f"{ev1['n_equivalent']} of {len(c1)} (N, β) settings equivalent to β = 1 within ±{100 * margin:g} "
                 f"points (widest 90% interval [{signed(100 * worst['lo'])}, {signed(100 * worst['hi'])}] points at "
                 f"N = {worst['N']:,}, β = {worst['beta']:g}); largest gap between mean curves "
                 f"{100 * gap:.1f} points against a seed sd of up to {100 * spread:.1f} points.")
    out.append(Verdict(
        id="claim-1-same-curves-small-beta", claim=1,
        statement="At small β, runs at (βη₀, βS₀) follow the β = 1 curves against epochs.",
        source="ICLR 2018, §4.2 and Fig. 6", figure="fig-inv-curves", outcome=o1, evidence=ev1, summary=sent1,
        rule=(f"for every training-set size and every β in (1, {params.small_beta:g}]: a TOST (90% Welch interval) "
              f"puts the final validation-accuracy difference to β = 1 within ±{margin:g}, and the largest gap "
              f"between the mean validation-accuracy curves is below {margin:g}: holds; a TOST interval wholly "
              f"outside the margin: fails; otherwise inconclusive"), **common))
    # -- claim 10
    sizes = s["sizes"]
    brs = [s["breaks"][N] for N in sizes]
    est = [b["beta_star"] for b in brs]
    lo_min, hi_min = brs[0]["lo"], brs[0]["hi"]
    lo_max, hi_max = brs[-1]["lo"], brs[-1]["hi"]
    rising = all(math.isfinite(a) and (math.isnan(b) or b > a) for a, b in zip(est, est[1:])) and \
        math.isfinite(est[0])
    if rising and hi_min <= lo_max:
        o10 = HOLDS
    elif hi_max <= lo_min:
        o10 = FAILS
    else:
        o10 = INCONCLUSIVE
    ev10 = {}
    for N, b in zip(sizes, brs):
        ev10[f"beta_star_{N}"] = b["beta_star"]
        ev10[f"lo_{N}"] = b["lo"]
        ev10[f"hi_{N}"] = b["hi"]
    out.append(Verdict(
        id="claim-10-break-grows-with-n", claim=10,
        statement="The invariance breaks beyond a β∗ that grows with the training-set size.",
        source=SOURCE_FIG6, figure="fig-inv-final", outcome=o10, evidence=ev10,
        summary="; ".join(f"N = {N:,}: {break_text(b)}" for N, b in zip(sizes, brs)) + ".",
        rule=(f"β∗ per size = where the mean accuracy difference to β = 1 crosses −{margin:g} for good "
              f"(interval: largest clearly intact β, smallest clearly broken β, 90% Welch intervals); holds when the "
              f"estimates rise with N and the smallest and largest sizes' intervals are separated in that order; "
              f"fails when separated in the reverse order; otherwise inconclusive"), **common))
    # -- claim 9
    c9, c9a = s["claim9"], s["claim9_all"]
    o9 = stats.sign_outcome(c9["lo"], c9["hi"], +1)

    def _d(c):
        return (f"{100 * c['linear']:.1f} points (linear) against {100 * c['sqrt']:.1f} (square root), "
                f"D = {signed(100 * c['mean'])} [{signed(100 * c['lo'])}, {signed(100 * c['hi'])}] points over "
                f"{c['n_settings']} (N, β) settings")
    out.append(Verdict(
        id="claim-9-linear-beats-sqrt", claim=9,
        statement="Linear rescaling (βη, βS) keeps the curves closer to β = 1 than square-root rescaling (√β η, βS).",
        source="ICLR 2018, §4.2; ICANN 2018", figure="fig-inv-final", outcome=o9,
        evidence=dict(D=c9["mean"], D_lo=c9["lo"], D_hi=c9["hi"], distance_linear=c9["linear"],
                      distance_sqrt=c9["sqrt"], n_settings=c9["n_settings"], D_all=c9a["mean"], D_all_lo=c9a["lo"],
                      D_all_hi=c9a["hi"], n_settings_all=c9a["n_settings"]),
        summary=((f"Below the break, mean curve distance to β = 1: {_d(c9)}." if c9["n_settings"] else
                  "No β below the break ran with both rescalings.")
                 + (f" Over every β run both ways, beyond the break too: {_d(c9a)}." if c9a["n_settings"] else "")),
        rule=("D = distance(√) − distance(linear), per seed the mean over the (N, β) settings run both ways with "
              "1 < β <= the lower end of that size's β∗ interval, of the mean absolute gap over epochs to the mean "
              "β = 1 validation-accuracy curve; 95% t interval over seeds above 0: holds; below 0: fails; "
              "containing 0 or no such β: inconclusive"), **common))
    # -- claim 13
    if o1 == HOLDS and o9 == HOLDS:
        o13 = HOLDS
    elif FAILS in (o1, o9):
        o13 = FAILS
    else:
        o13 = INCONCLUSIVE
    out.append(Verdict(
        id="claim-13-linear-scaling-explained", claim=13,
        statement="The linear-scaling heuristic of large-batch training is explained by the η/S invariance.",
        source="ICLR 2018, §1", figure="fig-inv-final", outcome=o13,
        evidence=dict(claim_1=o1, claim_9=o9, claim_10=o10),
        summary=(f"Judged from claim 1 (same curves at small β), {o1}, and claim 9 (linear closer than square "
                 f"root), {o9}; claim 10 (the limit grows with N) is {o10}."),
        rule=("judged from this chapter's claims 1 and 9 (what the invariance predicts for linear scaling): holds "
              "when both hold, fails when either fails, otherwise inconclusive; claim 10 says where it stops"),
        **common))
    # -- ours: the noise scale predicts the break
    S0 = params.base_batch_size
    ok, bad, ev = [], [], {}
    for N in sizes:
        b, p = s["breaks"][N], s["prediction"][N]
        m_lo, m_hi = b["lo"] * S0, b["hi"] * S0
        ev[f"measured_lo_{N}"], ev[f"measured_hi_{N}"] = m_lo, m_hi
        ev[f"predicted_lo_{N}"], ev[f"predicted_hi_{N}"] = p["lo"], p["hi"]
        ev[f"predicted_end_{N}"] = p["end"]
        ev[f"measured_{N}"] = b["beta_star"] * S0
        if not math.isfinite(p["lo"]):
            continue
        overlap = m_lo < p["hi"] and m_hi >= p["lo"]
        outside = m_lo >= 2 * p["hi"] or m_hi < p["lo"] / 2
        ok.append(overlap and not b["censored"])
        bad.append(outside)
    if ok and all(ok):
        op = HOLDS
    elif any(bad):
        op = FAILS
    else:
        op = INCONCLUSIVE
    out.append(Verdict(
        id="invariance-noise-scale-predicts-break", claim=None,
        statement="The gradient noise scale measured along β = 1 training predicts the breaking batch size β∗S₀.",
        source="McCandlish et al. 2018; Li, Malladi & Arora 2021", figure="fig-inv-noise", outcome=op, evidence=ev,
        summary="; ".join(_prediction_text(N, ev) for N in sizes) + ".",
        rule=("predicted break batch S = B N/(B + N − 1), B = Tr C/‖ḡ‖² over the training set, its range over the "
              "probed epochs of β = 1 training; measured (lo·S₀, hi·S₀] from claim 10's rule; holds when they overlap "
              "for every size; fails when for some size the measured interval lies outside [min/2, 2·max] of the "
              "prediction; otherwise inconclusive (including no break in range)"), **common))
    return out
