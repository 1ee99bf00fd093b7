"""Chapter "Same η/S, same dynamics, and where it breaks" (the paper's Fig. 6 and 7; claims 1, 9, 10, 13).

From a base (η₀, S₀), runs at (β η₀, β S₀) (linear rescaling) and at (√β η₀, β S₀) (square-root
rescaling) for several training-set sizes, all for the same number of epochs, several seeds each;
the gradient noise scale along β = 1 training predicts where the invariance should break.
:mod:`.experiment` builds the runs, :mod:`.claims` the numbers and verdicts, :mod:`.figures` the figures.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ...config import ConfigError
from ...params import ChapterSpec, Param, ParameterError, channels_last, check_augment, device, precision, seeds
from ...train import DATASET_INFO
from . import claims, experiment, fig7
from .experiment import NoiseScaleRun, _row  # noqa: F401
from .. import Counted

DATASET_SIZE = {name: size for name, (_, size, _) in DATASET_INFO.items()}   # training-split sizes


def _check_grid(values: dict, total: int, prefix: str = "") -> list:
    """One grid's sizes and βs (the main grid's, or with ``prefix="fig7_"`` the second network's):
    sizes that differ and fit beside the validation split, βs increasing with 1 and at least two
    above it, a base batch no larger than the smallest set, and distinct batch sizes; the βs."""
    which = prefix.rstrip("_") + " " if prefix else ""
    sizes = list(values[f"{prefix}train_sizes"])
    if len(set(sizes)) != len(sizes):
        raise ParameterError(f"{prefix}train_sizes={sizes!r}: the training-set sizes must differ")
    if max(sizes) + values["n_val"] > total:
        raise ParameterError(f"{prefix}train_sizes={sizes!r}: every size + n_val must be <= {total} "
                             f"({values['dataset']}, n_val={values['n_val']})")
    betas = list(values[f"{prefix}betas"])
    if 1 not in betas:
        raise ParameterError(f"{prefix}betas={betas!r}: must contain 1 (the base run every β is compared with)")
    if betas != sorted(set(betas)):
        raise ParameterError(f"{prefix}betas={betas!r}: must be increasing, without repeats")
    if len([b for b in betas if b > 1]) < 2:
        raise ParameterError(f"{prefix}betas={betas!r}: need at least two values above 1 to find a break")
    S0 = values[f"{prefix}base_batch_size"]
    if S0 > min(sizes):
        raise ParameterError(f"{prefix}base_batch_size={S0!r}: must be <= the smallest {which}training-set size "
                             f"{min(sizes)}")
    if len({int(round(b * S0)) for b in betas}) != len(betas):
        raise ParameterError(f"{prefix}betas={betas!r}: two betas give the same batch size round(beta * {S0})")
    return betas


def _check(values: dict) -> None:
    total = DATASET_SIZE[values["dataset"]]
    betas = _check_grid(values, total)
    if not set(values["sqrt_betas"]) <= set(betas):
        raise ParameterError(f"sqrt_betas={list(values['sqrt_betas'])!r}: must be a subset of betas={betas!r}")
    if not 1 < values["small_beta"] <= max(betas):
        raise ParameterError(f"small_beta={values['small_beta']!r}: must be in (1, {max(betas):g}] (the largest beta)")
    if max(values["noise_epochs"]) > values["epochs"]:
        raise ParameterError(f"noise_epochs={list(values['noise_epochs'])!r}: must be <= epochs={values['epochs']}")
    if values["dataset"] == "cifar10" and values["model"] == "mlp":
        raise ParameterError("model='mlp': CIFAR-10 takes a convolutional model (vgg11, resnet20, resnet32, resnet56)")
    if values["dataset"] != "cifar10" and values["model"] != "mlp":
        raise ParameterError(f"model={values['model']!r}: the convolutional models need dataset=cifar10")
    check_augment(values)

    _check_fig7(values, total)

    class _P(dict):
        __getattr__ = dict.__getitem__

    try:        # every config of the grids is valid (batch sizes, model options) before any compute
        experiment.grid(_P(values))
        fig7.grid(_P(values))
    except ConfigError as error:
        raise ParameterError(str(error)) from None


def _check_fig7(values: dict, total: int) -> None:
    """The second network's grid (the paper's Fig. 7): the same rules as the main grid's."""
    if values["fig7_model"] == fig7.NONE:
        return
    _check_grid(values, total, "fig7_")
    if values["fig7_model"] != "small_cnn" and values["dataset"] != "cifar10":
        raise ParameterError(f"fig7_model={values['fig7_model']!r}: VGG-11 and the ResNets need dataset=cifar10 "
                             "(small_cnn runs on every dataset)")


