"""Figures of the interpolation chapter, on the shared conventions of :mod:`replication.figures`:
660 px column, two panels per row, η/S coloured by ``ratio_color`` (viridis, log), S by
``batch_color`` (cividis), mean over seed pairs with a t-band (``mean_band``)."""
from __future__ import annotations

import functools
import math

import numpy as np

from ... import figures as F
from ...wording import number
from . import claims

TRAIN, TEST = "#222222", "#1f77b4"


def _styled(draw):
    """Draw the whole figure under the book's style (:data:`replication.figures.STYLE`), so every
    text takes its font size."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with F.style():
            return draw(*args, **kwargs)
    return wrapper


def _plain_ticks(axis) -> None:
    """Plain numbers (20, 50, 200) instead of powers of ten on a log axis or colour bar."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
    axis.set_minor_formatter(NullFormatter())


def _log(rows) -> list:
    """log10 of every curve: bands are t-intervals of the mean log-loss (a geometric mean), so they
    stay positive and symmetric on a log axis; non-finite losses stay out of the mean."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return [np.where(np.isfinite(np.asarray(r, float)) & (np.asarray(r, float) > 0),
                         np.log10(np.asarray(r, float)), np.nan) for r in rows]


def _plain_log(ax) -> None:
    """Label a log10-valued y axis with the loss itself (0.5, 1, 2)."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{float(f'{10 ** v:.2g}'):g}"))


def _mark_endpoints(ax, a: dict, b: dict, norm, key: str = "ratio", cmap=F.ratio_color) -> None:
    for x, st in ((0.0, a), (1.0, b)):
        ax.axvline(x, color=cmap(st[key], norm), lw=2.5, alpha=0.9, zorder=0)


def _line_panel(ax_loss, ax_acc, results, panel: dict, norm, *, key="ratio", cmap=F.ratio_color) -> None:
    lines = [ln for ln in results.lines[panel["id"]] if ln]
    a = np.asarray(results.alphas)
    sa = results.settings[panel["figure"]][panel["a"]]
    sb = results.settings[panel["figure"]][panel["b"]]
    F.mean_band(ax_loss, a, _log([ln["train_loss"] for ln in lines]), color=TRAIN, label="training")
    F.mean_band(ax_loss, a, _log([ln["test_loss"] for ln in lines]), color=TEST, label="test", ls="--")
    F.mean_band(ax_acc, a, [100 * np.asarray(ln["train_acc"]) for ln in lines], color=TRAIN, label="training")
    F.mean_band(ax_acc, a, [100 * np.asarray(ln["test_acc"]) for ln in lines], color=TEST, label="test", ls="--")
    _plain_log(ax_loss)
    lo, hi = ax_acc.get_ylim()                 # a t-band over three pairs can reach past 0% or 100%
    ax_acc.set_ylim(max(lo, 0.0), min(hi, 100.0))
    for ax in (ax_loss, ax_acc):
        _mark_endpoints(ax, sa, sb, norm, key, cmap)
        ax.set_xlim(a[0], a[-1])
    desc = lambda s: f"η = {s['eta']:g}, S = {s['S']}"  # noqa: E731
    if panel["figure"] == "fig2":
        title = f"{panel['label']} {desc(sa)} → {desc(sb)}"
    else:
        title = f"{panel['label']}: to {desc(sb)}"
    ax_loss.set_title(title, loc="left")
    ax_loss.set_ylabel("loss")
    ax_acc.set_ylabel("accuracy (%)")


