"""Figures of the chapter "η/S, the width of the minimum and generalization" (style and footer from
:mod:`replication.plots`).  Error bars: 95% CI over seeds; small grey dots: single runs."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .plots import STYLE, footer  # noqa: F401  (footer re-exported for the notebook)

CMAP = plt.get_cmap("viridis")
MARKERS = {"main": "o", "v3": "s", "rescale": "^"}
GROUP_LABELS = {"main": "deep MLP", "v3": "shallow MLP", "rescale": "rescaled (β η₀, β S₀)"}


def data_label(provenance: dict, detail: str = "") -> str:
    """The data part of a footer: dataset, fingerprint and canonical flag, and ``detail``."""
    d = provenance.get("data", {})
    flag = "canonical" if d.get("canonical", False) else "NOT canonical"
    text = f"{d.get('name', '?')} data {d.get('fingerprint', '?')[:8]} ({flag})"
    return text + (f", {detail}" if detail else "")


def _log_ticks(ax, which="y"):
    """Log axis with ticks at 1, 2, 5 × 10^k, labelled as plain numbers."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _acc_limits(ax, values):
    """Accuracy axes span the points (not the error bars, which can pass 0 or 100 with few seeds)."""
    v = [x for x in values if np.isfinite(x)]
    if v:
        ax.set_ylim(max(0.0, min(v) - 5.0), min(100.0, max(v) + 5.0))


def _group_handles(groups):
    return [plt.Line2D([], [], marker=MARKERS[g], ls="", color="0.75", mec="k", mew=0.4, label=GROUP_LABELS[g])
            for g in groups]


def _ok(rows, q):
    return [r for r in rows if not r["diverged"] and r.get(q) is not None and np.isfinite(r[q])]


def _by_S(pairs, ax, q, *, scale=1.0, norm=None):
    """Per-pair means ± 95% CI against η/S, coloured by the batch size."""
    for p in pairs:
        if not np.isfinite(p[q]):
            continue
        ci = p[q + "_ci"] if np.isfinite(p[q + "_ci"]) else 0.0
        ax.errorbar(p["ratio"], scale * p[q], yerr=scale * ci, fmt="o", ms=5, capsize=2.5,
                    color=CMAP(norm(p["S"]) * 0.9), mec="k", mew=0.4, zorder=3)


def _runs(rows, ax, q, *, scale=1.0):
    ok = _ok(rows, q)
    ax.plot([r["ratio"] for r in ok], [scale * r[q] for r in ok], ".", color="0.6", ms=3, zorder=2)


