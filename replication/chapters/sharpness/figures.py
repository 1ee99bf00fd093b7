"""Figures of the chapter (on :mod:`replication.figures`: 660 px column, at most two panels per row,
η/S in viridis on a log scale, S in cividis, single runs in grey).  Over the seeds of one setting:
on a linear axis the mean with its 95% t-interval; on a log axis (‖H‖_F, λ_max, the training loss)
the geometric mean with the t-interval of the logs mapped back (:func:`stats.geometric_mean_ci`),
which stays positive with three seeds where the arithmetic one runs below zero."""
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


def power_label(v: float) -> str:
    """A tick label at 1 or 3 × 10^k in mathtext: ``$10^{-4}$``, ``$3{\\cdot}10^{-4}$``."""
    if not v > 0:
        return ""
    k = int(np.floor(np.log10(v) + 1e-9))
    m = v / 10.0 ** k
    lead = "" if abs(m - 1) < 1e-6 else f"{m:.0f}{{\\cdot}}"
    return f"${lead}10^{{{k}}}$"


def _ratio_ticks(ax):
    """η/S axes: ticks at 1 and 3 × 10^k (only 10^k over more than 2.5 decades), labelled as powers of
    ten (3·10⁻⁴, not 3e-4); call after plotting."""
    lo, hi = ax.get_xlim()
    wide = lo > 0 and hi / lo > 10 ** 2.5
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,) if wide else (1.0, 3.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: power_label(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _log_ticks(ax, which="y"):
    """Plain labels on a log axis (0.5, 1, 2, 5, ...), thinned to 1, 3 × 10^k or 10^k on wide ranges
    (call after plotting: it reads the axis range)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    subs = (tuple(range(1, 10)) if decades < 0.5 else (1.0, 2.0, 5.0) if decades <= 2.2
            else (1.0, 3.0) if decades <= 3.5 else (1.0,))
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _batch_norm(values):
    s = sorted(set(values))
    return LogNorm(s[0], s[-1]) if len(s) > 1 else LogNorm(s[0] / 2, s[0] * 2)


SPEC = (("frobenius", r"$\|H\|_F$", True, 1.0), ("lam_max", r"$\lambda_{\max}$", True, 1.0),
        ("val_acc", "validation accuracy (%)", False, 100.0), ("train_loss", "final training loss", True, 1.0))


def centre_and_bars(p: dict, q: str, log: bool, scale: float = 1.0) -> tuple[float, float, float]:
    """``(centre, below, above)`` of one setting's marker: on a log axis the geometric mean and its
    interval (as distances below and above it), on a linear one the mean ± the t half-width; a
    missing interval (one seed) gives zero-length bars."""
    if log:
        c, lo, hi = p.get(q + "_gm", np.nan), p.get(q + "_glo", np.nan), p.get(q + "_ghi", np.nan)
        below, above = (c - lo, hi - c) if np.isfinite(lo) and np.isfinite(hi) else (0.0, 0.0)
        if not np.isfinite(c):       # a seed at or below zero: the plain mean, without an interval
            c = p[q] if p[q] > 0 else np.nan
    else:
        c, half = p[q], p[q + "_ci"]
        below = above = half if np.isfinite(half) else 0.0
    return scale * c, scale * below, scale * above


def against_ratio(rows: list[dict], pairs: list[dict], *, lines_by_eta: bool = False):
    """Four panels against η/S: (a) ‖H‖_F, (b) λ_max, (c) validation accuracy, (d) final training loss.
    Coloured points: one (η, S) over its seeds, coloured by S (log panels: geometric mean and interval,
    accuracy: mean and 95% t-interval); grey: single runs.
    ``lines_by_eta``: join the cells of equal η (thin lines), so the effect of S at fixed η shows."""
    fig, axes = F.column_figure(2, 2, row_height=3.1, layout="constrained")
    bnorm = _batch_norm([p["S"] for p in pairs])
    with F.style():
        for i, (ax, (q, label, log, scale)) in enumerate(zip(axes.flat, SPEC)):
            ok = finite(rows, q)
            ax.plot([r["ratio"] for r in ok], [scale * r[q] for r in ok], ".", color="0.65", ms=3, zorder=2)
            marks = [(p, *centre_and_bars(p, q, log, scale)) for p in pairs]
            marks = [m for m in marks if np.isfinite(m[1])]
            if lines_by_eta:
                for eta in sorted({p["eta"] for p in pairs}):
                    ms = sorted((m for m in marks if m[0]["eta"] == eta), key=lambda m: m[0]["ratio"])
                    ax.plot([m[0]["ratio"] for m in ms], [m[1] for m in ms], "-", color="0.35", lw=0.8, zorder=2)
            for p, c, below, above in marks:
                ax.errorbar(p["ratio"], c, yerr=[[below], [above]], fmt="o", ms=5, capsize=2,
                            color=F.batch_color(p["S"], bnorm), mec="k", mew=0.4, zorder=3)
            ax.set(xscale="log", xlabel=r"$\eta/S$", ylabel=label, title=f"({'abcd'[i]}) {label.split(' (')[0]}")
            _ratio_ticks(ax)
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            elif ok:          # accuracy: room for the runs and the intervals, never beyond 0-100 %
                v = [scale * r[q] for r in ok] + [c - b for _, c, b, _ in marks] + [c + a for _, c, _, a in marks]
                ax.set_ylim(max(0.0, min(v) - 2), min(100.0, max(v) + 2))
        import matplotlib.cm as cm

        sm = cm.ScalarMappable(norm=bnorm, cmap=F.BATCH_CMAP)
        sizes = sorted({p["S"] for p in pairs})
        cb = fig.colorbar(sm, ax=axes, label="batch size $S$", fraction=0.04, pad=0.02)
        cb.set_ticks(sizes if len(sizes) <= 8 else sizes[::max(1, len(sizes) // 6)])
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        cb.ax.yaxis.set_minor_formatter(NullFormatter())
    return fig


def geometric_band(ax, x, runs, *, color, level: float = 0.95, **kwargs) -> None:
    """The geometric mean over runs (rows of ``runs``, aligned with ``x``) and, with >= 3 runs, the
    t-interval of the logs mapped back (:func:`stats.geometric_mean_ci`) as a band; with 2 runs the
    single runs as thin lines instead."""
    from ... import stats

    Y = np.asarray(runs, float)
    if Y.ndim == 1:
        Y = Y[None, :]
    cols = [Y[:, j][np.isfinite(Y[:, j]) & (Y[:, j] > 0)] for j in range(Y.shape[1])]
    ci = [stats.geometric_mean_ci(c, level) if len(c) >= 2 else ((c[0], np.nan, np.nan) if len(c) else (np.nan,) * 3)
          for c in cols]
    centre, lo, hi = (np.array([c[i] for c in ci], float) for i in range(3))
    ax.plot(x, centre, color=color, **kwargs)
    if Y.shape[0] >= 3:
        ok = np.array([len(c) >= 3 for c in cols])
        ax.fill_between(np.asarray(x, float)[ok], lo[ok], hi[ok], color=color, alpha=0.12, lw=0)
    elif Y.shape[0] == 2:
        for row in Y:
            ax.plot(x, row, color=color, lw=0.6, alpha=0.5)


def probes(rows: list[dict]):
    """λ_max during training of the equal-time runs: (a) λ_max, (b) η λ_max against the fraction of
    the run's SDE time; one line per (η, S) cell (geometric mean over seeds with the 95% interval of
    the logs as a band), coloured by η/S."""
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
            geometric_band(ax, x, Y, color=col, lw=1.2)
            geometric_band(bx, x, [[eta * v for v in y] for y in Y], color=col, lw=1.2)
        bx.axhline(2.0, color="k", ls="--", lw=1, zorder=1)
        bx.annotate(r"$\eta\lambda_{\max}=2$", xy=(1.0, 2.0), xycoords=("axes fraction", "data"),
                    xytext=(-2, -3), textcoords="offset points", ha="right", va="top", fontsize=F.SMALL_FONT,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8), zorder=5)
        ax.set(yscale="log", xlabel="fraction of the SDE time $t$", ylabel=r"$\lambda_{\max}$",
               title=r"(a) $\lambda_{\max}$ during training")
        _log_ticks(ax)
        bx.set(yscale="log", xlabel="fraction of the SDE time $t$", ylabel=r"$\eta\,\lambda_{\max}$",
               title=r"(b) $\eta\,\lambda_{\max}$ during training")
        _log_ticks(bx)
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
            marks = [(p["beta"], *centre_and_bars(p, q, log, scale)) for p in pairs]
            marks = [m for m in marks if np.isfinite(m[1])]
            ax.errorbar([m[0] for m in marks], [m[1] for m in marks], yerr=[[m[2] for m in marks], [m[3] for m in marks]],
                        fmt="o-", color=F.CATEGORY[0], ms=5, capsize=2,
                        label="geometric mean, 95% interval" if log else "mean, 95% t-interval")
            ax.set(xscale="log", xlabel=r"$\beta$", ylabel=label, title=f"({'ab'[i]}) {label}")
            if log:
                ax.set_yscale("log")
                _log_ticks(ax)
            if not log:       # accuracy: an interval past 100 % or below 0 is cut at the possible range
                lo, hi = ax.get_ylim()
                ax.set_ylim(max(lo, 0.0), min(hi, 100.0))
            ax.set_xticks([p["beta"] for p in pairs])
            ax.set_xticklabels([f"{p['beta']:g}" for p in pairs])
            ax.minorticks_off()
        axes[0][0].legend(fontsize=F.SMALL_FONT)
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
        ax.legend(handles=[ax.get_legend_handles_labels()[0][0]] + _group_handles(groups), fontsize=F.SMALL_FONT,
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
        ax.legend(handles=ax.get_legend_handles_labels()[0][:2] + _group_handles(groups), fontsize=F.SMALL_FONT,
                  loc="upper left")
        F.ratio_colorbar(fig, axes, norm)
    return fig


# -- the appendix's Fig. 1: a ResNet on CIFAR-10 (gpu and paper profiles) --------------------------------
def export_cifar(results, meta: dict) -> str:
    """The ResNet runs behind their figure as ``data/sharpness/fig-cifar.csv``, each row stamped with those
    runs' own code version and device (not design A's); returns its path."""
    return export_runs("fig-cifar", results.cifar, {**meta, "provenance": results.cifar_provenance})
