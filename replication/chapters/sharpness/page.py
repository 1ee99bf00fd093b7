"""The chapter's computed prose and tables: numbers formatted for people by :mod:`replication.wording` (5.0×10⁻⁶, −0.78, 57%),
findings as numbered tables (``**Table: caption.**`` + a markdown table, which
:func:`replication.notebook.markdown` numbers) and one or two sentences around them.

Presentation only: every number comes from :func:`.claims.summary` and every outcome from the
verdicts of :func:`.claims.verdicts`; nothing here decides anything.
"""
from __future__ import annotations

import math

from ...wording import interval, number, numbers, outcome_phrase, signed, significant, to_uncertainty
from . import claims
from .experiment import CIFAR

QUANTITY_MATH = {"frobenius": r"$\Vert H\Vert_F$", "lam_max": r"$\lambda_{\max}$", "trace": r"$\operatorname{Tr}H$",
                 "val_acc": "validation accuracy", "train_loss": "final training loss"}
DESIGN = {"main": "Design A", "factorial": "Design B", "v3": "The shallow network"}
NET = claims.NETS            # group -> the word in the verdict ids (deep, equal-time, shallow)


def diverged_sentence(n_diverged: int, n_runs: int) -> str:
    """How many runs diverged, as a person would say it."""
    n_diverged, n_runs = int(n_diverged), int(n_runs)
    if n_diverged == 0:
        return "No run diverged."
    if n_diverged == n_runs:
        return f"All {n_runs} runs diverged."
    if n_diverged == 1:
        return f"One of the {n_runs} runs diverged and is left out of the statistics."
    return f"{n_diverged} of the {n_runs} runs diverged and are left out of the statistics."


def _table(caption: str, more: str, header: list[str], align: list[str], rows: list[list[str]]) -> str:
    head = f"**Table: {caption}**" + (f" {more}" if more else "")
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") if "$" not in c else c for c in row) + " |" for row in rows]
    return head + "\n\n" + "\n".join(lines)


SECONDARY_WORDS = "secondary view (fixed epochs), not a verdict"


def _trends(g: str, facts: dict) -> dict:
    """The trends shown for design ``g``: design B's as judged (widths on the runs with η λ_max < 2),
    the fixed-epoch designs' over every run (a secondary view)."""
    t = dict(facts[g]["trend"])
    if g == "factorial" and "matched" in facts:
        t.update({q: facts["matched"][q]["trend"] for q in claims.QUANTITIES})
    return t


def trend_table(g: str, facts: dict, verdicts: dict) -> str:
    """Spearman ρ of each quantity with η/S for design ``g``, its interval and the verdict (design B)
    or the words "secondary view" (the fixed-epoch designs)."""
    t, net = _trends(g, facts), NET[g]
    rows = []
    for q, slug, claim in (("frobenius", "frobenius", 4), ("lam_max", "lam-max", 4), ("trace", "trace", 4),
                           ("val_acc", "val-acc", 5), ("train_loss", None, None)):
        v = verdicts.get(f"claim-{claim}-{net}-{slug}") if slug else None
        rows.append([QUANTITY_MATH[q], signed(t[q]["rho"]), interval(t[q]["lo"], t[q]["hi"]),
                     f"claim {claim} {outcome_phrase(v.outcome)}" if v else
                     (SECONDARY_WORDS if slug and g in claims.SECONDARY else "(not a claim)")])
    n = t["frobenius"]
    runs = (f"{n['n_runs']} runs with η·λ_max below 2 for the widths, every run for the rest"
            if g == "factorial" else f"{n['n_runs']} runs")
    return _table(f"{DESIGN[g]}, rank correlation with η/S.",
                  f"Spearman ρ between η/S and the mean over seeds ({n['n_groups']} ratios, {runs}; "
                  "runs of equal η/S pooled), with its 95% interval and the verdict by the rule.",
                  ["quantity", "ρ", "95% interval", "verdict"], ["---", "---:", ":---:", "---"], rows)


