"""GPU-check records: what ``benchmarks/gpu_check.py`` measured on a CUDA machine, read in one place.

The script writes ``benchmarks/results/gpu-check_<host>.md`` for people (the appendix shows it as
it is, :mod:`replication.benchmarks`) and ``gpu-check_<host>.json`` beside it for the code.  Only
the JSON is read, here, and only records made on CUDA outside quick mode count (a CPU or
``--quick`` record measures nothing about the target GPU); when several hold the same number the
newest (by its ``date``) wins.  Two readers use them:

- :func:`measured_epoch_seconds`: training epoch times at two batch sizes, which replace the bill's
  assumed device throughput (:mod:`replication.planning`);
- :func:`precision_bound` / :func:`precision_note`: the **precision bound**, a network trained twice
  from the same seed, data order and augmentation, float32 NCHW against bf16 autocast with
  channels-last (the MLP: bf16 only), compared by final training loss, test accuracy and λ_max, within
  :data:`PRECISION_TOL`; :func:`precision_note` is the sentence a figure's caption states for a run
  trained under a throughput option.

The throughput options are used only where bounded against float32: on a GPU by this record, and on
CPU by ``tests/test_throughput.py`` (one short run, :data:`CPU_BF16_LOSS_TOL`,
:data:`CPU_LAYOUT_LOSS_TOL`), which reads its tolerances from here so that the sentence and the test
cannot drift apart.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .benchmarks import results_folder
from .wording import signed

FORMAT = "gpu-check"                  # the JSON's "format": what this reader accepts
#: the GPU bound's tolerances: |Δ final training loss| / loss, |Δ test accuracy| in points, |Δλ_max| / λ_max
PRECISION_TOL = {"train_loss": 0.05, "test_acc": 1.0, "lambda_max": 0.10}
#: the CPU bound (tests/test_throughput.py): bf16's final training loss within this fraction of float32's
CPU_BF16_LOSS_TOL = 0.05
#: ... and channels-last's training loss within this fraction of NCHW's, every epoch
CPU_LAYOUT_LOSS_TOL = 1e-3
CPU_BOUND_TEST = "tests/test_throughput.py"
CPU_BOUND_RUN = "one short run of a small CNN on Fashion-MNIST"     # what that test trains


# -- the records ----------------------------------------------------------------------------------------
def records(folder: Path | None = None) -> list[dict]:
    """The CUDA, non-quick GPU-check records (``gpu-check_*.json``) in ``folder`` (default: this
    checkout's ``benchmarks/results``), oldest first; a file that is not such a record raises."""
    folder = Path(folder) if folder is not None else results_folder()
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("gpu-check_*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(f"{path.name}: not a GPU-check record ({error})") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError(f"{path.name}: not a GPU-check record (format {FORMAT!r} expected)")
        if record.get("quick") or not str(record.get("device", "")).startswith("cuda"):
            continue
        found.append(record)
    return sorted(found, key=lambda r: str(r.get("date", "")))


def measured_epoch_seconds(folder: Path | None = None) -> dict[str, tuple[int, float, int, float]]:
    """``{model: (S_lo, seconds per full epoch at S_lo, S_hi, seconds at S_hi)}`` from the CUDA
    GPU-check records (the script times two batch sizes); empty when none exists."""
    found: dict[str, tuple[int, float, int, float]] = {}
    for record in records(folder):
        lo, hi = (int(s) for s in record["batch_sizes"])
        for row in record.get("timings", ()):
            found[row["model"]] = (lo, float(row[f"epoch_s_{lo}"]), hi, float(row[f"epoch_s_{hi}"]))
    return found


# -- the precision bound --------------------------------------------------------------------------------
def differences(float32: dict, bf16: dict) -> dict[str, float]:
    """bf16 against float32: relative for the training loss and λ_max, in points for test accuracy
    (stored as a fraction)."""
    return {"train_loss": (bf16["train_loss"] - float32["train_loss"]) / abs(float32["train_loss"]),
            "test_acc": 100.0 * (bf16["test_acc"] - float32["test_acc"]),
            "lambda_max": (bf16["lambda_max"] - float32["lambda_max"]) / abs(float32["lambda_max"])}


def within(deltas: dict[str, float], tolerance: dict[str, float] | None = None) -> bool:
    """Every difference of :func:`differences` within its tolerance (:data:`PRECISION_TOL`)."""
    tolerance = PRECISION_TOL if tolerance is None else tolerance
    return all(abs(deltas[k]) <= tolerance[k] for k in tolerance)


def tolerance_words(tolerance: dict[str, float] | None = None) -> str:
    """``test accuracy within 1 point, λ_max within 10 %, training loss within 5 %``."""
    t = PRECISION_TOL if tolerance is None else tolerance
    points = f"{t['test_acc']:g} point{'' if t['test_acc'] == 1 else 's'}"
    return (f"test accuracy within {points}, λ_max within {100 * t['lambda_max']:g} %, "
            f"training loss within {100 * t['train_loss']:g} %")


@dataclasses.dataclass(frozen=True)
class PrecisionBound:
    """One network's bound from a GPU-check record (see the module docstring)."""
    model: str
    card: str                  # the GPU, as torch names it
    variant: str               # what was compared with float32 NCHW: "bf16 + channels-last" or "bf16"
    steps: int                 # SGD steps of each run
    float32: dict              # train_loss, test_acc (fraction), lambda_max, epoch_s
    bf16: dict
    reference: dict | None     # float32 under another seed: how far a new seed moves the same numbers
    tolerance: dict
    dataset: str
    data: str                  # "canonical" or "non-canonical" (e.g. the JPEG stand-in); random pixels bound nothing
    date: str

    @property
    def deltas(self) -> dict[str, float]:
        return differences(self.float32, self.bf16)

    @property
    def within(self) -> bool:
        return within(self.deltas, self.tolerance)

    @property
    def seed_deltas(self) -> dict[str, float] | None:
        return None if self.reference is None else differences(self.float32, self.reference)

    @property
    def speedup(self) -> float:
        """float32's seconds per epoch over bf16's (> 1: bf16 is faster)."""
        return self.float32["epoch_s"] / self.bf16["epoch_s"]


def precision_bound(model: str, folder: Path | None = None) -> PrecisionBound | None:
    """``model``'s precision bound from the newest CUDA GPU-check record that measured it on real
    (canonical or non-canonical, not random) data; ``None`` when none did."""
    bound = None
    for record in records(folder):
        section = record.get("precision") or {}
        for entry in section.get("runs", ()):
            if entry.get("model") != model or entry.get("status") != "measured" or entry.get("data") == "random":
                continue
            bound = PrecisionBound(model, str(record.get("card", "an unnamed GPU")), entry["variant"],
                                   int(entry["steps"]), entry["float32"], entry["bf16"], entry.get("reference"),
                                   section.get("tolerance", PRECISION_TOL), str(entry.get("dataset", "")), entry["data"],
                                   str(record.get("date", "")))
    return bound


def _deltas_words(d: dict[str, float]) -> str:
    return (f"test accuracy {signed(d['test_acc'], '+.1f')} points, λ_max {signed(100 * d['lambda_max'], '+.0f')} %, "
            f"training loss {signed(100 * d['train_loss'], '+.1f')} %")


def precision_note(model: str, precision: str, channels_last: bool, folder: Path | None = None) -> str:
    """One plain sentence for the caption of a figure whose ``model`` runs were trained under
    ``precision`` / ``channels_last``: ``""`` for float32 NCHW (no deviation), else what the option
    is and how it is bounded against float32 (the GPU check's record when one measured ``model``,
    else the CPU bound)."""
    if precision not in ("float32", "bf16"):
        raise ValueError(f"precision={precision!r}: float32 or bf16")
    if precision == "float32" and not channels_last:
        return ""
    if precision == "float32":
        return (f"Trained in channels-last memory layout, in float32: the same arithmetic summed in another order; "
                f"CPU bound: training loss within {100 * CPU_LAYOUT_LOSS_TOL:g} % of the standard layout "
                f"in every epoch of {CPU_BOUND_RUN} ({CPU_BOUND_TEST}).")
    what = "bf16 autocast" + (" with channels-last memory layout" if channels_last else "")
    head = f"Trained under {what} (weights, optimizer and evaluation in float32)"
    bound = precision_bound(model, folder)
    if bound is None:
        return (f"{head}: not yet measured against float32 on a GPU; CPU bound: final training loss within "
                f"{100 * CPU_BF16_LOSS_TOL:g} % of float32 in {CPU_BOUND_RUN} ({CPU_BOUND_TEST}).")
    measured = "" if bound.variant == ("bf16 + channels-last" if channels_last else "bf16") else \
        f", measured as {bound.variant}"
    if bound.data != "canonical":
        measured += f", on non-canonical {bound.dataset} data"
    if bound.within:
        verdict = f"within the stated tolerance ({tolerance_words(bound.tolerance)})"
    else:
        verdict = f"outside the stated tolerance ({tolerance_words(bound.tolerance)})"
        if bound.seed_deltas is not None:
            verdict += f"; float32 under another seed moved them by {_deltas_words(bound.seed_deltas)}"
    return (f"{head}; checked against float32 by the GPU check on {bound.card} ({bound.steps} steps of {model} "
            f"from the same seed and data order{measured}): {_deltas_words(bound.deltas)}, {verdict}.")


def throughput_note(models, precision: str, channels_last: bool, folder: Path | None = None) -> str:
    """:func:`precision_note` for the runs of every network in ``models`` that a chapter trained under
    ``precision`` / ``channels_last`` (channels-last reaches only the convolutional ones, as
    :func:`replication.params.throughput`): one sentence when the networks share it, else one per
    network, each naming its network; ``""`` where nothing deviates from float32 NCHW."""
    notes: dict[str, list[str]] = {}
    for model in dict.fromkeys(models):
        note = precision_note(model, precision, channels_last and model != "mlp", folder)
        if note:
            notes.setdefault(note, []).append(model)
    if len(notes) <= 1:
        return next(iter(notes), "")
    return " ".join(f"{', '.join(names)}: {note}" for note, names in notes.items())
