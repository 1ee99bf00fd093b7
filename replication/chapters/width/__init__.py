"""Chapter "Measuring the width of a minimum": parameters, run configs and compute.

The later chapters compare minima by the curvature of the training loss there: the largest
Hessian eigenvalue λ_max, the trace Tr H and the Frobenius norm ‖H‖_F, all estimated from
Hessian-vector products (HVPs) by :mod:`replication.hessian`.  This chapter establishes how far
those numbers can be trusted and what they cost:

1. ``ValidationRun``: tiny networks (two MLPs, a CNN) whose Hessian is computed densely in float64
   with ``torch.func.hessian``; HVPs (both methods, float64 and float32), Lanczos and power
   iteration eigenvalues, Hutchinson / Hutch++ traces and the Frobenius estimate are compared with
   it, and the coverage of the estimators' 95% error bars is counted over many seeds.
2. ``ConvergenceRun``: on a Fashion-MNIST MLP trained by :mod:`replication.train`, the relative
   error of λ_max and of the top-k eigenvalues against the number of HVPs, for Lanczos (ours) and
   power iteration (PyHessian's method), against a float64 Lanczos reference.
3. ``SampleRun``: λ_max, Tr H and ‖H‖_F of the Hessian over n random training samples, for several
   n and several random draws, and over the whole training set.  A written rule picks the sample
   count the book uses (:func:`choose_sample_count`).  Each run also times its HVPs and estimates.
4. The benchmark against PyHessian, read from ``benchmarks/results/hessian_*.md`` when present.

Every Hessian is taken in eval mode, recorded in every payload.
"""
from __future__ import annotations

import dataclasses
import math
import re
import socket
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ... import models
from ...config import RunConfig, require
from ...hessian.dense import dense_hessian
from ...hessian import (HessianOperator, frobenius_norm, hutchinson_trace, hutchpp_trace, lanczos,
                       power_iteration, width_measures)
from ...params import ChapterSpec, Param, ParameterError
from ...store import ResultStore
from ...train import TrainRun, load_model, synchronize, train_stored, training_data

MODE = "eval"
VALIDATION_MODELS = ("mlp-tanh", "mlp-relu", "cnn")
QUANTITIES = ("lam_max", "trace", "frobenius")
# Probe seeds shared by every sample count and draw ("common random numbers"): differences between
# draws then come from the samples, not from the random probe vectors.
LANCZOS_SEED, TRACE_SEED, FROBENIUS_SEED = 0, 1, 2


def _check(values: dict) -> None:
    n = values["n_train"]
    for name in ("convergence_samples", "batch_size"):
        if values[name] > n:
            raise ParameterError(f"{name}={values[name]!r}: must be <= n_train={n}")
    if any(c >= n for c in values["sample_counts"]):
        raise ParameterError(f"sample_counts={list(values['sample_counts'])!r}: every count must be below "
                             f"n_train={n} (the whole training set is the reference)")
    if values["top_k"] >= values["max_hvp"]:
        raise ParameterError(f"top_k={values['top_k']!r}: must be below max_hvp={values['max_hvp']}")


