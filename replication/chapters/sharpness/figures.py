"""Figures of the chapter (on :mod:`replication.figures`: 660 px column, at most two panels per row,
η/S in viridis on a log scale, S in cividis, 95% t-intervals over seeds, single runs in grey)."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ... import figures as F
from .claims import finite

RUN_FIELDS = ("group", "eta", "S", "ratio", "seed", "beta", "epochs", "steps", "diverged", "train_loss", "train_acc",
              "val_acc", "lam_max", "lam_converged", "trace", "frobenius", "trace_C", "eta_lam", "n_samples")
MARKERS = {"main": "o", "v3": "s", "rescale": "^", "factorial": "D"}
GROUP_LABELS = {"main": "deep, fixed epochs", "v3": "shallow, fixed epochs", "rescale": "deep, rescaled",
                "factorial": "factorial, equal SDE time"}


def export_runs(name: str, rows: list[dict], meta: dict) -> str:
    """The per-run numbers behind a figure as ``data/sharpness/<name>.csv``; returns its path."""
    return F.export("sharpness", name, [{k: r.get(k) for k in RUN_FIELDS} for r in rows], meta=meta)


def export_probes(name: str, rows: list[dict], meta: dict) -> str:
    long = [dict(eta=r["eta"], S=r["S"], ratio=r["ratio"], seed=r["seed"], epochs=r.get("epochs"), epoch=e,
                 fraction=e / r["epochs"], lam_max=lam, eta_lam=r["eta"] * lam)
            for r in rows for e, lam in r.get("probes", [])]
    return F.export("sharpness", name, long, meta=meta)


def _group_handles(groups):
    import matplotlib.pyplot as plt

    return [plt.Line2D([], [], marker=MARKERS[g], ls="", color="0.75", mec="k", mew=0.4, label=GROUP_LABELS[g])
            for g in groups]


def _ratio_ticks(ax):
    """η/S axes: ticks at 1 and 3 × 10^k, labelled compactly (1e-4, 3e-4, ...)."""
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _log_ticks(ax, which="y"):
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _batch_norm(values):
    s = sorted(set(values))
    return LogNorm(s[0], s[-1]) if len(s) > 1 else LogNorm(s[0] / 2, s[0] * 2)


SPEC = (("frobenius", r"$\|H\|_F$", True, 1.0), ("lam_max", r"$\lambda_{\max}$", True, 1.0),
        ("val_acc", "validation accuracy (%)", False, 100.0), ("train_loss", "final training loss", True, 1.0))


def against_ratio(rows: list[dict], pairs: list[dict], *, lines_by_eta: bool = False):
    """Four panels against η/S: (a) ‖H‖_F, (b) λ_max, (c) validation accuracy, (d) final training loss.
    Coloured points: mean over seeds of one (η, S) with its 95% t-interval, coloured by S; grey: runs.
    ``lines_by_eta``: join the cells of equal η (thin lines), so the effect of S at fixed η shows."""
    fig, axes = F.column_figure(2, 2, row_height=3.1, layout="constrained")
    bnorm = _batch_norm([p["S"] for p in pairs])
    with F.style():
        for i, (ax, (q, label, log, scale)) in enumerate(zip(axes.flat, SPEC)):
            ok = finite(rows, q)
            ax.plot([r["ratio"] for r in ok], [scale * r[q] for r in ok], ".", color="0.65", ms=3, zorder=2)
            if lines_by_eta:
                for eta in sorted({p["eta"] for p in pairs}):
                    ps = sorted((p for p in pairs if p["eta"] == eta and np.isfinite(p[q])), key=lambda p: p["ratio"])
                    ax.plot([p["ratio"] for p in ps], [scale * p[q] for p in ps], "-", color="0.35", lw=0.8, zorder=2)
            for p in pairs:
                if not np.isfinite(p[q]):
                    continue
                ci = p[q + "_ci"] if np.isfinite(p[q + "_ci"]) else 0.0
                ax.errorbar(p["ratio"], scale * p[q], yerr=scale * ci, fmt="o", ms=5, capsize=2,
                            color=F.batch_color(p["S"], bnorm), mec="k", mew=0.4, zorder=3)
            ax.set(xscale="log", xlabel=r"$\eta/S$", ylabel=label, title=f"({'abcd'[i]}) {label.split(' (')[0]}")
            _ratio_ticks(ax)
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            elif ok:
                v = [scale * r[q] for r in ok]
                ax.set_ylim(max(0.0, min(v) - 5), min(100.0, max(v) + 5))
        import matplotlib.cm as cm

        sm = cm.ScalarMappable(norm=bnorm, cmap=F.BATCH_CMAP)
        sizes = sorted({p["S"] for p in pairs})
        cb = fig.colorbar(sm, ax=axes, label="batch size $S$", fraction=0.04, pad=0.02)
        cb.set_ticks(sizes if len(sizes) <= 8 else sizes[::max(1, len(sizes) // 6)])
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        cb.ax.yaxis.set_minor_formatter(NullFormatter())
    return fig


def probes(rows: list[dict]):
    """λ_max during training of the equal-time runs: (a) λ_max, (b) η λ_max against the fraction of
    the run's SDE time; one line per (η, S) cell (mean over seeds), coloured by η/S."""
    fig, axes = F.column_figure(1, 2, row_height=3.0, layout="constrained")
    ok = [r for r in rows if not r["diverged"] and r.get("probes")]
    if not ok:
        return fig
    norm = F.ratio_norm([r["ratio"] for r in ok])
    cells: dict = {}
    for r in ok:
        cells.setdefault((r["eta"], r["S"]), []).append(r)
    with F.style():
        ax, bx = axes[0]
        for (eta, S), rs in sorted(cells.items()):
            E = rs[0]["epochs"]
            x = [e / E for e, _ in rs[0]["probes"]]
            Y = [[lam for _, lam in r["probes"]] for r in rs if len(r["probes"]) == len(x)]
            col = F.ratio_color(eta / S, norm)
            F.mean_band(ax, x, Y, color=col, lw=1.2)
            F.mean_band(bx, x, [[eta * v for v in y] for y in Y], color=col, lw=1.2)
        bx.axhline(2.0, color="k", ls="--", lw=1)
        bx.text(0.02, 2.0, r" $\eta\lambda_{\max}=2$", va="bottom", fontsize=8)
        ax.set(yscale="log", xlabel="fraction of the SDE time $t$", ylabel=r"$\lambda_{\max}$",
               title=r"(a) $\lambda_{\max}$ during training")
        _log_ticks(ax)
        bx.set(xlabel="fraction of the SDE time $t$", ylabel=r"$\eta\,\lambda_{\max}$",
               title=r"(b) $\eta\,\lambda_{\max}$ during training")
        F.ratio_colorbar(fig, axes, norm)
    return fig


