"""The summary numbers and the verdicts of the chapter "Measuring the width of a minimum".

Every rule is registered in ``rules.yaml`` beside this file (:mod:`replication.rules`) before the
numbers; its thresholds are read from there, the page glues them, so no threshold is typed in the
prose.  Each verdict is judged with its negative control (:func:`replication.claims.ruled`).
"""
from __future__ import annotations

import math

import numpy as np

from ... import rules, stats
from ...claims import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Verdict, ruled

QUANTITIES = ("lam_max", "trace", "frobenius")
_EXACT = rules.get("width-toolkit-exact")
HVP_EXACT = _EXACT["hvp_float64"]      # float64 HVP vs dense: relative error allowed
HVP_FLOAT32 = _EXACT["hvp_float32"]    # float32 HVP vs dense
EIG_EXACT = _EXACT["lanczos"]          # Lanczos (tol 1e-10) vs dense eigenvalues
POWER_EXACT = _EXACT["power"]          # power iteration run to residual 1e-9
TARGET = rules.get("width-lanczos-fewer-hvps")["target"]   # "accurate" eigenvalue: relative error below this
_COVERAGE = rules.get("width-error-bars-honest")
NOMINAL = _COVERAGE["nominal"]         # the error bars' nominal coverage
#: the registered (original) coverage rule's bands: nominal ± (slack + sigmas binomial s.e.)
_COVERAGE_FIRST = _COVERAGE.original()
COVERAGE_SLACK = _COVERAGE_FIRST["slack"]
COVERAGE_SIGMAS = _COVERAGE_FIRST["sigmas"]
INNER_SIGMAS = _COVERAGE_FIRST["inner_sigmas"]


