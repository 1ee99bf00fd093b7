"""The offline browser check: a tiny jupyter-book 1.x build passes; broken pages fail.

The throwaway book uses the same `_config.yml` keys as the real book (see BOOK_CONFIG):
local MathJax 3 via replication.assets.install_static_assets, no notebook execution.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_check  # noqa: E402

from replication.assets import install_static_assets  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_REASON = browser_check.browser_available()
if _REASON:
    pytest.skip(f"headless Chromium unavailable: {_REASON}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

# Keep in step with the real book's _config.yml.
BOOK_CONFIG = """\
title: Browser check fixture
author: test
execute:
  execute_notebooks: "off"
only_build_toc_files: true
sphinx:
  extra_extensions: [replication.assets]  # installs MathJax; de-duplicates inline scripts
  config:
    mathjax_path: mathjax/tex-chtml.js   # served from _static/, see replication.assets
    html_extra_path: [_offline]           # filled by replication.assets.install_static_assets
    nb_ipywidgets_js: {}                  # myst-nb would add require.js etc. from CDNs
    html_context:
      default_mode: auto                  # else pydata-sphinx-theme console.error on 1st visit
"""

TOC = """\
format: jb-book
root: index
chapters:
- file: math
- file: image
- file: notebook
"""


def _png(width: int = 16, height: int = 8) -> bytes:
    """A small valid RGB PNG, no dependencies."""
    raw = b"".join(b"\x00" + b"".join(bytes([(x * 16) % 256, (y * 32) % 256, 128])
                                      for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _figure_png(size=(2, 1.5)) -> bytes:
    """A figure of ``size`` inches at 100 dpi (default 200 x 150 px), written as the book's notebooks
    write them: twice the resolution of the size it declares (100 x 75 px; see
    replication.notebook.sharp_figures)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


FIGURES = (_figure_png(), _figure_png((13.42, 12.62)))   # the second at the size of Fig. 3.1, as the book declares it


def _notebook() -> dict:
    png, column = (base64.b64encode(f).decode() for f in FIGURES)
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {},
             "source": ["# Notebook\n", "\n", "A figure, and math $e^{i\\pi} = -1$."]},
            {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
             "source": ["import matplotlib.pyplot as plt\n", "plt.plot([0, 1, 2], [0, 1, 4]);"],
             "outputs": [{"output_type": "display_data",
                          "metadata": {"image/png": {"width": 100, "height": 75}},
                          "data": {"image/png": png,
                                   "text/plain": ["<Figure size 100x75 with 1 Axes>"]}}]},
            {"cell_type": "code", "id": "c2", "metadata": {}, "execution_count": 2,
             "source": ["plt.plot([0, 1, 2], [0, 1, 4]);"],
             "outputs": [{"output_type": "display_data",
                          "metadata": {"image/png": {"width": 671, "height": 631}},
                          "data": {"image/png": column,
                                   "text/plain": ["<Figure size 671x631 with 1 Axes>"]}}]},
        ],
    }


def make_book(src: Path) -> Path:
    """Write the fixture book's sources into ``src``; return ``src``."""
    src.mkdir(parents=True, exist_ok=True)
    (src / "_config.yml").write_text(BOOK_CONFIG)
    (src / "_toc.yml").write_text(TOC)
    (src / "index.md").write_text("# Fixture\n\nPages with math, an image and a notebook.\n")
    (src / "math.md").write_text(
        "# Math\n\nInline $\\alpha = \\frac{\\eta}{B}$ and display:\n\n"
        "$$\n\\mathbb{E}[\\|\\nabla L\\|^2] = \\sum_i \\lambda_i"
        " \\quad \\boldsymbol{\\theta}\n$$\n\n"  # \\boldsymbol: a lazily loaded TeX extension
        "```{math}\n:label: eq-sde\n"
        "d\\theta = -\\nabla L\\,dt + \\sqrt{\\eta/B}\\,dW\n```\n\nSee {eq}`eq-sde`.\n")
    (src / "figure.png").write_bytes(_png())
    (src / "image.md").write_text("# Image\n\n![a gradient](figure.png)\n")
    (src / "notebook.ipynb").write_text(json.dumps(_notebook()))
    vectors = src / "data" / "figures"          # the SVG twins, as replication.figure_files writes them
    vectors.mkdir(parents=True, exist_ok=True)
    for png in FIGURES:
        (vectors / (hashlib.sha256(png).hexdigest() + ".svg")).write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')
    install_static_assets(src)
    return src


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    src = make_book(tmp_path_factory.mktemp("book"))
    # `replication` is installed editable by scripts/setup.sh; also work from a bare checkout.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run([str(JUPYTER_BOOK), "build", "--warningiserror", "--quiet", str(src)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, (run.stdout + run.stderr)[:6000]
    html = src / "_build" / "html"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    return html


