"""The computed markdown of the invariance page: the runs line, the numbers its prose glues
(:func:`replication.notebook.glue_all`), the scale note and the sections around the tables.  The tables
themselves (:func:`break_table`, :func:`distance_table`, :func:`prediction_table`) and the network in
words (:func:`network_text`) are still defined in ``figures.py`` and shown from here."""
from __future__ import annotations

from ...figures import DATASET_NAMES
from ...gpu_records import throughput_note
from ...wording import number, runs_sentence
from . import fig7
from .figures import break_table, distance_table, network_text, prediction_table  # noqa: F401

PAPER_SIZES = (12_000, 22_500, 45_000)     # the paper's training-set sizes (CIFAR-10)
SCALE = {"fashion-mnist": "a CPU-sized analogue", "mnist": "a CPU-sized analogue", "cifar10": "the paper's data"}


def runs_line(results, params, data_label: str) -> str:
    prov = results.provenance
    return (runs_sentence(results.stored, results.computed, spent=f"{results.wall_time:.0f} s of computation in all")
            + " " f"**Provenance:** profile `{params.profile}`, device {prov['device']}, code `{prov['code_version']}`; "
            f"data {data_label}" + ("" if prov['data'].get('canonical', True) else " (**NOT canonical**)") + "."
            + _spaced(throughput_note([params.model] + ([params.fig7_model] if params.fig7_model != fig7.NONE else []),
                                      params.precision, params.channels_last)))


def _spaced(note: str) -> str:
    return f" {note}" if note else ""


def design_values(results, params, facts) -> dict:
    """The design section: the network and data, the sizes and rescalings, the steps and SDE time of
    the longest and largest-batch runs, the noise-scale probes."""
    sizes = facts["sizes"]
    bmax = max(b for b in params.betas if b * params.base_batch_size <= max(sizes))
    return {
        "inv_arch": network_text(results, params),
        "inv_dataset": DATASET_NAMES[params.dataset],
        "inv_sizes": ", ".join(f"{n:,}" for n in sizes[:-1]) + f" and {sizes[-1]:,}",
        "inv_nval": f"{params.n_val:,}",
        "inv_eta0": format(params.base_lr, "g"),
        "inv_S0": params.base_batch_size,
        "inv_ratio0": number(params.base_lr / params.base_batch_size),
        "inv_betas": ", ".join(f"{b:g}" for b in params.betas),
        "inv_sqrt_betas": ", ".join(f"{b:g}" for b in params.sqrt_betas if b != 1),
        "inv_seeds": params.seeds,
        "inv_epochs": params.epochs,
        "inv_nruns": len(results.runs),
        "inv_margin": format(100 * params.margin, "g"),
        "inv_small_beta": format(params.small_beta, "g"),
        "inv_noise_epochs": ", ".join(str(e) for e in sorted(set(params.noise_epochs) | {params.epochs})),
        "inv_noise_samples": f"{min(params.noise_samples, min(sizes)):,}–{min(params.noise_samples, max(sizes)):,}",
        "inv_steps_1": f"{params.epochs * max(sizes) // params.base_batch_size:,}",
        "inv_bmax": format(bmax, "g"),
        "inv_steps_max": f"{params.epochs * (max(sizes) // int(round(bmax * params.base_batch_size))):,}",
        "inv_time": format(params.epochs * max(sizes) * params.base_lr / params.base_batch_size, ".3g"),
        "inv_scale": SCALE[params.dataset],
        "inv_mom": "plain SGD (no momentum)" if params.momentum == 0 else f"SGD with momentum {params.momentum:g}",
        "inv_aug": "with random crops and flips" if params.augment else "without data augmentation",
    }


