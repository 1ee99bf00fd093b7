"""The numbers the sweep page quotes and its verdicts, each judged under a registered rule (``rules.yaml``).

Runs compared (:func:`included`): those whose training loss reached ``target_loss`` before the cap
and did not diverge; the others are counted (:func:`counts`) and excluded.  Accuracies in points.

Groups (He, Liu and Tao, NeurIPS 2019): ``fixed S`` = the runs of one seed at one batch size (η
varies, so η/S varies as η); ``fixed η`` = the runs of one seed at one drawn learning rate (S varies,
η/S as 1/S); ``fixed η/S`` = the runs (all seeds) whose η/S fall in one of ``ratio_bins`` equal bins
of log η/S, with at least 3 batch sizes among them (the control: η and S vary together at an η/S
held within one bin; a secondary view also partials η/S out).  Per group, Spearman ρ and Kendall τ
of a measure against a setting; the mean over groups, with a percentile bootstrap interval over groups (groups resampled with replacement).

Pooled: ρ and τ over every included run, bootstrap over runs.

The break (:func:`break_point`): the bin of log η/S with the highest mean validation accuracy; above
it, large η/S stops helping.  Its difference to the highest bin is a Welch interval.
"""
from __future__ import annotations

import csv
import dataclasses
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from ... import rules as _rules
from ... import stats
from ...claims import INCONCLUSIVE, ruled
from ...claims import decision, trend_rule
from ...wording import decimals_for_uncertainty as decimals, fixed as _f

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.csv")
SOURCE = "He, Liu and Tao (NeurIPS 2019), as summarized in the replication's paper notes; ICLR 2018 submission, claims 4-5"
LEVEL = 0.95
MIN_GROUP = 3
SETTINGS = ("ratio", "lr", "batch_size")
SETTING_NAMES = {"ratio": "η/S", "lr": "η", "batch_size": "S"}
GROUPINGS = ("fixed S", "fixed η", "fixed η/S")


def paper_numbers() -> list[dict]:
    """He et al.'s published counts, as the project's paper notes give them (each row cites its source)."""
    with open(PAPER_NUMBERS, newline="") as f:
        return [dict(row) for row in csv.DictReader(f)]


# -- which runs -----------------------------------------------------------------------------------------
def included(results) -> list[dict]:
    return [r for r in results.runs if r["reached"] and r["val_acc"] is not None]


def counts(results) -> dict:
    runs = results.runs
    return dict(total=len(runs), reached=sum(r["reached"] for r in runs),
                capped=sum(not r["reached"] and not r["diverged"] for r in runs),
                diverged=sum(r["diverged"] for r in runs),
                stable=sum(r["reached"] and math.isfinite(r["eta_lam"]) and r["eta_lam"] < 2 for r in runs),
                unstable=sum(r["reached"] and not (math.isfinite(r["eta_lam"]) and r["eta_lam"] < 2) for r in runs),
                not_converged=sum(r["reached"] and not r["lam_converged"] for r in runs))


def stable(rows: list[dict]) -> list[dict]:
    """Runs whose width may be used: η·λ_max < 2 where λ_max was measured."""
    return [r for r in rows if math.isfinite(r["eta_lam"]) and r["eta_lam"] < 2]


def value(row: dict, measure: str) -> float:
    return {"acc": lambda r: 100 * r["val_acc"], "lam": lambda r: r["lam_max"], "gap": lambda r: r["gap"]}[measure](row)


# -- groups ---------------------------------------------------------------------------------------------
def ratio_edges(rows: list[dict], bins: int) -> np.ndarray:
    logs = np.log([r["ratio"] for r in rows])
    if len(logs) == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(logs.min()), float(logs.max())
    if hi <= lo:
        hi = lo + 1e-9
    return np.linspace(lo, hi, bins + 1)


def ratio_bin(ratio: float, edges: np.ndarray) -> int:
    return int(np.clip(np.searchsorted(edges, math.log(ratio), side="right") - 1, 0, len(edges) - 2))


def groups(rows: list[dict], grouping: str, bins: int) -> list[list[dict]]:
    """The groups of ``grouping`` (see the module docstring) with at least ``MIN_GROUP`` runs."""
    out: dict = {}
    if grouping == "fixed η/S":
        edges = ratio_edges(rows, bins)
        for r in rows:
            out.setdefault(ratio_bin(r["ratio"], edges), []).append(r)
        return [g for _, g in sorted(out.items())
                if len(g) >= MIN_GROUP and len({r["batch_size"] for r in g}) >= MIN_GROUP]
    key = {"fixed S": lambda r: (r["seed"], r["batch_size"]), "fixed η": lambda r: (r["seed"], r["draw"])}[grouping]
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return [g for _, g in sorted(out.items()) if len(g) >= MIN_GROUP]