def coverage_band(n: int, nominal: float = NOMINAL, slack: float = COVERAGE_SLACK,
                  sigmas: float = COVERAGE_SIGMAS) -> tuple[float, float]:
    """Coverage rates accepted over n repetitions by the rule as first registered:
    nominal ± (slack + ``sigmas`` binomial standard errors)."""
    half = slack + sigmas * math.sqrt(nominal * (1 - nominal) / n)
    return nominal - half, min(1.0, nominal + half)


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a proportion from k successes in n trials: the (1 − level)/2 quantile
    of Beta(k, n − k + 1) and the (1 + level)/2 quantile of Beta(k + 1, n − k) (0 and 1 at the ends).
    It covers the true proportion with probability at least ``level`` for every n (no normal
    approximation).  (Could be shared: ``replication.stats``.)"""
    from scipy.stats import beta

    if not (0 <= k <= n and n > 0):
        raise ValueError(f"binomial_interval: k={k!r}, n={n!r}: need 0 <= k <= n, n > 0")
    a = 0.5 * (1 - level)
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def coverage_judgement(rates, n: int, rule=None) -> dict:
    """The coverage rule as it stands: each rate's binomial interval (k = rate·n covered of n) against
    the threshold nominal − slack, ends and threshold rounded to the rule's decimals.  Holds when every
    interval lies at or above the threshold, fails when one lies entirely below, else inconclusive."""
    rule = rule or _COVERAGE
    d = int(rule["decimals"])
    threshold = stats.rounded(rule["nominal"] - rule["slack"], d)
    intervals = [tuple(stats.rounded(x, d) for x in binomial_interval(int(round(r * n)), n, rule["level"]))
                 for r in rates]
    if not intervals:
        outcome = INCONCLUSIVE
    elif all(lo >= threshold for lo, _ in intervals):
        outcome = HOLDS
    elif any(hi < threshold for _, hi in intervals):
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    return dict(outcome=outcome, threshold=threshold, intervals=intervals,
                lowest=min((lo for lo, _ in intervals), default=math.nan))


def validation_checks(rows: list[dict]) -> list[dict]:
    """One check per claim about the toolkit: rule, worst case over the tiny networks, pass/fail."""
    from ...wording import number

    n_cov = rows[0]["coverage_seeds"]
    worst = lambda f: max(f(r) for r in rows)  # noqa: E731
    checks = [
        ("HVP, double backward, float64", f"relative error ≤ {number(HVP_EXACT, 1)}", worst(lambda r: r["hvp_error"]["double_backward"]), HVP_EXACT),
        ("HVP, forward-over-reverse, float64", f"relative error ≤ {number(HVP_EXACT, 1)}", worst(lambda r: r["hvp_error"]["func"]), HVP_EXACT),
        ("HVP, float32", f"relative error ≤ {number(HVP_FLOAT32, 1)}", worst(lambda r: r["hvp_error"]["float32"]), HVP_FLOAT32),
        ("Lanczos, top 3 eigenvalues", f"relative error ≤ {number(EIG_EXACT, 1)}", worst(lambda r: r["lanczos_error"]), EIG_EXACT),
        ("power iteration, largest-magnitude eigenvalue", f"relative error ≤ {number(POWER_EXACT, 1)}", worst(lambda r: r["power_error"]), POWER_EXACT),
    ]
    out = [dict(check=c, rule=rule, worst=w, passed=bool(w <= limit)) for c, rule, w, limit in checks]
    for key, label in (("hutchinson", "Hutchinson trace"), ("hutch++", "Hutch++ trace"),
                       ("frobenius", "Frobenius norm²")):
        rates = [r["coverage"][key] for r in rows]
        judged = coverage_judgement(rates, n_cov)
        out.append(dict(check=f"{label}: 95% error bars cover the truth",
                        rule=(f"binomial interval of the coverage over {n_cov} seeds at or above "
                              f"{judged['threshold']:.3f}"),
                        worst=min(rates), rates=rates, intervals=judged["intervals"],
                        control_rates=[r.get("coverage_control", {}).get(key, math.nan) for r in rows],
                        passed=judged["outcome"] == HOLDS, outcome=judged["outcome"]))
    return out


def _first_within(n_hvp, errors, target=TARGET) -> float:
    """HVPs after which the error is, and stays, ≤ target (nan if never)."""
    errors = np.asarray(errors, float)
    bad = np.nonzero(~(errors <= target))[0]
    if bad.size == 0:
        return float(n_hvp[0])
    if bad[-1] + 1 >= len(errors):
        return math.nan
    return float(n_hvp[bad[-1] + 1])


def convergence_curves(conv: dict) -> dict:
    """Relative errors against HVPs, and where each method's own stopping rule would stop."""
    ref = np.array(conv["reference"]["eigenvalues"])
    k = len(ref) - 1
    lz, pw = conv["lanczos"], conv["power"]
    lam1 = ref[0]
    l_err1 = [abs(v[0] - lam1) / abs(lam1) for v in lz["values"]]
    l_errk = [max(abs(a - b) / abs(b) for a, b in zip(v, ref[:k])) if len(v) >= k else math.nan
              for v in lz["values"]]
    p_err1 = [abs(v - lam1) / abs(lam1) for v in pw["values"]]
    # our rule: every wanted Ritz pair has residual ≤ 1e-3·|θ|; PyHessian's: relative change < 1e-3
    stop1 = next((i for i, (v, r) in enumerate(zip(lz["values"], lz["residuals"])) if r[0] <= TARGET * abs(v[0])), None)
    stopk = next((i for i, (v, r) in enumerate(zip(lz["values"], lz["residuals"]))
                  if len(v) >= k and all(ri <= TARGET * abs(vi) for vi, ri in zip(v, r))), None)
    vals = pw["values"]
    pstop = next((i for i in range(1, len(vals)) if abs(vals[i] - vals[i - 1]) / (abs(vals[i - 1]) + 1e-6) < TARGET),
                 None)
    deflation = [dict(tol=d["tol"], n_hvp=d["n_hvp"], seconds=d["seconds"],
                      error=float(max(abs(a - b) / abs(b)
                                      for a, b in zip(sorted(d["eigenvalues"], reverse=True), ref[:k]))))
                 for d in conv["deflation"]]
    at = lambda seq, i, f=float: (f(seq[i]) if i is not None else math.nan)  # noqa: E731
    return dict(k=k, reference=ref.tolist(), lanczos_hvp=lz["n_hvp"], lanczos_err1=l_err1, lanczos_errk=l_errk,
                power_hvp=pw["n_hvp"], power_err1=p_err1,
                lanczos_to_target1=_first_within(lz["n_hvp"], l_err1),
                lanczos_to_targetk=_first_within(lz["n_hvp"], l_errk),
                power_to_target1=_first_within(pw["n_hvp"], p_err1),
                lanczos_stop1_hvp=at(lz["n_hvp"], stop1), lanczos_stop1_err=at(l_err1, stop1),
                lanczos_stopk_hvp=at(lz["n_hvp"], stopk), lanczos_stopk_err=at(l_errk, stopk),
                power_stop_hvp=at(pw["n_hvp"], pstop), power_stop_err=at(p_err1, pstop),
                gap=float(ref[1] / ref[0]), deflation=deflation)


