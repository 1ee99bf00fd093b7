"""The numbers the "batch-size schedules" page quotes and its verdicts (rules fixed before the numbers).

Accuracies are in percentage points.  The paper's numbers come from ``paper_numbers.csv`` beside this
file (each row cites its source), never from prose.

Rules: registered in ``rules.yaml`` beside this module (:mod:`replication.rules`), each with its
matched point of training and its negative control; thresholds are read from there (or from the
profile where the rule says so), never from constants here.  Amended rules are judged under the
rule as it stands and as first registered (the page prints both).

- **claim-8-cbs-equals-clr** (amended): the final-accuracy equivalence test *and* equivalence of the
  mean test-accuracy curves at every epoch (equal epochs are equal SDE time: η/S is the same in
  every epoch); the √-rule schedule is the control the rule must reject.
- **claim-8-constant-pair**: the equivalence test on the constant pair; control: a constant pair
  with a different η/S compared at equal SDE time (:func:`constant_control`).
- **schedules-sqrt-rule-differs**: the contrast; control: CBS against CLR.
- **claim-12-long-beats-short**: two-factor least squares; control: the [long] labels scrambled.
- **claim-12-sharpness-oscillates** (amended): per schedule kind (CLR and CBS separately), the mean
  log ratio of λ_max at low-noise to high-noise stage ends; control: the same statistic with the
  roles of high- and low-noise stage ends swapped (a drift of λ_max that curves over training
  makes both positive; a real oscillation makes the swapped one negative).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ... import stats
from ... import rules
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict, ruled
from ...claims import decision, equivalence_rule, sign_rule
from ...power import power_text
from ...wording import MINUS, decimals_for_uncertainty as decimals, fixed as _f

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.csv")
SOURCE_FIG4 = "ICLR 2018 submission, Fig. 4"
SOURCE_STAGES = "ICLR 2018 submission, §4.5 and Fig. 13"
LEVEL = 0.95


def paper_numbers() -> list[dict]:
    """The rows of ``paper_numbers.csv`` (numbers as floats, empty cells as None)."""
    rows = []
    with open(PAPER_NUMBERS, newline="") as f:
        for row in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) and k in ("test_acc", "sd", "seeds", "diff_low",
                                                                          "diff_high") else (v or None))
                         for k, v in row.items()})
    return rows


def short_long(params) -> tuple[int, int]:
    return min(params.step_sizes), max(params.step_sizes)


def by_schedule(results) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in results.runs:
        out.setdefault(r["schedule"], []).append(r)
    return out


def final_acc(rows: list[dict]) -> np.ndarray:
    """Final test accuracy (points) of the runs that did not diverge."""
    return np.array([100 * r["final_test_acc"] for r in rows if not r["diverged"] and r["final_test_acc"] is not None],
                    float)


def curves(rows: list[dict], key: str = "test_acc") -> np.ndarray:
    """(runs, epochs) array of ``key`` in points (nan after a divergence)."""
    n = max(len(r[key]) for r in rows)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        v = [math.nan if x is None else 100 * x for x in r[key]]
        out[i, :len(v)] = v
    return out


def curve_gap(a: list[dict], b: list[dict], key: str = "test_acc") -> dict:
    """The largest |difference| between the mean curves of ``a`` and ``b`` over epochs."""
    with np.errstate(invalid="ignore"):
        diff = np.nanmean(curves(a, key), 0) - np.nanmean(curves(b, key), 0)
    if not np.isfinite(diff).any():
        return dict(gap=math.nan, epoch=None, final=math.nan)
    i = int(np.nanargmax(np.abs(diff)))
    return dict(gap=float(abs(diff[i])), signed=float(diff[i]), epoch=i + 1, final=float(diff[-1]))


def describe(values: np.ndarray) -> dict:
    if len(values) == 0:
        return dict(mean=math.nan, sd=math.nan, n=0)
    return dict(mean=float(values.mean()), sd=float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                n=int(len(values)))


def comparison(results, params) -> dict:
    """Equivalence tests (CBS vs CLR, constant pair, √ vs CLR) and the curve gaps."""
    g = by_schedule(results)
    s = params.fig4_step_size
    m = params.equivalence_margin
    out = {}
    for name, (a, b) in {"cyclic": (f"cbs-{s}", f"clr-{s}"), "constant": ("const-high", "const-low"),
                         "sqrt": (f"sqrt-{s}", f"clr-{s}")}.items():
        xa, xb = final_acc(g[a]), final_acc(g[b])
        test = (stats.equivalence(xa, xb, m) if len(xa) and len(xb)
                else dict(diff=math.nan, lo=math.nan, hi=math.nan, margin=m, n_a=len(xa), n_b=len(xb),
                          outcome="inconclusive"))
        out[name] = dict(a=a, b=b, test=test, gap=curve_gap(g[a], g[b]), train_gap=curve_gap(g[a], g[b], "train_acc"),
                         a_acc=describe(xa), b_acc=describe(xb),
                         curves=curve_equivalence(g[a], g[b], rules.get("claim-8-cbs-equals-clr")["curve_margin"]))
    out["control"] = constant_control(results, params)
    return out


def curve_equivalence(a: list[dict], b: list[dict], margin: float) -> dict:
    """Two one-sided Welch tests at every epoch on the test accuracy (points) of ``a`` minus ``b``.

    An intersection–union test: the curves are equivalent (holds) only when every epoch's 90 %
    interval lies inside ±margin (no multiplicity correction is needed for that conclusion); they
    differ (fails) when some epoch's interval lies entirely outside; else inconclusive.  Returns the
    outcome and the epoch whose interval reaches farthest from 0 (``worst``)."""
    A, B = curves(a), curves(b)
    n = min(A.shape[1], B.shape[1])
    per = []
    for e in range(n):
        xa, xb = A[:, e][np.isfinite(A[:, e])], B[:, e][np.isfinite(B[:, e])]
        if len(xa) >= 2 and len(xb) >= 2:
            per.append(dict(epoch=e + 1, **stats.equivalence(xa, xb, margin)))
    if not per:
        return dict(outcome=INCONCLUSIVE, margin=margin, n_epochs=0, worst=None)
    outcomes = [p["outcome"] for p in per]
    outcome = (FAILS if FAILS in outcomes else HOLDS if all(o == HOLDS for o in outcomes) else INCONCLUSIVE)
    worst = max(per, key=lambda p: max(abs(p["lo"]), abs(p["hi"])))
    return dict(outcome=outcome, margin=margin, n_epochs=len(per), worst=worst,
                n_fail=outcomes.count(FAILS), n_hold=outcomes.count(HOLDS))


def both(final: str, curve: str) -> str:
    """Amended claim-8 rule: holds when the final accuracies and the curves are both equivalent,
    fails when either is shown to differ, else inconclusive."""
    if FAILS in (final, curve):
        return FAILS
    return HOLDS if final == curve == HOLDS else INCONCLUSIVE


def acc_at_epoch(row: dict, epoch: float) -> float:
    """Test accuracy (points) at a fractional epoch, linear between the two logged epochs around it
    (the first logged epoch when ``epoch`` <= 1)."""
    acc = [math.nan if v is None else 100 * v for v in row["test_acc"]]
    if epoch <= 1 or len(acc) == 1:
        return acc[0]
    i = min(int(math.floor(epoch)), len(acc) - 1)      # epoch i is acc[i - 1]
    w = epoch - i
    return acc[i - 1] if w <= 0 or i >= len(acc) else acc[i - 1] + w * (acc[i] - acc[i - 1])


def constant_control(results, params) -> dict:
    """The constant pair's negative control: ``const-control`` (S = bs_low, η = lr_high) read at the
    SDE time t = epochs·N·lr_low/bs_low that ``const-low`` ends at, against ``const-low``."""
    from .experiment import control_epoch

    g = by_schedule(results)
    if "const-control" not in g:
        return dict(test=dict(outcome=NOT_RUN), epoch=math.nan)
    e = control_epoch(params)
    xa = np.array([acc_at_epoch(r, e) for r in g["const-control"] if not r["diverged"]], float)
    xb = final_acc(g["const-low"])
    return dict(test=stats.equivalence(xa, xb, params.equivalence_margin), epoch=e, a="const-control", b="const-low")


def stage_effect(results, params) -> dict:
    """Long minus short stages: the two-factor fit and the per-schedule differences."""
    g = by_schedule(results)
    short, long = short_long(params)
    y, is_long, is_cbs = [], [], []
    per = {}
    for kind in ("clr", "cbs"):
        xs, xl = final_acc(g[f"{kind}-{short}"]), final_acc(g[f"{kind}-{long}"])
        per[kind] = dict(short=describe(xs), long=describe(xl),
                         diff=float(xl.mean() - xs.mean()) if len(xs) and len(xl) else math.nan)
        for v, flag in ((xs, 0.0), (xl, 1.0)):
            y += list(v)
            is_long += [flag] * len(v)
            is_cbs += [float(kind == "cbs")] * len(v)
    level = rules.get("claim-12-long-beats-short")["level"]
    fit = stats.ols(np.array(y), np.array(is_long), np.array(is_cbs), level=level)
    # control: the [long] labels permuted by the fixed scrambled order (the CBS labels kept)
    scrambled = np.array(is_long)[stats.scrambled_order(len(is_long))] if is_long else np.array(is_long)
    ctrl = stats.ols(np.array(y), scrambled, np.array(is_cbs), level=level)
    return dict(short=short, long=long, b=float(fit["coef"][1]), lo=float(fit["lo"][1]), hi=float(fit["hi"][1]),
                cbs=float(fit["coef"][2]), n=int(fit["n"]), per=per,
                outcome=stats.sign_outcome(float(fit["lo"][1]), float(fit["hi"][1]), +1),
                control=dict(b=float(ctrl["coef"][1]), lo=float(ctrl["lo"][1]), hi=float(ctrl["hi"][1]),
                             outcome=stats.sign_outcome(float(ctrl["lo"][1]), float(ctrl["hi"][1]), +1)))


def oscillation(results, kinds=("clr", "cbs"), *, swap: bool = False, level: float = LEVEL) -> dict:
    """λ_max at the ends of high- and low-noise stages of the cyclic runs of ``kinds``: per run, the
    mean over its high-noise stage ends of log(√(λ_before·λ_after) / λ_high), where before/after are
    the neighbouring low-noise ends.  ``swap=True`` swaps the roles of high- and low-noise ends (the
    negative control: the claim predicts it below 0; a curving drift of λ_max puts both on one side)."""
    per_run, pairs, lower, runs_all = [], 0, 0, 0
    by_step: dict = {}
    hvp_cold, hvp_warm = [], []
    centre, side = ("low", "high") if swap else ("high", "low")
    for r in results.runs:
        if r["kind"] not in kinds or r["diverged"]:
            continue
        stage = dict((e, t) for e, t in results.schedules[r["schedule"]]["probes"])
        lam = {q["epoch"]: q["lambda_max"] for q in r["probes"]}
        for q in r["probes"]:
            (hvp_warm if q["warm_start"] else hvp_cold).append(q["n_hvp"])
        ends = sorted(e for e in lam if e in stage)
        logs = []
        for i in range(1, len(ends) - 1):
            before, e, after = ends[i - 1], ends[i], ends[i + 1]
            if (stage[e] == centre and stage[before] == stage[after] == side
                    and min(lam[before], lam[e], lam[after]) > 0):
                logs.append(0.5 * (math.log(lam[before]) + math.log(lam[after])) - math.log(lam[e]))
        if not logs:
            continue
        per_run.append(float(np.mean(logs)))
        pairs += len(logs)
        lower += sum(x > 0 for x in logs)
        runs_all += all(x > 0 for x in logs)
        b = by_step.setdefault(r["step_size"], dict(pairs=0, lower=0, runs=0, runs_all=0))
        b["pairs"] += len(logs)
        b["lower"] += sum(x > 0 for x in logs)
        b["runs"] += 1
        b["runs_all"] += all(x > 0 for x in logs)
    if len(per_run) >= 2:
        mean, half = stats.mean_ci(per_run, level)
        lo, hi = mean - half, mean + half
    else:
        mean, lo, hi = (per_run[0] if per_run else math.nan), math.nan, math.nan
    return dict(mean_log=mean, lo=lo, hi=hi, ratio=math.exp(mean) if math.isfinite(mean) else math.nan,
                n_runs=len(per_run), pairs=pairs, lower=lower, runs_all=runs_all, by_step=by_step,
                outcome=stats.sign_outcome(lo, hi, +1),
                hvp_cold=float(np.mean(hvp_cold)) if hvp_cold else math.nan,
                hvp_warm=float(np.mean(hvp_warm)) if hvp_warm else math.nan,
                n_cold=len(hvp_cold), n_warm=len(hvp_warm))


def all_of(outcomes) -> str:
    """Amended claim-12 sharpness rule over CLR and CBS separately: holds when every one holds,
    fails when any fails, else inconclusive."""
    outcomes = list(outcomes)
    if FAILS in outcomes:
        return FAILS
    return HOLDS if outcomes and all(o == HOLDS for o in outcomes) else INCONCLUSIVE


def oscillations(results) -> dict:
    """The sharpness oscillation pooled (the rule as first registered), per schedule kind (the
    amended rule) and with the stage roles swapped (the control), each at the rule's level."""
    level = rules.get("claim-12-sharpness-oscillates")["level"]
    out = dict(pooled=oscillation(results, level=level),
               control_pooled=oscillation(results, swap=True, level=level))
    for kind in ("clr", "cbs"):
        out[kind] = oscillation(results, (kind,), level=level)
        out[f"control_{kind}"] = oscillation(results, (kind,), swap=True, level=level)
    out["outcome"] = all_of(out[k]["outcome"] for k in ("clr", "cbs"))
    out["control_outcome"] = all_of(out[f"control_{k}"]["outcome"] for k in ("clr", "cbs"))
    return out


