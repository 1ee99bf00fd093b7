"""The claims page's summary figure, :func:`effect_against_margin`: each claim's deciding number and its
interval against the rule's margins, coloured by outcome, with the claim's rolled-up outcome (the
roll-up of :data:`replication.chapters.claims.ROLLUP`) and the count of its tests by outcome."""
from __future__ import annotations

import numpy as np

from ... import claims as _claims
from ... import figures as F
from . import decision_rows  # noqa: F401  (the rows this figure draws; defined beside _deciding)

#: outcome -> colour; the book's colours: holds green, fails red, undecided greys, not discriminating orange
COLORS = {_claims.HOLDS: "#2ca02c", _claims.FAILS: "#d62728", _claims.INCONCLUSIVE: "#9a9a9a",
          _claims.NOT_DISCRIMINATING: "#ff7f0e", _claims.NOT_RUN: "#ffffff"}

#: the rolled-up outcome's words: the same hues, dark enough to read
TEXT = {_claims.HOLDS: "#1e7a1e", _claims.FAILS: "#b51f20", _claims.INCONCLUSIVE: "#5a5a5a"}


#: what the shading of :func:`effect_against_margin` means
HOLDS_FILL, FAILS_HATCH = "#cfeccf", "#d62728"


def _limits(d: dict) -> tuple[float, float]:
    """The x range of one row: the estimate, its interval and every finite end of the rule's regions,
    padded; within the measure's natural bounds where it has them."""
    log = d.get("scale") == "log"
    ends = [d.get(k) for k in ("value", "lo", "hi")]
    ends += [x for key in ("holds", "fails", "value_holds") for region in d.get(key, ()) for x in region]
    xs = [x for x in ends if x is not None and (not log or x > 0)]
    if not xs:
        return (0.5, 2.0) if log else (-1.0, 1.0)
    t = [float(np.log(x)) if log else float(x) for x in xs]
    lo, hi = min(t), max(t)
    span = hi - lo if hi > lo else (abs(lo) if lo else 1.0)
    lo, hi = lo - 0.12 * span, hi + 0.12 * span
    if log:
        lo, hi = float(np.exp(lo)), float(np.exp(hi))
    bounds = d.get("bounds")
    if bounds and not log:
        low, high = (lo if bounds[0] is None else bounds[0]), (hi if bounds[1] is None else bounds[1])
        pad = 0.03 * (high - low)
        lo, hi = max(lo, low - pad), min(hi, high + pad)
    return lo, hi


def effect_against_margin(record, rollup):
    """One row per deciding test of each paper claim (:func:`decision_rows`), each on its own scale
    (the claim and its outcome above, the measure and the interval's level below):
    the rule's *holds* region shaded green (an interval wholly inside holds; for a trend the estimate
    must also pass the dotted line), its *fails* regions hatched red (an interval wholly inside
    fails), the estimate as a dot and its interval as a bar, both coloured by the test's outcome.
    Above each row: the claim and its outcome by ``rollup``, at the right the counts of its tests by
    outcome.  A claim whose tests have no single deciding number says so in its row."""
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    from . import tally

    import matplotlib.pyplot as plt

    rows = decision_rows(record, rollup)
    # laid out in inches, top to bottom (no tight_layout guesswork): the legend, then per row its title,
    # its axis and, under a row with a number, the tick labels and the measure
    legend, title, axis, below, blank, left, right = 0.6, 0.3, 0.32, 0.5, 0.3, 0.3, 0.15
    heights = [title + axis + below if v is not None else title + blank for _, _, v in rows]
    height = legend + sum(heights) + 0.05
    with F.style():
        fig = plt.figure(figsize=(F.COLUMN_INCHES, height))
        axes, top = [], height - legend
        for _, _, v in rows:
            ax_h = axis if v is not None else blank
            bottom = top - title - ax_h
            axes.append(fig.add_axes((left / F.COLUMN_INCHES, bottom / height,
                                      1 - (left + right) / F.COLUMN_INCHES, ax_h / height)))
            top = bottom - (below if v is not None else 0.0)
        for ax, (n, outcome, v) in zip(axes, rows):
            vs = record.for_claim(n)
            ax.set_title(f"claim {n}: {outcome}", loc="left", fontweight="bold", color=TEXT.get(outcome, "0.2"), pad=3)
            ax.set_title(tally(vs), loc="right", fontsize=F.SMALL_FONT, color="0.3", pad=3)
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            ax.grid(False)
            if v is None:
                ax.set_xticks([])
                ax.spines["bottom"].set_visible(False)
                ax.text(0.0, 0.5, "no single number: see the claim's tests" if vs else "not tested in this build",
                        transform=ax.transAxes, va="center", ha="left", fontsize=F.SMALL_FONT, color="0.35")
                continue
            _draw_decision(ax, v)
        handles = [Line2D([], [], marker="o", ls="-", color=TEXT.get(o, "0.3"), markerfacecolor=COLORS[o],
                          markeredgecolor="0.15", label=o)
                   for o in (_claims.HOLDS, _claims.FAILS, _claims.INCONCLUSIVE, _claims.NOT_DISCRIMINATING)]
        handles += [Patch(facecolor=HOLDS_FILL, label="holds region"),
                    Patch(facecolor="none", edgecolor=FAILS_HATCH, hatch="///", lw=0, label="fails region")]
        fig.legend(handles=handles, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 1.0), fontsize=F.SMALL_FONT,
                   handlelength=1.6, columnspacing=1.2)
    return fig


