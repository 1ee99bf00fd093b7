"""The claims page's summary figure: every test of every claim, one square each, coloured by its
outcome, with the claim's rolled-up outcome at the end of its row (the roll-up of
:data:`replication.chapters.claims.ROLLUP`)."""
from __future__ import annotations

from ... import claims as _claims
from ... import figures as F

#: outcome -> colour; the book's colours: holds green, fails red, undecided greys, not discriminating orange
COLORS = {_claims.HOLDS: "#2ca02c", _claims.FAILS: "#d62728", _claims.INCONCLUSIVE: "#9a9a9a",
          _claims.NOT_DISCRIMINATING: "#ff7f0e", _claims.NOT_RUN: "#ffffff"}

#: the rolled-up outcome's words: the same hues, dark enough to read
TEXT = {_claims.HOLDS: "#1e7a1e", _claims.FAILS: "#b51f20", _claims.INCONCLUSIVE: "#5a5a5a"}


def outcome_strip(record, rollup):
    """One row per paper claim (then the book's own tests): a square per test in the order the
    chapters gave them, coloured by outcome; right of the row, the claim's outcome by ``rollup``."""
    from matplotlib.patches import Patch

    rows = [(f"claim {n}", record.for_claim(n), rollup(record.for_claim(n))) for n in _claims.PAPER_CLAIMS]
    ours = record.for_claim(None)
    if ours:
        rows.append(("our tests", ours, ""))
    width = max((len(vs) for _, vs, _ in rows), default=1)
    with F.style():
        fig, axes = F.column_figure(1, 1, row_height=0.3 * len(rows) + 1.2)
        ax = axes[0, 0]
        for i, (label, vs, outcome) in enumerate(rows):
            y = len(rows) - 1 - i
            for j, v in enumerate(vs):
                ax.add_patch(_square(j, y, COLORS.get(v.outcome, "#ffffff")))
            if not vs:
                ax.text(0, y, "not tested", va="center", ha="left", fontsize=F.SMALL_FONT, color="0.4")
            ax.text(width + 0.6, y, outcome, va="center", ha="left", fontsize=F.SMALL_FONT, fontweight="bold",
                    color=TEXT.get(outcome, "0.2"))
        ax.set_xlim(-0.7, width + 4.5)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
        ax.set_xticks([])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        handles = [Patch(facecolor=COLORS[o], edgecolor="0.5", label=o)
                   for o in (_claims.HOLDS, _claims.FAILS, _claims.INCONCLUSIVE, _claims.NOT_DISCRIMINATING)]
        fig.legend(handles=handles, loc="upper center", ncol=4, bbox_to_anchor=(0.5, 1.0), fontsize=F.SMALL_FONT)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (0.3 * len(rows) + 1.2)))
    return fig


def _square(x: float, y: float, color: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.42, y - 0.36), 0.84, 0.72, facecolor=color, edgecolor="0.45", lw=0.6)
