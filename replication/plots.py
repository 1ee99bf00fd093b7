"""The older figure style and provenance footer, kept only for ``plots_sharpness`` until the η/S
chapter moves its figures onto :mod:`replication.figures` (which every other chapter uses); delete
this module then."""
from __future__ import annotations

import matplotlib.pyplot as plt

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
