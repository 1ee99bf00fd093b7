"""The computed markdown of the "batch-size schedules" page: tables and the sentences that carry
numbers (the notebook's prose carries none).  Numbers are rounded to their uncertainty
(:func:`.claims.mean_sd`, :func:`.claims.with_interval`) and printed with a typographic minus."""
from __future__ import annotations

import math
import re

from ...figures import rules_section  # noqa: F401  (the page's rules section, shared with memorization)
from ...gpu_records import throughput_note
from ...wording import MINUS, SUPERSCRIPT, architecture, runs_sentence, verdict_clause
from . import claims
from .claims import _f, decimals, mean_sd, ratio_interval, schedule_label, with_interval
from .experiment import bs_high, sqrt_bs_max

PAPER = "ICLR 2018 submission"



def runs_line(results, params) -> str:
    """The "Runs:" line under the parameters: how many runs, read back or computed, and their provenance."""
    prov = results.provenance
    text = (runs_sentence(results.stored, results.computed, what="training runs",
                          spent=f"{results.train_wall_time:.0f} s of training in all")
            + f" **Provenance:** profile `{params.profile}`, "
            f"{architecture(results.architecture)}, device {prov.get('device')}, code `{prov.get('code_version')}`.")
    if not results.canonical:
        text += " **NOT canonical data: a stand-in, not the real dataset.**"
    note = throughput_note([params.model], params.precision, params.channels_last)
    return text + (f" {note}" if note else "")


def design_values(results, params, verdicts) -> dict:
    """The numbers the design section's prose glues: the network and data, the grid of schedules,
    the stage lengths, the levels and margin of the tests, the paper's figures and claims."""
    from ...figures import DATASET_NAMES as names

    short, long = claims.short_long(params)
    by = {v.id: v for v in verdicts}
    return {
        "sc_arch": architecture(results.architecture),
        "sc_nparams": f"{results.n_parameters:,}",
        "sc_data": names[params.dataset],
        "sc_ntrain": f"{params.n_train:,}",
        "sc_seeds": params.seeds,
        "sc_epochs": params.epochs,
        "sc_lr_low": f"{params.lr_low:g}",
        "sc_lr_high": f"{params.lr_high:g}",
        "sc_bs_low": params.bs_low,
        "sc_bs_high": bs_high(params),
        "sc_sqrt_max": sqrt_bs_max(params),
        "sc_short": short,
        "sc_long": long,
        "sc_fig4": params.fig4_step_size,
        "sc_margin": f"{params.equivalence_margin:g}",
        "sc_nschedules": len(results.schedules),
        "sc_nruns": len(results.runs),
        "sc_eq_level": "90%",          # two one-sided tests at alpha = 0.05 each
        "sc_level": f"{100 * claims.LEVEL:.0f}%",
        "sc_paper_fig4": claims.SOURCE_FIG4.split(", ")[-1],
        "sc_paper_fig13": claims.SOURCE_STAGES.split(", ")[-1],
        "sc_paper_setting": "VGG-11 on CIFAR-10",
        "sc_claim8": f"Claim {by['claim-8-cbs-equals-clr'].claim}",
        "sc_subset": f"{names[params.dataset]} subset" if params.n_train < 50_000 else names[params.dataset],
        "sc_claim12": f"Claim {by['claim-12-long-beats-short'].claim}",
        "sc_momentum": "plain SGD" if params.momentum == 0 else f"SGD with momentum {params.momentum:g}",
    }


