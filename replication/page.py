"""What a chapter's ``page.py`` hands its notebook, shown there (the chapter contract,
``docs/chapter-contract.md``).

A chapter's ``page.py`` returns markdown strings (shown with ``nb.markdown``) and, for the numbers
its prose uses inline, one ``{name: value}`` mapping per section, each value already formatted as
the page prints it (a string, an int, or :func:`md` for ``{glue:md}`name:myst```).
:func:`replication.notebook.glue_all` glues such a mapping, so a notebook cell holds one call where
it used to hold a line per number.
"""
from __future__ import annotations

from typing import Any, Mapping


def md(text: str):
    """``text`` glued as MyST markdown (math, bold) for ``{glue:md}`name:myst``` in the prose."""
    from IPython.display import Markdown

    return Markdown(text)
