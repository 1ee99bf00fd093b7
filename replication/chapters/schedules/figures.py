"""Figures of the "batch-size schedules" chapter, on the shared style of :mod:`replication.figures`.

Colours: CLR red and CBS blue (the paper's Fig. 4), the √-rule schedule green, the constant pair in
the next categorical colours; η/S (when it is the colour) on the book's viridis log scale.
"""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ... import figures as F
from ... import stats
from . import claims

COLORS = {"clr": F.CATEGORY[1], "cbs": F.CATEGORY[0], "sqrt": F.CATEGORY[2], "const-low": F.CATEGORY[3],
          "const-high": F.CATEGORY[4]}
LABELS = {"clr": "CLR (cyclic η)", "cbs": "CBS (cyclic S)", "sqrt": "√-rule (cyclic S, η/√S as CLR)",
          "const-low": "constant, small S and η", "const-high": "constant, large S and η"}


def _label(name: str, sched: dict) -> str:
    kind = sched["kind"]
    if kind == "const-low":
        return f"S = {sched['batch_size'][0]}, η = {sched['lr'][0]:g}"
    if kind == "const-high":
        return f"S = {sched['batch_size'][0]}, η = {sched['lr'][0]:g}"
    return LABELS[kind]


def _epoch_axis(ax) -> None:
    """Epochs are whole numbers: integer ticks only."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _geometric_band(ax, x, Y, *, color, label=None, level: float = claims.LEVEL, **kwargs) -> None:
    """Geometric mean over runs (rows of ``Y``) with the Student-t interval of the mean log
    (:func:`replication.stats.geometric_mean_ci`) when a column has three or more runs; with fewer, the
    single runs as thin lines.  For λ_max, which varies by factors and is judged on log ratios."""
    Y = np.asarray(Y, float)
    centre, lo, hi = (np.full(Y.shape[1], np.nan) for _ in range(3))
    for j in range(Y.shape[1]):
        v = Y[:, j][np.isfinite(Y[:, j]) & (Y[:, j] > 0)]
        if len(v) >= 3:
            centre[j], lo[j], hi[j] = stats.geometric_mean_ci(v, level)
        elif len(v):
            centre[j] = float(np.exp(np.mean(np.log(v))))
    ax.plot(x, centre, color=color, label=label, **kwargs)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(np.asarray(x)[ok], lo[ok], hi[ok], color=color, alpha=0.2, lw=0)
    if Y.shape[0] < 3:
        for row in Y:
            ax.plot(x, row, color=color, lw=0.6, alpha=0.5)


def _legend(fig, ax, ncol: int = 3) -> None:
    """One legend for the figure, above the panels (never over the curves)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=ncol, bbox_to_anchor=(0.5, 1.0), fontsize=F.SMALL_FONT)


def _accuracy_panels(axes, results, names, *, ylim_from: int = 1):
    g = claims.by_schedule(results)
    for ax, key, title in zip(axes, ("train_acc", "test_acc"), ("training accuracy (%)", "test accuracy (%)")):
        lows = []
        for name in names:
            rows = g[name]
            Y = claims.curves(rows, key)
            x = np.arange(1, Y.shape[1] + 1)
            F.mean_band(ax, x, Y, color=COLORS[results.schedules[name]["kind"]],
                        label=_label(name, results.schedules[name]), lw=1.4)
            lows.append(np.nanmin(np.nanmean(Y, 0)[ylim_from:]) if Y.shape[1] > ylim_from else np.nanmin(Y))
        ax.set_title(title)
        ax.set_xlabel("epoch")
        _epoch_axis(ax)
        lo = np.nanmin(lows)
        if np.isfinite(lo):
            ax.set_ylim(bottom=max(0.0, lo - 2))


