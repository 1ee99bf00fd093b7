"""The computed markdown of the sweep page: tables and the sentences that carry numbers (the
notebook's prose carries none).  Correlations are rounded to their interval's width."""
from __future__ import annotations

import math

from ...gpu_records import throughput_note
from ...wording import architecture, runs_sentence, verdict_clause
from .claims import SETTING_NAMES, _f, _interval, counts

MEASURE_NAMES = {"acc": "validation accuracy", "lam": "λ_max (η·λ_max < 2)"}
GROUPING_NAMES = {"pooled": "all runs pooled", "fixed S": "within fixed S (He et al.)",
                  "fixed η": "within fixed η (He et al.)", "fixed η/S": "within bins of η/S (the control as first registered)",
                  "fixed η/S, partial": "within bins of η/S, η/S partialled out (the control)"}


def runs_line(results, params) -> str:
    prov = results.provenance
    spent = f"{results.train_wall_time:.0f} s of training"
    if params.trace_hvp > 0:
        spent += f", {results.measure_wall_time:.0f} s measuring Tr H"
    text = (runs_sentence(results.stored, results.computed, what="training runs", spent=spent + " in all")
            + f" **Provenance:** profile `{params.profile}`, {architecture(results.architecture)}, device {prov.get('device')}, "
            f"code `{prov.get('code_version')}`.")
    if not results.canonical:
        text += " **NOT canonical data: a stand-in, not the real dataset.**"
    note = throughput_note([params.model], params.precision, params.channels_last)
    return text + (f" {note}" if note else "")


def design_values(results, params) -> dict:
    """The numbers the design section's prose glues: the network, the data, the target loss and cap,
    the bins of η/S and the bootstrap resamples."""
    from ...figures import DATASET_NAMES

    return {"sw_arch": architecture(results.architecture), "sw_data": DATASET_NAMES[params.dataset],
            "sw_target": format(params.target_loss, "g"), "sw_cap": params.max_epochs, "sw_bins": params.ratio_bins,
            "sw_boot": f"{params.bootstrap:,}"}


def design_sentence(results, params) -> str:
    c = counts(results)
    S = ", ".join(str(s) for s in params.batch_sizes)
    return (f"**The grid.** {c['total']:,} runs: batch sizes {S}; {params.n_lrs} learning rates per seed drawn "
            f"log-uniformly between {params.lr_min:g} and {params.lr_max:g}; {params.seeds} seed"
            f"{'s' if params.seeds != 1 else ''}. Each trained until its training loss reached "
            f"{params.target_loss:g}, for at most {params.max_epochs} epochs: **{c['reached']:,} reached it**, "
            f"{c['capped']:,} hit the cap and {c['diverged']:,} diverged; only the {c['reached']:,} are compared. "
            f"Of those, {c['stable']:,} ended with η·λ_max < 2 (their widths are used) and {c['unstable']:,} did not; "
            f"{c['not_converged']:,} λ_max did not converge to the Lanczos tolerance.")


def correlation_table(facts) -> str:
    """Two tables, Spearman ρ (He et al.'s statistic) and Kendall τ, each against η/S, η and S: one
    wide table of both overflowed a page's column."""
    rho = ("**Table: Spearman rank correlations with η/S, with η alone and with S alone**, with 95% percentile "
           "bootstrap intervals (over runs when pooled, over groups otherwise: the mean over groups of the group's "
           "correlation). Within fixed S, η/S and η rank the runs alike; within fixed η, η/S ranks them as 1/S: a "
           "dash marks a setting that does not vary in the group. A bin of η/S wide enough to hold several batch "
           "sizes still lets η/S vary inside it; the last row of each measure removes that (partial correlation "
           "given η/S) and is the control of the amended rules, the row above it the control as first registered.")
    tau = ("**Table: Kendall τ, the same groups and intervals as the Spearman table above.** τ counts the pairs of "
           "runs ranked alike minus those ranked apart, so it is smaller than ρ for the same order.")
    return _rank_table(facts, "rho", rho) + "\n\n" + _rank_table(facts, "tau", tau)


