"""How the pages write numbers and outcomes: one style for the whole book.

- :func:`number`: plain decimals between 10⁻³ and 10⁵ (``0.002``, ``12.5``, ``1,200``), powers of ten
  outside (``7.8×10⁻⁴``), never e-notation, a typographic minus (−), ``n/a`` for a missing value.
- :func:`without_e_notation`: text written elsewhere (a benchmark's record) with its e-notation
  numbers in that style, code spans left as they are.
- :func:`numbers`: the ends of a range in one style (both as powers of ten if either needs it).
- :func:`signed`, :func:`interval`, :func:`to_uncertainty`: signed values and intervals rounded to
  their own width, so a number carries no digits its uncertainty does not support.
- :func:`outcome_phrase`, :func:`verdict_clause`: a verdict as a predicate with only the outcome in
  bold ("claim 8 **holds**", "claim 12 is **inconclusive**").
"""
from __future__ import annotations

import math
import re

MINUS = "\u2212"
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _missing(x) -> bool:
    return x is None or math.isnan(float(x))


def number(x: float | None, digits: int = 2, *, power: bool | None = None) -> str:
    """``x`` to ``digits`` significant digits for a reader (see the module docstring); ``power``
    forces the power-of-ten form (True) or the plain one (False).  A mantissa of exactly one digit
    ``1`` is dropped: ``10⁻¹⁰``."""
    if _missing(x):
        return "n/a"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else MINUS + "∞"
    if x == 0:
        return "0"
    if power is None:
        power = not 1e-3 <= abs(x) < 1e5
    if not power:
        text = f"{float(f'{x:.{digits}g}'):,.10f}".rstrip("0").rstrip(".")
        return text.replace("-", MINUS)
    mantissa, exponent = f"{x:.{max(digits, 1) - 1}e}".split("e")
    ten = "10" + str(int(exponent)).translate(SUPERSCRIPT)
    if mantissa in ("1", "-1"):
        return (mantissa[:-1] + ten).replace("-", MINUS)
    return f"{mantissa}×{ten}".replace("-", MINUS)


E_NOTATION = re.compile(r"(?<![\w.])(?P<mantissa>[0-9]+(?:\.[0-9]+)?)[eE](?P<exponent>[-+−]?[0-9]+)(?!\w)")


def without_e_notation(text: str) -> str:
    """``text`` with every e-notation number (``1e-3``, ``1.5e-06``, ``9.6E-04``) written by
    :func:`number` to the significant digits it was written with (``0.001``, ``1.5×10⁻⁶``,
    ``9.6×10⁻⁴``); inline code (between backticks) and fenced code blocks are left as written."""
    def rewrite(m: "re.Match") -> str:
        digits = len(m["mantissa"].replace(".", "").lstrip("0")) or 1
        return number(float(f"{m['mantissa']}e{m['exponent'].replace(MINUS, '-')}"), digits)

    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)
    return "".join(part if part.startswith("`") else E_NOTATION.sub(rewrite, part) for part in parts)


def numbers(values, digits: int = 2) -> list[str]:
    """Several numbers read together (the ends of a range) in one style: all as powers of ten if any
    needs it."""
    values = [float(v) for v in values]
    power = any(math.isfinite(v) and v != 0 and not 1e-3 <= abs(v) < 1e5 for v in values)
    return [number(v, digits, power=power) for v in values]


def signed(x: float | None, fmt: str = "+.2f") -> str:
    """``+0.52``, ``−0.78`` (a true minus sign); zero without a sign; ``n/a`` for a missing value."""
    if _missing(x):
        return "n/a"
    if math.isinf(float(x)):
        return number(x)
    text = format(float(x), fmt)
    if float(text) == 0:                  # −0.0 and +0.00 read as 0.0, 0.00
        text = text.lstrip("+-")
    return text.replace("-", MINUS)


def interval(lo: float, hi: float, fmt: str = "+.2f") -> str:
    """``−0.87 to −0.49``."""
    return f"{signed(lo, fmt)} to {signed(hi, fmt)}"


def decimals_for(width: float) -> int:
    """Decimals that keep two significant digits of an interval's ``width``."""
    return max(0, 1 - int(math.floor(math.log10(width)))) if math.isfinite(width) and width > 0 else 2


def decimals_for_uncertainty(uncertainty: float | None) -> int:
    """Decimals that round a number to its uncertainty: one significant digit of the uncertainty, two
    when that digit is 1 (0.3 -> 1, 0.17 -> 2, 1.04 -> 1, 4.2 -> 0); 2 when the uncertainty is unknown."""
    if uncertainty is None or not math.isfinite(uncertainty) or uncertainty <= 0:
        return 2
    exponent = math.floor(math.log10(uncertainty))
    lead = int(uncertainty / 10 ** exponent + 1e-9)
    return max(0, -exponent + (1 if lead == 1 else 0))


def fixed(x: float | None, digits: int = 2, sign: bool = False, *, missing: str = "n/a") -> str:
    """``x`` with ``digits`` decimals (a sign with ``sign``) and a true minus; zero without a sign
    (no "−0.0"); ``missing`` when not finite."""
    if x is None or not math.isfinite(x):
        return missing
    if round(x, digits) == 0:
        return f"{0:.{digits}f}"
    return (f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}").replace("-", MINUS)


def share(k: int, n: int) -> str:
    """"all 6" or "5 of the 6"."""
    return f"all {n}" if k == n and n > 1 else f"{k} of the {n}"


def to_uncertainty(x: float, lo: float, hi: float) -> tuple[str, str]:
    """``x`` and its interval rounded to the interval's width (two significant digits of it):
    ``("+0.001", "−0.010 to +0.012")``."""
    fmt = f"+.{decimals_for(hi - lo)}f"
    return signed(x, fmt), interval(lo, hi, fmt)


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits without e-notation: ``40.6``, ``1,180``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    k = int(math.floor(math.log10(abs(x))))
    x = round(x, digits - 1 - k)
    k = int(math.floor(math.log10(abs(x))))       # 99.96 rounds up to 100
    return f"{x:,.{max(0, digits - 1 - k)}f}".replace("-", MINUS)


def runs_sentence(stored: int, computed: int, *, what: str = "results", spent: str = "") -> str:
    """The line under a chapter's parameters saying where its results came from:
    "**Runs:** 48 training runs, all read back from the result store (312 s of training in all)." or
    "..., 40 read back from the result store and 8 computed now (...)."; ``spent`` is what the
    parenthesis says (the compute the results took), none when empty."""
    stored, computed = int(stored), int(computed)
    if computed == 0:
        how = "all read back from the result store" if stored else "none needed"
    elif stored == 0:
        how = "all computed now"
    else:
        how = f"{stored:,} read back from the result store and {computed:,} computed now"
    if stored + computed == 1 and what.endswith("s"):
        what = what[:-1]                                    # "1 training run", "1 simulation"
    return f"**Runs:** {stored + computed:,} {what}, {how}" + (f" ({spent})" if spent else "") + "."


def architecture(description: str) -> str:
    """A network as :func:`replication.models.describe_model` wrote it, with its count of hidden layers
    in good grammar: "(1 hidden layers; ..." reads "(1 hidden layer; ...".  The words are mended where
    a page shows them, not in models.py, whose source is in every run's key digest."""
    return re.sub(r"(?<![\d.,])1 hidden layers\b", "1 hidden layer", description)


def outcome_verb(outcome: str) -> str:
    """The outcome as the verb of a sentence, unformatted: "holds", "fails", "is inconclusive",
    "was not run"."""
    return {"inconclusive": "is inconclusive", "not run": "was not run"}.get(outcome, outcome)


def outcome_phrase(outcome: str) -> str:
    """The outcome as a predicate with only the outcome in bold: "**holds**", "is **inconclusive**",
    "was **not run**"."""
    return {"holds": "**holds**", "fails": "**fails**", "inconclusive": "is **inconclusive**"}.get(
        outcome, f"was **{outcome}**")


def verdict_clause(subject: str, outcome: str) -> str:
    """"claim 8 **holds**", "claim 12 is **inconclusive**", "claim 4 was **not run**"."""
    return f"{subject} {outcome_phrase(outcome)}"


_PLAIN_MATH = ((re.compile(r"λ_\{?max\}?"), r"$\\lambda_{\\max}$"), (re.compile(r"‖H‖_F"), r"$\\Vert H\\Vert_F$"),
               (re.compile(r"(?<![\w*])T\*"), r"$T^*$"), (re.compile(r"β[∗*]"), r"$\\beta^*$"),
               (re.compile(r"Tr H\b"), r"$\\operatorname{Tr} H$"), (re.compile(r"Tr C\b"), r"$\\operatorname{Tr} C$"))
_E_NUMBER = re.compile(r"(?<![\w.])([+\-−]?\d+(?:\.\d+)?)[eE]([+\-]?\d+)\b")
_SUPERSCRIPT = str.maketrans("-+0123456789", "⁻⁺⁰¹²³⁴⁵⁶⁷⁸⁹")


def mathify(markdown: str) -> str:
    """Computed markdown in the book's notation: the plain forms chapters write in verdict texts
    (``λ_max``, ``‖H‖_F``, ``T*``, ``β*``, ``Tr H``) as rendered math, and E-notation numbers
    (``6.58e-05``) as powers of ten (6.58×10⁻⁵), leaving code spans and existing math alone."""
    parts = re.split(r"(`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$)", markdown, flags=re.S)
    for i in range(0, len(parts), 2):
        text = parts[i]
        for pattern, replacement in _PLAIN_MATH:
            text = pattern.sub(replacement, text)
        text = _E_NUMBER.sub(lambda m: f"{m.group(1).replace('-', MINUS)}×10{str(int(m.group(2))).translate(_SUPERSCRIPT)}",
                             text)
        parts[i] = text
    return "".join(parts)