SPEC = ChapterSpec("width", "Measuring the width of a minimum", (
    Param("device", "str", "device the network is trained and its Hessian measured on", choices=("cpu", "cuda")),
    Param("hidden", "int_list", "hidden-layer widths of the Fashion-MNIST MLP", low=1, high=8192),
    Param("n_train", "int", "training examples (the first n of Fashion-MNIST's training split)", low=100,
          high=60000),
    Param("epochs", "int", "training epochs (plain SGD)", low=1, high=1000),
    Param("lr", "float", "learning rate", low=1e-5, high=10),
    Param("batch_size", "int", "training batch size", low=1, high=60000),
    Param("train_seed", "int", "seed of the initialization and the batch order", low=0, high=2**31 - 1),
    Param("validation_samples", "int", "samples in the tiny networks' losses", low=2, high=10000),
    Param("validation_probes", "int", "probes of one trace / Frobenius estimate on the tiny networks",
          low=6, high=100000),
    Param("coverage_seeds", "int", "repetitions over which the error bars' coverage is counted", low=10,
          high=100000),
    Param("coverage_probes", "int", "probes per repetition in the coverage count", low=6, high=10000),
    Param("convergence_samples", "int", "training samples in the Hessian of the convergence study", low=1,
          high=60000),
    Param("top_k", "int", "number of top eigenvalues in the convergence study", low=1, high=50),
    Param("max_hvp", "int", "HVP budget of the Lanczos and power-iteration error curves", low=2, high=5000),
    Param("power_tols", "float_list", "PyHessian stopping tolerances tried for top-k power iteration",
          low=1e-10, high=0.5),
    Param("power_max_iter", "int", "power-iteration cap per eigenvalue (PyHessian's maxIter)", low=1,
          high=10000),
    Param("sample_counts", "int_list", "numbers of training samples the Hessian is averaged over", low=1,
          high=60000, min_len=2),
    Param("draws", "int", "random draws of the samples per count", low=2, high=1000),
    Param("lanczos_tol", "float", "Lanczos stopping rule for λ_max: residual <= tol·λ", low=1e-10, high=0.5),
    Param("trace_hvp", "int", "HVPs of one Hutch++ trace estimate", low=6, high=100000),
    Param("frobenius_probes", "int", "probes of one Frobenius-norm estimate", low=2, high=100000),
    Param("tolerance", "float", "the sample-count rule: every draw within this relative distance of the "
          "whole-training-set value", low=1e-4, high=1),
    Param("hvp_repeats", "int", "timed HVPs per sample run (after the first, which builds the graph)",
          low=1, high=1000),
), check=_check)


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
def _items(train: TrainRun) -> tuple:
    """A TrainRun as a hashable, JSON-able field of another config."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in train.to_dict().items()))


def _train_config(items) -> TrainRun:
    return TrainRun(**{k: tuple(v) if isinstance(v, list) else v for k, v in dict(map(tuple, items)).items()})


def train_config(params) -> TrainRun:
    return TrainRun(dataset="fashion-mnist", n_train=params.n_train, hidden=tuple(params.hidden), lr=params.lr,
                    batch_size=params.batch_size, epochs=params.epochs, seed=params.train_seed,
                    device=params.device)


def subset(n_total: int, n: int, draw: int) -> torch.Tensor | None:
    """The n sample indices of one draw (a seeded permutation's first n; None: all of them)."""
    if n >= n_total:
        return None
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(int(draw)))[:n]


def _operator(train_items, store, n_samples: int, draw: int, dtype=None) -> HessianOperator:
    cfg = _train_config(train_items)
    trained = train_stored(cfg, store)
    model = load_model(cfg, trained.payload, cfg.device)
    X, y, _, _ = training_data(cfg, cfg.device)
    idx = subset(cfg.n_train, n_samples, draw)
    return HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode=MODE, dtype=dtype,
                           indices=None if idx is None else idx.to(X.device))


@dataclasses.dataclass(frozen=True)
class ConvergenceRun(RunConfig):
    """Error of λ_max and of the top-k eigenvalues against HVPs: Lanczos vs power iteration."""

    kind: ClassVar[str] = "width-convergence"
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


def _run(store, configs, compute, *, desc, progress, device="cpu", data=None):
    """Like ``ResultStore.run_all``, with the data's provenance recorded on each new entry."""
    configs = list(configs)
    results = [store.get(c) for c in configs]
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        from tqdm import tqdm

        for i in tqdm(missing, desc=f"{desc} ({len(configs) - len(missing)} stored)", disable=not progress,
                      unit="run"):
            results[i] = store.get_or_compute(configs[i], compute, device=device, data=data)
    return results


@dataclasses.dataclass
class WidthResults:
    """Everything the chapter shows."""

    validation: list[dict]
    training: dict            # per-epoch history, architecture, parameter count (no weights)
    train_config: dict
    convergence: dict
    samples: list[dict]       # one row per (count, draw)
    full: dict                # the whole training set
    n_train: int
    tolerance: float
    benchmark: dict
    modes: tuple
    provenance: dict          # of the sample runs (where the timings were measured)
    train_provenance: dict
    wall_time: float
    stored: int
    computed: int


