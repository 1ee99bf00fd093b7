"""The computed markdown of the width page: its tables, and the numbers its prose glues, one mapping
per section (:func:`replication.notebook.glue_all`); the notebook's prose carries no number."""
from __future__ import annotations

from ... import wording
from ...figures import provenance_text
from ...page import md
from ...wording import decimals_for, number
from . import claims
from .claims import QUANTITIES

share = wording.share


def _said(verdicts, verdict_id: str):
    """A verdict's outcome as the verb of a sentence, in bold, glued as markdown."""
    outcome = {v.id: v for v in verdicts}[verdict_id].outcome
    return md("**" + wording.outcome_verb(outcome) + "**")


def signed_percent(x: float) -> str:
    """``+39%`` / ``−2%`` (a true minus sign)."""
    return wording.signed(100 * x, "+.0f") + "%"


def with_uncertainty(value: float, stderr: float) -> tuple[str, str]:
    """``value`` and ``stderr`` rounded to two significant digits of the standard error."""
    import math

    if not (math.isfinite(stderr) and stderr > 0):
        return f"{value:.4g}", f"{stderr:.2g}"
    decimals = decimals_for(stderr)
    return f"{value:.{decimals}f}", f"{stderr:.{decimals}f}"
def runs_line(results, params) -> str:
    prov = results.provenance
    return (wording.runs_sentence(results.stored, results.computed,
                                  spent=f"{results.wall_time:.0f} s of computation in all") + " "
            f"**Provenance:** profile `{params.profile}`, device {prov['device']}, host `{prov['host']}`, "
            f"code `{prov['code_version']}`; Hessians taken in **{', '.join(results.modes)}** mode.")


def header_values(results, params) -> dict:
    """The provenance sentence under every figure."""
    return {"w_prov": provenance_text(results.provenance, profile=params.profile,
                                      data=f"Fashion-MNIST, {results.n_train:,} training images")}


def validation_values(facts, params, verdicts) -> dict:
    """The toolkit against exact Hessians: sizes of the check, worst errors, coverage of the error bars."""
    exact_checks = [c for c in facts["checks"] if "rates" not in c]
    n_exact_ok = sum(c["passed"] for c in exact_checks)
    cov_checks = [c for c in facts["checks"] if "rates" in c]
    honest = claims.rules.get("width-error-bars-honest")
    return {
        "w_val_samples": params.validation_samples,
        "w_val_probes": params.validation_probes,
        "w_cov_seeds": params.coverage_seeds,
        "w_cov_probes": params.coverage_probes,
        "w_nominal": f"{100 * claims.NOMINAL:g}%",
        "w_hvp64": number(facts["max_hvp_error64"], 1),
        "w_hvp32": number(facts["max_hvp_error32"], 1),
        "w_lanczos_err": number(facts["max_lanczos_error"], 1),
        "w_checks_passed": (("All " + str(len(exact_checks))) if n_exact_ok == len(exact_checks)
                            else f"{n_exact_ok} of the {len(exact_checks)}"),
        "w_cov_threshold": f"{honest['nominal'] - honest['slack']:.3f}",
        "w_cov_lowest": f"{min(iv[0] for c in cov_checks for iv in c['intervals']):.3f}",
        "w_cov_range": f"{min(min(c['rates']) for c in cov_checks):.3f} to {max(max(c['rates']) for c in cov_checks):.3f}",
        "w_single": share(facts["single_covered"], facts["single_total"]),
        "w_said_exact": _said(verdicts, "width-toolkit-exact"),
        "w_said_bars": _said(verdicts, "width-error-bars-honest"),
    }


def network_values(results, params, facts) -> dict:
    """The trained network: its architecture, training and accuracy, and the gpu profile's network."""
    from ... import models, profiles

    gpu = profiles.chapter_values("gpu", "width")
    return {
        "w_arch": facts["architecture"],
        "w_nparams": f"{facts['n_parameters']:,}",
        "w_ntrain": f"{results.n_train:,}",
        "w_epochs": f"{facts['epochs']} epoch" + ("s" if facts["epochs"] != 1 else ""),
        "w_lr": format(params.lr, "g"),
        "w_bs": params.batch_size,
        "w_train_acc": format(100 * facts["train_acc"], ".1f"),
        "w_test_acc": format(100 * facts["test_acc"], ".1f"),
        "w_train_loss": format(facts["train_loss"], ".3f"),
        "w_data_seed": results.train_config["data_seed"],
        "w_gpu_arch": models.describe(784, gpu["hidden"], 10),
        "w_gpu_ntrain": f"{gpu['n_train']:,}",
    }