@_styled
def line_figure(results, figure: str):
    """Loss (left, log scale) and accuracy (right) along α, one row per panel of ``figure``
    ('fig2' or 'fig3'); training solid, test dashed; endpoints marked in the colour of their η/S
    (fig2) or S (fig3)."""
    pans = [p for p in results.panels if p["figure"] == figure and not p["id"].endswith("other-init")]
    fig, axes = F.column_figure(len(pans), 2, row_height=2.3, sharex=True, layout="constrained")
    sets = results.settings[figure]
    if figure == "fig2":
        norm, key, cmap = F.ratio_norm([s["ratio"] for s in sets]), "ratio", F.ratio_color
    else:
        norm, key, cmap = F.ratio_norm([s["S"] for s in sets]), "S", F.batch_color
    with F.style():
        for row, p in zip(axes, pans):
            _line_panel(row[0], row[1], results, p, norm, key=key, cmap=cmap)
        handles, labels = axes[0, 1].get_legend_handles_labels()
        for ax in axes[-1]:
            ax.set_xlabel(r"$\alpha$")
        if figure == "fig2":
            cb = F.ratio_colorbar(fig, axes, norm, label=r"$\eta/S$ of the endpoint")
        else:
            import matplotlib.cm as cm

            cb = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=F.BATCH_CMAP), ax=axes, label="batch size S of the endpoint",
                              fraction=0.05, pad=0.02)
            _plain_ticks(cb.ax.yaxis)
        fig.legend(handles, labels, loc="outside upper center", ncol=2)
    return fig


@_styled
def choices_figure(results):
    """The two choices shown once: batch-norm statistics recomputed vs interpolated (left) and, when
    computed, shared vs independent initialization (right); training loss along panel (a)."""
    first = results.panels[0]
    other = [p for p in results.panels if p["id"].endswith("other-init")]
    ncols = 1 + bool(other)
    if ncols == 2:
        fig, axes = F.column_figure(1, 2, row_height=2.8)
    else:
        import matplotlib.pyplot as plt

        with F.style():
            fig, ax0 = plt.subplots(figsize=(0.62 * F.COLUMN_INCHES, 2.8))
        axes = np.array([[ax0]])
    a = np.asarray(results.alphas)
    ax = axes[0, 0]
    rec = _log([ln["train_loss"] for ln in results.lines[first["id"]] if ln])
    F.mean_band(ax, a, rec, color=F.CATEGORY[0], label="statistics recomputed")
    if first["id"] in results.bn_other:
        F.mean_band(ax, a, _log([ln["train_loss"] for ln in results.bn_other[first["id"]] if ln]), color=F.CATEGORY[1],
                    label="statistics interpolated", ls="--")
    ax.set_title("batch norm at each α", loc="left")
    if ncols == 2:
        ax2 = axes[0, 1]
        F.mean_band(ax2, a, rec, color=F.CATEGORY[0], label="shared" if first["shared"] else "independent")
        F.mean_band(ax2, a, _log([ln["train_loss"] for ln in results.lines[other[0]["id"]] if ln]), color=F.CATEGORY[2],
                    label="independent" if first["shared"] else "shared", ls="--")
        ax2.set_title("initialization of the pair", loc="left")
    for axx in axes[0][:ncols]:
        _plain_log(axx)
        axx.set_xlabel(r"$\alpha$")
        axx.legend(loc="upper left")
        for x in (0, 1):
            axx.axvline(x, color="0.6", lw=1, zorder=0)
    axes[0, 0].set_ylabel("training loss")
    return fig


