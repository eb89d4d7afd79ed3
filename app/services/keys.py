"""API keys: create (the secret is shown once), authenticate, rotate, revoke, expire.

A key reads ``blk_<prefix>_<secret>``. The prefix finds the row; the secret is 256 random
bits, so a plain SHA-256 is the right hash (a slow password hash protects low-entropy
secrets, which these are not) and verification stays one indexed lookup per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import keys as key_repo
from app.db.models import KEY_ROLES
from app.errors import InvalidBody, NotAuthenticated, NotFound, ProblemItem
from app.queries import Caller
from app.roles import ADMIN
from geo.countries import read_country_table

KEY_PATTERN = re.compile(r"blk_(?P<prefix>[a-z0-9]{8})_(?P<secret>[A-Za-z0-9_-]{43})")
ISO3 = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class CreatedKey:
    key: str
    id: int
    name: str
    role: str
    countries: tuple[str, ...]
    expires_at: dt.datetime | None = None


def _new_secret() -> tuple[str, str]:
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return prefix, secrets.token_urlsafe(32)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _bad(member: str, message: str, code: str = "invalid_key_request") -> InvalidBody:
    """A key request's member that cannot be: a 422 naming it (the JSON body's member, the
    form's field and the command's option carry the same names)."""
    return InvalidBody(
        f"{member}: {message}", code=code, items=[ProblemItem(code, message, column=member)]
    )


def create_key(
    session: Session,
    *,
    name: str,
    role: str,
    countries: list[str],
    expires_at: dt.datetime | None = None,
) -> CreatedKey:
    """A new key. ``countries`` scope an authority's restricted reads and a researcher's
    writes (uploads, edits) to those countries; admins are never scoped. ``expires_at``
    (timezone-aware, in the future): after it the key answers 401 ``expired_key``.
    ``InvalidBody`` (422) names the member that cannot be."""
    if role not in KEY_ROLES:
        raise _bad("role", f"must be one of {', '.join(KEY_ROLES)}, not {role!r}")
    if not name.strip():
        raise _bad("name", "a key needs a name (who or what uses it)")
    bad = [c for c in countries if not ISO3.fullmatch(c)]
    if bad:
        raise _bad("countries", f"must be ISO 3166-1 alpha-3 codes; got {bad}")
    # the codes the sites, the items and the criteria know (a typo scoped a key to nowhere)
    known = {country.iso3 for country in read_country_table()}
    unknown = [c for c in countries if c not in known]
    if unknown:
        raise _bad("countries", f"unknown country {unknown[0]!r} (codes as the items' country)")
    countries = sorted(set(countries))  # each once (stored in order)
    if countries and role == ADMIN:
        raise _bad("countries", "admin keys are not scoped to countries")
    if expires_at is not None and (
        expires_at.tzinfo is None
        or expires_at <= dt.datetime.now(dt.UTC)
        or expires_at.year >= 9999  # beyond, the instant in UTC may not be a Python datetime
    ):
        raise _bad(
            "expires_at",
            "must be a time in the future, before the year 9999, with its offset "
            "(e.g. 2027-01-31T00:00:00Z)",
            code="invalid_expiry",
        )
    prefix, secret = _new_secret()
    key_id = key_repo.insert_key(
        session,
        name=name.strip(),
        role=role,
        countries=sorted(set(countries)),
        prefix=prefix,
        secret_hash=_hash(secret),
        expires_at=expires_at,
    )
    session.commit()
    return CreatedKey(
        f"blk_{prefix}_{secret}",
        key_id,
        name.strip(),
        role,
        tuple(sorted(set(countries))),
        expires_at,
    )


def rotate_key(session: Session, key_id: int) -> CreatedKey:
    """A new secret (and prefix) for an active key: same id, role, scope and expiry, so its
    audit trail continues; the old secret stops working at once."""
    record = key_repo.find_by_id(session, key_id)
    if record is None or record.revoked_at is not None:
        raise NotFound(f"no active key #{key_id}", code="key_not_found")
    prefix, secret = _new_secret()
    if not key_repo.replace_secret(session, key_id, prefix, _hash(secret)):
        raise NotFound(f"no active key #{key_id}", code="key_not_found")
    session.commit()
    return CreatedKey(
        f"blk_{prefix}_{secret}",
        record.id,
        record.name,
        record.role,
        record.countries,
        record.expires_at,
    )


def revoke_key_id(session: Session, key_id: int) -> None:
    """Revoke a key by id (again: no change); ``NotFound`` for an unknown id."""
    if not key_repo.revoke_id(session, key_id):
        raise NotFound(f"no key #{key_id}", code="key_not_found")
    session.commit()


def get_key(session: Session, key_id: int) -> key_repo.KeyRecord:
    record = key_repo.find_by_id(session, key_id)
    if record is None:
        raise NotFound(f"no key #{key_id}", code="key_not_found")
    return record


def expired(record: key_repo.KeyRecord, now: dt.datetime | None = None) -> bool:
    return record.expires_at is not None and record.expires_at <= (now or dt.datetime.now(dt.UTC))


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
    if expired(record):
        assert record.expires_at is not None
        raise NotAuthenticated(
            f"the API key expired at {record.expires_at.astimezone(dt.UTC).isoformat()}; "
            "ask an admin for a new one",
            code="expired_key",
        )
    return _caller(record)


def _caller(record: key_repo.KeyRecord) -> Caller:
    return Caller(role=record.role, key_id=record.id, name=record.name, countries=record.countries)


def caller_for_id(session: Session, key_id: int) -> Caller | None:
    """The caller of a key named by id (a signed-in session); None once revoked or deleted."""
    record = key_repo.find_by_id(session, key_id)
    if record is None or record.revoked_at is not None or expired(record):
        return None
    return _caller(record)


def revoke_key(session: Session, key_or_prefix: str) -> None:
    match = KEY_PATTERN.fullmatch(key_or_prefix.strip())
    prefix = match["prefix"] if match else key_or_prefix.strip()
    if not key_repo.revoke(session, prefix):
        raise NotFound(f"no active key with prefix {prefix!r}")
    session.commit()


def list_keys(session: Session) -> list[key_repo.KeyRecord]:
    return key_repo.list_keys(session)