def cost(results) -> list[dict]:
    """Per schedule: parameter updates per run and training-step seconds per run (mean over seeds)."""
    out = []
    for name, rows in by_schedule(results).items():
        if name == "const-control":          # a control read at a fraction of its epochs, not a schedule
            continue
        out.append(dict(schedule=name, kind=rows[0]["kind"], step_size=rows[0]["step_size"],
                        updates=float(np.mean([r["updates"] for r in rows])),
                        seconds=float(np.mean([r["train_seconds"] for r in rows])),
                        shared_by=rows[0]["shared_by"], runs=len(rows)))
    return out


def cost_ratios(results, params) -> dict:
    """CBS over CLR at every stage length: updates and training-step seconds."""
    c = {r["schedule"]: r for r in cost(results)}
    out = {}
    for s in params.step_sizes:
        a, b = c[f"cbs-{s}"], c[f"clr-{s}"]
        out[s] = dict(updates=a["updates"] / b["updates"], seconds=a["seconds"] / b["seconds"] if b["seconds"] else math.nan)
    s = params.fig4_step_size
    out["sqrt"] = dict(updates=c[f"sqrt-{s}"]["updates"] / c[f"clr-{s}"]["updates"],
                       seconds=c[f"sqrt-{s}"]["seconds"] / c[f"clr-{s}"]["seconds"] if c[f"clr-{s}"]["seconds"] else math.nan)
    return out


