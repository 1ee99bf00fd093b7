"""The numbers the interpolation chapter quotes, and its verdicts (rules fixed before the numbers).

Per pair of runs (one seed), on the line θ(α) = (1 − α) θ_a + α θ_b, training loss L(α):

- **width along the line** of each endpoint: the α-distance to where L first rises by Δ
  (``delta_loss``) above its value at the endpoint, outward plus inward (the inward distance is
  capped at 1, the other endpoint); α is measured in units of ‖θ_b − θ_a‖, the same for both
  endpoints of a pair, so their widths compare on one scale;
- **λ_max** at each endpoint (Lanczos; batch-norm statistics recomputed as on the line);
- **filter-normalized width**: the t-distance between the Δ-crossings around t = 0 along random
  filter-normalized directions (mean over the directions), comparable across networks;
- **barrier**: max over α in [0, 1] of L(α) minus the chord between L(0) and L(1).

Rules (three outcomes; intervals are Student-t over the seed pairs, honest at a few seeds):

- **Claim 6** (per low-ratio setting, panels (a) and (b)): paired over seeds, the log-ratios
  log(w_baseline / w_low) of the line widths and log(λ_low / λ_baseline).  *Holds* when both 95%
  intervals lie above 0 (the low-ratio endpoint is sharper by both measures); *fails* when either
  lies below 0 (flatter by one measure, with confidence); otherwise *inconclusive*.
- **Claim 7** (per β ≠ 1): the log-ratios log(w_β / w_1) and log(λ_β / λ_1), 90% intervals (two
  one-sided tests at 5%).  *Holds* when both intervals lie within ±log(``equal_margin``); *fails*
  when either lies entirely outside; otherwise *inconclusive* (too wide to tell).
- **Barrier** (ours, per figure): *holds* (no barrier) when every panel's 95% upper bound of the mean
  barrier is below ``barrier_margin``; *fails* when some panel's lower bound exceeds it; otherwise
  *inconclusive*.
- **Filter-normalized claim 6** (ours): as claim 6 with the filter-normalized widths alone.
"""
from __future__ import annotations

import math

import numpy as np

from ... import stats, wording
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict
from . import landscape

CHAPTER = "interpolation"
LEVEL_SIGN = 0.95      # claim 6, barrier: two-sided 95% intervals
LEVEL_TOST = 0.90      # claim 7: two one-sided tests at 5%


def _interval(values, level: float) -> dict:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if v.size < 2:
        return dict(mean=float(v.mean()) if v.size else math.nan, lo=math.nan, hi=math.nan, n=int(v.size))
    m, half = stats.mean_ci(v, level)
    return dict(mean=m, lo=m - half, hi=m + half, n=int(v.size))


def pair_measures(results, panel: dict, delta: float) -> list[dict]:
    """Per seed of ``panel``: widths, censoring, losses at the endpoints, barrier, λ_max, filter-normalized widths."""
    out = []
    for s, line in enumerate(results.lines[panel["id"]]):
        if line is None:
            continue
        a = np.asarray(line["alphas"])
        L = np.asarray(line["train_loss"])
        wa = landscape.width_at(a, L, 0.0, delta, inward=+1, limit=1.0)
        wb = landscape.width_at(a, L, 1.0, delta, inward=-1, limit=1.0)
        i0, i1 = int(np.argmin(np.abs(a))), int(np.argmin(np.abs(a - 1)))
        row = dict(seed=s, width_a=wa["width"], width_b=wb["width"],
                   outer_a=wa["left"], outer_b=wb["right"],
                   censored_a=wa["left_censored"] or wa["right_censored"],
                   censored_b=wb["left_censored"] or wb["right_censored"],
                   loss_a=float(L[i0]), loss_b=float(L[i1]),
                   test_acc_a=float(line["test_acc"][i0]), test_acc_b=float(line["test_acc"][i1]),
                   barrier=landscape.barrier(a, L), test_barrier=landscape.barrier(a, np.asarray(line["test_loss"])),
                   distance=line["distance"])
        for side in ("a", "b"):
            ep = None
            if panel["shared"] or side == "a":
                eps = results.endpoints.get(f"{panel['figure']}-{panel[side]}", [])
                ep = eps[s] if s < len(eps) else None
            row[f"lam_{side}"] = ep["lam_max"] if ep else math.nan
            row[f"lam_converged_{side}"] = bool(ep["lam_converged"]) if ep else False
            row[f"fn_width_{side}"] = fn_width(ep, delta) if ep else math.nan
        out.append(row)
    return out


