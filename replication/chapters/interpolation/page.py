"""The computed markdown of the interpolation page: its tables, the sentences that carry numbers, and
the numbers its prose glues, one mapping per section (:func:`replication.notebook.glue_all`).  Numbers are
rounded to their intervals (:func:`.claims.rounded`)."""
from __future__ import annotations

import numpy as np

from ... import stats
from ...figures import DATASET_NAMES, provenance_text
from ...gpu_records import throughput_note
from ...wording import number, runs_sentence
from . import claims, experiment

PANEL_CAPTION = ("Width: the distance in α over which the training loss rises by Δ from the endpoint (geometric "
                 "mean over the seed pairs and its 95% interval, or each pair's value when there are fewer than three; "
                 "≥ where some widths reach the end of the sampled line). Barrier: the largest excess of the training "
                 "loss over the chord on the segment (mean and 95% t-interval).")


def runs_line(results, params, data_label: str) -> str:
    prov = results.provenance
    return (runs_sentence(results.stored, results.computed,
                          spent=f"{results.wall_time['train']:.0f} s of training, {results.wall_time['lines']:.0f} s "
                                f"on the lines, {results.wall_time['endpoints']:.0f} s at the endpoints") + " "
            f"**Provenance:** profile `{params.profile}`, device {prov['device']}, code `{prov['code_version']}`; "
            f"data {data_label}" + ("" if prov['data'].get('canonical', True) else " (**NOT canonical**)") + "."
            + _throughput(params))


def _throughput(params) -> str:
    note = throughput_note([params.fig2_model, params.fig3_model], params.precision, params.channels_last)
    return f" {note}" if note else ""


def design_values(results, params, facts) -> dict:
    """The design section's numbers: data, networks, subsets, the line's α grid, initializations, the
    early-stopping epochs, the rules' thresholds, the directions."""
    arch2, arch3 = results.architectures["fig2"], results.architectures["fig3"]
    best = [e for st in facts["settings"].values() for e in st["best_epoch"] if e is not None]
    return {
        "ip_dataset": DATASET_NAMES[params.dataset],
        "ip_networks": (f"Both analogues, of the paper's Fig. 2 and of its Fig. 3, train a {arch2}" if arch2 == arch3
                        else f"The analogue of the paper's Fig. 2 trains a {arch2}, that of its Fig. 3 a {arch3}"),
        "ip_ntrain": f"{params.n_train:,}",
        "ip_nval": f"{params.n_val:,}",
        "ip_ntest": f"{params.n_test:,}",
        "ip_momentum": ("plain SGD without momentum (the paper's 'naive SGD')" if params.momentum == 0
                        else f"SGD with momentum {params.momentum:g}"),
        "ip_augment": "with random crops and flips" if params.augment else "without data augmentation",
        "ip_seeds": params.seeds,
        "ip_alpha_n": len(results.alphas),
        "ip_alpha_lo": format(min(results.alphas), "g"),
        "ip_alpha_hi": format(max(results.alphas), "g"),
        "ip_alpha_step": format(min(np.diff(results.alphas)), "g"),
        "ip_alpha_coarse": format(max(np.diff(results.alphas)), "g"),
        "ip_bn_samples": f"{params.bn_samples:,}",
        "ip_eval_train": f"{params.eval_train:,}",
        "ip_init": ("start from the same initialization (seed s for both)" if params.shared_init
                    else f"start from independent initializations (seeds s and s + {experiment.INDEPENDENT_OFFSET})"),
        "ip_init_other": ("The other choice, independent initializations, is run for panel (a) in the figure on the two choices below."
                          if params.init_variant else "The other choice is a variant (the parameter init_variant) run at the gpu and paper profiles."),
        "ip_best_epochs": ((f"epochs {min(best)} to {max(best)}" if min(best) != max(best) else f"epoch {best[0]}")
                           if best else "not recorded"),
        "ip_delta": format(params.delta_loss, "g"),
        "ip_margin": format(params.equal_margin, "g"),
        "ip_barrier_margin": format(params.barrier_margin, "g"),
        "ip_hs": f"{params.hessian_samples:,}",
        "ip_tol": format(params.lanczos_tol, "g"),
        "ip_dirs_text": ("one random filter-normalized direction" if params.directions == 1 else
                         f"{params.directions} random filter-normalized directions"),
        "ip_dir_points": params.direction_points,
        "ip_profile": params.profile,
        "ip_paper_diff": experiment.PAPER_NETWORKS["fig2"],
        "ip_paper_equal": experiment.PAPER_NETWORKS["fig3"],
    }


