"""The summary numbers and the verdicts of the chapter "SGD as a stochastic differential equation".

Every rule is registered in ``rules.yaml`` beside this file (:mod:`replication.rules`) before the
numbers; the constants below are read from there, and the page glues them, so no threshold is typed
in its prose.  Every verdict has three outcomes: a per-setting comparison is an equivalence test over
the seeds (two one-sided t-tests at 5%: the 90% interval of the difference inside ± margin → holds,
outside → fails, straddling → inconclusive); a claim holds when every setting it covers holds, fails
when any setting fails, and is inconclusive otherwise.  Settings a theory does not claim (steps too
large, chains not equilibrated) are not judged.  Each rule is also applied to its negative control
(named in the registry), and a "holds" stands only when the control fails
(:func:`replication.claims.ruled`).
"""
from __future__ import annotations

import math

import numpy as np

from ... import rules, sde, stats, wording
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict, ruled, every_part
from ...claims import above, below, decision
from .experiment import well

_QUAD = rules.get("claim-2-trace-relation-quadratic")
SDE_REGIME = _QUAD["sde_regime"]             # quadratic runs with eta * lambda_max <= this count as "small steps"
TOLERANCE = _QUAD["tolerance"]               # relative margin asked of a theory on the quadratic and of the exact law
EQUILIBRATION_TOL = _QUAD["equilibration"]   # larger variance deficit after burn-in: not judged
_REG = rules.get("claim-2-sde-with-c")
REG_TOLERANCE = _REG["tolerance"]            # relative margin asked of the SDE with C on the regressions
SMALL_CORRECTION = _REG["small_correction"]  # a regression setting is "small steps" below this discrete correction
_CH = rules.get("claim-2-c-equals-h-premise")
CH_TOLERANCE = _CH["high"] - 1               # "C = H": Tr C / Tr H within this of 1
_WELL = rules.get("claim-3-flatter-minimum-wins")
MIN_CROSSINGS = _WELL["min_crossings"]       # double-well runs with fewer barrier crossings per chain are not judged
CROSSOVER_TOLERANCE = _WELL["window"]        # relative agreement asked of eq. (4)'s crossover temperature
GIBBS_MARGIN = rules.get("sde-double-well-gibbs")["margin"]   # absolute margin on P(A) vs the exact Gibbs law
KS_ALPHA = 0.01             # the KS p-value quoted beside the same-ratio comparison (evidence, not rule)


def _vs(values, reference: float, margin: float, *, relative: bool = True) -> dict:
    """Equivalence of the seeds' values with a fixed prediction (TOST, Welch against a constant)."""
    v = np.asarray(values, float)
    if not (np.all(np.isfinite(v)) and math.isfinite(reference) and reference != 0):
        return dict(outcome=INCONCLUSIVE, diff=math.nan, lo=math.nan, hi=math.nan)
    a = v / reference if relative else v - reference
    b = np.ones(2) if relative else np.zeros(2)          # a constant: zero variance, no degrees of freedom
    return stats.equivalence(a, b, margin)


_PLURAL = {HOLDS: "hold", FAILS: "fail", INCONCLUSIVE: "inconclusive"}


def _count(outcomes) -> str:
    """The outcomes of several settings as a person says them: "all 5 hold", "2 hold, 1 fails"."""
    outcomes = list(outcomes)
    if not outcomes:
        return "none judged"
    if len(set(outcomes)) == 1:
        o = outcomes[0]
        return o if len(outcomes) == 1 else f"all {len(outcomes)} {_PLURAL.get(o, o)}"
    return ", ".join(f"{n} {o if n == 1 else _PLURAL.get(o, o)}"
                     for o in (HOLDS, FAILS, INCONCLUSIVE) if (n := outcomes.count(o)))


said = wording.outcome_verb      # a verdict's outcome as the verb of a sentence


