"""Hessian of a training loss: exact Hessian-vector products and spectral estimates.

One module per job:

- ``operator``    :class:`HessianOperator`: H v of the size-weighted average loss (double
                  backward or forward-over-reverse), explicit model mode, float32/float64
- ``eigen``       :func:`lanczos` (full reorthogonalization) and :func:`power_iteration`
                  (PyHessian's method, deflation for top-k)
- ``estimators``  :func:`hutchinson_trace`, :func:`hutchpp_trace`, :func:`frobenius_norm`
- ``density``     :func:`spectral_density` (stochastic Lanczos quadrature)
- ``results``     frozen result records with ``to_dict()``
- ``measures``    :func:`width_measures`: λ_max, Tr H and ‖H‖_F together, each timed

Every estimator accepts a :class:`HessianOperator`, any object with ``matvec``/``dim``, a plain
callable with ``dim=``, or a dense symmetric matrix, and is deterministic given ``seed``.

Example::

    H = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode="eval")
    top = lanczos(H, k=5, tol=1e-3)          # top.eigenvalues, top.residuals, top.n_hvp
    tr = hutchinson_trace(H, n_probes=100)   # tr.estimate ± tr.stderr
    record = {**H.info(), **top.to_dict()}   # JSON-ready
"""
from .density import spectral_density
from .eigen import lanczos, power_iteration
from .measures import WidthMeasures, width_measures
from .estimators import frobenius_norm, hutchinson_trace, hutchpp_trace
from .operator import HessianOperator, active_dropout, batch_size_for, batchnorm_modules, hvp
from .results import EigenResult, Estimate, FrobeniusEstimate, SpectralDensity

__all__ = [
    "HessianOperator", "hvp", "active_dropout", "batchnorm_modules", "batch_size_for",
    "lanczos", "power_iteration",
    "hutchinson_trace", "hutchpp_trace", "frobenius_norm",
    "spectral_density", "width_measures", "WidthMeasures",
    "EigenResult", "Estimate", "FrobeniusEstimate", "SpectralDensity",
]