def fit_table(g: str, facts: dict, verdicts: dict) -> str:
    """The fit log ‖H‖_F = a + b log(η/S) + d log η for design ``g``: b and d with their verdicts."""
    net = NET[g]
    f = facts["matched"]["fit"] if g == "factorial" and "matched" in facts else facts[g]["fits"]["frobenius"]
    b, d = verdicts.get(f"sharpness-ratio-not-eta-{net}"), verdicts.get(f"sharpness-ratio-alone-{net}")
    margin = claims.rule_param("sharpness-ratio-alone", "margin")
    rows = [[r"$b$: $\eta/S$ at fixed $\eta$", signed(f["b"]), interval(f["b_lo"], f["b_hi"]),
             f"“η/S, not η alone” {outcome_phrase(b.outcome)}" if b else SECONDARY_WORDS],
            [r"$d$: $\eta$ at fixed $\eta/S$", signed(f["d"]), interval(f["d_lo"], f["d_hi"]),
             f"“only η/S” {outcome_phrase(d.outcome)} (margin ±{margin:g})" if d else SECONDARY_WORDS]]
    return _table(f"{DESIGN[g]}, η/S against η.",
                  r"The fit $\log\Vert H\Vert_F = a + b\log(\eta/S) + d\log\eta$"
                  f" over {f['n']} runs, with 95% t-intervals.",
                  ["coefficient", "estimate", "95% interval", "verdict"], ["---", "---:", ":---:", "---"], rows)


def equal_loss_sentence(g: str, facts: dict, verdicts: dict) -> str:
    """Claims 4′ and 5′ of design ``g``: collinear, or the slopes at equal training loss."""
    net = NET[g]
    if g == "factorial" and "matched" in facts:
        c4, c5 = facts["matched"]["loss_frobenius"]["fit"], facts["matched"]["loss_val_acc"]["fit"]
    else:
        c4, c5 = facts[g]["controlled"]["frobenius"], facts[g]["controlled"]["val_acc"]
    v4, v5 = verdicts.get(f"claim-4-{net}-equal-loss"), verdicts.get(f"claim-5-{net}-equal-loss")
    w4 = f"so claim 4′ {outcome_phrase(v4.outcome)}" if v4 else "a secondary view, not a verdict"
    w5 = f"so claim 5′ {outcome_phrase(v5.outcome)}" if v5 else "a secondary view, not a verdict"
    corr = c4["corr"]
    collinear = claims.rule_param("sharpness-equal-loss-width", "collinear")
    if not math.isfinite(corr) or abs(corr) >= collinear:
        return (f"Between runs of equal training loss (claims 4′ and 5′) nothing can be said here: the log training "
                f"loss and log η/S correlate at {signed(corr)}, beyond the collinearity limit of "
                f"{collinear:g}" + (", so both rows are **inconclusive**." if v4 else "."))
    b4, i4 = to_uncertainty(c4["b"], c4["lo"], c4["hi"])
    b5, i5 = to_uncertainty(c5["b"], c5["lo"], c5["hi"])
    return (f"At equal training loss (log loss and log η/S correlate at {signed(corr)}), the slope on log η/S is "
            rf"{b4} ({i4}) for $\log\Vert H\Vert_F$, {w4}, and {b5} ({i5}) "
            f"for the accuracy, {w5}.")


def findings(g: str, facts: dict, verdicts: dict, *, lead: str = "") -> str:
    """"What we find" for design ``g``: a sentence, the trend and fit tables, the confounds in one or two
    sentences, divergence and the edge of stability."""
    f, s = facts[g]["fits"]["frobenius"], facts[g]
    confound = (f"Across these runs log η and log η/S correlate at {signed(f['corr_eta_ratio'])}; taken alone, "
                rf"log η/S explains R² = {f['r2_ratio']:.2f} of the variance of $\log\Vert H\Vert_F$, log η "
                f"{f['r2_eta']:.2f} and log S {f['r2_S']:.2f}; the fit below separates η/S from η.")
    above = int(s["above_2"])
    edge = (r"No measured run ends with $\eta\lambda_{\max}>2$." if not above else
            (f"One of the {s['n_measured']} measured runs ends" if above == 1 else
             f"{above} of the {s['n_measured']} measured runs end")
            + r" with $\eta\lambda_{\max}>2$, where " + ("it cannot" if above == 1 else "they cannot")
            + " sit in a minimum" + (" and is left out of the width verdicts." if above == 1 and g == "factorial" else
                                     " and are left out of the width verdicts." if g == "factorial" else "."))
    if g in claims.SECONDARY:
        trends = ("These runs are a secondary view, not verdicts: at a fixed number of epochs η/S also sets how far "
                  "a run got, so a trend here cannot be told from training progress.")
    else:
        claimed = [verdicts.get(f"claim-{c}-{NET[g]}-{slug}") for c, slug in
                   ((4, "frobenius"), (4, "lam-max"), (4, "trace"), (5, "val-acc"))]
        held = sum(v is not None and v.outcome == "holds" for v in claimed)
        words = {0: "None", 1: "One", 2: "Two", 3: "Three", 4: "All four"}
        trends = ("All four claimed trends hold by their rules: the width measures fall and the accuracy rises with "
                  "η/S." if held == 4 else f"{words[held]} of the four claimed trends {'holds' if held == 1 else 'hold'} "
                  "by their rules and against their negative controls.")
    parts = ["**What we find.** " + (lead + " " if lead else "") + trends,
             trend_table(g, facts, verdicts), confound, fit_table(g, facts, verdicts),
             equal_loss_sentence(g, facts, verdicts) + " " + diverged_sentence(s["n_diverged"], s["n_runs"])
             + " " + edge]
    return "\n\n".join(parts)