def _number(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _crossing(x, y, level=0.5) -> float:
    """First x (log-interpolated) where y crosses ``level``; nan if it never does."""
    for (x0, y0), (x1, y1) in zip(zip(x, y), zip(x[1:], y[1:])):
        if (y0 - level) * (y1 - level) <= 0 and y0 != y1:
            w = (level - y0) / (y1 - y0)
            return float(np.exp(np.log(x0) + w * (np.log(x1) - np.log(x0))))
    return math.nan


def equilibrated(row: dict) -> bool:
    return not row["diverged"] and row["transient"] <= EQUILIBRATION_TOL


def small_steps_regression(row: dict) -> bool:
    """A regression setting is in the SDE's regime when the theory's own discrete correction
    (the C-based discrete law against the C-based SDE) is below half the tolerance."""
    return abs(row["pred_discrete"] / row["pred_lyapunov"] - 1) <= SMALL_CORRECTION


def mixed(row: dict) -> bool:
    return not row["diverged"] and row["crossings"] >= MIN_CROSSINGS


def _geo(values) -> float:
    values = [v for v in values if math.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def scrambled_tests(rows: list[dict], values: str, prediction: str, margin: float, *, relative: bool = True,
                    order=("ratio", "S")) -> list[dict]:
    """The negative control of a "measured equals its prediction" rule: the rows, in the order of
    ``order`` (η/S first), each compared by the same TOST to the prediction of the row that
    :func:`replication.stats.scrambled_order` puts in its place.  Rows whose borrowed prediction is
    within twice the margin of their own (the claim cannot tell them apart) are left out."""
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in order))
    perm = stats.scrambled_order(len(rows))
    if len(rows) >= 2 and np.array_equal(perm, np.arange(len(rows))):
        perm = np.arange(len(rows))[::-1]              # two rows: scrambling them is swapping them
    out = []
    for i, j in enumerate(perm):
        own, other = rows[i][prediction], rows[j][prediction]
        gap = abs(other / own - 1) if relative else abs(other - own)
        if j == i or not (gap > 2 * margin):
            continue
        out.append(dict(row=i, borrowed=int(j), gap=gap, **_vs(rows[i][values], other, margin, relative=relative)))
    return out


def crossover(rows: list[dict], T_star: float, window: float) -> dict:
    """Claim 3's rule on equilibrated temperatures: where P(A) and its 95% band cross ½, against
    T* ± window; holds if the band's crossing lies inside, fails if some point's band is on the wrong
    side of ½ outside the window (A less probable above it, more probable below it)."""
    T = [r["T"] for r in rows]
    sim = _crossing(T, [r["fraction_A"] for r in rows])
    lo = _crossing(T, [r["fraction_A"] + r["fraction_A_ci"] for r in rows])
    hi = _crossing(T, [r["fraction_A"] - r["fraction_A_ci"] for r in rows])
    lo_T, hi_T = T_star * (1 - window), T_star * (1 + window)
    contradicted = [r["T"] for r in rows if (r["T"] < lo_T and r["fraction_A"] - r["fraction_A_ci"] > 0.5)
                    or (r["T"] > hi_T and r["fraction_A"] + r["fraction_A_ci"] < 0.5)]
    if contradicted:
        outcome = FAILS
    elif math.isfinite(lo) and math.isfinite(hi) and lo_T <= min(lo, hi) and max(lo, hi) <= hi_T:
        outcome = HOLDS
    else:
        outcome = INCONCLUSIVE
    return dict(outcome=outcome, T_sim=sim, lo=lo, hi=hi, contradicted=contradicted)


def c_equals_h_outcome(lo: float, hi: float) -> str:
    """The C = H rule: the interval of Tr C / Tr H, rounded to the rule's decimals, against [low, high]."""
    d = int(_CH["decimals"])
    lo, hi = stats.rounded(lo, d), stats.rounded(hi, d)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    if lo >= _CH["low"] and hi <= _CH["high"]:
        return HOLDS
    if hi < _CH["low"] or lo > _CH["high"]:
        return FAILS
    return INCONCLUSIVE


def c_equals_h_premise(dim: int, losses) -> list[dict]:
    """Tr C / Tr H (95% bootstrap interval over examples) of the premise designs and of their controls,
    per problem: the linear regression with label noise std ``noise_std`` (C = H) and ``control_noise_std``
    (C = s² H); the logistic regression with labels drawn from the model (Fisher = Hessian) and with
    labels drawn from the logit scaled by (‖x‖² / mean ‖x‖²)^``control_logit_power`` (misspecified)."""
    from scipy.special import expit

    from .experiment import c_over_h
    from .experiment import REGRESSION_SPECTRUM

    N = int(_CH["examples"])
    out = []
    for loss in losses:
        lam_min, lam_max = REGRESSION_SPECTRUM[loss]
        if loss == "linear":
            designs = {}
            for role, std in (("design", _CH["noise_std"]), ("control", _CH["control_noise_std"])):
                X, y = sde.make_linear_regression(N, dim, noise_std=std, lam_min=lam_min, lam_max=lam_max, seed=0)
                designs[role] = (c_over_h(X, y, sde.linear_regression_minimum(X, y), loss), f"label noise std {std:g}")
        else:
            X, y = sde.make_logistic_regression(N, dim, 0, lam_min=lam_min, lam_max=lam_max)
            minimum = sde.logistic_regression_minimum(X, y)
            designs = {"design": (c_over_h(X, y, minimum, loss), "labels drawn from the model")}
            norms = np.sum(X * X, axis=1)
            scale = (norms / norms.mean()) ** _CH["control_logit_power"]
            rng = np.random.default_rng(1)
            y_mis = (rng.random(N) < expit(scale * (X @ minimum.w_star))).astype(np.float64)
            designs["control"] = (c_over_h(X, y_mis, sde.logistic_regression_minimum(X, y_mis), loss),
                                  "labels from a misspecified model")
        entry = dict(loss=loss, examples=N)
        for role, (ch, what) in designs.items():
            entry[role] = dict(value=ch["value"], lo=ch["lo"], hi=ch["hi"], what=what,
                               outcome=c_equals_h_outcome(ch["lo"], ch["hi"]))
        out.append(entry)
    return out