def compute(params, *, store: ResultStore | None = None, progress: bool = True) -> WidthResults:
    from ...data import dataset_provenance, load_dataset

    store = store or ResultStore()
    device = params.device
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda': no CUDA device is available here (use device=cpu, or profile laptop)")
    val = _run(store, validation_configs(params), run_validation, desc="toolkit validation", progress=progress)
    tcfg = train_config(params)
    trained = train_stored(tcfg, store)
    data = dataset_provenance(load_dataset(tcfg.dataset))
    conv = _run(store, [convergence_config(params)], lambda c: run_convergence(c, store), desc="HVP convergence",
                progress=progress, device=device, data=data)[0]
    samp = _run(store, sample_configs(params), lambda c: run_samples(c, store), desc="sample counts",
                progress=progress, device=device, data=data)
    rows = [dict(n=r.config["n_samples"], draw=r.config["draw"], **{k: r.payload[k] for k in (
        "lam_max", "trace", "trace_stderr", "frobenius", "frobenius_stderr", "loss", "seconds", "n_hvp")},
        mode=r.payload["info"]["mode"], device=r.provenance["device"]) for r in samp]
    everything = val + [trained, conv] + samp
    history = {k: v for k, v in trained.payload.items() if k != "state_dict"}
    modes = tuple(sorted({r.payload["info"]["mode"] for r in val + [conv] + samp}))
    return WidthResults(
        validation=[r.payload for r in val], training=history, train_config=tcfg.to_dict(),
        convergence=conv.payload, samples=rows[:-1], full=rows[-1], n_train=params.n_train,
        tolerance=params.tolerance, benchmark=load_benchmark(), modes=modes, provenance=samp[-1].provenance,
        train_provenance=trained.provenance, wall_time=sum(r.wall_time for r in everything),
        stored=sum(r.from_store for r in everything), computed=sum(not r.from_store for r in everything))


# -- the benchmark against PyHessian -------------------------------------------------------------------
def _table(lines: list[str]) -> list[dict]:
    """Rows of the first markdown table in ``lines`` as dicts keyed by its header."""
    rows = [ln.strip() for ln in lines if ln.strip().startswith("|")]
    if len(rows) < 2:
        return []
    cells = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]  # noqa: E731
    header = cells(rows[0])
    return [dict(zip(header, cells(r))) for r in rows[2:]]


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:].lower().startswith(heading.lower()):
            rest = lines[i + 1:]
            end = next((j for j, ln in enumerate(rest) if ln.startswith("## ")), len(rest))
            return rest[:end]
    return []


def parse_benchmark(text: str) -> dict:
    """The parts of a ``bench_hessian.py`` result file the chapter shows."""
    lines = text.splitlines()
    end = next((i for i, ln in enumerate(lines) if ln.startswith("## ")), len(lines))
    intro = [ln for ln in lines[:end] if ln.strip() and not ln.startswith("#")]
    host = re.search(r"\bhost ([\w.\-]+?)\.?(?:\s|$)", text)
    date = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", text)
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "")
    return {"title": title, "setup": intro[:2], "host": host.group(1) if host else None,
            "date": date.group(1) if date else None,
            "cost": _table(_section(text, "Cost until")), "as_run": _table(_section(text, "As run"))}


def load_benchmark(folder: Path | None = None) -> dict:
    """The Hessian benchmark record of this host (else the newest), parsed; ``found`` False if none.

    Files are found by :func:`replication.benchmarks.records` (``benchmarks/results/hessian_<host>.md``);
    ``date`` is the file's modification date (UTC), as the appendix shows it."""
    from ... import benchmarks

    this_host = socket.gethostname()
    found = benchmarks.records("hessian", folder)
    if not found:
        return {"found": False, "folder": str(folder or benchmarks.results_folder()), "this_host": this_host}
    mine = [r for r in found if r.machine == this_host]
    record = (mine or sorted(found, key=lambda r: r.path.stat().st_mtime))[-1]
    parsed = parse_benchmark(record.path.read_text())
    host = parsed["host"] or record.machine
    from ...paths import checkout_root

    root = checkout_root()
    try:
        shown = str(record.path.resolve().relative_to(root)) if root is not None else str(record.path)
    except ValueError:
        shown = str(record.path)
    return {"found": True, "file": shown, "this_host": this_host,
            **parsed, "host": host, "same_host": host == this_host,
            "date": parsed["date"] or record.modified, "date_source": "file" if parsed["date"] else "modified"}


def benchmark_markdown(bench: dict) -> str:
    """The benchmark's cost table and its provenance line (or why there is none)."""
    if not bench.get("found"):
        return (f"*The benchmark against PyHessian (`benchmarks/bench_hessian.py`) has not been run on this "
                f"machine (host `{bench['this_host']}`): no `hessian_*.md` in `{bench['folder']}`.*")
    date = bench["date"] if bench["date_source"] == "file" else f"{bench['date']} (file written; it records no date)"
    where = "this machine" if bench["same_host"] else f"another machine, not this one (`{bench['this_host']}`)"
    lines = [f"*Source: `{bench['file']}` · host `{bench['host']}` ({where}) · date {date}.*", ""]
    lines += [f"> {ln}" for ln in bench["setup"]] + [""]
    if bench["cost"]:
        header = list(bench["cost"][0])
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(r.get(h, "") for h in header) + " |" for r in bench["cost"]]
    return "\n".join(lines)


# -- what the prose quotes, computed -------------------------------------------------------------------
HVP_EXACT = 1e-10      # float64 HVP vs dense: relative error allowed
HVP_FLOAT32 = 1e-5     # float32 HVP vs dense
EIG_EXACT = 1e-8       # Lanczos (tol 1e-10) vs dense eigenvalues
POWER_EXACT = 1e-6     # power iteration run to residual 1e-9
TARGET = 1e-3          # "accurate" eigenvalue: relative error below this


def coverage_band(n: int, nominal: float = 0.95, slack: float = 0.03) -> tuple[float, float]:
    """Coverage rates accepted over n repetitions: nominal ± (slack + 3 binomial standard errors)."""
    half = slack + 3 * math.sqrt(nominal * (1 - nominal) / n)
    return nominal - half, min(1.0, nominal + half)


def validation_checks(rows: list[dict]) -> list[dict]:
    """One check per claim about the toolkit: rule, worst case over the tiny networks, pass/fail."""
    lo, hi = coverage_band(rows[0]["coverage_seeds"])
    worst = lambda f: max(f(r) for r in rows)  # noqa: E731
    checks = [
        ("HVP, double backward, float64", f"relative error ≤ {HVP_EXACT:g}", worst(lambda r: r["hvp_error"]["double_backward"]), HVP_EXACT),
        ("HVP, forward-over-reverse, float64", f"relative error ≤ {HVP_EXACT:g}", worst(lambda r: r["hvp_error"]["func"]), HVP_EXACT),
        ("HVP, float32", f"relative error ≤ {HVP_FLOAT32:g}", worst(lambda r: r["hvp_error"]["float32"]), HVP_FLOAT32),
        ("Lanczos, top 3 eigenvalues", f"relative error ≤ {EIG_EXACT:g}", worst(lambda r: r["lanczos_error"]), EIG_EXACT),
        ("power iteration, largest-magnitude eigenvalue", f"relative error ≤ {POWER_EXACT:g}", worst(lambda r: r["power_error"]), POWER_EXACT),
    ]
    out = [dict(check=c, rule=rule, worst=w, passed=bool(w <= limit)) for c, rule, w, limit in checks]
    for key, label in (("hutchinson", "Hutchinson trace"), ("hutch++", "Hutch++ trace"),
                       ("frobenius", "Frobenius norm²")):
        rates = [r["coverage"][key] for r in rows]
        out.append(dict(check=f"{label}: 95% error bars cover the truth",
                        rule=f"coverage over {rows[0]['coverage_seeds']} seeds in [{lo:.3f}, {hi:.3f}]",
                        worst=min(rates),
                        rates=rates, passed=all(lo <= x <= hi for x in rates)))
    return out


def _first_within(n_hvp, errors, target=TARGET) -> float:
    """HVPs after which the error is, and stays, ≤ target (nan if never)."""
    errors = np.asarray(errors, float)
    bad = np.nonzero(~(errors <= target))[0]
    if bad.size == 0:
        return float(n_hvp[0])
    if bad[-1] + 1 >= len(errors):
        return math.nan
    return float(n_hvp[bad[-1] + 1])


