"""Entity tags of sites (strong, RFC 9110) and the ``If-Match`` precondition of changes.

A site's tag is its row version (bumped by the database on every write), marked when the
representation carries restricted attributes (admins, authorities): two representations of
one state differ byte for byte, so they get different strong tags; either one matches.
"""

from __future__ import annotations

import re

from app.db import sites as site_repo
from app.errors import InvalidParameter, PreconditionRequired
from app.queries import Caller
from app.services.site_edits import Precondition

IF_MATCH_LIST = re.compile(r'\s*(?:(?:W/)?"[^"\x00-\x20\x7f]*"\s*(?:,\s*|$))+')
ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')
OUR_TAG = re.compile(r"v([0-9]{1,18})(?:-r)?")


def site_etag(version: int, caller: Caller) -> str:
    """The ``ETag`` of a site at ``version`` as ``caller`` reads it, quotes included."""
    restricted = "-r" if site_repo.site_extras(caller) else ""
    return f'"v{version}{restricted}"'


def precondition(if_match: str | None) -> Precondition:
    """The ``If-Match`` header of a change: required (428 without), ``*`` or entity tags.

    Weak tags (``W/"..."``) never match (optimistic locking needs strong comparison), nor do
    tags this server did not issue; both end in 412. A malformed header is a 400.
    """
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "changes need `If-Match` with the ETag of your last read of the feature "
            "(or `*` to change whatever is current)",
            code="if_match_required",
        )
    if if_match.strip() == "*":
        return Precondition(any_version=True)
    if not IF_MATCH_LIST.fullmatch(if_match):
        raise InvalidParameter(
            'If-Match: give entity tags in double quotes, such as "v3", or *',
            code="invalid_if_match",
        )
    versions = set()
    for match in ENTITY_TAG.finditer(if_match):
        ours = OUR_TAG.fullmatch(match.group(2))
        if match.group(1) is None and ours is not None:
            versions.add(int(ours.group(1)))
    return Precondition(frozenset(versions))
