"""The computed markdown of the sde page: its tables, and the numbers its prose glues, one mapping
per section (:func:`replication.notebook.glue_all`); the notebook's prose carries no number."""
from __future__ import annotations

from ... import wording
from ...figures import provenance_text
from ...page import md
from . import claims

share = wording.share


def _said(verdicts, verdict_id: str):
    """A verdict's outcome as the verb of a sentence, in bold, for ``{glue:md}``."""
    by_id = {v.id: v for v in verdicts}
    return md(f"**{claims.said(by_id[verdict_id].outcome)}**")


def runs_line(results) -> str:
    return wording.runs_sentence(results.stored, results.computed, what="simulations",
                                 spent=f"{results.wall_time:.0f} s of simulation in all")


def header_values(results, params) -> dict:
    """The provenance sentence under every figure, and the level of every interval."""
    return {"sde_prov": provenance_text(results.provenance, profile=params.profile, seeds=params.seeds,
                                        data="synthetic data from fixed seeds"),
            "sde_ci": "95%"}  # the level of stats.mean_ci, the intervals of every figure


def ou_values(facts, params, verdicts) -> dict:
    """The OU check: largest deviations, how many points lie inside the intervals, the thresholds."""
    return {
        "sde_ou_dev_small": format(100 * facts["max_dev_small"], ".1f"),
        "sde_ou_dev_all": format(100 * facts["max_dev_all"], ".1f"),
        "sde_ou_n_small": facts["n_small"],
        "sde_ou_n": facts["n_quad"],
        "sde_ou_inside": share(facts["discrete_inside_ci"], facts["n_quad"]),
        "sde_dim": params.quad_dim,
        "sde_chains": params.chains,
        "sde_seeds": params.seeds,
        "sde_regime": format(claims.SDE_REGIME, "g"),
        "sde_tol": format(100 * claims.TOLERANCE, "g"),
        "sde_eq_tol": format(claims.EQUILIBRATION_TOL, "g"),
        "sde_said_trace": _said(verdicts, "claim-2-trace-relation-quadratic"),
        "sde_said_same": _said(verdicts, "sde-same-ratio-same-law"),
    }


def _p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def pairs_table(facts) -> str:
    """The runs that share η/S: the smallest against the largest batch size of each ratio."""
    return (
        "**Table: runs that share η/S.** The smallest against the largest batch size of each ratio. Spread: "
        "(largest − smallest) / mean of the stationary loss over the batch sizes, measured and (in brackets) as the "
        "exact discrete law predicts it; KS: Kolmogorov–Smirnov test on the final losses of all chains.\n\n"
        r"| $\eta/S$ | $S$ | $\eta\lambda_{\max}$ at the larger $S$ | spread of $\mathbb E[L]$ (predicted) | "
        f"KS p-value | equivalent within ±{100 * claims.TOLERANCE:g}% |\n"
        "| ---: | ---: | ---: | ---: | ---: | --- |\n" + "\n".join(
            f"| {p['ratio']:g} | {p['S_small']} vs {p['S_large']} | {p['eta_lam_max']:.2f} | "
            f"{100 * p['spread']:.1f}% ({100 * p['predicted_spread']:.1f}%) | {_p_value(p['ks_pvalue'])} | "
            f"{p['outcome'] if p['judged'] else 'not judged (large steps)'} |"
            for p in facts["pairs"]))


def edge_values(facts, params, verdicts) -> dict:
    """The breakdown sweep: its ratio, the largest η·λ_max, where the SDE breaks, the points not judged."""
    skipped = facts["edge_not_equilibrated"]
    values = ", ".join(f"{x:.2f}" for x in skipped[:-1]) + (" and " if len(skipped) > 1 else "") + \
        (f"{skipped[-1]:.2f}" if skipped else "")
    return {
        "sde_edge_ratio": format(params.edge_ratio, "g"),
        "sde_edge_max": format(facts["edge_max_eta_lam"], ".2f"),
        "sde_edge_factor": format(facts["edge_ratio_at_max"], ".2f"),
        "sde_edge_break": format(facts["edge_break_eta_lam"], ".2f"),
        "sde_edge_inside": share(facts["edge_inside_ci"], facts["n_edge_equilibrated"]),
        "sde_edge_skipped": md(
            "Every point of the sweep equilibrated." if not skipped else
            (f"The point at $\\eta\\lambda_{{\\max}}=$ {values} did not equilibrate and is not judged."
             if len(skipped) == 1 else
             f"The points at $\\eta\\lambda_{{\\max}}=$ {values} did not equilibrate and are not judged.")),
        "sde_said_discrete": _said(verdicts, "sde-discrete-law-large-steps"),
    }


