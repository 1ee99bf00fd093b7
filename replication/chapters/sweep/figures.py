"""Figures of the sweep chapter, on the shared style of :mod:`replication.figures`.

Colour: the batch size S on the book's cividis log scale (each S its own colour), so that a
collapse of the curves against η/S, and their spread against η, can be seen at a glance.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import NullFormatter

from ... import figures as F
from . import claims


def _batch_norm(results):
    from matplotlib.colors import LogNorm

    sizes = sorted({r["batch_size"] for r in results.runs})
    return sizes, LogNorm(min(sizes), max(sizes) if max(sizes) > min(sizes) else min(sizes) * 2)


def _binned_line(ax, rows, x_key: str, measure: str, *, color, bins: int, geometric: bool = False) -> None:
    """Mean of ``measure`` in equal bins of log ``x_key`` (at least two runs per bin), as a line."""
    if len(rows) < 2:
        return
    x = np.log([r[x_key] for r in rows])
    y = np.array([claims.value(r, measure) for r in rows], float)
    if geometric:
        y = np.log(np.where(y > 0, y, np.nan))
    edges = np.linspace(x.min(), x.max() + 1e-12, bins + 1)
    xs, ys = [], []
    for b in range(bins):
        sel = (x >= edges[b]) & (x < edges[b + 1]) & np.isfinite(y)
        if sel.sum() >= 2:
            xs.append(math.exp(0.5 * (edges[b] + edges[b + 1])))
            ys.append(float(np.mean(y[sel])))
    ys = np.exp(ys) if geometric else np.asarray(ys)
    ax.plot(xs, ys, color=color, lw=1.6)


def partial_dependence(results, params, facts):
    """Accuracy (top) and λ_max (bottom, η·λ_max < 2 only) against η/S (left) and η (right), runs as
    dots, binned means per batch size as lines; the break as a dashed line."""
    rows = claims.included(results)
    width_rows = claims.stable(rows)
    sizes, norm = _batch_norm(results)
    fig, axes = F.column_figure(2, 2, row_height=2.7, sharey="row")
    for col, x_key in enumerate(("ratio", "lr")):
        for row, (measure, data) in enumerate((("acc", rows), ("lam", width_rows))):
            ax = axes[row, col]
            for S in sizes:
                sub = [r for r in data if r["batch_size"] == S]
                color = F.batch_color(S, norm)
                ax.scatter([r[x_key] for r in sub], [claims.value(r, measure) for r in sub], s=6, color=color,
                           alpha=0.45, lw=0, label=f"S = {S}" if row == 0 and col == 1 else None)
                _binned_line(ax, sub, x_key, measure, color=color, bins=max(3, params.ratio_bins // 2),
                             geometric=measure == "lam")
            ax.set_xscale("log")
            if measure == "lam":
                ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(r"$\eta/S$" if x_key == "ratio" else r"$\eta$")
        brk = facts["brk"]
        if col == 0 and brk.get("found"):
            axes[0, 0].axvline(brk["best"]["centre"], color="0.3", ls="--", lw=1)
    axes[0, 0].set_ylabel("validation accuracy (%)")
    axes[1, 0].set_ylabel(r"$\lambda_{\max}$ ($\eta\lambda_{\max}<2$)")
    axes[0, 1].legend(loc="lower left", fontsize=F.SMALL_FONT, ncol=1)
    fig.tight_layout()
    return fig


def group_correlations(results, params, facts):
    """Per-group Spearman ρ against η/S (fixed S, fixed η) and of the control (η at fixed η/S), for
    accuracy, λ_max and the generalization gap; and the epochs each run took to the target."""
    rows = claims.included(results)
    fig, axes = F.column_figure(2, 2, row_height=2.6)
    panels = (("acc", rows, "validation accuracy"), ("lam", claims.stable(rows), r"$\lambda_{\max}$"),
              ("gap", rows, "generalization gap"))
    for ax, (measure, data, title) in zip(axes.ravel(), panels):
        cases = [("fixed S", "ratio", "fixed S\nvs η/S"), ("fixed η", "ratio", "fixed η\nvs η/S"),
                 ("fixed η/S", "lr", "fixed η/S\nvs η")]
        for i, (grouping, setting, _) in enumerate(cases):
            rhos = [claims.correlations(g, measure, setting)[0] for g in claims.groups(data, grouping, params.ratio_bins)]
            rhos = [v for v in rhos if np.isfinite(v)]
            jitter = np.linspace(-0.15, 0.15, len(rhos)) if len(rhos) > 1 else np.zeros(len(rhos))
            ax.scatter(i + jitter, rhos, s=8, color=F.CATEGORY[i], alpha=0.6, lw=0)
            s = claims.mean_interval(rhos, params.bootstrap)
            if np.isfinite(s["mean"]):
                lo = s["lo"] if np.isfinite(s["lo"]) else s["mean"]
                hi = s["hi"] if np.isfinite(s["hi"]) else s["mean"]
                ax.errorbar([i + 0.3], [s["mean"]], yerr=[[s["mean"] - lo], [hi - s["mean"]]], fmt="D", ms=4,
                            color="k", capsize=2.5)
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_xticks(range(len(cases)), [c[2] for c in cases], fontsize=F.SMALL_FONT)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("Spearman ρ")
        ax.set_title(title)
    ax = axes[1, 1]
    sizes, norm = _batch_norm(results)
    for S in sizes:
        sub = [r for r in results.runs if r["batch_size"] == S and not r["diverged"]]
        reached = [r for r in sub if r["reached"]]
        capped = [r for r in sub if not r["reached"]]
        color = F.batch_color(S, norm)
        ax.scatter([r["ratio"] for r in reached], [r["epochs"] for r in reached], s=6, color=color, lw=0, alpha=0.6)
        ax.scatter([r["ratio"] for r in capped], [params.max_epochs + 0.5] * len(capped), s=12, marker="x",
                   color=color, lw=0.8)
    ax.axhline(params.max_epochs, color="0.4", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel(r"$\eta/S$")
    ax.set_ylabel("epochs to the target")
    ax.set_title("epochs to the target (×: capped)")
    fig.tight_layout()
    return fig


def run_rows(results) -> list[dict]:
    keys = ("batch_size", "seed", "draw", "lr", "ratio", "reached", "diverged", "stopped_epoch", "epochs", "steps",
            "sde_time", "train_loss", "train_acc", "val_acc", "test_acc", "gap", "lam_max", "lam_converged",
            "eta_lam", "trace", "trace_stderr", "key")
    return [{k: r.get(k) for k in keys} for r in results.runs]


def table_rows(facts) -> list[dict]:
    out = []
    for t in facts["table"]:
        out.append(dict(measure=t["measure"], grouping=t["grouping"], setting=t["setting"], groups=t["groups"],
                        runs=t["runs"], rho=t["rho"]["mean"], rho_lo=t["rho"]["lo"], rho_hi=t["rho"]["hi"],
                        tau=t["tau"]["mean"], tau_lo=t["tau"]["lo"], tau_hi=t["tau"]["hi"]))
    return out
