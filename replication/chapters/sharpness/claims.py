"""The chapter's summary numbers and its verdicts (rules fixed before the numbers).

Every rule has three outcomes (holds / fails / inconclusive) and goes through :mod:`replication.stats`:

- **trend** (claims 4, 5): Spearman ρ between η/S and the per-ratio mean over seeds, with the
  t-law interval of :func:`stats.trend`; :func:`stats.trend_outcome` with ``RHO``.
- **η/S, not η alone**: ``log q = a + b·log(η/S) + d·log η`` over single runs (:func:`stats.ols`):
  b is the effect of η/S at fixed η (η alone ⇔ b = 0), d the effect of η at fixed η/S (η/S alone
  ⇔ d = 0; the same as b' = −c' in ``log q = a + b' log η + c' log S``).  "Not η alone":
  :func:`stats.sign_outcome` on b.  "η/S alone": d's interval within ±``SLOPE_MARGIN`` holds, wholly
  outside fails, otherwise inconclusive.
- **at equal training loss** (4′, 5′): ``y = a + b·log(η/S) + e·log L_train``; inconclusive when
  |corr(log η/S, log L_train)| >= ``COLLINEAR_MAX`` (the two cannot be told apart), else the sign of b.
- **same ratio, same width** (claim 7): at every β, Welch TOST (:func:`stats.equivalence`) of
  log λ_max against β = 1 within log ``WIDTH_FACTOR``; holds if every β holds, fails if any fails.
- **edge of stability**, **C ≈ H**: TOST of the mean log(η λ_max / 2), log(Tr C / Tr H) against 0.
- **sample count**: the largest deviation of the subset's measures from the whole training set's,
  against the width chapter's tolerance.
"""
from __future__ import annotations

import math

import numpy as np

from ... import stats
from ...claims import Verdict

RHO = 0.5             # |Spearman ρ| asked of a claimed monotone trend
SLOPE_MARGIN = 0.25   # "η/S alone": the slope d on log η at fixed η/S within ±0.25 (a doubling of η: < 19%)
COLLINEAR_MAX = 0.9   # |corr(log η/S, log training loss)| above which "at equal loss" cannot be tested
WIDTH_FACTOR = 1.5    # "the same width": λ_max within this factor of β = 1's
ACC_POINTS = 0.01     # "the same accuracy": validation accuracy within 1 point of β = 1's
CH_FACTOR = 2.0       # "C ≈ H": Tr C / Tr H within this factor of 1
EDGE_FACTOR = 1.5     # "hovers at 2/η": η λ_max within this factor of 2 late in training
SET_FACTOR = 1.2      # λ_max "set": from the first probe after which every probe is within ×1.2 of the final
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


def _rescale(rows) -> dict:
    by_beta: dict = {}
    for r in rows:
        by_beta.setdefault(r["beta"], []).append(r)
    ref = by_beta.get(1.0, [])
    out = []
    for beta in sorted(by_beta):
        if beta == 1.0:
            continue
        lam = [math.log(r["lam_max"]) for r in finite(by_beta[beta], "lam_max") if r["lam_max"] > 0]
        lam0 = [math.log(r["lam_max"]) for r in finite(ref, "lam_max") if r["lam_max"] > 0]
        acc = [r["val_acc"] for r in finite(by_beta[beta], "val_acc")]
        acc0 = [r["val_acc"] for r in finite(ref, "val_acc")]
        ok = len(lam) >= 2 and len(lam0) >= 2
        w = stats.equivalence(lam, lam0, math.log(WIDTH_FACTOR)) if ok else dict(outcome="inconclusive",
                                                                                  diff=math.nan, lo=math.nan,
                                                                                  hi=math.nan)
        a = (stats.equivalence(acc, acc0, ACC_POINTS) if len(acc) >= 2 and len(acc0) >= 2
             else dict(outcome="inconclusive", diff=math.nan, lo=math.nan, hi=math.nan))
        out.append(dict(beta=beta, width=w, acc=a, n_diverged=int(sum(r["diverged"] for r in by_beta[beta]))))
    return dict(betas=out, n_diverged=int(sum(r["diverged"] for r in rows)))