def cyclic(results, params):
    """The paper's Fig. 4 (left): CLR vs CBS (and the √-rule) at ``fig4_step_size``; schedules below."""
    s = params.fig4_step_size
    names = [f"clr-{s}", f"cbs-{s}", f"sqrt-{s}"]
    fig, axes = F.column_figure(2, 2, row_height=2.4, gridspec_kw={"height_ratios": [1.4, 1]})
    _accuracy_panels(axes[0], results, names)
    _legend(fig, axes[0, 0])
    ax = axes[1, 0]
    for name in names:
        sc = results.schedules[name]
        x = np.arange(1, len(sc["batch_size"]) + 1)
        ax.step(x, sc["batch_size"], where="mid", color=COLORS[sc["kind"]], lw=1.3)
    ax.set_yscale("log")
    ax.set_ylabel("batch size $S$")
    ax.set_xlabel("epoch")
    ax2 = ax.twinx()
    sc = results.schedules[f"clr-{s}"]
    ax2.step(np.arange(1, len(sc["lr"]) + 1), sc["lr"], where="mid", color=COLORS["clr"], lw=1.0, ls="--")
    ax2.set_ylabel(r"$\eta$ of CLR (dashed)", color=COLORS["clr"])
    ax2.tick_params(axis="y", colors=COLORS["clr"])
    ax2.grid(False)
    ax.set_title("the schedules")
    ax = axes[1, 1]
    for name, marker, ls in zip(names, ("o", "x", "s"), ("-", "--", "-")):
        sc = results.schedules[name]
        x = np.arange(1, len(sc["ratio"]) + 1)
        ax.plot(x, sc["ratio"], color=COLORS[sc["kind"]], lw=1.0, ls=ls, marker=marker, ms=4,
                mfc="none" if marker == "s" else None)
    ax.set_yscale("log")
    ax.set_ylabel(r"$\eta/S$")
    ax.set_xlabel("epoch")
    ax.set_title(r"$\eta/S$ per epoch")
    for a in axes[1]:
        _epoch_axis(a)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def constant(results, params):
    """The paper's Fig. 4 (right): the constant pair with equal η/S."""
    fig, axes = F.column_figure(1, 2, row_height=2.8)
    _accuracy_panels(axes[0], results, ["const-low", "const-high"])
    _legend(fig, axes[0, 0], ncol=2)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def stages(results, params):
    """§4.5 / Fig. 13: λ_max at stage ends (short and long stages), and test accuracy."""
    short, long = claims.short_long(params)
    g = claims.by_schedule(results)
    fig, axes = F.column_figure(2, 2, row_height=2.6, sharex="col")
    for col, s in enumerate((short, long)):
        ax = axes[0, col]
        sc = results.schedules[f"clr-{s}"]
        kinds = dict((e, t) for e, t in sc["probes"])
        for e, t in kinds.items():
            if t == "high":
                ax.axvline(e, color="0.6", lw=6, alpha=0.25, zorder=0)
        for kind in ("clr", "cbs"):
            rows = g[f"{kind}-{s}"]
            epochs = sorted({q["epoch"] for r in rows for q in r["probes"]})
            Y = np.full((len(rows), len(epochs)), np.nan)
            for i, r in enumerate(rows):
                for q in r["probes"]:
                    Y[i, epochs.index(q["epoch"])] = q["lambda_max"]
            _geometric_band(ax, epochs, Y, color=COLORS[kind], label=LABELS[kind], lw=1.2, marker="o", ms=3)
        ax.set_ylim(bottom=0)
        ax.set_title(rf"$\lambda_{{\max}}$, stages of {s} epoch{'s' if s != 1 else ''}")
        if col == 0:
            ax.set_ylabel(r"$\lambda_{\max}$ at the stage end")
        ax = axes[1, col]
        for kind in ("clr", "cbs"):
            Y = claims.curves(g[f"{kind}-{s}"], "test_acc")
            F.mean_band(ax, np.arange(1, Y.shape[1] + 1), Y, color=COLORS[kind], label=LABELS[kind], lw=1.2)
        ax.set_title("test accuracy (%)")
        ax.set_xlabel("epoch")
        _epoch_axis(ax)
        Y = np.concatenate([claims.curves(g[f"{k}-{s}"], "test_acc") for k in ("clr", "cbs")])
        lo = np.nanmin(np.nanmean(Y, 0)[Y.shape[1] // 3:])
        if np.isfinite(lo):
            ax.set_ylim(bottom=lo - 3)
    _legend(fig, axes[0, 0], ncol=2)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def loss_curves(results, params):
    """The paper's appendix Fig. 10: the full loss curves behind Fig. 4 — training and test
    cross-entropy against epoch (log scale) for the cyclic schedules at ``fig4_step_size`` and the
    constant pair; geometric mean over seeds with the t interval of the mean log."""
    s = params.fig4_step_size
    g = claims.by_schedule(results)
    cyclic = [n for n in (f"clr-{s}", f"cbs-{s}", f"sqrt-{s}") if n in g]
    const = [n for n in results.schedules if results.schedules[n]["kind"] in ("const-low", "const-high") and n in g]
    fig, axes = F.column_figure(2, 2, row_height=2.3, sharex="col")
    for col, names in enumerate((cyclic, const)):
        for row, key in enumerate(("train_loss", "test_loss")):
            ax = axes[row, col]
            for name in names:
                rows = [r for r in g[name] if r.get(key)]
                if not rows:
                    continue
                n = max(len(r[key]) for r in rows)
                Y = np.array([[np.nan if v is None else v for v in r[key]] + [np.nan] * (n - len(r[key]))
                              for r in rows], float)
                x = np.arange(1, Y.shape[1] + 1)
                _geometric_band(ax, x, Y, color=COLORS[results.schedules[name]["kind"]],
                                label=_label(name, results.schedules[name]), lw=1.4)
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel(("training" if key == "train_loss" else "test") + " loss")
            _epoch_axis(ax)
        axes[0, col].set_title("cyclic schedules" if col == 0 else "constant pair, equal $\\eta/S$")
        axes[1, col].set_xlabel("epoch")
    handles, labels = [], []
    for ax in axes[0]:
        h, l = ax.get_legend_handles_labels()
        handles, labels = handles + h, labels + l
    fig.legend(handles, labels, loc="upper center", ncol=2, bbox_to_anchor=(0.5, 1.0), fontsize=F.SMALL_FONT)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig


# -- the numbers behind the figures ---------------------------------------------------------------------
def curve_rows(results) -> list[dict]:
    out = []
    for r in results.runs:
        for i, e in enumerate(r["epoch"]):
            out.append(dict(schedule=r["schedule"], seed=r["seed"], epoch=e, lr=r["lr"][i], batch_size=r["batch_size"][i],
                            ratio=r["ratio"][i], steps=r["steps_per_epoch"][i], train_loss=r["train_loss"][i],
                            test_loss=r["test_loss"][i] if i < len(r.get("test_loss") or []) else None,
                            train_acc=r["train_acc"][i], test_acc=r["test_acc"][i]))
    return out


def probe_rows(results) -> list[dict]:
    out = []
    for r in results.runs:
        kinds = dict((e, t) for e, t in results.schedules[r["schedule"]]["probes"])
        for q in r["probes"]:
            out.append(dict(schedule=r["schedule"], seed=r["seed"], epoch=q["epoch"], stage=kinds.get(q["epoch"], ""),
                            lambda_max=q["lambda_max"], residual=q["residual"], converged=q["converged"],
                            n_hvp=q["n_hvp"], warm_start=q["warm_start"]))
    return out


def run_rows(results) -> list[dict]:
    return [dict(schedule=r["schedule"], seed=r["seed"], final_test_acc=r["final_test_acc"],
                 final_train_acc=r["final_train_acc"], updates=r["updates"], train_seconds=r["train_seconds"],
                 trained_as=r["trained_as"], diverged=r["diverged"], key=r["key"]) for r in results.runs]
