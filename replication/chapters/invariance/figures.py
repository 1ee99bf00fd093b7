"""Figures of the invariance chapter, on the shared conventions of :mod:`replication.figures`
(660 px column, at most two panels per row, S coloured by cividis, t-bands over seeds)."""
from __future__ import annotations

import math

import numpy as np

from ... import figures as F
from ...wording import number
from .claims import CHANCE, _acc, signed
from .experiment import LINEAR, SQRT, curves

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_word(n: int) -> str:
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def network_text(results, params) -> str:
    """The network in words, its parameter count once: "an MLP with one hidden layer of 128 ReLU units
    (101,770 parameters)"; the convolutional models by their description."""
    if params.model == "mlp":
        hidden = list(params.hidden)
        if len(set(hidden)) == 1:
            layers = (f"{count_word(len(hidden))} hidden layer{'s' if len(hidden) > 1 else ''} of "
                      f"{hidden[0]:,} ReLU units")
        else:
            layers = f"{count_word(len(hidden))} hidden layers of {', '.join(f'{h:,}' for h in hidden)} ReLU units"
        return f"an MLP with {layers} ({results.n_parameters:,} parameters)"
    return f"a {results.architecture}"


def _plain(ax, x=True, y=False, decades=False):
    """Plain numbers (not powers) on log axes; ``decades``: ticks at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    for on, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if on:
            if decades:
                axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
            axis.set_major_formatter(fmt)
            axis.set_minor_formatter(NullFormatter())


def _size_colors(sizes):
    return {N: F.CATEGORY[i % len(F.CATEGORY)] for i, N in enumerate(sorted(sizes))}


def curves_figure(results, facts):
    """Validation accuracy and training loss against epochs, one row per training-set size, one line per β."""
    from matplotlib.colors import LogNorm
    import matplotlib.cm as cm

    sizes = facts["sizes"]
    S_all = [r["S"] for r in results.runs]
    norm = LogNorm(min(S_all), max(S_all) * 1.001)
    fig, axes = F.column_figure(len(sizes), 2, row_height=2.1, sharex=True, layout="constrained")
    with F.style():
        for i, N in enumerate(sizes):
            ax_a, ax_l = axes[i]
            for t in facts["tables"][N]:
                S = int(round(t["beta"] * min(r["S"] for r in results.runs if r["beta"] == 1)))
                col = F.batch_color(S, norm)
                Y = curves(results.runs, N, t["beta"], LINEAR)
                L = curves(results.runs, N, t["beta"], LINEAR, "loss_curve")
                x = np.arange(1, Y.shape[1] + 1)
                if t["beta"] == 1:      # the seed spread, once: a t-band around β = 1
                    F.mean_band(ax_a, x, Y, color=col, lw=2.2, zorder=3)
                    F.mean_band(ax_l, x, L, color=col, lw=2.2, zorder=3)
                else:                   # the other βs: means over seeds only, so the panel stays legible
                    ax_a.plot(x, np.nanmean(Y, axis=0), color=col, lw=1.1)
                    ax_l.plot(x, np.nanmean(L, axis=0), color=col, lw=1.1)
            ax_a.set_ylabel("validation acc.")
            ax_l.set_ylabel("training loss")
            ax_l.set_yscale("log")
            _plain(ax_l, x=False, y=True, decades=True)
            ax_a.set_title(f"({chr(97 + 2 * i)}) N = {N:,}: validation accuracy", loc="left")
            ax_l.set_title(f"({chr(98 + 2 * i)}) N = {N:,}: training loss", loc="left")
        for ax in axes[-1]:
            ax.set_xlabel("epoch")
        sm = cm.ScalarMappable(norm=norm, cmap=F.BATCH_CMAP)
        cb = fig.colorbar(sm, ax=axes, label="batch size S = β S₀ (η/S fixed)", fraction=0.04, pad=0.02)
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

        cb.ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        cb.ax.yaxis.set_minor_formatter(NullFormatter())
        for ax in axes[-1]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def final_figure(results, facts, params):
    """(a) final accuracy, (b) final training loss against β, (c) the difference to β = 1 with the
    rule's intervals, (d) the curve distance to β = 1 of the two rescalings."""
    sizes = facts["sizes"]
    colors = _size_colors(sizes)
    fig, axes = F.column_figure(2, 2, row_height=2.7)
    (ax_a, ax_b), (ax_c, ax_d) = axes
    margin = facts["margin"]
    with F.style():
        for N in sizes:
            c = colors[N]
            for variant, tables, ls, mk in ((LINEAR, facts["tables"], "-", "o"), (SQRT, facts["sqrt_tables"], "--", "s")):
                tab = tables[N]
                if variant == SQRT:
                    tab = [t for t in facts["tables"][N] if t["beta"] == 1] + tab
                if not tab:
                    continue
                b = [t["beta"] for t in tab]
                label = f"N = {N:,}" if variant == LINEAR else None
                alpha = 1 if variant == LINEAR else 0.7
                if min(t["n"] for t in tab) >= 3:    # a t-interval over seeds says something from three on
                    ax_a.errorbar(b, [t["acc"] for t in tab], yerr=[min(t["acc_ci"], 0.5) for t in tab], color=c,
                                  ls=ls, marker=mk, ms=3.5, lw=1.2, capsize=2, label=label, alpha=alpha)
                else:                                # fewer seeds: the mean and every seed's accuracy
                    ax_a.plot(b, [t["acc"] for t in tab], color=c, ls=ls, marker=mk, ms=3.5, lw=1.2, label=label,
                              alpha=alpha)
                    for t in tab:
                        seeds = _acc(results.runs, N, t["beta"], variant)
                        ax_a.plot([t["beta"]] * len(seeds), seeds, ls="none", marker=mk, ms=2.5, color=c, alpha=0.35)
                ax_b.plot(b, [t["train_loss"] for t in tab], color=c, ls=ls, marker=mk, ms=3.5, lw=1.2,
                          alpha=1 if variant == LINEAR else 0.7)
            tab = facts["tables"][N]
            b = np.array([t["beta"] for t in tab])
            d = np.array([t["d"] for t in tab])
            lo = np.array([t["d_lo"] for t in tab])
            hi = np.array([t["d_hi"] for t in tab])
            ax_c.plot(b, d, color=c, marker="o", ms=3.5, lw=1.2, label=f"N = {N:,}")
            ax_c.fill_between(b, np.nan_to_num(lo, nan=0), np.nan_to_num(hi, nan=0), color=c, alpha=0.15, lw=0)
            br = facts["breaks"][N]
            if math.isfinite(br["beta_star"]):
                for ax in (ax_a, ax_c):
                    ax.axvline(br["beta_star"], color=c, ls=":", lw=1.2)
            dist = [x for x in facts["distance"] if x["N"] == N]
            if dist:
                bb = [x["beta"] for x in dist]
                ax_d.plot(bb, [x["linear"].mean() for x in dist], color=c, marker="o", ms=3.5, lw=1.2,
                          label=f"N = {N:,}")
                ax_d.plot(bb, [x["sqrt"].mean() for x in dist], color=c, marker="s", ms=3.5, lw=1.2, ls="--")
        ax_c.axhline(-margin, color="k", lw=0.8, ls="--")
        ax_c.axhline(0, color="k", lw=0.5)
        ax_a.axhline(CHANCE, color="0.5", lw=0.6, ls=":")
        for ax in axes.ravel():
            ax.set_xscale("log", base=2)
            ax.set_xlabel("β")
            _plain(ax)
        ax_a.set_ylim(0, 1)
        ax_b.set_yscale("log")
        _plain(ax_b, x=False, y=True, decades=True)
        ax_a.set_ylabel("final validation acc.")
        ax_b.set_ylabel("final training loss")
        ax_c.set_ylabel("acc. − acc. at β = 1")
        ax_d.set_ylabel("curve distance to β = 1")
        ax_a.set_title("(a) accuracy (— linear, -- √)", loc="left")
        ax_b.set_title("(b) training loss", loc="left")
        ax_c.set_title("(c) difference, 90% interval", loc="left")
        ax_d.set_title("(d) distance (— linear, -- √)", loc="left")
        ax_a.legend(loc="lower left")
        fig.tight_layout()
    return fig


