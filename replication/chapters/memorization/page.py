"""The computed markdown of the memorization page: tables and the sentences that carry numbers (the
notebook's prose carries none).  Accuracies in percent, rank correlations with two decimals, a
typographic minus."""
from __future__ import annotations

import math

from ...figures import rules_section  # noqa: F401  (the page's rules section, shared with schedules)
from ...wording import MINUS, numbers, runs_sentence, verdict_clause
from .claims import clean_ceiling, num, panel_name, rho_text

# the paper's setting (ICLR 2018 submission, Fig. 5 and its text)
PAPER_WIDTH = 256                          # hidden units; the depth is not given
PAPER_N_TRAIN = 60_000                     # the MNIST training split
PAPER_BATCH_SIZES = (50, 100, 200, 400, 800)
PAPER_EPOCHS = 300
PAPER_MOMENTUM_LR_MAX = 0.02               # with momentum, larger learning rates diverged and were dropped
MNIST_TEST = 10_000

WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}



def ratio_range(lo: float, hi: float) -> str:
    """Two η/S values on one scale: "2.5×10⁻⁴ to 4.0×10⁻³" (plain decimals when both allow it)."""
    return " to ".join(numbers([lo, hi]))


def runs_line(results, params, data_label: str) -> str:
    prov = results.provenance
    text = (runs_sentence(results.stored, results.computed, what="training runs",
                          spent=f"{results.wall_time:.0f} s of training in all")
            + f" **Provenance:** profile `{params.profile}`, {results.architecture}, "
            f"device {prov['device']}, code `{prov['code_version']}`; data {data_label}.")
    if not (prov.get("data") or {}).get("canonical", True):
        text += " **NOT canonical data.**"
    return text


def design_values(results, params) -> dict:
    """The numbers the design section's prose glues: the network, the data, the noise levels, the
    accuracy levels and thresholds of the rules, the paper's width."""
    from ... import rules

    ceilings = {n: clean_ceiling([r for r in results.rows if r["noise"] == n]) for n in params.noise_levels}.values()
    return {
        "mem_arch": results.architecture,
        "mem_ntrain": f"{results.n_train:,}",
        "mem_ntest": f"{results.n_test:,}",
        "mem_noise": " and ".join(f"{100 * n:g}%" for n in params.noise_levels),
        "mem_m": f"{params.momentum:g}",
        "mem_paper_width": f"{PAPER_WIDTH}",
        "mem_paper_mlr": f"{PAPER_MOMENTUM_LR_MAX:g}",
        "mem_corrupted": " and ".join(f"{100 * (1 - c):.1f}%" for c in ceilings),
        "mem_ceilings": " and ".join(f"{100 * c:.1f}%" for c in ceilings),
        "mem_levels": ", ".join(f"{100 * x:g}%" for x in params.train_acc_levels),
        "mem_min_ratios": params.min_ratios,
        "mem_memo_level": f"{100 * params.memorization_level:g}%",
        "mem_onset_level": f"{100 * params.onset_level:g}%",
        "mem_factor": f"{params.epoch_factor:g}",
        "mem_rho_min": f"{rules.get('claim-11-equal-memorization')['rho']:g}",
        "mem_censored": results.epochs + 1,
    }


def mapping_note(results, params) -> str:
    """The note on what differs from the paper at this profile, with :func:`mapping_table`."""
    return ("::::{note}\nWhat differs from the paper at this profile. The `gpu` and `paper` profiles train on the "
            "whole training split with the paper's batch sizes and epoch count.\n\n"
            + mapping_table(results, params) + "\n::::")


def grid_table(results, params, facts) -> str:
    """The training grid: one row per optimizer, learning rates, batch sizes, η/((1−m)S), runs."""
    rows = results.rows
    lines = ["| optimizer | learning rates η | batch sizes S | η/((1−m)S) | runs |", "| --- | --- | --- | --- | ---: |"]
    for m, lrs in ((0.0, params.lrs), (params.momentum, params.momentum_lrs)):
        mine = [r for r in rows if r["momentum"] == m]
        if not mine:
            continue
        eff = sorted({r["eff_ratio"] for r in mine})
        lr_text = ", ".join(f"{x:g}" for x in lrs)
        if m > 0:
            lr_text += " (η/(1−m) = " + ", ".join(f"{x / (1 - m):.3g}" for x in lrs) + ")"
        lines.append(f"| {'plain SGD' if m == 0 else f'momentum m = {m:g}'} | {lr_text} "
                     f"| {', '.join(map(str, params.batch_sizes))} "
                     f"| {len(eff)} values, {ratio_range(min(eff), max(eff))} | {len(mine)} |")
    noise = " and ".join(f"{100 * x:g}%" for x in params.noise_levels)
    diverged = facts["n_diverged"]
    return (f"**Table: the grid.** Every row is run at {noise} label noise with {params.seeds} seeds per setting, "
            f"for {params.epochs} epochs at constant η without weight decay; "
            + ("no run diverged." if diverged == 0 else
               f"{diverged} run{'s' if diverged != 1 else ''} diverged and {'are' if diverged != 1 else 'is'} "
               "left out of every rule.")
            + "\n\n" + "\n".join(lines))


