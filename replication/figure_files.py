"""A computed figure as the page shows it: a PNG at twice its resolution, and its vector twin.

The page shows the PNG (fast, and the same on every browser) at the size it was drawn for; a click
opens the SVG, which stays sharp at any zoom.  The two are tied by the PNG's content:

    name of the SVG = sha256(PNG bytes) + ".svg"

which is also the name myst-nb gives the PNG it writes for the page (``<sha256>.png``), so the
book's Sphinx extension (:func:`replication.assets.vector_targets`) finds the SVG of every shown
PNG without any table between them (a PNG the page shows from a file, :func:`saved`, is hashed
there).  A figure whose SVG is missing keeps its PNG as the click target.

Both files are made from the same :class:`matplotlib.figure.Figure` in one call
(:func:`render`); the SVG carries no date and a fixed hash salt, so the same figure gives the same
bytes in every build.
"""
from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

VECTOR_FOLDER = Path("data") / "figures"     # beside the executing notebook, as the CSV exports


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return struct.unpack(">II", png[16:24])


def render(fig) -> tuple[bytes, bytes]:
    """``(png, svg)`` of ``fig``: the PNG at twice the figure's dpi (shown at half its pixel size),
    the SVG with text as paths (no font needed to read it); both cropped as the page crops."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "replication", "svg.fonttype": "path"}):
        kw = dict(facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor(), bbox_inches="tight")
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=2 * fig.dpi, metadata={"Software": None}, **kw)
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None}, **kw)
    return png.getvalue(), svg.getvalue()


class ShownFigure:
    """What a notebook displays (or glues) for a figure: its PNG, declared at half its pixel size
    (IPython's "retina" convention), so the page shows it at the column width it was drawn for."""

    def __init__(self, png: bytes, description: str = "figure"):
        self.png = png
        self.width, self.height = (n // 2 for n in png_size(png))
        self.description = description

    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"image/png": self.png, "text/plain": f"<{self.description}>"},
                {"image/png": {"width": self.width, "height": self.height}})


def vector_name(png: bytes) -> str:
    """The file name of the SVG twin of the PNG ``png`` (see the module docstring)."""
    return hashlib.sha256(png).hexdigest() + ".svg"


def _write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically, leaving an identical file untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_bytes() != data:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)


def shown(fig, folder: Path | str = VECTOR_FOLDER) -> ShownFigure:
    """Render ``fig``; write its SVG as ``<folder>/<sha256 of the PNG>.svg`` (relative to the executing
    notebook); return the PNG to display."""
    png, svg = render(fig)
    _write(Path(folder) / vector_name(png), svg)
    w, h = fig.get_size_inches()
    return ShownFigure(png, f"Figure {w:.1f} x {h:.1f} in")


def saved(fig, path: Path | str, folder: Path | str = VECTOR_FOLDER) -> str:
    """A figure a page shows from a file (a markdown image): its PNG written to ``path`` and its SVG
    twin to ``<folder>/<sha256 of the PNG>.svg``, as :func:`shown` does; returns ``path``."""
    png, svg = render(fig)
    _write(Path(path), png)
    _write(Path(folder) / vector_name(png), svg)
    return str(path)