def rescale_findings(facts: dict, verdicts: dict, pairs: list[dict]) -> str:
    """Claim 7: per β, λ_max relative to β = 1 and the accuracy change, with the tests' outcomes."""
    rt = facts["rescale_test"]
    by_beta = {p["beta"]: p for p in pairs}
    rows = []
    for b in rt["betas"]:
        w, a, p = b["width"], b["acc"], by_beta.get(b["beta"], {})
        width = (f"×{math.exp(w['diff']):.2f} ({math.exp(w['lo']):.2f} to {math.exp(w['hi']):.2f}), {w['outcome']}"
                 if math.isfinite(w["lo"]) else f"n/a, {w['outcome']}")
        acc = (f"{signed(100 * a['diff'], '+.1f')} ({interval(100 * a['lo'], 100 * a['hi'], '+.1f')}), {a['outcome']}"
               if math.isfinite(a["lo"]) else f"n/a, {a['outcome']}")
        rows.append([f"{b['beta']:g}", number(p.get("eta", math.nan), 3), f"{p.get('S', '')}",
                     f"{b['steps']}" if b.get("steps") is not None else "n/a", f"{b['train_loss']:.2f}", width, acc])
    ref = by_beta.get(1.0, {})
    table = _table("Same η/S, rescaled by β, against β = 1.",
                   f"Against η = {number(ref.get('eta', math.nan), 3)}, S = {ref.get('S', 'n/a')}: "
                   r"$\lambda_{\max}$" f" as a ratio of geometric means, the validation accuracy as a difference in points, each "
                   f"with its 90% interval (the two one-sided tests at 5%) and the test's outcome; the margins are "
                   f"×{claims.rule_param('sharpness-rescale-width', 'factor'):g} and "
                   f"±{100 * claims.rule_param('sharpness-rescale-accuracy', 'points'):g} point; SGD steps and the final "
                   "training loss say how far each β got (equal SDE time is not equal steps).",
                   [r"$\beta$", r"$\eta$", r"$S$", "steps", "training loss",
                    r"$\lambda_{\max}$ ÷ its value at $\beta=1$", "accuracy change (points)"],
                   ["---:", "---:", "---:", "---:", "---:", "---", "---"], rows)
    vw, va = verdicts["claim-7-rescale-width"], verdicts["claim-7-rescale-val-acc"]
    text = (f"By the rule (every β must hold; any β that fails fails the claim), claim 7 {outcome_phrase(vw.outcome)} "
            f"for the width and {outcome_phrase(va.outcome)} for the accuracy.")
    if any(b[k]["outcome"] == "inconclusive" for b in rt["betas"] for k in ("width", "acc")):
        text += " With this few seeds an interval is wide, and “inconclusive” is then the honest answer."
    text += " " + progress_sentence(rt)
    ctl = facts.get("rescale_control", {})
    if ctl.get("pair"):
        pr = ctl["pair"]
        text += (f" The negative control, β = 1 against η = {number(pr['eta'], 3)}, S = {pr['S']} (the same scale, "
                 f"η/S ×{pr['ratio_factor']:.2g}), is called {ctl['width']['outcome']} for the width and "
                 f"{ctl['acc']['outcome']} for the accuracy by the same tests.")
    n_runs = sum(p.get("n_runs", 0) for p in pairs)
    return "**What we find.** The table compares every β with β = 1.\n\n" + table + "\n\n" + text + " " + diverged_sentence(rt["n_diverged"], n_runs)


