"""The coverage rule's negative control: how often error bars ``scale`` times as wide as the toolkit's
(±``scale``·1.96 s.e.) cover the exact value, over the same repetitions and probes as the validation's
coverage count.  At ``scale`` = ½ a Gaussian estimate's bars cover about 68% of the time, so a rule that
cannot reject them cannot tell honest error bars from narrow ones.

Kept apart from ``experiment.py``, whose validation networks it reuses (its ``code`` names both).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from ...config import RunConfig, require
from ...hessian import frobenius_norm, hutchinson_trace, hutchpp_trace
from ...hessian.dense import dense_hessian
from .experiment import VALIDATION_MODELS, validation_problem

ESTIMATORS = ("hutchinson", "hutch++", "frobenius")


@dataclasses.dataclass(frozen=True)
class CoverageControlRun(RunConfig):
    """Coverage of the validation's trace and Frobenius estimates with bars ``scale`` times as wide."""

    kind: ClassVar[str] = "width-coverage-control"
    code: ClassVar[tuple[str, ...]] = ("replication.chapters.width.coverage", "replication.chapters.width.experiment",
                                       "replication.models", "replication.hessian.__init__",
                                       "replication.hessian.dense", "replication.hessian.estimators",
                                       "replication.hessian._linop", "replication.hessian.results")
    model: str
    n_samples: int
    coverage_seeds: int
    coverage_probes: int
    scale: float = 0.5
    seed: int = 0

    def validate(self) -> None:
        require(self.model in VALIDATION_MODELS, "model", self.model, f"one of {', '.join(VALIDATION_MODELS)}")
        require(0 < self.scale, "scale", self.scale, "> 0")


def run_coverage_control(cfg: CoverageControlRun) -> dict:
    """Per estimator, the fraction of repetitions (seeds 1000, 1001, ... as in the validation) whose
    interval estimate ± scale·1.96·s.e. contains the exact value of the dense Hessian."""
    model, X, y = validation_problem(cfg.model, cfg.n_samples, cfg.seed)
    D = dense_hessian(model, nn.CrossEntropyLoss(), X, y)
    trace, fro = float(torch.trace(D)), float(torch.linalg.matrix_norm(D))
    covered = dict.fromkeys(ESTIMATORS, 0)
    for s in range(cfg.coverage_seeds):
        seed = 1000 + s
        t = hutchinson_trace(D, n_probes=cfg.coverage_probes, seed=seed)
        covered["hutchinson"] += abs(t.estimate - trace) <= cfg.scale * 1.96 * t.stderr
        t = hutchpp_trace(D, n_hvp=cfg.coverage_probes, seed=seed)
        covered["hutch++"] += abs(t.estimate - trace) <= cfg.scale * 1.96 * t.stderr
        f = frobenius_norm(D, n_probes=cfg.coverage_probes, seed=seed)
        covered["frobenius"] += abs(f.squared - fro ** 2) <= cfg.scale * 1.96 * f.squared_stderr
    return {"model": cfg.model, "scale": cfg.scale, "coverage_seeds": cfg.coverage_seeds,
            "coverage_control": {k: v / cfg.coverage_seeds for k, v in covered.items()}}


def coverage_control_configs(params) -> list[CoverageControlRun]:
    return [CoverageControlRun(model=m, n_samples=params.validation_samples, coverage_seeds=params.coverage_seeds,
                               coverage_probes=params.coverage_probes) for m in VALIDATION_MODELS]
