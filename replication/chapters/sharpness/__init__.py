"""Chapter "η/S, the width of the minimum and generalization" (the paper's Fig. 1).

``SPEC`` (parameters), :func:`compute` (the runs and their end-of-training measures, through the
result store) and :func:`verdicts` (the chapter's :class:`replication.claims.Verdict` records).
The run configs are in :mod:`.experiment`, the summary numbers and rules in :mod:`.claims`, the
figures in :mod:`.figures`.  The end-of-training measures (λ_max, Tr H, ‖H‖_F, Tr C on a fixed
sample of training examples) are the toolkit's :mod:`replication.measure` step.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ...params import ChapterSpec, Param, channels_last, device, lanczos_tol, precision, seeds
from ...store import ResultStore
from .experiment import CHALLENGE_PAIRS, CIFAR, check, grids, measure_settings, rescale_pairs  # noqa: F401
from .. import Counted

ABOUT = "the paper's Fig. 1 re-run with several seeds: Hessian width measures and validation accuracy against η/S, a factorial η × S design trained to equal SDE time that separates η/S from η and S, λ_max over training, and tests beyond the paper (rescaling η and S together, the edge of stability, C ≈ H)."   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("sharpness", "η/S, the width of the minimum and generalization", (
    device("device the networks are trained and measured on"),
    Param("dataset", "str", "training data", choices=("fashion-mnist", "mnist")),
    Param("n_train", "int", "training examples of the fixed-epoch runs (a seeded random subset of the training "
          "split)", low=100, high=59_900),
    Param("n_val", "int", "validation examples, held out of the training split", low=100, high=30_000),
    Param("depth", "int", "hidden layers of the deep MLP (ICLR Fig. 1: 20)", low=2, high=100),
    Param("width", "int", "units per hidden layer (not stated in the paper; 50 as the reproducibility "
          "challenge)", low=1, high=4096),
    Param("init", "str", "initialization of the MLPs' linear layers", choices=("torch", "he", "xavier")),
    Param("lrs", "float_list", "learning rates η of the fixed-epoch (η, S) pairs", low=1e-5, high=10, min_len=2, unique=False),
    Param("batch_sizes", "int_list", "batch sizes S of the fixed-epoch pairs, paired with lrs by position", low=1,
          high=60_000, min_len=2, unique=False),
    seeds("seeds (initialization and batch order) per (η, S) pair"),
    Param("epochs", "int", "training epochs of every fixed-epoch run (plain SGD, constant η)", low=1, high=10_000),
    Param("v3_depth", "int", "hidden layers of the shallow MLP (v3: a 4-layer MLP); 0 skips it", low=0,
          high=99),
    Param("v3_seeds", "int", "seeds per pair for the shallow MLP", low=2, high=1000),
    Param("rescale_lr", "float", "η₀ of the rescaling test (pairs β η₀, β S₀)", low=1e-5, high=10),
    Param("rescale_batch_size", "int", "S₀ of the rescaling test", low=1, high=60_000),
    Param("rescale_betas", "float_list", "the factors β of the rescaling test (must include 1)", low=1e-3,
          high=1e3, min_len=2),
    Param("rescale_seeds", "int", "seeds per β", low=2, high=1000),
    Param("factorial_depth", "int", "hidden layers of the MLP of the factorial η × S design", low=1, high=100),
    Param("factorial_n_train", "int", "training examples of the factorial design", low=100, high=59_900),
    Param("factorial_lrs", "float_list", "learning rates η of the factorial design", low=1e-5, high=10, min_len=2),
    Param("factorial_batch_sizes", "int_list", "batch sizes S of the factorial design (every η with every S)",
          low=1, high=60_000, min_len=2),
    Param("factorial_seeds", "int", "seeds per cell of the factorial design", low=2, high=1000),
    Param("sde_time", "float", "SDE time t = epochs·N·η/S every factorial run trains for", low=1e-3, high=1e6),
    Param("probe_samples", "int", "training examples of the λ_max probes during factorial training", low=1,
          high=60_000),
    Param("probe_max_iter", "int", "HVP cap of one λ_max probe during training", low=2, high=10_000),
    lanczos_tol("Lanczos stopping rule of a probe: residual <= tol·λ", name="probe_tol"),
    Param("hessian_samples", "int", "training examples the end-of-training measures average over",
          low=1, high=60_000),
    lanczos_tol(),
    Param("lanczos_max_iter", "int", "HVP cap of one λ_max", low=2, high=10_000),
    Param("trace_hvp", "int", "HVPs of one Hutch++ trace estimate", low=6, high=100_000),
    Param("frobenius_probes", "int", "probes of one Frobenius-norm estimate", low=2, high=100_000),
    Param("cifar_model", "str", "the appendix's Fig. 1 on CIFAR-10: the ResNet trained over (η, S) pairs (none "
          "skips it; it needs the CIFAR-10 data and a GPU-sized budget)",
          choices=("none", "resnet20", "resnet32", "resnet56")),
    Param("cifar_n_train", "int", "CIFAR-10 training examples of the ResNet runs (a seeded subset of the "
          "training split)", low=100, high=49_900),
    Param("cifar_lrs", "float_list", "learning rates η of the ResNet's (η, S) pairs", low=1e-5, high=10,
          min_len=2, unique=False),
    Param("cifar_batch_sizes", "int_list", "batch sizes S of the ResNet's pairs, paired with cifar_lrs by "
          "position", low=1, high=50_000, min_len=2, unique=False),
    Param("cifar_seeds", "int", "seeds per (η, S) pair of the ResNet", low=2, high=1000),
    Param("cifar_epochs", "int", "training epochs of every ResNet run (plain SGD, constant η)", low=1, high=10_000),
    Param("cifar_augment", "bool", "random crop and flip on the ResNet runs (the paper's CIFAR-10 practice)"),
    precision(name="cifar_precision"),
    channels_last(name="cifar_channels_last"),
    Param("accept_unverified_data", "bool", "accept non-canonical data (the CIFAR-10 JPEG stand-in; results say "
          "NOT canonical)"),
), check=check)

RUN_KEYS = ("lam_max", "lam_converged", "trace", "trace_stderr", "frobenius", "frobenius_stderr", "loss",
            "trace_C", "trace_F", "grad_norm2", "n_samples")
CHECKED = ("lam_max", "trace", "frobenius", "trace_C")


@dataclasses.dataclass
class SharpnessResults(Counted):
    """Everything the chapter shows: one row (a dict) per training run, plus the sample check."""

    runs: dict                # group → list of rows
    check: list[dict]         # the subset against the whole training set, for two runs
    architectures: dict       # group → description
    n_parameters: dict        # group → parameter count
    configs: dict             # group → the first run's TrainConfig as a dict (the shared settings)
    provenance: dict          # of the training runs (data, device, code)
    train_wall_time: float
    analysis_wall_time: float
    check_equal_time: list = dataclasses.field(default_factory=list)   # the same check on design B's network
    cifar: list = dataclasses.field(default_factory=list)   # the ResNet on CIFAR-10 (the appendix's Fig. 1), kept
    #                                                         out of ``runs``: no verdict reads it
    cifar_provenance: dict = dataclasses.field(default_factory=dict)   # of the ResNet runs (their data, device,
    #                                                                    code); empty where they are not run


def _row(labels: dict, group: str, train_result, measured) -> dict:
    p = train_result.payload
    final = p["final"]
    row = dict(group=group, **labels, ratio=labels["eta"] / labels["S"], diverged=bool(p["diverged"]),
               epochs_completed=p["epochs_completed"], train_loss=final.get("train_loss"),
               train_acc=final.get("train_acc"), val_acc=final.get("val_acc"), test_acc=final.get("test_acc"),
               key=train_result.key, steps=int(sum(p["history"]["steps"])),
               probes=[(h["epoch"], h["lambda_max"]) for h in p.get("hessian", [])])
    row["epochs"] = labels.get("epochs", len(p["history"]["epoch"]) if not p["diverged"] else math.nan)
    for k in RUN_KEYS:
        row[k] = measured.payload.get(k, math.nan) if measured is not None else math.nan
    if measured is None:
        row["lam_converged"] = False
    row["eta_lam"] = labels["eta"] * row["lam_max"]
    return row


def check_runs(rows: list[dict]) -> list[int]:
    """Indices of the two runs whose sample is checked against the whole training set: seed 0 of
    the lowest- and of the highest-ratio pair that trained."""
    ok = [i for i, r in enumerate(rows) if not math.isnan(r["lam_max"]) and r["seed"] == 0]
    if not ok:
        return []
    return sorted({min(ok, key=lambda i: rows[i]["ratio"]), max(ok, key=lambda i: rows[i]["ratio"])})


def compute(params, *, store: ResultStore, progress: bool = True) -> SharpnessResults:
    from ...measure import measure_all
    from ...runs import train_all

    groups = grids(params)
    flat = [(g, labels, cfg) for g, items in groups.items() for labels, cfg in items]
    trained = train_all([cfg for _, _, cfg in flat], store=store, progress=progress)
    settings = measure_settings(params)
    measured = measure_all(trained, store=store, progress=progress, desc="Hessian and Tr C at the end", **settings)
    runs: dict = {g: [] for g in groups}
    for (g, labels, _), res, m in zip(flat, trained, measured):
        runs[g].append(_row(labels, g, res, m))
    cifar = runs.pop(CIFAR, [])
    cifar_trained = [res for (g, _, _), res in zip(flat, trained) if g == CIFAR]
    main_results = [res for (g, _, _), res in zip(flat, trained) if g == "main"]
    picked = check_runs(runs["main"])
    full = measure_all([main_results[i] for i in picked], store=store, progress=progress,
                       desc="whole-training-set check", **{**settings, "n_samples": params.n_train})
    checks = _checks(runs["main"], picked, full)
    fac_results = [res for (g, _, _), res in zip(flat, trained) if g == "factorial"]
    fac_picked = check_runs(runs["factorial"])
    fac_full = measure_all([fac_results[i] for i in fac_picked], store=store, progress=progress,
                           desc="whole-training-set check, design B",
                           **{**settings, "n_samples": params.factorial_n_train})
    full = list(full) + list(fac_full)
    first = {g: (cfg, res) for (g, _, cfg), res in reversed(list(zip(flat, trained)))}
    unique: dict = {}
    for r in list(trained) + [m for m in measured + full if m is not None]:
        unique.setdefault(r.key, r)     # a run in two grids counts once
    train_keys = {r.key for r in trained}
    return SharpnessResults(
        runs=runs, check=checks,
        architectures={g: cfg.architecture for g, (cfg, _) in first.items()},
        n_parameters={g: res.payload["n_parameters"] for g, (_, res) in first.items()},
        configs={g: cfg.to_dict() for g, (cfg, _) in first.items()},
        provenance=dict(trained[0].provenance),
        train_wall_time=sum(r.wall_time for k, r in unique.items() if k in train_keys),
        analysis_wall_time=sum(r.wall_time for k, r in unique.items() if k not in train_keys),
        check_equal_time=_checks(runs["factorial"], fac_picked, fac_full), cifar=cifar,
        cifar_provenance=dict(cifar_trained[0].provenance) if cifar_trained else {})


def _checks(rows: list[dict], picked: list[int], full: list) -> list[dict]:
    """The checked runs' measures on the sample (``subset``) and on the whole training set (``full``)."""
    out = []
    for i, f in zip(picked, full):
        if f is None:
            continue
        r = rows[i]
        out.append(dict(eta=r["eta"], S=r["S"], ratio=r["ratio"], seed=r["seed"], n_full=f.payload["n_samples"],
                        subset={k: r[k] for k in CHECKED}, full={k: f.payload[k] for k in CHECKED}))
    return out


def verdicts(results: SharpnessResults, params) -> list:
    """The chapter's verdicts (:func:`.claims.verdicts`)."""
    from .claims import summary
    from .claims import verdicts as _verdicts

    return _verdicts(summary(results, params), params)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (``python -m replication plan``, executors)."""
    return [cfg for runs in grids(params).values() for *_, cfg in runs]
