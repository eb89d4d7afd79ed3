"""Bulk writes with COPY, the fastest way into PostgreSQL (the caller's transaction covers it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy.orm import Session

from app.db.errors import translate_db_errors


def driver(session: Session) -> Any:
    """The psycopg connection under the session (inside the session's transaction)."""
    connection = session.connection().connection.driver_connection
    assert connection is not None
    return connection


def ewkt_point(lon: float, lat: float) -> str:
    """EWKT that PostGIS parses on COPY; ``repr`` keeps every bit of the float."""
    return f"SRID=4326;POINT({lon!r} {lat!r})"


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """COPY rows into ``table``; dict values go in as JSONB."""
    if not rows:
        return
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with translate_db_errors(), driver(session).cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Jsonb(v) if isinstance(v, dict) else v for v in row])
