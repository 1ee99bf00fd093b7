"""No number typed by hand in the notebooks' prose: every number, threshold and count a reader sees
comes from code (glue or computed markdown).  Digits are allowed only where they are not results:
inside math ($...$), code, citations and glue roles, in references to the paper's figures, claims,
sections and versions, and in years."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))

STRIP = [
    r"```.*?```",                              # fenced blocks (directives, code)
    r"\$\$.*?\$\$", r"\$[^$\n]+\$",            # math
    r"`[^`\n]*`",                              # code and the argument of every role ({glue:text}`x`, {cite:p}`x`)
    r"\{[a-z:]+\}",                            # role names
    r"\]\([^)]*\)",                            # link targets
    r"^\s*:[a-z-]+:.*$",                       # directive options
    r"^\([A-Za-z0-9_-]+\)=\s*$",               # MyST targets: (claims-claim-4)=
    r"^#+\s*(?:[0-9]+(?:\.[0-9]+)*\.?\s)?",     # heading markers and section numbers
]
ALLOWED = [
    r"(?i)\b(?:Figs?|Figures?|Tables?|Sections?|Eqs?|Equations?|Theorems?|Claims?|Appendix|Chapter)\.?\s*"
    r"[0-9]+(?:[a-z]|\([a-z]\))?(?:\s*(?:,|and|&|–|-|to)\s*[0-9]+(?:[a-z]|\([a-z]\))?)*",   # references
    r"§\s*[0-9.]+",                            # sections of the paper
    r"\b[Ee]q(?:uation)?s?\.?\s*\([0-9]+\)",      # equation references: eq. (4)
    r"\b95\s?%(?=\s*(?:confidence|interval|CI|band|bootstrap|t\b))",   # the book-wide interval level
    r"\bfloat(?:16|32|64)\b|\bbf16\b",
    r"\b(?:19|20)[0-9]{2}[a-z]?\b",            # years (and versions: ICLR 2018, ICANN 2018)
    r"\bv[0-9]\b",                             # arXiv versions
    r"\b(?:VGG|ResNet|CIFAR|MNIST)-?[0-9]+\b", # architecture and dataset names
    r"\b[0-9]+-(?:layer|D)\b", r"\b[1-3]-D\b", # "20-layer" (the paper's network), "1-D"
    r"\barXiv:?\s*[0-9.]+\b",
]


def typed_numbers(markdown: str) -> list[str]:
    text = markdown
    for pattern in STRIP:
        text = re.sub(pattern, " ", text, flags=re.S | re.M)
    for pattern in ALLOWED:
        text = re.sub(pattern, " ", text)
    return re.findall(r"[^\s]*[0-9][^\s]*", text)


def test_the_scanner_catches_typed_numbers_and_spares_the_rest():
    assert typed_numbers("The accuracy rose to 91.2% over 3 seeds.") == ["91.2%", "3"]
    assert typed_numbers("We use $\\eta=0.1$ and {glue:text}`acc` (Fig. 2(a), claim 4, ICLR 2018, §4.5).") == []
    assert typed_numbers("a 20-layer MLP and ResNet-56 {cite:p}`he2016deep`, 95% intervals in float64") == []
    assert typed_numbers("## 2. The rules\nBy eq. (4) it holds for 95% of runs.") == ["95%"]
    assert typed_numbers("(claims-claim-4)=\n### Claim 4") == [] and typed_numbers("(x)= 3 runs") == ["3"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_number_typed_in_prose(path):
    book = nbformat.read(path, as_version=4)
    found = [(i, n) for i, c in enumerate(book.cells) if c.cell_type == "markdown" for n in typed_numbers(c.source)]
    assert not found, f"{path.name}: numbers typed in prose (glue them from code): {found[:12]}"