def _kendall(x, y) -> float:
    from scipy.stats import kendalltau

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(kendalltau(x, y).statistic)


def correlations(group: list[dict], measure: str, setting: str, relabel=None, given: str | None = None
                 ) -> tuple[float, float]:
    """(Spearman ρ, Kendall τ) of ``measure`` against ``setting`` in one group.  ``relabel``: a
    permutation of the group's setting order (the scrambled control): the run at rank i gets the
    setting value of rank relabel[i].  ``given``: a setting held fixed within the group only up to a
    bin (η/S in the control), partialled out: ρ_{yx·g} = (ρ_yx − ρ_yg ρ_xg) / √((1 − ρ_yg²)(1 − ρ_xg²)),
    and likewise for τ (Kendall's partial τ), so what is left is the effect of ``setting`` at fixed ``given``."""
    x = np.array([r[setting] for r in group], float)
    y = np.array([value(r, measure) for r in group], float)
    g = np.array([r[given] for r in group], float) if given else None
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < MIN_GROUP or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    if relabel is not None:
        order = np.argsort(x, kind="stable")
        perm = relabel(len(x))
        x = x.copy()
        x[order] = np.sort(x)[perm]
    rho, tau = stats.spearman(x, y), _kendall(x, y)
    if g is None:
        return rho, tau
    g = g[ok]
    if np.ptp(g) == 0:
        return rho, tau
    return (_partial(rho, stats.spearman(y, g), stats.spearman(x, g)),
            _partial(tau, _kendall(y, g), _kendall(x, g)))


def _partial(r_yx: float, r_yg: float, r_xg: float) -> float:
    den = (1 - r_yg ** 2) * (1 - r_xg ** 2)
    if not (np.isfinite(den) and den > 1e-12):
        return math.nan
    return float(np.clip((r_yx - r_yg * r_xg) / math.sqrt(den), -1, 1))


def mean_interval(values, n_resamples: int, seed: int = 0) -> dict:
    """The mean of ``values`` (finite ones) with its percentile bootstrap interval."""
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    out = dict(mean=math.nan, lo=math.nan, hi=math.nan, n=int(len(v)))
    if len(v) == 0:
        return out
    out["mean"] = float(v.mean())
    if len(v) >= 2:
        out["lo"], out["hi"] = stats.bootstrap_ci(v, np.mean, LEVEL, n_resamples, seed)
    return out


def within(rows, measure: str, setting: str, grouping: str, params, relabel=None, partial: bool = False) -> dict:
    """Mean within-group ρ and τ of ``measure`` against ``setting`` over the groups of ``grouping``;
    with ``partial``, in groups of fixed η/S (a bin) η/S is partialled out (:func:`correlations`): the
    registered control correlates within the bin as it is, and a bin wide enough to hold several
    batch sizes leaves some η/S in it, which the partial view removes (a secondary view, not a rule)."""
    given = "ratio" if partial and grouping == "fixed η/S" and setting != "ratio" else None
    pairs = [correlations(g, measure, setting, relabel, given) for g in groups(rows, grouping, params.ratio_bins)]
    rho = mean_interval([p[0] for p in pairs], params.bootstrap)
    tau = mean_interval([p[1] for p in pairs], params.bootstrap, seed=1)
    return dict(rho=rho, tau=tau, groups=rho["n"], runs=len(rows))


