"""The memorization chapter's figures, on the shared style of :mod:`replication.figures`.  Accuracies
are drawn in percent, as the page quotes them."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter

from ... import figures as F
from . import claims


def _panel_axes(n: int, row_height: float = 2.9):
    rows = (n + 1) // 2
    fig, axes = F.column_figure(rows, 2 if n > 1 else 1, row_height=row_height, sharex=True, sharey=True,
                                layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def curves(results, params, facts):
    """Held-out accuracy against training accuracy over the epochs of every run, coloured by η/S;
    one panel per (noise level, momentum); dashed: the clean ceiling; dotted: the judged levels."""
    by_panel = claims.panels(results.rows)
    norm = F.ratio_norm(r["ratio"] for r in results.rows)
    with F.style():
        fig, axes = _panel_axes(len(by_panel))
        for ax, ((noise, m), rows) in zip(axes, by_panel.items()):
            p = facts["panels"][(noise, m)]
            for r in sorted(rows, key=lambda r: r["ratio"]):
                h = r["history"]
                ax.plot(100 * np.asarray(h["train_acc"], float), 100 * np.asarray(h["test_acc"], float),
                        color=F.ratio_color(r["ratio"], norm), lw=0.9, alpha=0.8)
            ax.axvline(100 * p["ceiling"], color="0.3", ls="--", lw=0.8)
            for l in p["levels"]:
                if l["judged"]:
                    ax.axvline(100 * l["level"], color="0.5", ls=":", lw=0.8)
            ax.set_title(p["name"])
        for ax in axes[-2:]:
            ax.set_xlabel("training accuracy, noisy labels (%)")
        for ax in axes[::2]:
            ax.set_ylabel("clean held-out accuracy (%)")
        F.ratio_colorbar(fig, axes, norm)
    return fig


def against_epoch(results, params, facts):
    """The paper's appendix Fig. 11 (after Arpit et al.): accuracy on the corrupted labels (solid)
    and clean held-out accuracy (dashed) against epoch, the seeds' mean per η/S, one panel per
    (noise level, momentum); memorization of the random labels starts after the held-out accuracy
    has peaked."""
    by_panel = claims.panels(results.rows)
    norm = F.ratio_norm(r["ratio"] for r in results.rows)
    with F.style():
        fig, axes = _panel_axes(len(by_panel), row_height=2.6)
        for ax, ((noise, m), rows) in zip(axes, by_panel.items()):
            by_ratio: dict = {}
            for r in rows:
                if not r["diverged"]:
                    by_ratio.setdefault(r["ratio"], []).append(r)
            for ratio, rs in sorted(by_ratio.items()):
                color = F.ratio_color(ratio, norm)
                for key, ls in (("memorized_acc", "-"), ("test_acc", "--")):
                    n = min(len(r["history"][key]) for r in rs)
                    Y = 100 * np.array([r["history"][key][:n] for r in rs], float)
                    ax.plot(np.arange(1, n + 1), Y.mean(0), color=color, ls=ls, lw=1.0)
            ax.set_title(facts["panels"][(noise, m)]["name"])
        for ax in axes[-2:]:
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[::2]:
            ax.set_ylabel("accuracy (%)")
        styles = [Line2D([], [], color="0.3", ls="-"), Line2D([], [], color="0.3", ls="--")]
        fig.legend(styles, ["corrupted labels (memorized)", "clean held-out"], loc="outside upper center",
                   ncol=2, fontsize=F.SMALL_FONT)
        F.ratio_colorbar(fig, axes, norm)
    return fig


def speed(results, params, facts):
    """Per noise level: epochs to the memorization level (top) and the best held-out accuracy
    (bottom) against η/((1−m)S); plain runs as circles, momentum runs as triangles."""
    noises = list(params.noise_levels)
    E = params.epochs
    with F.style():
        fig, axes = F.column_figure(2, len(noises), row_height=2.6, sharex=True, sharey="row", layout="constrained")
        allr = [r["eff_ratio"] for r in results.rows]
        norm = F.ratio_norm(r["ratio"] for r in results.rows)
        for j, noise in enumerate(noises):
            rows = [r for r in results.rows if r["noise"] == noise and not r["diverged"]]
            for r in rows:
                marker = "o" if r["momentum"] == 0 else "^"
                e = claims.epochs_to(r, params.memorization_level, E)
                jitter = np.exp(0.04 * (r["seed"] - (params.seeds - 1) / 2))
                color = F.ratio_color(r["ratio"], norm)
                axes[0, j].scatter(r["eff_ratio"] * jitter, e, marker=marker, s=18, color=color,
                                   edgecolor="k" if e > E else "none", lw=0.6)
                axes[1, j].scatter(r["eff_ratio"] * jitter, 100 * max(r["history"]["test_acc"]), marker=marker,
                                   s=18, color=color)
            axes[0, j].axhline(E + 0.5, color="0.5", ls=":", lw=0.8)
            axes[0, j].set_title(f"{100 * noise:g}% noise")
            axes[1, j].set_xlabel(r"$\eta/((1-m)S)$")
            axes[1, j].set_xscale("log")
            axes[1, j].xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
            axes[1, j].xaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
            axes[1, j].xaxis.set_minor_formatter(NullFormatter())
            axes[0, j].set_xlim(min(allr) / 1.5, max(allr) * 1.5)
        axes[0, 0].set_ylabel(f"epochs to {100 * params.memorization_level:g}%\non corrupted labels")
        axes[1, 0].set_ylabel("best held-out\naccuracy (%)")
        axes[0, 0].scatter([], [], marker="o", color="0.4", label="plain SGD")
        if params.momentum > 0:
            axes[0, 0].scatter([], [], marker="^", color="0.4", label=f"momentum {params.momentum:g}")
        axes[0, 0].legend(loc="lower left")
        F.ratio_colorbar(fig, axes, norm)
    return fig


def export_rows(results, params) -> list[dict]:
    """One row per run and epoch: the numbers behind both figures."""
    out = []
    for r in results.rows:
        h = r["history"]
        for i, e in enumerate(h["epoch"]):
            out.append(dict(noise=r["noise"], momentum=r["momentum"], eta=r["eta"], S=r["S"], seed=r["seed"],
                            ratio=r["ratio"], eff_ratio=r["eff_ratio"], epoch=e, train_acc=h["train_acc"][i],
                            memorized_acc=h["memorized_acc"][i], corrupted_true_acc=h["corrupted_true_acc"][i],
                            clean_acc=h["clean_acc"][i], heldout_acc=h["test_acc"][i],
                            train_loss=h["train_loss"][i], key=r["key"]))
    return out


def export_meta(results, params, provenance) -> dict:
    """What travels with the exported rows: the parameters, the profile, the provenance and each run's
    key with its setting."""
    return {"params": params.as_dict(), "profile": params.profile, "provenance": provenance,
            "runs": [{k: r[k] for k in ("key", "noise", "momentum", "eta", "S", "seed")} for r in results.rows]}
