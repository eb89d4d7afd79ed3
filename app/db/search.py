"""Name search (``q=``): accent- and case-insensitive, typo-tolerant, served by an index.

Names and aliases are folded by ``borderlens_search_text(name, aliases)`` (unaccented, lower
case; migration 0010), the query by ``borderlens_fold``. A site matches when the folded query
is a substring of its folded names (``LIKE``) or is similar to one of their words
(``<%``: pg_trgm word similarity at least ``pg_trgm.word_similarity_threshold``, 0.6 by
default: one wrong, missing or extra letter in a word of six or more). The GIN trigram index
``ix_sites_search_trgm`` serves both. Results rank by that word similarity plus the
similarity of the whole folded text (0..2, best first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Double, Text, cast, func, literal, or_

#: Longest query accepted (characters): a site name, not a document.
MAX_QUERY_CHARS: Final = 200


@dataclass(frozen=True)
class NameSearch:
    """The WHERE clause of a search and its rank (higher is better, 0..1)."""

    where: ColumnElement[bool]
    rank: ColumnElement[Any]


def _like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards and escape character taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def name_search(name: ColumnElement[Any], aliases: ColumnElement[Any], q: str) -> NameSearch:
    """Match ``q`` against a name column and an aliases (text[]) column."""
    haystack = func.borderlens_search_text(name, aliases)
    needle = func.borderlens_fold(literal(q.strip(), Text))
    pattern = func.borderlens_fold(literal("%" + _like_literal(q.strip()) + "%", Text))
    return NameSearch(
        where=or_(haystack.like(pattern), needle.op("<%", is_comparison=True)(haystack)),
        # Word similarity first; whole-text similarity breaks its ties, so the site named
        # exactly so outranks "Bétaré Oya 2". float8, not pg_trgm's real: the rank travels in
        # paging cursors and is compared back.
        rank=cast(
            func.word_similarity(needle, haystack) + func.similarity(needle, haystack), Double
        ),
    )
