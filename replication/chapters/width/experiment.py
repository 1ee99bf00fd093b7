"""Run configs of the chapter "Measuring the width of a minimum" and the computations the store keeps.

- ``ValidationRun``: tiny networks whose Hessian is formed densely in float64; every estimator of
  :mod:`replication.hessian` against it, and the coverage of its 95% error bars over many seeds.
- The trained network: one :class:`replication.train.TrainConfig` (plain SGD on a random subset of
  Fashion-MNIST, no validation set), trained through :func:`replication.runs.train_all`.
- ``ConvergenceRun``: relative error of λ_max and of the top-k eigenvalues against HVPs, Lanczos
  (ours) against power iteration (PyHessian's method), against a float64 Lanczos reference.
- ``SampleRun``: λ_max, Tr H and ‖H‖_F over n random training samples, for several n and draws,
  and over the whole training set; each run also times its HVPs and estimates.

Every Hessian is taken in eval mode, recorded in every payload.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ... import models
from ...config import RunConfig, require
from ...hessian import (HessianOperator, frobenius_norm, hutchinson_trace, hutchpp_trace, lanczos,
                        power_iteration, width_measures)
from ...hessian.dense import dense_hessian
from ...store import ResultStore
from ...runs import train_stored
from ...train import TRAIN_CODE, TrainConfig, load_model, prepare_split, synchronize

MODE = "eval"
VALIDATION_MODELS = ("mlp-tanh", "mlp-relu", "cnn")
# Probe seeds shared by every sample count and draw ("common random numbers"): differences between
# draws then come from the samples, not from the random probe vectors.
LANCZOS_SEED, TRACE_SEED, FROBENIUS_SEED = 0, 1, 2


#: the modules the computations below execute (replication.config): the tiny networks' models and the
#: Hessian toolkit; the runs on the trained network also execute (and read) a training run
HESSIAN_CODE = ("replication.hessian.__init__", "replication.hessian.operator", "replication.hessian.eigen",
                "replication.hessian._linop", "replication.hessian.results")
VALIDATION_CODE = ("replication.chapters.width.experiment", "replication.models", "replication.hessian.dense",
                   "replication.hessian.estimators") + HESSIAN_CODE


# -- tiny networks with exact Hessians --------------------------------------------------------------
def validation_problem(name: str, n_samples: int, seed: int):
    """(model, X, y) of one tiny validation network: float32, 3 classes."""
    gen = torch.Generator().manual_seed(seed)
    if name == "cnn":
        X = torch.randn(n_samples, 1, 7, 7, generator=gen)
    else:
        X = torch.randn(n_samples, 6, generator=gen)
    y = torch.randint(0, 3, (n_samples,), generator=gen)
    if name == "mlp-relu":
        return models.mlp(6, (10, 10), 3, seed=seed), X, y
    with torch.random.fork_rng(devices=[]):  # default init, seeded, without touching the global RNG
        torch.manual_seed(seed)
        if name == "mlp-tanh":
            model = nn.Sequential(nn.Linear(6, 10), nn.Tanh(), nn.Linear(10, 10), nn.Tanh(), nn.Linear(10, 3))
        elif name == "cnn":
            model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 5 * 5, 3))
        else:
            raise ValueError(f"unknown validation model {name!r}; choose one of {VALIDATION_MODELS}")
    return model, X, y


@dataclasses.dataclass(frozen=True)
class ValidationRun(RunConfig):
    """Every estimator of :mod:`replication.hessian` against a dense float64 Hessian of a tiny network."""

    kind: ClassVar[str] = "width-validation"
    code: ClassVar[tuple[str, ...]] = VALIDATION_CODE
    model: str
    n_samples: int
    probes: int
    coverage_seeds: int
    coverage_probes: int
    seed: int = 0
    n_vectors: int = 4  # random vectors per HVP comparison

    def validate(self) -> None:
        require(self.model in VALIDATION_MODELS, "model", self.model, f"one of {', '.join(VALIDATION_MODELS)}")
        require(self.probes >= 6 and self.coverage_probes >= 6, "probes", self.probes, ">= 6")


def _hvp_error(D: torch.Tensor, H: HessianOperator, n: int, seed: int) -> float:
    """max over n Gaussian v of ||Hv − Dv|| / (||D||_2 ||v||)."""
    gen = torch.Generator().manual_seed(seed)
    scale = float(torch.linalg.matrix_norm(D, 2))
    errors = []
    for _ in range(n):
        v = torch.randn(D.shape[0], generator=gen, dtype=torch.float64)
        errors.append(float(torch.linalg.vector_norm(H.matvec(v).double() - D @ v)) / (scale * float(v.norm())))
    return max(errors)


def _estimate_row(est, truth: float) -> dict:
    return {"estimate": est.estimate, "stderr": est.stderr, "truth": truth,
            "z": (est.estimate - truth) / est.stderr if est.stderr > 0 else math.inf,
            "covered": bool(abs(est.estimate - truth) <= 1.96 * est.stderr), "n_hvp": est.n_hvp}


def run_validation(cfg: ValidationRun) -> dict:
    model, X, y = validation_problem(cfg.model, cfg.n_samples, cfg.seed)
    loss_fn = nn.CrossEntropyLoss()
    D = dense_hessian(model, loss_fn, X, y)
    eig = torch.linalg.eigvalsh(D).flip(0).numpy()
    trace, fro = float(torch.trace(D)), float(torch.linalg.matrix_norm(D))
    F64 = torch.float64
    ops = {"double_backward": HessianOperator(model, loss_fn, X, y, mode=MODE, dtype=F64, method="double_backward"),
           "func": HessianOperator(model, loss_fn, X, y, mode=MODE, dtype=F64, method="func"),
           "float32": HessianOperator(model, loss_fn, X, y, mode=MODE)}
    hvp_err = {name: _hvp_error(D, op, cfg.n_vectors, cfg.seed + 1) for name, op in ops.items()}
    H = ops["double_backward"]
    top = lanczos(H, k=3, tol=1e-10, seed=cfg.seed, return_eigenvectors=False)
    pw = power_iteration(H, k=1, tol=1e-9, criterion="residual", max_iter=20000, seed=cfg.seed,
                         return_eigenvectors=False)
    largest_magnitude = float(eig[np.argmax(np.abs(eig))])
    estimates = {
        "hutchinson": _estimate_row(hutchinson_trace(H, n_probes=cfg.probes, seed=cfg.seed), trace),
        "hutch++": _estimate_row(hutchpp_trace(H, n_hvp=cfg.probes, seed=cfg.seed), trace),
        "frobenius": _estimate_row(frobenius_norm(H, n_probes=cfg.probes, seed=cfg.seed), fro),
    }
    # coverage of the nominal 95% intervals, on the dense matrix itself (it is exact, and fast)
    covered = {"hutchinson": 0, "hutch++": 0, "frobenius": 0}
    for s in range(cfg.coverage_seeds):
        seed = 1000 + s
        t = hutchinson_trace(D, n_probes=cfg.coverage_probes, seed=seed)
        covered["hutchinson"] += abs(t.estimate - trace) <= 1.96 * t.stderr
        t = hutchpp_trace(D, n_hvp=cfg.coverage_probes, seed=seed)
        covered["hutch++"] += abs(t.estimate - trace) <= 1.96 * t.stderr
        f = frobenius_norm(D, n_probes=cfg.coverage_probes, seed=seed)
        covered["frobenius"] += abs(f.squared - fro ** 2) <= 1.96 * f.squared_stderr
    return {
        "model": cfg.model, "dim": H.dim, "n_samples": cfg.n_samples, "info": H.info(),
        "hvp_error": hvp_err,
        "eigenvalues": eig[:3].tolist(), "lanczos": top.to_dict(),
        "lanczos_error": float(np.max(np.abs(np.array(top.eigenvalues) - eig[:3]) / np.abs(eig[:3]))),
        "power": pw.to_dict(), "power_truth": largest_magnitude,
        "power_error": abs(pw.eigenvalues[0] - largest_magnitude) / abs(largest_magnitude),
        "trace": trace, "frobenius": fro, "estimates": estimates,
        "coverage": {k: v / cfg.coverage_seeds for k, v in covered.items()},
        "coverage_seeds": cfg.coverage_seeds, "coverage_probes": cfg.coverage_probes,
    }

# -- the trained network ------------------------------------------------------------------------------
def train_config(params) -> TrainConfig:
    """The network the chapter measures: plain SGD (no momentum, no weight decay, constant η) on
    ``n_train`` random Fashion-MNIST training images (no validation set), PyTorch's default init."""
    return TrainConfig(dataset="fashion-mnist", n_train=params.n_train, n_val=0, model="mlp",
                       model_options={"hidden": tuple(params.hidden), "init": "torch"}, lr=params.lr,
                       batch_size=params.batch_size, epochs=params.epochs, seed=params.train_seed,
                       device=params.device)


