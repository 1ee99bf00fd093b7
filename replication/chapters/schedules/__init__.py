"""Chapter "Batch-size schedules in place of learning-rate schedules" (the paper's Fig. 4 and §4.5 /
Fig. 13; claims 8 and 12): parameters, compute, verdicts.

Runs (:mod:`.experiment`): cyclic learning rate (CLR) against cyclic batch size (CBS) with η/S equal at
every epoch, for a short and a long stage length; a √-rule batch schedule (η/√S equal to CLR's) as a
contrast; the constant pair (bs_low, lr_low) vs (bs_high, lr_high).  λ_max is tracked at the end of
every stage of the cyclic runs by the engine's Hessian probes, each warm-started from the previous
probe's eigenvector.  :mod:`.claims` computes the numbers and verdicts, :mod:`.figures` the figures.
"""
from __future__ import annotations

import dataclasses

from ...params import ChapterSpec, Param, channels_last, device, lanczos_tol, precision, seeds
from . import experiment
from .. import Counted

ABOUT = "growing the batch instead of shrinking the learning rate (the paper's Fig. 4 and its long- and short-stage cycles): cyclic batch size against cyclic learning rate at equal η/S, sharpness through the cycles, and a square-root schedule as the contrast."   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("schedules", "Batch-size schedules in place of learning-rate schedules", (
    device("device the networks are trained on"),
    Param("dataset", "str", "training data (the paper: CIFAR-10)", choices=("fashion-mnist", "mnist", "cifar10")),
    Param("accept_unverified_data", "bool", "accept non-canonical data (the CIFAR-10 stand-in; results say NOT canonical)"),
    Param("n_train", "int", "training examples (a seeded random subset of the training split)", low=100, high=60_000),
    Param("n_val", "int", "validation examples, held out of the training split", low=0, high=30_000),
    Param("n_test", "int", "test examples (the first n of the test split; 0 = all)", low=0, high=10_000),
    Param("model", "str", "network (the paper: VGG-11)", choices=("mlp", "small_cnn", "vgg11")),
    Param("widths", "int_list", "hidden widths of the MLP, or channels of the small CNN (ignored for vgg11)",
          low=1, high=4096, unique=False),
    Param("width_multiplier", "float", "channel multiplier of VGG-11 (1 = the standard network)", low=0.01, high=8),
    Param("momentum", "float", "SGD momentum (the paper's is not stated; 0 = plain SGD)", low=0, high=0.99),
    Param("weight_decay", "float", "weight decay (the paper's is not stated)", low=0, high=0.1),
    Param("augment", "bool", "random crop and flip (CIFAR-10 only)"),
    precision(),
    channels_last(),
    Param("lr_low", "float", "lowest learning rate of the cyclic LR schedule (the paper: 0.001)", low=1e-6, high=10),
    Param("lr_high", "float", "highest learning rate of the cyclic LR schedule and the CBS learning rate (the paper: 0.005)",
          low=1e-6, high=10),
    Param("bs_low", "int", "batch size of CLR and smallest CBS batch size (the paper: 128); the largest is "
          "bs_low * lr_high / lr_low", low=1, high=60_000),
    Param("step_sizes", "int_list", "stage lengths in epochs, short to long (the paper: 4 and 15)", low=1, high=1000,
          min_len=2),
    Param("fig4_step_size", "int", "the stage length of the CLR/CBS comparison and of the √-rule contrast", low=1,
          high=1000),
    Param("epochs", "int", "training epochs of every run; epochs - 1 a multiple of 2 × every stage length", low=3,
          high=10_000),
    seeds("seeds per schedule"),
    Param("hessian_samples", "int", "training examples the λ_max probes average over", low=1, high=60_000),
    lanczos_tol(),
    Param("lanczos_max_iter", "int", "HVP cap of one λ_max", low=2, high=10_000),
    Param("equivalence_margin", "float", "claim 8: the largest difference of mean final test accuracy (points) "
          "still called equivalent", low=0.01, high=50),
), check=experiment.check)


@dataclasses.dataclass
class ScheduleResults(Counted):
    runs: list                # one row (dict) per run: labels, history, final numbers, probes, cost
    schedules: dict           # name -> kind, step size, per-epoch η, S, η/S, probe epochs with stage type
    architecture: str
    n_parameters: int
    provenance: dict
    canonical: bool
    train_wall_time: float


def _row(labels: dict, cfg, result) -> dict:
    p = result.payload
    h = p["history"]
    shared = p.get("timing_shared_by", 1) or 1
    return dict(**labels, key=result.key, diverged=bool(p["diverged"]), epochs_completed=p["epochs_completed"],
                epoch=list(h["epoch"]), train_acc=list(h["train_acc"]), test_acc=list(h["test_acc"]),
                train_loss=list(h["train_loss"]), test_loss=list(h.get("test_loss") or []), lr=list(h["lr"]), batch_size=list(h["batch_size"]),
                ratio=list(h["ratio"]), steps_per_epoch=list(h["steps"]),
                final_test_acc=p["final"].get("test_acc"), final_train_acc=p["final"].get("train_acc"),
                updates=int(sum(h["steps"])),
                train_seconds=float(sum(p["timing"]["train_seconds"])) / shared,
                wall_time=float(result.wall_time), shared_by=int(shared), trained_as=p.get("trained_as", ""),
                probes=[{k: q[k] for k in ("epoch", "lambda_max", "residual", "converged", "n_hvp")}
                        | {"warm_start": bool(q.get("warm_start", False))} for q in p["hessian"]])


def compute(params, *, store, progress: bool = True) -> ScheduleResults:
    from ...runs import train_all

    items = experiment.configs(params)
    results = train_all([cfg for _, cfg in items], store=store, progress=progress)
    runs = [_row(labels, cfg, r) for (labels, cfg), r in zip(items, results)]
    first = {}
    for (labels, cfg), r in zip(items, results):
        first.setdefault(labels["schedule"], cfg)
    specs = experiment.schedules(params)
    schedules = {}
    for name, cfg in first.items():
        spec = specs[name]
        schedules[name] = dict(kind=spec["kind"], step_size=spec["step_size"],
                               lr=[cfg.lr_at(e) for e in range(cfg.epochs)],
                               batch_size=[cfg.batch_size_at(e) for e in range(cfg.epochs)],
                               ratio=[cfg.ratio_at(e) for e in range(cfg.epochs)],
                               probes=[list(p) for p in spec["probes"]])
    prov = results[0].provenance
    return ScheduleResults(
        runs=runs, schedules=schedules, architecture=items[0][1].architecture,
        n_parameters=int(results[0].payload["n_parameters"]), provenance=prov,
        canonical=bool((prov.get("data") or {}).get("canonical", True)),
        train_wall_time=float(sum({r.key: r.wall_time for r in results}.values())))


def verdicts(results: ScheduleResults, params) -> list:
    from . import claims

    return claims.verdicts(results, params)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    from .experiment import configs

    return [cfg for _, cfg in configs(params)]
