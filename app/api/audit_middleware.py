"""Records every request made with a key, and every anonymous write attempt, for the audit log.

The outermost middleware: the status is the one sent, ``bytes`` the body bytes sent (after
compression), ``duration_ms`` the time until the last byte left. The record is built here and
queued (``app.services.audit_log.AuditLog.put``, no I/O); who called is noted by the key check
(``app.api.deps``) and what was read by the page readers (``app.db.features``), through the
context variable of :mod:`app.audit`.
"""

from __future__ import annotations

import datetime as dt
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import audit
from app.services.audit_log import AuditLog


class AuditMiddleware:
    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        query = scope.get("query_string", b"").decode("latin-1")
        record = audit.AuditRecord(
            at=dt.datetime.now(dt.UTC),
            method=scope["method"],
            path=scope["path"],
            query=query[:4000],
            # a sign-in cookie names its key once checked (``audit.note_caller``)
            presented_key="authorization" in headers,
        )
        token = audit.current.set(record)
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            elif message["type"] == "http.response.body":
                record.bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            audit.current.reset(token)
            if record.status == 0:
                record.status = 500  # nothing was sent: the server failed
            record.duration_ms = (time.perf_counter() - started) * 1000
            if record.should_record:
                self.log.put(record)
