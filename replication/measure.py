"""Measuring a trained network: one stored step any chapter applies to stored training runs.

    from replication.measure import MeasureConfig, measure_all
    trained = train_all(configs)                                   # replication.runs
    measured = measure_all(trained, n_samples=2048, which="final") # list of Result or None, in order
    measured[0].payload["lam_max"], ["trace"], ["frobenius"], ["trace_C"], ["loss"], ...

A :class:`MeasureConfig` (kind ``"measure"``) names the training run by its store key
(``train_key``), which parameters to load (``which``: ``"final"`` = after the last epoch,
``"best"`` = at the epoch of best validation accuracy), the sample of training examples the
measures average over (``n_samples`` drawn with ``sample_seed``; ``n_samples`` >= N = all of them)
and which ``measures`` to take:

- ``lam_max``: the largest Hessian eigenvalue (Lanczos, residual <= ``lanczos_tol``·λ, at most
  ``lanczos_max_iter`` HVPs), with its residual and convergence flag;
- ``trace``: Tr H (Hutch++ with ``trace_hvp`` HVPs) ± its standard error;
- ``frobenius``: ‖H‖_F (``frobenius_probes`` probes) ± its standard error;
- ``trace_C``: the trace of the per-example gradient covariance (and ``trace_F`` = E‖g_i‖²,
  ``grad_norm2`` = ‖ḡ‖²; :func:`replication.hessian.covariance.gradient_covariance_trace`).

Every measurement also reports the training loss on the sample (``loss``), and the stored run's
training / validation / test loss and accuracy at the chosen parameters (``metrics``).  The
Hessian is taken in eval mode with the cross-entropy loss of the labels trained on; the probe seeds
are fixed, so two runs measured with the same config differ by their parameters only ("common
random numbers").  Unusable runs (diverged, non-finite loss) give ``None`` and are not stored.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar, Sequence

import torch
from torch import nn

from .config import RunConfig, require
from .hessian import HessianOperator, batch_size_for, width_measures
from .hessian.covariance import gradient_covariance_trace
from .train.config import SETUP_CODE

MEASURES = ("lam_max", "trace", "frobenius", "trace_C")
LANCZOS_SEED, TRACE_SEED, FROBENIUS_SEED = 0, 1, 2   # probe seeds shared by every run
MODE = "eval"


@dataclasses.dataclass(frozen=True)
class MeasureConfig(RunConfig):
    """The measures of one stored training run (see the module docstring)."""

    kind: ClassVar[str] = "measure"
    code: ClassVar[tuple[str, ...]] = (("replication.measure", "replication.hessian.__init__",
                                        "replication.hessian.operator", "replication.hessian.measures",
                                        "replication.hessian.eigen", "replication.hessian.estimators",
                                        "replication.hessian.covariance", "replication.hessian._linop",
                                        "replication.hessian.results", "replication.train.loop") + SETUP_CODE)
    train_key: str
    n_samples: int = 2048
    which: str = "final"
    measures: tuple = MEASURES
    sample_seed: int = 0
    lanczos_tol: float = 1e-3
    lanczos_max_iter: int = 100
    trace_hvp: int = 18
    frobenius_probes: int = 10

    def validate(self) -> None:
        require(isinstance(self.train_key, str) and len(self.train_key) > 0, "train_key", self.train_key,
                "the key of a stored training run")
        require(isinstance(self.n_samples, int) and self.n_samples >= 1, "n_samples", self.n_samples,
                "an integer >= 1 (training examples; >= N means all of them)")
        require(self.which in ("final", "best"), "which", self.which, "final or best")
        require(isinstance(self.measures, tuple) and len(self.measures) >= 1
                and len(set(self.measures)) == len(self.measures) and set(self.measures) <= set(MEASURES),
                "measures", self.measures, f"distinct names among {', '.join(MEASURES)}")
        require(self.lanczos_tol > 0, "lanczos_tol", self.lanczos_tol, "> 0")
        require(self.lanczos_max_iter >= 2, "lanczos_max_iter", self.lanczos_max_iter, ">= 2 (HVPs)")
        require(self.trace_hvp >= 6, "trace_hvp", self.trace_hvp, ">= 6 (Hutch++)")
        require(self.frobenius_probes >= 2, "frobenius_probes", self.frobenius_probes, ">= 2")


def sample_indices(n_total: int, n: int, seed: int) -> torch.Tensor | None:
    """The n training examples measured (ascending; a seeded permutation's first n); None: all."""
    if n >= n_total:
        return None
    gen = torch.Generator().manual_seed(10_007 + int(seed))
    return torch.randperm(n_total, generator=gen)[:n].sort().values


def usable(payload: dict) -> bool:
    """A run whose end point can be measured: it did not diverge and its final loss is finite."""
    loss = payload.get("final", {}).get("train_loss")
    return not payload.get("diverged") and loss is not None and math.isfinite(loss)


def _metrics(payload: dict, which: str) -> dict:
    """The stored run's losses and accuracies at the chosen parameters (from its history)."""
    h = payload["history"]
    epoch = payload.get("best_epoch") if which == "best" else None
    i = (epoch - 1) if epoch else len(h["epoch"]) - 1
    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
    return {"epoch": h["epoch"][i], **{k: h[k][i] for k in keys if k in h}}


def measure(cfg: MeasureConfig, train_cfg, payload: dict) -> dict:
    """The measures of ``cfg`` for the trained network of ``payload`` (a training run of ``train_cfg``)."""
    from .train import load_model, prepare_split

    device = torch.device(train_cfg.device)
    model = load_model(train_cfg, payload, device, which=cfg.which)
    split = prepare_split(train_cfg, device)
    X, y = split.x_train, split.y_train
    idx = sample_indices(split.n_train, cfg.n_samples, cfg.sample_seed)
    n = split.n_train if idx is None else int(idx.shape[0])
    out: dict = {"n_samples": n, "which": cfg.which, "metrics": _metrics(payload, cfg.which), "seconds": {},
                 "n_hvp": {}}
    start = time.perf_counter()
    H = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode=MODE,
                        indices=None if idx is None else idx.to(device),
                        batch_size=batch_size_for(n))
    built = time.perf_counter() - start
    out["loss"] = H.loss()
    out["info"] = H.info()
    wm = width_measures(H, which=cfg.measures, lanczos_tol=cfg.lanczos_tol,
                        lanczos_max_iter=min(H.dim, cfg.lanczos_max_iter), trace_hvp=cfg.trace_hvp,
                        frobenius_probes=cfg.frobenius_probes, lanczos_seed=LANCZOS_SEED, trace_seed=TRACE_SEED,
                        frobenius_seed=FROBENIUS_SEED)
    out["seconds"].update(wm.seconds)
    if wm.top is not None:
        out["seconds"]["lam_max"] += built                           # includes building the operator
        out.update(lam_max=float(wm.top.eigenvalues[0]), lam_residual=float(wm.top.residuals[0]),
                   lam_converged=bool(wm.top.converged[0]), lanczos=wm.top.to_dict())
        out["n_hvp"]["lam_max"] = wm.top.n_hvp
    if wm.trace is not None:
        out.update(trace=wm.trace.estimate, trace_stderr=wm.trace.stderr)
        out["n_hvp"]["trace"] = wm.trace.n_hvp
    if wm.frobenius is not None:
        out.update(frobenius=wm.frobenius.estimate, frobenius_stderr=wm.frobenius.stderr)
        out["n_hvp"]["frobenius"] = wm.frobenius.n_hvp
    H.release()
    if "trace_C" in cfg.measures:
        start = time.perf_counter()
        Xs, ys = (X, y) if idx is None else (X[idx.to(device)], y[idx.to(device)])
        out.update(gradient_covariance_trace(model, Xs, ys))
        out["seconds"]["trace_C"] = time.perf_counter() - start
    return out


