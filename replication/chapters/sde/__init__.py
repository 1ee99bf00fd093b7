"""Chapter "SGD as a stochastic differential equation": parameters, compute and verdicts.

Four experiments, each a grid of frozen run configs computed through the result store
(``experiment.py``): the OU check (a quadratic with injected noise C = H, same-ratio pairs), the
breakdown sweep (fixed η/S, η·λ_max toward 2), real minibatch SGD on linear and logistic
regressions, and a double well (which minimum SGD occupies as the temperature grows).
``claims.py`` turns the rows into the numbers the page states and the verdicts (three outcomes
each), judged under the rules registered in ``rules.yaml`` with their negative controls;
``controls.py`` holds the controls that need runs or data of their own (a double well with no
crossover, the C = H designs); ``figures.py`` draws them and exports the numbers behind every figure.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...params import ChapterSpec, Param, ParameterError, check_largest_at_most, seeds
from ...runs import compute_all
from ...store import ResultStore
from . import claims
from .. import Counted
from .controls import control_well_configs
from .experiment import (WELL, DoubleWellRun, QuadraticRun, RegressionRun, double_well_configs,
                         quadratic_configs,
                         quadratic_rows, regression_configs, regression_rows, run_double_well, run_quadratic,
                         run_regression, well, well_rows)
from .claims import summary  # noqa: F401


def _check(values: dict) -> None:
    lam_max = values["quad_lam_max"]
    if values["quad_lam_min"] >= lam_max:
        raise ParameterError(f"quad_lam_min={values['quad_lam_min']!r}: must be below quad_lam_max={lam_max!r}")
    check_largest_at_most(values, "reg_batch_sizes", "reg_examples")
    if values["well_eta"] * WELL["k_B"] >= 1.0:
        raise ParameterError(f"well_eta={values['well_eta']!r}: must be < {1 / WELL['k_B']:g} "
                             f"(eta times the sharpest curvature k_B={WELL['k_B']:g} below 1)")


ABOUT = 'the theory on problems where it can be solved exactly: the Ornstein–Uhlenbeck picture and the trace relation, where the SDE stops being right as steps grow, whether C = H with real minibatches, the exact law of discrete SGD, and which of two minima SGD prefers.'   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("sde", "SGD as a stochastic differential equation", (
    seeds("independent repetitions of every setting (confidence intervals are over them)"),
    Param("chains", "int", "independent SGD chains simulated together in one repetition", low=2, high=100_000),
    Param("quad_dim", "int", "dimension d of the quadratic basin", low=2, high=2000),
    Param("quad_lam_min", "float", "smallest Hessian eigenvalue of the quadratic basin", low=1e-4, high=1e4),
    Param("quad_lam_max", "float", "largest Hessian eigenvalue of the quadratic basin", low=1e-4, high=1e4),
    Param("quad_ratios", "float_list", "learning-rate / batch-size ratios of the OU check", low=1e-7, high=10),
    Param("quad_batch_sizes", "int_list", "batch sizes S of the OU check (eta = ratio * S)", low=1,
          high=1_000_000, min_len=2),
    Param("quad_burn_in_time", "float", "physical time (steps x eta) discarded before measuring", low=0, high=1e6),
    Param("quad_measure_time", "float", "physical time averaged over", low=1e-3, high=1e7),
    Param("edge_ratio", "float", "the fixed eta/S while eta*lambda_max grows toward 2", low=1e-7, high=10),
    Param("edge_batch_sizes", "int_list", "batch sizes of the breakdown sweep (eta = edge_ratio * S)", low=1,
          high=1_000_000, min_len=2),
    Param("reg_losses", "str_list", "regression problems with real minibatch sampling",
          choices=("linear", "logistic")),
    Param("reg_sampling", "str_list", "how batches are drawn: reshuffled epochs, or S distinct examples "
          "drawn afresh each step", choices=("epochs", "independent")),
    Param("reg_examples", "int", "training-set size N of the regression problems", low=10, high=1_000_000),
    Param("reg_chains", "int", "independent SGD chains per regression run", low=2, high=100_000),
    Param("reg_dim", "int", "number of regression weights", low=1, high=1000),
    Param("reg_noise_std", "float", "label-noise std of the linear regression (C = H needs 1)", low=0, high=100),
    Param("reg_etas", "float_list", "learning rates of the regression runs", low=1e-6, high=10),
    Param("reg_batch_sizes", "int_list", "batch sizes of the regression runs", low=1, high=1_000_000),
    Param("reg_burn_in_time", "float", "physical time discarded before measuring", low=0, high=1e6),
    Param("reg_measure_time", "float", "physical time averaged over", low=1e-3, high=1e7),
    Param("well_eta", "float", "learning rate of the double-well runs", low=1e-5, high=1),
    Param("well_sigma2", "float", "per-example gradient-noise variance sigma^2 of the double well", low=1e-6,
          high=1e6),
    Param("well_batch_sizes", "int_list", "batch sizes of the double well (T = eta sigma^2 / S)", low=1,
          high=1_000_000, min_len=2),
    Param("well_burn_in_time", "float", "physical time discarded before counting basin occupancy", low=0,
          high=1e7),
    Param("well_measure_time", "float", "physical time over which basin occupancy is averaged", low=1e-3,
          high=1e8),
), check=_check)



@dataclasses.dataclass
class SDEResults(Counted):
    """Everything the chapter shows: one row (a dict) per setting, seeds kept."""

    quadratic: list[dict]
    edge: list[dict]
    regression: list[dict]
    well: list[dict]
    trace_H: float
    provenance: dict
    wall_time: float
    well_control: list[dict] = dataclasses.field(default_factory=list)  # claim 3's control: A as sharp as B
    premise: list[dict] = dataclasses.field(default_factory=list)       # C = H where the premise is built in


def compute(params, *, store: ResultStore, progress: bool = True) -> SDEResults:
    quad_cfgs = quadratic_configs(params, params.quad_ratios, params.quad_batch_sizes)
    edge_cfgs = quadratic_configs(params, (params.edge_ratio,), params.edge_batch_sizes)
    quad = compute_all(quad_cfgs, run_quadratic, store=store, desc="OU check", progress=progress)
    edge = compute_all(edge_cfgs, run_quadratic, store=store, desc="breakdown sweep", progress=progress)
    reg = compute_all(regression_configs(params), run_regression, store=store, desc="regression", progress=progress)
    wells = compute_all(double_well_configs(params), run_double_well, store=store, desc="double well",
                        progress=progress)
    controls = compute_all(control_well_configs(params), run_double_well, store=store, desc="control well",
                           progress=progress)
    everything = quad + edge + reg + wells + controls
    H = quad_cfgs[0].hessian
    return SDEResults(
        quadratic=quadratic_rows(quad, H), edge=quadratic_rows(edge, H), regression=regression_rows(reg),
        well=well_rows(wells), well_control=well_rows(controls) if controls else [],
        premise=claims.c_equals_h_premise(params.reg_dim, params.reg_losses), trace_H=float(np.trace(H)), provenance=everything[0].provenance,
        wall_time=sum(r.wall_time for r in everything))


def verdicts(results: SDEResults, params) -> list:
    """The chapter's verdicts (``claim-2-...``, ``claim-3-...``, ``sde-...``), from :func:`claims.verdicts`."""
    return claims.verdicts(claims.summary(results), profile=params.profile, reg_noise_std=params.reg_noise_std)


def plan(params) -> None:
    """No training runs to plan: every computation of this chapter is a numpy simulation (SGD on a
    quadratic, on two regressions, on a double well), seconds to minutes on a CPU, run where the
    chapter is computed (``python -m replication plan`` lists it as not planned)."""
    return None
