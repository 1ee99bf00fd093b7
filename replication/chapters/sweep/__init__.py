"""Chapter "η/S across a thousand minima" (the accuracy-vs-η/S relation of He, Liu and Tao, NeurIPS
2019, tested at matched training progress; claims 4 and 5): parameters, compute, verdicts.

Runs (:mod:`.experiment`): batch sizes from a log-spaced set × learning rates drawn log-uniformly
× seeds, each trained until its training loss reaches ``target_loss`` (``max_epochs`` the cap);
λ_max probed where each run stopped; Tr H (Hutch++) of the runs that reached the target when
``trace_hvp`` > 0.  :mod:`.claims` computes the rank correlations, the break and the verdicts
(rules in ``rules.yaml``), :mod:`.figures` the figures.
"""
from __future__ import annotations

import dataclasses
import math

from ...params import ChapterSpec, Param, channels_last, device, lanczos_tol, precision, seeds
from ...train import TrainConfig
from . import experiment
from .. import Counted

ABOUT = ("η/S across hundreds of minima, each trained to the same training loss: rank correlations of accuracy and of "
         "sharpness with η/S, with η alone and with S alone, in the groups of He, Liu and Tao, and where large η/S "
         "stops helping.")   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("sweep", "η/S across a thousand minima", (
    device("device the networks are trained on"),
    Param("dataset", "str", "training data (He et al.: CIFAR-10/100)", choices=("fashion-mnist", "mnist", "cifar10")),
    Param("accept_unverified_data", "bool", "accept non-canonical data (the CIFAR-10 stand-in; results say NOT canonical)"),
    Param("n_train", "int", "training examples (a seeded random subset of the training split)", low=100, high=60_000),
    Param("n_val", "int", "validation examples, held out of the training split", low=1, high=30_000),
    Param("n_test", "int", "test examples (the first n of the test split; 0 = all)", low=0, high=10_000),
    Param("model", "str", "network (He et al.: ResNet-110, VGG-19)",
          choices=("mlp", "small_cnn", "resnet32", "resnet56", "vgg11")),
    Param("widths", "int_list", "hidden widths of the MLP, or channels of the small CNN (ignored otherwise)",
          low=1, high=4096, unique=False),
    Param("width_multiplier", "float", "channel multiplier of the ResNets and VGG-11 (1 = standard)", low=0.01, high=8),
    Param("momentum", "float", "SGD momentum (0 = plain SGD, whose noise scale is η/S)", low=0, high=0.99),
    Param("weight_decay", "float", "weight decay", low=0, high=0.1),
    Param("augment", "bool", "random crop and flip (CIFAR-10 only)"),
    precision(),
    channels_last(),
    Param("batch_sizes", "int_list", "batch sizes S, log-spaced, small to large", low=1, high=60_000, min_len=3),
    Param("lr_min", "float", "lower end of the log-uniform learning-rate box", low=1e-6, high=10),
    Param("lr_max", "float", "upper end of the log-uniform learning-rate box", low=1e-6, high=10),
    Param("n_lrs", "int", "learning rates drawn per seed (shared by every batch size)", low=3, high=10_000),
    seeds("seeds (each: its own initialization, batch order and learning-rate draws)", low=1),
    Param("draw_seed", "int", "seed of the learning-rate draws", low=0, high=2**31 - 1),
    Param("target_loss", "float", "training-set loss every run trains to (the matched point of training)",
          low=1e-6, high=10),
    Param("max_epochs", "int", "the cap: a run that has not reached target_loss by then is excluded and counted",
          low=1, high=10_000),
    Param("hessian_samples", "int", "training examples λ_max and Tr H average over (n_train = the exact training "
          "Hessian)", low=1, high=60_000),
    lanczos_tol(),
    Param("lanczos_max_iter", "int", "HVP cap of one λ_max", low=2, high=10_000),
    Param("trace_hvp", "int", "HVPs of the Hutch++ estimate of Tr H per run (0 = not measured)", low=0, high=10_000),
    Param("ratio_bins", "int", "equal bins of log η/S: the break, and the groups at fixed η/S of the control",
          low=3, high=200),
    Param("bootstrap", "int", "bootstrap resamples of every interval", low=100, high=100_000),
), check=experiment.check)


@dataclasses.dataclass
class SweepResults(Counted):
    counted_kinds = (TrainConfig.kind,)   # the page counts training runs (its Tr H measurements are timed apart)
    runs: list                # one row (dict) per run (see _row)
    lr_draws: dict            # seed -> its learning rates
    architecture: str
    n_parameters: int
    provenance: dict
    canonical: bool
    train_wall_time: float
    measure_wall_time: float


def _row(labels: dict, cfg, result, trace=None) -> dict:
    p = result.payload
    h = p["history"]
    probe = p["hessian"][-1] if p["hessian"] else {}
    lam = probe.get("lambda_max", math.nan)
    final = p["final"]
    stopped = p.get("stopped_epoch")
    steps = list(h["steps"])
    return dict(**labels, key=result.key, diverged=bool(p["diverged"]), reached=stopped is not None and not p["diverged"],
                stopped_epoch=stopped, epochs=int(p["epochs_completed"]), steps=int(sum(steps)),
                sde_time=float(labels["ratio"] * sum(steps)),
                train_loss=final.get("train_loss"), train_acc=final.get("train_acc"), val_acc=final.get("val_acc"),
                val_loss=final.get("val_loss"), test_acc=final.get("test_acc"),
                gap=(100 * (final["train_acc"] - final["val_acc"])
                     if final.get("train_acc") is not None and final.get("val_acc") is not None else math.nan),
                lam_max=lam, lam_converged=bool(probe.get("converged", False)), lam_epoch=probe.get("epoch"),
                lam_hvp=probe.get("n_hvp"), lam_samples=probe.get("n_samples"),
                eta_lam=labels["lr"] * lam if math.isfinite(lam) else math.nan,
                trace=None if trace is None else trace.payload.get("trace"),
                trace_stderr=None if trace is None else trace.payload.get("trace_stderr"),
                shared_by=int(p.get("timing_shared_by", 1) or 1), trained_as=p.get("trained_as", ""))


def compute(params, *, store, progress: bool = True) -> SweepResults:
    import time

    from ...measure import measure_all
    from ...runs import train_all

    items = experiment.configs(params)
    results = train_all([cfg for _, cfg in items], store=store, progress=progress)
    traces = [None] * len(results)
    start = time.perf_counter()
    if params.trace_hvp > 0:
        reached = [r if r.payload.get("stopped_epoch") is not None else None for r in results]
        traces = measure_all(reached, store=store, progress=progress, desc="Tr H", measures=("trace",),
                             n_samples=params.hessian_samples, trace_hvp=max(6, params.trace_hvp))
    measure_wall = time.perf_counter() - start
    runs = [_row(labels, cfg, r, t) for (labels, cfg), r, t in zip(items, results, traces)]
    prov = results[0].provenance
    unique = {r.key: r for r in results}.values()
    return SweepResults(
        runs=runs, lr_draws={s: experiment.lr_draws(params, s) for s in range(params.seeds)},
        architecture=items[0][1].architecture, n_parameters=int(results[0].payload["n_parameters"]),
        provenance=prov, canonical=bool((prov.get("data") or {}).get("canonical", True)),
        train_wall_time=float(sum(r.wall_time for r in unique)), measure_wall_time=measure_wall)


def verdicts(results: SweepResults, params) -> list:
    from . import claims

    return claims.verdicts(results, params)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    return [cfg for _, cfg in experiment.configs(params)]
