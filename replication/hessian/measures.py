"""The three width measures of a minimum, measured together: λ_max (Lanczos), Tr H (Hutch++) and
‖H‖_F (E‖Hv‖²), each with its wall time.  One call, so every chapter measures width the same way."""
from __future__ import annotations

import time
from typing import NamedTuple

from .eigen import lanczos
from .estimators import frobenius_norm, hutchpp_trace
from .results import EigenResult, Estimate, FrobeniusEstimate


MEASURES = ("lam_max", "trace", "frobenius")


class WidthMeasures(NamedTuple):
    top: EigenResult | None               # top eigenpair: eigenvalues[0], residuals[0], converged[0], n_hvp
    trace: Estimate | None                # Hutch++ estimate of Tr H ± stderr
    frobenius: FrobeniusEstimate | None   # ‖H‖_F ± stderr
    seconds: dict                         # wall time of each measured: "lam_max", "trace", "frobenius"


def width_measures(H, *, lanczos_tol: float, trace_hvp: int, frobenius_probes: int, lanczos_seed: int,
                   trace_seed: int, frobenius_seed: int, lanczos_max_iter: int | None = None,
                   which: tuple = MEASURES) -> WidthMeasures:
    """λ_max, Tr H and ‖H‖_F of the operator ``H`` (deterministic given the seeds), in that order;
    ``which`` leaves some out (their fields are ``None``)."""
    seconds = {}
    top = trace = fro = None
    if "lam_max" in which:
        start = time.perf_counter()
        top = lanczos(H, k=1, tol=lanczos_tol, max_iter=lanczos_max_iter, seed=lanczos_seed,
                      return_eigenvectors=False)
        seconds["lam_max"] = time.perf_counter() - start
    if "trace" in which:
        start = time.perf_counter()
        trace = hutchpp_trace(H, n_hvp=trace_hvp, seed=trace_seed)
        seconds["trace"] = time.perf_counter() - start
    if "frobenius" in which:
        start = time.perf_counter()
        fro = frobenius_norm(H, n_probes=frobenius_probes, seed=frobenius_seed)
        seconds["frobenius"] = time.perf_counter() - start
    return WidthMeasures(top, trace, fro, seconds)