def convergence_curves(conv: dict) -> dict:
    """Relative errors against HVPs, and where each method's own stopping rule would stop."""
    ref = np.array(conv["reference"]["eigenvalues"])
    k = len(ref) - 1
    lz, pw = conv["lanczos"], conv["power"]
    lam1 = ref[0]
    l_err1 = [abs(v[0] - lam1) / abs(lam1) for v in lz["values"]]
    l_errk = [max(abs(a - b) / abs(b) for a, b in zip(v, ref[:k])) if len(v) >= k else math.nan
              for v in lz["values"]]
    p_err1 = [abs(v - lam1) / abs(lam1) for v in pw["values"]]
    # our rule: every wanted Ritz pair has residual ≤ 1e-3·|θ|; PyHessian's: relative change < 1e-3
    stop1 = next((i for i, (v, r) in enumerate(zip(lz["values"], lz["residuals"])) if r[0] <= TARGET * abs(v[0])), None)
    stopk = next((i for i, (v, r) in enumerate(zip(lz["values"], lz["residuals"]))
                  if len(v) >= k and all(ri <= TARGET * abs(vi) for vi, ri in zip(v, r))), None)
    vals = pw["values"]
    pstop = next((i for i in range(1, len(vals)) if abs(vals[i] - vals[i - 1]) / (abs(vals[i - 1]) + 1e-6) < TARGET),
                 None)
    deflation = [dict(tol=d["tol"], n_hvp=d["n_hvp"], seconds=d["seconds"],
                      error=float(max(abs(a - b) / abs(b)
                                      for a, b in zip(sorted(d["eigenvalues"], reverse=True), ref[:k]))))
                 for d in conv["deflation"]]
    at = lambda seq, i, f=float: (f(seq[i]) if i is not None else math.nan)  # noqa: E731
    return dict(k=k, reference=ref.tolist(), lanczos_hvp=lz["n_hvp"], lanczos_err1=l_err1, lanczos_errk=l_errk,
                power_hvp=pw["n_hvp"], power_err1=p_err1,
                lanczos_to_target1=_first_within(lz["n_hvp"], l_err1),
                lanczos_to_targetk=_first_within(lz["n_hvp"], l_errk),
                power_to_target1=_first_within(pw["n_hvp"], p_err1),
                lanczos_stop1_hvp=at(lz["n_hvp"], stop1), lanczos_stop1_err=at(l_err1, stop1),
                lanczos_stopk_hvp=at(lz["n_hvp"], stopk), lanczos_stopk_err=at(l_errk, stopk),
                power_stop_hvp=at(pw["n_hvp"], pstop), power_stop_err=at(p_err1, pstop),
                gap=float(ref[1] / ref[0]), deflation=deflation)


def count_stats(samples: list[dict], full: dict) -> list[dict]:
    """Per sample count: each quantity's draws, their range, and their distance from the whole set."""
    out = []
    for n in sorted({r["n"] for r in samples}):
        rows = [r for r in samples if r["n"] == n]
        entry = {"n": n, "draws": len(rows)}
        for q in QUANTITIES:
            v = np.array([r[q] for r in rows], float)
            entry[q] = dict(values=v.tolist(), median=float(np.median(v)), mean=float(v.mean()),
                            min=float(v.min()), max=float(v.max()),
                            ratio=float(v.max() / v.min()) if v.min() > 0 else math.inf,
                            max_dev=float(np.max(np.abs(v / full[q] - 1))),
                            bias=float(v.mean() / full[q] - 1))
        out.append(entry)
    return out


def choose_sample_count(stats: list[dict], tolerance: float) -> int | None:
    """The rule: the smallest count at which, and at every larger count measured, every draw's λ_max,
    Tr H and ||H||_F lies within ``tolerance`` (relative) of its whole-training-set value.
    None when no count qualifies."""
    ok = [all(s[q]["max_dev"] <= tolerance for q in QUANTITIES) for s in stats]
    for i, s in enumerate(stats):
        if all(ok[i:]):
            return s["n"]
    return None


def timing(samples: list[dict], n: int) -> dict:
    """Median over the draws at count n of the seconds and HVPs of each measurement."""
    rows = [r for r in samples if r["n"] == n]
    sec = {k: float(np.median([r["seconds"][k] for r in rows])) for k in rows[0]["seconds"]}
    hvp = {k: float(np.median([r["n_hvp"][k] for r in rows])) for k in rows[0]["n_hvp"]}
    return {"seconds": sec, "n_hvp": hvp, "draws": len(rows), "device": rows[0]["device"]}


def summary(results: WidthResults) -> dict:
    """The numbers and choices the chapter states, computed from ``results``."""
    out: dict = {}
    checks = validation_checks(results.validation)
    out["checks"] = checks
    out["validation_passed"] = all(c["passed"] for c in checks)
    out["n_checks"], out["n_passed"] = len(checks), sum(c["passed"] for c in checks)
    out["max_hvp_error64"] = max(max(r["hvp_error"]["double_backward"], r["hvp_error"]["func"])
                                 for r in results.validation)
    out["max_hvp_error32"] = max(r["hvp_error"]["float32"] for r in results.validation)
    out["max_lanczos_error"] = max(r["lanczos_error"] for r in results.validation)
    out["single_covered"] = sum(e["covered"] for r in results.validation for e in r["estimates"].values())
    out["single_total"] = sum(len(r["estimates"]) for r in results.validation)
    t = results.training
    out.update(architecture=t["architecture"], n_parameters=t["n_parameters"], epochs=len(t["train_acc"]),
               train_acc=t["train_acc"][-1], test_acc=t["test_acc"][-1], train_loss=t["train_loss"][-1])
    out["curves"] = convergence_curves(results.convergence)
    stats = count_stats(results.samples, results.full)
    out["stats"] = stats
    chosen = choose_sample_count(stats, results.tolerance)
    out["rule_met"] = chosen is not None
    out["chosen"] = chosen if chosen is not None else stats[-1]["n"]
    out["smallest"] = stats[0]
    out["at_chosen"] = next(s for s in stats if s["n"] == out["chosen"])
    below = [s for s in stats if s["n"] < out["chosen"]]
    out["below_chosen"] = below[-1] if below else None
    out["timing"] = timing(results.samples, out["chosen"])
    out["timing_full"] = {"seconds": results.full["seconds"], "n_hvp": results.full["n_hvp"]}
    out["modes"] = results.modes
    return out


