"""Chapter "Interpolating between minima" (the paper's Figs. 2 and 3, claims 6 and 7).

Train networks at different (η, S), take their early-stopped parameters, and walk the straight line
``(1 − α) θ_a + α θ_b`` for α in [−1, 2], with batch-norm statistics recomputed at every α.  At
each endpoint: λ_max (Lanczos) and the loss along filter-normalized random directions (Li et al.
2018).  The rules for claims 6 and 7 and for the barrier live in :mod:`.claims`; run configs and
measurements in :mod:`.experiment`; the line walk, batch-norm recalibration and directions in
:mod:`.landscape`; figures in :mod:`.figures`.
"""
from __future__ import annotations

import dataclasses

import torch

from ...params import (ChapterSpec, Param, ParameterError, channels_last, check_at_most, check_augment, check_split, device, precision,
                       lanczos_tol, seeds)
from ...store import ResultStore
from ...train import DATASET_INFO
from . import experiment, landscape
from .. import Counted

MODELS = ("small_cnn", "vgg11", "resnet20", "resnet32", "resnet56")
DATASET_SIZE = {name: size for name, (_, size, _) in DATASET_INFO.items()}   # training-split sizes


def _check(values: dict) -> None:
    check_split(values, DATASET_SIZE[values["dataset"]], note=values["dataset"])
    if len(values["fig2_lrs"]) != len(values["fig2_batch_sizes"]):
        raise ParameterError(f"fig2_lrs={list(values['fig2_lrs'])!r}: one learning rate per batch size "
                             f"(fig2_batch_sizes has {len(values['fig2_batch_sizes'])})")
    pairs = list(zip(values["fig2_lrs"], values["fig2_batch_sizes"]))
    if len(set(pairs)) != len(pairs):
        raise ParameterError(f"fig2_batch_sizes={list(values['fig2_batch_sizes'])!r}: the (lr, S) settings must differ")
    if 1.0 not in values["fig3_betas"]:
        raise ParameterError(f"fig3_betas={list(values['fig3_betas'])!r}: must contain 1 (the reference run)")
    Ss = [int(round(values["fig3_batch_size"] * b)) for b in values["fig3_betas"]]
    if len(set(Ss)) != len(Ss) or min(Ss) < 1:
        raise ParameterError(f"fig3_betas={list(values['fig3_betas'])!r}: every round(beta * fig3_batch_size) "
                             "must be a distinct batch size >= 1")
    biggest = max(max(values["fig2_batch_sizes"]), max(Ss))
    if biggest > values["n_train"]:
        raise ParameterError(f"n_train={values['n_train']!r}: must be >= the largest batch size ({biggest})")
    check_at_most(values, ("bn_samples", "eval_train", "hessian_samples"))
    check_augment(values)
    if values["dataset"] != "cifar10" and any(m != "small_cnn" for m in (values["fig2_model"], values["fig3_model"])):
        raise ParameterError(f"fig2_model={values['fig2_model']!r}, fig3_model={values['fig3_model']!r}: "
                             "VGG-11 and the ResNets need dataset=cifar10; use small_cnn on "
                             f"{values['dataset']}")


