"""The audit log table (0012): bulk COPY in, filtered reads out, the retention purge.

The table is append-only (a trigger refuses UPDATE, and DELETE outside :func:`purge_older_than`,
which sets ``borderlens.audit_purge`` for its own transaction only).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, Table, any_, literal, select, text
from sqlalchemy.orm import Session

from app.db.models import AuditEntry

audit_log = typing.cast(Table, AuditEntry.__table__)

COLUMNS = (
    "at",
    "key_id",
    "role",
    "method",
    "path",
    "query",
    "status",
    "features",
    "revealed",
    "revealed_countries",
    "bytes",
    "duration_ms",
)
COPY_SQL = f"COPY audit_log ({', '.join(COLUMNS)}) FROM STDIN"


def copy_rows(engine: Engine, rows: Sequence[tuple[object, ...]]) -> None:
    """Append ``rows`` (values in ``COLUMNS`` order) in one COPY and one commit."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        with cursor.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def purge_older_than(engine: Engine, days: int) -> int:
    """Delete entries older than ``days`` days (the retention setting); how many went."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL borderlens.audit_purge = 'on'"))
        result = conn.execute(
            text("DELETE FROM audit_log WHERE at < now() - make_interval(days => :days)"),
            {"days": days},
        )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class AuditFilter:
    key_id: int | None = None
    country: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    path: str | None = None  # a path prefix, e.g. /collections/sites
    before_id: int | None = None  # paging: entries older than this one


def _where(selection: AuditFilter) -> list[ColumnElement[bool]]:
    c = audit_log.c
    where: list[ColumnElement[bool]] = []
    if selection.key_id is not None:
        where.append(c.key_id == selection.key_id)
    if selection.country is not None:
        where.append(literal(selection.country) == any_(c.revealed_countries))
    if selection.since is not None:
        where.append(c.at >= selection.since)
    if selection.until is not None:
        where.append(c.at < selection.until)
    if selection.path is not None:
        escaped = selection.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(c.path.like(escaped + "%", escape="\\"))
    if selection.before_id is not None:
        where.append(c.id < selection.before_id)
    return where


def entries(session: Session, selection: AuditFilter, limit: int) -> list[dict[str, typing.Any]]:
    """Newest first, at most ``limit``."""
    statement = (
        select(audit_log).where(*_where(selection)).order_by(audit_log.c.id.desc()).limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(statement)]


def stream(
    session: Session, selection: AuditFilter, batch: int = 5000
) -> Iterator[dict[str, typing.Any]]:
    """Every matching entry, newest first, read in keyset batches (for the CSV export)."""
    before = selection.before_id
    while True:
        rows = entries(
            session,
            AuditFilter(
                selection.key_id,
                selection.country,
                selection.since,
                selection.until,
                selection.path,
                before,
            ),
            batch,
        )
        yield from rows
        if len(rows) < batch:
            return
        before = rows[-1]["id"]
