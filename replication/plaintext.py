"""Math written for a reader who cannot see it typeset: the alternative text of a figure (read by a
screen reader, or shown when the image does not load) and page text outside MathJax.

:func:`tex_to_text` turns the TeX of a caption's math (``\\lambda_{\\max}``, ``\\|H\\|_F``,
``\\eta/S``) into plain words and symbols ("λ max", "‖H‖ F", "η/S"): no backslash, brace, dollar or
underscore is left, so nothing reads as raw LaTeX.  :func:`strip_math` does it for every ``$...$``
span of a text.  Exponents become superscripts where Unicode has them (``10^{-3}`` -> "10⁻³").
"""
from __future__ import annotations

import re

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "approx": "≈", "sim": "~", "propto": "∝", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
    "times": "×", "cdot": "·", "pm": "±", "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "in": "∈", "sqrt": "√", "nabla": "∇", "partial": "∂", "sum": "Σ", "prod": "Π", "ll": "≪", "gg": "≫",
    "max": "max", "min": "min", "log": "log", "exp": "exp", "ln": "ln", "Tr": "Tr", "dots": "…", "ldots": "…",
    "cdots": "…", "|": "‖", "star": "*", "ast": "*", "mid": "|", "%": "%", ",": " ", ";": " ", "!": "", " ": " ",
    "quad": " ", "qquad": " ", "top": "ᵀ", "prime": "′", "{": "{", "}": "}",
}
SUPERSCRIPT = str.maketrans("-−+0123456789*", "⁻⁻⁺⁰¹²³⁴⁵⁶⁷⁸⁹*")
_SUPERSCRIPTABLE = set("-−+0123456789*")
_WRAPPERS = ("mathrm", "mathit", "mathbf", "boldsymbol", "text", "textrm", "operatorname", "mathcal", "bm",
             "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "displaystyle", "hat", "bar",
             "tilde", "widehat", "overline", "mathbb")


def _group(text: str, i: int) -> tuple[str, int]:
    """The argument starting at ``text[i]``: a braced group (without braces) or one character."""
    if i >= len(text):
        return "", i
    if text[i] != "{":
        if text[i] == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", text[i:])
            return m.group(0), i + len(m.group(0))
        return text[i], i + 1
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j], j + 1
    return text[i + 1:], len(text)


def _operand(text: str) -> str:
    """``text`` in parentheses when it is a compound (a sum, product or fraction), so ``a/b`` reads right."""
    return f"({text})" if any(c in text for c in " +-−/·×") else text


def tex_to_text(tex: str) -> str:
    """Plain text for the TeX ``tex`` (the inside of ``$...$``): symbols as Unicode, ``\\frac{a}{b}``
    as ``a/b``, sub- and superscripts spelled out, formatting commands dropped."""
    out, i = [], 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name, i = m.group(1), i + len(m.group(0))
            if name == "frac":
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                a, b = tex_to_text(num), tex_to_text(den)
                out.append(f"{_operand(a)}/{_operand(b)}")
            elif name == "sqrt":
                arg, i = _group(tex, i)
                out.append("√" + (tex_to_text(arg) if len(arg) <= 1 else f"({tex_to_text(arg)})"))
            elif name in _WRAPPERS:
                if name in ("left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr") \
                        and i < len(tex) and tex[i] in "([|.)]":          # \left( ... \right)
                    out.append("" if tex[i] == "." else tex[i])
                    i += 1
                elif name not in ("left", "right", "displaystyle"):
                    arg, i = _group(tex, i)
                    out.append(tex_to_text(arg))
            else:
                out.append(SYMBOLS.get(name, name))
        elif c in "_^":
            arg, i = _group(tex, i + 1)
            text = tex_to_text(arg)
            if c == "^" and text and set(text) <= _SUPERSCRIPTABLE:
                out.append(text.translate(SUPERSCRIPT))
            else:
                out.append(" " + text if c == "_" else "^" + text)
        elif c in "{}$":
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return " ".join("".join(out).split())


def strip_math(text: str) -> str:
    """``text`` with every ``$$...$$`` and ``$...$`` span (and ``\\(...\\)``) written out by
    :func:`tex_to_text`."""
    text = re.sub(r"\$\$(.+?)\$\$", lambda m: tex_to_text(m.group(1)), text, flags=re.S)
    text = re.sub(r"\$(.+?)\$", lambda m: tex_to_text(m.group(1)), text, flags=re.S)
    return re.sub(r"\\\((.+?)\\\)", lambda m: tex_to_text(m.group(1)), text, flags=re.S)