def mapping_table(results, params) -> str:
    """What differs from the paper at this profile, as the paper's setting against ours."""
    rows = [("network", f"an MLP like Arpit et al.'s, {PAPER_WIDTH} hidden units, depth not given",
             results.architecture)]
    rows.append(("training images", f"MNIST, all {PAPER_N_TRAIN:,}",
                 f"a seeded random subset of {results.n_train:,}" if results.n_train < PAPER_N_TRAIN
                 else f"all {results.n_train:,}"))
    rows.append(("batch sizes S", ", ".join(map(str, PAPER_BATCH_SIZES)), ", ".join(map(str, params.batch_sizes))))
    rows.append(("momentum learning rates", f"not stated (those above {PAPER_MOMENTUM_LR_MAX:g} diverged)",
                 ", ".join(f"{x:g}" for x in params.momentum_lrs) if params.momentum > 0 else "no momentum runs"))
    rows.append(("epochs", f"{PAPER_EPOCHS}", f"{params.epochs}"))
    rows.append(("runs per setting", "one", f"{params.seeds} seeds"))
    rows.append(("held-out accuracy", "a validation set",
                 f"the first {results.n_test:,} images of the MNIST test split" if results.n_test < MNIST_TEST
                 else "the MNIST test split"))
    return ("**Table: what maps to what.** The paper's setting (ICLR 2018 submission, Fig. 5) against this "
            "profile's.\n\n| | the paper | here |\n| --- | --- | --- |\n"
            + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows))


def _panel_rows(facts, judged_only: bool):
    for p in facts["panels"].values():
        first = True
        for l in p["levels"]:
            if judged_only and not l["judged"]:
                continue
            yield p, l, first
            first = False


def judged_table(facts, params) -> str:
    """Rule A at every judged level: the rank correlation of held-out accuracy with η/S."""
    lines = ["| panel | training accuracy | values of η/S (runs) | Spearman ρ [95% interval] | level |",
             "| --- | ---: | ---: | ---: | --- |"]
    n = 0
    for p, l, first in _panel_rows(facts, judged_only=True):
        lines.append(f"| {p['name'] if first else ''} | {100 * l['level']:g}% | {l['n_groups']} ({l['n_reached']}) "
                     f"| {rho_text(l['rho'], l['lo'], l['hi'])} | {l['outcome']} |")
        n += 1
    if not n:
        return (f"No training-accuracy level above a clean ceiling is reached by runs of {params.min_ratios} or more "
                "distinct values of η/S, so rule A judges no level at this profile.")
    return ("**Table: generalization at equal memorization, the judged levels.** At each training accuracy (noisy "
            f"labels) that runs of at least {params.min_ratios} distinct η/S reach, the rank correlation between η/S "
            "and the held-out accuracy of those runs, and the level's outcome by rule A.\n\n" + "\n".join(lines))