def _draw_decision(ax, v) -> None:
    """One row: regions, margin lines, the estimate and its interval (artists tagged by ``gid``)."""
    d = v.decision
    log = d.get("scale") == "log"
    if log:
        ax.set_xscale("log")
    lo_x, hi_x = _limits(d)
    ax.set_xlim(lo_x, hi_x)
    ax.set_ylim(-1, 1)

    def span(region):
        a, b = region
        return (lo_x if a is None else a, hi_x if b is None else b)

    for region in d.get("holds", ()):
        ax.axvspan(*span(region), color=HOLDS_FILL, lw=0, zorder=0, gid="holds")
    for region in d.get("fails", ()):
        ax.axvspan(*span(region), facecolor="none", edgecolor=FAILS_HATCH, hatch="///", lw=0, alpha=0.45,
                   zorder=0.5, gid="fails")
    ends = {x for key in ("holds", "fails") for region in d.get(key, ()) for x in region if x is not None}
    for x in sorted(ends):
        ax.axvline(x, color="0.35", lw=0.9, zorder=1, gid="margin")
    for region in d.get("value_holds", ()):
        for x in region:
            if x is not None:
                ax.axvline(x, color=TEXT[_claims.HOLDS], lw=1.2, ls=":", zorder=1, gid="estimate-threshold")
    if d.get("value") is None:
        ax.text(0.5, 0.5, "no estimate at this profile", transform=ax.transAxes, ha="center", va="center",
                fontsize=F.SMALL_FONT, color="0.2", bbox=dict(facecolor="white", edgecolor="none", pad=1))
    else:
        line = TEXT.get(v.outcome, "#5a5a5a") if v.outcome in TEXT else COLORS.get(v.outcome, "0.3")
        if d.get("lo") is not None and d.get("hi") is not None:
            ax.plot([d["lo"], d["hi"]], [0, 0], color=line, lw=3, solid_capstyle="butt", zorder=3,
                    gid=f"interval:{v.id}")
        elif d.get("level"):
            ax.text(0.99, 0.5, "no interval", transform=ax.transAxes, ha="right", va="center", fontsize=F.SMALL_FONT,
                    color="0.2", bbox=dict(facecolor="white", edgecolor="none", pad=1))
        ax.plot([d["value"]], [0], marker="o", ms=8, color=COLORS.get(v.outcome, "#ffffff"), markeredgecolor="0.15",
                zorder=4, ls="none", gid=f"value:{v.id}")
    ax.tick_params(axis="x", labelsize=F.SMALL_FONT, pad=1)
    if log:                                   # ratios: ticks at the margins and at 1, written as plain numbers
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ticks = sorted({x for x in ends | {1.0} if lo_x <= x <= hi_x})
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.3g}".replace("-", "\u2212")))
    ax.set_xlabel(d["measure"] + (f" · {d['level']} interval" if d.get("level") else ""), loc="left",
                  fontsize=F.SMALL_FONT, labelpad=1)
    if not log:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))


def effect_note(record, rollup) -> str:
    """The computed sentence under :func:`effect_against_margin`: which claims have a row with a single
    deciding number, and which are decided by several parts (read in their sections)."""
    rows = decision_rows(record, rollup)
    with_number = sorted({n for n, _, v in rows if v is not None})
    without = sorted({n for n, _, v in rows if record.for_claim(n)} - set(with_number))
    untested = [n for n in _claims.PAPER_CLAIMS if not record.for_claim(n)]

    def listed(ns):
        return ", ".join(str(n) for n in ns)

    out = [f"{len(with_number)} of the paper's {len(_claims.PAPER_CLAIMS)} claims show a deciding test with a single "
           "number" + (f" (claims {listed(with_number)})" if with_number else "") + "."]
    if without:
        out.append(f"Claim{'s' if len(without) > 1 else ''} {listed(without)} "
                   f"{'are' if len(without) > 1 else 'is'} decided by rules with several parts (every setting, every "
                   "β, or both of two measures), so no one number is drawn: their sections below give each part.")
    if untested:
        out.append(f"Not tested in this build: claim{'s' if len(untested) > 1 else ''} {listed(untested)}.")
    return " ".join(out)