def table_rows(results, params) -> list[dict]:
    """Our final test accuracy (mean ± sd over seeds) beside the paper's, one row per paper number."""
    g = by_schedule(results)
    short, long = short_long(params)
    where = {("fig4-cyclic", "cbs"): f"cbs-{params.fig4_step_size}", ("fig4-cyclic", "clr"): f"clr-{params.fig4_step_size}",
             ("fig4-constant", "const-low"): "const-low", ("fig4-constant", "const-high"): "const-high",
             ("long-stage", "cbs"): f"cbs-{long}", ("long-stage", "clr"): f"clr-{long}"}
    rows = []
    for p in paper_numbers():
        if p["setting"] == "long-minus-short":
            eff = stage_effect(results, params)
            rows.append(dict(setting=p["setting"], schedule="CLR and CBS", ours=eff["b"], ours_sd=None,
                             ours_lo=eff["lo"], ours_hi=eff["hi"], n=eff["n"], paper=None, paper_sd=None,
                             paper_low=p["diff_low"], paper_high=p["diff_high"], source=p["source"]))
            continue
        name = where[(p["setting"], p["schedule"])]
        d = describe(final_acc(g[name]))
        rows.append(dict(setting=p["setting"], schedule=name, ours=d["mean"], ours_sd=d["sd"], ours_lo=None,
                         ours_hi=None, n=d["n"], paper=p["test_acc"], paper_sd=p["sd"], paper_low=None,
                         paper_high=None, source=p["source"]))
    return rows