def runs_table(results, params) -> str:
    """The training runs, with a sentence for each equal-ratio run whose S was rounded."""
    s3 = results.settings["fig3"]
    quarter = [s for s in s3 if s["beta"] * params.fig3_batch_size != s["S"]]
    rounding = " ".join(f"β = {s['beta']:g} gives S = {s['beta'] * params.fig3_batch_size:g}, rounded to {s['S']} (Python's "
                        f"round: halves to the even integer), so its η/S is {number(s['ratio'], 3)} instead of "
                        f"{number(params.fig3_lr / params.fig3_batch_size, 3)}." for s in quarter)
    return ("**Table: the training runs.** The equal-ratio runs use η = β η₀ and S = β S₀; SGD steps "
            "over the whole run (the engine drops the last incomplete batch of an epoch). " + rounding + "\n\n"
            + run_settings_table(results, params))


def mapping_values(results, params) -> dict:
    """What maps to what between the paper's networks and data and this profile's."""
    prov = results.provenance
    if params.dataset == "cifar10":
        mapping = ("This profile runs the paper's architectures on CIFAR-10, shortened: fewer epochs than the paper's "
                   "(unknown) schedule" + (", and the data are the lossy JPEG stand-in, NOT canonical CIFAR-10" if not prov['data'].get('canonical', True) else "") + ".")
    else:
        n_nets = sum(1 for v in results.runs.values() for r in v if r)
        same = experiment.paper_settings(params)
        epochs = (f"{params.fig2_epochs} and {params.fig3_epochs} epochs" if params.fig2_epochs != params.fig3_epochs
                  else f"{params.fig2_epochs} epoch{'s' if params.fig2_epochs != 1 else ''} each")
        mapping = (f"What maps to what: the paper's ResNet-56 (its Fig. 2) and VGG-11 (its Fig. 3) on CIFAR-10 both become "
                   f"the small CNN above, on {DATASET_NAMES[params.dataset]}, small enough to train {n_nets} networks on a laptop CPU. "
                   + ("The learning rates and batch sizes are the paper's, so the ratios η/S are too. " if same else
                      "The learning rates and batch sizes differ from the paper's (see the table of the training runs). ")
                   + f"The runs are far shorter ({epochs}; the paper's epoch counts are not stated), on a training subset, and "
                   f"every measurement along the line uses subsets of the training and test sets (sizes above).")
    return {"ip_mapping": mapping}


def barrier_line(verdicts, figure: str) -> str:
    """The no-barrier verdict of ``figure`` in one sentence ("" when it was not judged)."""
    v = {v.id: v for v in verdicts}.get(f"interpolation-no-barrier-{figure}")
    if v is None:
        return ""
    e = v.evidence
    ci = " (95% interval)" if e["lo"] is not None and np.isfinite(e["lo"]) and e["hi"] > e["lo"] else ""
    return (f"**No barrier on the line: {v.outcome}.** The highest mean barrier among the {e['panels']} panels is "
            f"{claims.rounded(e['largest_mean_barrier'], e['lo'], e['hi'])} nats{ci}, against a threshold of "
            f"{e['margin']:g} nats.")