def rescaling(rows: list[dict], pairs: list[dict]):
    """Rescaled runs (β η₀, β S₀): (a) λ_max, (b) validation accuracy against β."""
    fig, axes = F.column_figure(1, 2, row_height=2.9, layout="constrained")
    with F.style():
        for i, (ax, q, label, scale, log) in enumerate(zip(axes[0], ("lam_max", "val_acc"),
                                                           (r"$\lambda_{\max}$", "validation accuracy (%)"),
                                                           (1, 100), (True, False))):
            ok = finite(rows, q)
            ax.plot([r["beta"] for r in ok], [scale * r[q] for r in ok], ".", color="0.6", ms=4, label="single runs")
            good = [p for p in pairs if np.isfinite(p[q])]
            ax.errorbar([p["beta"] for p in good], [scale * p[q] for p in good],
                        yerr=[scale * (p[q + "_ci"] if np.isfinite(p[q + "_ci"]) else 0) for p in good],
                        fmt="o-", color=F.CATEGORY[0], ms=5, capsize=2, label="mean, 95% CI")
            ax.set(xscale="log", xlabel=r"$\beta$", ylabel=label, title=f"({'ab'[i]}) {label}")
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            ax.set_xticks([p["beta"] for p in pairs])
            ax.set_xticklabels([f"{p['beta']:g}" for p in pairs])
            ax.minorticks_off()
        axes[0][0].legend(fontsize=7.5)
    return fig