ABOUT = "runs that scale η and S together should follow the same curves, up to a point: linear against square-root rescaling over three training-set sizes, where the invariance breaks, and whether the gradient noise scale predicts the break (the paper's Figs. 6 and 7)."   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("invariance", "Same η/S, same dynamics, and where it breaks", (
    device("device the networks are trained on"),
    Param("dataset", "str", "training data", choices=("fashion-mnist", "mnist", "cifar10")),
    Param("model", "str", "network (mlp on the 28×28 sets; vgg11 or a ResNet on CIFAR-10)",
          choices=("mlp", "vgg11", "resnet20", "resnet32", "resnet56")),
    Param("hidden", "int_list", "hidden-layer widths of the MLP (ignored by the other models)", low=1, high=4096, unique=False),
    Param("train_sizes", "int_list", "training-set sizes N (seeded random subsets of the training split)",
          low=100, high=59_900, min_len=2),
    Param("n_val", "int", "validation examples, held out of the training split", low=100, high=30_000),
    Param("n_test", "int", "test examples evaluated each epoch (the first ones of the test split)", low=1,
          high=10_000),
    Param("base_lr", "float", "η₀ of the base run (β = 1)", low=1e-5, high=10),
    Param("base_batch_size", "int", "S₀ of the base run (β = 1)", low=1, high=50_000),
    Param("betas", "float_list", "the factors β of the linear rescaling (η, S) = (β η₀, β S₀); must contain 1; "
          "a β with β S₀ > N is skipped for that N", low=0.01, high=10_000, min_len=3),
    Param("sqrt_betas", "float_list", "the factors β also run with square-root rescaling (√β η₀, β S₀)",
          low=0.01, high=10_000),
    seeds("seeds (initialization and batch order) per setting"),
    Param("epochs", "int", "training epochs of every run (plain SGD, constant η)", low=1, high=10_000),
    Param("momentum", "float", "SGD momentum (0: plain SGD, as the theory)", low=0.0, high=0.99),
    Param("augment", "bool", "random crop and flip (CIFAR-10 only)"),
    precision(),
    channels_last(),
    Param("accept_unverified_data", "bool", "accept non-canonical data (the CIFAR-10 JPEG stand-in; results say "
          "NOT canonical)"),
    Param("noise_epochs", "int_list", "epochs along β = 1 training at which B_noise is measured (0 = "
          "initialization; the last epoch is always measured)", low=0, high=10_000),
    Param("noise_samples", "int", "training examples Tr C and |ḡ|² average over (all when >= N)", low=2,
          high=60_000),
    Param("margin", "float", "accuracy margin of the rules (a fraction: 0.02 = 2 points)", low=0.001, high=0.5),
    Param("small_beta", "float", "claim 1 is tested at the betas in (1, small_beta]", low=1.0, high=10_000),
    Param("fig7_model", "str", "the second network of the breaking-point experiment (the paper's Fig. 7, on "
          "ResNets): small_cnn on any dataset, a ResNet or VGG-11 on CIFAR-10; none skips it",
          choices=(fig7.NONE, "small_cnn", "vgg11", "resnet20", "resnet32", "resnet56")),
    Param("fig7_channels", "int_list", "channels of the small CNN's conv layers (ignored by the other models)",
          low=1, high=1024, unique=False),
    Param("fig7_train_sizes", "int_list", "training-set sizes N of the second network's runs", low=100,
          high=59_900, min_len=3),
    Param("fig7_base_lr", "float", "η₀ of the second network's base run (β = 1)", low=1e-5, high=10),
    Param("fig7_base_batch_size", "int", "S₀ of the second network's base run (β = 1)", low=1, high=50_000),
    Param("fig7_betas", "float_list", "the factors β of its linear rescaling (η, S) = (β η₀, β S₀); must contain "
          "1; a β with β S₀ > N is skipped for that N", low=0.01, high=10_000, min_len=3),
    Param("fig7_seeds", "int", "seeds per (N, β) of the second network", low=2, high=1000),
    Param("fig7_epochs", "int", "training epochs of every run of the second network", low=1, high=10_000),
), check=_check)