def mapping_table(results, params) -> str:
    """What maps to what: the paper's setting against this profile's, row by row."""
    from ...figures import DATASET_NAMES as names

    short, long = claims.short_long(params)
    mapping = [("network", "VGG-11", architecture(results.architecture)),
               ("data", "CIFAR-10 (50,000 training images)", f"{names[params.dataset]}, {params.n_train:,} training examples"),
               ("cyclic learning rate (CLR)", "η from 0.001 to 0.005 at S = 128",
                f"η from {params.lr_low:g} to {params.lr_high:g} at S = {params.bs_low}"),
               ("cyclic batch size (CBS)", "S from 640 to 128 at η = 0.005",
                f"S from {bs_high(params)} to {params.bs_low} at η = {params.lr_high:g}"),
               ("constant pair", "(S, η) = (128, 0.001) and (640, 0.005)",
                f"(S, η) = ({params.bs_low}, {params.lr_low:g}) and ({bs_high(params)}, {params.lr_high:g})"),
               ("stage lengths (epochs from low to high noise)", "4 and 15 (Fig. 4: not stated)",
                f"{short} and {long} (the CLR/CBS comparison: {params.fig4_step_size})"),
               ("epochs", "not stated (100–200 estimated)", f"{params.epochs}"),
               ("seeds", "8 per schedule (§4.5)", f"{params.seeds} per schedule"),
               ("optimizer", "not stated (\"naive SGD\")", "plain SGD" if params.momentum == 0 else f"momentum {params.momentum:g}"),
               ("sharpness", "not stated", f"λ_max (Lanczos, tolerance {params.lanczos_tol:g}) on {params.hessian_samples:,} training examples")]
    return ("**Table: what maps to what.** The paper's setting (ICLR 2018 submission) against this profile's.\n\n"
            "| | the paper | here |\n| --- | --- | --- |\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in mapping))


def benchmark_dropdowns() -> list[str]:
    """One dropdown per stored benchmark record of the λ_max tracking (``benchmarks/results``)."""
    from ... import benchmarks

    return [benchmark_dropdown(rec) for rec in benchmarks.records("tracking")]


def comparison_table(facts: dict, verdicts, params) -> str:
    """The three equivalence tests of claim 8 and the √-rule contrast, one row each."""
    by = {v.id: v for v in verdicts}
    comp = facts["comparison"]
    rows = [("CBS against CLR", "cyclic", "claim-8-cbs-equals-clr", "claim 8"),
            ("large batch against small batch (constant, same η/S)", "constant", "claim-8-constant-pair", "claim 8"),
            ("√-rule against CLR (should differ)", "sqrt", "schedules-sqrt-rule-differs", "our contrast")]
    lines = ["| comparison | difference of final test accuracy (points) [90% interval] "
             "| largest gap of the mean curves (points) | verdict |",
             "| --- | ---: | ---: | --- |"]
    for label, key, vid, which in rows:
        t, gap = comp[key]["test"], comp[key]["gap"]
        lines.append(f"| {label} | {with_interval(t['diff'], t['lo'], t['hi'])} "
                     f"| {_f(gap['gap'], 1)} (epoch {gap['epoch']}) | **{by[vid].outcome}** ({which}) |")
    s = params.fig4_step_size
    return (f"**Table: the comparisons of claim 8 and the √-rule contrast.** Cyclic schedules with stages of {s} "
            f"epoch{'s' if s != 1 else ''}. The difference is the first schedule's final test accuracy minus the "
            f"second's, with the 90% interval of two one-sided Welch tests against the margin ±"
            f"{params.equivalence_margin:g} point{'s' if params.equivalence_margin != 1 else ''}; the largest gap "
            f"is between the two mean test-accuracy curves over all epochs.\n\n" + "\n".join(lines))


def findings(facts: dict, verdicts, params) -> str:
    """The paragraph under the comparison table: what the three tests say, in words."""
    by = {v.id: v.outcome for v in verdicts}
    comp = facts["comparison"]
    cy, sq, co = comp["cyclic"], comp["sqrt"], comp["constant"]
    margin = f"±{params.equivalence_margin:g} point{'s' if params.equivalence_margin != 1 else ''}"
    where = {"holds": f"and its whole 90% interval lies inside the margin of {margin}",
             "fails": f"and its whole 90% interval lies outside the margin of {margin}",
             "inconclusive": f"but its 90% interval reaches beyond the margin of {margin}"}
    curve = cy["curves"]
    curve_words = {"holds": f"at every epoch its 90% interval stays within ±{curve['margin']:g} points",
                   "fails": f"at some epoch its 90% interval lies entirely beyond ±{curve['margin']:g} points",
                   "inconclusive": f"at some epoch its 90% interval reaches beyond ±{curve['margin']:g} points"}
    w = curve.get("worst") or {}
    out = [f"**What we find.** CBS ends {_distance(cy)} CLR, {where.get(cy['test']['outcome'], '')}; along the "
           f"way {curve_words.get(curve['outcome'], '')}"
           + (f" (widest at epoch {w['epoch']})" if w else "")
           + f": {verdict_clause('claim 8', by['claim-8-cbs-equals-clr'])} for the cyclic pair under the amended "
           f"rule, which judges both."]
    sq_outcome = by["schedules-sqrt-rule-differs"]
    if sq_outcome == "holds":
        out.append(f"The √-rule schedule ends {_distance(sq)} CLR, beyond the margin: the contrast **holds**, "
                   f"the final accuracy tells the two rules apart.")
    elif sq_outcome == "fails":
        out.append(f"The √-rule schedule, which should differ, ends just as close ({_distance(sq)} CLR), so "
                   f"the contrast **fails**: at this scale the final accuracy does not tell the two rules apart.")
    else:
        out.append(f"The √-rule schedule ends {_distance(sq)} CLR; the contrast is **inconclusive**.")
    if sq["gap"]["gap"] > 2 * cy["gap"]["gap"]:
        gap = (f"up to {_f(sq['gap']['gap'], 1)} points from CLR's (epoch {sq['gap']['epoch']}), where CBS's is "
               f"never more than {_f(cy['gap']['gap'], 1)} away")
        out.append(f"Its mean test-accuracy curve, though, is {gap}: what separates the two rules is the path, "
                   f"not the end point." if sq_outcome != "holds" else f"Along the way its mean test-accuracy "
                   f"curve is {gap}.")
    ct = comp["control"]["test"]
    if ct.get("outcome") not in (None, "not run"):
        out.append(f"The control pair, the small batch with the large learning rate read at the same SDE time "
                   f"(epoch {_f(comp['control']['epoch'], 1)}), ends {_distance(comp['control'])} the small-batch "
                   f"runs, and the equivalence test is {ct['outcome']} there.")
    co_outcome = by["claim-8-constant-pair"]
    out.append(f"In the constant pair with equal η/S ({{numref}}`fig-sched-constant`) the large batch ends "
               f"{_distance(co)} the small one: {verdict_clause('claim 8', co_outcome)} for this pair."
               + (" With the same number of epochs the large batch takes proportionally fewer steps, so any lag "
                  "early in training shows there first." if co["gap"]["gap"] > cy["gap"]["gap"] else ""))
    return " ".join(out)


def _distance(c: dict) -> str:
    t = c["test"]
    d = max(1, decimals(0.5 * (t["hi"] - t["lo"]))) if math.isfinite(t["hi"] - t["lo"]) else 2
    if not math.isfinite(t["diff"]):
        return "at an unknown distance from"
    word = "above" if t["diff"] > 0 else "below"
    return f"{_f(abs(t['diff']), d)} points {word}"


def _paper_setting(source: str) -> str:
    """The paper's setting as the table names it: no "ICLR 2018 submission, " prefix, η for lr, en dashes."""
    text = source.split(", ", 1)[1] if source.startswith(PAPER + ", ") else source
    text = re.sub(r"\blr\b", "η", text)
    text = re.sub(r"\bbatch size (\d)", r"S = \1", text)
    text = re.sub(r"(?<=\d)-(?=\d)", "–", text)
    text = re.sub(r"\bη (\d)", r"η = \1", text)
    return text


def paper_table(facts: dict, results, params, csv_link: str) -> str:
    """Our final test accuracy beside the paper's number for the same setting, one row per paper number."""
    short, long = min(params.step_sizes), max(params.step_sizes)
    lines = ["| the paper's setting | ours | ours (%) | the paper (%) |", "| --- | --- | ---: | ---: |"]
    # one rounding for the column: the coarsest any row's sd asks for
    column = min((decimals(r["ours_sd"]) for r in facts["table"] if r["setting"] != "long-minus-short"), default=2)
    for r in facts["table"]:
        if r["setting"] == "long-minus-short":
            ours_label = f"stages of {long} minus stages of {short} epoch{'s' if short != 1 else ''}, CLR and CBS"
            ours = with_interval(r["ours"], r["ours_lo"], r["ours_hi"]) + " (points)"
            paper = f"+{r['paper_low']:g} to +{r['paper_high']:g} (points)"
        else:
            ours_label = schedule_label(r["schedule"], results)
            ours = mean_sd(r["ours"], r["ours_sd"], column)
            if r["n"] != params.seeds:
                ours += f" ({r['n']} runs)"
            paper = f"{r['paper']:.2f}" + (f" ± {r['paper_sd']:.2f}" if r["paper_sd"] is not None else "")
        lines.append(f"| {_paper_setting(r['source'])} | {ours_label} | {ours} | {paper} |")
    return (f"**Table: final test accuracy, ours beside the paper's.** Ours: mean ± sd over {params.seeds} seeds, "
            f"rounded to the sd; the last row is the fitted long-minus-short difference with its 95% interval. The "
            f"paper's numbers are from the {PAPER} ({{download}}`the paper's numbers with their sources <{csv_link}>`)."
            "\n\n" + "\n".join(lines))


def stage_findings(facts: dict, verdicts) -> str:
    """The two paragraphs under the stages figure (claim 12: accuracy, then sharpness)."""
    by = {v.id: v.outcome for v in verdicts}
    st, o = facts["stages"], facts["oscillation"]
    paper = next(r for r in facts["table"] if r["setting"] == "long-minus-short")
    d = max(1, decimals(0.5 * (st["hi"] - st["lo"]))) if math.isfinite(st["hi"] - st["lo"]) else 2
    b = st["b"]
    acc = (f"**Long against short stages.** Runs with stages of {st['long']} epochs end {_f(abs(b), d)} points "
           f"{'above' if b > 0 else 'below'} those with stages of {st['short']} epoch{'s' if st['short'] != 1 else ''} "
           f"in final test accuracy (95% interval [{_f(st['lo'], d, True)}, {_f(st['hi'], d, True)}], {st['n']} runs; "
           f"CLR {_f(st['per']['clr']['diff'], d, True)}, CBS {_f(st['per']['cbs']['diff'], d, True)}). The paper "
           f"reports a gain of {paper['paper_low']:g} to {paper['paper_high']:g} points for both: "
           f"{verdict_clause('claim 12 on accuracy', by['claim-12-long-beats-short'])}.")
    os_ = facts["oscillations"]

    def one(kind, name):
        x = os_[kind]
        return (f"with cyclic {name} it is {ratio_interval(x)} times its value at the end of the neighbouring "
                f"high-noise stage, lower after the high-noise stage in {x['lower']} of {x['pairs']} cycles")

    sharp = (f"**Sharpness oscillates with the stages.** At the end of a low-noise stage $\\lambda_{{\\max}}$ "
             f"{one('clr', 'η (CLR)')}; {one('cbs', 'S (CBS)')} (geometric means over runs, 95% intervals). With "
             f"the roles of the stage ends swapped, the control, the ratio is {ratio_interval(os_['control_clr'])} "
             f"(CLR) and {ratio_interval(os_['control_cbs'])} (CBS): "
             f"{verdict_clause('claim 12 on sharpness', by['claim-12-sharpness-oscillates'])}.")
    return acc + "\n\n" + sharp


def cost_table(facts: dict, results) -> str:
    """Updates and training-step seconds per run, per schedule, with CLR's stage length as reference."""
    lines = ["| schedule | parameter updates per run | training-step time per run (s) |", "| --- | ---: | ---: |"]
    for r in facts["cost"]:
        lines.append(f"| {schedule_label(r['schedule'], results)} | {r['updates']:,.0f} | {r['seconds']:#.2g} |")
    shared = max(r["shared_by"] for r in facts["cost"])
    together = (f"; the seeds of a schedule trained together as one vectorized ensemble and share its time equally"
                if shared > 1 else "")
    return ("**Table: what a run costs.** Mean over seeds; the time is that of the SGD steps alone, without "
            f"evaluation or Hessian probes{together}.\n\n" + "\n".join(lines))


def cost_findings(facts: dict, params) -> str:
    ratios = facts["ratios"]
    s = params.fig4_step_size
    return (f"With stages of {s} epoch{'s' if s != 1 else ''}, CBS takes {ratios[s]['updates']:.2f} times as many "
            f"parameter updates as CLR for the same epochs, and {ratios[s]['seconds']:.2f} times its training time on "
            f"the same device; the √-rule schedule takes {ratios['sqrt']['updates']:.2f} times as many updates. Fewer, "
            f"larger steps are what makes a batch-size schedule attractive on parallel hardware "
            f"{{cite:p}}`smith2018dont`.")


def tracking_findings(facts: dict) -> str:
    o = facts["oscillation"]
    return (f"**Tracking cost.** Over these runs a cold start of Lanczos needed {o['hvp_cold']:.1f} Hessian-vector "
            f"products on average ({o['n_cold']} first probes), a warm start from the previous stage's eigenvector "
            f"{o['hvp_warm']:.1f} ({o['n_warm']} probes). These are different checkpoints; the benchmark below "
            f"compares warm and cold starts on the *same* checkpoints.")


def _readable(text: str) -> str:
    """A benchmark's text for people: 1.9e-06 as 1.9×10⁻⁶, 1e-3 as 10⁻³, "1 threads" as "1 thread",
    "1 epoch(s)" as "1 epoch"."""
    def power(m):
        mantissa, exponent = m.group(1), int(m.group(2))
        sup = str(exponent).translate(SUPERSCRIPT).replace("-", "⁻")
        return f"10{sup}" if mantissa in ("1", "1.0") else f"{mantissa}×10{sup}"
    text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)e([+-]?\d+)\b", power, text)
    text = re.sub(r"\b1 threads\b", "1 thread", text)
    text = re.sub(r"\b(\d+) (\w+)\(s\)", lambda m: f"{m.group(1)} {m.group(2)}" + ("" if m.group(1) == "1" else "s"), text)
    return text


def benchmark_dropdown(record) -> str:
    """A benchmark record (:mod:`replication.benchmarks`) in a closed box: its headings become bold lead-ins
    (a heading cannot sit inside a box), its tables numbered tables."""
    from ...benchmarks import for_page      # the book's notation: λ_max as math, no e-notation

    body = []
    for line in for_page(record.body).splitlines():
        m = re.match(r"^#+\s*(.*)$", line)
        if m:
            body.append(f"**Table: {m.group(1).rstrip('.')}.**")
        else:
            body.append(line)
    text = _readable("\n".join(body))
    # a numbered table needs its caption right above it: "**Table: x.**" + blank line + the table
    text = re.sub(r"(\*\*Table: [^\n]*\*\*)\n+(?=\|)", r"\1\n\n", text)
    return (f"::::{{admonition}} Benchmark: {for_page(record.title)}\n:class: dropdown\n\n{text}\n\n"
            f"*Written {record.modified} on the machine `{record.machine}` by the tracking benchmark.*\n::::")