def checks_table(checks: list[dict]) -> str:
    lines = ["| check | rule | result: worst case (coverage: each network) | verdict |", "| --- | --- | ---: | --- |"]
    for c in checks:
        worst = (", ".join(f"{x:.3f}" for x in c["rates"]) if "rates" in c else f"{c['worst']:.1e}")
        lines.append(f"| {c['check']} | {c['rule']} | {worst} | **{'pass' if c['passed'] else 'FAIL'}** |")
    return "\n".join(lines)


def validation_table(rows: list[dict]) -> str:
    """Per network: exact value and estimate ± standard error, and whether the 95% bar covers it."""
    names = {"hutchinson": r"Tr $H$, Hutchinson", "hutch++": r"Tr $H$, Hutch++", "frobenius": r"$\Vert H\Vert_F$"}
    lines = ["| network (parameters) | quantity | exact | estimate ± s.e. | HVPs | (estimate − exact) / s.e. "
             "| inside ±1.96 s.e. |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        for i, (key, label) in enumerate(names.items()):
            e = r["estimates"][key]
            lead = f"{r['model']} ({r['dim']})" if i == 0 else ""
            lines.append(f"| {lead} | {label} | {e['truth']:.4g} | {e['estimate']:.4g} ± {e['stderr']:.2g} | "
                         f"{e['n_hvp']} | {e['z']:+.2f} | {'yes' if e['covered'] else 'no'} |")
    return "\n".join(lines)


def counts_table(stats: list[dict], full: dict, chosen: int, tolerance: float) -> str:
    lines = [r"| samples | $\lambda_{\max}$ over the draws: min – max (max/min) | largest distance from the whole set: "
             r"$\lambda_{\max}$ | Tr $H$ | $\Vert H\Vert_F$ " f"| all within {100 * tolerance:g}% |",
             "| ---: | ---: | ---: | ---: | ---: | --- |"]
    for s in stats:
        ok = all(s[q]["max_dev"] <= tolerance for q in QUANTITIES)
        mark = " (chosen)" if s["n"] == chosen else ""
        lam = s["lam_max"]
        lines.append(f"| {s['n']}{mark} | {lam['min']:.3g} – {lam['max']:.3g} ({lam['ratio']:.2f}×) | "
                     f"{100 * lam['max_dev']:.1f}% | {100 * s['trace']['max_dev']:.1f}% | "
                     f"{100 * s['frobenius']['max_dev']:.1f}% | {'yes' if ok else 'no'} |")
    lines.append(f"| whole training set ({full['n']}) | {full['lam_max']:.4g} | | {full['trace']:.4g} | "
                 f"{full['frobenius']:.4g} | |")
    return "\n".join(lines)


def timing_table(tm: dict, full_tm: dict, n: int, n_full: int) -> str:
    labels = [("first_hvp", "first HVP (builds the gradient graph)", None), ("hvp", "one HVP", None),
              ("lam_max", r"$\lambda_{\max}$ (Lanczos, residual rule)", "lam_max"),
              ("trace", r"Tr $H$ (Hutch++)", "trace"), ("frobenius", r"$\Vert H\Vert_F$", "frobenius")]
    lines = [f"| measurement | seconds at {n} samples | HVPs | seconds, whole set ({n_full}) |",
             "| --- | ---: | ---: | ---: |"]
    for key, label, hk in labels:
        hv = f"{tm['n_hvp'][hk]:.0f}" if hk else "1"
        lines.append(f"| {label} | {tm['seconds'][key]:.3g} | {hv} | {full_tm['seconds'][key]:.3g} |")
    return "\n".join(lines)