def fn_width(endpoint: dict, delta: float) -> float:
    """Mean over the filter-normalized directions of the Δ-width around t = 0 (nan without directions)."""
    if not endpoint or not endpoint["curves"]:
        return math.nan
    t = np.asarray(endpoint["t"])
    return float(np.mean([landscape.width_at(t, np.asarray(c), 0.0, delta)["width"] for c in endpoint["curves"]]))


def _log_ratio(rows, num: str, den: str) -> list[float]:
    return [math.log(r[num] / r[den]) for r in rows
            if np.isfinite(r[num]) and np.isfinite(r[den]) and r[num] > 0 and r[den] > 0]


def summary(results, params) -> dict:
    """Every number the page quotes."""
    delta = params.delta_loss
    out: dict = {"panels": {}}
    for p in results.panels:
        rows = pair_measures(results, p, delta)
        sa = results.settings[p["figure"]][p["a"]]
        sb = results.settings[p["figure"]][p["b"]]
        entry = dict(panel=p, a=sa, b=sb, rows=rows,
                     width_ratio=_interval(_log_ratio(rows, "width_a", "width_b"), LEVEL_SIGN),   # log(w_a / w_b)
                     lam_ratio=_interval(_log_ratio(rows, "lam_b", "lam_a"), LEVEL_SIGN),         # log(λ_b / λ_a)
                     fn_ratio=_interval(_log_ratio(rows, "fn_width_a", "fn_width_b"), LEVEL_SIGN),
                     width_ratio_tost=_interval(_log_ratio(rows, "width_b", "width_a"), LEVEL_TOST),  # log(w_b / w_a)
                     lam_ratio_tost=_interval(_log_ratio(rows, "lam_b", "lam_a"), LEVEL_TOST),
                     barrier=_interval([r["barrier"] for r in rows], LEVEL_SIGN),
                     test_barrier=_interval([r["test_barrier"] for r in rows], LEVEL_SIGN),
                     censored=sum(r["censored_a"] + r["censored_b"] for r in rows))
        out["panels"][p["id"]] = entry
    # the other batch-norm choice, at the midpoint and over the segment
    bn = {}
    for pid, lines in results.bn_other.items():
        rec, itp = results.lines[pid], lines
        a = np.asarray(results.alphas)
        mid = int(np.argmin(np.abs(a - 0.5)))
        bn[pid] = dict(mid_recompute=_interval([ln["train_loss"][mid] for ln in rec if ln], LEVEL_SIGN),
                       mid_interpolate=_interval([ln["train_loss"][mid] for ln in itp if ln], LEVEL_SIGN),
                       acc_recompute=_interval([ln["train_acc"][mid] for ln in rec if ln], LEVEL_SIGN),
                       acc_interpolate=_interval([ln["train_acc"][mid] for ln in itp if ln], LEVEL_SIGN),
                       nonfinite_interpolate=int(sum(np.sum(~np.isfinite(np.asarray(ln["train_loss"], float)))
                                                     for ln in itp if ln)),
                       points=int(sum(len(ln["train_loss"]) for ln in itp if ln)),
                       barrier_recompute=_interval([landscape.barrier(a, ln["train_loss"]) for ln in rec if ln], LEVEL_SIGN),
                       barrier_interpolate=_interval([landscape.barrier(a, ln["train_loss"]) for ln in itp if ln],
                                                     LEVEL_SIGN))
    out["bn"] = bn
    out["settings"] = {}
    for name, eps in results.endpoints.items():
        fig, i = name.rsplit("-", 1)
        st = results.settings[fig][int(i)]
        lam = [e["lam_max"] for e in eps if e]
        fnw = [fn_width(e, delta) for e in eps if e]
        runs = [r for r in results.runs[name] if r]
        out["settings"][name] = dict(setting=st, lam=_interval(lam, LEVEL_SIGN), fn_width=_interval(fnw, LEVEL_SIGN),
                                     lam_values=lam, fn_width_values=fnw,
                                     eta_lam=_interval([st["eta"] * v for v in lam], LEVEL_SIGN),
                                     best_epoch=[r["best_epoch"] for r in runs],
                                     best_val_acc=_interval([r["best_val_acc"] for r in runs], LEVEL_SIGN),
                                     unconverged=sum(1 for e in eps if e and not e["lam_converged"]))
    return out


# -- verdicts ------------------------------------------------------------------------------------------
def _fmt_ratio(iv: dict) -> str:
    if not np.isfinite(iv["lo"]):
        return f"×{math.exp(iv['mean']):.2f} (no interval)" if np.isfinite(iv["mean"]) else "n/a"
    return f"×{math.exp(iv['mean']):.2f} [{math.exp(iv['lo']):.2f}, {math.exp(iv['hi']):.2f}]"