def different_ratio_section(facts, verdicts) -> str:
    """The different-ratio figure's panel table, its barrier sentence and claim 6's table."""
    return ("**Table: widths along the line and barriers, per panel of the different-ratio figure.** "
            + PANEL_CAPTION + "\n\n" + panel_table(facts, "fig2") + "\n\n" + barrier_line(verdicts, "fig2") + "\n\n"
            "**Claim 6, a lower η/S ends in a sharper minimum.** The rule reads the filter-normalized width ratio "
            "over the seed pairs at matched SDE time; it holds when the 95% interval lies above one. The last two "
            "columns are the rule as first registered, at fixed epochs and by widths that depend on the batch-norm "
            "scale: a secondary view, not a verdict.\n\n"
            "**Table: claim 6, per low-ratio endpoint.** Geometric means over the seed pairs, 95% t-intervals of the "
            "log-ratios mapped back.\n\n" + claims_table(facts, verdicts, 6))


def equal_ratio_section(facts, verdicts, params) -> str:
    """The equal-ratio figure's panel table, its barrier sentence and claim 7's table."""
    return ("**Table: widths along the line and barriers, per panel of the equal-ratio figure.** As in the "
            "table of the different-ratio figure.\n\n" + panel_table(facts, "fig3") + "\n\n" + barrier_line(verdicts, "fig3") + "\n\n"
            "**Claim 7, equal η/S ends in equally wide minima.** The rule reads the filter-normalized width ratio "
            "to the β = 1 endpoint over the seed pairs at matched SDE time; it holds when the 90% interval lies within "
            f"the margin of equivalence, a factor {params.equal_margin:g} either way. The last two columns are the "
            "rule as first registered (fixed epochs): a secondary view, not a verdict.\n\n"
            "**Table: claim 7, per endpoint.** Geometric means over the seed pairs, 90% t-intervals of the "
            "log-ratios mapped back.\n\n" + claims_table(facts, verdicts, 7))


def choices_values(results, params, facts) -> dict:
    """The two choices of the line: batch-norm statistics recomputed or interpolated, shared or
    independent initializations; and the figure's caption."""
    bn = next(iter(facts["bn"].values()), None)

    def bar(iv):
        return (f"below {number(params.barrier_margin / 100)}" if abs(iv["mean"]) < params.barrier_margin / 100
                else number(iv["mean"]))
    out = {}
    if bn:
        out["ip_bn_text"] = (
            f"At the midpoint of panel (a) the training loss is {bn['mid_recompute']['mean']:.2f} nats with the "
            f"statistics recomputed and {bn['mid_interpolate']['mean']:.2f} with them interpolated (training accuracy "
            f"{100 * bn['acc_recompute']['mean']:.1f}% against {100 * bn['acc_interpolate']['mean']:.1f}%); the mean barrier "
            f"on the segment is {bar(bn['barrier_recompute'])} nats with recomputed statistics and "
            f"{bar(bn['barrier_interpolate'])} with interpolated ones. "
            + (f"Outside the segment the interpolated statistics break down: extrapolated running variances turn negative, "
               f"and {bn['nonfinite_interpolate']} of {bn['points']} points give no finite loss (left out of the curve)."
               if bn["nonfinite_interpolate"] else "Every point gives a finite loss with either choice."))
    else:
        out["ip_bn_text"] = "The networks have no batch normalization at this profile, so there is no choice to show."
    other = [p for p in results.panels if p["id"].endswith("other-init")]
    if other:
        f_main, f_other = facts["panels"][results.panels[0]["id"]], facts["panels"][other[0]["id"]]
        out["ip_init_text"] = (f"With {'independent' if params.shared_init else 'shared'} initializations the barrier of panel (a) "
                               f"is {bar(f_other['barrier'])} nats, against {bar(f_main['barrier'])} with "
                               f"{'shared' if params.shared_init else 'independent'} ones.")
    else:
        out["ip_init_text"] = "The other initialization choice, independent initializations, is not run at this profile."
    out["ip_choices_caption"] = (
        "Left: batch-norm running statistics recomputed at every α (used everywhere else) against "
        "the statistics interpolated with the weights. Right: the pair started from the same against independent "
        "initializations." if other else "Batch-norm running statistics recomputed at every α (used everywhere "
        "else) against the statistics interpolated with the weights.")
    return out