def _items(train: TrainConfig) -> tuple:
    """A TrainConfig as a hashable, JSON-able field of another config."""
    return tuple(sorted((k, _frozen(v)) for k, v in train.to_dict().items()))


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value):
    if isinstance(value, (list, tuple)) and value and all(isinstance(p, (list, tuple)) and len(p) == 2
                                                          and isinstance(p[0], str) for p in value):
        return {k: _thawed(v) for k, v in value}
    return value


def _train_config(items) -> TrainConfig:
    fields = {k: v for k, v in map(tuple, items)}
    for name in ("model_options", "lr_schedule", "bs_schedule"):
        fields[name] = _thawed(fields[name])
    return TrainConfig.from_dict(fields)


def subset(n_total: int, n: int, draw: int) -> torch.Tensor | None:
    """The n sample indices of one draw (a seeded permutation's first n; None: all of them)."""
    if n >= n_total:
        return None
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(int(draw)))[:n]


def _operator(train_items, store, n_samples: int, draw: int, dtype=None) -> HessianOperator:
    cfg = _train_config(train_items)
    trained = train_stored(cfg, store)
    model = load_model(cfg, trained.payload, cfg.device)
    split = prepare_split(cfg)
    X, y = split.x_train, split.y_train
    idx = subset(split.n_train, n_samples, draw)
    return HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode=MODE, dtype=dtype,
                           indices=None if idx is None else idx.to(X.device))