def count_stats(samples: list[dict], full: dict) -> list[dict]:
    """Per sample count: each quantity's draws, their range, and their distance from the whole set."""
    out = []
    for n in sorted({r["n"] for r in samples}):
        rows = [r for r in samples if r["n"] == n]
        entry = {"n": n, "draws": len(rows)}
        for q in QUANTITIES:
            v = np.array([r[q] for r in rows], float)
            entry[q] = dict(values=v.tolist(), median=float(np.median(v)), mean=float(v.mean()),
                            min=float(v.min()), max=float(v.max()),
                            ratio=float(v.max() / v.min()) if v.min() > 0 else math.inf,
                            max_dev=float(np.max(np.abs(v / full[q] - 1))),
                            bias=float(v.mean() / full[q] - 1))
        out.append(entry)
    return out


def choose_sample_count(stats: list[dict], tolerance: float) -> int | None:
    """The rule: the smallest count at which, and at every larger count measured, every draw's λ_max,
    Tr H and ||H||_F lies within ``tolerance`` (relative) of its whole-training-set value.
    None when no count qualifies."""
    ok = [all(s[q]["max_dev"] <= tolerance for q in QUANTITIES) for s in stats]
    for i, s in enumerate(stats):
        if all(ok[i:]):
            return s["n"]
    return None


def timing(samples: list[dict], n: int) -> dict:
    """Median over the draws at count n of the seconds and HVPs of each measurement."""
    rows = [r for r in samples if r["n"] == n]
    sec = {k: float(np.median([r["seconds"][k] for r in rows])) for k in rows[0]["seconds"]}
    hvp = {k: float(np.median([r["n_hvp"][k] for r in rows])) for k in rows[0]["n_hvp"]}
    return {"seconds": sec, "n_hvp": hvp, "draws": len(rows), "device": rows[0]["device"]}


def summary(results) -> dict:
    """The numbers and choices the chapter states, computed from ``results``."""
    out: dict = {}
    checks = validation_checks(results.validation)
    out["checks"] = checks
    out["validation_passed"] = all(c["passed"] for c in checks)
    out["n_checks"], out["n_passed"] = len(checks), sum(c["passed"] for c in checks)
    out["max_hvp_error64"] = max(max(r["hvp_error"]["double_backward"], r["hvp_error"]["func"])
                                 for r in results.validation)
    out["max_hvp_error32"] = max(r["hvp_error"]["float32"] for r in results.validation)
    out["max_lanczos_error"] = max(r["lanczos_error"] for r in results.validation)
    out["single_covered"] = sum(e["covered"] for r in results.validation for e in r["estimates"].values())
    out["single_total"] = sum(len(r["estimates"]) for r in results.validation)
    t = results.training
    h = t["history"]
    out.update(architecture=t["architecture"], n_parameters=t["n_parameters"], epochs=len(h["train_acc"]),
               train_acc=h["train_acc"][-1], test_acc=h["test_acc"][-1], train_loss=h["train_loss"][-1])
    out["curves"] = convergence_curves(results.convergence)
    stats = count_stats(results.samples, results.full)
    out["stats"] = stats
    chosen = choose_sample_count(stats, results.tolerance)
    out["rule_met"] = chosen is not None
    out["chosen"] = chosen if chosen is not None else stats[-1]["n"]
    out["smallest"] = stats[0]
    out["at_chosen"] = next(s for s in stats if s["n"] == out["chosen"])
    below = [s for s in stats if s["n"] < out["chosen"]]
    out["below_chosen"] = below[-1] if below else None
    out["timing"] = timing(results.samples, out["chosen"])
    out["timing_full"] = {"seconds": results.full["seconds"], "n_hvp": results.full["n_hvp"]}
    out["modes"] = results.modes
    out["coverage_seeds"] = results.validation[0]["coverage_seeds"]
    out["full_lam_max"] = results.full["lam_max"]
    out["isolated_control"] = isolated_top_control()
    return out