@_styled
def directions_figure(results, delta: float):
    """Training loss along filter-normalized random directions around every endpoint (mean over
    directions and seeds with a t-band): Fig. 2 settings coloured by η/S (left), Fig. 3 settings by S
    (right); the dotted line is Δ above the lowest endpoint loss."""
    fig, axes = F.column_figure(1, 2, row_height=2.9, sharey=True)
    for ax, figure in zip(axes[0], ("fig2", "fig3")):
        sets = results.settings[figure]
        key = "ratio" if figure == "fig2" else "S"
        norm = F.ratio_norm([s[key] for s in sets])
        cmap = F.ratio_color if figure == "fig2" else F.batch_color
        lows = []
        for i, st in enumerate(sets):
            eps = [e for e in results.endpoints[f"{figure}-{i}"] if e and e["curves"]]
            if not eps:
                continue
            t = np.asarray(eps[0]["t"])
            curves = [np.mean(e["curves"], axis=0) for e in eps]
            lows.append(min(np.min(c) for c in curves))
            F.mean_band(ax, t, _log(curves), color=cmap(st[key], norm), label=f"η = {st['eta']:g}, S = {st['S']}",
                        ls=("-", "--", ":", "-.")[i % 4])
        if lows:
            ax.axhline(np.log10(min(lows) + delta), color="0.4", ls=":", lw=1)
        _plain_log(ax)
        ax.set_xlabel("t (filter-normalized units)")
        ax.set_title("Fig. 2 settings" if figure == "fig2" else "Fig. 3 settings (equal η/S)", loc="left")
        ax.legend(loc="upper center")
    axes[0, 0].set_ylabel("training loss")
    return fig


@_styled
def surface_figure(results):
    """2-D filter-normalized training-loss surfaces (log10 contours) where computed, else None."""
    found = [(name, eps[0]) for name, eps in results.endpoints.items() if eps and eps[0] and eps[0].get("surface")]
    if not found:
        return None
    fig, axes = F.column_figure(1, 2, row_height=3.0, sharey=True)
    for ax, (name, ep) in zip(axes[0], found[:2]):
        fig_name, i = name.rsplit("-", 1)
        st = results.settings[fig_name][int(i)]
        t = np.asarray(ep["surface"]["t"])
        Z = np.log10(np.asarray(ep["surface"]["loss"]))
        cs = ax.contourf(t, t, Z, levels=12, cmap="magma_r")
        ax.set_title(f"η = {st['eta']:g}, S = {st['S']}", loc="left")
        ax.set_xlabel("t₁")
        fig.colorbar(cs, ax=ax, label="log₁₀ training loss")
    axes[0, 0].set_ylabel("t₂")
    return fig


# -- numbers behind the figures ---------------------------------------------------------------------------
def line_rows(results, figure: str | None = None) -> list[dict]:
    rows = []
    for p in results.panels:
        if figure and p["figure"] != figure:
            continue
        for kind, store in (("recompute", results.lines), ("interpolate", results.bn_other)):
            for s, ln in enumerate(store.get(p["id"], [])):
                if not ln:
                    continue
                for i, a in enumerate(ln["alphas"]):
                    rows.append(dict(panel=p["id"], bn=kind, shared_init=p["shared"], seed=s, alpha=a,
                                     train_loss=ln["train_loss"][i], train_acc=ln["train_acc"][i],
                                     test_loss=ln["test_loss"][i], test_acc=ln["test_acc"][i]))
    return rows


def direction_rows(results) -> list[dict]:
    rows = []
    for name, eps in results.endpoints.items():
        for s, e in enumerate(eps):
            if not e:
                continue
            for j, c in enumerate(e["curves"]):
                rows += [dict(setting=name, seed=s, direction=j, t=t, train_loss=v) for t, v in zip(e["t"], c)]
    return rows


def pair_rows(facts: dict) -> list[dict]:
    rows = []
    for pid, f in facts["panels"].items():
        for r in f["rows"]:
            rows.append(dict(panel=pid, eta_a=f["a"]["eta"], S_a=f["a"]["S"], eta_b=f["b"]["eta"], S_b=f["b"]["S"], **r))
    return rows


def surface_file(results, folder: str = "data/interpolation") -> str | None:
    """Draw :func:`surface_figure` into ``<folder>/surface.png`` (relative to the notebook) and return
    that path, or ``None`` when this profile computes no surface."""
    import matplotlib.pyplot as plt

    from ...figure_files import saved

    surf = surface_figure(results)
    if surf is None:
        return None
    path = saved(surf, f"{folder}/surface.png")     # and its SVG twin, the click target
    plt.close(surf)
    return path
