"""The summary numbers and the verdicts of the chapter "Measuring the width of a minimum".

Every rule below is a constant fixed before the numbers; the page glues the constants, so no
threshold is typed in the prose.
"""
from __future__ import annotations

import math

import numpy as np

from ...claims import FAILS, HOLDS, INCONCLUSIVE, Verdict

QUANTITIES = ("lam_max", "trace", "frobenius")
HVP_EXACT = 1e-10      # float64 HVP vs dense: relative error allowed
HVP_FLOAT32 = 1e-5     # float32 HVP vs dense
EIG_EXACT = 1e-8       # Lanczos (tol 1e-10) vs dense eigenvalues
POWER_EXACT = 1e-6     # power iteration run to residual 1e-9
TARGET = 1e-3          # "accurate" eigenvalue: relative error below this
NOMINAL = 0.95         # the error bars' nominal coverage
COVERAGE_SLACK = 0.03  # coverage accepted within nominal ± (slack + COVERAGE_SIGMAS binomial s.e.)
COVERAGE_SIGMAS = 3.0  # ... and judged "fails" only outside that band; between INNER_SIGMAS and it: inconclusive
INNER_SIGMAS = 2.0

HVP_EXACT = 1e-10      # float64 HVP vs dense: relative error allowed
HVP_FLOAT32 = 1e-5     # float32 HVP vs dense
EIG_EXACT = 1e-8       # Lanczos (tol 1e-10) vs dense eigenvalues
POWER_EXACT = 1e-6     # power iteration run to residual 1e-9
TARGET = 1e-3          # "accurate" eigenvalue: relative error below this


def coverage_band(n: int, nominal: float = NOMINAL, slack: float = COVERAGE_SLACK,
                  sigmas: float = COVERAGE_SIGMAS) -> tuple[float, float]:
    """Coverage rates accepted over n repetitions: nominal ± (slack + ``sigmas`` binomial standard errors)."""
    half = slack + sigmas * math.sqrt(nominal * (1 - nominal) / n)
    return nominal - half, min(1.0, nominal + half)


def validation_checks(rows: list[dict]) -> list[dict]:
    """One check per claim about the toolkit: rule, worst case over the tiny networks, pass/fail."""
    from ...wording import number

    lo, hi = coverage_band(rows[0]["coverage_seeds"])
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
        out.append(dict(check=f"{label}: 95% error bars cover the truth",
                        rule=f"coverage over {rows[0]['coverage_seeds']} seeds in [{lo:.3f}, {hi:.3f}]",
                        worst=min(rates),
                        rates=rates, passed=all(lo <= x <= hi for x in rates)))
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
    return out


# -- verdicts -------------------------------------------------------------------------------------------
def _coverage_outcome(rates, n: int) -> str:
    lo_in, hi_in = coverage_band(n, sigmas=INNER_SIGMAS)
    lo_out, hi_out = coverage_band(n)
    if all(lo_in <= r <= hi_in for r in rates):
        return HOLDS
    if any(r < lo_out or r > hi_out for r in rates):
        return FAILS
    return INCONCLUSIVE


