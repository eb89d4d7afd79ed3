"""The audit log: an in-process queue, a background flusher writing it in bulk, and its reads.

Recording a request costs the request a ``deque.append`` (the middleware builds the record);
a daemon thread wakes every ``flush_interval_s`` (or as soon as ``batch_rows`` are waiting) and
appends everything queued in one ``COPY``. Each uvicorn worker process has its own queue and
flusher; they append to the same table, so nothing is shared but PostgreSQL. ``stop()`` (the
application's shutdown) drains the queue, so a clean shutdown loses nothing. If the database
cannot be reached the rows stay queued and are tried again; beyond ``max_queued`` new records
are dropped and counted (``dropped``) rather than growing the process without bound.

Retention: every ``purge_interval_s`` the flusher deletes entries older than the retention
setting (``audit_retention_days``; 0 keeps everything).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.audit import AuditRecord
from app.csv_safe import csv_lines
from app.db import audit as audit_repo

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(
        self,
        *,
        retention_days: int = 365,
        flush_interval_s: float = 0.5,
        batch_rows: int = 5000,
        max_queued: int = 1_000_000,
        purge_interval_s: float = 3600.0,
    ) -> None:
        self.retention_days = retention_days
        self.flush_interval_s = flush_interval_s
        self.batch_rows = batch_rows
        self.max_queued = max_queued
        self.purge_interval_s = purge_interval_s
        self.dropped = 0
        self.written = 0
        self._queue: collections.deque[tuple[object, ...]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._flush_lock = threading.Lock()
        self._next_purge = 0.0

    # -- the request path ---------------------------------------------------------------

    def put(self, record: AuditRecord) -> None:
        """Queue one record (thread-safe, no I/O)."""
        if len(self._queue) >= self.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("audit queue full: %d records dropped so far", self.dropped)
            return
        self._queue.append(record.row())
        if len(self._queue) >= self.batch_rows:
            self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def pending_rows(self) -> list[tuple[object, ...]]:
        """A copy of what is queued and not yet written (for tests and diagnostics)."""
        return list(self._queue)

    # -- the flusher -------------------------------------------------------------------

    def start(self, engine: Engine) -> None:
        self._engine = engine
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="audit-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the flusher and write everything still queued."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
                self._maybe_purge()
            except Exception:  # the database is away: keep the rows, try again later
                log.warning("audit log: writing failed; %d rows kept queued", self.queued)
                self._stopping.wait(min(5.0, self.flush_interval_s * 4))

    def flush(self) -> int:
        """Write what is queued now (in batches of ``batch_rows``); how many rows were written.
        On a database error the batch goes back to the head of the queue and it re-raises."""
        if self._engine is None:
            return 0
        written = 0
        with self._flush_lock:
            while self._queue:
                batch: list[tuple[object, ...]] = []
                while self._queue and len(batch) < self.batch_rows:
                    batch.append(self._queue.popleft())
                try:
                    audit_repo.copy_rows(self._engine, batch)
                except psycopg.DataError:
                    # a value the table refuses: the others are written one by one, and
                    # that row alone is dropped (the whole batch put back failed forever)
                    written += self._write_each(batch)
                    continue
                except Exception:
                    self._queue.extendleft(reversed(batch))
                    raise
                written += len(batch)
        self.written += written
        return written

    def _write_each(self, batch: list[tuple[object, ...]]) -> int:
        """Write ``batch`` a row at a time, dropping (counted in ``dropped``, logged) the
        rows the table refuses; how many were written."""
        assert self._engine is not None
        written = 0
        for row in batch:
            try:
                audit_repo.copy_rows(self._engine, [row])
            except psycopg.DataError as error:
                self.dropped += 1
                log.error("audit log: a row the table refuses was dropped (%s): %r", error, row)
                continue
            written += 1
        return written

    def _maybe_purge(self) -> None:
        if self.retention_days <= 0 or self._engine is None:
            return
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval_s
        purged = audit_repo.purge_older_than(self._engine, self.retention_days)
        if purged:
            log.info("audit log: %d entries older than %d days purged", purged, self.retention_days)


# -- reads (admins) ---------------------------------------------------------------------------

CSV_HEADER = ("id", *audit_repo.COLUMNS)


def _jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    at = entry["at"]
    return {**entry, "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")}


def read(
    session: Session, selection: audit_repo.AuditFilter, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page, newest first, and the id to continue before (None: no more)."""
    rows = audit_repo.entries(session, selection, limit + 1)
    following = rows[limit - 1]["id"] if len(rows) > limit else None
    return [_jsonable(row) for row in rows[:limit]], following


def csv_export(
    open_session: Callable[[], AbstractContextManager[Session]],
    selection: audit_repo.AuditFilter,
) -> Iterator[str]:
    """Every matching entry as CSV (cells neutralised against formula injection), read in
    batches on a session of its own while the answer streams."""

    def rows() -> Iterator[list[Any]]:
        with open_session() as session:
            for entry in audit_repo.stream(session, selection):
                values = _jsonable(entry)
                values["revealed_countries"] = " ".join(entry["revealed_countries"])
                yield [values[name] for name in CSV_HEADER]

    return csv_lines(CSV_HEADER, rows())