def summary(results, params) -> dict:
    return dict(comparison=comparison(results, params), stages=stage_effect(results, params),
                oscillation=oscillation(results), oscillations=oscillations(results), cost=cost(results), ratios=cost_ratios(results, params),
                table=table_rows(results, params))


# -- numbers as a reader sees them -------------------------------------------------------------------------
KIND_NAMES = {"clr": "CLR", "cbs": "CBS", "sqrt": "√-rule"}


def mean_sd(mean, sd, digits: int | None = None) -> str:
    """``mean ± sd`` rounded to the sd (or to ``digits`` decimals, e.g. one rounding for a whole column)."""
    d = decimals(sd) if digits is None else digits
    return _f(mean, d) + (f" ± {_f(sd, d)}" if sd is not None and math.isfinite(sd) else "")


def with_interval(x, lo, hi, *, sign=True, min_decimals: int = 1) -> str:
    """``x [lo, hi]`` rounded to the interval's half-width (at least ``min_decimals`` decimals, so an end
    near a margin is not rounded onto it)."""
    d = (max(min_decimals, decimals(0.5 * (hi - lo))) if all(v is not None and math.isfinite(v) for v in (lo, hi))
         else 2)
    return f"{_f(x, d, sign)} [{_f(lo, d, sign)}, {_f(hi, d, sign)}]"