def summary(results) -> dict:
    """The numbers the chapter states, computed from ``results`` (an ``SDEResults``)."""
    from scipy import optimize
    from scipy.stats import ks_2samp

    out: dict = {}
    quad = [r for r in results.quadratic if not r["diverged"]]
    small = [r for r in quad if r["eta_lam_max"] <= SDE_REGIME and equilibrated(r)]
    out["n_quad"], out["n_small"] = len(quad), len(small)
    out["discrete_inside_ci"] = sum(abs(r["loss"] - r["discrete"]) <= r["loss_ci"] for r in quad)
    out["max_dev_small"] = max((abs(r["loss"] / r["sde"] - 1) for r in small), default=math.nan)
    out["max_dev_all"] = max((abs(r["loss"] / r["sde"] - 1) for r in quad), default=math.nan)
    out["trace_tests"] = [dict(eta=r["eta"], S=r["S"], **_vs(r["seed_losses"], r["naive"], TOLERANCE)) for r in small]
    pairs = []
    for ratio in sorted({r["ratio"] for r in quad}):
        same = sorted((r for r in quad if r["ratio"] == ratio), key=lambda r: r["S"])
        if len(same) < 2:
            continue
        lo, hi = same[0], same[-1]
        centre = np.mean([r["loss"] for r in same])
        test = stats.equivalence(np.asarray(lo["seed_losses"]) / centre, np.asarray(hi["seed_losses"]) / centre,
                                 TOLERANCE)
        pairs.append(dict(ratio=ratio, S_small=lo["S"], S_large=hi["S"], eta_lam_max=hi["eta_lam_max"],
                          judged=hi["eta_lam_max"] <= SDE_REGIME and equilibrated(lo) and equilibrated(hi),
                          outcome=test["outcome"], diff=test["diff"], diff_lo=test["lo"], diff_hi=test["hi"],
                          spread=(max(r["loss"] for r in same) - min(r["loss"] for r in same)) / centre,
                          predicted_spread=(max(r["discrete"] for r in same) - min(r["discrete"] for r in same))
                          / np.mean([r["discrete"] for r in same]),
                          ks_pvalue=float(ks_2samp(lo["final_loss"], hi["final_loss"]).pvalue)))
    out["pairs"] = pairs
    # control of the same-ratio rule: the smallest and the largest η/S at the same S (the SDE says they differ)
    ratios = sorted({r["ratio"] for r in quad})
    control_pairs = []
    if len(ratios) >= 2:
        for S in sorted({r["S"] for r in quad}):
            a = next((r for r in quad if r["ratio"] == ratios[0] and r["S"] == S), None)
            b = next((r for r in quad if r["ratio"] == ratios[-1] and r["S"] == S), None)
            if a is None or b is None or not (equilibrated(a) and equilibrated(b)) \
                    or max(a["eta_lam_max"], b["eta_lam_max"]) > SDE_REGIME:
                continue
            centre = 0.5 * (a["loss"] + b["loss"])
            test = stats.equivalence(np.asarray(a["seed_losses"]) / centre, np.asarray(b["seed_losses"]) / centre,
                                     TOLERANCE)
            control_pairs.append(dict(S=S, ratio_small=ratios[0], ratio_large=ratios[-1], outcome=test["outcome"],
                                      diff=test["diff"]))
    out["pairs_control"] = control_pairs
    # the exact discrete law wherever the SDE is not claimed: the larger steps of both sweeps
    large = [r for r in results.edge + results.quadratic if not r["diverged"] and r["eta_lam_max"] > SDE_REGIME]
    out["discrete_tests"] = [dict(eta=r["eta"], S=r["S"], eta_lam_max=r["eta_lam_max"], judged=equilibrated(r),
                                  ratio_to_discrete=r["loss"] / r["discrete"],
                                  **_vs(r["seed_losses"], r["discrete"], TOLERANCE)) for r in large]
    # controls where the SDE must break: large equilibrated steps whose discrete law departs from
    # η Tr H/(4S) by more than twice the tolerance — the trace relation (claim 2) must fail there, and
    # the discrete-law rule with η Tr H/(4S) in place of the discrete law must fail there too
    breaking = [r for r in large if equilibrated(r) and abs(r["discrete"] / r["naive"] - 1) > 2 * TOLERANCE]
    out["trace_control"] = [dict(eta=r["eta"], S=r["S"], eta_lam_max=r["eta_lam_max"],
                                 **_vs(r["seed_losses"], r["naive"], TOLERANCE)) for r in breaking]
    edge = [r for r in results.edge if not r["diverged"]]
    judged_edge = [r for r in edge if equilibrated(r)]
    out["n_edge"], out["n_edge_equilibrated"] = len(edge), len(judged_edge)
    out["edge_not_equilibrated"] = [r["eta_lam_max"] for r in edge if not equilibrated(r)]
    top = max(judged_edge, key=lambda r: r["eta_lam_max"]) if judged_edge else None
    out["edge_max_eta_lam"] = top["eta_lam_max"] if top else math.nan
    out["edge_ratio_at_max"] = top["loss"] / top["naive"] if top else math.nan
    out["edge_inside_ci"] = sum(abs(r["loss"] - r["discrete"]) <= r["loss_ci"] for r in judged_edge)
    lam = results.quadratic[0]["eigenvalues"]
    excess = lambda x: np.sum(lam / (2 - x / lam.max() * lam)) / 2 / (np.sum(lam) / 4) - 1 - TOLERANCE  # noqa: E731
    out["edge_break_eta_lam"] = float(optimize.brentq(excess, 1e-9, 1.999999))
    # regressions
    out["regression"] = []
    for loss, sampling in sorted({(r["loss"], r["sampling"]) for r in results.regression}):
        rows = [r for r in results.regression if (r["loss"], r["sampling"]) == (loss, sampling) and not r["diverged"]]
        if not rows:
            continue
        first = rows[0]
        sde_tests = [dict(eta=r["eta"], S=r["S"], eta_lam_max=r["eta_lam_max"],
                          exact_over_sde=r["pred_exact"] / r["pred_lyapunov"],
                          **_vs(r["seed_excess"], r["pred_lyapunov"], REG_TOLERANCE))
                     for r in rows if small_steps_regression(r)]
        entry = dict(loss=loss, sampling=sampling, C_over_H=first["C_over_H"], C_over_H_lo=first["C_over_H_lo"],
                     C_over_H_hi=first["C_over_H_hi"],
                     vs_C=_geo([r["excess"] / r["pred_discrete"] for r in rows]),
                     vs_SDE_C=_geo([r["excess"] / r["pred_lyapunov"] for r in rows]),
                     vs_H=_geo([r["excess"] / r["pred_trace_H"] for r in rows]),
                     vs_exact=_geo([r["excess"] / r["pred_exact"] for r in rows]),
                     sde_tests=sde_tests, n_settings=len(rows),
                     sde_control=scrambled_tests([dict(r, values=r["seed_excess"]) for r in rows
                                                  if small_steps_regression(r)],
                                                 "values", "pred_lyapunov", REG_TOLERANCE),
                     small_eta_lam_max=max((t["eta_lam_max"] for t in sde_tests), default=math.nan))
        if loss == "linear" and sampling == "independent":
            entry["exact_tests"] = [dict(eta=r["eta"], S=r["S"], ratio=r["excess"] / r["pred_exact"],
                                         **_vs(r["seed_excess"], r["pred_exact"], TOLERANCE)) for r in rows]
            entry["exact_control"] = scrambled_tests([dict(r, values=r["seed_excess"]) for r in rows], "values",
                                                     "pred_exact", TOLERANCE)
        # where the measured loss sits against the SDE with C: below / above / consistent (95% CI)
        side = []
        for r in rows:
            lo, hi = r["excess"] - r["excess_ci"], r["excess"] + r["excess_ci"]
            side.append(dict(eta=r["eta"], S=r["S"], ratio=r["excess"] / r["pred_lyapunov"],
                             where="below" if hi < r["pred_lyapunov"] else "above" if lo > r["pred_lyapunov"]
                             else "consistent"))
        entry["sides"] = side
        out["regression"].append(entry)
    out["C_over_H"] = {e["loss"]: (e["C_over_H"], e["C_over_H_lo"], e["C_over_H_hi"]) for e in out["regression"]}
    out["epochs_sentence"] = epochs_sentence(out["regression"])
    # double well
    w = well()
    out["T_laplace"] = sde.crossover_temperature(w)
    out["T_gibbs"] = float(optimize.brentq(lambda t: float(sde.gibbs_probability_A(w, t)) - 0.5, 1e-3, 1e3))
    ok = [r for r in results.well if mixed(r)]
    out["n_well"], out["n_mixed"] = len(results.well), len(ok)
    judged = crossover(ok, out["T_laplace"], CROSSOVER_TOLERANCE)
    out["T_sim"], out["T_sim_lo"], out["T_sim_hi"] = judged["T_sim"], judged["lo"], judged["hi"]
    out["crossover_outcome"], out["crossover_contradicted"] = judged["outcome"], judged["contradicted"]
    out["gibbs_tests"] = [dict(T=r["T"], **_vs(r["seed_fractions"], r["gibbs"], GIBBS_MARGIN, relative=False))
                          for r in ok]
    out["gibbs_control"] = scrambled_tests([dict(r, ratio=r["T"]) for r in ok], "seed_fractions", "gibbs",
                                           GIBBS_MARGIN, relative=False, order=("T",))
    out["well_gibbs_inside_ci"] = sum(abs(r["fraction_A"] - r["gibbs"]) <= r["fraction_A_ci"] for r in ok)
    out["well_max_dev_gibbs"] = max((abs(r["fraction_A"] - r["gibbs"]) for r in ok), default=math.nan)
    out["well_max_dev_laplace"] = max((abs(r["fraction_A"] - r["laplace"]) for r in ok), default=math.nan)
    out["laplace_vs_gibbs"] = max((abs(r["laplace"] - r["gibbs"]) for r in results.well), default=math.nan)
    # claim 3's control: a well with A as sharp as B (no crossover predicted), judged with the main T*
    control_rows = [r for r in getattr(results, "well_control", []) if mixed(r)]
    out["well_control"] = (crossover(control_rows, out["T_laplace"], CROSSOVER_TOLERANCE) | dict(
        n=len(getattr(results, "well_control", [])), n_mixed=len(control_rows),
        fractions=[(r["T"], r["fraction_A"], r["fraction_A_ci"]) for r in control_rows]))
    out["premise"] = list(getattr(results, "premise", []))
    return out