def scale_note(results, params, facts) -> str:
    """What this profile runs against the paper's setting, as a note."""
    sizes = facts["sizes"]
    if params.dataset == "cifar10":
        text = (f"The profile `{params.profile}` runs the paper's setting, a {results.architecture} on CIFAR-10 at "
                f"training-set sizes of {', '.join(f'{n:,}' for n in sizes[:-1])} and {sizes[-1]:,} images, for {params.epochs} epochs. The "
                f"paper's base $(\\eta_0, S_0)$ is not given; the numbers are this run's, not the paper's.")
    else:
        factor = PAPER_SIZES[0] / min(sizes)
        text = (f"At the profile `{params.profile}` the training sets are "
                + (f"the paper's divided by {factor:g}" if all(abs(p / n - factor) < 0.01 * factor
                                                              for p, n in zip(PAPER_SIZES, sizes)) else "smaller than the paper's")
                + f" and the network is the MLP above, on {DATASET_NAMES[params.dataset]}, instead of "
                "VGG-11 or a ResNet on CIFAR-10, so that the whole chapter runs in minutes on a CPU. The base batch is "
                "smaller than the paper's guessed base in proportion, so the number of steps per epoch at $\\beta=1$ "
                "and the range of $\\beta S_0/N$ stay comparable. The numbers here are not the paper's; the question "
                "is whether the same pattern appears. The `gpu` profile runs VGG-11 on CIFAR-10 at the paper's "
                "sizes, shortened, and a ResNet for Fig. 7 (its section below).")
    return ":::{note}\n" + text + "\n:::"


def acc_spread(params) -> str:
    """What the accuracy figure's bars show at this number of seeds."""
    return "mean and 95% t-interval over seeds" if params.seeds >= 3 else "mean over seeds, small markers: each seed"


def break_section(results, facts, verdicts: dict) -> str:
    """Claims 10 and 9: the diverged runs, the table of β∗ per size and the table of curve distances."""
    div = sum(r["diverged"] for r in results.runs)
    div_text = (f"{div} of the {len(results.runs)} runs diverged; they count at chance accuracy." if div
                else "No run diverged.")
    v10, v9 = verdicts["claim-10-break-grows-with-n"], verdicts["claim-9-linear-beats-sqrt"]
    return (f"**Claim 10, the break grows with the set size: {v10.outcome}.** {div_text}\n\n"
            "**Table: the breaking point β∗ per training-set size.** The estimate interpolates where the mean "
            "accuracy difference to β = 1 crosses minus the margin; the interval runs from the last clearly intact "
            "to the first clearly broken β (open above when none is clearly broken).\n\n"
            + break_table(facts) + "\n\n"
            f"**Claim 9, linear beats square root: {v9.outcome}.** The distance of a run's validation curve to the "
            "mean β = 1 curve, for both rescalings, and their difference D; the rule reads the first row, its post-hoc successor the second, their control the third; the last is the restriction of the first build, a secondary view.\n\n"
            "**Table: distance of the validation curves to β = 1.** Mean absolute gap over epochs, in accuracy "
            "points, averaged over seeds and the (N, β) settings run both ways; D's interval is over seeds.\n\n"
            + distance_table(facts))


def prediction_section(facts, params) -> str:
    """The measured breaking batch against the one the gradient noise scale predicts."""
    return ("**Table: the measured breaking batch against the predicted one.** β∗S₀ and its interval from the rule of "
            "claim 10; S_pred = B N/(B + N − 1) from the noise scale of the β = 1 runs, its range "
            "over the probed epochs and its value after the last epoch.\n\n" + prediction_table(facts, params))


def fig7_runs_line(fig7_results) -> str:
    """The runs sentence of the second network's grid (Fig. 7), as plain text for a glue."""
    return runs_sentence(fig7_results.stored, fig7_results.computed, what="training runs",
                         spent=f"{fig7_results.wall_time:.0f} s of training in all").replace("**", "")


def fig7_result(f7):
    """What the second network's breaks say (:func:`.claims.fig7_text`), as markdown with the book's
    math (β* rendered), for ``{glue:md}`inv_fig7_result:myst``` in the figure's caption."""
    from ...page import md
    from ...wording import mathify
    from .claims import fig7_text

    return md(mathify(fig7_text(f7)))
