"""The bibliography: one entry per key, every key the notebooks cite exists, every entry links to the
work (DOI, URL or ISBN), and labels read author–year like the citations in the text."""
import re
from pathlib import Path

from pybtex.database import parse_file

from replication.bibstyle import author_year

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"


def test_keys_are_unique_and_every_cited_key_exists():
    text = BIB.read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", text, re.M)
    assert len(keys) == len(set(keys)), "a key appears twice (the parser would drop entries)"
    cited = set()
    for nb in (ROOT / "book").glob("*.ipynb"):
        for group in re.findall(r"\{cite:[a-z]+\}`([^`]+)`", nb.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited and cited <= set(keys), f"cited but not in references.bib: {sorted(cited - set(keys))}"


def test_every_entry_links_to_the_work():
    text = BIB.read_text()
    unlinked = [m.group(1) for m in re.finditer(r"^@\w+\{([^,]+),(.*?)^\}", text, re.S | re.M)
                if not re.search(r"\b(doi|url|isbn)\s*=", m.group(2))]
    assert not unlinked, f"entries without DOI, URL or ISBN: {unlinked}"


def test_labels_are_author_year():
    db = parse_file(str(BIB))
    assert author_year(db.entries["jastrzebski2017three"]) == "Jastrzębski et al., 2017"
    assert author_year(db.entries["smith2018bayesian"]) == "Smith and Le, 2018"
    assert author_year(db.entries["pearlmutter1994fast"]) == "Pearlmutter, 1994"