@dataclasses.dataclass
class InvarianceResults(Counted):
    runs: list            # one row per training run (labels, final numbers, curves)
    noise: list           # one row per (N, seed, epoch): B_noise along β = 1 training
    architecture: str
    n_parameters: int
    epochs: int
    provenance: dict
    wall_time: float
    fig7: object = None   # the breaking point on the second network (.fig7.Fig7Results), None when not run


def compute(params, *, store, progress: bool = True) -> InvarianceResults:
    from ...runs import train_all

    main = experiment.grid(params)
    prefix = experiment.prefix_configs(params)
    # On the CPU, one run at a time is faster than a vmapped ensemble at these small batch sizes, and
    # one thread is as fast for these small networks and immune to OpenMP stalls on a busy machine.
    ensemble = "auto" if params.device == "cuda" else False
    threads = torch.get_num_threads()
    if params.device == "cpu":
        torch.set_num_threads(1)
    try:
        trained = train_all([c for _, c in main] + [c for _, c in prefix], store=store, progress=progress,
                            ensemble=ensemble)
        results = _assemble(params, store, main, prefix, trained)
    finally:
        torch.set_num_threads(threads)
    results.fig7 = fig7.compute(params, store=store, progress=progress)
    return results


def _assemble(params, store, main, prefix, trained) -> InvarianceResults:
    from ...runs import compute_one
    from ...train import data_provenance

    main_res, prefix_res = trained[:len(main)], trained[len(main):]
    chance = 0.1
    runs = [_row(labels, r, chance) for (labels, _), r in zip(main, main_res)]
    # B_noise along β = 1 training: init, the prefix runs, the end of the full run
    points = []
    for (labels, cfg), r in zip(main, main_res):
        if labels["beta"] == 1 and labels["variant"] == experiment.LINEAR:
            points.append((dict(N=labels["N"], seed=labels["seed"], epoch=0), cfg, r, "init"))
            points.append((dict(N=labels["N"], seed=labels["seed"], epoch=params.epochs), cfg, r, "final"))
    for (labels, cfg), r in zip(prefix, prefix_res):
        points.append((labels, cfg, r, "final"))
    noise, noise_res = [], []
    for labels, cfg, r, at in sorted(points, key=lambda p: (p[0]["N"], p[0]["seed"], p[0]["epoch"])):
        if at == "final" and (r.payload["diverged"]):
            continue
        ncfg = experiment.NoiseScaleRun(train_key=r.key, n_samples=params.noise_samples, at=at)
        res = compute_one(ncfg, lambda c, cfg=cfg, r=r: experiment.measure_noise(c, cfg, r.payload), store=store,
                          device=cfg.device, data=data_provenance(cfg))
        noise_res.append(res)
        p = res.payload
        noise.append(dict(labels, trace_C=p["trace_C"], grad_norm2=p["grad_norm2"], B_noise=p["B_noise"],
                          B_pred=experiment.predicted_batch(p["B_noise"], labels["N"]), loss=p["loss"],
                          n_samples=p["n"]))
    everything = {r.key: r for r in list(trained) + noise_res}.values()
    first = main_res[0].payload
    return InvarianceResults(runs=runs, noise=noise, architecture=first["architecture"],
                             n_parameters=first["n_parameters"], epochs=params.epochs,
                             provenance=main_res[0].provenance, wall_time=sum(r.wall_time for r in everything))


def verdicts(results, params):
    return claims.verdicts(results, params)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    from .experiment import grid, prefix_configs

    return ([cfg for _, cfg in grid(params)] + [cfg for _, cfg in prefix_configs(params)]
            + [cfg for _, cfg in fig7.grid(params)])