def noise_figure(results, facts, params):
    """(a) B_noise along β = 1 training per size; (b) the measured breaking batch against the predicted one."""
    sizes = facts["sizes"]
    colors = _size_colors(sizes)
    S0 = params.base_batch_size
    fig, axes = F.column_figure(1, 2, row_height=2.9)
    ax_a, ax_b = axes[0]
    with F.style():
        for N in sizes:
            c = colors[N]
            rows = [r for r in results.noise if r["N"] == N]
            for s in sorted({r["seed"] for r in rows}):
                rs = sorted((r for r in rows if r["seed"] == s), key=lambda r: r["epoch"])
                ax_a.plot([r["epoch"] for r in rs], [r["B_noise"] for r in rs], color=c, lw=0.6, alpha=0.5)
            pe = facts["prediction"][N]["per_epoch"]
            ax_a.plot([p["epoch"] for p in pe], [p["B_noise"] for p in pe], color=c, marker="o", ms=3.5, lw=1.5,
                      label=f"N = {N:,}")
            ax_a.plot([p["epoch"] for p in pe], [p["B_pred"] for p in pe], color=c, ls="--", lw=1.0)
            br, pr = facts["breaks"][N], facts["prediction"][N]
            if math.isfinite(pr["lo"]):
                ax_b.fill_between([N / 1.08, N * 1.08], pr["lo"], pr["hi"], color=c, alpha=0.25, lw=0)
            lo = br["lo"] * S0
            if math.isfinite(br["hi"]) and math.isfinite(br["beta_star"]):
                mid, hi = br["beta_star"] * S0, br["hi"] * S0
                ax_b.errorbar([N], [mid], yerr=[[mid - lo], [hi - mid]], color=c, marker="o", ms=5, capsize=3, lw=1.5)
            else:   # censored: only a lower bound
                ax_b.errorbar([N], [lo], yerr=[[0], [lo]], color=c, marker="^", ms=5, capsize=3, lw=1.5, lolims=True)
        ns = np.array(sorted(sizes), float)
        ax_b.plot(ns, ns, color="0.4", lw=0.8, ls=":", label="S = N")
        ax_a.set_yscale("log")
        ax_a.set_xlabel("epoch (β = 1 training)")
        ax_a.set_ylabel(r"$B_{\mathrm{noise}} = \mathrm{Tr}\,C\,/\,|\bar g|^2$")
        ax_a.set_title("(a) noise scale (-- predicted S)", loc="left")
        ax_a.legend(loc="best")
        ax_b.set_xscale("log")
        ax_b.set_yscale("log")
        ax_b.set_xlabel("training-set size N")
        ax_b.set_ylabel("batch size")
        ax_b.set_title("(b) measured β*S₀ vs predicted", loc="left")
        _plain(ax_b, x=False, y=True, decades=True)
        ax_b.set_xticks(sorted(sizes))
        _plain(ax_b, x=True, y=False)
        _plain(ax_a, x=False, y=True, decades=True)
        ax_b.legend(loc="upper left")
        fig.tight_layout()
    return fig


def curve_rows(results) -> list[dict]:
    out = []
    for r in results.runs:
        for e, (a, l) in enumerate(zip(r["val_curve"], r["loss_curve"]), start=1):
            out.append(dict(N=r["N"], beta=r["beta"], variant=r["variant"], eta=r["eta"], S=r["S"], seed=r["seed"],
                            epoch=e, val_acc=a, train_loss=l))
    return out


def final_rows(facts) -> list[dict]:
    rows = []
    for tables in (facts["tables"], facts["sqrt_tables"]):
        for N, tab in tables.items():
            for t in tab:
                rows.append({k: t[k] for k in ("N", "beta", "variant", "n", "acc", "acc_ci", "d", "d_lo", "d_hi",
                                               "intact", "broken", "n_diverged", "train_loss")})
    return rows


def noise_rows(results) -> list[dict]:
    return [dict(r) for r in results.noise]


# -- tables of the page (markdown; ``nb.markdown`` numbers them) -----------------------------------------
def break_table(facts) -> str:
    """Claim 10: β* per training-set size with its interval."""
    lines = ["| training-set size N | β∗ | interval of β∗ |", "| ---: | ---: | :---: |"]
    for N in facts["sizes"]:
        br = facts["breaks"][N]
        est = (f"> {br['beta_max']:g} (no break)" if math.isnan(br["beta_star"]) else f"{br['beta_star']:.3g}")
        hi = "∞)" if not math.isfinite(br["hi"]) else f"{br['hi']:g}]"
        lines.append(f"| {N:,} | {est} | ({br['lo']:g}, {hi} |")
    return "\n".join(lines)


