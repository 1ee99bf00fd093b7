"""The book's shared figure and table conventions: one style, one colour code, captions that say
where the numbers come from, numbers downloadable beside every figure.

- **Size**: figures are drawn for the 660 px content column (:data:`COLUMN_INCHES` at :data:`DPI`);
  every font of :data:`STYLE` is at least :data:`MIN_FONT_PX` CSS pixels tall even when the figure is
  shown at :data:`MIN_SHOWN_SCALE` of that width (text outside the style uses :data:`SMALL_FONT` at
  least); at most two panels per row for anything dense.  :func:`column_figure` makes one.
- **Colour**: η/S is always :data:`RATIO_CMAP` on a log scale (:func:`ratio_norm`), the batch size S
  always :data:`BATCH_CMAP`; categorical lines use :data:`CATEGORY` in order.
- **Uncertainty**: :func:`mean_band` draws the mean over seeds and its Student-t 95% interval when
  there are three or more seeds, and the single runs (thin lines) otherwise, so two seeds never
  produce an interval that runs off the axes.
- **Provenance** goes in the caption text (:func:`provenance_text`), not in a footer too small to read.
- **Numbers behind a figure**: :func:`export` writes them (CSV) with the run configs and provenance
  (JSON) to ``data/<chapter>/<chapter>-<name>.*`` beside the executed notebook; the page links them
  with ``{download}`` so a reader can take them away.  Every row carries the profile, code version and
  device it was computed with, and the chapter in the file name keeps names unique across the book
  (a download keeps only its file name).
- **Verdicts** render with :func:`verdict_markdown` (one vocabulary: holds / fails / inconclusive /
  not run).
"""
from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

COLUMN_INCHES = 6.6
DPI = 100                     # 6.6 in x 100 dpi = the 660 px column: a point is DPI/72 = 1.39 px there
MIN_FONT_PX = 11              # the smallest text a reader is asked to read, in CSS px at the shown size
MIN_SHOWN_SCALE = 0.85        # a figure is shown at least at this fraction of its drawn width (the browser check)
# The smallest font, in points, that stays >= MIN_FONT_PX when the figure is shown at MIN_SHOWN_SCALE:
# pt * DPI/72 * MIN_SHOWN_SCALE >= MIN_FONT_PX  <=>  pt >= 11 * 72 / (100 * 0.85) = 9.3.
SMALL_FONT = 9.5              # ticks, legends, annotations
STYLE = {"figure.dpi": DPI, "savefig.dpi": 2 * DPI, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
         "font.size": 10.5, "axes.titlesize": 10.5, "axes.labelsize": 10.5, "legend.fontsize": SMALL_FONT,
         "legend.title_fontsize": SMALL_FONT, "xtick.labelsize": SMALL_FONT, "ytick.labelsize": SMALL_FONT,
         "axes.unicode_minus": True}     # one minus sign: the typographic one, as replication.wording writes
RATIO_CMAP = "viridis"        # η/S, log scale, everywhere in the book
BATCH_CMAP = "cividis"        # the batch size S, log scale
CATEGORY = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")