@dataclasses.dataclass(frozen=True)
class ConvergenceRun(RunConfig):
    """Error of λ_max and of the top-k eigenvalues against HVPs: Lanczos vs power iteration."""

    kind: ClassVar[str] = "width-convergence"
    #: trains its network if it is not stored, and holds it by its fields (not its key): the training code too
    code: ClassVar[tuple[str, ...]] = ("replication.chapters.width.experiment",) + HESSIAN_CODE + TRAIN_CODE
    train: tuple
    n_samples: int
    top_k: int
    max_hvp: int
    power_tols: tuple
    power_max_iter: int
    draw: int = 0
    reference_tol: float = 1e-8

    def validate(self) -> None:
        require(1 <= self.top_k < self.max_hvp, "top_k", self.top_k, "in [1, max_hvp)")


def run_convergence(cfg: ConvergenceRun, store: ResultStore) -> dict:
    device = _train_config(cfg.train).device
    H64 = _operator(cfg.train, store, cfg.n_samples, cfg.draw, dtype=torch.float64)
    start = time.perf_counter()
    ref = lanczos(H64, k=cfg.top_k + 1, tol=cfg.reference_tol, max_iter=min(H64.dim, 500), seed=123,
                  return_eigenvectors=False)
    reference_seconds = time.perf_counter() - start
    del H64
    H = _operator(cfg.train, store, cfg.n_samples, cfg.draw)
    lanczos_trace: list = []
    start = time.perf_counter()
    lanczos(H, k=cfg.top_k, tol=0.0, max_iter=cfg.max_hvp, seed=LANCZOS_SEED, return_eigenvectors=False,
            callback=lambda it, n, values, res: lanczos_trace.append((n, list(map(float, values)),
                                                                      list(map(float, res)))))
    lanczos_seconds = time.perf_counter() - start
    power_trace: list = []
    start = time.perf_counter()
    power_iteration(H, k=1, tol=0.0, max_iter=cfg.max_hvp, seed=LANCZOS_SEED, return_eigenvectors=False,
                    callback=lambda i, it, n, lam, res: power_trace.append((n, float(lam), float(res))))
    power_seconds = time.perf_counter() - start
    deflation = []
    for tol in cfg.power_tols:
        start = time.perf_counter()
        r = power_iteration(H, k=cfg.top_k, tol=tol, max_iter=cfg.power_max_iter, seed=LANCZOS_SEED,
                            return_eigenvectors=False)
        synchronize(device)
        deflation.append({"tol": tol, "eigenvalues": list(r.eigenvalues), "n_hvp": r.n_hvp,
                          "seconds": time.perf_counter() - start})
    return {"info": H.info(), "reference": ref.to_dict(), "reference_seconds": reference_seconds,
            "lanczos": {"n_hvp": [t[0] for t in lanczos_trace], "values": [t[1] for t in lanczos_trace],
                        "residuals": [t[2] for t in lanczos_trace], "seconds": lanczos_seconds},
            "power": {"n_hvp": [t[0] for t in power_trace], "values": [t[1] for t in power_trace],
                      "residuals": [t[2] for t in power_trace], "seconds": power_seconds},
            "deflation": deflation}