def progress_sentence(rt: dict) -> str:
    """Equal SDE time is not equal progress: the βs that fail (under the rule as it stands or as first
    registered), with their steps and training loss against β = 1's (why a fail there need not be
    the width of a minimum)."""
    ref = rt.get("reference") or {}
    first = {b["beta"]: b for b in rt.get("all_runs", {}).get("betas", [])}     # the rule as first registered
    failed = [b for b in rt["betas"] if "fails" in (b["width"]["outcome"], b["acc"]["outcome"],
                                                    first.get(b["beta"], {}).get("width", {}).get("outcome"))]
    if not failed or not ref or ref.get("steps") is None:
        return ""
    parts = ", ".join(f"β = {b['beta']:g} after {b['steps']} steps ends at training loss {b['train_loss']:.2f}"
                      for b in failed)
    return (f"Equal SDE time is the theory's matched point, not equal training progress: {parts}, against "
            f"{ref['train_loss']:.2f} after {ref['steps']} steps at β = 1. Where the losses differ, the runs stand at "
            "different points of training and a failed test there may reflect the few large steps rather than a "
            "different minimum; λ_max is measured only at the end, so no matched-loss comparison is possible here.")


def check_table(rows: list[dict], n_samples: int, n_train: int, design: str = "design A") -> str:
    """The sample-count check: the width measures on the sample and on the whole training set."""
    body = [[f"η = {number(r['eta'], 3)}, S = {r['S']}", QUANTITY_MATH.get(r["key"], r["quantity"])
             if r["key"] != "trace_C" else r"$\operatorname{Tr}C$", significant(r["sample"]), significant(r["whole"]),
             f"{signed(100 * r['deviation'], '+.0f')}%"] for r in rows]
    return _table(f"The Hessian's sample against the whole training set, {design}.",
                  f"Width measures at the end of the flattest and the sharpest run of {design} (seed 0), on the "
                  f"{n_samples:,} sampled training examples and on all {n_train:,}; difference relative to the "
                  "whole set.",
                  ["run", "quantity", "sample", "whole set", "difference"], ["---", "---", "---:", "---:", "---:"],
                  body)


def check_sentence(facts: dict, verdict, n_samples: int, key: str = "check",
                   uses: str = "the width verdict of claim 7", plural: bool = False) -> str:
    dev, tol = facts[key + "_max_dev"], facts["width_tolerance"]
    if not math.isfinite(dev):
        return f"No run could be checked, so the count is {outcome_phrase(verdict.outcome).replace('is ', '')}."
    return (r"The largest deviation of $\lambda_{\max}$, $\operatorname{Tr}H$ and $\Vert H\Vert_F$" f" is {100 * dev:.0f}%, against the width chapter's "
            f"tolerance of {100 * tol:.0f}%: by that rule the count of {n_samples:,} examples "
            f"{outcome_phrase(verdict.outcome)} here, so {uses} "
            + (("are" if plural else "is") + (" read." if dev <= tol else " inconclusive whatever the runs say.")))


# -- the numbers the prose glues (replication.notebook.glue_all), one mapping per section ------------------------
INIT_NAMES = {"he": "He initialization", "xavier": "Xavier initialization", "torch": "PyTorch's default initialization"}