# -- verdicts -------------------------------------------------------------------------------------------
def _coverage_outcome(rates, n: int) -> str:
    """The coverage rule as first registered (its 2- and 3-s.e. bands, no rounding): the original outcome."""
    lo_in, hi_in = coverage_band(n, sigmas=INNER_SIGMAS)
    lo_out, hi_out = coverage_band(n)
    if all(lo_in <= r <= hi_in for r in rates):
        return HOLDS
    if any(r < lo_out or r > hi_out for r in rates):
        return FAILS
    return INCONCLUSIVE


def _first_within_target(n_hvp, values, truth: float) -> float:
    return _first_within(n_hvp, [abs(v - truth) / abs(truth) for v in values])


def isolated_top_control(dim: int = 200, ratio: float = 0.01, max_hvp: int = 30, seed: int = 0) -> dict:
    """The Lanczos rule's negative control: a dense symmetric matrix with eigenvalues 1 and dim − 1 values
    spread over ±``ratio`` (λ₂/λ₁ = ``ratio``), randomly rotated.  Power iteration's error falls like
    (λ₂/λ₁)^(2k), so both methods reach the target in the same few HVPs: the theory predicts no saving."""
    import torch

    from ...hessian import lanczos, power_iteration

    gen = torch.Generator().manual_seed(seed)
    values = torch.cat([torch.ones(1, dtype=torch.float64),
                        torch.linspace(-ratio, ratio, dim - 1, dtype=torch.float64)])
    Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    A = (Q * values) @ Q.T
    lz, pw = [], []
    lanczos(A, k=1, tol=0.0, max_iter=max_hvp, seed=seed, return_eigenvectors=False,
            callback=lambda it, n, v, r: lz.append((n, float(v[0]))))
    power_iteration(A, k=1, tol=0.0, max_iter=max_hvp, seed=seed, return_eigenvectors=False,
                    callback=lambda i, it, n, lam, res: pw.append((n, float(lam))))
    return dict(lanczos_hvp=_first_within_target([n for n, _ in lz], [v for _, v in lz], 1.0),
                power_hvp=_first_within_target([n for n, _ in pw], [v for _, v in pw], 1.0), gap_ratio=ratio)


def lanczos_outcome(lz: float, pw: float, *, tie: str = FAILS) -> str:
    """Fewer HVPs for Lanczos: holds; more: fails; equal: ``tie`` (the amended rule: fails, a tie is no
    saving; the rule as first registered: inconclusive); neither reaches the target: inconclusive.
    A method that never reaches the target counts as needing more than any that does."""
    if math.isnan(lz) and math.isnan(pw):
        return INCONCLUSIVE
    if math.isnan(pw) or (not math.isnan(lz) and lz < pw):
        return HOLDS
    if math.isnan(lz) or lz > pw:
        return FAILS
    return tie


def sample_count_outcome(stats_rows: list[dict], tolerance: float, fail_factor: float) -> tuple[str, int | None, float]:
    """(outcome, chosen count or None, worst relative deviation at the largest count) of the rule."""
    chosen = choose_sample_count(stats_rows, tolerance)
    worst = max(stats_rows[-1][q]["max_dev"] for q in QUANTITIES)
    if chosen is not None:
        return HOLDS, chosen, worst
    return (FAILS if worst > fail_factor * tolerance else INCONCLUSIVE), None, worst


def original_outcome(raw: str, control_under_original: str) -> str:
    """The outcome to report under a rule as first registered, its control judged by that rule too.
    ``claims.ruled`` judges the original outcome against the *current* rule's control; judging it first
    against the original rule's own control keeps a control the first rule could not reject (a tie
    called inconclusive) from lending it a "holds".  (A "not discriminating" there cannot be passed on
    through ``ruled``: the raw outcome is kept.)"""
    from ...claims import NOT_DISCRIMINATING, judge

    judged = judge(raw, control_under_original)
    return raw if judged == NOT_DISCRIMINATING else judged