def endpoints_section(results, facts, verdicts) -> str:
    """Claim 6 by filter-normalized width (ours) in one sentence, and the table of the endpoints."""
    fn = {v.id: v for v in verdicts}["interpolation-claim-6-filter-normalized"]
    return (f"**Claim 6 by filter-normalized width (ours): {fn.outcome}.** "
            + (f"The {fn.summary[0].lower() + fn.summary[1:]} (95% intervals)." if fn.outcome != "not run" else
               "No filter-normalized directions are drawn at this profile.") + "\n\n"
            "**Table: the endpoints.** Best validation accuracy: mean and 95% t-interval over the seeds; λ_max (batch-norm "
            "statistics recomputed), η·λ_max and the filter-normalized width at the same Δ: geometric mean and its 95% "
            "interval; each seed's value when there are fewer than three seeds.\n\n" + settings_table(results, facts))


def surface_markdown(path: str | None, results, params) -> str:
    """The surface figure saved at ``path`` (:func:`.figures.surface_file`), or the note that this
    profile draws none."""
    if path is None:
        return (":::{note}\nTraining-loss surfaces over a plane of two filter-normalized directions are computed at "
                "the profiles that set surface_points above zero (gpu and paper); this one does not.\n:::")
    return (f":::{{figure}} {path}\n:name: fig-interp-surface\n:width: 660px\n\n"
            "Training loss over a plane of two filter-normalized directions around the baseline and the "
            "large-batch endpoints (first seed). " + provenance_text(results.provenance, profile=params.profile)
            + _throughput(params) + "\n:::")


# -- tables (computed markdown; ``nb.markdown`` numbers them) -------------------------------------------
def _name(figure: str, setting: dict) -> str:
    return ("Fig. 2 " if figure == "fig2" else "Fig. 3 ") + setting["name"]


def _singles(v) -> str:
    """Fewer than three values: each of them, no interval (one at two seeds says little)."""
    return ", ".join(f"{x:.3g}" for x in v)


def _geometric(values) -> str:
    """Geometric mean of positive values with its 95% interval, rounded to it; with fewer than
    three values, the values themselves."""
    v = [x for x in values if x is not None and np.isfinite(x) and x > 0]
    if not v:
        return "–"
    if len(v) < 3:
        return _singles(v)
    centre, lo, hi = stats.geometric_mean_ci(v)
    return claims.rounded(centre, lo, hi)


def _mean(values, scale: float = 1.0) -> str:
    """Mean with its 95% t-interval, rounded to it; with fewer than three values, the values themselves."""
    v = [scale * x for x in values if x is not None and np.isfinite(x)]
    if not v:
        return "–"
    if len(v) < 3:
        return _singles(v)
    m, half = stats.mean_ci(v)
    return claims.rounded(m, m - half, m + half)