def verdicts(facts: dict, *, profile: str, tolerance: float, n_train: int) -> list[Verdict]:
    """The toolkit's claims about itself, each with its rule and three outcomes."""
    from ...wording import number

    common = dict(claim=None, chapter="width", profile=profile, source="this book (toolkit validation)")
    out = []
    exact = [c for c in facts["checks"] if "rates" not in c]
    n_ok = sum(c["passed"] for c in exact)
    out.append(Verdict(
        id="width-toolkit-exact", statement="HVPs and eigenvalues of the toolkit equal those of the dense Hessian",
        rule=(f"on every tiny network: float64 HVP error ≤ {number(HVP_EXACT, 1)}, float32 ≤ {number(HVP_FLOAT32, 1)}, "
              f"Lanczos eigenvalues ≤ {number(EIG_EXACT, 1)}, power iteration ≤ {number(POWER_EXACT, 1)} (relative): holds if all pass, "
              "fails if any does not, inconclusive without networks"),
        outcome=(INCONCLUSIVE if not exact else HOLDS if n_ok == len(exact) else FAILS),
        evidence={"checks": len(exact), "passed": n_ok, "max_hvp_error_float64": facts["max_hvp_error64"],
                  "max_hvp_error_float32": facts["max_hvp_error32"], "max_lanczos_error": facts["max_lanczos_error"]},
        figure="", summary=(f"all {n_ok} exactness checks pass." if n_ok == len(exact) > 1
                               else f"{n_ok} of {len(exact)} exactness checks pass."), **common))
    cov = [c for c in facts["checks"] if "rates" in c]
    rates = [r for c in cov for r in c["rates"]]
    n_seeds = facts["coverage_seeds"]
    lo_in, hi_in = coverage_band(n_seeds, sigmas=INNER_SIGMAS)
    lo_out, hi_out = coverage_band(n_seeds)
    out.append(Verdict(
        id="width-error-bars-honest", statement="The 95% error bars of the trace and Frobenius estimates cover the truth 95% of the time",
        rule=(f"coverage over {n_seeds} seeds, each estimator and network: holds if all in [{lo_in:.3f}, {hi_in:.3f}] "
              f"(nominal ± ({COVERAGE_SLACK:g} + {INNER_SIGMAS:g} binomial s.e.)), fails if any outside "
              f"[{lo_out:.3f}, {hi_out:.3f}] ({COVERAGE_SIGMAS:g} s.e.), inconclusive otherwise"),
        outcome=_coverage_outcome(rates, n_seeds) if rates else INCONCLUSIVE,
        evidence={"lowest_rate": min(rates, default=math.nan), "highest_rate": max(rates, default=math.nan),
                  "seeds": n_seeds},
        summary=f"coverage between {min(rates):.3f} and {max(rates):.3f} over {n_seeds} seeds." if rates else "",
        **common))
    c = facts["curves"]
    lz, pw = c["lanczos_to_target1"], c["power_to_target1"]
    if math.isnan(lz) and math.isnan(pw):
        outcome, text = INCONCLUSIVE, "neither method reached the target within the HVP budget"
    elif math.isnan(pw) or (not math.isnan(lz) and lz < pw):
        outcome = HOLDS
        text = f"Lanczos {lz:.0f} HVPs, power iteration " + ("not within the budget" if math.isnan(pw) else f"{pw:.0f}")
    elif math.isnan(lz) or lz > pw:
        outcome = FAILS
        text = f"Lanczos " + ("not within the budget" if math.isnan(lz) else f"{lz:.0f} HVPs") + f", power iteration {pw:.0f}"
    else:
        outcome, text = INCONCLUSIVE, f"both {lz:.0f} HVPs"
    out.append(Verdict(
        id="width-lanczos-fewer-hvps", statement="Lanczos reaches an accurate λ_max with fewer HVPs than power iteration",
        rule=(f"HVPs until the relative error is, and stays, ≤ {TARGET:g} on the trained network: holds if "
              "Lanczos needs fewer, fails if more, inconclusive if equal or neither gets there"),
        outcome=outcome, evidence={"lanczos_hvp": lz, "power_hvp": pw, "gap_ratio": c["gap"]},
        figure="fig-w-convergence", summary=text + ".", **common))
    chosen = facts["chosen"] if facts["rule_met"] else None
    largest = facts["stats"][-1]["n"]
    if chosen is not None:
        outcome = HOLDS
        text = (f"every draw within {100 * tolerance:g}% from {chosen:,} samples on, "
                f"{100 * chosen / n_train:.0f}% of the training set.")
    else:
        worst = max(facts["stats"][-1][q]["max_dev"] for q in QUANTITIES)
        outcome = FAILS if worst > 2 * tolerance else INCONCLUSIVE
        text = f"at the largest count measured, {largest:,}, a draw is still {100 * worst:.1f}% off."
    out.append(Verdict(
        id="width-sample-count", statement="A subset of the training set gives the Hessian's width measures within the tolerance",
        rule=(f"smallest count at which (and above which) every draw's λ_max, Tr H and ‖H‖_F lie within "
              f"{100 * tolerance:g}% of the whole training set: holds if one of the counts measured qualifies; "
              f"otherwise fails if the largest count is off by more than twice the tolerance, inconclusive if not"),
        outcome=outcome, evidence={"chosen": chosen, "largest_count": largest, "tolerance": tolerance},
        figure="fig-w-samples", summary=text, **common))
    return out