def _combine(outcomes) -> str:
    outcomes = list(outcomes)
    if not outcomes:
        return "inconclusive"
    if any(o == "fails" for o in outcomes):
        return "fails"
    return "holds" if all(o == "holds" for o in outcomes) else "inconclusive"


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
        rows = finite(results.runs["factorial"], "train_loss")
        ws = [dict(r, **width_set(r)) for r in rows]
        late = [w["late_eta_lam"] for w in ws if np.isfinite(w["late_eta_lam"]) and w["late_eta_lam"] > 0]
        sets = [w["set_fraction"] for w in ws if np.isfinite(w["set_fraction"])]
        out["probes"] = dict(n=len(late), late_median=float(np.median(late)) if late else math.nan,
                             late_min=min(late, default=math.nan), late_max=max(late, default=math.nan),
                             edge=_log_equivalence(late, 2.0, EDGE_FACTOR),
                             set_median=float(np.median(sets)) if sets else math.nan,
                             set_rho=stats.spearman([w["ratio"] for w in ws if np.isfinite(w["set_fraction"])], sets),
                             per_run=[dict(eta=w["eta"], S=w["S"], seed=w["seed"], set_fraction=w["set_fraction"],
                                           late_eta_lam=w["late_eta_lam"]) for w in ws])
    everything = [r for rows in results.runs.values() for r in finite(rows, "lam_max")]
    eta_lam = np.array([r["eta_lam"] for r in everything], float)
    out["edge"] = dict(n=len(everything), max=float(eta_lam.max()) if len(eta_lam) else math.nan,
                       median=float(np.median(eta_lam)) if len(eta_lam) else math.nan,
                       above_2=int(np.sum(eta_lam > 2.0)))
    ch = [r for r in everything if np.isfinite(r["trace_C"]) and r["trace"] > 0 and r["trace_C"] > 0]
    ratio = np.array([r["trace_C"] / r["trace"] for r in ch], float)
    out["ch"] = dict(n=len(ch), median=float(np.median(ratio)) if len(ch) else math.nan,
                     min=float(ratio.min()) if len(ch) else math.nan, max=float(ratio.max()) if len(ch) else math.nan,
                     rho=stats.spearman([r["trace"] for r in ch], [r["trace_C"] for r in ch]),
                     within=int(np.sum((ratio >= 1 / CH_FACTOR) & (ratio <= CH_FACTOR))),
                     test=_log_equivalence(ratio, 1.0, CH_FACTOR))
    out["rescale_test"] = _rescale(results.runs["rescale"])
    out["check"] = [dict(c, dev={k: c["subset"][k] / c["full"][k] - 1 for k in c["full"]}) for c in results.check]
    out["check_max_dev"] = max((abs(d) for c in out["check"] for k, d in c["dev"].items() if k != "trace_C"),
                               default=math.nan)
    out["width_tolerance"] = width_tolerance(params.profile if params is not None else "laptop")
    return out


def width_tolerance(profile: str) -> float:
    """The width chapter's sample-count tolerance at ``profile`` (its rule for a sample count)."""
    from ... import profiles

    try:
        return float(profiles.chapter_values(profile, "width")["tolerance"])
    except Exception:   # a user profile without a width section
        return float(profiles.chapter_values("laptop", "width")["tolerance"])


# -- verdicts ------------------------------------------------------------------------------------------
def _ci(t, lo="lo", hi="hi", f="+.2f"):
    return f"[{t[lo]:{f}}, {t[hi]:{f}}]"