def design_values(results, params, facts) -> dict:
    """The design section: both networks and their data, the pairs and the factorial grid, the SDE
    time, the probes, the Hessian measurements, the training accuracies reached."""
    from ...figures import DATASET_NAMES
    from . import experiment

    main, fac = facts["main"], facts["factorial"]
    ratio_lo, ratio_hi = numbers([main["ratio_min"], main["ratio_max"]])
    t_lo, t_hi = numbers([params.epochs * params.n_train * main[k] for k in ("ratio_min", "ratio_max")])
    eps = sorted({p["epochs"] for p in fac["pairs"]})
    return {
        "sh_arch": results.architectures["main"], "sh_nparams": f"{results.n_parameters['main']:,}",
        "sh_arch_fac": results.architectures["factorial"],
        "sh_depth": params.depth, "sh_width": params.width,
        "sh_ntrain": f"{params.n_train:,}", "sh_nval": f"{params.n_val:,}",
        "sh_fac_ntrain": f"{params.factorial_n_train:,}",
        "sh_dataset": DATASET_NAMES[params.dataset],
        "sh_npairs": len(main["pairs"]), "sh_seeds": params.seeds, "sh_nruns": main["n_runs"],
        "sh_epochs": f"{params.epochs} epoch" + ("s" if params.epochs != 1 else ""),
        "sh_ratio_min": ratio_lo, "sh_ratio_max": ratio_hi,
        "sh_eta_min": format(min(params.lrs), "g"), "sh_eta_max": format(max(params.lrs), "g"),
        "sh_S_min": min(params.batch_sizes), "sh_S_max": max(params.batch_sizes),
        "sh_corr_main": format(main["fits"]["frobenius"]["corr_eta_ratio"], "+.2f"),
        "sh_corr_fac": format(fac["fits"]["frobenius"]["corr_eta_ratio"], "+.2f"),
        "sh_init": INIT_NAMES[params.init],
        "sh_src_main": claims.SOURCES["main"],
        "sh_pairs_sentence": ("These are the pairs the reproducibility challenge of the ICLR 2018 submission used; the "
                              "paper gives only the ranges." if set(zip(params.lrs, params.batch_sizes)) ==
                              set(experiment.CHALLENGE_PAIRS) else
                              "The pairs are this profile's choice (the laptop profile uses the reproducibility "
                              "challenge's)."),
        "sh_fac_lrs": ", ".join(f"{x:g}" for x in params.factorial_lrs),
        "sh_fac_S": ", ".join(str(x) for x in params.factorial_batch_sizes),
        "sh_fac_cells": len(params.factorial_lrs) * len(params.factorial_batch_sizes),
        "sh_fac_seeds": params.factorial_seeds, "sh_fac_runs": fac["n_runs"],
        "sh_fac_nratios": len({float(f"{p['ratio']:.10g}") for p in fac["pairs"]}),
        "sh_sde_time": format(params.sde_time, "g"),
        "sh_fac_ep_min": eps[0], "sh_fac_ep_max": eps[-1],
        "sh_probe_n": len(experiment.PROBE_FRACTIONS), "sh_probe_samples": params.probe_samples,
        "sh_t_min": t_lo, "sh_t_max": t_hi,
        "sh_hs": f"{params.hessian_samples:,}", "sh_tol": format(params.lanczos_tol, "g"),
        "sh_trace_hvp": params.trace_hvp, "sh_fro_probes": params.frobenius_probes,
        "sh_tacc_min": format(100 * main["train_acc_min"], ".0f"), "sh_tacc_max": format(100 * main["train_acc_max"], ".0f"),
        "sh_ftacc_min": format(100 * fac["train_acc_min"], ".0f"), "sh_ftacc_max": format(100 * fac["train_acc_max"], ".0f"),
    }


def rule_values() -> dict:
    """The thresholds of the registered rules, as the rules section's prose names them."""
    R = claims.rule_param
    return {
        "sh_rho_min": format(R("sharpness-width-trend", "rho"), "g"),
        "sh_margin": format(R("sharpness-ratio-alone", "margin"), "g"),
        "sh_margin_pct": format(100 * (2 ** R("sharpness-ratio-alone", "margin") - 1), ".0f"),
        "sh_collinear": format(R("sharpness-equal-loss-width", "collinear"), "g"),
        "sh_width_factor": format(R("sharpness-rescale-width", "factor"), "g"),
        "sh_acc_points": format(100 * R("sharpness-rescale-accuracy", "points"), "g"),
        "sh_ch_factor": format(R("sharpness-c-equals-h", "factor"), "g"),
        "sh_edge_factor": format(R("sharpness-edge-of-stability", "factor"), "g"),
        "sh_set_factor": format(claims.SET_FACTOR, "g"),
        "sh_stable": format(R("sharpness-width-trend", "stable_limit"), "g"),
    }


def check_rows(checks: list[dict]) -> list[dict]:
    """The sample-count check, one row per run and quantity (the table's and the export's rows)."""
    return [dict(eta=c["eta"], S=c["S"], seed=c["seed"], key=k, quantity=claims.LABELS[k], sample=c["subset"][k],
                 whole=c["full"][k], deviation=c["dev"][k]) for c in checks for k in c["full"]]


