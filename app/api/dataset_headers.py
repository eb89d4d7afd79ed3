"""Every response says which dataset version it shows (``Dataset-Version``) and carries a
request id (``X-Request-Id``: the caller's, if it sent a sane one, else a new one), which the
history keeps with each change the request made."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import ReadSessionDep
from app.db import dataset

DATASET_VERSION = "Dataset-Version"
REQUEST_ID = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class DatasetHeaders:
    """Pure ASGI middleware (no response buffering): sets up the per-request box that reads
    and writes fill in (``app.db.dataset.REQUEST``) and copies it into the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = asked if _SANE_ID.fullmatch(asked) else uuid.uuid4().hex
        box: dict[str, object] = {"request_id": request_id}
        token = dataset.REQUEST.set(box)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID.lower().encode(), request_id.encode()))
                version = box.get("version")
                if isinstance(version, int):
                    headers.append((DATASET_VERSION.lower().encode(), str(version).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            dataset.REQUEST.reset(token)


def note_dataset_version(session: ReadSessionDep) -> None:
    """Every route: the dataset version at the start of the request, for the header (routes
    that read or write data replace it with the version they read or wrote). A database
    that cannot answer is the route's to report, not this header's."""
    try:
        dataset.dataset_version(session)
    except SQLAlchemyError:
        return