def _spearman_rows(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair (X[i], Y[i]) (average ranks, as scipy); nan where a row is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(X, axis=1), rankdata(Y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def _kendall_rows(X: np.ndarray, Y: np.ndarray, chunk_pairs: int = 4_000_000) -> np.ndarray:
    """Kendall τ-b of each row pair (X[i], Y[i]): Σ sgn(Δx)·sgn(Δy) / sqrt(Σ sgn(Δx)² · Σ sgn(Δy)²) over
    all pairs of positions (ties counted as scipy's τ-b); computed in chunks of rows."""
    n = X.shape[1]
    i, j = np.triu_indices(n, 1)
    out = np.empty(X.shape[0])
    step = max(1, chunk_pairs // max(1, len(i)))
    for s in range(0, X.shape[0], step):
        sx = np.sign(X[s:s + step, i] - X[s:s + step, j])
        sy = np.sign(Y[s:s + step, i] - Y[s:s + step, j])
        den = np.sqrt(np.abs(sx).sum(1) * np.abs(sy).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + step] = np.where(den > 0, (sx * sy).sum(1) / np.where(den > 0, den, 1.0), np.nan)
    return out


def pooled(rows, measure: str, setting: str, params, relabel=None, which=("rho", "tau")) -> dict:
    """ρ and τ over all ``rows`` with percentile bootstrap intervals over runs."""
    x = np.array([r[setting] for r in rows], float)
    y = np.array([value(r, measure) for r in rows], float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    out = dict(runs=int(len(x)))
    if relabel is not None and len(x):
        order = np.argsort(x, kind="stable")
        xs = np.sort(x)
        x = x.copy()
        x[order] = xs[relabel(len(x))]
    if len(x) < 3:
        return out | {k: dict(mean=math.nan, lo=math.nan, hi=math.nan, n=len(x)) for k in which}
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(x), size=(params.bootstrap, len(x)))
    alpha = 0.5 * (1 - LEVEL)
    for name, point, reps in (("rho", lambda: stats.spearman(x, y), lambda: _spearman_rows(x[idx], y[idx])),
                              ("tau", lambda: _kendall(x, y), lambda: _kendall_rows(x[idx], y[idx]))):
        if name not in which:
            continue
        r = reps()
        r = r[np.isfinite(r)]
        lo, hi = (float(q) for q in np.quantile(r, [alpha, 1 - alpha])) if len(r) else (math.nan, math.nan)
        out[name] = dict(mean=point(), lo=lo, hi=hi, n=len(x))
    return out


def correlation_table(results, params) -> list[dict]:
    """Rows: measure × grouping (pooled, fixed S, fixed η, fixed η/S) × setting, with ρ and τ."""
    rows_all = included(results)
    out = []
    for measure, rows in (("acc", rows_all), ("lam", stable(rows_all))):
        for setting in SETTINGS:
            p = pooled(rows, measure, setting, params)
            out.append(dict(measure=measure, grouping="pooled", setting=setting, groups=None, runs=p["runs"],
                            rho=p["rho"], tau=p["tau"]))
            for grouping in GROUPINGS + ("fixed η/S, partial",):      # the bin as it is (first registered), and partial
                w = within(rows, measure, setting, grouping.split(",")[0], params, partial=grouping.endswith("partial"))
                out.append(dict(measure=measure, grouping=grouping, setting=setting, groups=w["groups"],
                                runs=w["runs"], rho=w["rho"], tau=w["tau"]))
    return out


# -- the break ------------------------------------------------------------------------------------------
def binned(rows: list[dict], params, measure: str = "acc", key=None) -> list[dict]:
    """Per equal bin of log η/S: the runs' mean ``measure`` with its t interval, and the bin's centre."""
    edges = ratio_edges(rows, params.ratio_bins)
    out = []
    for b in range(params.ratio_bins):
        vals = [value(r, measure) for r in rows if ratio_bin(r["ratio"], edges) == b and (key is None or key(r))]
        vals = [v for v in vals if math.isfinite(v)]
        m, half = (stats.mean_ci(vals, LEVEL) if len(vals) >= 2 else ((vals[0], math.nan) if vals else (math.nan, math.nan)))
        out.append(dict(bin=b, centre=float(math.exp(0.5 * (edges[b] + edges[b + 1]))), low=float(math.exp(edges[b])),
                        high=float(math.exp(edges[b + 1])), mean=float(m), half=float(half), n=len(vals),
                        values=vals))
    return out


def break_point(results, params) -> dict:
    rows = included(results)
    bins = binned(rows, params)
    filled = [b for b in bins if b["n"] >= 2]
    if not filled:
        return dict(found=False, bins=bins)
    best = max(filled, key=lambda b: b["mean"])
    top = filled[-1]
    edges = ratio_edges(rows, params.ratio_bins)
    excluded_above = sum(1 for r in results.runs if not r["reached"] and r["ratio"] > best["high"])
    excluded_below = sum(1 for r in results.runs if not r["reached"] and r["ratio"] < best["low"])
    out = dict(found=True, bins=bins, best=best, top=top, interior=best["bin"] < top["bin"],
               excluded_above=excluded_above, excluded_below=excluded_below, edges=list(np.exp(edges)))
    if best["bin"] < top["bin"]:
        t = stats.equivalence(top["values"], best["values"], margin=1.0)
        out.update(drop=t["diff"], drop_lo=t["lo"], drop_hi=t["hi"])
    return out


# -- verdicts -------------------------------------------------------------------------------------------
def trend_outcome(stat: dict, sign: int, threshold: float, digits: int) -> str:
    t = {k: stats.rounded(stat[k], digits) for k in ("mean", "lo", "hi")}
    return stats.trend_outcome(dict(rho=t["mean"], lo=t["lo"], hi=t["hi"]), sign, rho_min=threshold)


def _interval(s: dict, sign: bool = True) -> str:
    if not all(math.isfinite(s.get(k, math.nan)) for k in ("mean", "lo", "hi")):
        return _f(s.get("mean", math.nan), 2, sign)
    d = max(2, decimals(0.5 * (s["hi"] - s["lo"])))
    return f"{_f(s['mean'], d, sign)} [{_f(s['lo'], d, sign)}, {_f(s['hi'], d, sign)}]"


def power_text(stat: dict, threshold: float, what: str, params) -> str:
    """What an inconclusive interval could have seen, and how many groups would decide it."""
    if not all(math.isfinite(stat.get(k, math.nan)) for k in ("lo", "hi")):
        return f"too few {what} to form an interval; more seeds or a wider box would give some"
    half = 0.5 * (stat["hi"] - stat["lo"])
    smallest = stats.detectable_effect(half)
    needed = stats.runs_needed(stat["n"], half, threshold / 2)
    return (f"with {stat['n']} {what} the interval's half-width is {_f(half, 2)}: a mean effect of "
            f"{_f(smallest, 2)} would be detected with 80% power; about {needed} {what} would narrow it to "
            f"±{_f(threshold / 2, 2)} (the gpu and paper profiles draw more seeds)")


@lru_cache(maxsize=None)
def _scrambled_cached(n: int) -> tuple:
    return tuple(int(i) for i in stats.scrambled_order(n))


def _scrambled(n: int) -> np.ndarray:
    """:func:`replication.stats.scrambled_order` (deterministic in n, so computed once per n)."""
    return np.array(_scrambled_cached(n), dtype=int)


def summary(results, params) -> dict:
    rows = included(results)
    out = dict(counts=counts(results), table=correlation_table(results, params), brk=break_point(results, params))
    out["acc_groups"] = _combined(rows, "acc", params)
    out["lam_groups"] = _combined(stable(rows), "lam", params)
    out["gap_groups"] = _combined(rows, "gap", params)
    out["acc_control"] = within(rows, "acc", "lr", "fixed η/S", params, partial=True)
    out["lam_control"] = within(stable(rows), "lam", "lr", "fixed η/S", params, partial=True)
    out["acc_control_registered"] = within(rows, "acc", "lr", "fixed η/S", params)
    out["lam_control_registered"] = within(stable(rows), "lam", "lr", "fixed η/S", params)
    out["gap_control"] = _combined(rows, "gap", params, relabel=_scrambled)
    out["pooled"] = pooled(rows, "acc", "ratio", params, which=("tau",))
    out["pooled_control"] = pooled(rows, "acc", "ratio", params, relabel=_scrambled, which=("tau",))
    return out


def _combined(rows, measure: str, params, relabel=None) -> dict:
    """The mean within-group ρ over the fixed-S and fixed-η groups together (He et al.'s groups)."""
    pairs = []
    for grouping in ("fixed S", "fixed η"):
        pairs += [correlations(g, measure, "ratio", relabel) for g in groups(rows, grouping, params.ratio_bins)]
    rho = mean_interval([p[0] for p in pairs], params.bootstrap)
    tau = mean_interval([p[1] for p in pairs], params.bootstrap, seed=1)
    return dict(rho=rho, tau=tau, groups=rho["n"], runs=len(rows))


def verdicts(results, params) -> list:
    facts = summary(results, params)
    common = dict(chapter="sweep", profile=params.profile, source=SOURCE)
    c = facts["counts"]
    matched = (f"each run where its training-set loss first reached {params.target_loss:g} (cap "
               f"{params.max_epochs} epochs; {c['reached']} of {c['total']} runs reached it, {c['capped']} hit the "
               f"cap, {c['diverged']} diverged; those are excluded)")
    out = []
    specs = (
        ("claim-5-sweep-accuracy-rises-with-ratio", "acc_groups", "acc_control", +1, "fig-sweep-partial",
         "validation accuracy", "η alone at fixed η/S"),
        ("claim-4-sweep-sharpness-falls-with-ratio", "lam_groups", "lam_control", -1, "fig-sweep-partial",
         "λ_max", "η alone at fixed η/S"),
        ("sweep-gap-falls-with-ratio", "gap_groups", "gap_control", -1, "fig-sweep-groups",
         "the generalization gap", "scrambled η/S labels"),
    )
    for rule_id, key, control_key, sign, figure, what, control_name in specs:
        rule = _rules.get(rule_id)
        s, ctl = facts[key], facts[control_key]
        outcome = trend_outcome(s["rho"], sign, rule["rho_min"], rule["decimals"])
        control = trend_outcome(ctl["rho"], sign, rule["rho_min"], rule["decimals"]) if ctl["groups"] else INCONCLUSIVE
        amended = rule.amended
        first = facts.get(control_key + "_registered")        # the control as first registered (amended rules)
        first_control = (trend_outcome(first["rho"], sign, rule["rho_min"], rule["decimals"])
                         if first and first["groups"] else INCONCLUSIVE)
        verdict = ruled(
            rule_id, outcome=outcome, control_outcome=control, original_outcome=outcome if amended else None,
            original_control_outcome=first_control if amended else None,
            control_summary=(f"{control_name}: mean ρ {_interval(ctl['rho'])} over {ctl['groups']} groups"),
            id=rule_id, figure=figure, matched=matched,
            evidence={"mean_rho": s["rho"]["mean"], "lo": s["rho"]["lo"], "hi": s["rho"]["hi"], "groups": s["groups"],
                      "runs": s["runs"], "mean_tau": s["tau"]["mean"], "control_mean_rho": ctl["rho"]["mean"],
                      "control_lo": ctl["rho"]["lo"], "control_hi": ctl["rho"]["hi"], "control_groups": ctl["groups"],
                      **({"registered_control_mean_rho": first["rho"]["mean"], "registered_control_lo": first["rho"]["lo"],
                          "registered_control_hi": first["rho"]["hi"]} if first else {})},
            summary=(f"Mean Spearman ρ of {what} against η/S within {s['groups']} groups of fixed η or fixed S: "
                     f"{_interval(s['rho'])} (95% bootstrap interval; {s['runs']} runs); "
                     f"{control_name}: {_interval(ctl['rho'])}."),
            decision=decision(f"mean Spearman ρ(η/S, {what})", s["rho"]["mean"], s["rho"]["lo"],
                              s["rho"]["hi"], level="95% bootstrap over groups", bounds=[-1, 1],
                              **trend_rule(sign, rule["rho_min"])),
            power=power_text(s["rho"], rule["rho_min"], "groups", params), **common)
        if amended:
            verdict = dataclasses.replace(verdict, original=dict(
                verdict.original, control=f"{control_name} as registered: mean ρ {_interval(first['rho'])} over "
                                          f"{first['groups']} groups, {first_control}"))
        out.append(verdict)
    rule = _rules.get("sweep-ratio-ranks-accuracy-pooled")
    p, pc = facts["pooled"], facts["pooled_control"]
    outcome = trend_outcome(p["tau"], +1, rule["tau_min"], rule["decimals"])
    control = trend_outcome(pc["tau"], +1, rule["tau_min"], rule["decimals"])
    out.append(ruled(
        "sweep-ratio-ranks-accuracy-pooled", outcome=outcome, control_outcome=control,
        control_summary=f"scrambled η/S labels: τ {_interval(pc['tau'])}",
        id="sweep-ratio-ranks-accuracy-pooled", figure="fig-sweep-partial", matched=matched,
        evidence={"tau": p["tau"]["mean"], "lo": p["tau"]["lo"], "hi": p["tau"]["hi"], "runs": p["runs"],
                  "control_tau": pc["tau"]["mean"], "control_lo": pc["tau"]["lo"], "control_hi": pc["tau"]["hi"]},
        summary=(f"Kendall τ of validation accuracy against η/S over {p['runs']} runs: {_interval(p['tau'])} "
                 f"(95% bootstrap interval); with scrambled η/S labels: {_interval(pc['tau'])}."),
        decision=decision("Kendall τ(η/S, validation accuracy)", p["tau"]["mean"], p["tau"]["lo"],
                          p["tau"]["hi"], level="95% bootstrap over runs", bounds=[-1, 1],
                          **trend_rule(+1, rule["tau_min"])),
        power=power_text(p["tau"], rule["tau_min"], "runs", params), **common))
    return out