def check_section(facts: dict, verdicts: dict, params) -> str:
    """Design A's sample-count check: its table and its sentence."""
    chk = facts["check"]
    n_full = chk[0]["n_full"] if chk else params.n_train
    return (check_table(check_rows(chk), params.hessian_samples, n_full) + "\n\n"
            + check_sentence(facts, verdicts["sharpness-sample-count"], params.hessian_samples))


def check_section_equal_time(facts: dict, verdicts: dict, params) -> str:
    """Design B's sample-count check: its table and its sentence."""
    chk_b = facts["check_equal_time"]
    return (check_table(check_rows(chk_b), params.hessian_samples,
                        chk_b[0]["n_full"] if chk_b else params.factorial_n_train, design="design B") + "\n\n"
            + check_sentence(facts, verdicts["sharpness-sample-count-equal-time"], params.hessian_samples,
                             key="check_equal_time", uses="the width verdicts of claim 4", plural=True))


def width_chapter_values(params) -> dict:
    """The width chapter's network at this profile (the laptop profile's when this one has no width section)."""
    from ... import profiles

    try:
        wcount = profiles.chapter_values(params.profile, "width")
    except Exception:
        wcount = profiles.chapter_values("laptop", "width")
    return {"sh_w_hidden": " × ".join(str(h) for h in wcount["hidden"])}


def gpu_values() -> dict:
    """What the gpu profile runs of this chapter (the closing section names it)."""
    from ... import profiles

    gpu = profiles.chapter_values("gpu", "sharpness")
    return {"sh_cifar": "CIFAR-10", "sh_gpu_ntrain": f"{gpu['n_train']:,}", "sh_gpu_epochs": gpu["epochs"],
            "sh_gpu_seeds": gpu["seeds"],
            "sh_cifar_profiles": " and ".join(f"`{name}`" for name in cifar_profiles()) or "no built-in"}


def runs_line(results, params) -> str:
    """The "Runs:" line: training and measurement time, provenance, the Hessians' mode."""
    from ...figures import provenance_text
    from ...wording import runs_sentence

    return (runs_sentence(results.stored, results.computed,
                          spent=f"{results.train_wall_time:.0f} s of training and "
                                f"{results.analysis_wall_time:.0f} s of Hessian and covariance measurements in all") + " "
            + provenance_text(results.provenance, profile=params.profile) + " Hessians in eval mode.")


def factorial_findings(facts: dict, verdicts: dict) -> str:
    """Design B's findings, led by the range of the final training loss at equal SDE time."""
    fac = facts["factorial"]
    return findings("factorial", facts, verdicts, lead=(
        f"At equal SDE time the final training loss still ranges from {fac['train_loss_min']:.2f} to "
        f"{fac['train_loss_max']:.2f}."))


def probe_values(facts: dict) -> dict:
    """λ_max through training: where it settles and how it ranks late in training."""
    p = facts["probes"]
    return {"sh_p_set": format(p["set_median"], ".2f"), "sh_p_set_rho": format(p["set_rho"], "+.2f"),
            "sh_p_late": format(p["late_median"], ".2f"), "sh_p_late_min": format(p["late_min"], ".2f"),
            "sh_p_late_max": format(p["late_max"], ".2f"), "sh_p_n": p["n"]}


def v3_findings(results, params, facts: dict, verdicts: dict) -> str:
    """The shallow network's findings, or the sentence that this profile does not run it."""
    if "v3" not in facts:
        return "The shallow network is not run at this profile (`v3_depth = 0`)."
    return findings("v3", facts, verdicts, lead=f"The shallow network is the {results.architectures['v3']}, "
                    f"with {params.v3_seeds} seeds per pair.")


def rescale_values(params) -> dict:
    """The rescaling experiment's base point, its βs and seeds."""
    return {"sh_r_eta": format(params.rescale_lr, "g"), "sh_r_S": params.rescale_batch_size,
            "sh_r_betas": ", ".join(f"{b:g}" for b in params.rescale_betas), "sh_r_seeds": params.rescale_seeds}


