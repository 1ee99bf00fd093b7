"""The chapter's summary numbers and its verdicts, judged under the rules of ``rules.yaml``.

Every rule has three outcomes (holds / fails / inconclusive), goes through :mod:`replication.stats`,
reads its thresholds from the registry (:func:`rule_param`) and is judged against a negative
control (:mod:`.controls`, :func:`replication.claims.ruled`):

- **trend** (claims 4, 5; design B at equal SDE time only): Spearman ρ between η/S and the per-ratio
  mean over seeds, with the t-law interval of :func:`stats.trend`; widths only from runs with
  η λ_max < 2 (:func:`stable`), and only when design B's Hessian sample passes the chapter's own
  whole-set check (:func:`sample_gate`).  Controls: scrambled η/S; η at fixed η/S.
- **η/S, not η alone**: ``log q = a + b·log(η/S) + d·log η`` over single runs (:func:`stats.ols`):
  b is the effect of η/S at fixed η, d the effect of η at fixed η/S.  "Not η alone": the sign of
  b (control: scrambled η/S).  "η/S alone": d's interval within ±margin (control: b, which the claim
  says is not within it).
- **at equal training loss** (4′, 5′): ``y = a + b·log(η/S) + e·log L_train``; inconclusive when
  |corr(log η/S, log L_train)| >= the rule's limit, else the sign of b (control: scrambled η/S).
- **same ratio, same width** (claim 7): at every β, Welch TOST (:func:`stats.equivalence`) of
  log λ_max (stable runs, deep network's sample check passing) and of the accuracy against β = 1;
  control: a different η/S at the same scale (:func:`rescale_control`).
- **edge of stability**, **C ≈ H**: TOST of the mean log(η λ_max / 2), log(Tr C / Tr H) against 0.
- **sample count**: the largest deviation of the subset's measures from the whole training set's,
  against the width chapter's tolerance, for the deep network and for design B's.

The fixed-epoch designs (``main``, ``v3``: :data:`SECONDARY`) are summarized for the page as a
secondary view and produce no verdict: at a fixed number of epochs η/S also sets how far a run got.
"""
from __future__ import annotations

import math

import numpy as np

from ... import stats
from ...wording import signed
from . import controls
from ...claims import Verdict, every_part
from ...claims import decision, sign_rule, trend_rule

def rule_param(rule_id: str, name: str):
    """A threshold or margin of a registered rule (``rules.yaml``): the numbers that decide are data."""
    from ... import rules

    return rules.get(rule_id)[name]


SET_FACTOR = 1.2      # λ_max "set": from the first probe after which every probe is within ×1.2 of the final
STABLE_LIMIT = 2.0    # a width is judged only on runs with η λ_max below this (the stability limit of GD)
WIDTHS = ("lam_max", "trace", "frobenius")   # the sample-count check's quantities
QUANTITIES = ("frobenius", "lam_max", "trace", "val_acc")
POSITIVE = ("frobenius", "lam_max", "trace", "train_loss", "trace_C", "eta_lam")   # drawn on log axes
LABELS = {"frobenius": "‖H‖_F", "lam_max": "λ_max", "trace": "Tr H", "val_acc": "validation accuracy",
          "train_loss": "training loss", "trace_C": "Tr C", "eta_lam": "η·λ_max"}
NETS = {"main": "deep", "v3": "shallow", "factorial": "equal-time"}
NET_WORDS = {"main": "deep MLP, fixed epochs", "v3": "shallow MLP, fixed epochs",
             "factorial": "factorial η × S, equal SDE time"}
FIGURES = {"main": "fig-sh-main", "v3": "fig-sh-v3", "factorial": "fig-sh-factorial"}
SOURCES = {"main": "ICLR 2018, Fig. 1", "v3": "ICANN 2018, Fig. 1", "factorial": "ICLR 2018, Fig. 1 (our design)"}


def finite(rows, key):
    """The runs that did not diverge and have a finite ``key``."""
    return [r for r in rows if not r["diverged"] and r.get(key) is not None and np.isfinite(r[key])]