def epochs_sentence(regression: list[dict]) -> str:
    """Where reshuffled-epoch SGD sits against the SDE with C, said as the numbers say it."""
    parts = []
    for e in regression:
        if e["sampling"] != "epochs":
            continue
        sides = e["sides"]
        counts = {w: sum(s["where"] == w for s in sides) for w in ("below", "above", "consistent")}
        extreme = max(sides, key=lambda s: abs(math.log(s["ratio"])) if s["ratio"] > 0 else 0)
        said_where = [f"{word} in {counts[w]}" for w, word in (("below", "below the SDE-with-C prediction"),
                                                               ("above", "above it"),
                                                               ("consistent", "within the 95% interval"))
                      if counts[w]]
        if len(said_where) > 1:
            said_where[-1] = "and " + said_where[-1]
        parts.append(f"for the {e['loss']} regression the measured loss lies "
                     + (", " if len(said_where) > 2 else " ").join(said_where)
                     + f" of {len(sides)} settings"
                     + ("" if counts["consistent"] else ", none of them within the 95% interval")
                     + f" (furthest: {extreme['ratio']:.2f} times the "
                     f"prediction at η = {extreme['eta']:g}, S = {extreme['S']})")
    if not parts:
        return "No run used reshuffled epochs at this profile."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _rule_outcome(tests) -> str:
    """A control's outcome under the same rule as its claim (every setting holds / any fails); no setting: not run."""
    tests = list(tests)
    return every_part(t["outcome"] for t in tests) if tests else NOT_RUN


def _tost_power(tests, margin: float, unit: str = "relative") -> str:
    """What an inconclusive TOST rule could have seen: the widest 90% interval among the straddling
    settings, the smallest departure from the prediction it detects at 80% power, and the seeds that
    would make it decisive (1/√n law)."""
    open_ = [t for t in tests if t.get("outcome") == INCONCLUSIVE and math.isfinite(t.get("lo", math.nan))]
    if not open_:
        return ("no setting was judged at this profile; the laptop profile's small-step settings decide it"
                if not tests else "")
    widest = max(open_, key=lambda t: t["hi"] - t["lo"])
    half = 0.5 * (widest["hi"] - widest["lo"])
    room = margin - abs(widest["diff"])
    seeds = widest.get("n_a", 0)
    fix = (f"about {stats.runs_needed(seeds, half, room)} seeds instead of {seeds} would put its interval inside "
           f"±{margin:g} if the difference stays at {wording.signed(widest['diff'], '+.3f')}" if room > 0 and seeds else
           "its difference already sits at the margin: more seeds narrow the interval but cannot decide it")
    return (f"{len(open_)} setting(s) straddle the margin; the widest 90% interval is ±{half:.3f} ({unit}), so a "
            f"departure of {stats.detectable_effect(half):.3f} is seen at 80% power; {fix}")