def verdicts(facts: dict, params) -> list[Verdict]:
    profile = params.profile
    out: list[Verdict] = []

    def add(**kw):
        out.append(Verdict(chapter="sharpness", profile=profile, **kw))

    for g, net in NETS.items():
        if g not in facts:
            continue
        words, fig, src = NET_WORDS[g], FIGURES[g], SOURCES[g]
        t = facts[g]["trend"]
        for q, slug in (("frobenius", "frobenius"), ("lam_max", "lam-max"), ("trace", "trace")):
            add(id=f"claim-4-{net}-{slug}", claim=4, statement=f"{LABELS[q]} falls as η/S grows ({words})",
                source=src, figure=fig,
                rule=f"Spearman ρ(η/S, mean log {LABELS[q]}) <= −{RHO:g} with its 95% t-law interval below 0: holds; "
                     f"interval above 0 or within ±{RHO:g}: fails; otherwise inconclusive",
                outcome=stats.trend_outcome(t[q], -1, rho_min=RHO),
                evidence=dict(rho=t[q]["rho"], lo=t[q]["lo"], hi=t[q]["hi"], ratios=t[q]["n_groups"], runs=t[q]["n_runs"]),
                summary=f"ρ = {t[q]['rho']:+.2f} {_ci(t[q])} over {t[q]['n_groups']} ratios, {t[q]['n_runs']} runs")
        a = t["val_acc"]
        add(id=f"claim-5-{net}-val-acc", claim=5, statement=f"validation accuracy rises with η/S ({words})",
            source=src, figure=fig,
            rule=f"Spearman ρ(η/S, mean accuracy) >= +{RHO:g} with its 95% t-law interval above 0: holds; interval "
                 f"below 0 or within ±{RHO:g}: fails; otherwise inconclusive",
            outcome=stats.trend_outcome(a, +1, rho_min=RHO),
            evidence=dict(rho=a["rho"], lo=a["lo"], hi=a["hi"], ratios=a["n_groups"], runs=a["n_runs"]),
            summary=f"ρ = {a['rho']:+.2f} {_ci(a)} over {a['n_groups']} ratios, {a['n_runs']} runs")
        f = facts[g]["fits"]["frobenius"]
        add(id=f"sharpness-ratio-not-eta-{net}", claim=None,
            statement=f"η/S, not η alone, sets ‖H‖_F: at fixed η a higher η/S gives a lower ‖H‖_F ({words})",
            source=src, figure=fig,
            rule="log ‖H‖_F = a + b log(η/S) + d log η over runs: 95% t interval of b below 0: holds; above 0: "
                 "fails; containing 0: inconclusive",
            outcome=stats.sign_outcome(f["b_lo"], f["b_hi"], -1),
            evidence=dict(b=f["b"], b_lo=f["b_lo"], b_hi=f["b_hi"], corr_eta_ratio=f["corr_eta_ratio"],
                          r2_ratio=f["r2_ratio"], r2_eta=f["r2_eta"], r2_S=f["r2_S"], runs=f["n"]),
            summary=f"b = {f['b']:+.2f} {_ci(f, 'b_lo', 'b_hi')}; corr(log η, log η/S) = {f['corr_eta_ratio']:+.2f}; "
                    f"R² {f['r2_ratio']:.2f} (η/S), {f['r2_eta']:.2f} (η), {f['r2_S']:.2f} (S)")
        within = -SLOPE_MARGIN < f["d_lo"] and f["d_hi"] < SLOPE_MARGIN
        outside = f["d_lo"] >= SLOPE_MARGIN or f["d_hi"] <= -SLOPE_MARGIN
        add(id=f"sharpness-ratio-alone-{net}", claim=None,
            statement=f"only η/S matters for ‖H‖_F: at fixed η/S, η has no effect ({words})",
            source=src, figure=fig,
            rule=f"in the same fit, the 95% t interval of d within ±{SLOPE_MARGIN:g}: holds; wholly outside: fails; "
                 "otherwise inconclusive",
            outcome="holds" if within else ("fails" if outside else "inconclusive"),
            evidence=dict(d=f["d"], d_lo=f["d_lo"], d_hi=f["d_hi"], margin=SLOPE_MARGIN, runs=f["n"]),
            summary=f"d = {f['d']:+.2f} {_ci(f, 'd_lo', 'd_hi')} (margin ±{SLOPE_MARGIN:g})")
        for q, claim, sign, slug in (("frobenius", 4, -1, "equal-loss"), ("val_acc", 5, +1, "equal-loss")):
            c = facts[g]["controlled"][q]
            collinear = not np.isfinite(c["corr"]) or abs(c["corr"]) >= COLLINEAR_MAX
            verb = "falls" if sign < 0 else "rises"
            add(id=f"claim-{claim}-{net}-{slug}", claim=claim,
                statement=f"{LABELS[q]} {verb} with η/S between runs of equal training loss ({words})",
                source=src, figure=fig,
                rule=f"y = a + b log(η/S) + e log L_train over runs; |corr(log η/S, log L_train)| >= {COLLINEAR_MAX:g}: "
                     f"inconclusive (collinear); else 95% t interval of b {'below' if sign < 0 else 'above'} 0: holds, "
                     "on the other side: fails, containing 0: inconclusive",
                outcome="inconclusive" if collinear else stats.sign_outcome(c["lo"], c["hi"], sign),
                evidence=dict(b=c["b"], lo=c["lo"], hi=c["hi"], corr=c["corr"], runs=c["n"]),
                summary=f"corr(log η/S, log L_train) = {c['corr']:+.2f}" + (" (collinear)" if collinear else "")
                        + f"; b = {c['b']:+.3g} {_ci(c, f='+.3g')}")
    rt = facts["rescale_test"]
    wo = [b["width"]["outcome"] for b in rt["betas"]]
    add(id="claim-7-rescale-width", claim=7, statement="equal η/S at different scales β gives the same λ_max",
        source="ICLR 2018, Fig. 3; Kaur et al. 2023", figure="fig-sh-rescale",
        rule=f"at every β, Welch TOST (90% interval) of mean log λ_max against β = 1 within ±log {WIDTH_FACTOR:g}: "
             "holds if every β holds, fails if any β fails, otherwise inconclusive",
        outcome=_combine(wo),
        evidence={f"beta_{b['beta']:g}_ratio": math.exp(b["width"]["diff"]) if np.isfinite(b["width"]["diff"]) else None
                  for b in rt["betas"]},
        summary="; ".join(f"β = {b['beta']:g}: ×{math.exp(b['width']['diff']):.2f} "
                          f"[{math.exp(b['width']['lo']):.2f}, {math.exp(b['width']['hi']):.2f}] {b['width']['outcome']}"
                          for b in rt["betas"] if np.isfinite(b["width"]["lo"])))
    ao = [b["acc"]["outcome"] for b in rt["betas"]]
    add(id="claim-7-rescale-val-acc", claim=7, statement="equal η/S at different scales β gives the same accuracy",
        source="ICLR 2018, Fig. 3", figure="fig-sh-rescale",
        rule=f"at every β, Welch TOST of the mean validation accuracy against β = 1 within ±{100 * ACC_POINTS:g} "
             "point: holds if every β holds, fails if any β fails, otherwise inconclusive",
        outcome=_combine(ao),
        evidence={f"beta_{b['beta']:g}_diff": b["acc"]["diff"] for b in rt["betas"]},
        summary="; ".join(f"β = {b['beta']:g}: {100 * b['acc']['diff']:+.1f} [{100 * b['acc']['lo']:+.1f}, "
                          f"{100 * b['acc']['hi']:+.1f}] points {b['acc']['outcome']}"
                          for b in rt["betas"] if np.isfinite(b["acc"]["lo"])))
    if "probes" in facts:
        p = facts["probes"]
        e = p["edge"]
        add(id="sharpness-edge-of-stability", claim=None,
            statement="late in training λ_max hovers at the stability limit 2/η (equal-time factorial runs)",
            source="Cohen et al. 2021", figure="fig-sh-probes",
            rule=f"median η λ_max over the second half of each run; Welch TOST of its mean log against log 2 within "
                 f"±log {EDGE_FACTOR:g}: holds inside, fails wholly outside, otherwise inconclusive",
            outcome=e["outcome"],
            evidence=dict(median=p["late_median"], lo=math.exp(e["lo"]) * 2 if np.isfinite(e["lo"]) else None,
                          hi=math.exp(e["hi"]) * 2 if np.isfinite(e["hi"]) else None, runs=p["n"]),
            summary=f"median late η λ_max {p['late_median']:.2f} (from {p['late_min']:.2f} to {p['late_max']:.2f}) "
                    f"over {p['n']} runs")
    ch = facts["ch"]
    t = ch["test"]
    add(id="sharpness-c-equals-h", claim=None, statement="Tr C ≈ Tr H at the end of training",
        source="ICANN 2018, Sec. 2 (the trace relation's assumption)", figure="fig-sh-ch",
        rule=f"Welch TOST of the mean log(Tr C / Tr H) over runs against 0 within ±log {CH_FACTOR:g}: holds inside, "
             "fails wholly outside, otherwise inconclusive",
        outcome=t["outcome"],
        evidence=dict(median=ch["median"], min=ch["min"], max=ch["max"], within=ch["within"], runs=ch["n"]),
        summary=f"Tr C / Tr H from {ch['min']:.2g} to {ch['max']:.2g} (median {ch['median']:.2g}); "
                f"{ch['within']} of {ch['n']} runs within ×{CH_FACTOR:g}")
    dev, tol = facts["check_max_dev"], facts["width_tolerance"]
    add(id="sharpness-sample-count", claim=None,
        statement="the sample of training examples gives the whole training set's width measures",
        source="this book, width chapter's sample-count rule", figure="",
        rule="largest relative deviation of λ_max, Tr H, ‖H‖_F on the sample from the whole set, on the two "
             "checked runs, within the width chapter's tolerance: holds; beyond it: fails; no check: inconclusive",
        outcome="inconclusive" if not np.isfinite(dev) else ("holds" if dev <= tol else "fails"),
        evidence=dict(max_deviation=dev, tolerance=tol),
        summary=f"largest deviation {100 * dev:.0f}% against a tolerance of {100 * tol:.0f}%")
    return out
