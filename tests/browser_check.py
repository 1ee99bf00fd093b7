"""Check a built HTML book in headless Chromium: offline, every page, every image, all math.

    python tests/browser_check.py BUILD_HTML_DIR [PAGE.html ...]    # exit 1 and list problems

For each ``*.html`` page (folders starting with ``_`` or ``.``, e.g. ``_static``, are not
pages) served from 127.0.0.1, it reports a problem when:

- the page does not load or ``document.readyState`` never becomes ``complete``;
- an ``<img>`` does not decode (``complete`` and ``naturalWidth > 0``; an SVG without
  intrinsic size passes when ``img.decode()`` resolves);
- the page has math (``.math`` elements, or ``\\(``, ``\\[``, ``$$`` left in text outside
  code) and MathJax is absent, did not typeset every ``.math`` element into an
  ``mjx-container``, or produced an ``mjx-merror``;
- the browser console has a SEVERE entry (JS errors, failed resource loads, ...);
- a table is wider than the content column (it would be cut off or need sideways scrolling);
- a figure in the content is shown below MIN_IMAGE_SCALE of its intended width (the declared
  width of an image drawn at twice its resolution, else its pixel width): its fonts shrink with it,
  and figures are drawn for the column instead;
- a figure of a notebook's output (``.cell_output`` or ``figure``) does not open larger on a
  click: it must link to an image file with at least MIN_ZOOM times its shown width in pixels, and
  that file must be its vector version (an SVG served by the site; the page shows the PNG);
- a content image has no alternative text, or only its file name (what Sphinx writes by default);
- a content image is distorted: its shown aspect ratio differs from its file's by more than
  MAX_ASPECT_ERROR, at the desktop width and again at a 390 px phone viewport (mobile emulation,
  MOBILE), where a fixed inline height under ``max-width: 100%`` squeezes a figure;
- the page's text (outside code and typeset math) shows E-notation (``1e-3``, ``1.5e-06``): pages
  write numbers with :mod:`replication.wording` (``10⁻³``, ``1.5×10⁻⁶``);
- the page's text (outside code and typeset math) shows a plain form of the book's notation
  (PLAIN_MATH: ``λ_max``, ``‖H‖_F``, ``T*``, ``β∗``) that belongs in rendered math;
- the page's text shows a machine path (a home, work or temporary folder of some computer);
- any request went to a host other than 127.0.0.1/localhost.  Chromium runs with a host
  resolver that resolves nothing else, so such a request also fails fast and
  deterministically, with or without a network.

Library use::

    from browser_check import check_site, browser, serve, check_page
    problems = check_site("book/_build/html")          # list[str], empty when all is well
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
MATH_TIMEOUT_S = 10.0  # for MathJax to finish typesetting
MATHJAX_GRACE_S = 2.0  # for MathJax to appear after the load event (it normally already has)
MIN_IMAGE_SCALE = 0.85  # a content image shown narrower than this is a problem (= replication.figures.MIN_SHOWN_SCALE:
                        # the shared figure style keeps fonts >= 11 px down to it)
MIN_ZOOM = 1.5          # a notebook figure's linked full-resolution image has this many times its shown pixels
MAX_ASPECT_ERROR = 0.03  # shown vs natural aspect ratio of an image, relative
MOBILE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}   # a phone, as DevTools emulates it
E_NOTATION = r"(?<![\w.])[0-9]+(?:\.[0-9]+)?[eE][-+−]?[0-9]+(?!\w)"
PLAIN_MATH = r"λ_max|λ_\{?max|‖H‖_F|(?<![\w*])T\*|β[∗*]"
MACHINE_PATH = r"""(?:^|[\s("'=:])(/(?:home|root|tmp|work|Users|private/var|var/folders|mnt/c)/[^\s"'<>)]*|[A-Z]:\\Users\\[^\s]*)"""

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
    "--window-size=1280,1024",
    # Nothing but the local server resolves: an external request fails at once (and is
    # reported), instead of hanging offline or silently succeeding online.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)


def browser_available() -> str | None:
    """None when chromium and chromedriver are usable, else the reason they are not."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        return "not installed: " + ", ".join(missing) + " (Debian: chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the Python package selenium is not installed"
    return None


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def send_head(self):
        # Browsers ask for /favicon.ico on their own; a book without one is not broken.
        if self.path.split("?")[0] == "/favicon.ico" and \
                not (Path(self.directory) / "favicon.ico").is_file():
            self.send_response(204)
            self.end_headers()
            return None
        return super().send_head()


@contextlib.contextmanager
def serve(directory: str | Path):
    """Serve ``directory`` on 127.0.0.1 at a free port, in a thread; yield the base URL."""
    handler = functools.partial(_Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser():
    """A headless Chromium WebDriver with console + performance logging, fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="browser-check-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(MATH_TIMEOUT_S + MATHJAX_GRACE_S + 10)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Runs in the page after its images loaded: content images whose shown aspect ratio is off their
# file's by more than arguments[0] (relative).
_ASPECT_JS = r"""
const article = document.querySelector('article, .bd-article, main') || document.body;
return Array.from(article.querySelectorAll('img'))
  .filter(i => i.naturalWidth > 0 && i.naturalHeight > 0 && i.clientWidth > 0 && i.clientHeight > 0)
  .map(i => ({src: (i.currentSrc || '').split('/').pop().slice(0, 24),
              shown: i.clientWidth / i.clientHeight, natural: i.naturalWidth / i.naturalHeight,
              w: i.clientWidth, h: i.clientHeight}))
  .filter(r => Math.abs(r.shown / r.natural - 1) > arguments[0]);
"""

# Runs in the page after the load event; resolves with a dict of findings.
_PAGE_JS = r"""
const done = arguments[arguments.length - 1];
const mathTimeout = arguments[0], grace = arguments[1];
(async () => {
  const out = {readyState: document.readyState, images: [], math: null, resources: []};
  // Images: make lazy ones load, then wait for each to finish (load or error).
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === 'lazy') img.loading = 'eager'; }
  for (const img of imgs) {
    const src = img.currentSrc || img.getAttribute('src') || '';
    let decoded = false;
    try {
      if (!img.getAttribute('src') && !img.getAttribute('srcset')) throw new Error('no src');
      await Promise.race([img.decode(), new Promise((_, no) => setTimeout(no, 5000))]);
      decoded = true;
    } catch (e) {}
    const svg = /\.svg(\?|#|$)/i.test(src) || src.startsWith('data:image/svg');
    const ok = decoded && img.complete && (img.naturalWidth > 0 || svg);
    if (!ok) out.images.push({src: src, complete: img.complete, w: img.naturalWidth});
  }
  // Math: typeset elements, or TeX delimiters left in ordinary text.
  const mathEls = Array.from(document.querySelectorAll('.math'));
  const leftover = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.closest(
      'pre, code, script, style, textarea, kbd, samp, mjx-container, .highlight')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (/\\\(|\\\[|\$\$/.test(n.nodeValue)) leftover.push(n.nodeValue.trim().slice(0, 60));
  }
  if (mathEls.length || leftover.length) {
    const t0 = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)
           && Date.now() - t0 < grace) {
      await new Promise(r => setTimeout(r, 50));
    }
    const loaded = !!(window.MathJax && MathJax.startup && MathJax.startup.promise);
    let error = null;
    if (loaded) {
      try {
        await Promise.race([MathJax.startup.promise,
          new Promise((_, no) => setTimeout(() => no(new Error('timeout')), mathTimeout))]);
      } catch (e) { error = String(e); }
    }
    // Re-scan for leftovers now that MathJax had its turn.
    const left = [];
    const w2 = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => n.parentElement.closest(
        'pre, code, script, style, textarea, kbd, samp, mjx-container, mjx-assistive-mml, .highlight')
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    for (let n = w2.nextNode(); n; n = w2.nextNode()) {
      if (/\\\(|\\\[|\$\$/.test(n.nodeValue)) left.push(n.nodeValue.trim().slice(0, 60));
    }
    out.math = {
      loaded: loaded, error: error, elements: mathEls.length,
      untypeset: mathEls.filter(e => !e.querySelector('mjx-container')).length,
      containers: document.querySelectorAll('mjx-container').length,
      merrors: Array.from(document.querySelectorAll('mjx-merror')).map(
        e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
      leftover: left,
    };
  }
  // Layout: tables that do not fit the column, figures shrunk below their size, machine paths.
  const article = document.querySelector('article, .bd-article, main') || document.body;
  const column = article.getBoundingClientRect().width;
  out.tables = Array.from(article.querySelectorAll('table')).map(t => ({
      width: Math.round(t.getBoundingClientRect().width), scroll: t.scrollWidth,
      column: Math.round(column), caption: (t.caption ? t.caption.textContent : t.rows[0] && t.rows[0].textContent || '').trim().slice(0, 50)}))
    .filter(t => t.scroll > t.column + 2 || t.width > t.column + 2);
  // A raster image's intended width is its declared one (width attribute or inline style, as
  // Sphinx writes for a figure drawn at twice its resolution), else its pixel width.
  const raster = Array.from(article.querySelectorAll('img')).filter(i => i.naturalWidth > 0
      && !/\.svg(\?|#|$)/i.test(i.currentSrc || '') && i.clientWidth > 0);
  const intended = i => parseFloat(i.getAttribute('width')) || (/px$/.test(i.style.width) && parseFloat(i.style.width))
      || i.naturalWidth;
  const name = i => (i.currentSrc || '').split('/').pop().slice(0, 24);
  out.shrunk = raster.filter(i => i.clientWidth < arguments[2] * intended(i))
    .map(i => ({src: name(i), shown: i.clientWidth, natural: Math.round(intended(i))}));
  // A figure of a notebook's output must open larger on a click: a link to an image file with at
  // least arguments[4] times the pixels it is shown with.
  out.flat = raster.filter(i => i.closest('.cell_output, figure')).filter(i => {
      const a = i.closest('a[href]');
      return !(a && /\.(png|jpe?g|svg|webp)(\?|#|$)/i.test(a.getAttribute('href'))
               && i.naturalWidth >= arguments[4] * i.clientWidth);
    }).map(i => ({src: name(i), shown: i.clientWidth, natural: i.naturalWidth, link: !!i.closest('a[href]')}));
  // ... and that file is its vector (SVG) version, the PNG being the fallback the page shows.
  out.vectors = raster.filter(i => i.closest('.cell_output, figure')).map(i => {
      const a = i.closest('a[href]'); return {src: name(i), href: a ? a.href : ''}; });
  out.unnamed = raster.filter(i => !(i.getAttribute('alt') || '').trim()
      || /\.(png|jpe?g|gif|svg|webp)$/i.test((i.getAttribute('alt') || '').trim())).map(name);
  const pathRe = new RegExp(arguments[3]);
  out.paths = [];
  const w3 = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let n = w3.nextNode(); n; n = w3.nextNode()) {
    const m = n.nodeValue.match(pathRe);
    if (m) out.paths.push(m[1].slice(0, 80));
  }
  // Notation: E-notation and plain forms of the book's math, in text outside code and typeset math.
  out.notation = [];
  const w4 = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.closest(
      'pre, code, script, style, textarea, kbd, samp, mjx-container, mjx-assistive-mml, .highlight, .math')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const eRe = new RegExp(arguments[5], 'g'), plainRe = new RegExp(arguments[6], 'g');
  for (let n = w4.nextNode(); n; n = w4.nextNode()) {
    for (const m of n.nodeValue.matchAll(eRe)) out.notation.push({kind: 'e', text: m[0]});
    for (const m of n.nodeValue.matchAll(plainRe)) out.notation.push({kind: 'plain', text: m[0],
        context: n.nodeValue.slice(Math.max(0, m.index - 30), m.index + 30).trim()});
  }
  out.resources = performance.getEntriesByType('resource').map(e => e.name);
  out.readyState = document.readyState;
  return out;
})().then(done, (e) => done({fatal: String(e)}));
"""


def _is_external(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss", "ftp"):
        return False  # data:, blob:, about:, chrome:, javascript: ...
    return (parts.hostname or "") not in LOCAL_HOSTS


def _drain_logs(driver):
    """(console SEVERE messages, requested URLs) since the last call."""
    severe = [e.get("message", "") for e in driver.get_log("browser")
              if e.get("level") == "SEVERE"]
    urls = []
    for entry in driver.get_log("performance"):
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
        elif msg.get("method") == "Network.webSocketCreated":
            urls.append(msg["params"]["url"])
    return severe, urls


def check_page(driver, base_url: str, page: str) -> list[str]:
    """Problems of one page (path relative to the served root), as ``"page: what"``."""
    problems = []
    url = base_url + page
    try:
        driver.get(url)
    except Exception as exc:  # timeout, connection refused ...
        problems.append(f"does not load: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        found = {}
    else:
        t0 = time.monotonic()
        while driver.execute_script("return document.readyState") != "complete":
            if time.monotonic() - t0 > 15:
                problems.append("document.readyState never became 'complete'")
                break
            time.sleep(0.05)
        try:
            found = driver.execute_async_script(_PAGE_JS, int(MATH_TIMEOUT_S * 1000),
                                                int(MATHJAX_GRACE_S * 1000), MIN_IMAGE_SCALE, MACHINE_PATH,
                                                MIN_ZOOM, E_NOTATION, PLAIN_MATH)
        except Exception as exc:
            problems.append(f"page script failed: {type(exc).__name__}: {exc}")
            found = {}
    if found.get("fatal"):
        problems.append(f"page script failed: {found['fatal']}")
    title = driver.execute_script("return document.title") if found else ""
    if found and ("404" in title or "Error response" in title):
        problems.append(f"HTTP error page: {title!r}")
    for img in found.get("images", []):
        problems.append(f"image does not decode: {img['src'] or '(no src)'} "
                        f"(complete={img['complete']}, naturalWidth={img['w']})")
    math = found.get("math")
    if math:
        if not math["loaded"]:
            problems.append(f"has math ({math['elements']} .math elements) but MathJax "
                            "did not load")
        elif math["error"]:
            problems.append(f"MathJax typesetting failed: {math['error']}")
        if math["loaded"] and math["untypeset"]:
            problems.append(f"{math['untypeset']} of {math['elements']} .math elements "
                            "not typeset by MathJax")
        for err in math["merrors"]:
            problems.append(f"MathJax error: {err}")
        for text in math["leftover"][:5]:
            problems.append(f"untypeset TeX in text: {text!r}")
    for t in found.get("tables", []):
        problems.append(f"table wider than the column ({max(t['width'], t['scroll'])} px > {t['column']} px): "
                        f"{t['caption']!r}")
    for img in found.get("shrunk", []):
        problems.append(f"figure shown at {img['shown']} of its {img['natural']} px "
                        f"(< {MIN_IMAGE_SCALE:.0%}): {img['src']}")
    for img in found.get("flat", []):
        why = "its link" if img["link"] else "no link to its file"
        problems.append(f"figure cannot be enlarged: {img['src']} shown at {img['shown']} px, "
                        f"image {img['natural']} px ({why}; needs >= {MIN_ZOOM}x)")
    for img in found.get("vectors", []):
        problems += _vector_problems(img)
    for src in found.get("unnamed", []):
        problems.append(f"image without alternative text (none, or its file name): {src}")
    for path in sorted(set(found.get("paths", [])))[:5]:
        problems.append(f"machine path on the page: {path!r}")
    e_forms = sorted({n["text"] for n in found.get("notation", []) if n["kind"] == "e"})
    if e_forms:
        problems.append(f"E-notation in the text ({len(e_forms)} forms): {', '.join(e_forms[:6])} "
                        "(write numbers with replication.wording: 10⁻³, 1.5×10⁻⁶)")
    plain = [n for n in found.get("notation", []) if n["kind"] == "plain"]
    if plain:
        problems.append(f"plain math in the text ({len(plain)}x, belongs in rendered math): "
                        + "; ".join(f"{n['text']} in {n['context']!r}" for n in plain[:3]))
    if found:
        problems += _distorted(driver, "desktop")
        problems += _distorted_on_phone(driver, url)
    severe, urls = _drain_logs(driver)
    problems += [f"console error: {m}" for m in severe]
    external = sorted({u for u in urls + found.get("resources", []) if _is_external(u)})
    problems += [f"external request: {u}" for u in external]
    return [f"{page}: {p}" for p in problems]


def _vector_problems(img: dict) -> list[str]:
    """A computed figure's click target must be its SVG twin, and that file must be an SVG."""
    import urllib.request

    href = img.get("href", "")
    if not urlsplit(href).path.endswith(".svg"):
        return [f"figure's click target is not its vector (SVG) version: {img['src']} -> {href.split('/')[-1] or 'no link'}"]
    if urlsplit(href).hostname not in LOCAL_HOSTS:
        return [f"figure's vector version is not on this site: {href}"]
    try:
        with urllib.request.urlopen(href, timeout=10) as response:
            head = response.read()                 # whole (a partial read resets the local server's copy)
    except OSError as error:
        return [f"figure's vector version does not load: {href.split('/')[-1]} ({error})"]
    return [] if b"<svg" in head else [f"figure's vector version is not an SVG file: {href.split('/')[-1]}"]


def _distorted(driver, where: str) -> list[str]:
    try:
        found = driver.execute_script(_ASPECT_JS, MAX_ASPECT_ERROR)
    except Exception as exc:
        return [f"aspect script failed ({where}): {type(exc).__name__}: {exc}"]
    return [f"image distorted at {where} width: {r['src']} shown {r['w']}x{r['h']} px, aspect "
            f"{r['shown']:.2f} against {r['natural']:.2f} in its file (> {MAX_ASPECT_ERROR:.0%} off)" for r in found]


def _distorted_on_phone(driver, url: str) -> list[str]:
    """The page again at MOBILE (DevTools device emulation): its images must keep their aspect."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", MOBILE)
    try:
        driver.get(url)
        t0 = time.monotonic()
        while not driver.execute_script(
                "Array.from(document.images).forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });"
                "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"):
            if time.monotonic() - t0 > 10:
                break
            time.sleep(0.05)
        return _distorted(driver, f"{MOBILE['width']} px phone")
    except Exception as exc:
        return [f"phone viewport check failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def list_pages(html_dir: str | Path) -> list[str]:
    """Every ``*.html`` below ``html_dir`` except in folders named ``_*`` or ``.*``."""
    root = Path(html_dir)
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.html")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts[:-1]))


def check_site(html_dir: str | Path, pages: list[str] | None = None, driver=None,
               skip: tuple[str, ...] = ()) -> list[str]:
    """Serve ``html_dir``, visit ``pages`` (default: all, minus ``skip``); list problems."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file() and pages is None:
        return [f"{html_dir}: no index.html (not an HTML build?)"]
    pages = [p for p in (pages if pages is not None else list_pages(html_dir))
             if p not in skip]
    with contextlib.ExitStack() as stack:
        if driver is None:
            driver = stack.enter_context(browser())
        base = stack.enter_context(serve(html_dir))
        driver.get("about:blank")
        _drain_logs(driver)
        problems = []
        for page in pages:
            problems += check_page(driver, base, page)
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    reason = browser_available()
    if reason:
        print(f"browser_check: cannot run: {reason}", file=sys.stderr)
        return 2
    html_dir, pages = Path(argv[0]), argv[1:] or None
    t0 = time.monotonic()
    n = len(pages) if pages else len(list_pages(html_dir))
    problems = check_site(html_dir, pages)
    for p in problems:
        print(p)
    print(f"browser_check: {n} pages, {len(problems)} problems, "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
