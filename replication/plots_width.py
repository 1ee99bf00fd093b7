"""Figures of the chapter "Measuring the width of a minimum" (style and footer from :mod:`replication.plots`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plots import COLORS, STYLE, _errorbar, footer  # noqa: F401  (footer re-exported for the notebook)

FLOOR = 1e-9  # relative errors below this are drawn at it (log axis)


def _floor(values):
    v = np.asarray(values, float)
    return np.where(np.isfinite(v), np.maximum(v, FLOOR), np.nan)


def convergence(curves: dict, *, target: float = 1e-3):
    """(a) relative error of λ_max against HVPs; (b) largest relative error over the top k."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.2, 3.7), sharey=True)
        ax.plot(curves["lanczos_hvp"], _floor(curves["lanczos_err1"]), "C0.-", ms=3.5, lw=1.2, label="Lanczos (ours)")
        ax.plot(curves["power_hvp"], _floor(curves["power_err1"]), "C1.-", ms=3.5, lw=1.2,
                label="power iteration (PyHessian's method)")
        if np.isfinite(curves["lanczos_stop1_hvp"]):
            ax.plot(curves["lanczos_stop1_hvp"], max(curves["lanczos_stop1_err"], FLOOR), "o", ms=9, mfc="none",
                    mec="C0", mew=1.5, label=f"Lanczos stops: residual ≤ {target:g}·λ")
        if np.isfinite(curves["power_stop_hvp"]):
            ax.plot(curves["power_stop_hvp"], max(curves["power_stop_err"], FLOOR), "s", ms=9, mfc="none", mec="C1",
                    mew=1.5, label=f"PyHessian stops: relative change < {target:g}")
        ax.set(yscale="log", xlabel="Hessian-vector products", ylabel="relative error",
               title=r"(a) $\lambda_{\max}$")
        k = curves["k"]
        bx.plot(curves["lanczos_hvp"], _floor(curves["lanczos_errk"]), "C0.-", ms=3.5, lw=1.2, label="Lanczos (ours)")
        if np.isfinite(curves["lanczos_stopk_hvp"]):
            bx.plot(curves["lanczos_stopk_hvp"], max(curves["lanczos_stopk_err"], FLOOR), "o", ms=9, mfc="none",
                    mec="C0", mew=1.5, label=f"Lanczos stops: all {k} residuals ≤ {target:g}·λ")
        for i, d in enumerate(curves["deflation"]):
            bx.plot(d["n_hvp"], max(d["error"], FLOOR), "s", color="C1", ms=6,
                    label="power iteration + deflation,\nPyHessian's rule, tol as marked" if i == 0 else None)
            bx.annotate(f"tol={d['tol']:g}", (d["n_hvp"], max(d["error"], FLOOR)), xytext=(4, 4),
                        textcoords="offset points", fontsize=7, color="C1")
        bx.set(yscale="log", xlabel="Hessian-vector products", title=f"(b) top {k}: largest relative error")
        for a, where in ((ax, "upper right"), (bx, "best")):
            a.axhline(target, color="0.5", ls=":", lw=1)
            a.legend(fontsize=7, loc=where)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


LABELS = {"lam_max": r"$\lambda_{\max}$", "trace": r"Tr $H$ (Hutch++)", "frobenius": r"$\|H\|_F$"}


def sample_counts(stats: list[dict], samples: list[dict], full: dict, *, chosen: int, tolerance: float):
    """Each quantity against the number of samples: every draw, the whole-set value ± tolerance."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(10.2, 3.4))
        counts = np.array([s["n"] for s in stats])
        for j, (ax, q) in enumerate(zip(axes, ("lam_max", "trace", "frobenius"))):
            ref = full[q]
            ax.axhspan(ref * (1 - tolerance), ref * (1 + tolerance), color="0.9", lw=0,
                       label=f"whole set ±{100 * tolerance:g}%")
            ax.axhline(ref, color="k", lw=1, label=f"whole set ({full['n']} samples)")
            for s in stats:
                rows = [r for r in samples if r["n"] == s["n"]]
                jitter = np.exp(np.linspace(-0.12, 0.12, len(rows))) if len(rows) > 1 else np.ones(1)
                err = [r.get(f"{q}_stderr", 0.0) for r in rows] if q != "lam_max" else [0.0] * len(rows)
                _errorbar(ax, s["n"] * jitter, [r[q] for r in rows], np.array(err), color="C0", alpha=0.6,
                          label="one random draw" if s is stats[0] else None)
            ax.plot(counts, [s[q]["mean"] for s in stats], "C1-", lw=1.2, label="mean over draws")
            ax.axvline(chosen, color="C3", ls="--", lw=1, label=f"chosen: {chosen}")
            ax.set(xscale="log", xlabel="training samples in the Hessian", title=f"({'abc'[j]}) {LABELS[q]}")
            ax.set_xticks(counts, [str(n) for n in counts], fontsize=7, rotation=45 if len(counts) > 4 else 0)
            ax.minorticks_off()
        axes[0].legend(fontsize=6.5, loc="best")
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig

