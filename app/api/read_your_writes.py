"""After a write, the client carries the primary's WAL position, so its next reads see the write.

Installed only when replicas are configured (``BORDERLENS_DATABASE_REPLICA_URLS``). A request
that may write (not GET, HEAD or OPTIONS) and succeeds gets the primary's current LSN in a
cookie (``borderlens_lsn``, for browsers and the HTML pages) and in ``X-Borderlens-Lsn`` (API
clients send it back as ``X-Borderlens-Min-Lsn``); :func:`app.api.deps.get_read_session` then
reads from a replica only once it has replayed that far (``app.db.replicas``).
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.replicas import current_lsn

LSN_COOKIE: Final = "borderlens_lsn"
LSN_HEADER: Final = "x-borderlens-lsn"
MIN_LSN_HEADER: Final = "x-borderlens-min-lsn"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Long enough for any replica to catch up; after it, reads go anywhere again.
COOKIE_MAX_AGE_S: Final = 300


class ReadYourWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_lsn(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                engine = scope["app"].state.engine
                lsn = (await run_in_threadpool(current_lsn, engine)).encode()
                cookie = (
                    f"{LSN_COOKIE}={lsn.decode()}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; "
                    "HttpOnly; SameSite=Lax"
                )
                headers = list(message.get("headers", []))
                headers.append((LSN_HEADER.encode(), lsn))
                headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_lsn)
