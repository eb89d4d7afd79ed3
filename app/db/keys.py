"""API keys repository. Secrets are never stored: only a lookup prefix and a SHA-256 hash."""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from app.db.errors import translate_db_errors
from app.db.models import ApiKey

keys = typing.cast(Table, ApiKey.__table__)


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    role: str
    countries: tuple[str, ...]
    prefix: str
    secret_hash: bytes
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


def _record(row: typing.Any) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        countries=tuple(row.countries),
        prefix=row.prefix,
        secret_hash=bytes(row.secret_hash),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


_COLUMNS = (
    keys.c.id,
    keys.c.name,
    keys.c.role,
    keys.c.countries,
    keys.c.prefix,
    keys.c.secret_hash,
    keys.c.created_at,
    keys.c.revoked_at,
    keys.c.expires_at,
    keys.c.last_used_at,
)


def insert_key(
    session: Session,
    *,
    name: str,
    role: str,
    countries: list[str],
    prefix: str,
    secret_hash: bytes,
    expires_at: dt.datetime | None = None,
) -> int:
    with translate_db_errors():
        result = session.execute(
            insert(keys)
            .values(
                name=name,
                role=role,
                countries=countries,
                prefix=prefix,
                secret_hash=secret_hash,
                expires_at=expires_at,
            )
            .returning(keys.c.id)
        )
    return int(result.scalar_one())


def replace_secret(session: Session, key_id: int, prefix: str, secret_hash: bytes) -> bool:
    """Rotate: a new prefix and secret for an active key (the old secret stops working)."""
    with translate_db_errors():
        result = session.execute(
            update(keys)
            .where(keys.c.id == key_id, keys.c.revoked_at.is_(None))
            .values(prefix=prefix, secret_hash=secret_hash)
            .returning(keys.c.id)
        )
    return result.scalar_one_or_none() is not None


def revoke_id(session: Session, key_id: int) -> bool:
    """Revoke by id; False when there is no such key (revoking twice keeps the first time)."""
    result = session.execute(
        update(keys)
        .where(keys.c.id == key_id)
        .values(revoked_at=func.coalesce(keys.c.revoked_at, func.now()))
        .returning(keys.c.id)
    )
    return result.scalar_one_or_none() is not None


def find_by_prefix(session: Session, prefix: str) -> KeyRecord | None:
    row = session.execute(select(*_COLUMNS).where(keys.c.prefix == prefix)).one_or_none()
    return _record(row) if row else None


def find_by_id(session: Session, key_id: int) -> KeyRecord | None:
    row = session.execute(select(*_COLUMNS).where(keys.c.id == key_id)).one_or_none()
    return _record(row) if row else None


def list_keys(session: Session) -> list[KeyRecord]:
    return [_record(row) for row in session.execute(select(*_COLUMNS).order_by(keys.c.id))]


def revoke(session: Session, prefix: str) -> bool:
    result = session.execute(
        update(keys)
        .where(keys.c.prefix == prefix, keys.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(keys.c.id)
    )
    return result.scalar_one_or_none() is not None