def regression_values(facts, params, verdicts) -> dict:
    """The regressions: label noise, tolerances, Tr C / Tr H per loss with its interval, the premise's
    designs and controls, the reshuffled-epochs sentence, the exact law's worst deviation."""
    out = {
        "sde_reg_noise": format(params.reg_noise_std, "g"),
        "sde_reg_noise_sq": format(params.reg_noise_std ** 2, "g"),
        "sde_reg_n": params.reg_examples,
        "sde_reg_tol": format(100 * claims.REG_TOLERANCE, "g"),
        "sde_reg_half_tol": format(100 * claims.SMALL_CORRECTION, "g"),
        "sde_ch_tol": format(claims.CH_TOLERANCE, "g"),
    }
    for loss, (value, lo, hi) in facts["C_over_H"].items():
        out[f"sde_{loss}_CH"] = f"{value:.2f} (95% interval {lo:.2f} to {hi:.2f})"
    for e in facts["premise"]:
        des, ctl = e["design"], e["control"]
        out[f"sde_{e['loss']}_CH_premise"] = f"{des['value']:.3f} (95% interval {des['lo']:.3f} to {des['hi']:.3f})"
        out[f"sde_{e['loss']}_CH_control"] = f"{ctl['value']:.3f} (95% interval {ctl['lo']:.3f} to {ctl['hi']:.3f})"
        out[f"sde_said_ch_{e['loss']}"] = _said(verdicts, f"claim-2-c-equals-h-premise-{e['loss']}")
        out[f"sde_said_ch_{e['loss']}_control"] = md(f"**{claims.said(ctl['outcome'])}**")
    premise_rule = claims.rules.get("claim-2-c-equals-h-premise")
    out["sde_ch_examples"] = " and ".join(sorted({f"{e['examples']:,}" for e in facts["premise"]}))
    out["sde_ch_std"] = format(premise_rule["noise_std"], "g")
    out["sde_ch_control_std"] = format(premise_rule["control_noise_std"], "g")
    out["sde_epochs_sentence"] = facts["epochs_sentence"]
    exact = next((e for e in facts["regression"] if "exact_tests" in e), None)
    if exact is not None:
        out["sde_exact_n"] = len(exact["exact_tests"])
        out["sde_exact_worst"] = format(100 * max(abs(x["ratio"] - 1) for x in exact["exact_tests"]), ".1f")
        out["sde_said_exact"] = _said(verdicts, "sde-exact-discrete-law")
    return out


def well_values(facts, verdicts) -> dict:
    """The double well: the temperatures where the occupancy crosses one half (Laplace, Gibbs,
    simulated), how many settings mixed, the deviations, the thresholds, the well's shape."""
    w = claims.well()
    return {
        "sde_T_laplace": format(facts["T_laplace"], ".3f"),
        "sde_T_gibbs": format(facts["T_gibbs"], ".3f"),
        "sde_T_sim": ("does not cross one half" if facts["T_sim"] != facts["T_sim"]
                      else f"crosses one half at {facts['T_sim']:.3f}"),
        "sde_well_mixed": facts["n_mixed"],
        "sde_well_n": facts["n_well"],
        "sde_well_dev_gibbs": format(facts["well_max_dev_gibbs"], ".3f"),
        "sde_well_dev_laplace": format(facts["well_max_dev_laplace"], ".3f"),
        "sde_min_cross": format(claims.MIN_CROSSINGS, "g"),
        "sde_cross_tol": format(100 * claims.CROSSOVER_TOLERANCE, "g"),
        "sde_gibbs_margin": format(claims.GIBBS_MARGIN, "g"),
        "sde_laplace_vs_gibbs": format(facts["laplace_vs_gibbs"], ".3f"),
        "sde_well_shape": md(f"$L_A={w.L_A:g}$, $k_A={w.k_A:g}$; $L_B={w.L_B:g}$, $k_B={w.k_B:g}$"),
        "sde_well_inside": share(facts["well_gibbs_inside_ci"], facts["n_mixed"]),
        "sde_said_crossover": _said(verdicts, "claim-3-flatter-minimum-wins"),
        "sde_said_gibbs": _said(verdicts, "sde-double-well-gibbs"),
    }


# -- tables (computed markdown; ``nb.markdown`` numbers them) -------------------------------------------
def _problem(e: dict) -> str:
    return f"{e['loss']}, {'independent batches' if e['sampling'] == 'independent' else 'reshuffled epochs'}"


def regression_table(regression: list[dict]) -> str:
    """Measured stationary excess loss over each prediction, geometric mean over the settings of a problem."""
    def cell(x: float) -> str:
        return "—" if x != x else f"{x:.2f}"

    lines = ["**Table: measured stationary excess loss over each prediction.** Geometric mean over the settings "
             "of each problem (1 when the prediction is right on average); the exact discrete theory exists for "
             "linear regression with independent batches only.", "",
             r"| problem | $\operatorname{Tr}C/\operatorname{Tr}H$ | over $\frac{\eta}{4S}\operatorname{Tr}H$ | "
             r"over the SDE with $C$ | over the discrete law with $C$ | over the exact theory |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {_problem(e)} | {e['C_over_H']:.2f} | {e['vs_H']:.2f} | {e['vs_SDE_C']:.2f} | {e['vs_C']:.2f} | "
              f"{cell(e['vs_exact'])} |" for e in regression]
    return "\n".join(lines)


def sde_with_c_table(regression: list[dict], verdicts) -> str:
    """Per problem: the small-step settings, the outcome of each, and the verdict."""
    from .claims import REG_TOLERANCE, _count

    by_id = {v.id: v for v in verdicts}
    lines = [f"**Table: the SDE with C at small steps.** Settings where the theory's own discrete correction is at "
             f"most {100 * REG_TOLERANCE / 2:g}%, each judged by equivalence within ±{100 * REG_TOLERANCE:g}% "
             "over the seeds.", "",
             r"| problem | small-step settings | largest $\eta\lambda_{\max}$ among them | per setting | verdict |",
             "| --- | ---: | ---: | --- | --- |"]
    for e in regression:
        t = e["sde_tests"]
        v = by_id.get(f"claim-2-sde-with-c-{e['loss']}-{e['sampling']}")
        lines.append(f"| {_problem(e)} | {len(t)} of {e['n_settings']} | "
                     + (f"{e['small_eta_lam_max']:.2f}" if t else "—") + f" | {_count(x['outcome'] for x in t)} | "
                     f"**{v.outcome if v else 'not run'}** |")
    return "\n".join(lines)