def profile_with(chapter: str, param: str, at_least: float) -> str:
    """The first built-in profile (smoke, laptop, gpu, paper) whose ``param`` of ``chapter`` is at least
    ``at_least``, said as "the gpu profile (500)", or "no built-in profile" (could be shared)."""
    from ... import profiles

    for name in profiles.NAMES:
        value = profiles.chapter_values(name, chapter).get(param)
        if value is not None and value >= at_least:
            return f"the {name} profile ({value:,})"
    return "no built-in profile"


def verdicts(facts: dict, *, profile: str, tolerance: float, n_train: int, lr: float | None = None) -> list[Verdict]:
    """The toolkit's claims about itself, each judged under its registered rule with its control."""
    from ...wording import number

    common = dict(claim=None, chapter="width", profile=profile, source="this book (toolkit validation)")
    out = []
    # 1. exactness; control: the float32 HVPs held to the float64 bound
    exact = [c for c in facts["checks"] if "rates" not in c]
    n_ok = sum(c["passed"] for c in exact)
    f32 = facts["max_hvp_error32"]
    control = FAILS if f32 > HVP_EXACT else HOLDS
    out.append(ruled(
        "width-toolkit-exact", id="width-toolkit-exact",
        outcome=(INCONCLUSIVE if not exact else HOLDS if n_ok == len(exact) else FAILS),
        control_outcome=control if exact else NOT_RUN,
        control_summary=f"float32 HVP error {number(f32, 1)} against the float64 bound {number(HVP_EXACT, 1)}: {control}.",
        power=("no tiny network was validated at this profile; any profile with validation networks decides it"
               if not exact else ""),
        evidence={"checks": len(exact), "passed": n_ok, "max_hvp_error_float64": facts["max_hvp_error64"],
                  "max_hvp_error_float32": f32, "max_lanczos_error": facts["max_lanczos_error"]},
        figure="", summary=(f"all {n_ok} exactness checks pass." if n_ok == len(exact) > 1
                               else f"{n_ok} of {len(exact)} exactness checks pass."), **common))
    # 2. coverage: binomial interval per rate (amended); control: bars half as wide
    cov = [c for c in facts["checks"] if "rates" in c]
    rates = [r for c in cov for r in c["rates"]]
    control_rates = [r for c in cov for r in c.get("control_rates", []) if r is not None and math.isfinite(r)]
    n_seeds = facts["coverage_seeds"]
    now = coverage_judgement(rates, n_seeds)
    ctrl = coverage_judgement(control_rates, n_seeds) if control_rates else None
    power = ""
    if now["outcome"] == INCONCLUSIVE:
        straddling = [(r, iv) for r, iv in zip(rates, now["intervals"]) if iv[0] < now["threshold"] <= iv[1]]
        parts = []
        for r, (lo, hi) in sorted({min(straddling, key=lambda x: abs(x[0] - now["threshold"])),
                                   min(straddling)}, reverse=True) if straddling else ():
            gap = abs(r - now["threshold"])
            need = stats.runs_needed(n_seeds, 0.5 * (hi - lo), gap) if gap > 0 else 0
            side = "above" if r > now["threshold"] else "below"
            parts.append(f"the coverage {r:.3f} is shown {side} the threshold with about {need:,} repetitions "
                         f"({profile_with('width', 'coverage_seeds', need)} has enough)" if need else
                         f"the coverage {r:.3f} sits on the threshold: no number of repetitions decides it")
        half = max(0.5 * (hi - lo) for lo, hi in now["intervals"])
        power = (f"with {n_seeds} repetitions a coverage's 95% binomial interval is up to ±{half:.3f} wide, so only a "
                 f"coverage at least {stats.detectable_effect(half):.3f} from the threshold {now['threshold']:.3f} is "
                 "decided with 80% power; " + "; ".join(parts) + " (the coverage_seeds parameter)")
    out.append(ruled(
        "width-error-bars-honest", id="width-error-bars-honest",
        outcome=now["outcome"],
        original_outcome=original_outcome(_coverage_outcome(rates, n_seeds) if rates else INCONCLUSIVE,
                                          _coverage_outcome(control_rates, n_seeds) if control_rates else NOT_RUN),
        control_outcome=ctrl["outcome"] if ctrl else NOT_RUN,
        control_summary=(f"error bars half as wide cover between {min(control_rates):.3f} and {max(control_rates):.3f}"
                         f" of {n_seeds} repetitions: {ctrl['outcome']}." if ctrl else
                         "the stored validation runs predate the control (recompute them)."),
        power=power,
        evidence={"lowest_rate": min(rates, default=math.nan), "highest_rate": max(rates, default=math.nan),
                  "lowest_interval_end": now["lowest"], "threshold": now["threshold"], "seeds": n_seeds},
        summary=(f"coverage between {min(rates):.3f} and {max(rates):.3f} over {n_seeds} seeds; the lowest "
                 f"binomial interval starts at {now['lowest']:.3f} against {now['threshold']:.3f}." if rates else ""),
        **common))
    # 3. Lanczos vs power iteration; control: an isolated top eigenvalue (no saving predicted)
    c = facts["curves"]
    lz, pw = c["lanczos_to_target1"], c["power_to_target1"]
    said = lambda x: "not within the budget" if math.isnan(x) else f"{x:.0f} HVPs"  # noqa: E731
    text = f"Lanczos {said(lz)}, power iteration {said(pw)}"
    iso = facts.get("isolated_control") or isolated_top_control()
    iso_outcome = lanczos_outcome(iso["lanczos_hvp"], iso["power_hvp"])
    outcome = lanczos_outcome(lz, pw)
    out.append(ruled(
        "width-lanczos-fewer-hvps", id="width-lanczos-fewer-hvps", outcome=outcome,
        original_outcome=original_outcome(lanczos_outcome(lz, pw, tie=INCONCLUSIVE),
                                          lanczos_outcome(iso["lanczos_hvp"], iso["power_hvp"], tie=INCONCLUSIVE)),
        control_outcome=iso_outcome,
        control_summary=(f"λ₂/λ₁ = {iso['gap_ratio']:g}: Lanczos {said(iso['lanczos_hvp'])}, power iteration "
                         f"{said(iso['power_hvp'])}: {iso_outcome}."),
        power=("neither method reached the target within the HVP budget; a larger max_hvp decides it"
               if outcome == INCONCLUSIVE else ""),
        evidence={"lanczos_hvp": lz, "power_hvp": pw, "gap_ratio": c["gap"],
                  "control_lanczos_hvp": iso["lanczos_hvp"], "control_power_hvp": iso["power_hvp"]},
        figure="fig-w-convergence", summary=text + ".", **common))
    # 4. sample count; control: the smallest count alone
    rule = rules.get("width-sample-count")
    factor = rule["fail_factor"]
    outcome, chosen, worst = sample_count_outcome(facts["stats"], tolerance, factor)
    largest = facts["stats"][-1]["n"]
    smallest = facts["stats"][0]
    ctrl_outcome, _, ctrl_worst = sample_count_outcome([smallest], tolerance, factor)
    eta_lam = (lr * facts["full_lam_max"]) if lr is not None and facts.get("full_lam_max") else math.nan
    if chosen is not None:
        text = (f"every draw within {100 * tolerance:g}% from {chosen:,} samples on, "
                f"{100 * chosen / n_train:.0f}% of the training set.")
    else:
        text = f"at the largest count measured, {largest:,}, a draw is still {100 * worst:.1f}% off."
    power = ""
    if outcome == INCONCLUSIVE:
        power = (f"the largest count measured is off by {100 * worst:.1f}%, between the tolerance and "
                 f"{factor:g} times it; a larger count in sample_counts decides it")
    out.append(ruled(
        "width-sample-count", id="width-sample-count", outcome=outcome, control_outcome=ctrl_outcome,
        matched=rule.matched + (f"; here η λ_max = {eta_lam:.2f} at the measurement" if math.isfinite(eta_lam) else ""),
        control_summary=(f"{smallest['n']:,} samples alone: a draw is {100 * ctrl_worst:.1f}% off: {ctrl_outcome}."),
        power=power,
        evidence={"chosen": chosen, "largest_count": largest, "tolerance": tolerance, "eta_lam_max": eta_lam,
                  "smallest_count_worst": ctrl_worst},
        figure="fig-w-samples", summary=text, **common))
    return out
