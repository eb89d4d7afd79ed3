"""Bulk writes with COPY, the fastest way into PostgreSQL (the caller's transaction covers it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
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


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def copy_rows(
    session: Session,
    table: str,
    columns: Mapping[str, str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """COPY rows into ``table``. ``columns`` maps each column, in row order, to its PostgreSQL
    type, so psycopg picks one dumper per column instead of looking one up for every value
    (several times faster on 100 000 rows); jsonb values are dicts, dumped with orjson."""
    if not rows:
        return
    types = list(columns.values())
    jsonb = [i for i, kind in enumerate(types) if kind == "jsonb"]
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with translate_db_errors(), driver(session).cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            if jsonb:
                row = list(row)
                for i in jsonb:
                    row[i] = Jsonb(row[i], dumps=_json)
            copy.write_row(row)