@pytest.fixture(scope="module")
def driver():
    with browser_check.browser() as d:
        yield d


def _copy(html: Path, dest: Path) -> Path:
    shutil.copytree(html, dest)
    return dest


def test_fixture_book_passes(built_book, driver):
    pages = browser_check.list_pages(built_book)
    assert {"index.html", "math.html", "image.html", "notebook.html",
            "genindex.html", "search.html"} <= set(pages)
    assert browser_check.check_site(built_book, driver=driver) == []
    # The math really was typeset by the local MathJax.
    with browser_check.serve(built_book) as base:
        driver.get(base + "math.html")
        assert browser_check.check_page(driver, base, "math.html") == []
        n = driver.execute_script("return document.querySelectorAll('mjx-container').length")
        src = driver.execute_script("return MathJax.startup && document.querySelector("
                                    "'script[src*=\"tex-chtml\"]').src")
        loaded = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        fonts = [u for u in loaded if u.endswith(".woff")]
        imgs = {}
        for page in ("image.html", "notebook.html"):
            driver.get(base + page)
            imgs[page] = driver.execute_script(
                "return Array.from(document.querySelectorAll('main img'))"
                ".filter(i => i.naturalWidth > 0).length")
        zoom = driver.execute_script(     # shown at its declared size, linked to its full-resolution file
            "const i = document.querySelector('.cell_output img'), a = i.closest('a[href]');"
            "return [i.clientWidth, i.naturalWidth, a && a.getAttribute('href')]")
    assert zoom[0] == 100 and zoom[1] == 200 and zoom[2].endswith(".svg"), zoom   # the click opens the SVG twin
    assert n >= 3  # inline, $$ display, {math} block
    assert src.startswith(base) and src.split("?")[0].endswith("_static/mathjax/tex-chtml.js")
    assert fonts and all(u.startswith(base + "_static/mathjax/output/chtml/fonts/")
                         for u in fonts), fonts
    assert base + "_static/mathjax/input/tex/extensions/boldsymbol.js" in loaded, loaded
    assert imgs == {"image.html": 1, "notebook.html": 2}, imgs


