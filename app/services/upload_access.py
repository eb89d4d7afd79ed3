"""Who sees which upload: a researcher their own (by API key), an admin every one.

Someone else's upload answers 404 exactly as a missing one does, so upload ids cannot be
probed. Ownership is the API key the upload was sent with: a researcher who gets a new key
does not see the old key's uploads (an admin does); uploads made with the CLI have no key and
are an admin's only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from app.db import uploads as upload_repo
from app.errors import InvalidParameter, NotFound
from app.queries import Caller
from app.roles import ADMIN
from app.services.upload_report import rejected_csv_chunks

# A researcher's key that is somehow without an id owns nothing (never matches a key id).
_NOBODY = -1


def owner_scope(caller: Caller) -> int | None:
    """The ``owner`` argument of :mod:`app.db.uploads` for this caller."""
    if caller.role == ADMIN:
        return upload_repo.ANY_OWNER
    return caller.key_id if caller.key_id is not None else _NOBODY


def may_read(caller: Caller, api_key_id: int | None) -> bool:
    scope = owner_scope(caller)
    return scope is upload_repo.ANY_OWNER or scope == api_key_id


def encode_cursor(public_id: str) -> str:
    """An opaque paging token (internal row ids never leave the database layer)."""
    return base64.urlsafe_b64encode(public_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("UP-"):
        raise InvalidParameter("cursor: not a paging token from a `next` link", code="bad_cursor")
    return raw


def list_uploads(
    session: Session, caller: Caller, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's uploads, newest first, and the cursor of the next page (None at the end).

    Each upload is ``{public_id, filename, format, sha256, uploader, received_at, counts}``.
    """
    before = decode_cursor(cursor) if cursor else None
    found = upload_repo.list_recent(session, limit, owner_scope(caller), before)
    if found is None:
        raise InvalidParameter("cursor: not a paging token from a `next` link", code="bad_cursor")
    following = encode_cursor(found[-1]["public_id"]) if len(found) == limit else None
    return found, following


def report(session: Session, caller: Caller, public_id: str) -> dict[str, Any]:
    """The stored report of an upload the caller may read; :class:`NotFound` otherwise."""
    stored = upload_repo.get(session, public_id, owner_scope(caller))
    if stored is None:
        raise NotFound(f"no upload {public_id!r}", code="unknown_upload")
    return stored.report


def rejected_csv(session: Session, caller: Caller, public_id: str) -> Iterator[bytes]:
    """``rejected.csv`` of an upload the caller may read, as chunks to stream.

    The packed rows are read here (compressed: a few MB at most for a 50 MB file); the CSV is
    made while it is sent, so a large one never sits in memory.
    """
    exists, packed = upload_repo.rejected_rows(session, public_id, owner_scope(caller))
    if not exists:
        raise NotFound(f"no upload {public_id!r}", code="unknown_upload")
    return rejected_csv_chunks(packed)