def edge_values(facts: dict) -> dict:
    """η·λ_max at the end of training (the edge of stability)."""
    e = facts["edge"]
    return {"sh_e_n": e["n"], "sh_e_median": format(e["median"], ".2f"), "sh_e_max": format(e["max"], ".2f"),
            "sh_e_above2": e["above_2"]}


def ch_values(facts: dict) -> dict:
    """Tr C / Tr H over the runs: its range, median, how many within the factor, its rank correlation."""
    ch = facts["ch"]
    return {"sh_c_min": format(ch["min"], ".2g"), "sh_c_max": format(ch["max"], ".2g"),
            "sh_c_median": format(ch["median"], ".2g"), "sh_c_within": ch["within"], "sh_c_n": ch["n"],
            "sh_c_rho": signed(ch["rho"])}


# -- the appendix's Fig. 1: a ResNet on CIFAR-10 (the profiles whose cifar_model is not none) ------------
CIFAR_FIGURE = "fig-sh-cifar"     # the figure's label in book/sharpness.ipynb


def cifar_profiles() -> list[str]:
    """The built-in profiles that run the ResNet group (``cifar_model`` not none), smallest first."""
    from ... import profiles

    return [n for n in profiles.NAMES if profiles.chapter_values(n, "sharpness")["cifar_model"] != "none"]


def cifar_not_run(params) -> str:
    """Where the ResNet group is not run at this profile, one sentence in place of its figure: which
    profiles run it, and the command that draws its figure there."""
    from ... import profiles

    where = cifar_profiles()
    text = (f"The ResNet is not run at this profile ({profiles.in_command(params.profile)}: `cifar_model = none`, "
            "as it needs the CIFAR-10 data and GPU-hours)")
    if not where:
        return text + "; no built-in profile runs it."
    return (text + f"; the {' and '.join(where)} profile{'s run' if len(where) > 1 else ' runs'} it, and "
            f"`python -m replication figure sharpness {CIFAR_FIGURE} --profile {profiles.in_command(where[0])}` "
            "trains its runs (those the result store lacks) and draws its figure.")


def _rho(t: dict) -> str:
    if not math.isfinite(t["rho"]):
        return "not defined (fewer than three ratios)"
    ci = f" [{signed(t['lo'])}, {signed(t['hi'])}]" if math.isfinite(t["lo"]) else ""
    return f"ρ = {signed(t['rho'])}{ci}"


def cifar_text(results, params) -> str:
    """What the ResNet section shows: the setting and its trends, or where it is not run
    (:func:`cifar_not_run`)."""
    rows = results.cifar
    if not rows:
        return cifar_not_run(params)
    n_pairs = len({(r["eta"], r["S"]) for r in rows})
    div = sum(r["diverged"] for r in rows)
    return (f"A {results.architectures[CIFAR]} on {params.cifar_n_train:,} CIFAR-10 images "
            f"({'with' if params.cifar_augment else 'without'} random crops and flips), {n_pairs} pairs (η, S) "
            f"with {params.cifar_seeds} seeds each, {params.cifar_epochs} epochs of plain SGD per run"
            + (f", {div} of the {len(rows)} runs diverged" if div else "") + ". Spearman correlation with η/S "
            f"(over the means of the pairs, 95% interval): ‖H‖_F {_rho(claims.trend(rows, 'frobenius'))}, "
            f"λ_max {_rho(claims.trend(rows, 'lam_max'))}, "
            f"validation accuracy {_rho(claims.trend(rows, 'val_acc'))}. "
            "No verdict reads this figure: as design A, η/S and the distance trained move together here.")


def cifar_values(results, params) -> dict:
    """The ResNet figure's glued words, from the ResNet runs' own results: the network, and the provenance
    of those runs (profile, seeds, data and whether canonical, device, code), never design A's.  Where
    they are not run there is no figure (its cell is tagged ``if-glued``), so no caption either."""
    from ...figures import provenance_text
    from ...gpu_records import throughput_note

    out = {"sh_cifar10": "CIFAR-10"}
    if results.cifar:
        out["sh_cifar_arch"] = results.architectures[CIFAR]
        note = throughput_note([params.cifar_model], params.cifar_precision, params.cifar_channels_last)
        out["sh_cifar_prov"] = provenance_text(results.cifar_provenance, profile=params.profile,
                                               seeds=params.cifar_seeds) + (f" {note}" if note else "")
    return out