ABOUT = "the loss along the straight line between two trained networks (the paper's Figs. 2 and 3): whether a lower η/S ends in a sharper minimum, whether equal η/S ends in equally wide ones, barriers on the line, and widths along random filter-normalized directions."   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("interpolation", "Interpolating between minima", (
    device("device the networks are trained and measured on"),
    Param("dataset", "str", "training data", choices=("fashion-mnist", "mnist", "cifar10")),
    Param("accept_unverified_data", "bool", "accept non-canonical data (the CIFAR-10 JPEG stand-in; tests only)"),
    Param("n_train", "int", "training examples (a seeded random subset of the training split)", low=64,
          high=59_000),
    Param("n_val", "int", "validation examples held out of the training split (early stopping)", low=16,
          high=30_000),
    Param("n_test", "int", "test examples the line is evaluated on (the first ones of the test split)", low=16,
          high=10_000),
    Param("augment", "bool", "random crop and flip (CIFAR-10 only)"),
    precision(),
    channels_last(),
    Param("fig2_model", "str", "network of the Fig. 2 analogue (paper: ResNet-56)", choices=MODELS),
    Param("fig3_model", "str", "network of the Fig. 3 analogue (paper: VGG-11)", choices=MODELS),
    Param("channels", "int_list", "convolution channels of small_cnn", low=1, high=1024, unique=False),
    Param("model_width", "float", "channel multiplier of VGG-11 and the ResNets", low=0.01, high=8),
    Param("batch_norm", "bool", "batch normalization in the networks"),
    Param("momentum", "float", "SGD momentum (the paper's 'naive SGD': 0)", low=0, high=0.999),
    Param("fig2_lrs", "float_list", "learning rates of the Fig. 2 settings (first = baseline)", low=1e-5,
          high=10, min_len=2, unique=False),
    Param("fig2_batch_sizes", "int_list", "batch sizes of the Fig. 2 settings, paired with fig2_lrs", low=1,
          high=60_000, min_len=2, unique=False),
    Param("fig2_epochs", "int", "training epochs of the Fig. 2 runs (early-stopped endpoint)", low=1, high=10_000),
    Param("fig3_lr", "float", "η₀ of the Fig. 3 runs (η = β η₀)", low=1e-5, high=10),
    Param("fig3_batch_size", "int", "S₀ of the Fig. 3 runs (S = round(β S₀))", low=1, high=60_000),
    Param("fig3_betas", "float_list", "the factors β of the Fig. 3 runs (must contain 1)", low=1e-3, high=1e3,
          min_len=2),
    Param("fig3_epochs", "int", "training epochs of the Fig. 3 runs", low=1, high=10_000),
    seeds("pairs of runs per panel (seeds 0, 1, ...)", high=100),
    Param("shared_init", "bool", "the two endpoints of a pair start from the same initialization"),
    Param("init_variant", "bool", "also show panel (a) with the other initialization choice"),
    Param("alpha_points", "int", "at least this many α in [-1, 2], denser near 0 and 1", low=7, high=1_000),
    Param("bn_samples", "int", "training examples the batch-norm statistics are recomputed on at every point",
          low=16, high=59_000),
    Param("eval_train", "int", "training examples the training loss along the line is measured on", low=16,
          high=59_000),
    Param("delta_loss", "float", "Δ: the rise of the training loss that defines a width", low=1e-4, high=10),
    Param("hessian_samples", "int", "training examples λ_max averages over", low=16, high=59_000),
    lanczos_tol(),
    Param("lanczos_max_iter", "int", "HVP cap of one λ_max", low=2, high=10_000),
    Param("directions", "int", "filter-normalized random directions per endpoint (0: none)", low=0, high=100),
    Param("direction_points", "int", "points t in [-1, 1] along each direction", low=3, high=1_000),
    Param("surface_points", "int", "points per side of a 2-D filter-normalized surface (0: none)", low=0,
          high=200),
    Param("equal_margin", "float", "claim 7: 'similar' = within this factor", low=1.01, high=100),
    Param("barrier_margin", "float", "a barrier lower than this (nats) counts as none", low=1e-4, high=10),
), check=_check)


@dataclasses.dataclass
class InterpolationResults(Counted):
    settings: dict            # figure -> [setting dict]
    panels: list              # panel dicts (experiment.panels)
    alphas: tuple
    lines: dict               # panel id -> [LineRun payload per seed]
    bn_other: dict            # panel id -> [LineRun payload (bn interpolated) per seed]
    endpoints: dict           # "fig2-0" -> [EndpointRun payload per seed]
    runs: dict                # "fig2-0" -> [training summary per seed]
    architectures: dict       # figure -> description
    provenance: dict
    wall_time: dict           # train, lines, endpoints (s, summed over results)
    seeds: int


def _train_summary(result) -> dict:
    p = result.payload
    h = p["history"]
    best = p["best_epoch"]
    idx = None
    if best is not None and "epoch" in h:
        idx = h["epoch"].index(best) if best in h["epoch"] else None
    pick = lambda k: (h[k][idx] if idx is not None and k in h else None)  # noqa: E731
    return dict(key=result.key, best_epoch=best, best_val_acc=p.get("best_val_acc"),
                epochs_completed=p.get("epochs_completed"), diverged=bool(p.get("diverged")),
                final_train_loss=p["final"].get("train_loss"), final_val_acc=p["final"].get("val_acc"),
                best_train_loss=pick("train_loss"), best_test_acc=pick("test_acc"))


def compute(params, *, store: ResultStore, progress: bool = True) -> InterpolationResults:
    """Train, walk the lines, measure the endpoints (all through the store).  On the CPU with one
    thread: these small networks gain little from a second thread, and a busy machine stalls two."""
    threads = torch.get_num_threads()
    if params.device == "cpu":
        torch.set_num_threads(1)
    try:
        return _compute(params, store=store, progress=progress)
    finally:
        torch.set_num_threads(threads)


def training_configs(params) -> dict:
    """``{(figure, setting, seed): TrainConfig}``: every endpoint network the panels need."""
    sets = experiment.settings(params)
    cfg_of: dict = {}
    for p in experiment.panels(params):
        for s in range(params.seeds):
            for side in ("a", "b"):
                st = sets[p["figure"]][p[side]]
                seed = experiment.endpoint_seed(s, p["shared"], side)
                cfg_of[(p["figure"], p[side], seed)] = experiment.train_config(params, p["figure"], st["eta"], st["S"], seed)
    return cfg_of


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    return list(training_configs(params).values())