def measure_all(train_results: Sequence, *, store=None, progress: bool = False, desc: str = "measure",
                **settings) -> list:
    """The :class:`MeasureConfig` results (``settings``: its fields except ``train_key``) of every
    stored training run in ``train_results`` (:class:`replication.store.Result` of TrainConfigs), in
    order, computed through the store by the runner (:func:`replication.runs.compute_all`); ``None``
    for a run that cannot be measured (diverged).  The list's ``tally`` counts the measurements."""
    from .runs import compute_all
    from .store import Results
    from .train import TrainConfig, data_provenance

    at = [i for i, res in enumerate(train_results) if res is not None and usable(res.payload)]
    configs = [MeasureConfig(train_key=train_results[i].key, **settings) for i in at]
    trained = {cfg.key: (TrainConfig.from_dict(train_results[i].config), train_results[i])
               for cfg, i in zip(configs, at)}

    def one(cfg):
        tcfg, res = trained[cfg.key]
        return measure(cfg, tcfg, res.payload)

    measured = compute_all(configs, one, store=store, desc=desc, progress=progress,
                           device=lambda cfg: trained[cfg.key][0].device,
                           data=lambda cfg: data_provenance(trained[cfg.key][0]))
    out: list = [None] * len(train_results)
    for i, result in zip(at, measured):
        out[i] = result
    return Results(out, measured.tally)