def all_levels_dropdown(facts) -> str:
    """Every level above the clean ceiling, judged or not, with the single runs ranked by η/S, η and 1/S."""
    lines = ["| panel | training accuracy | runs | values of η/S | ρ with η/S | ρ with η | ρ with 1/S |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p, l, first in _panel_rows(facts, judged_only=False):
        lines.append(f"| {p['name'] if first else ''} | {100 * l['level']:g}% | {l['n_reached']} of {l['n_total']} "
                     f"| {l['n_groups']} | {num(l['rho_runs_ratio'], 2, True)} | {num(l['rho_runs_eta'], 2, True)} "
                     f"| {num(l['rho_runs_inv_S'], 2, True)} |")
    return ("::::{admonition} Every level above the clean ceiling, and what orders the single runs\n:class: dropdown\n\n"
            "**Table: the single runs at every level.** Spearman ρ between the held-out accuracy of the runs that "
            "reach the level and their η/S, their η alone and their 1/S alone. The grid is factorial, so the three "
            "orders differ: where the first column is not the largest, the ratio orders the runs no better than one "
            "of its parts.\n\n" + "\n".join(lines) + "\n::::")


def _by_outcome(outcomes: dict[str, str]) -> str:
    """{panel: outcome} as a sentence: "inconclusive in all four panels" / "holds for A and B, ..."."""
    groups: dict[str, list[str]] = {}
    for name, outcome in outcomes.items():
        groups.setdefault(outcome, []).append(name)
    if len(groups) == 1:
        (outcome, names), = groups.items()
        n = len(names)
        return f"**{outcome}** in {'all ' + WORDS.get(n, str(n)) + ' panels' if n > 1 else 'its one panel'}"
    return "; ".join(f"**{o}** for {' and '.join(ns)}" for o, ns in groups.items())


def rule_a_findings(facts, verdicts) -> str:
    by = {v.id: v.outcome for v in verdicts}
    outcomes = {p["name"]: by[f"claim-11-equal-memorization-{p['id']}"] for p in facts["panels"].values()}
    judged = sum(p["n_judged"] for p in facts["panels"].values())
    return (f"By rule A, generalization at equal memorization (claim 11) is {_by_outcome(outcomes)}, with "
            f"{judged} level{'s' if judged != 1 else ''} judged over all panels.")


def speed_table(facts, verdicts, params) -> str:
    """Rule B as amended (equal SDE time) beside the rule as first registered (epochs, a secondary view)."""
    by = {v.id: v.outcome for v in verdicts}
    lines = ["| panel | SDE time compared | ρ(η/S, accuracy on the corrupted labels) at that time [95% interval] "
             f"| secondary view, fixed epochs: ρ(η/S, epochs to {100 * params.memorization_level:g}%) | verdict |",
             "| --- | ---: | ---: | ---: | --- |"]
    for p in facts["panels"].values():
        s, e = p["speed"], p["equal_time"]
        lines.append(f"| {p['name']} | {e['t']:.3g} | {rho_text(e['rho'], e['lo'], e['hi'])} "
                     f"| {rho_text(s['rho'], s['lo'], s['hi'])} ({s['n_reached']} of {s['n_runs']} runs get there) "
                     f"| **{by['claim-11-slow-memorization-' + p['id']]}** |")
    return ("**Table: how fast the random labels are learned, by rule B at equal SDE time.** Every run is read at "
            "the SDE time t = epochs·N·η/((1−m)S) that the slowest run of its panel reaches at its last epoch, "
            "interpolated between logged epochs; a rising trend of the memorized fraction with η/S is what claim 11 "
            "predicts. The fixed-epoch column is the rule as first registered: at a fixed epoch η/S also sets how "
            "far a run got, so it reads training speed and is no longer a verdict.\n\n" + "\n".join(lines))


def onset_findings(facts, verdicts, params) -> str:
    o = facts["onset"]
    outcome = {v.id: v.outcome for v in verdicts}["memorization-best-before-onset"]
    if not o["n_reached"]:
        return (f"**Best accuracy before memorization.** No run reaches {100 * params.onset_level:g}% on the corrupted "
                f"labels, so rule C has nothing to judge: {verdict_clause('the observation', outcome)}.")
    gap = o["median_gap"]
    when = (f"{abs(gap):g} epoch{'s' if abs(gap) != 1 else ''} {'before' if gap > 0 else 'after'} it" if gap != 0
            else "at that epoch")
    return (f"**Best accuracy before memorization.** In {o['n_before']} of the {o['n_reached']} runs whose accuracy on "
            f"the corrupted labels reaches {100 * params.onset_level:g}% ({100 * o['fraction']:.0f}%; 95% interval "
            f"{100 * o['lo']:.0f} to {100 * o['hi']:.0f}%), the best held-out accuracy comes at or before that epoch; "
            f"the median run peaks {when}, and between its best epoch and the end of training loses "
            f"{100 * o['median_lost']:.1f} points of held-out accuracy. By rule C, "
            f"{verdict_clause('the observation of Arpit et al.', outcome)}.")


def momentum_table(facts, verdicts, params) -> str:
    if not facts["momentum"]:
        return "There are no momentum runs at this profile, so rule D is not run."
    by = {v.id: v.outcome for v in verdicts}
    lines = [f"| noise | pairs (both reach {100 * params.memorization_level:g}%) "
             "| epochs, momentum / plain [90% interval] | best held-out accuracy, momentum − plain (points) "
             "| verdict |", "| --- | ---: | ---: | ---: | --- |"]
    for noise, c in facts["momentum"].items():
        ratio = (f"{num(c['factor'])} [{num(c['lo'])}, {num(c['hi'])}]" if math.isfinite(c["factor"]) else "–")
        lines.append(f"| {100 * noise:g}% | {c['n_pairs']} ({c['n_both']}) | {ratio} | {num(100 * c['best_diff'], 1, True)} "
                     f"| **{by[f'memorization-momentum-effective-ratio-noise{round(100 * noise)}']}** |")
    return (f"**Table: momentum against plain SGD at equal η/((1−m)S), by rule D.** Each momentum run (m = "
            f"{params.momentum:g}) against the plain run with the same η/(1−m), S and seed: the geometric mean of the "
            f"ratio of their epochs to {100 * params.memorization_level:g}% on the corrupted labels, judged against a "
            f"factor {params.epoch_factor:g} either way.\n\n" + "\n".join(lines))