def rounded(mean: float, lo: float, hi: float, unit: str = "") -> str:
    """``mean [lo, hi]`` rounded to the interval: the half-width to one significant digit (two when
    that digit is a 1), the mean and bounds to the same decimal place; a true minus (−) for negatives."""
    if not np.isfinite(mean):
        return "n/a"
    half = (hi - lo) / 2 if np.isfinite(lo) and np.isfinite(hi) else math.nan
    if not np.isfinite(half) or half <= 0:
        return f"{mean:.3g}{unit}".replace("-", "−")
    decimals = wording.decimals_for_uncertainty(half)
    f = lambda x: f"{x:.{decimals}f}".replace("-", "−")  # noqa: E731
    return f"{f(mean)}{unit} [{f(lo)}, {f(hi)}]"


def _combine(outcomes) -> str:
    outcomes = list(outcomes)
    if any(o == FAILS for o in outcomes):
        return FAILS
    if outcomes and all(o == HOLDS for o in outcomes):
        return HOLDS
    return INCONCLUSIVE


def _equivalent(iv: dict, margin: float) -> str:
    m = math.log(margin)
    if not np.isfinite(iv["lo"]):
        return INCONCLUSIVE
    if -m < iv["lo"] and iv["hi"] < m:
        return HOLDS
    if iv["lo"] >= m or iv["hi"] <= -m:
        return FAILS
    return INCONCLUSIVE


def _evidence_ratio(prefix: str, iv: dict) -> dict:
    e = lambda x: math.exp(x) if np.isfinite(x) else None  # noqa: E731
    return {f"{prefix}": e(iv["mean"]), f"{prefix}_lo": e(iv["lo"]), f"{prefix}_hi": e(iv["hi"])}


