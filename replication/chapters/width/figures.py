"""Figures and tables of the chapter "Measuring the width of a minimum", on the shared style of
:mod:`replication.figures` (660 px column, at most two panels per row, provenance in the caption,
the numbers behind every figure exported as CSV)."""
from __future__ import annotations

import numpy as np

from ... import figures
from .claims import QUANTITIES

FLOOR = 1e-9  # relative errors below this are drawn at it (log axis)


LABELS = {"lam_max": r"$\lambda_{\max}$", "trace": r"Tr $H$ (Hutch++)", "frobenius": r"$\|H\|_F$"}


def _floor(values):
    v = np.asarray(values, float)
    return np.where(np.isfinite(v), np.maximum(v, FLOOR), np.nan)


def convergence(curves: dict, *, target: float):
    """(a) relative error of λ_max against HVPs; (b) largest relative error over the top k."""
    blue, red = figures.CATEGORY[0], figures.CATEGORY[1]
    fig, axes = figures.column_figure(1, 2, row_height=3.4, sharey=True)
    ax, bx = axes[0]
    with figures.style():
        ax.plot(curves["lanczos_hvp"], _floor(curves["lanczos_err1"]), ".-", color=blue, ms=3.5, lw=1.2,
                label="Lanczos (ours)")
        ax.plot(curves["power_hvp"], _floor(curves["power_err1"]), ".-", color=red, ms=3.5, lw=1.2,
                label="power iteration")
        if np.isfinite(curves["lanczos_stop1_hvp"]):
            ax.plot(curves["lanczos_stop1_hvp"], max(curves["lanczos_stop1_err"], FLOOR), "o", ms=9, mfc="none",
                    mec=blue, mew=1.5, label="Lanczos's rule stops")
        if np.isfinite(curves["power_stop_hvp"]):
            ax.plot(curves["power_stop_hvp"], max(curves["power_stop_err"], FLOOR), "s", ms=9, mfc="none",
                    mec=red, mew=1.5, label="PyHessian's rule stops")
        ax.set(yscale="log", xlabel="Hessian-vector products", ylabel="relative error",
               title=r"(a) $\lambda_{\max}$")
        k = curves["k"]
        bx.plot(curves["lanczos_hvp"], _floor(curves["lanczos_errk"]), ".-", color=blue, ms=3.5, lw=1.2,
                label="Lanczos (ours)")
        if np.isfinite(curves["lanczos_stopk_hvp"]):
            bx.plot(curves["lanczos_stopk_hvp"], max(curves["lanczos_stopk_err"], FLOOR), "o", ms=9, mfc="none",
                    mec=blue, mew=1.5, label="Lanczos's rule stops")
        for i, d in enumerate(curves["deflation"]):
            bx.plot(d["n_hvp"], max(d["error"], FLOOR), "s", color=red, ms=6,
                    label="power it. + deflation" if i == 0 else None)
            last = d["n_hvp"] == max(x["n_hvp"] for x in curves["deflation"])
            bx.annotate(f"tol {d['tol']:g}", (d["n_hvp"], max(d["error"], FLOOR)), xytext=(-3 if last else 3, 3),
                        textcoords="offset points", fontsize=figures.SMALL_FONT, color=red, ha="right" if last else "left")
        bx.set(yscale="log", xlabel="Hessian-vector products", title=f"(b) top {k}: largest relative error")
        for a, where in ((ax, "upper right"), (bx, "lower left")):
            a.axhline(target, color="0.5", ls=":", lw=1)
            a.legend(loc=where)
        fig.tight_layout()
    return fig


def convergence_rows(curves: dict) -> list[dict]:
    """The numbers behind the convergence figure: one row per iterate of each method."""
    rows = [dict(method="lanczos", n_hvp=n, error_lam_max=e1, error_top_k=ek)
            for n, e1, ek in zip(curves["lanczos_hvp"], curves["lanczos_err1"], curves["lanczos_errk"])]
    rows += [dict(method="power", n_hvp=n, error_lam_max=e1, error_top_k=None)
             for n, e1 in zip(curves["power_hvp"], curves["power_err1"])]
    rows += [dict(method=f"power+deflation tol={d['tol']:g}", n_hvp=d["n_hvp"], error_lam_max=None,
                  error_top_k=d["error"]) for d in curves["deflation"]]
    return rows


def sample_counts(stats: list[dict], samples: list[dict], full: dict, *, chosen: int, tolerance: float):
    """Each quantity against the number of samples (one panel each, two per row, the legend in the
    fourth): every draw, the mean over draws, the whole-set value ± tolerance, the chosen count."""
    fig, axes = figures.column_figure(2, 2, row_height=2.9)
    counts = np.array([s["n"] for s in stats])
    blue, orange, red = figures.CATEGORY[0], figures.CATEGORY[4], figures.CATEGORY[1]
    with figures.style():
        for j, (ax, q) in enumerate(zip(axes.flat, QUANTITIES)):
            ref = full[q]
            ax.axhspan(ref * (1 - tolerance), ref * (1 + tolerance), color="0.88", lw=0,
                       label="whole set ± tolerance")
            ax.axhline(ref, color="k", lw=1, label="whole training set")
            for s in stats:
                rows = [r for r in samples if r["n"] == s["n"]]
                jitter = np.exp(np.linspace(-0.12, 0.12, len(rows))) if len(rows) > 1 else np.ones(1)
                err = [r.get(f"{q}_stderr", 0.0) for r in rows] if q != "lam_max" else [0.0] * len(rows)
                figures.errorbar(ax, s["n"] * jitter, [r[q] for r in rows], np.array(err), color=blue, alpha=0.6,
                                 ms=3.5, label="one random draw" if s is stats[0] else None)
            ax.plot(counts, [s[q]["mean"] for s in stats], "-", color=orange, lw=1.2, label="mean over draws")
            ax.axvline(chosen, color=red, ls="--", lw=1, label="count chosen by the rule")
            ax.set(xscale="log", title=f"({'abc'[j]}) {LABELS[q]}")
            ax.set_xticks(counts, [str(n) for n in counts], rotation=45 if len(counts) > 4 else 0)
            ax.minorticks_off()
            if j >= 1:
                ax.set_xlabel("training samples in the Hessian")
        legend_ax = axes.flat[3]
        handles, labels = axes.flat[0].get_legend_handles_labels()
        legend_ax.axis("off")
        legend_ax.legend(handles, labels, loc="center", fontsize=figures.SMALL_FONT)
        fig.tight_layout()
    return fig


def sample_rows(samples: list[dict], full: dict) -> list[dict]:
    """The numbers behind the sample-count figure: one row per (count, draw), then the whole set."""
    keys = ("n", "draw", "lam_max", "trace", "trace_stderr", "frobenius", "frobenius_stderr", "loss")
    return [{k: r.get(k) for k in keys} for r in samples] + [{**{k: full.get(k) for k in keys}, "draw": "all"}]