def pair_table(rows: list[dict], key=("eta", "S")) -> list[dict]:
    """Per (η, S) (or per β): runs, diverged runs, and the mean and t-interval half-width over the
    seeds that did not diverge of each quantity; for the positive ones (:data:`POSITIVE`, drawn on log
    axes) also the geometric mean and its interval (``_gm``, ``_glo``, ``_ghi``,
    :func:`stats.geometric_mean_ci`)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in key), []).append(r)
    out = []
    for k, rs in groups.items():
        entry = dict(zip(key, k), ratio=rs[0]["ratio"], eta=rs[0]["eta"], S=rs[0]["S"], beta=rs[0].get("beta"),
                     epochs=rs[0].get("epochs"), n_runs=len(rs), n_diverged=int(sum(r["diverged"] for r in rs)))
        for q in QUANTITIES + ("train_loss", "train_acc", "trace_C", "eta_lam"):
            v = np.array([r[q] for r in finite(rs, q)], float)
            entry[q] = float(v.mean()) if len(v) else math.nan
            entry[q + "_ci"] = stats.mean_ci(v)[1] if len(v) >= 2 else math.inf
            if q in POSITIVE:     # for a log axis: geometric mean, t-interval of the logs mapped back
                gm, glo, ghi = stats.geometric_mean_ci(v) if len(v) >= 2 else (
                    (float(v[0]), math.nan, math.nan) if len(v) == 1 and v[0] > 0 else (math.nan,) * 3)
                entry.update({q + "_gm": gm, q + "_glo": glo, q + "_ghi": ghi})
        out.append(entry)
    return sorted(out, key=lambda e: (e["ratio"], e["S"]))


def _log(q: str, v):
    return np.asarray(v, float) if q == "val_acc" else np.log(np.asarray(v, float))


def trend(rows, q: str) -> dict:
    """:func:`stats.trend` of ``q`` over η/S (runs of equal η/S pooled), log scale for widths."""
    groups: dict = {}
    for r in finite(rows, q):
        if q == "val_acc" or r[q] > 0:
            groups.setdefault(float(f"{r['ratio']:.10g}"), []).append(float(_log(q, r[q])))  # equal ratios pooled
    return stats.trend(groups)


def ratio_fit(rows, q: str) -> dict:
    """``log q = a + b log(η/S) + d log η`` with t intervals; and the one-variable R²."""
    rs = [r for r in finite(rows, q) if q == "val_acc" or r[q] > 0]
    nan = dict(n=len(rs), b=math.nan, b_lo=math.nan, b_hi=math.nan, d=math.nan, d_lo=math.nan, d_hi=math.nan,
               r2_ratio=math.nan, r2_eta=math.nan, r2_S=math.nan, corr_eta_ratio=math.nan)
    if len(rs) < 5 or len({r["eta"] for r in rs}) < 2 or len({r["ratio"] for r in rs}) < 2:
        return nan
    y = _log(q, [r[q] for r in rs])
    x, e, s = (np.log([r[k] for r in rs]) for k in ("ratio", "eta", "S"))
    f = stats.ols(y, x, e)
    return dict(n=len(rs), b=float(f["coef"][1]), b_lo=float(f["lo"][1]), b_hi=float(f["hi"][1]),
                d=float(f["coef"][2]), d_lo=float(f["lo"][2]), d_hi=float(f["hi"][2]), r2_both=f["r2"],
                r2_ratio=stats.ols(y, x)["r2"], r2_eta=stats.ols(y, e)["r2"], r2_S=stats.ols(y, s)["r2"],
                corr_eta_ratio=float(np.corrcoef(e, x)[0, 1]))


def controlled(rows, q: str) -> dict:
    """``y = a + b log(η/S) + e log L_train`` over single runs, and corr(log η/S, log L_train)."""
    rs = [r for r in finite(finite(rows, q), "train_loss") if (q == "val_acc" or r[q] > 0) and r["train_loss"] > 0]
    if len(rs) < 5 or len({r["ratio"] for r in rs}) < 2:
        return dict(n=len(rs), b=math.nan, lo=math.nan, hi=math.nan, e=math.nan, corr=math.nan)
    x = np.log([r["ratio"] for r in rs])
    z = np.log([r["train_loss"] for r in rs])
    f = stats.ols(_log(q, [r[q] for r in rs]), x, z)
    return dict(n=len(rs), b=float(f["coef"][1]), lo=float(f["lo"][1]), hi=float(f["hi"][1]),
                e=float(f["coef"][2]), corr=float(np.corrcoef(x, z)[0, 1]))


def width_set(row) -> dict:
    """From the λ_max probes of one run: the fraction of training after which every probe stays within
    ×SET_FACTOR of the final value, and the median η λ_max over the second half of training."""
    probes = [(e, lam) for e, lam in row.get("probes", []) if np.isfinite(lam) and lam > 0]
    E = row.get("epochs")
    if len(probes) < 2 or not E:
        return dict(set_fraction=math.nan, late_eta_lam=math.nan)
    final = probes[-1][1]
    frac = probes[-1][0] / E
    for e, lam in reversed(probes):
        if max(lam / final, final / lam) > SET_FACTOR:
            break
        frac = e / E
    late = [row["eta"] * lam for e, lam in probes if e >= 0.5 * E]
    return dict(set_fraction=frac, late_eta_lam=float(np.median(late)))


def _log_equivalence(values, reference: float, margin_factor: float) -> dict:
    """TOST of the mean of log(values) against log(reference) within ±log(margin_factor)."""
    v = np.log(np.asarray(values, float))
    if len(v) < 2:
        return dict(diff=math.nan, lo=math.nan, hi=math.nan, outcome="inconclusive", n=len(v))
    out = stats.equivalence(v, np.full(2, math.log(reference)), math.log(margin_factor))
    return dict(out, n=len(v))


def stable(rows) -> list[dict]:
    """The runs that can sit in a minimum at the measurement: finite λ_max and η λ_max < 2 (above the
    stability limit of gradient descent a run bounces across its valley; its width is not a minimum's)."""
    return [r for r in finite(rows, "eta_lam") if r["eta_lam"] < STABLE_LIMIT]


def _width_test(lam, lam0) -> dict:
    if len(lam) >= 2 and len(lam0) >= 2:
        return stats.equivalence(lam, lam0, math.log(rule_param("sharpness-rescale-width", "factor")))
    return dict(outcome="inconclusive", diff=math.nan, lo=math.nan, hi=math.nan, n_a=len(lam), n_b=len(lam0))


def _acc_test(acc, acc0) -> dict:
    if len(acc) >= 2 and len(acc0) >= 2:
        return stats.equivalence(acc, acc0, rule_param("sharpness-rescale-accuracy", "points"))
    return dict(outcome="inconclusive", diff=math.nan, lo=math.nan, hi=math.nan, n_a=len(acc), n_b=len(acc0))


def _log_lams(rows, stable_only: bool) -> list[float]:
    kept = stable(rows) if stable_only else finite(rows, "lam_max")
    return [math.log(r["lam_max"]) for r in kept if r["lam_max"] > 0]


def _mean(rows, key) -> float:
    v = [r[key] for r in finite(rows, key)]
    return float(np.mean(v)) if v else math.nan


def _rescale(rows, *, stable_only: bool = True) -> dict:
    """Per β against β = 1: the TOST of log λ_max (on the runs with η λ_max < 2 when ``stable_only``,
    as amended; on every measured run as first registered) and of the accuracy, with each β's SGD
    steps and final training loss (how far the runs got: equal SDE time is not equal steps)."""
    by_beta: dict = {}
    for r in rows:
        by_beta.setdefault(r["beta"], []).append(r)
    ref = by_beta.get(1.0, [])
    lam0, acc0 = _log_lams(ref, stable_only), [r["val_acc"] for r in finite(ref, "val_acc")]
    out = []
    for beta in sorted(by_beta):
        rs = by_beta[beta]
        entry = dict(beta=beta, steps=int(np.median([r["steps"] for r in rs])) if all("steps" in r for r in rs) else None,
                     train_loss=_mean(rs, "train_loss"), train_acc=_mean(rs, "train_acc"),
                     n_unstable=len(finite(rs, "eta_lam")) - len(stable(rs)),
                     n_diverged=int(sum(r["diverged"] for r in rs)))
        if beta != 1.0:
            entry.update(width=_width_test(_log_lams(rs, stable_only), lam0),
                         acc=_acc_test([r["val_acc"] for r in finite(rs, "val_acc")], acc0))
        out.append(entry)
    ref_entry = next((e for e in out if e["beta"] == 1.0), None)
    return dict(betas=[e for e in out if e["beta"] != 1.0], reference=ref_entry,
                n_diverged=int(sum(r["diverged"] for r in rows)))


def rescale_control(main_rows, rescale_rows) -> dict:
    """Claim 7's negative control: β = 1 against the design-A pair at the same S₀ whose η/S is the
    most different (same scale, another ratio, the same epochs), by the same two tests."""
    ref = [r for r in rescale_rows if r.get("beta") == 1.0]
    if not ref or not main_rows:
        return dict(pair=None, width=_width_test([], []), acc=_acc_test([], []))
    S0, ratio0 = ref[0]["S"], ref[0]["ratio"]
    others = sorted({(r["eta"], r["S"]) for r in main_rows if r["S"] == S0 and abs(r["ratio"] / ratio0 - 1) > 1e-9},
                    key=lambda p: -abs(math.log(p[0] / p[1] / ratio0)))
    if not others:
        return dict(pair=None, width=_width_test([], []), acc=_acc_test([], []))
    eta, S = others[0]
    rs = [r for r in main_rows if (r["eta"], r["S"]) == (eta, S)]
    return dict(pair=dict(eta=eta, S=S, ratio=eta / S, ratio_factor=eta / S / ratio0),
                width=_width_test(_log_lams(rs, True), _log_lams(ref, True)),
                acc=_acc_test([r["val_acc"] for r in finite(rs, "val_acc")], [r["val_acc"] for r in finite(ref, "val_acc")]))


def between_runs_deviation(checked: list[dict]) -> float:
    """The sample-count rule's deviation between the whole-set measures of the two checked runs
    (two different minima; its negative control): the largest |a/b − 1| over the widths."""
    if len(checked) < 2:
        return math.nan
    a, b = checked[0]["full"], checked[-1]["full"]
    devs = [abs(a[k] / b[k] - 1) for k in WIDTHS if k in a and k in b and b[k]]
    return max(devs, default=math.nan)


def summary(results, params=None) -> dict:
    """The numbers the chapter states, computed from ``results``."""
    out: dict = {}
    for g, rows in results.runs.items():
        usable = [r for r in rows if not r["diverged"]]
        out[g] = dict(pairs=pair_table(rows, ("beta",) if g == "rescale" else ("eta", "S")),
                      n_runs=len(rows), n_diverged=int(sum(r["diverged"] for r in rows)),
                      n_measured=int(sum(np.isfinite(r["lam_max"]) for r in rows)),
                      ratio_min=min(r["ratio"] for r in rows), ratio_max=max(r["ratio"] for r in rows),
                      train_acc_min=min((r["train_acc"] for r in usable), default=math.nan),
                      train_acc_max=max((r["train_acc"] for r in usable), default=math.nan),
                      val_acc_min=min((r["val_acc"] for r in usable), default=math.nan),
                      val_acc_max=max((r["val_acc"] for r in usable), default=math.nan),
                      train_loss_min=min((r["train_loss"] for r in usable), default=math.nan),
                      train_loss_max=max((r["train_loss"] for r in usable), default=math.nan))
        if g in NETS:
            out[g]["trend"] = {q: trend(rows, q) for q in QUANTITIES + ("train_loss",)}
            out[g]["fits"] = {q: ratio_fit(rows, q) for q in QUANTITIES}
            out[g]["controlled"] = {q: controlled(rows, q) for q in ("frobenius", "val_acc")}
            eta_lam = np.array([r["eta_lam"] for r in finite(rows, "eta_lam")])
            out[g]["above_2"] = int(np.sum(eta_lam > 2.0))
    if "factorial" in results.runs:
        out["matched"] = matched_tests(results.runs["factorial"])
        rows = finite(results.runs["factorial"], "train_loss")
        ws = [dict(r, **width_set(r)) for r in rows]
        late = [w["late_eta_lam"] for w in ws if np.isfinite(w["late_eta_lam"]) and w["late_eta_lam"] > 0]
        sets = [w["set_fraction"] for w in ws if np.isfinite(w["set_fraction"])]
        first = [r["eta"] * r["probes"][0][1] for r in rows
                 if r.get("probes") and r["probes"][0][0] == 0 and np.isfinite(r["probes"][0][1]) and r["probes"][0][1] > 0]
        out["probes"] = dict(n=len(late), late_median=float(np.median(late)) if late else math.nan,
                             late_min=min(late, default=math.nan), late_max=max(late, default=math.nan),
                             edge=_log_equivalence(late, 2.0, rule_param("sharpness-edge-of-stability", "factor")),
                             edge_control=_log_equivalence(first, 2.0, rule_param("sharpness-edge-of-stability", "factor")),
                             first_median=float(np.median(first)) if first else math.nan,
                             set_median=float(np.median(sets)) if sets else math.nan,
                             set_rho=stats.spearman([w["ratio"] for w in ws if np.isfinite(w["set_fraction"])], sets),
                             per_run=[dict(eta=w["eta"], S=w["S"], seed=w["seed"], set_fraction=w["set_fraction"],
                                           late_eta_lam=w["late_eta_lam"]) for w in ws])
    everything = [r for rows in results.runs.values() for r in finite(rows, "lam_max")]
    eta_lam = np.array([r["eta_lam"] for r in everything], float)
    out["edge"] = dict(n=len(everything), max=float(eta_lam.max()) if len(eta_lam) else math.nan,
                       median=float(np.median(eta_lam)) if len(eta_lam) else math.nan,
                       above_2=int(np.sum(eta_lam > 2.0)))
    ch_factor = rule_param("sharpness-c-equals-h", "factor")
    ch = [r for r in everything if np.isfinite(r["trace_C"]) and r["trace"] > 0 and r["trace_C"] > 0]
    ratio = np.array([r["trace_C"] / r["trace"] for r in ch], float)
    out["ch"] = dict(n=len(ch), median=float(np.median(ratio)) if len(ch) else math.nan,
                     min=float(ratio.min()) if len(ch) else math.nan, max=float(ratio.max()) if len(ch) else math.nan,
                     rho=stats.spearman([r["trace"] for r in ch], [r["trace_C"] for r in ch]),
                     within=int(np.sum((ratio >= 1 / ch_factor) & (ratio <= ch_factor))),
                     test=_log_equivalence(ratio, 1.0, ch_factor),
                     control=_log_equivalence(ratio / (2 * ch_factor), 1.0, ch_factor))
    out["rescale_test"] = _rescale(results.runs["rescale"])
    out["rescale_test"]["all_runs"] = _rescale(results.runs["rescale"], stable_only=False)
    out["rescale_control"] = rescale_control(results.runs.get("main", []), results.runs["rescale"])
    for name, checked in (("check", results.check), ("check_equal_time", getattr(results, "check_equal_time", []))):
        out[name] = [dict(c, dev={k: c["subset"][k] / c["full"][k] - 1 for k in c["full"]}) for c in checked]
        out[name + "_max_dev"] = max((abs(d) for c in out[name] for k, d in c["dev"].items() if k in WIDTHS),
                                     default=math.nan)
        out[name + "_control_dev"] = between_runs_deviation(checked)
    out["width_tolerance"] = width_tolerance(params.profile if params is not None else "laptop")
    for name in ("hessian_samples", "n_train", "factorial_n_train"):
        out[name] = int(getattr(params, name, 0) or 0)
    return out


def width_tolerance(profile: str) -> float:
    """The width chapter's sample-count tolerance at ``profile`` (its rule for a sample count)."""
    from ... import profiles

    try:
        return float(profiles.chapter_values(profile, "width")["tolerance"])
    except Exception:   # a user profile without a width section
        return float(profiles.chapter_values("laptop", "width")["tolerance"])




def _eta_control(rows, q: str) -> dict:
    """η alone at fixed η/S: :func:`stats.trend` over η of each run's value less its η/S's mean."""
    kept = [r for r in finite(rows, q) if q == "val_acc" or r[q] > 0]
    groups = controls.eta_at_fixed_ratio([(r["ratio"], r["eta"], float(_log(q, r[q]))) for r in kept])
    return stats.trend(groups)


def matched_tests(rows: list[dict]) -> dict:
    """Everything the design-B verdicts read (equal SDE time): per quantity the trend over η/S on the
    runs the amended rules judge (widths: η λ_max < 2 only; accuracy: every run), its two controls
    (scrambled η/S, η at fixed η/S), the fits, and the same numbers on every run (the rules as first
    registered)."""
    out: dict = dict(n_runs=len(rows), n_stable=len(stable(rows)), n_measured=len(finite(rows, "eta_lam")))
    for q in QUANTITIES:
        judged = rows if q == "val_acc" else stable(rows)
        out[q] = dict(trend=trend(judged, q), original=trend(rows, q), scrambled=trend(controls.scrambled(judged), q),
                      eta=_eta_control(judged, q), n=len(finite(judged, q)))
    judged = stable(rows)
    out["fit"] = ratio_fit(judged, "frobenius")
    out["fit_original"] = ratio_fit(rows, "frobenius")
    out["fit_scrambled"] = ratio_fit(controls.scrambled(judged), "frobenius")
    for q in ("frobenius", "val_acc"):
        judged = rows if q == "val_acc" else stable(rows)
        out["loss_" + q] = dict(fit=controlled(judged, q), original=controlled(rows, q),
                                scrambled=controlled(controls.scrambled(judged), q))
    return out


# -- verdicts ------------------------------------------------------------------------------------------
#: the secondary views: fixed-epoch designs, shown on the page, no longer verdicts (issue 20)
SECONDARY = ("main", "v3")


def _ci(t, lo="lo", hi="hi", f="+.2f"):
    return f"[{signed(t[lo], f)}, {signed(t[hi], f)}]"


def _seeds(key: str) -> dict[str, int]:
    """Seeds per setting of each shipped profile (for the power statements)."""
    from ... import profiles

    out = {}
    for name in ("laptop", "gpu", "paper"):
        try:
            out[name] = int(profiles.chapter_values(name, "sharpness")[key])
        except Exception:
            pass
    return out


def _sign_rule(lo, hi, sign) -> str:
    return stats.sign_outcome(lo, hi, sign)


def _within(lo, hi, margin) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if -margin < lo and hi < margin:
        return "holds"
    return "fails" if (lo >= margin or hi <= -margin) else "inconclusive"


def _equal_loss(c: dict, sign: int, collinear: float) -> str:
    if not np.isfinite(c["corr"]) or abs(c["corr"]) >= collinear:
        return "inconclusive"
    return stats.sign_outcome(c["lo"], c["hi"], sign)


def _trend_decision(measure: str, t: dict, sign: int, rho: float) -> dict:
    """The deciding number of a trend verdict: ρ and its 95% t-law interval against the rule's ±rho."""
    return decision(measure, t["rho"], t["lo"], t["hi"], level="95% t-law", bounds=[-1, 1], **trend_rule(sign, rho))


def sample_gate(facts: dict) -> tuple[bool, str]:
    """Whether design B's Hessian sample passed the chapter's own check, and the power text if not."""
    dev, tol = facts.get("check_equal_time_max_dev", math.nan), facts["width_tolerance"]
    ok = bool(np.isfinite(dev) and dev <= tol)
    return ok, ("" if ok else controls.sample_power(dev, tol, facts.get("hessian_samples", 0),
                                                    facts.get("factorial_n_train", 0)))


def ruled(rule_id: str, **kw):
    """:func:`replication.claims.ruled`, with a "could have seen" line also where the rule held but its
    control was not rejected (the verdict is then inconclusive for the control, not for the runs)."""
    from ...claims import judge
    from ...claims import ruled as _ruled

    if judge(kw["outcome"], kw["control_outcome"]) == "inconclusive" and not kw.get("power"):
        kw["power"] = (f"the rule {kw['outcome']} on the runs, but its negative control was "
                       f"{'not run' if kw['control_outcome'] == 'not run' else 'not rejected (' + kw['control_outcome'] + ')'}"
                       ": a rule that cannot reject its control has not shown it can tell the claim from its negation")
    return _ruled(rule_id, **kw)


def verdicts(facts: dict, params) -> list:

    profile = params.profile
    out: list = []
    seeds = _seeds("factorial_seeds")
    per_setting = int(getattr(params, "factorial_seeds", 3))

    def add(rule_id, **kw):
        out.append(ruled(rule_id, chapter="sharpness", profile=profile, **kw))

    m = facts.get("matched")
    if m is not None:
        fig, src = FIGURES["factorial"], SOURCES["factorial"]
        gate_ok, gate_power = sample_gate(facts)
        rho = rule_param("sharpness-width-trend", "rho")
        stable_note = f"{m['n_stable']} of {m['n_measured']} measured runs with η λ_max < 2"
        for q, slug in (("frobenius", "frobenius"), ("lam_max", "lam-max"), ("trace", "trace")):
            d = m[q]
            own = stats.trend_outcome(d["trend"], -1, rho_min=rho)
            scr = stats.trend_outcome(d["scrambled"], -1, rho_min=rho)
            eta = stats.trend_outcome(d["eta"], -1, rho_min=rho)
            t = d["trend"]
            outcome = own if gate_ok else "inconclusive"
            add("sharpness-width-trend", id=f"claim-4-equal-time-{slug}",
                statement=f"{LABELS[q]} falls as η/S grows (factorial η × S, equal SDE time)", source=src, figure=fig,
                outcome=outcome, original_outcome=stats.trend_outcome(d["original"], -1, rho_min=rho),
                control_outcome=controls.either(scr, eta),
                control_summary=f"scrambled η/S: ρ = {signed(d['scrambled']['rho'], '+.2f')}, {scr}; η at fixed η/S: "
                                f"ρ = {signed(d['eta']['rho'], '+.2f')} over {d['eta']['n_groups']} η, {eta}",
                power=(gate_power or controls.trend_power(t, rho, per_setting, seeds)) if outcome == "inconclusive" else "",
                evidence=dict(rho=t["rho"], lo=t["lo"], hi=t["hi"], ratios=t["n_groups"], runs=t["n_runs"],
                              stable=m["n_stable"], measured=m["n_measured"], rule_alone=own, sample_check=gate_ok),
                decision=_trend_decision(f"Spearman ρ(η/S, mean log {LABELS[q]})", t, -1, rho),
                summary=f"ρ = {signed(t['rho'], '+.2f')} {_ci(t)} over {t['n_groups']} ratios, {t['n_runs']} runs ({stable_note})"
                        + ("" if gate_ok else "; the Hessian's sample failed the chapter's check, so no width is read"))
        d = m["val_acc"]
        rho = rule_param("sharpness-accuracy-trend", "rho")
        own = stats.trend_outcome(d["trend"], +1, rho_min=rho)
        scr, eta = (stats.trend_outcome(d[k], +1, rho_min=rho) for k in ("scrambled", "eta"))
        t = d["trend"]
        add("sharpness-accuracy-trend", id="claim-5-equal-time-val-acc",
            statement="validation accuracy rises with η/S (factorial η × S, equal SDE time)", source=src, figure=fig,
            outcome=own, original_outcome=stats.trend_outcome(d["original"], +1, rho_min=rho),
            control_outcome=controls.either(scr, eta),
            control_summary=f"scrambled η/S: ρ = {signed(d['scrambled']['rho'], '+.2f')}, {scr}; η at fixed η/S: "
                            f"ρ = {signed(d['eta']['rho'], '+.2f')} over {d['eta']['n_groups']} η, {eta}",
            power=controls.trend_power(t, rho, per_setting, seeds) if own == "inconclusive" else "",
            evidence=dict(rho=t["rho"], lo=t["lo"], hi=t["hi"], ratios=t["n_groups"], runs=t["n_runs"]),
            decision=_trend_decision("Spearman ρ(η/S, mean validation accuracy)", t, +1, rho),
            summary=f"ρ = {signed(t['rho'], '+.2f')} {_ci(t)} over {t['n_groups']} ratios, {t['n_runs']} runs")
        f, fo, fs = m["fit"], m["fit_original"], m["fit_scrambled"]
        own = _sign_rule(f["b_lo"], f["b_hi"], -1)
        outcome = own if gate_ok else "inconclusive"
        ctl = _sign_rule(fs["b_lo"], fs["b_hi"], -1)
        add("sharpness-ratio-not-eta", id="sharpness-ratio-not-eta-equal-time",
            statement="η/S, not η alone, sets ‖H‖_F: at fixed η a higher η/S gives a lower ‖H‖_F (factorial, equal SDE time)",
            source=src, figure=fig, outcome=outcome, original_outcome=_sign_rule(fo["b_lo"], fo["b_hi"], -1),
            control_outcome=ctl, control_summary=f"b = {signed(fs['b'], '+.2f')} {_ci(fs, 'b_lo', 'b_hi')} on scrambled η/S",
            power=(gate_power or f"b's 95% interval is ±{0.5 * (f['b_hi'] - f['b_lo']):.2f} wide: only |b| >= "
                   f"{stats.detectable_effect(0.5 * (f['b_hi'] - f['b_lo'])):.2f} would have been seen with 80% power")
            if outcome == "inconclusive" else "",
            evidence=dict(b=f["b"], b_lo=f["b_lo"], b_hi=f["b_hi"], corr_eta_ratio=f["corr_eta_ratio"],
                          r2_ratio=f["r2_ratio"], r2_eta=f["r2_eta"], r2_S=f["r2_S"], runs=f["n"], rule_alone=own),
            summary=f"b = {signed(f['b'], '+.2f')} {_ci(f, 'b_lo', 'b_hi')} over {f['n']} runs ({stable_note}); corr(log η, log η/S) = "
                    f"{signed(f['corr_eta_ratio'], '+.2f')}")
        margin = rule_param("sharpness-ratio-alone", "margin")
        own = _within(f["d_lo"], f["d_hi"], margin)
        outcome = own if gate_ok else "inconclusive"
        ctl = _within(f["b_lo"], f["b_hi"], margin)
        hw = 0.5 * (f["d_hi"] - f["d_lo"]) if np.isfinite(f["d_lo"]) else math.nan
        add("sharpness-ratio-alone", id="sharpness-ratio-alone-equal-time",
            statement="only η/S matters for ‖H‖_F: at fixed η/S, η has no effect (factorial, equal SDE time)",
            source=src, figure=fig, outcome=outcome, original_outcome=_within(fo["d_lo"], fo["d_hi"], margin),
            control_outcome=ctl, control_summary=f"b = {signed(f['b'], '+.2f')} {_ci(f, 'b_lo', 'b_hi')} against ±{margin:g}",
            power=(gate_power or f"d's 95% interval is ±{hw:.2f} wide against a margin of ±{margin:g}; about "
                   f"{stats.runs_needed(per_setting, hw, max(margin - abs(f['d']), margin / 2))} seeds per cell would decide")
            if outcome == "inconclusive" else "",
            evidence=dict(d=f["d"], d_lo=f["d_lo"], d_hi=f["d_hi"], margin=margin, runs=f["n"], rule_alone=own),
            summary=f"d = {signed(f['d'], '+.2f')} {_ci(f, 'd_lo', 'd_hi')} (margin ±{margin:g})")
        for q, claim, sign, rid in (("frobenius", 4, -1, "sharpness-equal-loss-width"),
                                    ("val_acc", 5, +1, "sharpness-equal-loss-accuracy")):
            L = m["loss_" + q]
            collinear = rule_param(rid, "collinear")
            c = L["fit"]
            own = _equal_loss(c, sign, collinear)
            outcome = own if (gate_ok or q == "val_acc") else "inconclusive"
            ctl = _equal_loss(L["scrambled"], sign, collinear)
            verb = "falls" if sign < 0 else "rises"
            coll = not np.isfinite(c["corr"]) or abs(c["corr"]) >= collinear
            add(rid, id=f"claim-{claim}-equal-time-equal-loss",
                statement=f"{LABELS[q]} {verb} with η/S between runs of equal training loss (factorial, equal SDE time)",
                source=src, figure=fig, outcome=outcome, original_outcome=_equal_loss(L["original"], sign, collinear),
                control_outcome=ctl,
                control_summary=f"b = {L['scrambled']['b']:+.3g} {_ci(L['scrambled'], f='+.3g')} on scrambled η/S",
                power=((gate_power if q != "val_acc" and not gate_ok else "")
                       or ("log η/S and the log training loss are collinear here: a design whose losses differ at "
                           "equal η/S decides" if coll else
                           f"b's 95% interval is ±{0.5 * (c['hi'] - c['lo']):.3g} wide: only |b| >= "
                           f"{stats.detectable_effect(0.5 * (c['hi'] - c['lo'])):.3g} would have been seen with 80% power"))
                if outcome == "inconclusive" else "",
                evidence=dict(b=c["b"], lo=c["lo"], hi=c["hi"], corr=c["corr"], runs=c["n"], rule_alone=own),
                decision=decision(f"slope of {'log ' if q != 'val_acc' else ''}{LABELS[q]} on log(η/S), equal "
                                  "training loss", c["b"], c["lo"], c["hi"], level="95% t", **sign_rule(sign)),
                summary=f"corr(log η/S, log L_train) = {signed(c['corr'], '+.2f')}" + (" (collinear)" if coll else "")
                        + f"; b = {c['b']:+.3g} {_ci(c, f='+.3g')}")
    out += rescale_verdicts(facts, params)
    out += other_verdicts(facts, params)
    return out


def rescale_verdicts(facts: dict, params) -> list:
    profile, rt, orig, ctl = params.profile, facts["rescale_test"], facts["rescale_test"]["all_runs"], facts["rescale_control"]
    seeds = _seeds("rescale_seeds")
    n = int(getattr(params, "rescale_seeds", 3))
    dev, tol = facts.get("check_max_dev", math.nan), facts["width_tolerance"]
    deep_ok = bool(np.isfinite(dev) and dev <= tol)
    ref = rt.get("reference") or {}

    def progress(b):
        return (f"{b['steps']} steps, training loss {b['train_loss']:.2f}" if b.get("steps") is not None
                else f"training loss {b['train_loss']:.2f}")

    pair = ctl["pair"]
    pair_words = (f"η = {pair['eta']:g}, S = {pair['S']} (η/S ×{pair['ratio_factor']:.2g})" if pair else "no pair")
    out = []
    own = every_part(b["width"]["outcome"] for b in rt["betas"])
    outcome = own if deep_ok else "inconclusive"
    undecided = [b for b in rt["betas"] if b["width"]["outcome"] == "inconclusive"]
    w = ctl["width"]
    out.append(ruled(
        "sharpness-rescale-width", id="claim-7-rescale-width", chapter="sharpness", profile=profile,
        source="ICLR 2018, Fig. 3; Kaur et al. 2023", figure="fig-sh-rescale", outcome=outcome,
        original_outcome=every_part(b["width"]["outcome"] for b in orig["betas"]), control_outcome=w["outcome"],
        control_summary=f"β = 1 against {pair_words}: ×{math.exp(w['diff']):.2f} [{math.exp(w['lo']):.2f}, "
                        f"{math.exp(w['hi']):.2f}]" if np.isfinite(w["lo"]) else f"{pair_words}: too few stable runs",
        power=(controls.sample_power(dev, tol, facts.get("hessian_samples", 0), facts.get("n_train", 0)) if not deep_ok
               else controls.tost_power(undecided[0]["width"], math.log(rule_param("sharpness-rescale-width", "factor")),
                                        n, seeds, " (log)") if undecided else "") if outcome == "inconclusive" else "",
        evidence={**{f"beta_{b['beta']:g}_ratio": math.exp(b["width"]["diff"]) if np.isfinite(b["width"]["diff"]) else None
                     for b in rt["betas"]}, **{f"beta_{b['beta']:g}_steps": b["steps"] for b in rt["betas"]},
                  "beta_1_steps": ref.get("steps"), "rule_alone": own, "sample_check": deep_ok},
        summary="; ".join(f"β = {b['beta']:g}: ×{math.exp(b['width']['diff']):.2f} [{math.exp(b['width']['lo']):.2f}, "
                          f"{math.exp(b['width']['hi']):.2f}] {b['width']['outcome']} ({progress(b)})"
                          if np.isfinite(b["width"]["lo"]) else
                          f"β = {b['beta']:g}: {b['n_unstable']} of its runs end with η λ_max >= 2, too few left "
                          f"({progress(b)})" for b in rt["betas"])
                + (f"; β = 1: {progress(ref)}" if ref else "")
                + ("" if deep_ok else "; the deep network's Hessian sample failed the chapter's check, so no width is read")))
    points = rule_param("sharpness-rescale-accuracy", "points")
    own = every_part(b["acc"]["outcome"] for b in rt["betas"])
    undecided = [b for b in rt["betas"] if b["acc"]["outcome"] == "inconclusive"]
    a = ctl["acc"]
    out.append(ruled(
        "sharpness-rescale-accuracy", id="claim-7-rescale-val-acc", chapter="sharpness", profile=profile,
        source="ICLR 2018, Fig. 3", figure="fig-sh-rescale", outcome=own, control_outcome=a["outcome"],
        control_summary=f"β = 1 against {pair_words}: {signed(100 * a['diff'], '+.1f')} [{signed(100 * a['lo'], '+.1f')}, {signed(100 * a['hi'], '+.1f')}] points"
                        if np.isfinite(a["lo"]) else f"{pair_words}: too few runs",
        power=controls.tost_power(undecided[0]["acc"], points, n, seeds) if own == "inconclusive" and undecided else "",
        evidence={f"beta_{b['beta']:g}_diff": b["acc"]["diff"] for b in rt["betas"]},
        summary="; ".join(f"β = {b['beta']:g}: {signed(100 * b['acc']['diff'], '+.1f')} [{signed(100 * b['acc']['lo'], '+.1f')}, "
                          f"{signed(100 * b['acc']['hi'], '+.1f')}] points {b['acc']['outcome']} ({progress(b)})"
                          for b in rt["betas"] if np.isfinite(b["acc"]["lo"]))))
    return out


def other_verdicts(facts: dict, params) -> list:
    profile = params.profile
    out = []
    if "probes" in facts:
        p = facts["probes"]
        e, c = p["edge"], p["edge_control"]
        out.append(ruled(
            "sharpness-edge-of-stability", id="sharpness-edge-of-stability", chapter="sharpness", profile=profile,
            source="Cohen et al. 2021", figure="fig-sh-probes", outcome=e["outcome"], control_outcome=c["outcome"],
            control_summary=f"median η λ_max at initialization {p['first_median']:.2g}",
            power=(f"the 90% interval of the mean log is ±{0.5 * (e['hi'] - e['lo']):.2f} wide against ±log "
                   f"{rule_param('sharpness-edge-of-stability', 'factor'):g}") if e["outcome"] == "inconclusive"
                  and np.isfinite(e["lo"]) else ("too few probed runs" if e["outcome"] == "inconclusive" else ""),
            evidence=dict(median=p["late_median"], lo=math.exp(e["lo"]) * 2 if np.isfinite(e["lo"]) else None,
                          hi=math.exp(e["hi"]) * 2 if np.isfinite(e["hi"]) else None, runs=p["n"]),
            summary=f"median late η λ_max {p['late_median']:.2f} (from {p['late_min']:.2f} to {p['late_max']:.2f}) "
                    f"over {p['n']} runs"))
    ch = facts["ch"]
    t, factor = ch["test"], rule_param("sharpness-c-equals-h", "factor")
    out.append(ruled(
        "sharpness-c-equals-h", id="sharpness-c-equals-h", chapter="sharpness", profile=profile,
        source="ICANN 2018, Sec. 2 (the trace relation's assumption)", figure="fig-sh-ch", outcome=t["outcome"],
        control_outcome=ch["control"]["outcome"],
        control_summary=f"Tr C against {2 * factor:g}·Tr H: {ch['control']['outcome']}",
        power=(f"the 90% interval of the mean log ratio is ±{0.5 * (t['hi'] - t['lo']):.2f} wide against ±log {factor:g}"
               if np.isfinite(t["lo"]) else "too few runs") if t["outcome"] == "inconclusive" else "",
        evidence=dict(median=ch["median"], min=ch["min"], max=ch["max"], within=ch["within"], runs=ch["n"]),
        summary=f"Tr C / Tr H from {ch['min']:.2g} to {ch['max']:.2g} (median {ch['median']:.2g}); "
                f"{ch['within']} of {ch['n']} runs within ×{factor:g}"))
    tol = facts["width_tolerance"]
    for key, rid, net in (("check", "sharpness-sample-count", "the deep network (design A, the rescaled runs)"),
                          ("check_equal_time", "sharpness-sample-count-equal-time", "design B's network")):
        dev, ctl_dev = facts.get(key + "_max_dev", math.nan), facts.get(key + "_control_dev", math.nan)
        own = "inconclusive" if not np.isfinite(dev) else ("holds" if dev <= tol else "fails")
        ctl = "not run" if not np.isfinite(ctl_dev) else ("holds" if ctl_dev <= tol else "fails")
        out.append(ruled(
            rid, id=rid, chapter="sharpness", profile=profile,
            statement=f"the sample of training examples gives the whole training set's width measures ({net})",
            source="this book, width chapter's sample-count rule", figure="", outcome=own, control_outcome=ctl,
            control_summary=(f"the two checked runs differ by {100 * ctl_dev:.0f}%" if np.isfinite(ctl_dev) else ""),
            power="no run could be checked against the whole training set" if own == "inconclusive" else "",
            evidence=dict(max_deviation=dev, tolerance=tol),
            summary=(f"largest deviation {100 * dev:.0f}% against a tolerance of {100 * tol:.0f}%" if np.isfinite(dev)
                     else "not checked")))
    return out