def test_broken_image_console_error_external_request(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    (html / "broken.html").write_text(
        "<!doctype html><title>b</title><img src='_images/nope.png' alt='x'>")
    (html / "consolelog.html").write_text(
        "<!doctype html><title>c</title><script>console.error('boom from page')</script>")
    (html / "external.html").write_text(
        "<!doctype html><title>e</title><link rel=stylesheet href='https://cdn.example.org/x.css'>")
    problems = browser_check.check_site(
        html, ["broken.html", "consolelog.html", "external.html", "index.html"], driver=driver)
    text = "\n".join(problems)
    assert any(p.startswith("broken.html: image does not decode: ") and "nope.png" in p
               for p in problems), text
    assert any(p.startswith("consolelog.html: console error:") and "boom from page" in p
               for p in problems), text
    assert any(p.startswith("external.html: external request: https://cdn.example.org/")
               for p in problems), text
    assert not [p for p in problems if p.startswith("index.html")], text


def test_figure_without_its_vector_version_fails(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    page = (html / "notebook.html").read_text()
    first, second = sorted({m for m in re.findall(r'href="(_images/vector/[0-9a-f]{64}\.svg)"', page)})
    (html / first).unlink()                                       # a twin that does not load
    (html / second).write_text("not an svg")                      # a twin that is no SVG
    problems = browser_check.check_site(html, ["notebook.html"], driver=driver)
    text = "\n".join(problems)
    assert any("vector version does not load" in p for p in problems), text
    assert any("vector version is not an SVG file" in p for p in problems), text
    (html / "notebook.html").write_text(re.sub(r'href="_images/vector/([0-9a-f]{64})\.svg"', r'href="_images/\1.png"', page))
    problems = browser_check.check_site(html, ["notebook.html"], driver=driver)
    assert sum("click target is not its vector (SVG) version" in p for p in problems) == 2, problems


def test_math_without_mathjax_fails(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    shutil.rmtree(html / "_static" / "mathjax")
    # The Sphinx default: MathJax from a CDN (unreachable here, and blocked by the checker).
    page = (html / "math.html").read_text()
    assert page.count("_static/mathjax/tex-chtml.js") == 1
    (html / "cdn.html").write_text(page.replace(
        "_static/mathjax/tex-chtml.js", "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"))
    problems = browser_check.check_site(html, ["math.html", "image.html", "cdn.html"],
                                        driver=driver)
    text = "\n".join(problems)
    assert any(p.startswith("cdn.html: external request: https://cdn.jsdelivr.net/")
               for p in problems), text
    assert any(p.startswith("cdn.html: has math") for p in problems), text
    assert any(p.startswith("math.html: has math") and "MathJax did not load" in p
               for p in problems), text
    assert any(p.startswith("math.html: console error:") for p in problems), text
    assert not [p for p in problems if p.startswith("image.html")], text


def test_tex_error_and_missing_page(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    page = (html / "math.html").read_text()
    (html / "math.html").write_text(page.replace("\\alpha", "x^2^3", 1))  # TeX error
    problems = browser_check.check_site(html, ["math.html", "missing.html"], driver=driver)
    text = "\n".join(problems)
    assert any(p.startswith("math.html: MathJax error:") for p in problems), text
    assert any(p.startswith("missing.html:") for p in problems), text
    # Unbalanced braces hide the closing delimiter: MathJax leaves the source as text.
    (html / "math.html").write_text(page.replace("\\alpha", "\\frac{", 1))
    problems = browser_check.check_site(html, ["math.html"], driver=driver)
    assert any(p.startswith("math.html: untypeset TeX in text:") for p in problems), problems


def test_wide_table_shrunk_figure_and_machine_path_fail(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    png = base64.b64encode(_png(1600, 40)).decode()
    (html / "wide.html").write_text(
        "<!doctype html><title>w</title><main><table><tr>" + "<td>column_of_numbers</td>" * 80
        + "</tr></table></main>")
    (html / "shrunk.html").write_text(
        f"<!doctype html><title>s</title><main style='width:600px'>"
        f"<img style='max-width:100%' src='data:image/png;base64,{png}'></main>")
    (html / "path.html").write_text(
        "<!doctype html><title>p</title><main><p>data from verified cache /home/alice/.cache/data</p>"
        "<p>a store on /shared/lab/store is an example, not a machine path</p></main>")
    (html / "flat.html").write_text(                      # a notebook figure without a larger view
        f"<!doctype html><title>n</title><main style='width:900px'><div class='cell_output'>"
        f"<img alt='x.png' src='data:image/png;base64,{base64.b64encode(_png(300, 40)).decode()}'></div></main>")
    (html / "fits.html").write_text(
        f"<!doctype html><title>f</title><main style='width:900px'><table><tr><td>1</td></tr></table>"
        f"<img alt='a plot' src='data:image/png;base64,{base64.b64encode(_png(300, 40)).decode()}'></main>")
    problems = browser_check.check_site(html, ["wide.html", "shrunk.html", "path.html", "flat.html", "fits.html"],
                                        driver=driver)
    text = "\n".join(problems)
    assert any(p.startswith("wide.html: table wider than the column") for p in problems), text
    assert any(p.startswith("shrunk.html: figure shown at") for p in problems), text
    assert any(p.startswith("flat.html: figure cannot be enlarged") and "no link" in p for p in problems), text
    assert any(p.startswith("flat.html: image without alternative text") for p in problems), text
    assert any(p.startswith("path.html: machine path on the page: '/home/alice/.cache/data'") for p in problems), text
    assert not [p for p in problems if "/shared/lab" in p or p.startswith("fits.html")], text


def test_column_figure_keeps_its_aspect_on_a_phone(built_book, driver):
    """The notebook's 671 x 631 px figure (declared width and height, as myst-nb writes them) is built
    without a fixed height, so at 390 px it narrows with its aspect kept; it still opens larger."""
    page = (built_book / "notebook.html").read_text()
    assert "height: 631px" not in page and "width: 671px" in page
    with browser_check.serve(built_book) as base:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", browser_check.MOBILE)
        try:
            driver.get(base + "notebook.html")
            shown = driver.execute_script(
                "const i = Array.from(document.querySelectorAll('.cell_output img')).pop();"
                "return [i.clientWidth, i.clientHeight, i.naturalWidth, i.naturalHeight]")
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    w, h, nw, nh = shown
    assert w < 390 and abs((w / h) / (nw / nh) - 1) < browser_check.MAX_ASPECT_ERROR, shown


def _page(body: str, style: str = "") -> str:
    """A page as the book's theme writes them: UTF-8, laid out at the device's width on a phone."""
    return (f"<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>t</title><main style='{style}'>{body}</main>")


def test_distorted_image_e_notation_and_plain_math_fail(built_book, driver, tmp_path):
    html = _copy(built_book, tmp_path / "html")
    png = base64.b64encode(_png(200, 188)).decode()           # Fig. 3.1's aspect, 1.06
    fixed_height = "width:671px;height:631px;max-width:100%"   # what Sphinx wrote for every figure
    (html / "distorted.html").write_text(_page(
        f"<img alt='a plot' style='{fixed_height}' src='data:image/png;base64,{png}'>"))
    (html / "scales.html").write_text(_page(
        f"<img alt='a plot' style='width:671px;max-width:100%;height:auto' src='data:image/png;base64,{png}'>"))
    (html / "enotation.html").write_text(_page(
        "<p>Within 1e-3 of the reference, error 1.5e-06 and 9.6E-04.</p>"))
    (html / "powers.html").write_text(_page(
        "<p>Within 10⁻³ of the reference, error 1.5×10⁻⁶; version 0.1.0+g1e5a7b2c9d, 3 epochs.</p>"
        "<pre>tol=1e-3  # code is shown as written</pre><p><code>lr=1e-3</code></p>"))
    (html / "plain.html").write_text(_page(
        "<p>The top eigenvalue λ_max grows, ‖H‖_F falls, the break at β∗ and T* later.</p>"))
    (html / "rendered.html").write_text(_page(
        "<p>The top eigenvalue λ<sub>max</sub> grows; <code>lam_max</code> in the CSV.</p>"))
    pages = ["distorted.html", "scales.html", "enotation.html", "powers.html", "plain.html", "rendered.html"]
    problems = browser_check.check_site(html, pages, driver=driver)
    text = "\n".join(problems)
    distorted = [p for p in problems if p.startswith("distorted.html: image distorted")]
    assert len(distorted) == 1 and "390 px phone" in distorted[0] and "against 1.06" in distorted[0], text
    e = [p for p in problems if p.startswith("enotation.html: E-notation in the text (3 forms)")]
    assert e and all(f in e[0] for f in ("1e-3", "1.5e-06", "9.6E-04")), text
    plain = [p for p in problems if p.startswith("plain.html: plain math in the text (4x")]
    assert plain and "λ_max" in plain[0], text
    assert not [p for p in problems if p.split(":")[0] in ("scales.html", "powers.html", "rendered.html")], text