def schedule_label(name: str, results=None) -> str:
    """A schedule as the page names it: "CBS, stages of 3 epochs", "constant, S = 50, η = 0.02"."""
    kind, _, step = name.rpartition("-")
    if kind in KIND_NAMES and step.isdigit():
        s = int(step)
        return f"{KIND_NAMES[kind]}, stages of {s} epoch{'s' if s != 1 else ''}"
    if results is not None and name in results.schedules:
        sc = results.schedules[name]
        return f"constant, S = {sc['batch_size'][0]}, η = {sc['lr'][0]:g}"
    return name


def _pair(c: dict) -> str:
    """"CBS − CLR" for a comparison of :func:`comparison` (stage lengths left to the context)."""
    def short(name):
        kind = name.rpartition("-")[0]
        return KIND_NAMES.get(kind) or {"const-high": "large batch", "const-low": "small batch"}.get(name, name)
    return f"{short(c['a'])} − {short(c['b'])}"


def ratio_interval(o: dict) -> str:
    """The oscillation's ratio with its 95% interval, from the mean log ratio: "1.29 [1.15, 1.45]"."""
    if not all(math.isfinite(o.get(k, math.nan)) for k in ("mean_log", "lo", "hi")):
        return f"×{_f(o.get('ratio'), 2)}"
    return f"{_f(math.exp(o['mean_log']), 2)} [{_f(math.exp(o['lo']), 2)}, {_f(math.exp(o['hi']), 2)}]"


# -- verdicts under the registered rules ---------------------------------------------------------------------
def _tost_text(c: dict, m: float) -> str:
    t = c["test"]
    return (f"{_pair(c)}: {with_interval(t['diff'], t['lo'], t['hi'])} points (90% interval, margin ±{m:g}; "
            f"{t['n_a']} and {t['n_b']} runs)")


def _curve_text(cv: dict) -> str:
    w = cv.get("worst")
    if not w:
        return "no epoch with two runs on each side"
    return (f"at every one of {cv['n_epochs']} epochs within ±{cv['margin']:g} points: {cv['outcome']} "
            f"(widest at epoch {w['epoch']}: {with_interval(w['diff'], w['lo'], w['hi'])})")


def _tost_power(t: dict, margin: float, chapter="schedules", what="seeds per schedule") -> str:
    hw = 0.5 * (t["hi"] - t["lo"]) if all(math.isfinite(t.get(k, math.nan)) for k in ("lo", "hi")) else math.nan
    return power_text(hw, min(t.get("n_a", 0), t.get("n_b", 0)), margin - abs(t["diff"]) if math.isfinite(t["diff"])
                      else math.nan, "points", chapter=chapter, what=what)


def _claim8_power(c: dict, m: float) -> str:
    """The part of the amended claim-8 rule that is undecided: the final test, else the widest epoch."""
    if c["test"]["outcome"] != HOLDS or not c["curves"].get("worst"):
        return _tost_power(c["test"], m)
    w = c["curves"]["worst"]
    return "along the curves (widest epoch " + str(w["epoch"]) + "): " + _tost_power(w, c["curves"]["margin"])


