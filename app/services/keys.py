"""API keys: create (the secret is shown once), authenticate, revoke.

A key reads ``blk_<prefix>_<secret>``. The prefix finds the row; the secret is 256 random
bits, so a plain SHA-256 is the right hash (a slow password hash protects low-entropy
secrets, which these are not) and verification stays one indexed lookup per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import keys as key_repo
from app.db.models import KEY_ROLES
from app.errors import InvalidParameter, NotAuthenticated, NotFound
from app.queries import Caller
from app.roles import AUTHORITY

KEY_PATTERN = re.compile(r"blk_(?P<prefix>[a-z0-9]{8})_(?P<secret>[A-Za-z0-9_-]{43})")
ISO3 = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class CreatedKey:
    key: str
    id: int
    name: str
    role: str
    countries: tuple[str, ...]


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def create_key(session: Session, *, name: str, role: str, countries: list[str]) -> CreatedKey:
    if role not in KEY_ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(KEY_ROLES)}, not {role!r}")
    if not name.strip():
        raise InvalidParameter("a key needs a name (who or what uses it)")
    bad = [c for c in countries if not ISO3.fullmatch(c)]
    if bad:
        raise InvalidParameter(f"countries must be ISO 3166-1 alpha-3 codes; got {bad}")
    if countries and role != AUTHORITY:
        raise InvalidParameter("only authority keys are scoped to countries")
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    secret = secrets.token_urlsafe(32)
    key_id = key_repo.insert_key(
        session,
        name=name.strip(),
        role=role,
        countries=countries,
        prefix=prefix,
        secret_hash=_hash(secret),
    )
    session.commit()
    return CreatedKey(f"blk_{prefix}_{secret}", key_id, name.strip(), role, tuple(countries))


def authenticate(session: Session, presented: str) -> Caller:
    """The caller behind a presented key; ``NotAuthenticated`` for a wrong or revoked one."""
    match = KEY_PATTERN.fullmatch(presented.strip())
    if not match:
        raise NotAuthenticated("the API key is malformed", code="invalid_key")
    record = key_repo.find_by_prefix(session, match["prefix"])
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(match["secret"])):
        raise NotAuthenticated("the API key is not valid", code="invalid_key")
    if record.revoked_at is not None:
        raise NotAuthenticated("the API key has been revoked", code="revoked_key")
    return Caller(role=record.role, key_id=record.id, name=record.name, countries=record.countries)


def revoke_key(session: Session, key_or_prefix: str) -> None:
    match = KEY_PATTERN.fullmatch(key_or_prefix.strip())
    prefix = match["prefix"] if match else key_or_prefix.strip()
    if not key_repo.revoke(session, prefix):
        raise NotFound(f"no active key with prefix {prefix!r}")
    session.commit()


def list_keys(session: Session) -> list[key_repo.KeyRecord]:
    return key_repo.list_keys(session)