def run_settings_table(results, params) -> str:
    """The training settings: η, S, η/S, epochs and SGD steps of every run."""
    lines = ["| run | η | S | η/S | epochs | SGD steps |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for figure, epochs in (("fig2", params.fig2_epochs), ("fig3", params.fig3_epochs)):
        for st in results.settings[figure]:
            steps = claims.steps(params, st, figure)
            lines.append(f"| {_name(figure, st)} | {st['eta']:g} | {st['S']:,} | {number(st['ratio'])} | {epochs} | "
                         f"{steps:,} |")
    return "\n".join(lines)


def settings_table(results, facts: dict) -> str:
    """Per endpoint setting: best validation accuracy, λ_max, η·λ_max, filter-normalized width
    (accuracy: mean and t-interval; the positive quantities: geometric mean and its interval)."""
    lines = ["| run | best validation accuracy (%) | λ_max | η·λ_max | filter-normalized width |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, e in facts["settings"].items():
        st = e["setting"]
        lam = e["lam_values"]
        acc = [r["best_val_acc"] for r in results.runs[name] if r]
        lines.append(f"| {_name(name.rsplit('-', 1)[0], st)} | {_mean(acc, 100)} | "
                     f"{_geometric(lam)} | {_geometric([st['eta'] * x for x in lam])} | "
                     f"{_geometric(e['fn_width_values'])} |")
    return "\n".join(lines)


def _width(rows, side: str) -> str:
    """The widths of one side over the seed pairs: geometric mean and interval (≥ where some are
    censored, i.e. lower bounds); with fewer than three pairs, each width."""
    vals = [(r[f"width_{side}"], bool(r[f"censored_{side}"])) for r in rows if np.isfinite(r[f"width_{side}"])]
    if not vals:
        return "–"
    if len(vals) < 3:
        return ", ".join(("≥ " if c else "") + f"{w:.2g}" for w, c in vals)
    widths = [w for w, _ in vals]
    if all(c for _, c in vals) and len(set(widths)) == 1:
        return f"≥ {widths[0]:.2g} (all censored)"
    return ("≥ " if any(c for _, c in vals) else "") + _geometric(widths)


def panel_table(facts: dict, figure: str) -> str:
    """Per panel of ``figure``: the widths of both endpoints along the line (geometric mean and 95% interval
    over the seed pairs; ≥ where some are censored) and the barrier on the segment (mean and 95% t-interval)."""
    lines = ["| panel | width of a (α) | width of b (α) | barrier (nats) |", "| --- | ---: | ---: | ---: |"]
    for pid, f in facts["panels"].items():
        if f["panel"]["figure"] != figure:
            continue
        rows = f["rows"]
        name = f"{f['a']['name']} → {f['b']['name']}"
        if figure == "fig2":
            label = f["panel"]["label"]
            name = f"{label.split(' ')[0]} {name}" + (f" ({' '.join(label.split(' ')[1:])})" if " " in label else "")
        barrier = [r["barrier"] for r in rows]
        lines.append(f"| {name} | {_width(rows, 'a')} | {_width(rows, 'b')} | "
                     f"{_mean(barrier) if len(barrier) < 3 else _interval(f['barrier'])} |")
    return "\n".join(lines)


def _interval(iv: dict, scale: float = 1.0) -> str:
    return claims.rounded(scale * iv["mean"], scale * iv["lo"], scale * iv["hi"])


def claims_table(facts: dict, verdicts, claim: int) -> str:
    """Claim 6 (low ratio against the baseline) or 7 (β against β = 1), one row per comparison: the
    filter-normalized width ratio over the pairs at matched progress (the verdict's measure), then the
    fixed-epoch line-width and λ_max ratios of the rule as first registered (a secondary view, no verdict)."""
    rows = [v for v in verdicts if v.claim == claim]
    figure = "fig2" if claim == 6 else "fig3"
    pans = [f for pid, f in facts["panels"].items() if f["panel"]["figure"] == figure
            and not pid.endswith("other-init") and (claim == 7 or f["panel"]["a"] == 0)]
    if claim == 6:
        head = ("| low-ratio endpoint | pairs matched | filter-normalized width, baseline / it | verdict | "
                "fixed epochs: line width, baseline / it | fixed epochs: λ_max, it / baseline |")
    else:
        head = ("| endpoint | pairs matched | filter-normalized width, it / β = 1 | verdict | "
                "fixed epochs: line width to β = 1 | fixed epochs: λ_max to β = 1 |")
    lines = [head, "| --- | ---: | ---: | :---: | ---: | ---: |"]
    for f, v in zip(pans, rows):
        e = v.evidence

        def ratio(k):
            if e.get(k) is None:
                return "–"
            return f"×{e[k]:.2f}" + (f" [{e[k + '_lo']:.2f}, {e[k + '_hi']:.2f}]" if e.get(k + "_lo") is not None else "")
        b = f["b"]
        lines.append(f"| {b['name']} (η = {b['eta']:g}, S = {b['S']:,}) | {e.get('pairs_compared', 0)} | "
                     f"{ratio('fn_ratio')} | **{v.outcome}** | {ratio('fixed_width_ratio')} | {ratio('fixed_lam_ratio')} |")
    return "\n".join(lines)