def _within_budget(hvps: float, prefix: str, suffix: str = "") -> str:
    return "not within the budget" if hvps != hvps else f"{prefix}{hvps:.0f}{suffix}"


def convergence_values(facts, params, verdicts) -> dict:
    """Lanczos against power iteration: the target, the reference, the HVPs each needs."""
    from .experiment import convergence_config

    c = facts["curves"]
    return {
        "w_target": format(claims.TARGET, "g"),
        "w_ref_tol": number(convergence_config(params).reference_tol, 1),
        "w_conv_n": f"{params.convergence_samples:,}",
        "w_k": c["k"],
        "w_lam1": format(c["reference"][0], ".3g"),
        "w_lam2": format(c["reference"][1], ".3g"),
        "w_gap": format(c["gap"], ".2f"),
        "w_l_hvp1": _within_budget(c["lanczos_to_target1"], "after ", " HVPs"),
        "w_p_hvp1": _within_budget(c["power_to_target1"], "after "),
        "w_l_hvpk": _within_budget(c["lanczos_to_targetk"], "after ", " HVPs"),
        "w_l_stop1_err": number(c["lanczos_stop1_err"]),
        "w_p_stop_err": number(c["power_stop_err"]),
        "w_max_hvp": params.max_hvp,
        "w_power_max_iter": params.power_max_iter,
        "w_said_lanczos": _said(verdicts, "width-lanczos-fewer-hvps"),
    }


def _rule_and_advice(results, params, facts) -> tuple[str, str]:
    """The sample-count rule's pick said in words, and what it advises the other chapters."""
    from ... import profiles

    if facts["rule_met"]:
        below = facts["below_chosen"]
        rule = (f"the rule picks {facts['chosen']:,} samples, {100 * facts['chosen'] / results.n_train:.0f}% of the "
                f"training set" + (f"; at {below['n']:,} samples at least one draw is still off by "
                                   f"{100 * max(below[q]['max_dev'] for q in QUANTITIES):.1f}%." if below else
                                   ", the smallest count measured."))
        advice = (f"So a chapter that measures a network like this one should average its Hessian over at "
                  f"least {facts['chosen']:,} random training samples.")
    else:
        rule = (f"no count measured meets the rule at this profile; the largest count measured, {facts['chosen']:,} "
                f"samples, is the closest.")
        advice = (f"At this profile the rule names no sample count: a chapter that measures a network like this one "
                  f"should use more than {facts['chosen']:,} samples, or the whole training set.")
    try:
        sharp = profiles.chapter_values(params.profile, "sharpness").get("hessian_samples")
    except Exception:  # a user profile without that chapter
        sharp = None
    if sharp is not None:
        advice += (f" The η/S chapter measures deeper networks on {sharp:,} samples at this profile"
                   + ("; its own networks decide whether that suffices, which this chapter does not test."
                      if not facts["rule_met"] or sharp >= facts["chosen"]
                      else f", fewer than this rule asks for on this network; it must show that its networks need fewer."))
    return rule, advice


def samples_values(results, params, facts, verdicts) -> dict:
    """How many samples: the draws and counts, the whole set's values, the smallest and chosen counts'
    spread and bias, the rule's pick and its advice."""
    full, s0, ch = results.full, facts["smallest"], facts["at_chosen"]
    rule, advice = _rule_and_advice(results, params, facts)
    return {
        "w_draws": params.draws,
        "w_counts": ", ".join(f"{n:,}" for n in params.sample_counts),
        "w_tol": format(100 * results.tolerance, "g"),
        "w_trace_hvp": params.trace_hvp,
        "w_fro_probes": params.frobenius_probes,
        "w_chosen": f"{facts['chosen']:,}",
        "w_full_n": f"{full['n']:,}",
        "w_full_lam": format(full["lam_max"], ".4g"),
        "w_full_tr": format(full["trace"], ".4g"),
        "w_full_fro": format(full["frobenius"], ".4g"),
        "w_small_n": f"{s0['n']:,}",
        "w_small_min": format(s0["lam_max"]["min"], ".3g"),
        "w_small_max": format(s0["lam_max"]["max"], ".3g"),
        "w_small_ratio": format(s0["lam_max"]["ratio"], ".2f"),
        "w_small_dev": format(100 * max(s0[q]["max_dev"] for q in QUANTITIES), ".0f"),
        "w_small_bias_lam": signed_percent(s0["lam_max"]["bias"]),
        "w_small_bias_tr": signed_percent(s0["trace"]["bias"]),
        "w_small_bias_fro": signed_percent(s0["frobenius"]["bias"]),
        "w_chosen_dev": format(100 * max(ch[q]["max_dev"] for q in QUANTITIES), ".1f"),
        "w_chosen_ratio": format(ch["lam_max"]["ratio"], ".2f"),
        "w_rule_sentence": rule,
        "w_advice": advice,
        "w_said_samples": _said(verdicts, "width-sample-count"),
    }