def _crossing_decision(T_sim: float, lo: float, hi: float, T_star: float) -> dict:
    """Claim 3's number: where P(A) and its 95% band cross ½, relative to T*, against the window 1 ± window
    (the rule holds there; it fails on another condition, a point's band on the wrong side of ½ outside the
    window, so no fails region is drawn on this scale)."""
    r = lambda x: x / T_star if math.isfinite(x) and T_star > 0 else None  # noqa: E731
    band = (min(lo, hi), max(lo, hi)) if math.isfinite(lo) and math.isfinite(hi) else (math.nan, math.nan)
    return decision("temperature where P(A) = ½, / T*", r(T_sim), r(band[0]), r(band[1]), level="95% t band over seeds",
                    holds=[[1 - CROSSOVER_TOLERANCE, 1 + CROSSOVER_TOLERANCE]], scale="log")


def verdicts(facts: dict, *, profile: str, reg_noise_std: float) -> list[Verdict]:
    """Claim, rule, evidence and outcome for each theoretical claim tested in the chapter, each judged
    under its registered rule together with its negative control."""
    common = dict(chapter="sde", profile=profile)
    out: list[Verdict] = []
    # -- same ratio, same law; control: a different η/S at the same S
    judged = [p for p in facts["pairs"] if p["judged"]]
    ctrl = facts["pairs_control"]
    outcome = every_part(p["outcome"] for p in judged)
    out.append(ruled(
        "sde-same-ratio-same-law", id="sde-same-ratio-same-law", source="ICLR 2018, Section 3 (the SDE's η/S invariance)",
        outcome=outcome, control_outcome=_rule_outcome(ctrl), control_summary=(f"η/S = {ctrl[0]['ratio_small']:g} against {ctrl[0]['ratio_large']:g} at "
                         f"{_number(len(ctrl), 'batch size')}: {_count(c['outcome'] for c in ctrl)}." if ctrl else
                         "this profile has one η/S only (or none at small steps): no control pair."),
        power=_tost_power(judged, TOLERANCE) if outcome == INCONCLUSIVE or not ctrl else "",
        evidence={"groups": len(judged), "largest_spread": max((p["spread"] for p in judged), default=None),
                  "smallest_ks_p": min((p["ks_pvalue"] for p in judged), default=None),
                  "control_pairs": len(ctrl)},
        figure="fig-sde-ou",
        summary=(f"{_number(len(judged), 'same-ratio group')} judged, {_count(p['outcome'] for p in judged)}; "
                 f"spread up to {100 * max(p['spread'] for p in judged):.1f}%." if judged
                 else "No same-ratio group at small steps at this profile."),
        **common))
    # -- trace relation on the quadratic; control: large steps where the discrete law departs
    tests, ctrl = facts["trace_tests"], facts["trace_control"]
    outcome = every_part(t["outcome"] for t in tests)
    out.append(ruled(
        "claim-2-trace-relation-quadratic", id="claim-2-trace-relation-quadratic",
        source="ICLR 2018, eq. (3); ICANN 2018, Section 3", outcome=outcome, control_outcome=_rule_outcome(ctrl),
        control_summary=(f"{_number(len(ctrl), 'large-step setting')} (η λ_max from "
                         f"{min(c['eta_lam_max'] for c in ctrl):.2f}): {_count(c['outcome'] for c in ctrl)}."
                         if ctrl else "no equilibrated large-step setting departs enough at this profile."),
        power=_tost_power(tests, TOLERANCE) if outcome == INCONCLUSIVE else "",
        evidence={"settings": len(tests), "largest_deviation": facts["max_dev_small"], "control_settings": len(ctrl)},
        figure="fig-sde-ou",
        summary=(f"{_number(len(tests), 'setting')} judged, {_count(t['outcome'] for t in tests)}; largest "
                 f"deviation {100 * facts['max_dev_small']:.1f}%." if tests else "No small-step setting at this profile."),
        **common))
    # -- discrete law at large steps; control: the SDE's prediction in its place
    d = [t for t in facts["discrete_tests"] if t["judged"]]
    skipped = len(facts["discrete_tests"]) - len(d)
    ctrl = facts["trace_control"]
    outcome = every_part(t["outcome"] for t in d)
    out.append(ruled(
        "sde-discrete-law-large-steps", id="sde-discrete-law-large-steps",
        source="our addition (the exact discrete law, eq-dlyap)", outcome=outcome,
        control_outcome=_rule_outcome(ctrl), control_summary=(f"against η Tr H/(4S) at {_number(len(ctrl), 'setting')} where the two laws differ: "
                         f"{_count(c['outcome'] for c in ctrl)}." if ctrl else
                         "no judged setting where the two laws differ enough at this profile."),
        power=_tost_power(d, TOLERANCE) if outcome == INCONCLUSIVE else "",
        evidence={"judged": len(d), "not_equilibrated": skipped, "edge_loss_over_sde": facts["edge_ratio_at_max"],
                  "largest_eta_lam_max_judged": facts["edge_max_eta_lam"]},
        figure="fig-sde-edge",
        summary=(f"{_number(len(d), 'setting')} judged, {_count(t['outcome'] for t in d)}"
                 + (f"; {skipped} not equilibrated, not judged" if skipped else "")
                 + f". At η λ_max = {facts['edge_max_eta_lam']:.2f} the loss is {facts['edge_ratio_at_max']:.2f} "
                 "times the SDE's." if d else
                 f"No large-step setting equilibrated ({skipped} did not)." if skipped else
                 "No large-step setting at this profile."),
        **common))
    # -- C = H where the premise is built in; control: a design the premise excludes
    simulated = facts["C_over_H"]
    for e in facts["premise"]:
        des, con = e["design"], e["control"]
        sim = simulated.get(e["loss"])
        out.append(ruled(
            "claim-2-c-equals-h-premise", id=f"claim-2-c-equals-h-premise-{e['loss']}",
            source="ICANN 2018, Section 3 (assumption C = H)",
            statement=f"The gradient covariance equals the Hessian at the minimum where the premise holds ({e['loss']} regression, {des['what']})",
            outcome=des["outcome"], control_outcome=con["outcome"], control_summary=f"{con['what']}: Tr C / Tr H = {con['value']:.3f} [{con['lo']:.3f}, {con['hi']:.3f}]: {con['outcome']}.",
            power=(f"the interval [{des['lo']:.3f}, {des['hi']:.3f}] over {e['examples']:,} examples straddles the "
                   "band; more examples (the rule's `examples`) narrow it as 1/√N" if des["outcome"] == INCONCLUSIVE else ""),
            evidence={"C_over_H": des["value"], "lo": des["lo"], "hi": des["hi"], "examples": e["examples"],
                      "simulated_problem_C_over_H": sim[0] if sim else None},
            decision=decision("Tr C / Tr H at the minimum", des["value"], stats.rounded(des["lo"], int(_CH["decimals"])),
                              stats.rounded(des["hi"], int(_CH["decimals"])), level="95% bootstrap over examples",
                              holds=[[_CH["low"], _CH["high"]]], fails=[below(_CH["low"]), above(_CH["high"])]),
            figure="fig-sde-reg",
            summary=(f"Tr C / Tr H = {des['value']:.3f} [{des['lo']:.3f}, {des['hi']:.3f}] over {e['examples']:,} examples"
                     + (f"; the problem the chapter simulates has {sim[0]:.2f} [{sim[1]:.2f}, {sim[2]:.2f}]"
                        + (f" (label noise std {reg_noise_std:g}: C ≈ {reg_noise_std ** 2:g} H by construction)"
                           if e["loss"] == "linear" else "") if sim else "") + "."),
            **common))
    # -- the SDE with the measured C on real minibatch SGD; control: another setting's prediction
    for e in facts["regression"]:
        t, ctrl = e["sde_tests"], e["sde_control"]
        scheme = "independent batches" if e["sampling"] == "independent" else "reshuffled epochs"
        outcome = every_part(x["outcome"] for x in t)
        out.append(ruled(
            "claim-2-sde-with-c", id=f"claim-2-sde-with-c-{e['loss']}-{e['sampling']}",
            source="ICLR 2018, eq. (3), with the measured C in place of H",
            statement=f"At small steps the stationary excess loss is η Tr C / (4S) ({e['loss']} regression, {scheme})",
            outcome=outcome, control_outcome=_rule_outcome(ctrl), control_summary=(f"{_number(len(ctrl), 'setting')} against another setting's prediction: "
                             f"{_count(c['outcome'] for c in ctrl)}." if ctrl else
                             "fewer than two small-step settings with distinct predictions: no control."),
            power=_tost_power(t, REG_TOLERANCE) if outcome == INCONCLUSIVE else "",
            evidence={"settings": len(t), "of": e["n_settings"], "geo_mean_ratio_all": e["vs_SDE_C"],
                      "largest_eta_lam_max_judged": e["small_eta_lam_max"],
                      "ratios_judged": [round(x["diff"] + 1, 4) for x in t]},
            figure="fig-sde-reg",
            summary=(f"{len(t)} of {e['n_settings']} settings have small steps (η λ_max up to "
                     f"{e['small_eta_lam_max']:.2f}); {_count(x['outcome'] for x in t)}"
                     + (f"; measured / predicted from {min(x['diff'] for x in t) + 1:.3f} to "
                        f"{max(x['diff'] for x in t) + 1:.3f}" if t else "")
                     + (f", where the exact discrete law (state-dependent noise kept) predicts "
                        f"{min(x['exact_over_sde'] for x in t):.3f} to {max(x['exact_over_sde'] for x in t):.3f}"
                        if t and all(math.isfinite(x["exact_over_sde"]) for x in t) else "") + "." if t else
                     f"None of the {e['n_settings']} settings has small steps at this profile."),
            **common))
    exact = next((e for e in facts["regression"] if "exact_tests" in e), None)
    if exact is not None:
        t, ctrl = exact["exact_tests"], exact["exact_control"]
        worst = max((abs(x["ratio"] - 1) for x in t), default=math.nan)
        outcome = every_part(x["outcome"] for x in t)
        out.append(ruled(
            "sde-exact-discrete-law", id="sde-exact-discrete-law", source="our addition (exact second moment of linear SGD)",
            outcome=outcome, control_outcome=_rule_outcome(ctrl), control_summary=(f"{_number(len(ctrl), 'setting')} against another setting's prediction: "
                             f"{_count(c['outcome'] for c in ctrl)}." if ctrl else "no control pair at this profile."),
            power=_tost_power(t, TOLERANCE) if outcome == INCONCLUSIVE else "",
            evidence={"settings": len(t), "largest_deviation": worst},
            figure="fig-sde-reg",
            summary=f"{_number(len(t), 'setting')}, {_count(x['outcome'] for x in t)}; largest deviation {100 * worst:.1f}%.",
            **common))
    # -- claim 3; control: a well with A as sharp as B, judged with the main T*
    T_star, lo, hi = facts["T_laplace"], facts["T_sim_lo"], facts["T_sim_hi"]
    interval = f"[{min(lo, hi):.3f}, {max(lo, hi):.3f}]" if math.isfinite(lo) and math.isfinite(hi) else "not bracketed"
    wc = facts["well_control"]
    control_outcome = wc["outcome"] if wc["n_mixed"] else NOT_RUN
    out.append(ruled(
        "claim-3-flatter-minimum-wins", id="claim-3-flatter-minimum-wins", source="ICLR 2018, Theorem 2 and eq. (4)",
        outcome=facts["crossover_outcome"], control_outcome=control_outcome,
        control_summary=(("A as sharp as B: P(A) = " + ", ".join(f"{f:.3f} at T = {T:.3g}" for T, f, _ in wc["fractions"])
                          + f": {wc['outcome']}.") if wc["n_mixed"] else
                         f"no equilibrated control temperature above the window at this profile ({wc['n']} run)."),
        power=((f"the band crosses ½ over {interval}, against the window T* ± {100 * CROSSOVER_TOLERANCE:g}%"
                if interval != "not bracketed" else "the band's crossing of ½ is not bracketed by the equilibrated "
                "temperatures") + "; more seeds or chains narrow the band, more temperatures near T* locate the "
               "crossing, and the control needs equilibrated temperatures above the window"
               if facts["crossover_outcome"] == INCONCLUSIVE or control_outcome != FAILS else ""),
        evidence={"T_star": T_star, "T_gibbs": facts["T_gibbs"], "T_sim": facts["T_sim"], "T_sim_lo": lo,
                  "T_sim_hi": hi, "equilibrated": facts["n_mixed"], "temperatures": facts["n_well"]},
        decision=_crossing_decision(facts["T_sim"], lo, hi, T_star),
        figure="fig-sde-well",
        summary=(f"T* = {T_star:.3f}; exact Gibbs law {facts['T_gibbs']:.3f}; simulation "
                 + (f"{facts['T_sim']:.3f}, band {interval}" if math.isfinite(facts["T_sim"]) else "not bracketed")
                 + f", from {facts['n_mixed']} of {facts['n_well']} temperatures."),
        **common))
    g, ctrl = facts["gibbs_tests"], facts["gibbs_control"]
    outcome = every_part(x["outcome"] for x in g)
    out.append(ruled(
        "sde-double-well-gibbs", id="sde-double-well-gibbs", source="our addition (exact Gibbs law of the SDE)",
        outcome=outcome, control_outcome=_rule_outcome(ctrl), control_summary=(f"{_number(len(ctrl), 'temperature')} against another temperature's Gibbs value: "
                         f"{_count(c['outcome'] for c in ctrl)}." if ctrl else "no control pair at this profile."),
        power=_tost_power(g, GIBBS_MARGIN, "absolute") if outcome == INCONCLUSIVE else "",
        evidence={"judged": len(g), "largest_gap": facts["well_max_dev_gibbs"]},
        figure="fig-sde-well",
        summary=(f"{_number(len(g), 'temperature')} judged, {_count(x['outcome'] for x in g)}; largest gap "
                 f"{facts['well_max_dev_gibbs']:.3f}." if g else "No equilibrated temperature at this profile."),
        **common))
    return out
