"""The numbers the "batch-size schedules" page quotes and its verdicts (rules fixed before the numbers).

Accuracies are in percentage points.  The paper's numbers come from ``paper_numbers.csv`` beside this
file (each row cites its source), never from prose.

Rules (each has three outcomes):

- **claim-8-cbs-equals-clr** (cyclic) and **claim-8-constant-pair**: two one-sided tests (Welch) on the
  final test accuracy with the margin ``equivalence_margin`` points (a parameter, so fixed before
  the runs): holds when the 90% interval of the difference lies inside ±margin, fails when it lies
  entirely outside, inconclusive otherwise.  The largest gap between the mean test-accuracy curves
  over all epochs is reported beside it.
- **schedules-sqrt-rule-differs** (ours): the √-rule batch schedule is a contrast that should *not*
  match CLR: holds when the same test says the difference exceeds the margin, fails when it says
  they are equivalent, inconclusive otherwise.
- **claim-12-long-beats-short**: over the CLR and CBS runs at the shortest and the longest stage
  length, the least-squares fit acc = a + b·[long] + c·[CBS]; holds when the 95% t interval of b
  lies above 0, fails when below, inconclusive when it contains 0.
- **claim-12-sharpness-oscillates**: in every cyclic run, each high-noise stage end is compared with
  the low-noise stage ends just before and just after it (their geometric mean, so a steady drift
  of λ_max over training cancels): per run, the mean over its cycles of
  log(√(λ_before · λ_after) / λ_high); holds when the 95% t interval of its mean over runs lies
  above 0 (λ_max lower after high-noise stages), fails when below, inconclusive otherwise; with the
  counts of cycles and runs in which λ_max was lower after the high-noise stage.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ... import stats
from ...claims import Verdict
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
                         a_acc=describe(xa), b_acc=describe(xb))
    return out


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
    fit = stats.ols(np.array(y), np.array(is_long), np.array(is_cbs), level=LEVEL)
    return dict(short=short, long=long, b=float(fit["coef"][1]), lo=float(fit["lo"][1]), hi=float(fit["hi"][1]),
                cbs=float(fit["coef"][2]), n=int(fit["n"]), per=per,
                outcome=stats.sign_outcome(float(fit["lo"][1]), float(fit["hi"][1]), +1))


def oscillation(results) -> dict:
    """λ_max at the ends of high- and low-noise stages of every cyclic run (see the module docstring)."""
    per_run, pairs, lower, runs_all = [], 0, 0, 0
    by_step: dict = {}
    hvp_cold, hvp_warm = [], []
    for r in results.runs:
        if r["kind"] not in ("clr", "cbs") or r["diverged"]:
            continue
        kinds = dict((e, t) for e, t in results.schedules[r["schedule"]]["probes"])
        lam = {q["epoch"]: q["lambda_max"] for q in r["probes"]}
        for q in r["probes"]:
            (hvp_warm if q["warm_start"] else hvp_cold).append(q["n_hvp"])
        ends = sorted(e for e in lam if e in kinds)
        logs = []
        for i in range(1, len(ends) - 1):
            before, e, after = ends[i - 1], ends[i], ends[i + 1]
            if (kinds[e] == "high" and kinds[before] == kinds[after] == "low"
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
        mean, half = stats.mean_ci(per_run, LEVEL)
        lo, hi = mean - half, mean + half
    else:
        mean, lo, hi = (per_run[0] if per_run else math.nan), math.nan, math.nan
    return dict(mean_log=mean, lo=lo, hi=hi, ratio=math.exp(mean) if math.isfinite(mean) else math.nan,
                n_runs=len(per_run), pairs=pairs, lower=lower, runs_all=runs_all, by_step=by_step,
                outcome=stats.sign_outcome(lo, hi, +1),
                hvp_cold=float(np.mean(hvp_cold)) if hvp_cold else math.nan,
                hvp_warm=float(np.mean(hvp_warm)) if hvp_warm else math.nan,
                n_cold=len(hvp_cold), n_warm=len(hvp_warm))


def cost(results) -> list[dict]:
    """Per schedule: parameter updates per run and training-step seconds per run (mean over seeds)."""
    out = []
    for name, rows in by_schedule(results).items():
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
                oscillation=oscillation(results), cost=cost(results), ratios=cost_ratios(results, params),
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


def verdicts(results, params) -> list[Verdict]:
    facts = summary(results, params)
    common = dict(chapter="schedules", profile=params.profile)
    m = params.equivalence_margin
    out = []
    comp = facts["comparison"]
    for key, vid, statement, figure in (
            ("cyclic", "claim-8-cbs-equals-clr",
             "A cyclic batch-size schedule matches the cyclic learning-rate schedule with the same η/S.", "fig-sched-cyclic"),
            ("constant", "claim-8-constant-pair",
             "Constant (S, η) pairs with the same η/S reach the same test accuracy.", "fig-sched-constant")):
        c = comp[key]
        t = c["test"]
        out.append(Verdict(
            id=vid, claim=8, statement=statement, source=SOURCE_FIG4,
            rule=(f"two one-sided Welch tests on final test accuracy, margin ±{m:g} points (fixed before the runs): "
                  "holds if the 90% interval of the difference lies inside the margin, fails if entirely outside, "
                  "else inconclusive; the largest gap between mean test-accuracy curves reported beside it"),
            outcome=t["outcome"], figure=figure,
            evidence={"difference_points": t["diff"], "lo": t["lo"], "hi": t["hi"], "margin": m, "n_a": t["n_a"],
                      "n_b": t["n_b"], "largest_curve_gap": c["gap"]["gap"], "gap_epoch": c["gap"]["epoch"]},
            summary=(f"{_pair(c)}: {with_interval(t['diff'], t['lo'], t['hi'])} points (90% interval) against a "
                     f"margin of ±{m:g} ({t['n_a']} and {t['n_b']} runs); the mean curves are at most "
                     f"{_f(c['gap']['gap'], 1)} points apart (epoch {c['gap']['epoch']})."),
            **common))
    c = comp["sqrt"]
    t = c["test"]
    flipped = {"holds": "fails", "fails": "holds"}.get(t["outcome"], "inconclusive")
    out.append(Verdict(
        id="schedules-sqrt-rule-differs", claim=None,
        statement="A √-rule batch schedule (η/√S equal to CLR's) does not match the cyclic learning rate.",
        source="ours (the contrast of the ICLR 2018 submission, §4.2 and Fig. 4)",
        rule=(f"the same equivalence test against CLR, margin ±{m:g} points: holds if the difference exceeds the margin "
              "with confidence (interval entirely outside), fails if equivalent, else inconclusive"),
        outcome=flipped, figure="fig-sched-cyclic",
        evidence={"difference_points": t["diff"], "lo": t["lo"], "hi": t["hi"], "margin": m,
                  "largest_curve_gap": c["gap"]["gap"], "gap_epoch": c["gap"]["epoch"]},
        summary=(f"{_pair(c)}: {with_interval(t['diff'], t['lo'], t['hi'])} points (90% interval) against a "
                 f"margin of ±{m:g}; the mean curves are at most {_f(c['gap']['gap'], 1)} points apart "
                 f"(epoch {c['gap']['epoch']})."),
        **common))
    st = facts["stages"]
    out.append(Verdict(
        id="claim-12-long-beats-short", claim=12,
        statement="Long cyclic stages end at a slightly higher test accuracy than short ones.", source=SOURCE_STAGES,
        rule=("least squares over the CLR and CBS runs at the shortest and longest stage length: "
              "accuracy = a + b·[long] + c·[CBS]; holds if the 95% t interval of b lies above 0, "
              "fails if below, inconclusive if it contains 0"),
        outcome=st["outcome"], figure="fig-sched-stages",
        evidence={"long_minus_short_points": st["b"], "lo": st["lo"], "hi": st["hi"], "n_runs": st["n"],
                  "clr_difference": st["per"]["clr"]["diff"], "cbs_difference": st["per"]["cbs"]["diff"],
                  "short_epochs": st["short"], "long_epochs": st["long"]},
        summary=(f"stages of {st['long']} epochs minus stages of {st['short']}: "
                 f"{with_interval(st['b'], st['lo'], st['hi'])} points (95% interval, {st['n']} runs; "
                 f"CLR {_f(st['per']['clr']['diff'], decimals(0.5 * (st['hi'] - st['lo'])), True)}, "
                 f"CBS {_f(st['per']['cbs']['diff'], decimals(0.5 * (st['hi'] - st['lo'])), True)})."),
        **common))
    o = facts["oscillation"]
    out.append(Verdict(
        id="claim-12-sharpness-oscillates", claim=12,
        statement="Sharpness oscillates with the stages: λ_max is lower after high-noise stages than after low-noise ones.",
        source=SOURCE_STAGES,
        rule=("per cyclic run, the mean over its high-noise stage ends of log(geometric mean of λ_max at the "
              "low-noise stage ends before and after / λ_max at the high-noise end); holds if the 95% t interval of "
              "its mean over runs lies above 0, fails if below, else inconclusive"),
        outcome=o["outcome"], figure="fig-sched-stages",
        evidence={"mean_log_ratio": o["mean_log"], "lo": o["lo"], "hi": o["hi"], "ratio": o["ratio"],
                  "cycles": o["pairs"], "cycles_lower_after_high": o["lower"], "runs": o["n_runs"],
                  "runs_every_cycle": o["runs_all"]},
        summary=(f"λ_max after low-noise stages is {ratio_interval(o)} times its value after high-noise stages "
                 f"(geometric mean, 95% interval); lower after the high-noise stage in {o['lower']} of "
                 f"{o['pairs']} cycles, and in every cycle in {o['runs_all']} of {o['n_runs']} runs."),
        **common))
    return out