def distance_table(facts) -> str:
    """Claim 9: the mean curve distance to β = 1 of both rescalings and D, over every β (the rule), below and
    above the break the noise scale predicts, and below the break measured on the linear runs."""
    lines = ["| βs averaged | (N, β) settings | linear (points) | square root (points) | D = √ − linear (points, 95% interval) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, c in (("every β run both ways (the rule)", facts["claim9_all"]),
                    ("below the predicted break (post-hoc rule)", facts["claim9_below_predicted"]),
                    ("above the predicted break (the control)", facts["claim9_above_predicted"]),
                    ("below the break measured on the linear runs (secondary view)", facts["claim9_below_measured"])):
        if not c["n_settings"]:
            lines.append(f"| {name} | none | – | – | – |")
            continue
        ci = (f" [{signed(100 * c['lo'])}, {signed(100 * c['hi'])}]" if math.isfinite(c["lo"]) else "")
        lines.append(f"| {name} | {c['n_settings']} | {100 * c['linear']:.1f} | {100 * c['sqrt']:.1f} | "
                     f"{signed(100 * c['mean'])}{ci} |")
    return "\n".join(lines)


def prediction_table(facts, params) -> str:
    """The measured breaking batch β*S₀ against S_pred along β = 1 training and at its end."""
    S0 = params.base_batch_size
    lines = ["| training-set size N | measured β∗S₀ | its interval | S_pred along training | S_pred at the end |",
             "| ---: | ---: | :---: | :---: | ---: |"]
    for N in facts["sizes"]:
        br, pr = facts["breaks"][N], facts["prediction"][N]
        meas = "–" if math.isnan(br["beta_star"]) else f"{br['beta_star'] * S0:.0f}"
        hi = "∞)" if not math.isfinite(br["hi"]) else f"{br['hi'] * S0:.0f}]"
        rng = f"{pr['lo']:.0f}–{pr['hi']:.0f}" if math.isfinite(pr["lo"]) else "–"
        end = f"{pr['end']:.0f}" if math.isfinite(pr["end"]) else "–"
        lines.append(f"| {N:,} | {meas} | ({br['lo'] * S0:.0f}, {hi} | {rng} | {end} |")
    return "\n".join(lines)


# -- the second network (the paper's Fig. 7) -------------------------------------------------------------
def _break_marks(ax, sizes, breaks, color, marker, label):
    """β* against N with its interval (lo, hi]: a bar from lo to hi, an arrow head at the top where no β is
    clearly broken (hi = ∞: the bar stops at the largest β run); no crossing in range: a triangle at the
    largest β (a lower bound)."""
    for j, N in enumerate(sizes):
        br = breaks[N]
        lab = label if j == 0 else None
        if math.isfinite(br["beta_star"]):
            top = br["hi"] if math.isfinite(br["hi"]) else br["beta_max"]
            ax.plot([N, N], [br["lo"], top], color=color, lw=1.3)
            ax.plot([N], [br["lo"]], color=color, marker="_", ms=7)
            ax.plot([N], [top], color=color, marker="_" if math.isfinite(br["hi"]) else "^", ms=7 if
                    math.isfinite(br["hi"]) else 4.5)
            ax.plot([N], [br["beta_star"]], color=color, marker=marker, ms=5, ls="none", label=lab)
        else:
            ax.plot([N], [br["beta_max"]], color=color, marker="^", ms=6, ls="none", label=lab)
    est = [(N, breaks[N]["beta_star"]) for N in sizes if math.isfinite(breaks[N]["beta_star"])]
    if len(est) > 1:
        ax.plot(*zip(*est), color=color, lw=0.8, ls="--")