def timing_values(facts, provenance) -> dict:
    """Where and when the costs were measured, one HVP in ms, the three measurements together."""
    tm = facts["timing"]
    return {
        "w_time_device": tm["device"],
        "w_time_host": provenance["host"],
        "w_time_created": str(provenance["created"]).replace(" UTC", "")[:16] + " UTC",
        "w_t_hvp_ms": format(1000 * tm["seconds"]["hvp"], ".3g"),
        "w_t_all": format(sum(tm["seconds"][k] for k in ("lam_max", "trace", "frobenius")), ".2g"),
    }


# -- tables (computed markdown; ``nb.markdown`` numbers those announced as "**Table: ...**") -------------
def checks_table(checks: list[dict]) -> str:
    lines = ["**Table: checks against the exact Hessians.** Worst case over the tiny networks (coverage: the rate of "
             "each network); each rule was fixed before the runs.", "",
             "| check | rule | result | verdict |", "| --- | --- | ---: | --- |"]
    for c in checks:
        worst = ", ".join(f"{x:.3f}" for x in c["rates"]) if "rates" in c else number(c["worst"])
        lines.append(f"| {c['check']} | {c['rule']} | {worst} | **{'pass' if c['passed'] else 'FAIL'}** |")
    return "\n".join(lines)


NETWORK_NAMES = {"mlp-tanh": "tanh MLP", "mlp-relu": "ReLU MLP", "cnn": "small CNN"}