def _compute(params, *, store: ResultStore, progress: bool = True) -> InterpolationResults:
    from ...runs import compute_all, train_all
    from ...train import data_provenance

    sets = experiment.settings(params)
    pans = experiment.panels(params)
    alphas = landscape.alpha_grid(params.alpha_points)
    cfg_of = training_configs(params)
    keys = list(cfg_of)
    trained = dict(zip(keys, train_all([cfg_of[k] for k in keys], store=store, progress=progress)))
    results_all = list(trained.values())

    def line(cfg_a, ra, rb, bn):
        lcfg = experiment.LineRun(train_key_a=ra.key, train_key_b=rb.key, alphas=alphas, bn=bn,
                                  bn_samples=params.bn_samples, eval_train=params.eval_train)
        return lcfg, (lambda c: experiment.run_line(c, cfg_a, ra.payload, rb.payload))

    jobs = []   # (where, index, config, compute, train cfg)
    lines: dict = {p["id"]: [None] * params.seeds for p in pans}
    bn_other: dict = {}
    for p in pans:
        for s in range(params.seeds):
            ka = (p["figure"], p["a"], experiment.endpoint_seed(s, p["shared"], "a"))
            kb = (p["figure"], p["b"], experiment.endpoint_seed(s, p["shared"], "b"))
            lcfg, fn = line(cfg_of[ka], trained[ka], trained[kb], "recompute")
            jobs.append((lines[p["id"]], s, lcfg, fn, cfg_of[ka]))
    if params.batch_norm:
        first = pans[0]
        bn_other[first["id"]] = [None] * params.seeds
        for s in range(params.seeds):
            ka = (first["figure"], first["a"], experiment.endpoint_seed(s, first["shared"], "a"))
            kb = (first["figure"], first["b"], experiment.endpoint_seed(s, first["shared"], "b"))
            lcfg, fn = line(cfg_of[ka], trained[ka], trained[kb], "interpolate")
            jobs.append((bn_other[first["id"]], s, lcfg, fn, cfg_of[ka]))
    endpoints: dict = {}
    runs: dict = {}
    for fig, items in sets.items():
        for i, _ in enumerate(items):
            name = f"{fig}-{i}"
            endpoints[name] = [None] * params.seeds
            runs[name] = [None] * params.seeds
            for s in range(params.seeds):
                k = (fig, i, s)
                if k not in cfg_of:
                    continue
                runs[name][s] = _train_summary(trained[k])
                surface = params.surface_points if (fig == "fig2" and i in (0, 1) and s == 0) else 0
                ecfg = experiment.EndpointRun(train_key=trained[k].key, bn_samples=params.bn_samples,
                                              eval_train=params.eval_train, hessian_samples=params.hessian_samples,
                                              lanczos_tol=params.lanczos_tol, lanczos_max_iter=params.lanczos_max_iter,
                                              directions=params.directions, direction_points=params.direction_points,
                                              surface_points=surface)
                jobs.append((endpoints[name], s, ecfg,
                             (lambda c, cfg=cfg_of[k], r=trained[k]: experiment.run_endpoint(c, cfg, r.payload)),
                             cfg_of[k]))
    job_of: dict = {}                        # key -> (compute, train config) of its first job
    for _, _, cfg, fn, tcfg in jobs:
        job_of.setdefault(cfg.key, (fn, tcfg))
    measured = compute_all([cfg for _, _, cfg, _, _ in jobs], lambda c: job_of[c.key][0](c), store=store,
                           desc="lines and endpoints", progress=progress, device=lambda c: job_of[c.key][1].device,
                           data=lambda c: data_provenance(job_of[c.key][1]))
    for (target, s, _, _, _), r in zip(jobs, measured):
        target[s] = r.payload
    wall = dict(train=sum(r.wall_time for r in results_all),
                lines=sum(r.wall_time for r in measured if r.kind == experiment.LineRun.kind),
                endpoints=sum(r.wall_time for r in measured if r.kind == experiment.EndpointRun.kind))
    first_cfg = {fig: next(c for (f, _, _), c in cfg_of.items() if f == fig) for fig in sets}
    return InterpolationResults(
        settings=sets, panels=pans, alphas=alphas, lines=lines, bn_other=bn_other, endpoints=endpoints, runs=runs,
        architectures={fig: c.architecture for fig, c in first_cfg.items()}, provenance=results_all[0].provenance,
        wall_time=wall, seeds=params.seeds)


def verdicts(results: InterpolationResults, params) -> list:
    from . import claims

    return claims.verdicts(results, params)
