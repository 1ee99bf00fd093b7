"""The shared figure style is legible at column width: every text of a figure drawn with it is at
least MIN_FONT_PX CSS pixels tall where the page shows it, down to the smallest scale the browser
check lets a figure be shown at; chapter code does not type smaller fonts."""
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from replication import figures  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_check  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _shown_px(points: float, fig) -> float:
    """A font's height in CSS px where the page shows ``fig``: drawn at fig.dpi, declared at its width
    in px (myst-nb), shown at no less than the browser check's scale of that."""
    return points * fig.dpi / 72 * browser_check.MIN_IMAGE_SCALE


def test_every_text_of_a_column_figure_reads_at_11_px():
    fig, axes = figures.column_figure(1, 2)
    with figures.style():
        ax = axes[0][0]
        ax.plot([0, 1], [0, -1], label=r"$\eta/4S$")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title("(a)")
        ax.legend(title="runs")
        ax.annotate("note", (0.5, 0.5))
        fig.canvas.draw()
        texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert fig.get_figwidth() * fig.dpi == 660, "drawn for the 660 px column"
    kinds = {t.get_text() for t in texts}
    assert {"epoch", "loss", "(a)", "runs", "note", r"$\eta/4S$"} <= kinds and any("−" in k for k in kinds), kinds
    small = {t.get_text(): round(_shown_px(t.get_fontsize(), fig), 1) for t in texts
             if _shown_px(t.get_fontsize(), fig) < figures.MIN_FONT_PX}
    plt.close(fig)
    assert not small, f"text below {figures.MIN_FONT_PX} px at {browser_check.MIN_IMAGE_SCALE:.0%} of the column: {small}"


def test_the_browser_check_scale_is_the_one_the_style_is_sized_for():
    assert browser_check.MIN_IMAGE_SCALE == figures.MIN_SHOWN_SCALE
    assert figures.SMALL_FONT * figures.DPI / 72 * figures.MIN_SHOWN_SCALE >= figures.MIN_FONT_PX


def test_no_chapter_types_a_font_below_the_small_font():
    typed = re.compile(r"\b(?:title_)?fontsize\s*=\s*([0-9.]+)")
    found = [f"{path.relative_to(ROOT)}: fontsize={m.group(1)}"
             for path in sorted((ROOT / "replication").rglob("*.py"))
             for m in typed.finditer(path.read_text()) if float(m.group(1)) < figures.SMALL_FONT]
    assert not found, found