def validation_table(rows: list[dict]) -> str:
    """Per network: exact value and estimate ± standard error (rounded to it), and whether the 95% bar covers it."""
    names = {"hutchinson": r"Tr $H$, Hutchinson", "hutch++": r"Tr $H$, Hutch++", "frobenius": r"$\Vert H\Vert_F$"}
    hvps = sorted({e["n_hvp"] for r in rows for e in r["estimates"].values()})
    lines = ["**Table: one estimate per network against the exact value.** "
             f"Each from {' or '.join(str(n) for n in hvps)} HVPs; z: (estimate − exact) / standard error; covered: "
             "inside ±1.96 standard errors.", "",
             "| network (parameters) | quantity | exact | estimate ± s.e. | z | covered |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        for i, (key, label) in enumerate(names.items()):
            e = r["estimates"][key]
            est, se = with_uncertainty(e["estimate"], e["stderr"])
            exact = f"{e['truth']:.4g}"
            lead = f"{NETWORK_NAMES.get(r['model'], r['model'])} ({r['dim']:,})" if i == 0 else ""
            z = wording.signed(e["z"], "+.1f")
            lines.append(f"| {lead} | {label} | {exact} | {est} ± {se} | {z} | {'yes' if e['covered'] else 'no'} |")
    return "\n".join(lines)


def stopping_table(curves: dict, *, target: float) -> str:
    """Where each method's own stopping rule stops, and the error it has there."""
    k = curves["k"]
    t = number(target, 1)
    rows = [(r"$\lambda_{\max}$", f"Lanczos, residual ≤ {t}·θ (ours)", curves["lanczos_stop1_hvp"],
             curves["lanczos_stop1_err"]),
            (r"$\lambda_{\max}$", f"power iteration, change < {t} (PyHessian)", curves["power_stop_hvp"],
             curves["power_stop_err"]),
            (f"top {k}", f"Lanczos, residual ≤ {t}·θ (ours)", curves["lanczos_stopk_hvp"], curves["lanczos_stopk_err"])]
    rows += [(f"top {k}", f"power iteration with deflation, change < {d['tol']:g}", d["n_hvp"], d["error"])
             for d in curves["deflation"]]
    lines = ["**Table: where each stopping rule stops.** HVPs used and the relative error there, against the float64 "
             f"reference (largest over the top {k} for the top-{k} rows).", "",
             "| target | method and stopping rule | HVPs | relative error |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {a} | {b} | {'not reached' if n != n else f'{n:.0f}'} | {number(e)} |" for a, b, n, e in rows]
    return "\n".join(lines)


def counts_table(stats: list[dict], full: dict, chosen: int, tolerance: float) -> str:
    lines = ["**Table: the three quantities at each sample count.** Over the draws, against the whole training set "
             rf"of {full['n']:,} images ($\lambda_{{\max}}$ = {full['lam_max']:.4g}, Tr $H$ = {full['trace']:.4g}, "
             rf"$\Vert H\Vert_F$ = {full['frobenius']:.4g}).", "",
             r"| samples | $\lambda_{\max}$ over the draws: min – max (max/min) | largest distance from the whole set: "
             r"$\lambda_{\max}$ | Tr $H$ | $\Vert H\Vert_F$ " f"| all within {100 * tolerance:g}% |",
             "| ---: | ---: | ---: | ---: | ---: | --- |"]
    for s in stats:
        ok = all(s[q]["max_dev"] <= tolerance for q in QUANTITIES)
        mark = " (chosen)" if s["n"] == chosen else ""
        lam = s["lam_max"]
        lines.append(f"| {s['n']:,}{mark} | {lam['min']:.1f} – {lam['max']:.1f} ({lam['ratio']:.2f}×) | "
                     f"{100 * lam['max_dev']:.1f}% | {100 * s['trace']['max_dev']:.1f}% | "
                     f"{100 * s['frobenius']['max_dev']:.1f}% | {'yes' if ok else 'no'} |")
    return "\n".join(lines)


def timing_table(tm: dict, full_tm: dict, n: int, n_full: int) -> str:
    labels = [("first_hvp", "first HVP (builds the gradient graph)", None), ("hvp", "one further HVP", None),
              ("lam_max", r"$\lambda_{\max}$ (Lanczos, residual rule)", "lam_max"),
              ("trace", r"Tr $H$ (Hutch++)", "trace"), ("frobenius", r"$\Vert H\Vert_F$", "frobenius")]
    lines = ["**Table: what one measurement costs.** Median over the draws at the chosen sample count, and the "
             "whole training set for comparison.", "",
             f"| measurement | HVPs | seconds, {n:,} samples | seconds, whole set ({n_full:,}) |",
             "| --- | ---: | ---: | ---: |"]
    for key, label, hk in labels:
        hv = f"{tm['n_hvp'][hk]:.0f}" if hk else "1"
        lines.append(f"| {label} | {hv} | {tm['seconds'][key]:.2g} | {full_tm['seconds'][key]:.2g} |")
    return "\n".join(lines)


# -- the benchmark against PyHessian (its record read by .benchmark) ---------------------------------
def _cost(row: dict, who: str) -> str:
    """``6 HVPs, 5.2 s`` from a cost row's ``<who>: HVPs`` and ``<who>: time (s)`` cells (text kept as is)."""
    hvp, seconds = row.get(f"{who}: HVPs", ""), row.get(f"{who}: time (s)", "")
    if not hvp.replace(".", "", 1).isdigit():
        return hvp
    return f"{hvp} HVPs" + (f", {seconds} s" if seconds else "")


def _ratio(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return (f"more than {text[1:].strip()}" if text.startswith(">") else text) + f" the {what}"


def _target(text: str) -> str:
    return {"λ_max": r"$\lambda_{\max}$"}.get(text, text.replace("top-", "top "))


def benchmark_markdown(bench: dict) -> str:
    """The benchmark's provenance, its recorded setup and its cost table (or why there is none); never a
    folder of the machine."""
    if not bench.get("found"):
        return (f"*The benchmark against PyHessian (`benchmarks/bench_hessian.py`) has not been run on this "
                f"machine (host `{bench['this_host']}`): the repository holds no `benchmarks/results/hessian_*.md`.*")
    date = (bench["date"] if bench["date_source"] == "file"
            else f"{bench['date']} (the file's date; the record states none)")
    where = "this machine" if bench["same_host"] else f"another machine, not this one (`{bench['this_host']}`)"
    lines = [f"Source: the record `{bench['file']}`, host `{bench['host']}` ({where}), {date}.", ""]
    if bench["setup"]:
        lines += ["```{admonition} The benchmark's setup, as recorded", "\n\n".join(bench["setup"]), "```", ""]
    cost = bench["cost"]
    if cost and {"target", "ours: HVPs", "PyHessian: HVPs"} <= set(cost[0]):
        lines += ["**Table: the benchmark against PyHessian.** HVPs and seconds until each estimate is, and stays, "
                  "within the benchmark's relative tolerance of a float64 reference, graph building included. "
                  "PyHessian is credited with an ideal stopping rule; the record also lists the runs with its own.",
                  "", "| target | ours (Lanczos) | PyHessian (power iteration) | PyHessian needs |",
                  "| --- | --- | --- | --- |"]
        for r in cost:
            ratio = ", ".join(x for x in (_ratio(r.get("HVP ratio", ""), "HVPs"),
                                          _ratio(r.get("time ratio", ""), "time")) if x)
            lines.append(f"| {_target(r['target'])} | {_cost(r, 'ours')} | {_cost(r, 'PyHessian')} | {ratio} |")
    elif cost:
        header = list(cost[0])
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(r.get(h, "") for h in header) + " |" for r in cost]
    return "\n".join(lines)
