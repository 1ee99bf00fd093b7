"""Chapter "η/S and the memorization of random labels" (the paper's Fig. 5, claim 11): parameters,
compute and verdicts.  The grid is in :mod:`.experiment`, the rules in :mod:`.claims`, the figures
in :mod:`.figures`.

An MLP (2 × 256 ReLU by default, after Arpit et al. 2017 as the ICLR 2018 reproducibility challenge
read it) is trained on MNIST with 25 % or 50 % of the training labels replaced by random ones, over
a factorial grid of S × η (plain SGD) and S × η (momentum SGD), several seeds each.  Every epoch
records the training accuracy against the noisy labels, the accuracy on the corrupted examples
against their random labels (memorization), on the clean ones, and the clean held-out accuracy.
"""
from __future__ import annotations

import dataclasses
import time

from ...params import ChapterSpec, Param, ParameterError, check_largest_at_most, device, seeds
from . import experiment
from .. import Counted

HISTORY = ("epoch", "train_acc", "train_loss", "memorized_acc", "corrupted_true_acc", "clean_acc", "test_acc")


def _check(values: dict) -> None:
    check_largest_at_most(values, "batch_sizes")
    for name in ("batch_sizes", "lrs", "momentum_lrs", "noise_levels"):
        if len(set(values[name])) != len(values[name]):
            raise ParameterError(f"{name}={list(values[name])!r}: the values must differ")
    if len({lr / S for lr in values["lrs"] for S in values["batch_sizes"]}) < 3:
        raise ParameterError(f"lrs={list(values['lrs'])!r}: with batch_sizes they must give at least three "
                             "ratios lr/batch size (a rank correlation needs three)")
    levels = values["train_acc_levels"]
    if list(levels) != sorted(set(levels)):
        raise ParameterError(f"train_acc_levels={list(levels)!r}: increasing, distinct values")


ABOUT = "networks trained on partly random MNIST labels (the paper's Fig. 5): whether a higher η/S generalizes better at equal memorization, whether a low η/S memorizes more slowly, and how momentum fits the ratio."   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("memorization", "η/S and the memorization of random labels", (
    device("device the networks are trained on"),
    Param("n_train", "int", "training examples (a seeded random subset of the MNIST training split; "
          "60000 = all of it)", low=100, high=experiment.DATASET_SIZE),
    Param("n_test", "int", "clean held-out examples: the first n_test of the MNIST test split", low=100,
          high=experiment.TEST_SIZE),
    Param("depth", "int", "hidden layers of the MLP (not in the paper; 2 as the reproducibility challenge)",
          low=1, high=20),
    Param("width", "int", "units per hidden layer (the paper: 256)", low=1, high=4096),
    Param("noise_levels", "float_list", "fractions of the training labels replaced by uniform random labels",
          low=0.01, high=1.0),
    Param("batch_sizes", "int_list", "batch sizes S (every S with every η)", low=1, high=experiment.DATASET_SIZE),
    Param("lrs", "float_list", "learning rates η of plain SGD", low=1e-5, high=10),
    Param("momentum", "float", "momentum of the second half of the grid (0 skips it)", low=0.0, high=0.99),
    Param("momentum_lrs", "float_list", "learning rates η of the momentum runs", low=1e-5, high=10),
    seeds("seeds (initialization and batch order) per setting", high=100),
    Param("epochs", "int", "training epochs of every run (constant η, no weight decay)", low=1, high=10_000),
    Param("train_acc_levels", "float_list", "training accuracies (against the noisy labels) at which every "
          "run's held-out accuracy is read", low=0.05, high=1.0),
    Param("min_ratios", "int", "a training-accuracy level is judged when runs of at least this many "
          "distinct η/S reach it", low=3, high=100),
    Param("memorization_level", "float", "accuracy on the corrupted labels at which they count as learned "
          "(epochs to reach it against η/S)", low=0.01, high=1.0),
    Param("onset_level", "float", "accuracy on the corrupted labels that marks the onset of memorization "
          "(best held-out accuracy before it?)", low=0.01, high=1.0),
    Param("epoch_factor", "float", "equivalence bound of the momentum test: momentum and plain runs of equal "
          "η/((1−m)S) reach the memorization level within this factor of epochs of each other", low=1.01,
          high=10.0),
), check=_check)


@dataclasses.dataclass
class MemorizationResults(Counted):
    """One row per run: its labels (noise, momentum, eta, S, seed, ratio, eff_ratio), its per-epoch
    history (:data:`HISTORY`), and what the split says about the corrupted examples."""

    rows: list[dict]
    architecture: str
    n_parameters: int
    n_train: int
    n_test: int
    epochs: int
    provenance: dict
    wall_time: float          # training time of the runs (as stored)
    elapsed: float            # this call


def _row(labels: dict, result) -> dict:
    p = result.payload
    h = p["history"]
    split = p["split"]
    return dict(labels, key=result.key, diverged=bool(p["diverged"]), epochs_completed=p["epochs_completed"],
                corrupted_fraction=split["corrupted_fraction"], n_corrupted=split["n_corrupted"],
                history={k: list(h.get(k) or []) for k in HISTORY})


def compute(params, *, store, progress: bool = True) -> MemorizationResults:
    from ...runs import train_all

    start = time.perf_counter()
    grid = experiment.runs(params)
    results = train_all([cfg for _, cfg in grid], store=store, progress=progress)
    rows = [_row(labels, r) for (labels, _), r in zip(grid, results)]
    first = results[0].payload
    unique = {r.key: r for r in results}.values()
    return MemorizationResults(
        rows=rows, architecture=first["architecture"], n_parameters=first["n_parameters"],
        n_train=params.n_train, n_test=first["split"]["n_test"], epochs=params.epochs,
        provenance=results[0].provenance, wall_time=sum(r.wall_time for r in unique),
        elapsed=time.perf_counter() - start)


def verdicts(results: MemorizationResults, params) -> list:
    from . import claims

    return claims.verdicts(results, params)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    return [cfg for _, cfg in experiment.runs(params)]