def _rank_table(facts, stat: str, caption: str) -> str:
    lines = ["| measure | groups | groups (runs) | against η/S | against η | against S |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    table = {(t["measure"], t["grouping"], t["setting"]): t for t in facts["table"]}
    for measure in ("acc", "lam"):
        for grouping in ("pooled", "fixed S", "fixed η", "fixed η/S", "fixed η/S, partial"):
            first = table[(measure, grouping, "ratio")]
            count = (f"{first['runs']:,}" if grouping == "pooled" else f"{first['groups']} ({first['runs']:,})")
            cells = []
            for setting in ("ratio", "lr", "batch_size"):
                t = table[(measure, grouping, setting)]
                if not math.isfinite(t["rho"]["mean"]) or (grouping.endswith("partial") and setting == "ratio"):
                    cells.append("—")
                else:
                    cells.append(_interval(t[stat]))
            lines.append(f"| {MEASURE_NAMES[measure]} | {GROUPING_NAMES[grouping]} | {count} | " + " | ".join(cells) + " |")
    return caption + "\n\n" + "\n".join(lines)


def break_sentence(facts, params) -> str:
    b = facts["brk"]
    if not b.get("found"):
        return "**The break.** Too few runs per bin of η/S to locate one."
    best, top = b["best"], b["top"]
    text = (f"**The break.** Binned in {params.ratio_bins} equal steps of log η/S, validation accuracy is highest "
            f"at η/S ≈ {best['centre']:.2g} ({_f(best['mean'], 1)} % over {best['n']} runs)")
    if b["interior"]:
        text += (f"; in the highest bin (η/S ≈ {top['centre']:.2g}) it is {_f(top['mean'], 1)} %, a difference of "
                 f"{_f(b['drop'], 1, True)} [{_f(b['drop_lo'], 1, True)}, {_f(b['drop_hi'], 1, True)}] points "
                 "(90% Welch interval). Above the break, larger η/S stops helping.")
    else:
        text += ": the highest bin, so within this box no break is seen."
    compared = sum(x["n"] for x in b["bins"])
    above = sum(x["n"] for x in b["bins"] if x["bin"] > best["bin"])
    text += (f" {above:,} of the {compared:,} compared runs lie above the break, so the rules below, which use every "
             f"compared run, mostly read the side where η/S no longer helps. {b['excluded_above']:,} runs with η/S above "
             f"the best bin never reached the target (they did not train: the other face of the break), and "
             f"{b['excluded_below']:,} below it did not reach it within the cap (too slow), so the smallest η/S are "
             "under-represented.")
    return text


def findings(facts, verdicts) -> str:
    by = {v.id: v for v in verdicts}
    parts = []
    for vid, what in (("claim-5-sweep-accuracy-rises-with-ratio", "Accuracy rising with η/S (claim 5)"),
                      ("claim-4-sweep-sharpness-falls-with-ratio", "λ_max falling with η/S (claim 4)"),
                      ("sweep-gap-falls-with-ratio", "The generalization gap falling with η/S (ours)"),
                      ("sweep-ratio-ranks-accuracy-pooled", "η/S ranking accuracy over all runs")):
        v = by[vid]
        parts.append(f"- {verdict_clause(what, v.outcome)}: {v.summary}"
                     + (f" Its control {v.control.get('outcome')}." if v.control else ""))
    return "**What we find.**\n\n" + "\n".join(parts)


def paper_table(rows) -> str:
    lines = ["| quantity | He, Liu and Tao | source |", "| --- | --- | --- |"]
    lines += [f"| {r['quantity']} | {r['value']} | {r['source']} |" for r in rows]
    return ("**Table: what He, Liu and Tao published, as far as this project's notes give it.** Their correlation "
            "values are not given in the notes, so none are set beside ours.\n\n" + "\n".join(lines))


def scale_table() -> str:
    """What the smoke, laptop, gpu and paper profiles run (from the profiles, nothing typed)."""
    from .. import resolve_spec as resolve
    from . import SPEC

    lines = ["| profile | network, data | runs | batch sizes | η box | target loss, cap |",
             "| --- | --- | ---: | --- | --- | --- |"]
    for profile in ("smoke", "laptop", "gpu", "paper"):
        p = resolve(SPEC, profile)
        runs = len(p.batch_sizes) * p.n_lrs * p.seeds
        lines.append(f"| `{profile}` | {p.model} on {p.dataset} ({p.n_train:,} examples) | {runs:,} | "
                     f"{', '.join(map(str, p.batch_sizes))} | {p.lr_min:g} to {p.lr_max:g} | "
                     f"{p.target_loss:g}, {p.max_epochs} epochs |")
    return ("**Table: the same design at every profile.** The gpu and paper profiles are configured, not run "
            "for this page; `python -m replication plan --profile paper` bills them.\n\n" + "\n".join(lines))
