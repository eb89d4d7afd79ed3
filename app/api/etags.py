"""Entity tags and the conditional request headers (RFC 9110), read in this one place.

``If-Match`` of changes: required, ``*`` or a list of entity tags; what a tag means is the
collection's business (its writer compares them). ``If-None-Match`` of reads: a response that
carries an ``ETag`` the header names (weak comparison, or ``*``) is answered 304 without its
body (:func:`conditional`; the tiles, the items and every item). A read whose tag is not a
version the data keeps gets one made of its content (:func:`content_tag`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

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


def content_tag(*parts: bytes) -> str:
    """A weak entity tag made of what a representation holds (``parts``, its bytes but for
    what says when it was answered): equal for equal content, whoever asks and however, as
    long as the bytes are the same."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f'W/"{digest.hexdigest()}"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names a representation tagged ``etag``:
    ``*``, or one of its entity tags equal to ``etag`` by weak comparison (RFC 9110 8.8.3.2:
    the opaque tags compared, ``W/`` aside). A header that lists no well-formed tag names
    nothing."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    ours = ENTITY_TAG.fullmatch(etag.strip())
    if ours is None:
        return False
    return any(m.group(2) == ours.group(2) for m in ENTITY_TAG.finditer(header))


#: What a 304 repeats of the 200 it stands for (RFC 9110 15.4.5): what caches key and store by.
NOT_MODIFIED_HEADERS = ("etag", "cache-control", "content-location", "expires", "vary")


def not_modified(header: str | None, etag: str, headers: Mapping[str, str]) -> Response | None:
    """The 304 (no body; ``headers`` as a 304 repeats them) when ``If-None-Match`` names
    ``etag``; None otherwise. For a route that knows its tag before it builds the answer."""
    if not none_match(header, etag):
        return None
    kept: dict[str, str] = {}
    for key, value in headers.items():  # every field, a repeated one (Vary) joined
        name = key.lower()
        if name in NOT_MODIFIED_HEADERS:
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
    kept["etag"] = etag
    return Response(status_code=304, headers=kept)


def conditional(request: Request, response: Response) -> Response:
    """``response``, or its 304 when the request's ``If-None-Match`` names its ``ETag``."""
    etag = response.headers.get("etag")
    if etag is None:
        return response
    unchanged = not_modified(request.headers.get("if-none-match"), etag, response.headers)
    return response if unchanged is None else unchanged
