"""Figures of the chapter "SGD as a stochastic differential equation", on the shared style of
:mod:`replication.figures` (660 px column, at most two panels per row, provenance in the caption
text), and the rows behind each figure for :func:`replication.figures.export`."""
from __future__ import annotations

import numpy as np

from ... import figures, sde
from .claims import equilibrated, mixed

BLUE, RED, GREEN, PURPLE, ORANGE = figures.CATEGORY[:5]


def _plain_log_ticks(*axes) -> None:
    """No labels on the minor ticks of log axes (they overlap on short ranges)."""
    from matplotlib.ticker import NullFormatter

    for ax in axes:
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(NullFormatter())
        if ax.get_yscale() == "log":
            ax.yaxis.set_minor_formatter(NullFormatter())


def _readable_log_ticks(ax, xticks) -> None:
    """A log-log panel spanning about a decade: x ticks at the ratios simulated, y ticks at 1, 2, 5 × 10^k,
    all labelled as plain numbers (a lone 10⁻² per axis cannot be read)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.set_xticks(list(xticks))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(NullFormatter())


def _batch_norm(sizes):
    from matplotlib.colors import LogNorm

    lo, hi = min(sizes), max(sizes)
    return LogNorm(lo / 1.5, hi * 1.5) if lo == hi else LogNorm(lo, hi)


def ou_check(rows: list[dict], trace_H: float):
    """(a) stationary loss vs η/S, theory lines; (b) per-eigendirection variance × 2S/η vs λ."""
    fig, axes = figures.column_figure(1, 2, row_height=3.3)
    ax, bx = axes[0]
    sizes = sorted({r["S"] for r in rows})
    norm = _batch_norm(sizes)
    ratios = np.array(sorted({r["ratio"] for r in rows}))
    grid = np.geomspace(ratios.min() / 1.5, ratios.max() * 1.5, 50)
    with figures.style():
        ax.plot(grid, grid / 4 * trace_H, "k-", lw=1, label=r"SDE: $\frac{\eta}{4S}\mathrm{Tr}\,H$")
        for i, S in enumerate(sizes):
            color = figures.batch_color(S, norm)
            sub = [r for r in rows if r["S"] == S]
            x = np.array([r["ratio"] for r in sub]) * (1 + 0.05 * (i - (len(sizes) - 1) / 2))
            figures.errorbar(ax, x, [r["loss"] for r in sub], np.array([r["loss_ci"] for r in sub]), color=color,
                             label=f"S = {S}")
            ax.plot(x, [r["discrete"] for r in sub], "_", ms=14, mew=1.5, color=color)
            for r in sub:
                top = r["ratio"] == ratios.max()
                bx.plot(r["eigenvalues"], r["eigen_variance"] * 2 * r["S"] / r["eta"], "o", ms=3,
                        color=color, alpha=1.0 if top else 0.35)
                if top:
                    bx.plot(r["eigenvalues"], 2 / (2 - r["eta"] * r["eigenvalues"]), "-", color=color, lw=0.9)
        ax.set(xscale="log", yscale="log", xlabel=r"$\eta/S$", ylabel="stationary E[L]", title="(a) loss")
        _readable_log_ticks(ax, ratios)
        ax.legend(title="simulated (95% CI)", title_fontsize=figures.SMALL_FONT)
        bx.axhline(1.0, color="k", lw=1)
        bx.set(xscale="log", xlabel=r"Hessian eigenvalue $\lambda_i$", ylabel=r"Var$(\theta_i)\cdot 2S/\eta$",
               title="(b) variance per direction")
        _plain_log_ticks(ax, bx)
        fig.tight_layout()
    return fig


def ou_rows(rows: list[dict]) -> list[dict]:
    return [dict(eta=r["eta"], S=r["S"], ratio=r["ratio"], eta_lam_max=r["eta_lam_max"], loss=r["loss"],
                 loss_ci95=r["loss_ci"], sde=r["sde"], discrete=r["discrete"], transient=r["transient"],
                 seed_losses=r["seed_losses"]) for r in rows]


def edge_of_validity(rows: list[dict], eigenvalues: np.ndarray, ratio: float):
    """E[L]/(η Tr H / 4S) against η·λ_max: SDE (1), exact discrete law, simulation (hollow: not equilibrated)."""
    lam = np.asarray(eigenvalues)
    fig, axes = figures.column_figure(1, 1, row_height=3.4)
    ax = axes[0, 0]
    with figures.style():
        x = np.linspace(0.0, 1.995, 400) / lam.max()  # η values
        exact = [(np.sum(lam / (2 - e * lam)) / 2) / (np.sum(lam) / 4) for e in x]
        ax.plot(x * lam.max(), exact, "-", color=ORANGE, label="exact discrete law")
        ax.axhline(1.0, color="k", lw=1, label=r"SDE (depends on $\eta/S$ only)")
        ax.axvline(2.0, color=RED, ls=":", lw=1, label=r"$\eta\lambda_{\max}=2$: no stationary law")
        for ok, style in ((True, {}), (False, {"mfc": "white"})):
            pts = [r for r in rows if not r["diverged"] and equilibrated(r) == ok]
            if pts:
                figures.errorbar(ax, [r["eta_lam_max"] for r in pts], [r["loss"] / r["naive"] for r in pts],
                                 np.array([r["loss_ci"] / r["naive"] for r in pts]), color=BLUE,
                                 label="simulated (95% CI)" if ok else "simulated, not equilibrated", **style)
        bad = [r for r in rows if r["diverged"]]
        if bad:
            ax.plot([r["eta_lam_max"] for r in bad], [1] * len(bad), "x", color=RED, label="diverged")
        ax.set(yscale="log", xlabel=r"$\eta\,\lambda_{\max}$", xlim=(0, 2.1),
               ylabel="E[L] / SDE prediction", title=rf"fixed $\eta/S$ = {ratio:g}")
        ax.legend(loc="upper left")
        _plain_log_ticks(ax)
        fig.tight_layout()
    return fig


def regression(rows: list[dict]):
    """Measured stationary excess loss vs η/S with the trace predictions, one panel per
    (loss, sampling scheme), two per row."""
    panels = sorted({(r["loss"], r["sampling"]) for r in rows})
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = figures.column_figure(nrows, ncols, row_height=3.0)
    etas = sorted({r["eta"] for r in rows})
    with figures.style():
        for ax, (loss, sampling) in zip(axes.flat, panels):
            sub = [r for r in rows if (r["loss"], r["sampling"]) == (loss, sampling)]
            ratios = np.array([r["ratio"] for r in sub])
            grid = np.geomspace(ratios.min() / 1.5, ratios.max() * 1.5, 50)
            ax.plot(grid, grid / 4 * sub[0]["trace_H"], "k-", lw=1, label=r"$\frac{\eta}{4S}\mathrm{Tr}\,H$")
            ax.plot(grid, grid / 4 * sub[0]["trace_C"], "--", color=ORANGE, lw=1,
                    label=r"$\frac{\eta}{4S}\mathrm{Tr}\,C$")
            ax.plot(ratios, [r["pred_discrete"] for r in sub], "_", color=ORANGE, ms=12, mew=1.5,
                    label="C, discrete, finite N")
            if sampling == "independent" and loss == "linear":
                ax.plot(ratios, [r["pred_exact"] for r in sub], "x", color=PURPLE, ms=6, label="exact theory")
            for i, eta in enumerate(etas):
                pts = [r for r in sub if r["eta"] == eta]
                if pts:
                    figures.errorbar(ax, [r["ratio"] for r in pts], [r["excess"] for r in pts],
                                     np.array([r["excess_ci"] for r in pts]), color=figures.CATEGORY[[0, 2, 3][i % 3]],
                                     fmt="os^"[i % 3], ms=4, label=rf"SGD, $\eta$ = {eta:g}")
            scheme = "reshuffled epochs" if sampling == "epochs" else "independent batches"
            ax.set(xscale="log", yscale="log", title=f"{loss}, {scheme}")
            ax.set_xlabel(r"$\eta/S$")
        for ax in axes[:, 0]:
            ax.set_ylabel(r"E[L] $-$ L$^*$")
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        handles, labels = {}, []
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        _plain_log_ticks(*axes.flat)
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=figures.SMALL_FONT)
        fig.tight_layout(rect=(0, 0.1 if nrows > 1 else 0.16, 1, 1))
    return fig


def regression_rows(rows: list[dict]) -> list[dict]:
    keys = ("loss", "sampling", "eta", "S", "ratio", "eta_lam_max", "excess", "excess_ci", "seed_excess",
            "pred_trace_H", "pred_trace_C", "pred_lyapunov", "pred_discrete", "pred_exact", "C_over_H",
            "C_over_H_lo", "C_over_H_hi")
    return [{k: r[k] for k in keys} for r in rows]


def double_well(rows: list[dict], well, crossover: float):
    """(a) the potential; (b) occupancy of the higher, flatter minimum A against temperature."""
    fig, axes = figures.column_figure(1, 2, row_height=3.3, gridspec_kw={"width_ratios": [1, 1.5]})
    ax, bx = axes[0]
    with figures.style():
        theta = np.linspace(min(well.c_A, well.c_B) - 1.0, max(well.c_A, well.c_B) + 0.8, 400)
        ax.plot(theta, well.loss(theta), "k-")
        ax.annotate("A", (well.c_A, well.L_A), xytext=(0, -14), textcoords="offset points", ha="center")
        ax.annotate("B", (well.c_B, well.L_B), xytext=(0, -14), textcoords="offset points", ha="center")
        ax.set(xlabel=r"$\theta$", ylabel=r"$L(\theta)$", title="(a) two minima", ylim=(-0.15, 1.2))
        T_rows = np.array([r["T"] for r in rows])
        T = np.geomspace(T_rows.min() / 1.5, T_rows.max() * 1.5, 200)
        bx.plot(T, sde.laplace_probability_A(well, T), "k-", lw=1, label="Laplace (Theorem 2)")
        bx.plot(T, sde.gibbs_probability_A(well, T), "--", color=ORANGE, lw=1.2, label="exact Gibbs law")
        if np.isfinite(crossover):
            bx.axvline(crossover, color="0.5", ls=":", lw=1, label="$T^*$, eq. (4)")
        for ok, style in ((True, {}), (False, {"mfc": "white"})):
            pts = [r for r in rows if not r["diverged"] and mixed(r) == ok]
            if pts:
                figures.errorbar(bx, [r["T"] for r in pts], [r["fraction_A"] for r in pts],
                                 np.array([r["fraction_A_ci"] for r in pts]), color=BLUE,
                                 label="SGD (95% CI)" if ok else "SGD, not equilibrated", **style)
        bx.axhline(0.5, color="0.7", lw=0.8)
        bx.set(xscale="log", xlabel=r"temperature $T=\eta\sigma^2/S$", ylabel="P(in A)", ylim=(-0.02, 1.02),
               title="(b) which minimum SGD occupies")
        _plain_log_ticks(bx)
        bx.legend(loc="upper left", fontsize=figures.SMALL_FONT)
        fig.tight_layout()
    return fig


def well_rows(rows: list[dict]) -> list[dict]:
    keys = ("S", "T", "fraction_A", "fraction_A_ci", "seed_fractions", "crossings", "laplace", "gibbs",
            "final_fraction_A")
    return [{k: r[k] for k in keys} for r in rows]

