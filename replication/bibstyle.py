"""Author–year labels for the bibliography, matching the author–year citations in the text.

sphinxcontrib-bibtex cites in the text as "Jastrzębski et al. (2017)" (``bibtex_reference_style:
author_year``) but labels the bibliography with pybtex's alpha labels ("[JKA+17]") unless a label
style says otherwise.  :class:`AuthorYearStyle` (registered as the pybtex formatting style
``authoryear``, selected by ``bibtex_default_style``) labels an entry with its first author's last
name, "et al." from three authors on, "A and B" for two, and the year; equal labels get a, b, ...
"""
from __future__ import annotations

from collections import Counter

from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as _Unsrt
from pybtex.style.labels import BaseLabelStyle


def _last(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year", "n.d.")
    if people and _last(people[-1]).lower() == "others":       # "A and others": et al.
        return f"{_last(people[0])} et al., {year}"
    if not people:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text").split(":")[0]
    elif len(people) == 1:
        who = _last(people[0])
    elif len(people) == 2:
        who = f"{_last(people[0])} and {_last(people[1])}"
    else:
        who = f"{_last(people[0])} et al."
    return f"{who}, {year}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        repeated = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if repeated[label] > 1:
                seen[label] += 1
                label = label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(_Unsrt):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


def register() -> None:
    from pybtex.plugin import register_plugin

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
