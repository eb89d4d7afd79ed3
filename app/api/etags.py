"""The ``If-Match`` header of changes (RFC 9110): required, ``*`` or a list of entity tags.

What a tag means is the collection's business (its writer compares them); this module only
reads the header.
"""

from __future__ import annotations

import re

from app.collections.base import IfMatch
from app.errors import InvalidParameter, PreconditionRequired

IF_MATCH_LIST = re.compile(r'\s*(?:(?:W/)?"[^"\x00-\x20\x7f]*"\s*(?:,\s*|$))+')
ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')


def parse_if_match(header: str | None) -> IfMatch:
    """428 without the header, 400 when malformed. Weak tags (``W/"..."``) are dropped:
    optimistic locking compares strongly, so they can only fail (412)."""
    if header is None or not header.strip():
        raise PreconditionRequired(
            "changes need `If-Match` with the ETag of your last read of the feature "
            "(or `*` to change whatever is current)",
            code="if_match_required",
        )
    if header.strip() == "*":
        return IfMatch(any_tag=True)
    if not IF_MATCH_LIST.fullmatch(header):
        raise InvalidParameter(
            'If-Match: give entity tags in double quotes, such as "v3", or *',
            code="invalid_if_match",
        )
    strong = (m.group(2) for m in ENTITY_TAG.finditer(header) if m.group(1) is None)
    return IfMatch(tags=frozenset(strong))
