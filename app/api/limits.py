"""Refuse oversized request bodies before they are read (a 1 GB upload must not be spooled).

A declared ``Content-Length`` over the limit is answered 413 at once; a body without one
(``Transfer-Encoding: chunked``) is counted as it streams and answered 413 at the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.responses import problem_response
from app.errors import Problem

MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, int(declared), limit)
            return
        received = 0
        refused = False

        async def counted() -> Message:
            # Past the limit the 413 is sent at once and the route sees the client go away:
            # an exception raised here would reach the body parser, which answers 400.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await self._refuse(scope, receive, send, None, limit)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:
                raise  # the route's own failure; a disconnect we caused is already answered

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, declared: int | None, limit: int
    ) -> None:
        detail = (
            f"the request body exceeds {limit:,} bytes"
            if declared is None
            else f"the request declares {declared:,} bytes; the limit is {limit:,} bytes"
        )
        problem = Problem(413, "Payload too large", "body_too_large", detail, scope["path"])
        await problem_response(problem, {"Connection": "close"})(scope, receive, send)
