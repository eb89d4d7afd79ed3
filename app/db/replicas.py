"""Read-only requests on PostgreSQL streaming replicas, writes and read-your-writes on the primary.

PostgreSQL's own streaming replication keeps each replica a byte-for-byte copy of the primary,
a moment behind. A read may go to any replica, except a read by a client that has just written:
the primary's WAL position after that write (an LSN) travels with the client (a cookie, or the
``X-Borderlens-Min-Lsn`` header for API clients), and such a read goes to a replica only once
that replica has replayed up to it (``pg_last_wal_replay_lsn()``), else to the primary. A
replica that cannot be reached is skipped; with none left, reads go to the primary.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Sequence
from typing import Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: The text form of a PostgreSQL WAL position (``pg_lsn``), e.g. ``0/3000148``.
LSN_PATTERN: Final = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")


def parse_lsn(value: str | None) -> str | None:
    """``value`` when it is an LSN, else None (a client's cookie is never trusted as SQL)."""
    if value and LSN_PATTERN.fullmatch(value.strip()):
        return value.strip().upper()
    return None


def current_lsn(primary: Engine) -> str:
    """The primary's WAL write position now (after a committed write: at or past it)."""
    with primary.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one())


class ReadRouter:
    """Hands out a connection for a read: the next replica in turn that is reachable and has
    replayed ``min_lsn`` (when given), else the primary."""

    def __init__(self, primary: Engine, replicas: Sequence[Engine]) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def connect(self, min_lsn: str | None = None) -> Connection:
        """An open connection (the caller closes it)."""
        if self.replicas:
            with self._lock:
                start = next(self._turn)
            for i in range(len(self.replicas)):
                engine = self.replicas[(start + i) % len(self.replicas)]
                conn = self._try(engine, min_lsn)
                if conn is not None:
                    return conn
        return self.primary.connect()

    @staticmethod
    def _try(engine: Engine, min_lsn: str | None) -> Connection | None:
        try:
            conn = engine.connect()
        except DBAPIError as error:
            log.warning("replica %s unreachable, skipped: %s", engine.url.host, error)
            return None
        if min_lsn is None:
            return conn
        try:
            caught_up = conn.execute(
                text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), false)"),
                {"lsn": min_lsn},
            ).scalar_one()
        except DBAPIError:
            caught_up = False
        if caught_up:
            return conn
        conn.close()
        return None

    def dispose(self) -> None:
        for engine in self.replicas:
            engine.dispose()