def steps(params, setting: dict, figure: str) -> int | None:
    """SGD steps of a run of ``setting``: floor(n_train / S) per epoch (the engine drops the remainder)."""
    try:
        epochs = params.fig2_epochs if figure == "fig2" else params.fig3_epochs
        return (params.n_train // setting["S"]) * epochs
    except (AttributeError, KeyError):
        return None


def verdicts(results, params) -> list[Verdict]:
    facts = summary(results, params)
    out: list[Verdict] = []
    delta = params.delta_loss
    common = dict(chapter=CHAPTER, profile=params.profile)
    main = [p for p in results.panels if not p["id"].endswith("other-init")]
    fig2 = [p for p in main if p["figure"] == "fig2" and p["a"] == 0]
    slug = {1: "large-batch", 2: "small-lr"}
    for p in fig2:
        f = facts["panels"][p["id"]]
        low = f["b"]
        ow = stats.sign_outcome(f["width_ratio"]["lo"], f["width_ratio"]["hi"], +1)
        ol = stats.sign_outcome(f["lam_ratio"]["lo"], f["lam_ratio"]["hi"], +1)
        outcome = _combine([ow, ol])
        name = slug.get(p["b"], f"setting-{p['b']}")
        out.append(Verdict(
            id=f"claim-6-{name}-sharper", claim=6,
            statement=f"The {low['name']} endpoint (η = {low['eta']:g}, S = {low['S']}) is sharper than the baseline "
                      f"(η = {f['a']['eta']:g}, S = {f['a']['S']})",
            source="ICLR 2018, Fig. 2" + (" (a)" if p["b"] == 1 else " (b)" if p["b"] == 2 else ""),
            rule=f"paired over seeds: width along the line (training loss rises by Δ = {delta:g}) of the baseline over "
                 f"that of the low-ratio endpoint, and λ_max of the low-ratio endpoint over the baseline's; holds if "
                 f"both 95% t-intervals of the log-ratios lie above 0, fails if either lies below 0, else inconclusive",
            outcome=outcome,
            evidence={"pairs": f["width_ratio"]["n"], **_evidence_ratio("width_ratio", f["width_ratio"]),
                      **_evidence_ratio("lam_ratio", f["lam_ratio"]), "censored_widths": f["censored"],
                      "steps_baseline": steps(params, f["a"], "fig2"), "steps_low_ratio": steps(params, low, "fig2")},
            figure="fig-interp-different",
            summary=(f"width ratio (baseline / low ratio) {_fmt_ratio(f['width_ratio'])}, "
                     f"λ_max ratio (low ratio / baseline) {_fmt_ratio(f['lam_ratio'])} over {f['width_ratio']['n']} "
                     f"seed pairs" + (f"; {f['censored']} widths censored" if f["censored"] else "")
                     + (f"; {steps(params, low, 'fig2'):,} SGD steps against the baseline's "
                        f"{steps(params, f['a'], 'fig2'):,}" if steps(params, low, "fig2") is not None else "")),
            **common))
    margin = params.equal_margin
    for p in [q for q in main if q["figure"] == "fig3"]:
        f = facts["panels"][p["id"]]
        ow, ol = _equivalent(f["width_ratio_tost"], margin), _equivalent(f["lam_ratio_tost"], margin)
        beta = f["b"]["beta"]
        out.append(Verdict(
            id=f"claim-7-beta-{beta:g}".replace(".", "p"), claim=7,
            statement=f"Equal η/S: the β = {beta:g} endpoint (η = {f['b']['eta']:g}, S = {f['b']['S']}) is as wide as "
                      f"the β = 1 endpoint",
            source="ICLR 2018, Fig. 3",
            rule=f"paired over seeds: the ratios β/1 of the width along the line (Δ = {delta:g}) and of λ_max; "
                 f"holds if both 90% t-intervals lie within a factor {margin:g} (two one-sided tests at 5%), "
                 f"fails if either lies entirely outside it, else inconclusive",
            outcome=_combine([ow, ol]),
            evidence={"pairs": f["width_ratio_tost"]["n"], **_evidence_ratio("width_ratio", f["width_ratio_tost"]),
                      **_evidence_ratio("lam_ratio", f["lam_ratio_tost"]), "margin": margin,
                      "censored_widths": f["censored"]},
            figure="fig-interp-equal",
            summary=(f"width ratio {_fmt_ratio(f['width_ratio_tost'])}, λ_max ratio {_fmt_ratio(f['lam_ratio_tost'])} "
                     f"(90% intervals, margin ×{margin:g}) over {f['width_ratio_tost']['n']} seed pairs"),
            **common))
    bm = params.barrier_margin
    for fig, label in (("fig2", "fig-interp-different"), ("fig3", "fig-interp-equal")):
        ps = [p for p in main if p["figure"] == fig]
        ivs = [facts["panels"][p["id"]]["barrier"] for p in ps]
        if not ivs:
            continue
        if all(np.isfinite(iv["hi"]) and iv["hi"] < bm for iv in ivs):
            outcome = HOLDS
        elif any(np.isfinite(iv["lo"]) and iv["lo"] > bm for iv in ivs):
            outcome = FAILS
        else:
            outcome = INCONCLUSIVE
        worst = max(ivs, key=lambda iv: iv["mean"])
        out.append(Verdict(
            id=f"interpolation-no-barrier-{fig}", claim=None,
            statement=f"The straight line between the {'Fig. 2' if fig == 'fig2' else 'Fig. 3'} endpoints crosses no "
                      f"barrier of the training loss (linear mode connectivity)",
            source="this book (after Frankle et al. 2020)",
            rule=f"barrier = max over α in [0, 1] of L(α) minus the chord; holds if every panel's 95% t upper bound is "
                 f"below {bm:g} nats, fails if some panel's lower bound is above it, else inconclusive",
            outcome=outcome,
            evidence={"largest_mean_barrier": worst["mean"], "lo": worst["lo"], "hi": worst["hi"], "margin": bm,
                      "panels": len(ivs)},
            figure=label,
            summary=f"largest mean barrier {rounded(worst['mean'], worst['lo'], worst['hi'])} nats"
                    + (" (95% interval)" if np.isfinite(worst["lo"]) and worst["hi"] > worst["lo"] else "")
                    + f" over {len(ivs)} panels",
            **common))
    if params.directions > 0:
        ivs = [facts["panels"][p["id"]]["fn_ratio"] for p in fig2]
        outcome = _combine([stats.sign_outcome(iv["lo"], iv["hi"], +1) for iv in ivs])
        text = "; ".join(f"{facts['panels'][p['id']]['b']['name']} {_fmt_ratio(iv)}" for p, iv in zip(fig2, ivs))
        out.append(Verdict(
            id="interpolation-claim-6-filter-normalized", claim=None,
            statement="Claim 6 by a scale-aware measure: the low-ratio endpoints are narrower along filter-normalized "
                      "random directions",
            source="this book (directions of Li et al. 2018)",
            rule=f"paired over seeds, the filter-normalized width (Δ = {delta:g}) of the baseline over that of each "
                 f"low-ratio endpoint; holds if every 95% t-interval of the log-ratio lies above 0, fails if one lies "
                 f"below 0, else inconclusive",
            outcome=outcome,
            evidence={f"ratio_{i + 1}": math.exp(iv["mean"]) if np.isfinite(iv["mean"]) else None
                      for i, iv in enumerate(ivs)},
            figure="fig-interp-directions",
            summary=f"filter-normalized width ratio (baseline / low ratio): {text}",
            **common))
    else:
        out.append(Verdict(id="interpolation-claim-6-filter-normalized", claim=None,
                           statement="Claim 6 by a scale-aware measure (filter-normalized directions)",
                           source="this book", rule="needs directions > 0", outcome=NOT_RUN, evidence={},
                           summary="no directions at this profile", **common))
    return out