@dataclasses.dataclass(frozen=True)
class SampleRun(RunConfig):
    """λ_max, Tr H, ||H||_F of the Hessian over ``n_samples`` training samples of draw ``draw``,
    with the time each took (``n_samples`` = n_train: the whole training set)."""

    kind: ClassVar[str] = "width-samples"
    code: ClassVar[tuple[str, ...]] = (("replication.chapters.width.experiment", "replication.hessian.measures",
                                        "replication.hessian.estimators") + HESSIAN_CODE + TRAIN_CODE)
    train: tuple
    n_samples: int
    draw: int
    lanczos_tol: float
    trace_hvp: int
    frobenius_probes: int
    hvp_repeats: int

    def validate(self) -> None:
        require(self.n_samples >= 1, "n_samples", self.n_samples, ">= 1")
        require(self.trace_hvp >= 6, "trace_hvp", self.trace_hvp, ">= 6 (Hutch++)")


def run_samples(cfg: SampleRun, store: ResultStore) -> dict:
    device = _train_config(cfg.train).device
    H = _operator(cfg.train, store, cfg.n_samples, cfg.draw)
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(7)).to(H.device)
    seconds = {}
    synchronize(device)
    start = time.perf_counter()
    H.matvec(v)
    synchronize(device)
    seconds["first_hvp"] = time.perf_counter() - start
    laps = []
    for _ in range(cfg.hvp_repeats):
        start = time.perf_counter()
        H.matvec(v)
        synchronize(device)
        laps.append(time.perf_counter() - start)
    seconds["hvp"] = float(np.median(laps))
    top, tr, fro, measured = width_measures(H, lanczos_tol=cfg.lanczos_tol, trace_hvp=cfg.trace_hvp,
                                            frobenius_probes=cfg.frobenius_probes, lanczos_seed=LANCZOS_SEED,
                                            trace_seed=TRACE_SEED, frobenius_seed=FROBENIUS_SEED)
    seconds.update(measured)
    return {"info": H.info(), "loss": H.loss(), "lam_max": top.eigenvalues[0], "lanczos": top.to_dict(),
            "trace": tr.estimate, "trace_stderr": tr.stderr, "trace_record": tr.to_dict(),
            "frobenius": fro.estimate, "frobenius_stderr": fro.stderr, "frobenius_record": fro.to_dict(),
            "seconds": seconds, "n_hvp": {"lam_max": top.n_hvp, "trace": tr.n_hvp, "frobenius": fro.n_hvp}}


# -- the chapter's grids ------------------------------------------------------------------------------
def validation_configs(params) -> list[ValidationRun]:
    return [ValidationRun(model=m, n_samples=params.validation_samples, probes=params.validation_probes,
                          coverage_seeds=params.coverage_seeds, coverage_probes=params.coverage_probes)
            for m in VALIDATION_MODELS]


def convergence_config(params) -> ConvergenceRun:
    return ConvergenceRun(train=_items(train_config(params)), n_samples=params.convergence_samples,
                          top_k=params.top_k, max_hvp=params.max_hvp, power_tols=tuple(params.power_tols),
                          power_max_iter=params.power_max_iter)


def sample_configs(params) -> list[SampleRun]:
    """Every (count, draw), then the whole training set last."""
    items = _items(train_config(params))
    common = dict(train=items, lanczos_tol=params.lanczos_tol, trace_hvp=params.trace_hvp,
                  frobenius_probes=params.frobenius_probes, hvp_repeats=params.hvp_repeats)
    return ([SampleRun(n_samples=n, draw=d, **common) for n in params.sample_counts for d in range(params.draws)]
            + [SampleRun(n_samples=params.n_train, draw=0, **common)])

