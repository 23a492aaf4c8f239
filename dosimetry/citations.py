"""Short forms of the citations the shipped tables carry (one rule for every table)."""

from __future__ import annotations

import re

_FIRST_AUTHOR = re.compile(r"([A-Z][\w'-]+) [A-Z]{1,3}(,)?")
_YEAR = re.compile(r"\b(19|20)\d\d\b")


def short_citation(source: str) -> str:
    """First author and year of a Vancouver author list ("Zhang L, Wang W, ... 2020" -> "Zhang et
    al. 2020"; a single author "Smith J. ... 2019" -> "Smith 2019"); any other text (a centre's
    own relation) as written, cut at 60 characters."""
    text = source.strip()
    authors = _FIRST_AUTHOR.match(text)
    year = _YEAR.search(text)
    if authors is None or year is None:
        return text if len(text) <= 60 else text[:57] + "..."
    return f"{authors.group(1)}{' et al.' if authors.group(2) else ''} {year.group(0)}"
