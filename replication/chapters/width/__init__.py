"""Chapter "Measuring the width of a minimum": parameters, compute and verdicts.

The later chapters compare minima by the curvature of the training loss there: the largest
Hessian eigenvalue λ_max, the trace Tr H and the Frobenius norm ‖H‖_F, all estimated from
Hessian-vector products (HVPs) by :mod:`replication.hessian`.  This chapter establishes how far
those numbers can be trusted and what they cost:

1. the toolkit against dense float64 Hessians of tiny networks (``experiment.ValidationRun``);
2. on a Fashion-MNIST MLP trained by the one engine (:class:`replication.train.TrainConfig` through
   :func:`replication.runs.train_all`), the error of λ_max and of the top-k eigenvalues against
   the number of HVPs, Lanczos against power iteration (``experiment.ConvergenceRun``);
3. λ_max, Tr H and ‖H‖_F over n random training samples, several n and draws, against the whole
   training set; a written rule picks the sample count (``claims.choose_sample_count``); each run
   also times itself (``experiment.SampleRun``);
4. the benchmark against PyHessian, read from ``benchmarks/results/hessian_*.md`` when present.

Files: ``experiment.py`` (run configs and what the store keeps), ``claims.py`` (summary numbers,
verdicts under the rules of ``rules.yaml``, with their negative controls), ``coverage.py`` (the
coverage rule's control: error bars half as wide), ``figures.py`` (figures, tables, exported numbers), ``benchmark.py`` (the
benchmark record).
"""
from __future__ import annotations

import dataclasses
import socket  # noqa: F401  (tests patch width.socket via benchmark)


from ... import models
from ...params import ChapterSpec, Param, ParameterError, check_at_most, device, lanczos_tol
from ...runs import compute_all, train_all
from ...store import ResultStore
from . import benchmark, claims, coverage, experiment
from .benchmark import load_benchmark, parse_benchmark
from .page import benchmark_markdown
from .claims import (QUANTITIES, TARGET, choose_sample_count, convergence_curves, count_stats, coverage_band,
                     summary, validation_checks)
from .. import Counted
from .experiment import (MODE, ConvergenceRun, SampleRun, ValidationRun, convergence_config, run_convergence,
                         run_samples, run_validation, sample_configs, subset, train_config, validation_configs,
                         validation_problem)


def _check(values: dict) -> None:
    n = values["n_train"]
    check_at_most(values, ("convergence_samples", "batch_size"))
    if any(c >= n for c in values["sample_counts"]):
        raise ParameterError(f"sample_counts={list(values['sample_counts'])!r}: every count must be below "
                             f"n_train={n} (the whole training set is the reference)")
    if values["top_k"] >= values["max_hvp"]:
        raise ParameterError(f"top_k={values['top_k']!r}: must be below max_hvp={values['max_hvp']}")


ABOUT = 'how the book measures the width of a minimum (largest Hessian eigenvalue, trace, Frobenius norm), checked against exact Hessians, with the Hessian-vector products and training samples it needs and what one measurement costs.'   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("width", "Measuring the width of a minimum", (
    device("device the network is trained and its Hessian measured on"),
    Param("hidden", "int_list", "hidden-layer widths of the Fashion-MNIST MLP", low=1, high=8192, unique=False),
    Param("n_train", "int", "training examples (a random subset of Fashion-MNIST's training split, drawn with data seed 0)", low=100,
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
    lanczos_tol(),
    Param("trace_hvp", "int", "HVPs of one Hutch++ trace estimate", low=6, high=100000),
    Param("frobenius_probes", "int", "probes of one Frobenius-norm estimate", low=2, high=100000),
    Param("tolerance", "float", "the sample-count rule: every draw within this relative distance of the "
          "whole-training-set value", low=1e-4, high=1),
    Param("hvp_repeats", "int", "timed HVPs per sample run (after the first, which builds the graph)",
          low=1, high=1000),
), check=_check)



@dataclasses.dataclass
class WidthResults(Counted):
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
    train_provenance: dict    # of the trained network (its data: fingerprint, canonical flag)
    wall_time: float


def compute(params, *, store: ResultStore, progress: bool = True) -> WidthResults:
    device = params.device
    val = compute_all(validation_configs(params), run_validation, store=store, desc="toolkit validation",
                      progress=progress)
    narrow = compute_all(coverage.coverage_control_configs(params), coverage.run_coverage_control, store=store,
                         desc="coverage control", progress=progress)
    tcfg = train_config(params)
    trained = train_all([tcfg], store=store, progress=progress)[0]
    data = trained.provenance.get("data")
    conv = compute_all([convergence_config(params)], lambda c: run_convergence(c, store), store=store,
                       desc="HVP convergence", progress=progress, device=device, data=data)[0]
    samp = compute_all(sample_configs(params), lambda c: run_samples(c, store), store=store, desc="sample counts",
                       progress=progress, device=device, data=data)
    rows = [dict(n=r.config["n_samples"], draw=r.config["draw"], **{k: r.payload[k] for k in (
        "lam_max", "trace", "trace_stderr", "frobenius", "frobenius_stderr", "loss", "seconds", "n_hvp")},
        mode=r.payload["info"]["mode"], device=r.provenance["device"]) for r in samp]
    everything = val + narrow + [trained, conv] + samp
    p = trained.payload
    training = {"history": p["history"], "architecture": models.describe(784, tuple(params.hidden), 10),
                "n_parameters": p["n_parameters"]}
    modes = tuple(sorted({r.payload["info"]["mode"] for r in val + [conv] + samp}))
    return WidthResults(
        validation=[{**r.payload, "coverage_control": c.payload["coverage_control"]} for r, c in zip(val, narrow)],
        training=training, train_config=tcfg.to_dict(),
        convergence=conv.payload, samples=rows[:-1], full=rows[-1], n_train=params.n_train,
        tolerance=params.tolerance, benchmark=load_benchmark(), modes=modes, provenance=samp[-1].provenance,
        train_provenance=trained.provenance, wall_time=sum(r.wall_time for r in everything))


def verdicts(results: WidthResults, params) -> list:
    """The toolkit's verdicts (``width-...`` ids), from :func:`claims.verdicts`."""
    return claims.verdicts(summary(results), profile=params.profile, tolerance=results.tolerance,
                           n_train=results.n_train, lr=params.lr)


def plan(params) -> list:
    """The one training run of this chapter at ``params`` (the MLP whose Hessian is measured); the
    toolkit's validation on dense Hessians and the HVP and sample-count measurements are not training
    runs and run where the chapter is computed."""
    return [train_config(params)]