def fig7_figure(f7, facts, results):
    """(a) the second network's accuracy difference to β = 1 against β, one line per N, with the 90%
    Welch intervals of the rule; (b) β* against the training-set size, both networks."""
    from matplotlib.ticker import FuncFormatter

    fig7 = results.fig7
    fig, axes = F.column_figure(1, 2, row_height=2.9)
    ax_a, ax_b = axes[0]
    with F.style():
        colors = _size_colors(f7["sizes"])
        for N in f7["sizes"]:
            tab = f7["tables"][N]
            b = np.array([t["beta"] for t in tab])
            ax_a.plot(b, [t["d"] for t in tab], color=colors[N], marker="o", ms=3.5, lw=1.2, label=f"N = {N:,}")
            ax_a.fill_between(b, np.nan_to_num([t["d_lo"] for t in tab], nan=0),
                              np.nan_to_num([t["d_hi"] for t in tab], nan=0), color=colors[N], alpha=0.15, lw=0)
            if math.isfinite(f7["breaks"][N]["beta_star"]):
                ax_a.axvline(f7["breaks"][N]["beta_star"], color=colors[N], ls=":", lw=1.2)
        ax_a.axhline(-f7["margin"], color="k", lw=0.8, ls="--")
        ax_a.axhline(0, color="k", lw=0.5)
        ax_a.set_xscale("log", base=2)
        _plain(ax_a)
        ax_a.set_xlabel("β")
        ax_a.set_ylabel("acc. − acc. at β = 1")
        ax_a.set_title(f"(a) {fig7.architecture.split(' (')[0]}", loc="left")
        ax_a.legend(loc="lower left")
        _break_marks(ax_b, f7["sizes"], f7["breaks"], "0.1", "o", fig7.architecture.split(" (")[0])
        _break_marks(ax_b, facts["sizes"], facts["breaks"], "0.55", "s", results.architecture.split(" (")[0])
        ax_b.set_xscale("log")
        ax_b.set_yscale("log", base=2)
        ax_b.set_xlabel("training-set size N")
        ax_b.set_ylabel("β∗")
        ax_b.set_title("(b) breaking point against N", loc="left")
        ax_b.set_xticks(sorted(set(f7["sizes"]) | set(facts["sizes"])))
        _plain(ax_b, x=True, y=True)
        ax_b.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax_b.tick_params(axis="x", labelrotation=45)
        ax_b.legend(loc="upper left")
        fig.tight_layout()
    return fig


def fig7_rows(f7) -> list[dict]:
    """The numbers behind the figure: per (N, β) the rule's table row, and β* with its interval per N."""
    rows = []
    for N in f7["sizes"]:
        br = f7["breaks"][N]
        for t in f7["tables"][N]:
            rows.append({**{k: t[k] for k in ("N", "beta", "n", "acc", "acc_ci", "d", "d_lo", "d_hi", "intact",
                                              "broken", "n_diverged", "train_loss")},
                         "beta_star": br["beta_star"], "beta_star_lo": br["lo"], "beta_star_hi": br["hi"]})
    return rows


_DATA_NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}


def fig7_setup_text(fig7, params) -> str:
    """The second network's setting in words (glued into the section's prose)."""
    sizes = sorted(params.fig7_train_sizes)
    return (f"a {fig7.architecture} on {_DATA_NAMES[params.dataset]}, training sets of "
            f"{', '.join(f'{n:,}' for n in sizes[:-1])} and {sizes[-1]:,} examples, base η₀ = {params.fig7_base_lr:g} "
            f"and S₀ = {params.fig7_base_batch_size:,}, β ∈ {{{', '.join(f'{b:g}' for b in params.fig7_betas)}}} "
            f"(a β with β S₀ > N is not run for that N), {params.fig7_seeds} seeds per setting, "
            f"{params.fig7_epochs} epoch{'' if params.fig7_epochs == 1 else 's'}, "
            + ("with random crops and flips" if params.augment else "no augmentation"))


def fig7_deviation_text(fig7, params) -> str:
    """What differs from the paper's Fig. 7, one sentence."""
    if params.dataset != "cifar10" or params.fig7_model not in ("resnet20", "resnet32", "resnet56"):
        return (f"Deviation from the paper: a {fig7.architecture.split(' (')[0]} on "
                f"{_DATA_NAMES[params.dataset]} with training sets far smaller than the paper's, sized for a "
                "CPU, instead of a ResNet on CIFAR-10 with "
                "twelve to forty-five thousand images; the pattern is the question, not the numbers.")
    return (f"Deviation from the paper: its ResNet depth, base (η₀, S₀), β values and epochs are not stated; "
            f"this profile's are chosen here ({fig7.architecture.split(' (')[0]}, {params.fig7_epochs} epochs).")
