"""Figures.  Each function takes computed results and returns a matplotlib Figure; every figure
carries a provenance footer (profile, seeds, data, device, code version) from :func:`footer`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "legend.frameon": False, "font.size": 9}
COLORS = plt.get_cmap("viridis")


def footer(fig, provenance: dict, *, profile: str, seeds: int | None = None, data: str | None = None) -> None:
    """One small line under the figure: what produced it."""
    parts = [f"profile {profile}"]
    if seeds is not None:
        parts.append(f"{seeds} seeds")
    src = data or provenance.get("data", {}).get("source", "?")
    if provenance.get("data", {}).get("canonical") is False:
        src += " (NOT canonical data)"
    parts += [src, provenance.get("device", "?"), f"code {provenance.get('code_version', '?')}"]
    fig.text(0.01, 0.005, " · ".join(parts), fontsize=6.5, color="0.4", ha="left", va="bottom")


def _errorbar(ax, x, y, ci, **kw):
    ci = np.where(np.isfinite(ci), ci, 0.0)
    return ax.errorbar(x, y, yerr=ci, fmt=kw.pop("fmt", "o"), capsize=2.5, ms=4.5, **kw)


def ou_check(rows: list[dict], trace_H: float):
    """(a) stationary loss vs η/S, theory lines; (b) per-eigendirection variance × 2S/η vs λ."""
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.2, 3.7))
        sizes = sorted({r["S"] for r in rows})
        ratios = np.array(sorted({r["ratio"] for r in rows}))
        grid = np.geomspace(ratios.min() / 1.5, ratios.max() * 1.5, 50)
        ax.plot(grid, grid / 4 * trace_H, "k-", lw=1, label=r"SDE: $\frac{\eta}{4S}\mathrm{Tr}\,H$")
        for i, S in enumerate(sizes):
            color = COLORS(i / max(1, len(sizes) - 1) * 0.85)
            sub = [r for r in rows if r["S"] == S]
            x = np.array([r["ratio"] for r in sub]) * (1 + 0.04 * (i - (len(sizes) - 1) / 2))
            _errorbar(ax, x, [r["loss"] for r in sub], np.array([r["loss_ci"] for r in sub]), color=color,
                      label=f"simulated, S={S}")
            ax.plot(x, [r["discrete"] for r in sub], "_", ms=14, mew=1.5, color=color)
            for r in sub:
                lam = r["eigenvalues"]
                bx.plot(lam, r["eigen_variance"] * 2 * r["S"] / r["eta"], "o", ms=3.5, color=color,
                        alpha=0.5 + 0.5 * (r["ratio"] == ratios.max()),
                        label=f"S={S}, η={r['eta']:g}" if r["ratio"] == ratios.max() else None)
                bx.plot(lam, 2 / (2 - r["eta"] * lam), "-", color=color, lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel=r"$\eta/S$", ylabel="stationary E[L]",
               title="(a) loss at stationarity (bars: 95% CI; ticks: exact discrete)")
        ax.legend(fontsize=7.5)
        bx.axhline(1.0, color="k", lw=1)
        bx.set(xscale="log", xlabel=r"Hessian eigenvalue $\lambda_i$",
               ylabel=r"Var$(\theta_i)\cdot 2S/\eta$  (SDE: 1)",
               title="(b) stationary variance per eigendirection")
        bx.legend(fontsize=7, title="lines: discrete theory", title_fontsize=7)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def edge_of_validity(rows: list[dict], eigenvalues: np.ndarray, ratio: float):
    """E[L]/(η Tr H / 4S) against η·λ_max: SDE (1), exact discrete law, simulation."""
    lam = np.asarray(eigenvalues)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 3.7))
        x = np.linspace(0.0, 1.995, 400) / lam.max()  # η values
        exact = [(np.sum(lam / (2 - e * lam)) / 2) / (np.sum(lam) / 4) for e in x]
        ax.plot(x * lam.max(), exact, "C1-", label="exact discrete law")
        ax.axhline(1.0, color="k", lw=1, label="SDE (η/S invariance)")
        ax.axvline(2.0, color="C3", ls=":", lw=1, label=r"$\eta\lambda_{\max}=2$: no stationary law")
        ok = [r for r in rows if not r["diverged"]]
        _errorbar(ax, [r["eta_lam_max"] for r in ok], [r["loss"] / r["naive"] for r in ok],
                  np.array([r["loss_ci"] / r["naive"] for r in ok]), color="C0", label="simulated (95% CI)")
        bad = [r for r in rows if r["diverged"]]
        if bad:
            ax.plot([r["eta_lam_max"] for r in bad], [1] * len(bad), "x", color="C3", label="diverged")
        ax.set(yscale="log", xlabel=r"$\eta\,\lambda_{\max}$", xlim=(0, 2.1),
               ylabel=r"E[L] / $(\frac{\eta}{4S}\mathrm{Tr}\,H)$", title=f"fixed η/S = {ratio:g}")
        ax.legend(fontsize=7.5)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def regression(rows: list[dict]):
    """Measured stationary excess loss vs η/S with the trace predictions, one panel per
    (loss, sampling scheme)."""
    panels = sorted({(r["loss"], r["sampling"]) for r in rows})
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.7 * ncols, 3.5 * nrows), squeeze=False)
        for ax, (loss, sampling) in zip(axes.flat, panels):
            sub = [r for r in rows if (r["loss"], r["sampling"]) == (loss, sampling)]
            ratios = np.array([r["ratio"] for r in sub])
            grid = np.geomspace(ratios.min() / 1.5, ratios.max() * 1.5, 50)
            ax.plot(grid, grid / 4 * sub[0]["trace_H"], "k-", lw=1, label=r"$\frac{\eta}{4S}\mathrm{Tr}\,H$")
            ax.plot(grid, grid / 4 * sub[0]["trace_C"], "C1--", lw=1, label=r"$\frac{\eta}{4S}\mathrm{Tr}\,C$")
            ax.plot(ratios, [r["pred_discrete"] for r in sub], "C1_", ms=12, mew=1.5,
                    label="C-based, discrete, finite N")
            for i, eta in enumerate(sorted({r["eta"] for r in sub})):
                pts = [r for r in sub if r["eta"] == eta]
                _errorbar(ax, [r["ratio"] for r in pts], [r["excess"] for r in pts],
                          np.array([r["excess_ci"] for r in pts]), color=f"C{i * 2}", fmt="o" if i == 0 else "s",
                          label=f"SGD, η={eta:g}")
            scheme = "reshuffled epochs" if sampling == "epochs" else "independent batches"
            ax.set(xscale="log", yscale="log", xlabel=r"$\eta/S$", ylabel=r"stationary E[L] $-$ L$^*$",
                   title=f"{loss}, {scheme}: Tr C/Tr H = {sub[0]['trace_C'] / sub[0]['trace_H']:.2f}")
            ax.legend(fontsize=6.5)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def double_well(rows: list[dict], well, crossover: float, *, min_crossings: float):
    """(a) the potential; (b) occupancy of the higher, flatter minimum A against temperature."""
    from . import sde

    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.2, 3.6), gridspec_kw={"width_ratios": [1, 1.4]})
        theta = np.linspace(min(well.c_A, well.c_B) - 1.2, max(well.c_A, well.c_B) + 1.0, 400)
        ax.plot(theta, well.loss(theta), "k-")
        ax.annotate(f"A: L={well.L_A:g}, k={well.k_A:g}", (well.c_A, well.L_A), xytext=(0, -16),
                    textcoords="offset points", ha="center", fontsize=8)
        ax.annotate(f"B: L={well.L_B:g}, k={well.k_B:g}", (well.c_B, well.L_B), xytext=(0, -16),
                    textcoords="offset points", ha="center", fontsize=8)
        ax.set(xlabel=r"$\theta$", ylabel=r"$L(\theta)$", title="(a) two minima", ylim=(-0.15, 1.2))
        T_rows = np.array([r["T"] for r in rows])
        T = np.geomspace(T_rows.min() / 1.5, T_rows.max() * 1.5, 200)
        bx.plot(T, sde.laplace_probability_A(well, T), "k-", lw=1, label="Laplace (Theorem 2)")
        bx.plot(T, sde.gibbs_probability_A(well, T), "C1--", lw=1.2, label="exact Gibbs law")
        if np.isfinite(crossover):
            bx.axvline(crossover, color="0.5", ls=":", lw=1, label=f"eq. (4): T* = {crossover:.3f}")
        mixed = [r for r in rows if r["crossings"] >= min_crossings and not r["diverged"]]
        stuck = [r for r in rows if r["crossings"] < min_crossings and not r["diverged"]]
        _errorbar(bx, [r["T"] for r in mixed], [r["fraction_A"] for r in mixed],
                  np.array([r["fraction_A_ci"] for r in mixed]), color="C0", label="SGD, time in A (95% CI)")
        if stuck:
            _errorbar(bx, [r["T"] for r in stuck], [r["fraction_A"] for r in stuck],
                      np.array([r["fraction_A_ci"] for r in stuck]), color="C0", mfc="white",
                      label=f"SGD, < {min_crossings:g} crossings: not equilibrated")
        bx.axhline(0.5, color="0.7", lw=0.8)
        bx.set(xscale="log", xlabel=r"temperature $T=\eta\sigma^2/S$", ylabel="P(in the higher, flatter A)",
               ylim=(-0.02, 1.02), title="(b) which minimum SGD occupies")
        bx.legend(fontsize=7)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