def verdicts(results, params) -> list[Verdict]:
    facts = summary(results, params)
    common = dict(chapter="schedules", profile=params.profile)
    m = params.equivalence_margin
    out = []
    comp = facts["comparison"]
    cy, sq, co, ctrl = comp["cyclic"], comp["sqrt"], comp["constant"], comp["control"]

    # claim 8, cyclic: amended (final accuracy and curves); control: the √-rule schedule
    outcome = both(cy["test"]["outcome"], cy["curves"]["outcome"])
    control = both(sq["test"]["outcome"], sq["curves"]["outcome"])
    out.append(ruled(
        "claim-8-cbs-equals-clr", id="claim-8-cbs-equals-clr", source=SOURCE_FIG4, figure="fig-sched-cyclic",
        outcome=outcome, control_outcome=control, original_outcome=cy["test"]["outcome"],
        original_control_outcome=sq["test"]["outcome"],
        control_summary=f"{_tost_text(sq, m)}: {sq['test']['outcome']}; curves {_curve_text(sq['curves'])}",
        evidence={"difference_points": cy["test"]["diff"], "lo": cy["test"]["lo"], "hi": cy["test"]["hi"],
                  "margin": m, "n_a": cy["test"]["n_a"], "n_b": cy["test"]["n_b"],
                  "final_outcome": cy["test"]["outcome"], "curve_outcome": cy["curves"]["outcome"],
                  "curve_margin": cy["curves"]["margin"], "largest_curve_gap": cy["gap"]["gap"],
                  "gap_epoch": cy["gap"]["epoch"], "sqrt_largest_curve_gap": sq["gap"]["gap"],
                  "sqrt_final_outcome": sq["test"]["outcome"], "sqrt_curve_outcome": sq["curves"]["outcome"]},
        summary=f"{_tost_text(cy, m)}: {cy['test']['outcome']}; the mean curves {_curve_text(cy['curves'])}.",
        power=_claim8_power(cy, m), **common))

    # claim 8, constant pair; control: a pair with a different η/S at equal SDE time
    ct = ctrl["test"]
    out.append(ruled(
        "claim-8-constant-pair", id="claim-8-constant-pair", source=SOURCE_FIG4, figure="fig-sched-constant",
        outcome=co["test"]["outcome"], control_outcome=ct["outcome"],
        control_summary=(f"S = {params.bs_low}, η = {params.lr_high:g} read at epoch {_f(ctrl['epoch'], 1)} "
                         f"(equal SDE time) minus S = {params.bs_low}, η = {params.lr_low:g}: "
                         f"{with_interval(ct['diff'], ct['lo'], ct['hi'])} points, {ct['outcome']}"
                         if ct.get("outcome") != NOT_RUN else ""),
        evidence={"difference_points": co["test"]["diff"], "lo": co["test"]["lo"], "hi": co["test"]["hi"],
                  "margin": m, "n_a": co["test"]["n_a"], "n_b": co["test"]["n_b"],
                  "largest_curve_gap": co["gap"]["gap"], "gap_epoch": co["gap"]["epoch"],
                  "control_difference": ct.get("diff"), "control_lo": ct.get("lo"), "control_hi": ct.get("hi")},
        summary=(f"{_tost_text(co, m)}; the mean curves are at most {_f(co['gap']['gap'], 1)} points apart "
                 f"(epoch {co['gap']['epoch']})."),
        decision=decision("final accuracy, large − small batch (points)", co["test"]["diff"], co["test"]["lo"],
                          co["test"]["hi"], level="90% Welch (TOST)", **equivalence_rule(m)),
        power=_tost_power(co["test"], m), **common))

    # the √-rule contrast; control: CBS against CLR (claim 8 says they match)
    flip = {HOLDS: FAILS, FAILS: HOLDS}
    out.append(ruled(
        "schedules-sqrt-rule-differs", id="schedules-sqrt-rule-differs",
        source="ours (the contrast of the ICLR 2018 submission, §4.2 and Fig. 4)", figure="fig-sched-cyclic",
        outcome=flip.get(sq["test"]["outcome"], INCONCLUSIVE),
        control_outcome=flip.get(cy["test"]["outcome"], INCONCLUSIVE),
        control_summary=f"{_tost_text(cy, m)}",
        evidence={"difference_points": sq["test"]["diff"], "lo": sq["test"]["lo"], "hi": sq["test"]["hi"],
                  "margin": m, "largest_curve_gap": sq["gap"]["gap"], "gap_epoch": sq["gap"]["epoch"]},
        summary=(f"{_tost_text(sq, m)}; the mean curves are at most {_f(sq['gap']['gap'], 1)} points apart "
                 f"(epoch {sq['gap']['epoch']})."),
        power=_tost_power(sq["test"], m), **common))

    # claim 12, accuracy; control: [long] labels scrambled
    st = facts["stages"]
    sc = st["control"]
    hw = 0.5 * (st["hi"] - st["lo"]) if math.isfinite(st["hi"] - st["lo"]) else math.nan
    d = decimals(hw) if math.isfinite(hw) else 2
    out.append(ruled(
        "claim-12-long-beats-short", id="claim-12-long-beats-short", source=SOURCE_STAGES, figure="fig-sched-stages",
        outcome=st["outcome"], control_outcome=sc["outcome"],
        control_summary=f"b = {with_interval(sc['b'], sc['lo'], sc['hi'])} points with the labels scrambled",
        evidence={"long_minus_short_points": st["b"], "lo": st["lo"], "hi": st["hi"], "n_runs": st["n"],
                  "clr_difference": st["per"]["clr"]["diff"], "cbs_difference": st["per"]["cbs"]["diff"],
                  "short_epochs": st["short"], "long_epochs": st["long"], "control_b": sc["b"],
                  "control_lo": sc["lo"], "control_hi": sc["hi"]},
        summary=(f"stages of {st['long']} epochs minus stages of {st['short']}: "
                 f"{with_interval(st['b'], st['lo'], st['hi'])} points (95% interval, {st['n']} runs; "
                 f"CLR {_f(st['per']['clr']['diff'], d, True)}, CBS {_f(st['per']['cbs']['diff'], d, True)})."),
        power=power_text(hw, st["n"] // 4 if st["n"] else 0, abs(st["b"]) if math.isfinite(st["b"]) else math.nan,
                         "points", chapter="schedules", what="seeds per schedule"),
        decision=decision("accuracy, long − short stages (points)", st["b"], st["lo"], st["hi"],
                          level=f"{rules.get('claim-12-long-beats-short')['level']:.0%} t", **sign_rule(+1)),
        **common))

    # claim 12, sharpness: amended (CLR and CBS separately); control: stage roles swapped
    os_ = facts["oscillations"]

    def osc(o, name):
        return (f"{name}: λ_max after low-noise stages {ratio_interval(o)} times that after high-noise ones "
                f"({o['lower']} of {o['pairs']} cycles, {o['n_runs']} runs)")

    widest = max((os_[k] for k in ("clr", "cbs")), key=lambda o: (o["hi"] - o["lo"]) if math.isfinite(o["hi"] - o["lo"])
                 else math.inf)
    hw = 0.5 * (widest["hi"] - widest["lo"]) if math.isfinite(widest["hi"] - widest["lo"]) else math.nan
    out.append(ruled(
        "claim-12-sharpness-oscillates", id="claim-12-sharpness-oscillates", source=SOURCE_STAGES,
        figure="fig-sched-stages", outcome=os_["outcome"], control_outcome=os_["control_outcome"],
        original_outcome=os_["pooled"]["outcome"], original_control_outcome=os_["control_pooled"]["outcome"],
        control_summary=(f"swapped roles: CLR {ratio_interval(os_['control_clr'])} ({os_['control_clr']['outcome']}), "
                         f"CBS {ratio_interval(os_['control_cbs'])} ({os_['control_cbs']['outcome']})"),
        evidence={"clr_mean_log_ratio": os_["clr"]["mean_log"], "clr_lo": os_["clr"]["lo"], "clr_hi": os_["clr"]["hi"],
                  "clr_outcome": os_["clr"]["outcome"], "cbs_mean_log_ratio": os_["cbs"]["mean_log"],
                  "cbs_lo": os_["cbs"]["lo"], "cbs_hi": os_["cbs"]["hi"], "cbs_outcome": os_["cbs"]["outcome"],
                  "pooled_mean_log_ratio": os_["pooled"]["mean_log"], "pooled_lo": os_["pooled"]["lo"],
                  "pooled_hi": os_["pooled"]["hi"], "cycles": os_["pooled"]["pairs"], "runs": os_["pooled"]["n_runs"]},
        summary=f"{osc(os_['clr'], 'cyclic η (CLR)')}: {os_['clr']['outcome']}; {osc(os_['cbs'], 'cyclic S (CBS)')}: "
                f"{os_['cbs']['outcome']} (95% intervals).",
        power=power_text(hw, widest["n_runs"], abs(widest["mean_log"]) if math.isfinite(widest["mean_log"]) else math.nan,
                         "in log λ_max", chapter="schedules", what="runs per schedule kind"),
        **common))
    return out