def edge_of_stability(groups: dict[str, list[dict]]):
    """(a) λ_max at the end against η with 2/η; (b) η λ_max against η/S; colour: η/S."""
    fig, axes = F.column_figure(1, 2, row_height=3.0, layout="constrained")
    ax, bx = axes[0]
    pts = [r for rows in groups.values() for r in finite(rows, "lam_max")]
    if not pts:
        return fig
    norm = F.ratio_norm([r["ratio"] for r in pts])
    with F.style():
        etas = [r["eta"] for r in pts]
        grid = np.geomspace(min(etas) / 1.3, max(etas) * 1.3, 50)
        ax.plot(grid, 2 / grid, "k--", lw=1, label=r"$2/\eta$")
        for g, rows in groups.items():
            ok = finite(rows, "lam_max")
            c = [F.ratio_color(r["ratio"], norm) for r in ok]
            ax.scatter([r["eta"] for r in ok], [r["lam_max"] for r in ok], c=c, marker=MARKERS[g], s=14,
                       edgecolors="k", linewidths=0.3, label=GROUP_LABELS[g])
            bx.scatter([r["ratio"] for r in ok], [r["eta_lam"] for r in ok], c=c, marker=MARKERS[g], s=14,
                       edgecolors="k", linewidths=0.3)
        bx.axhline(2.0, color="k", ls="--", lw=1)
        ax.set(xscale="log", yscale="log", xlabel=r"$\eta$", ylabel=r"$\lambda_{\max}$ at the end",
               title=r"(a) $\lambda_{\max}$ against $\eta$")
        _log_ticks(ax, "x")
        _log_ticks(ax, "y")
        ax.legend(handles=[ax.get_legend_handles_labels()[0][0]] + _group_handles(groups), fontsize=7,
                  loc="lower left")
        bx.set(xscale="log", yscale="log", xlabel=r"$\eta/S$", ylabel=r"$\eta\,\lambda_{\max}$",
               title=r"(b) $\eta\,\lambda_{\max}$ against $\eta/S$")
        _log_ticks(bx, "y")
        _ratio_ticks(bx)
        F.ratio_colorbar(fig, axes, norm)
    return fig


def c_versus_h(groups: dict[str, list[dict]], *, factor: float = 2.0):
    """Tr C against Tr H at the end of every run, with C = H and a band of ×factor; colour: η/S."""
    fig, axes = F.column_figure(1, 1, row_height=3.6, layout="constrained")
    ax = axes[0][0]
    pts = [r for rows in groups.values() for r in finite(rows, "trace_C") if r["trace"] > 0 and r["trace_C"] > 0]
    if not pts:
        return fig
    norm = F.ratio_norm([r["ratio"] for r in pts])
    with F.style():
        lo = min(min(r["trace"] for r in pts), min(r["trace_C"] for r in pts)) / 1.5
        hi = max(max(r["trace"] for r in pts), max(r["trace_C"] for r in pts)) * 1.5
        grid = np.geomspace(lo, hi, 20)
        ax.fill_between(grid, grid / factor, grid * factor, color="0.92", lw=0, label=f"within ×{factor:g}")
        ax.plot(grid, grid, "k-", lw=1, label=r"Tr $C$ = Tr $H$")
        for g, rows in groups.items():
            ok = [r for r in finite(rows, "trace_C") if r["trace"] > 0 and r["trace_C"] > 0]
            ax.scatter([r["trace"] for r in ok], [r["trace_C"] for r in ok],
                       c=[F.ratio_color(r["ratio"], norm) for r in ok], marker=MARKERS[g], s=16, edgecolors="k",
                       linewidths=0.3, label=GROUP_LABELS[g])
        ax.set(xscale="log", yscale="log", xlabel=r"Tr $H$", ylabel=r"Tr $C$", xlim=(lo, hi), ylim=(lo, hi))
        _log_ticks(ax, "x")
        _log_ticks(ax, "y")
        ax.legend(handles=ax.get_legend_handles_labels()[0][:2] + _group_handles(groups), fontsize=7,
                  loc="upper left")
        F.ratio_colorbar(fig, axes, norm)
    return fig
