"""Figures of the interpolation chapter, on the shared conventions of :mod:`replication.figures`:
660 px column, two panels per row, η/S coloured by ``ratio_color`` (viridis, log), S by
``batch_color`` (cividis), mean over seed pairs with a t-band (``mean_band``)."""
from __future__ import annotations

import numpy as np

from ... import figures as F
from . import claims

TRAIN, TEST = "#222222", "#1f77b4"


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
    for ax in (ax_loss, ax_acc):
        _mark_endpoints(ax, sa, sb, norm, key, cmap)
        ax.set_xlim(a[0], a[-1])
    desc = lambda s: f"η={s['eta']:g}, S={s['S']}"  # noqa: E731
    ax_loss.set_title(f"{panel['label']} {desc(sa)} → {desc(sb)}", loc="left")
    ax_loss.set_ylabel("loss")
    ax_acc.set_ylabel("accuracy (%)")


def line_figure(results, figure: str):
    """Loss (left, log scale) and accuracy (right) along α, one row per panel of ``figure``
    ('fig2' or 'fig3'); training solid, test dashed; endpoints marked in the colour of their η/S
    (fig2) or S (fig3)."""
    pans = [p for p in results.panels if p["figure"] == figure and not p["id"].endswith("other-init")]
    fig, axes = F.column_figure(len(pans), 2, row_height=2.3, sharex=True)
    sets = results.settings[figure]
    if figure == "fig2":
        norm, key, cmap = F.ratio_norm([s["ratio"] for s in sets]), "ratio", F.ratio_color
    else:
        norm, key, cmap = F.ratio_norm([s["S"] for s in sets]), "S", F.batch_color
    for row, p in zip(axes, pans):
        _line_panel(row[0], row[1], results, p, norm, key=key, cmap=cmap)
    axes[0, 1].legend(loc="lower center")
    for ax in axes[-1]:
        ax.set_xlabel(r"$\alpha$  ($\theta = (1-\alpha)\,\theta_a + \alpha\,\theta_b$)")
    if figure == "fig2":
        F.ratio_colorbar(fig, axes, norm)
    else:
        import matplotlib.cm as cm

        fig.colorbar(cm.ScalarMappable(norm=norm, cmap=F.BATCH_CMAP), ax=axes, label="S", fraction=0.05, pad=0.02)
    return fig


def choices_figure(results):
    """The two choices shown once: batch-norm statistics recomputed vs interpolated (left) and, when
    computed, shared vs independent initialization (right); training loss along panel (a)."""
    first = results.panels[0]
    other = [p for p in results.panels if p["id"].endswith("other-init")]
    ncols = 1 + bool(other)
    fig, axes = F.column_figure(1, 2, row_height=2.8)
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
    else:
        axes[0, 1].set_visible(False)
    for axx in axes[0][:ncols]:
        _plain_log(axx)
        axx.set_xlabel(r"$\alpha$")
        axx.legend(loc="upper left", fontsize=7.5)
        for x in (0, 1):
            axx.axvline(x, color="0.6", lw=1, zorder=0)
    axes[0, 0].set_ylabel("training loss")
    return fig


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
            F.mean_band(ax, t, _log(curves), color=cmap(st[key], norm), label=f"η={st['eta']:g}, S={st['S']}",
                        ls=("-", "--", ":", "-.")[i % 4])
        if lows:
            ax.axhline(np.log10(min(lows) + delta), color="0.4", ls=":", lw=1)
        _plain_log(ax)
        ax.set_xlabel("t (filter-normalized units)")
        ax.set_title("Fig. 2 settings" if figure == "fig2" else "Fig. 3 settings (equal η/S)", loc="left")
        ax.legend(loc="upper center", fontsize=7.5)
    axes[0, 0].set_ylabel("training loss")
    return fig


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
        ax.set_title(f"η={st['eta']:g}, S={st['S']}", loc="left")
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


def settings_table(facts: dict) -> str:
    """Per setting: η, S, η/S, best epoch(s), best validation accuracy, λ_max, η·λ_max, filter-normalized width."""
    def iv(d, scale=1.0, f=".3g"):
        if not np.isfinite(d["mean"]):
            return "–"
        half = (d["hi"] - d["lo"]) / 2 if np.isfinite(d["lo"]) else None
        return f"{scale * d['mean']:{f}}" + (f" ± {scale * half:{f}}" if half is not None else "")

    lines = ["| run | η | S | η/S | best epoch | best validation accuracy (%) | λ_max | η·λ_max | "
             "filter-normalized width |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, e in facts["settings"].items():
        st = e["setting"]
        label = ("Fig. 2 " if name.startswith("fig2") else "Fig. 3 ") + st["name"]
        epochs = ", ".join(str(x) for x in e["best_epoch"])
        lines.append(f"| {label} | {st['eta']:g} | {st['S']} | {st['ratio']:.2g} | {epochs} | "
                     f"{iv(e['best_val_acc'], 100, '.1f')} | {iv(e['lam'])} | {iv(e['eta_lam'], 1, '.2f')} | "
                     f"{iv(e['fn_width'], 1, '.2f')} |")
    return "\n".join(lines)


def panel_table(facts: dict) -> str:
    """Per panel: widths along the line, λ ratio, barrier (means ± 95% t half-widths over seed pairs)."""
    def m(rows, k):
        v = np.array([r[k] for r in rows], float)
        v = v[np.isfinite(v)]
        if not len(v):
            return "–"
        iv = claims._interval(v, 0.95)
        return f"{iv['mean']:.2f}" + (f" ± {(iv['hi'] - iv['lo']) / 2:.2f}" if np.isfinite(iv["lo"]) else "")

    lines = ["| panel | endpoint a → b | pairs | width of a | width of b | loss at a | loss at b | barrier (train) | "
             "barrier (test) |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for pid, f in facts["panels"].items():
        rows = f["rows"]
        d = lambda s: f"η={s['eta']:g}, S={s['S']}"  # noqa: E731
        lines.append(f"| {f['panel']['label']} | {d(f['a'])} → {d(f['b'])} | {len(rows)} | {m(rows, 'width_a')} | "
                     f"{m(rows, 'width_b')} | {m(rows, 'loss_a')} | {m(rows, 'loss_b')} | {m(rows, 'barrier')} | "
                     f"{m(rows, 'test_barrier')} |")
    return "\n".join(lines)
