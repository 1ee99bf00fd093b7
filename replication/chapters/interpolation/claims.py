"""The numbers the interpolation chapter quotes, and its verdicts, judged by the rules registered in
``rules.yaml`` (thresholds are read from there).

Per pair of runs (one seed), on the line θ(α) = (1 − α) θ_a + α θ_b, training loss L(α):

- **width along the line** of each endpoint: the α-distance to where L first rises by Δ
  (``delta_loss``) above its value at the endpoint, outward plus inward (the inward distance is
  capped at 1, the other endpoint); α is measured in units of ‖θ_b − θ_a‖, the same for both
  endpoints of a pair, so their widths compare on one scale — but it, like λ_max, changes with the
  batch-norm scale of the weights, which η and S also set;
- **λ_max** at each endpoint (Lanczos; batch-norm statistics recomputed as on the line);
- **filter-normalized width**: the t-distance between the Δ-crossings around t = 0 along random
  filter-normalized directions (mean over the directions); each direction is scaled filter by filter to
  the weights, so this width does not change with their batch-norm scale;
- **barrier**: max over α in [0, 1] of L(α) minus the chord between L(0) and L(1).

Matched progress (:func:`matched_pairs`): the SDE time t = η · steps of each endpoint, steps counted up to
its early-stopped epoch; a pair is compared only when the two t agree within the rule's ``sde_factor``
and both endpoints are stable (η·λ_max < ``stable``).

Verdicts (intervals are Student-t over the seed pairs, honest at a few seeds):

- **Claim 6** (per low-ratio setting, rule ``claim-6-bn-invariant-width-matched``): the log-ratio of the
  filter-normalized widths, baseline over low ratio, over the matched pairs; holds above 0, fails below.
  Control: the Fig. 2 pair at equal η/S (large batch against small learning rate).  The rule as first
  registered (line width and λ_max at fixed epochs) is reported as a secondary view.
- **Claim 7** (per β ≠ 1, rule ``claim-7-bn-invariant-width-matched``): the same width ratio β / 1, 90%
  interval within ±log(margin) (two one-sided tests).  Control: the Fig. 2 baseline against each lower
  η/S endpoint, which the rule must not call equal.
- **Barrier** (ours, per figure): *holds* (no barrier) when every panel's 95% upper bound of the mean
  barrier is below the margin; control: the first panel's line with batch-norm statistics interpolated.
- **Filter-normalized claim 6 at fixed epochs** (ours, as first registered); control: the equal-η/S pair.
"""
from __future__ import annotations

import math

import numpy as np

from ... import stats, wording
from ... import claims as verdict_rules
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict, every_part
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