def column_figure(nrows: int = 1, ncols: int = 1, *, row_height: float = 2.8, **kwargs):
    """``(fig, axes)`` sized for the content column (``axes`` always a 2-D array)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, row_height * nrows), squeeze=False,
                                 **kwargs)
    return fig, axes


def style():
    """Context manager applying :data:`STYLE` (``with figures.style(): ...``)."""
    import matplotlib.pyplot as plt

    return plt.rc_context(STYLE)


def ratio_norm(ratios: Iterable[float]):
    """The log colour scale of η/S over the given ratios."""
    from matplotlib.colors import LogNorm

    values = [r for r in ratios if r > 0 and math.isfinite(r)]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo / 1.5, hi * 1.5
    return LogNorm(lo, hi)


def ratio_color(ratio: float, norm) -> tuple:
    import matplotlib

    return matplotlib.colormaps[RATIO_CMAP](norm(ratio))


def batch_color(S: float, norm) -> tuple:
    import matplotlib

    return matplotlib.colormaps[BATCH_CMAP](0.9 * norm(S))


def ratio_colorbar(fig, axes, norm, label: str = r"$\eta/S$"):
    import matplotlib.cm as cm

    sm = cm.ScalarMappable(norm=norm, cmap=RATIO_CMAP)
    return fig.colorbar(sm, ax=axes, label=label, fraction=0.05, pad=0.02)


def mean_band(ax, x, runs: Sequence[Sequence[float]], *, color, label: str | None = None, level: float = 0.95,
              **kwargs) -> None:
    """Mean over runs (rows of ``runs``, aligned with ``x``) with a Student-t ``level`` band when
    there are >= 3 runs; with fewer, every run as a thin line instead of an interval."""
    from scipy import stats as st

    Y = np.asarray(runs, float)
    if Y.ndim == 1:
        Y = Y[None, :]
    n = np.sum(np.isfinite(Y), axis=0)
    with warnings.catch_warnings():          # columns without a finite run are drawn as gaps (nan)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(Y, axis=0)
    ax.plot(x, mean, color=color, label=label, **kwargs)
    if Y.shape[0] >= 3:
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sd = np.nanstd(Y, axis=0, ddof=1)
            half = st.t.ppf(0.5 * (1 + level), np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
        ok = n >= 3
        ax.fill_between(np.asarray(x)[ok], (mean - half)[ok], (mean + half)[ok], color=color, alpha=0.2, lw=0)
    elif Y.shape[0] == 2:
        for row in Y:
            ax.plot(x, row, color=color, lw=0.6, alpha=0.5)


def errorbar(ax, x, y, ci, **kwargs):
    """Points with symmetric error bars ``ci`` (non-finite half-widths drawn as none)."""
    ci = np.where(np.isfinite(np.asarray(ci, float)), ci, 0.0)
    return ax.errorbar(x, y, yerr=ci, fmt=kwargs.pop("fmt", "o"), capsize=2.5, ms=kwargs.pop("ms", 4.5), **kwargs)


def provenance_text(provenance: Mapping[str, Any], *, profile: str, seeds: int | None = None,
                    data: str | None = None) -> str:
    """One sentence for a caption: profile, seeds, data (and whether canonical), device, code version.
    A profile file is named without its folder, as a command spells it (:func:`replication.profiles.in_command`)."""
    from .profiles import in_command

    parts = [f"profile {in_command(profile)}"]
    if seeds is not None:
        parts.append(f"{seeds} seed{'s' if seeds != 1 else ''} per setting")
    src = data or data_label(provenance.get("data", {}) or {})
    if (provenance.get("data") or {}).get("canonical") is False and "not canonical" not in src.lower():
        src += " (NOT canonical data)"
    if src:
        parts.append(src)
    device = str(provenance.get("device_name") or provenance.get("device", "device unknown"))
    parts.append(device.replace(", 1 threads)", ", 1 thread)"))     # as results stored before 2026-12 wrote it
    parts.append(f"code {provenance.get('code_version', 'unknown')}")
    return "Computed with " + "; ".join(parts) + "."


DATASET_NAMES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10", "cifar-10": "CIFAR-10"}


def without_paths(text: str) -> str:
    """``text`` with file-system paths (and the parentheses left empty by them) removed: a page
    never shows a folder of the machine that built it."""
    import re

    text = re.sub(r"(?:[A-Za-z]:\\|~?/)[^\s(),;]*", "", text)
    text = re.sub(r"(?:(?<=\()|\s+)(?:in|at|from|under)\s*(?=[;,.)]|$)", "", text)   # a preposition left without its path
    text = re.sub(r"\(\s*\)", "", text)
    return " ".join(text.split()).strip(" ,;:")


def data_label(data: Mapping[str, Any]) -> str:
    """How a figure names its data: the dataset, whether it is canonical (verified by checksum), and
    its fingerprint; the source for non-canonical data (e.g. the CIFAR-10 stand-in), without paths."""
    name = DATASET_NAMES.get(str(data.get("name", "")), str(data.get("name", "") or "data"))
    if data.get("canonical") is False:
        source = without_paths(str(data.get("source", "")))
        return source if source.lower().startswith("not canonical") else f"{name}, NOT canonical: {source}"
    fp = data.get("fingerprint")
    if not data.get("name"):
        return without_paths(str(data.get("source", "")))
    return f"{name} (verified by checksum{', fingerprint ' + str(fp) if fp else ''})"


PROVENANCE_COLUMNS = ("profile", "code_version", "device")   # in every exported CSV, after the row's own


def export_name(chapter: str, name: str) -> str:
    """The file stem of an export: ``<chapter>-<name>`` (``name`` as it is when it already starts so)."""
    return name if name.startswith(f"{chapter}-") else f"{chapter}-{name}"


def export(chapter: str, name: str, rows: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any] | None = None,
           folder: Path | str = "data", profile: str | None = None) -> str:
    """Write ``rows`` (dicts with the same keys) as ``<folder>/<chapter>/<chapter>-<name>.csv`` and
    ``meta`` (run configs, provenance, parameters) as the ``.json`` beside it; returns the CSV's
    relative path for a ``{download}`` link.  Paths are relative to the executing notebook.

    Each row gets :data:`PROVENANCE_COLUMNS`, so a CSV read on its own says what made it: the
    profile (``profile``, else ``meta["profile"]``, else the profile of the notebook's
    :func:`replication.notebook.chapter_params`), and the code version and device of
    ``meta["provenance"]`` (the stored results' own; without one, as for a sourced table of the
    paper's numbers, the code that wrote the file and device "none (not computed)").  Without a
    profile, or with a provenance lacking its code version, it raises ``ValueError`` before writing."""
    meta = dict(meta or {})
    stamp = {"profile": _export_profile(profile, meta)}
    prov = meta.get("provenance")
    if prov is None:                     # numbers not computed here (a sourced table of the paper's)
        from .provenance import code_version

        stamp["code_version"], stamp["device"] = code_version(), "none (not computed)"
    elif not isinstance(prov, Mapping) or not prov.get("code_version"):
        raise ValueError(f"export({chapter!r}, {name!r}): meta['provenance'] must be the results' provenance "
                         f"(a mapping with code_version and device); got {str(prov)[:80]!r}")
    else:
        stamp["code_version"] = str(prov["code_version"])
        stamp["device"] = str(prov.get("device_name") or prov.get("device") or "unknown")
        stamp["device"] = stamp["device"].replace(", 1 threads)", ", 1 thread)")
    target = Path(folder) / chapter
    target.mkdir(parents=True, exist_ok=True)
    stem = export_name(chapter, name)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    keys += [k for k in PROVENANCE_COLUMNS if k not in keys]
    with open(target / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k, stamp.get(k))) for k in keys})
    (target / f"{stem}.json").write_text(json.dumps(_without_sources_paths(meta), indent=1, sort_keys=True,
                                                    default=str))
    return f"{folder}/{chapter}/{stem}.csv"


def _without_sources_paths(value: Any) -> Any:
    """``value`` (the JSON beside a figure, which a reader downloads) with every data ``source`` written
    :func:`without_paths`: where the builder's data cache was is no one else's business."""
    if isinstance(value, Mapping):
        return {k: without_paths(v) if k == "source" and isinstance(v, str) else _without_sources_paths(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_sources_paths(v) for v in value]
    return value


def _export_profile(profile: str | None, meta: Mapping[str, Any]) -> str:
    profile = profile or meta.get("profile") or (meta.get("params") or {}).get("profile")
    if not profile:
        from .kernel import state

        profile = state["profile"]             # the notebook's chapter_params, "" before it
    if not profile:
        raise ValueError("export: no profile: pass profile=..., or meta={'profile': ...}, or call "
                         "nb.chapter_params first")
    return Path(str(profile)).stem if str(profile).endswith((".yaml", ".yml")) else str(profile)


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value


def verdict_markdown(verdicts: Iterable, *, caption: str = "", where=None, name_claim: bool = True) -> str:
    """Verdicts as a list, one item per test: the outcome (bold: the one thing that matters) and the
    claim tested, then on lines of their own the point of training compared, the rule (registered
    before the numbers, or amended: then the original rule and its verdict beside it), the negative
    control and what the rule said of it, the evidence, and for an inconclusive verdict what the
    runs could have seen.  Short lines read better in the 660 px column than a table of long cells.
    ``where(v)`` may add a link to the page and figure of each test, and ``name_claim=False`` leaves
    out "claim N:" (the claims page does both: its sections are the claims)."""
    lines = [f"**{caption.rstrip('.')}.**", ""] if caption else []
    for v in verdicts:
        lines.append(verdict_item(v, where=where, name_claim=name_claim))
    return "\n".join(lines) + "\n"


def verdict_item(v, *, where=None, name_claim: bool = True, rule_shown: bool = False) -> str:
    """One verdict as a markdown list item (see :func:`verdict_markdown`); ``rule_shown=True`` leaves
    out the rule's own words (its text, matched point and control), written once above the list by
    :func:`rule_markdown`, and keeps what this test found under it."""
    tag = f"claim {v.claim}: " if v.claim and name_claim else ""
    place = f" ({where(v)})" if where is not None else ""
    out = [f"- **{v.outcome}**: {_sentence(tag + (v.statement or v.id), end='')}{place}"]
    said = v.control.get("outcome", "not run")
    found_on_control = f" ({_sentence(v.control['summary'], end='')})" if v.control.get("summary") else ""
    if rule_shown and v.rule_id:
        out.append(f"*Rule* `{v.rule_id}`" + (f"; on its control it says **{said}**" if v.control else "")
                   + found_on_control + ".")
        if v.original:
            out.append(f"*Under the rule as first registered:* **{v.original.get('outcome', '?')}**.")
    else:
        if v.matched:
            out.append(f"*Compared at:* {_sentence(v.matched)}")
        if v.original:
            out.append(f"*Rule, amended on {v.original.get('date', '?')}* "
                       f"({_sentence(v.original.get('reason', ''), end='')}): {_sentence(v.rule)}")
            out.append(f"*Rule as first registered:* {_sentence(v.original.get('rule', ''))} "
                       f"*Verdict under it:* **{v.original.get('outcome', '?')}**.")
        elif v.rule_id:
            out.append(f"*Rule, registered before the numbers:* {_sentence(v.rule)}")
        else:
            out.append(f"*Rule:* {_sentence(v.rule)}")
        if v.control:
            out.append(f"*Negative control:* {_sentence(v.control.get('what', ''), end='')}; the rule "
                       f"{'was not run on it' if said == 'not run' else ('says **' + said + '** there')}"
                       + found_on_control + ".")
    evidence = v.summary or "; ".join(f"{k} = {_fmt(x)}" for k, x in v.evidence.items())
    out.append(f"*Evidence:* {_sentence(evidence)}")
    if v.power:
        out.append(f"*Could have seen:* {_sentence(v.power)}")
    return "  \n  ".join(out)


def rule_markdown(rule) -> str:
    """One registered rule (:class:`replication.rules.Rule`) as a list item: its id, when registered,
    the decision, the matched point of training, the negative control, and its amendments."""
    head = f"- `{rule.id}`, registered {rule.registered_date}"
    if rule.amended:
        head += "; amended " + ", ".join(f"{a.date} ({_sentence(a.reason, end='')})" for a in rule.amendments)
    out = [head + ":", f"{_sentence(rule.statement)} *Decision:* {_sentence(rule.text)}",
           f"*Compared at:* {_sentence(rule.matched_text)} *Negative control:* {_sentence(rule.control)}"]
    if rule.amended:
        out.append(f"*As first registered:* {_sentence(rule.original().text)}")
    return "  \n  ".join(out)


def rules_section(chapter: str) -> str:
    """A chapter's registered rules (its ``rules.yaml``) as :func:`rule_markdown` writes them, each
    with what it measures added: the "rules, registered before the numbers" section of a page."""
    from . import rules

    return "\n".join(rule_markdown(rule) + f"  \n  *Measure:* {' '.join(rule.measure_text.split())}."
                     for rule in rules.for_chapter(chapter).values())


def _sentence(text: str, end: str = ".") -> str:
    """One line of ``text`` (no line break would end the list item), ending with ``end`` unless it
    already ends a sentence."""
    text = " ".join(str(text).split())
    return text if not end or text.endswith((".", "!", "?", ":")) else text + end

def _fmt(x: Any) -> str:
    if isinstance(x, float):
        from .wording import number

        return number(x, 3)              # never e-notation on a page
    if x is None:
        return "n/a"
    return str(x)