def figure1(rows: list[dict], pairs: list[dict], *, title: str):
    """The paper's Fig. 1 and more, against η/S: (a) ‖H‖_F, (b) λ_max, (c) Tr H, (d) validation
    accuracy, (e) final training loss; (f) validation accuracy against ‖H‖_F per run."""
    sizes = sorted({p["S"] for p in pairs})
    norm = LogNorm(min(sizes), max(sizes) * 1.0001) if len(sizes) > 1 else (lambda s: 0.5)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(3, 2, figsize=(7.6, 9.6))
        spec = [("frobenius", r"$\|H\|_F$ (log)", True, 1.0), ("lam_max", r"$\lambda_{\max}$ (log)", True, 1.0),
                ("trace", r"Tr $H$ (log)", True, 1.0), ("val_acc", "validation accuracy (%)", False, 100.0),
                ("train_loss", "final training loss (log)", True, 1.0)]
        for i, (ax, (q, label, log, scale)) in enumerate(zip(axes.flat, spec)):
            _runs(rows, ax, q, scale=scale)
            _by_S(pairs, ax, q, scale=scale, norm=norm)
            ax.set(xscale="log", xlabel=r"$\eta/S$", ylabel=label, title=f"({'abcde'[i]}) {label.split(' (')[0]}")
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            if q == "val_acc":
                _acc_limits(ax, [100 * r["val_acc"] for r in _ok(rows, "val_acc")])
        ax = axes.flat[5]
        ok = _ok(rows, "frobenius")
        sc = ax.scatter([r["frobenius"] for r in ok], [100 * r["val_acc"] for r in ok], c=[r["ratio"] for r in ok],
                        cmap="plasma", norm=LogNorm(), s=14, edgecolors="k", linewidths=0.3)
        ax.set(xscale="log", xlabel=r"$\|H\|_F$", ylabel="validation accuracy (%)", title="(f) accuracy against width")
        _log_ticks(ax, "x")
        cb = fig.colorbar(sc, ax=ax, pad=0.02)
        cb.set_label(r"$\eta/S$")
        if len(sizes) > 1:
            handles = [plt.Line2D([], [], marker="o", ls="", color=CMAP(norm(S) * 0.9), mec="k", mew=0.4,
                                  label=f"S={S}") for S in sizes]
            handles.append(plt.Line2D([], [], marker=".", ls="", color="0.6", label="single runs"))
            axes.flat[3].legend(handles=handles, fontsize=6.5, ncol=2, loc="lower right")
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def edge_of_stability(groups: dict[str, list[dict]]):
    """(a) λ_max against η, with the stability limit 2/η of gradient descent; (b) η·λ_max against η/S."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.2, 3.7))
        etas = [r["eta"] for rows in groups.values() for r in _ok(rows, "lam_max")]
        ratios = [r["ratio"] for rows in groups.values() for r in _ok(rows, "lam_max")]
        if not etas:
            return fig
        grid = np.geomspace(min(etas) / 1.3, max(etas) * 1.3, 50)
        ax.plot(grid, 2 / grid, "k--", lw=1, label=r"$2/\eta$ (GD stability limit)")
        norm = LogNorm(min(ratios), max(ratios) * 1.0001) if len(set(ratios)) > 1 else None
        for g, rows in groups.items():
            ok = _ok(rows, "lam_max")
            c = [r["ratio"] for r in ok]
            ax.scatter([r["eta"] for r in ok], [r["lam_max"] for r in ok], c=c, cmap="plasma", norm=norm,
                       marker=MARKERS[g], s=16, edgecolors="k", linewidths=0.3, label=GROUP_LABELS[g])
            sc = bx.scatter(c, [r["eta_lam"] for r in ok], c=c, cmap="plasma", norm=norm, marker=MARKERS[g], s=16,
                            edgecolors="k", linewidths=0.3, label=GROUP_LABELS[g])
        ax.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$", ylabel=r"$\lambda_{\max}$ at the end",
               title=r"(a) $\lambda_{\max}$ against $\eta$")
        _log_ticks(ax, "x")
        _log_ticks(ax, "y")
        ax.legend(handles=[ax.get_legend_handles_labels()[0][0]] + _group_handles(groups), fontsize=7)
        bx.axhline(2.0, color="k", ls="--", lw=1, label=r"$\eta\lambda_{\max}=2$")
        bx.set(xscale="log", xlabel=r"$\eta/S$", ylabel=r"$\eta\,\lambda_{\max}$", title=r"(b) $\eta\,\lambda_{\max}$ against $\eta/S$")
        bx.set_ylim(0, max(2.2, 1.1 * max(r["eta_lam"] for rows in groups.values() for r in _ok(rows, "lam_max"))))
        cb = fig.colorbar(sc, ax=bx, pad=0.02)
        cb.set_label(r"$\eta/S$ (colour, both panels)")
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def rescaling(rows: list[dict], pairs: list[dict]):
    """Kaur et al.'s test at one η/S: (a) λ_max, (b) ‖H‖_F, (c) validation accuracy against β."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(10.2, 3.4))
        for i, (ax, q, label, scale, log) in enumerate(zip(
                axes, ("lam_max", "frobenius", "val_acc"),
                (r"$\lambda_{\max}$", r"$\|H\|_F$", "validation accuracy (%)"), (1, 1, 100), (True, True, False))):
            ok = _ok(rows, q)
            ax.plot([r["beta"] for r in ok], [scale * r[q] for r in ok], ".", color="0.6", ms=4, label="single runs")
            good = [p for p in pairs if np.isfinite(p[q])]
            ax.errorbar([p["beta"] for p in good], [scale * p[q] for p in good],
                        yerr=[scale * (p[q + "_ci"] if np.isfinite(p[q + "_ci"]) else 0) for p in good],
                        fmt="o-", color="C0", ms=5, capsize=2.5, label="mean, 95% CI")
            ax.set(xscale="log", xlabel=r"$\beta$  ($\eta=\beta\eta_0$, $S=\beta S_0$)", ylabel=label,
                   title=f"({'abc'[i]}) {label}")
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            else:
                _acc_limits(ax, [scale * r[q] for r in ok])
            ax.set_xticks([p["beta"] for p in pairs])
            ax.set_xticklabels([f"{p['beta']:g}" for p in pairs])
            ax.minorticks_off()
        axes[0].legend(fontsize=7)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def c_versus_h(groups: dict[str, list[dict]], *, factor: float = 2.0):
    """Tr C against Tr H at the end of every run, with C = H and a band of ×factor."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.6, 4.0))
        pts = [r for rows in groups.values() for r in _ok(rows, "trace_C") if r["trace"] > 0 and r["trace_C"] > 0]
        if not pts:
            return fig
        lo = min(min(r["trace"] for r in pts), min(r["trace_C"] for r in pts)) / 1.5
        hi = max(max(r["trace"] for r in pts), max(r["trace_C"] for r in pts)) * 1.5
        grid = np.geomspace(lo, hi, 20)
        ax.fill_between(grid, grid / factor, grid * factor, color="0.92", lw=0, label=f"within ×{factor:g}")
        ax.plot(grid, grid, "k-", lw=1, label=r"Tr $C$ = Tr $H$")
        ratios = [r["ratio"] for r in pts]
        norm = LogNorm(min(ratios), max(ratios) * 1.0001) if len(set(ratios)) > 1 else None
        for g, rows in groups.items():
            ok = [r for r in _ok(rows, "trace_C") if r["trace"] > 0 and r["trace_C"] > 0]
            sc = ax.scatter([r["trace"] for r in ok], [r["trace_C"] for r in ok], c=[r["ratio"] for r in ok],
                            cmap="plasma", norm=norm, marker=MARKERS[g], s=18, edgecolors="k", linewidths=0.3,
                            label=GROUP_LABELS[g])
        ax.set(xscale="log", yscale="log", xlabel=r"Tr $H$", ylabel=r"Tr $C$ (per-example gradient covariance)",
               xlim=(lo, hi), ylim=(lo, hi))
        _log_ticks(ax, "x")
        _log_ticks(ax, "y")
        band, line = ax.get_legend_handles_labels()[0][:2]
        ax.legend(handles=[band, line] + _group_handles(groups), fontsize=7, loc="upper left")
        cb = fig.colorbar(sc, ax=ax, pad=0.02)
        cb.set_label(r"$\eta/S$")
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