# -- matched progress: SDE time at the early-stopped endpoint, stability -------------------------------------
def sde_time(params, setting: dict, figure: str, epoch) -> float:
    """t = η · steps of a run up to ``epoch`` (its early-stopped epoch): floor(n_train / S) steps per epoch."""
    if epoch is None:
        return math.nan
    return float(setting["eta"] * (params.n_train // setting["S"]) * epoch)


def matched_pairs(results, params, panel: dict, rows: list[dict], sde_factor: float, stable: float) -> list[dict]:
    """The rows of :func:`pair_measures` with the SDE time t of both endpoints, η·λ_max at both, and
    ``matched``: the two t within a factor ``sde_factor`` and both η·λ_max < ``stable``.  An endpoint whose
    run summary is not at hand (the other seed of an independent initialization) leaves its pair unmatched."""
    sa = results.settings[panel["figure"]][panel["a"]]
    sb = results.settings[panel["figure"]][panel["b"]]
    out = []
    for r in rows:
        s = r["seed"]
        run_a = _run(results, panel["figure"], panel["a"], s)
        run_b = _run(results, panel["figure"], panel["b"], s) if panel["shared"] else None
        ta = sde_time(params, sa, panel["figure"], run_a["best_epoch"]) if run_a else math.nan
        tb = sde_time(params, sb, panel["figure"], run_b["best_epoch"]) if run_b else math.nan
        ea, eb = sa["eta"] * r["lam_a"], sb["eta"] * r["lam_b"]
        ok_t = np.isfinite(ta) and np.isfinite(tb) and ta > 0 and tb > 0 and max(ta, tb) < sde_factor * min(ta, tb)
        ok_s = bool(np.isfinite(ea) and np.isfinite(eb) and ea < stable and eb < stable)
        out.append(dict(r, t_a=ta, t_b=tb, eta_lam_a=ea, eta_lam_b=eb, matched=bool(ok_t and ok_s),
                        time_matched=bool(ok_t), stable=ok_s))
    return out


def _run(results, figure: str, index: int, seed: int):
    runs = results.runs.get(f"{figure}-{index}", [])
    return runs[seed] if seed < len(runs) and runs[seed] else None


def sharper_matched(pairs: list[dict], level: float) -> tuple[str, dict]:
    """Claim 6's matched rule: the ``level`` t interval of log(fn_w_a / fn_w_b) over the matched pairs."""
    iv = _interval(_log_ratio([p for p in pairs if p["matched"]], "fn_width_a", "fn_width_b"), level)
    if iv["n"] < 2:
        return INCONCLUSIVE, iv
    return stats.sign_outcome(iv["lo"], iv["hi"], +1), iv


def equal_matched(pairs: list[dict], level: float, margin: float) -> tuple[str, dict]:
    """Claim 7's matched rule: the ``level`` t interval of log(fn_w_b / fn_w_a) within ±log(margin)."""
    iv = _interval(_log_ratio([p for p in pairs if p["matched"]], "fn_width_b", "fn_width_a"), level)
    if iv["n"] < 2:
        return INCONCLUSIVE, iv
    return _equivalent(iv, margin), iv


def _none_equal(outcomes: list[str]) -> str:
    """The control of an equivalence rule over pairs the claim says differ: one called equal -> holds (the
    rule cannot tell), every one confidently different -> fails, otherwise inconclusive; none: not run."""
    if not outcomes:
        return NOT_RUN
    if HOLDS in outcomes:
        return HOLDS
    if all(o == FAILS for o in outcomes):
        return FAILS
    return INCONCLUSIVE


def _matching_text(pairs: list[dict]) -> str:
    """How many pairs were compared, and why the others were not (SDE time, stability)."""
    n = len(pairs)
    m = sum(p["matched"] for p in pairs)
    ratios = [max(p["t_a"], p["t_b"]) / min(p["t_a"], p["t_b"]) for p in pairs
              if np.isfinite(p["t_a"]) and np.isfinite(p["t_b"]) and min(p["t_a"], p["t_b"]) > 0]
    t = (f"; SDE times differ by ×{min(ratios):.2g}–{max(ratios):.2g}" if ratios and max(ratios) > 1.005 else "")
    unstable = sum(not p["stable"] for p in pairs)
    return f"{m} of {n} pairs at matched progress{t}" + (f", {unstable} with η·λ_max >= 2" if unstable else "")


def _power_ratio(iv: dict, target: float | None = None) -> str:
    """What the compared pairs could have seen: the smallest factor detected at 80% power, and the seed
    pairs that would shrink the interval to ``target`` (a log-ratio half-width)."""
    if iv["n"] < 2 or not np.isfinite(iv["lo"]):
        return ""
    hw = (iv["hi"] - iv["lo"]) / 2
    text = f"a width factor of ×{math.exp(stats.detectable_effect(hw)):.2f} (80% power) from {iv['n']} pairs"
    target = abs(iv["mean"]) if target is None else target
    need = stats.runs_needed(iv["n"], hw, target) if target > 0 else 0
    if need:
        from ... import profiles

        names = [p for p in ("laptop", "gpu", "paper") if profiles.chapter_values(p, CHAPTER).get("seeds", 0) >= need]
        text += (f"; about {need} seed pairs would decide it"
                 + (f" (profile {names[0]} runs enough)" if names else " (no profile runs that many)"))
    return text


def _unmatched_power(params, pairs: list[dict], low_setting: dict) -> str:
    """An unmatched comparison: the epochs the low-ratio runs would need to reach the baseline's SDE time."""
    ratios = [p["t_a"] / p["t_b"] for p in pairs if np.isfinite(p["t_a"]) and np.isfinite(p["t_b"]) and p["t_b"] > 0]
    if not ratios:
        return "no pair could be placed in SDE time (the second endpoint's run is not at hand)"
    k = float(np.median(ratios))
    epochs = params.fig2_epochs if low_setting.get("beta") is None else params.fig3_epochs
    if k > 1:
        return (f"the {low_setting['name']} endpoints covered ×{1 / k:.2g} of the baseline's SDE time: matched progress "
                f"needs about {math.ceil(k * epochs)} epochs for them against {epochs} for the baseline; no profile "
                f"trains the settings of a figure for different numbers of epochs")
    return ("the endpoints are at matched SDE time but not all stable (η·λ_max >= 2): smaller η or more epochs "
            "to settle would decide it")


def verdicts(results, params) -> list[Verdict]:
    from ... import rules

    facts = summary(results, params)
    out: list[Verdict] = []
    r6m, r7, r7m = (rules.get(x) for x in (RULE_6, RULE_7_FIXED, RULE_7))
    rb, rfn = rules.get(RULE_BARRIER), rules.get(RULE_FN_FIXED)
    common = dict(chapter=CHAPTER, profile=params.profile)
    main = [p for p in results.panels if not p["id"].endswith("other-init")]
    fig2 = [p for p in main if p["figure"] == "fig2" and p["a"] == 0]
    equal_ratio = [p for p in main if p["figure"] == "fig2" and p["a"] != 0]   # large batch -> small lr: same η/S
    slug = {1: "large-batch", 2: "small-lr"}

    def pairs_of(p, rule):
        return matched_pairs(results, params, p, facts["panels"][p["id"]]["rows"], rule["sde_factor"], rule["stable"])

    # -- claim 6 at matched progress, by the BN-invariant width; control: the pair at equal η/S
    ctl6 = [sharper_matched(pairs_of(p, r6m), r6m["level"]) for p in equal_ratio]
    ctl6_outcome = ctl6[0][0] if ctl6 else NOT_RUN
    ctl6_text = (f"equal η/S pair: filter-normalized width ratio {_fmt_ratio(ctl6[0][1])}, "
                 f"{_matching_text(pairs_of(equal_ratio[0], r6m))}" if ctl6 else "no pair at equal η/S")
    for p in fig2:
        f = facts["panels"][p["id"]]
        low = f["b"]
        pairs = pairs_of(p, r6m)
        o, iv = sharper_matched(pairs, r6m["level"])
        # the fixed-epoch view of the rule as first registered (line width and λ_max): evidence, not a verdict
        fixed = every_part([stats.sign_outcome(f["width_ratio"]["lo"], f["width_ratio"]["hi"], +1),
                          stats.sign_outcome(f["lam_ratio"]["lo"], f["lam_ratio"]["hi"], +1)])
        name = slug.get(p["b"], f"setting-{p['b']}")
        compared = iv["n"] >= 2
        out.append(verdict_rules.ruled(
            RULE_6, id=f"claim-6-{name}-sharper", outcome=o, control_outcome=ctl6_outcome, control_summary=ctl6_text,
            statement=f"The {low['name']} endpoint (η = {low['eta']:g}, S = {low['S']}) is sharper than the baseline "
                      f"(η = {f['a']['eta']:g}, S = {f['a']['S']}) by the filter-normalized width, at matched progress",
            source="ICLR 2018, Fig. 2" + (" (a)" if p["b"] == 1 else " (b)" if p["b"] == 2 else ""),
            evidence={"pairs_compared": iv["n"], **_evidence_ratio("fn_ratio", iv),
                      "steps_baseline": steps(params, f["a"], "fig2"), "steps_low_ratio": steps(params, low, "fig2"),
                      "fixed_epoch_rule": fixed, **_evidence_ratio("fixed_width_ratio", f["width_ratio"]),
                      **_evidence_ratio("fixed_lam_ratio", f["lam_ratio"]),
                      **_evidence_ratio("fixed_fn_ratio", f["fn_ratio"])},
            figure="fig-interp-different",
            summary=((f"filter-normalized width ratio (baseline / low ratio) {_fmt_ratio(iv)} over the compared pairs; "
                      if compared else "not compared: ") + _matching_text(pairs)
                     + (f" ({steps(params, low, 'fig2'):,} SGD steps against the baseline's "
                        f"{steps(params, f['a'], 'fig2'):,})" if steps(params, low, "fig2") is not None else "")
                     + f". Secondary view at fixed epochs (the rule as first registered, not a verdict): line width "
                       f"{_fmt_ratio(f['width_ratio'])}, λ_max {_fmt_ratio(f['lam_ratio'])} ({fixed}); both depend on "
                       f"the batch-norm scale of the weights, the filter-normalized width "
                       f"{_fmt_ratio(f['fn_ratio'])} does not"),
            decision=_ratio_decision("filter-normalized width, baseline / low η/S (×)", iv, r6m["level"],
                                     holds=[verdict_rules.above(1.0)], fails=[verdict_rules.below(1.0)]),
            power=(_power_ratio(iv) if compared else _unmatched_power(params, pairs, low)), **common))
    # -- claim 7 at matched progress; control: the baseline against the lower-η/S endpoints
    ctl7 = [equal_matched(pairs_of(p, r7m), r7m["level"], r7m["margin"]) for p in fig2]
    ctl7_outcome = _none_equal([o for o, iv in ctl7 if iv["n"] >= 2]) if fig2 else NOT_RUN
    ctl7_text = "; ".join(f"{facts['panels'][p['id']]['b']['name']}: "
                          + (f"ratio {_fmt_ratio(iv)}, {o}" if iv["n"] >= 2 else "not at matched progress")
                          for p, (o, iv) in zip(fig2, ctl7))
    margin = r7m["margin"]
    for p in [q for q in main if q["figure"] == "fig3"]:
        f = facts["panels"][p["id"]]
        pairs = pairs_of(p, r7m)
        o, iv = equal_matched(pairs, r7m["level"], margin)
        fixed = every_part([_equivalent(f["width_ratio_tost"], r7["margin"]), _equivalent(f["lam_ratio_tost"], r7["margin"])])
        beta = f["b"]["beta"]
        compared = iv["n"] >= 2
        out.append(verdict_rules.ruled(
            RULE_7, id=f"claim-7-beta-{beta:g}".replace(".", "p"), outcome=o, control_outcome=ctl7_outcome,
            control_summary=ctl7_text or "no Fig. 2 pair",
            statement=f"Equal η/S: the β = {beta:g} endpoint (η = {f['b']['eta']:g}, S = {f['b']['S']}) is as wide as "
                      f"the β = 1 endpoint by the filter-normalized width, at matched progress",
            source="ICLR 2018, Fig. 3",
            evidence={"pairs_compared": iv["n"], **_evidence_ratio("fn_ratio", iv), "margin": margin,
                      "steps_beta_1": steps(params, f["a"], "fig3"), "steps_beta": steps(params, f["b"], "fig3"),
                      "fixed_epoch_rule": fixed, **_evidence_ratio("fixed_width_ratio", f["width_ratio_tost"]),
                      **_evidence_ratio("fixed_lam_ratio", f["lam_ratio_tost"])},
            figure="fig-interp-equal",
            summary=((f"filter-normalized width ratio β/1 {_fmt_ratio(iv)} (90% interval, margin ×{margin:g}); "
                      if compared else "not compared: ") + _matching_text(pairs)
                     + f". Secondary view at fixed epochs (the rule as first registered, not a verdict): line width "
                       f"{_fmt_ratio(f['width_ratio_tost'])}, λ_max {_fmt_ratio(f['lam_ratio_tost'])} ({fixed})"),
            decision=_ratio_decision("filter-normalized width, β / β = 1 (×)", iv, r7m["level"],
                                     holds=[[1 / margin, margin]],
                                     fails=[verdict_rules.below(1 / margin), verdict_rules.above(margin)]),
            power=(_power_ratio(iv, target=math.log(margin) - abs(iv["mean"]) if abs(iv["mean"]) < math.log(margin)
                                else None) if compared else _unmatched_power(params, pairs, f["b"])), **common))
    # -- barrier (as registered); control: the same rule with batch-norm statistics interpolated
    bm = rb["margin"]
    ctl_b = facts["bn"]
    bn_iv = next(iter(ctl_b.values()))["barrier_interpolate"] if ctl_b else None
    ctl_b_outcome = _barrier_outcome([bn_iv], bm) if bn_iv else NOT_RUN
    for fig, label in (("fig2", "fig-interp-different"), ("fig3", "fig-interp-equal")):
        ps = [p for p in main if p["figure"] == fig]
        ivs = [facts["panels"][p["id"]]["barrier"] for p in ps]
        if not ivs:
            continue
        worst = max(ivs, key=lambda iv: iv["mean"])
        outcome = _barrier_outcome(ivs, bm)
        out.append(verdict_rules.ruled(
            RULE_BARRIER, id=f"interpolation-no-barrier-{fig}", outcome=outcome, control_outcome=ctl_b_outcome,
            control_summary=(f"batch-norm statistics interpolated: mean barrier "
                             f"{rounded(bn_iv['mean'], bn_iv['lo'], bn_iv['hi'])} nats" if bn_iv else
                             "no batch norm in the network"),
            statement=f"The straight line between the {'Fig. 2' if fig == 'fig2' else 'Fig. 3'} endpoints crosses no "
                      f"barrier of the training loss (linear mode connectivity)",
            source="this book (after Frankle et al. 2020)",
            evidence={"largest_mean_barrier": worst["mean"], "lo": worst["lo"], "hi": worst["hi"], "margin": bm,
                      "panels": len(ivs)},
            figure=label,
            summary=f"largest mean barrier {rounded(worst['mean'], worst['lo'], worst['hi'])} nats"
                    + (" (95% interval)" if np.isfinite(worst["lo"]) and worst["hi"] > worst["lo"] else "")
                    + f" over {len(ivs)} panels",
            power=(f"the widest upper bound is {max(iv['hi'] for iv in ivs if np.isfinite(iv['hi'])):.2g} nats against "
                   f"a margin of {bm:g}" if outcome == INCONCLUSIVE and any(np.isfinite(iv["hi"]) for iv in ivs)
                   else "fewer than two pairs per panel" if outcome == INCONCLUSIVE else ""), **common))
    # -- the fixed-epoch filter-normalized rule (as registered); control: the pair at equal η/S
    if params.directions > 0:
        ivs = [facts["panels"][p["id"]]["fn_ratio"] for p in fig2]
        outcome = every_part([stats.sign_outcome(iv["lo"], iv["hi"], +1) for iv in ivs])
        civ = [facts["panels"][p["id"]]["fn_ratio"] for p in equal_ratio]
        c_out = every_part([stats.sign_outcome(iv["lo"], iv["hi"], +1) for iv in civ]) if civ else NOT_RUN
        text = "; ".join(f"{facts['panels'][p['id']]['b']['name']} {_fmt_ratio(iv)}" for p, iv in zip(fig2, ivs))
        out.append(verdict_rules.ruled(
            RULE_FN_FIXED, id="interpolation-claim-6-filter-normalized", outcome=outcome, control_outcome=c_out,
            control_summary=("equal η/S pair: ratio " + "; ".join(_fmt_ratio(iv) for iv in civ)) if civ else "",
            source="this book (directions of Li et al. 2018)",
            evidence={f"ratio_{i + 1}": math.exp(iv["mean"]) if np.isfinite(iv["mean"]) else None
                      for i, iv in enumerate(ivs)},
            figure="fig-interp-directions",
            summary=f"filter-normalized width ratio (baseline / low ratio): {text}",
            power="; ".join(filter(None, (_power_ratio(iv) for iv in ivs))) if outcome == INCONCLUSIVE else "",
            **common))
    else:
        out.append(verdict_rules.ruled(
            RULE_FN_FIXED, id="interpolation-claim-6-filter-normalized", outcome=NOT_RUN, control_outcome=NOT_RUN,
            source="this book", evidence={}, summary="no directions at this profile", **common))
    return out


def _ratio_decision(measure: str, iv: dict, level: float, *, holds: list, fails: list) -> dict:
    """A width ratio's deciding number: exp of the mean log ratio and of its t interval over the compared
    pairs (the rule decides on the log; the ratio reads better), on a log axis (no interval below two pairs)."""
    e = lambda x: math.exp(x) if np.isfinite(x) else None  # noqa: E731
    return verdict_rules.decision(measure, e(iv["mean"]), e(iv["lo"]), e(iv["hi"]), level=f"{level:.0%} t over pairs",
                                  holds=holds, fails=fails, scale="log")


def _barrier_outcome(ivs: list[dict], margin: float) -> str:
    if all(np.isfinite(iv["hi"]) and iv["hi"] < margin for iv in ivs):
        return HOLDS
    if any(np.isfinite(iv["lo"]) and iv["lo"] > margin for iv in ivs):
        return FAILS
    return INCONCLUSIVE


RULE_6_FIXED = "claim-6-line-width-and-lambda"   # as first registered: the fixed-epoch view (evidence "fixed_epoch_rule")
RULE_6 = "claim-6-bn-invariant-width-matched"
RULE_7_FIXED = "claim-7-equal-width"
RULE_7 = "claim-7-bn-invariant-width-matched"
RULE_BARRIER = "interpolation-no-barrier"
RULE_FN_FIXED = "interpolation-claim-6-filter-normalized"
