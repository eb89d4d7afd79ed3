"""Every response says which dataset version it shows (``Dataset-Version``) and carries a
request id (``X-Request-Id``: the caller's, if it sent a sane one, else a new one), which the
history keeps with each change the request made."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import ReadSessionDep, SessionFactoryDep, release_connection
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
                sessions = box.get("sessions")
                if version is None and callable(sessions):
                    # a self-noting route answered before it read anything (a path that
                    # failed validation, a tile outside its matrix): read the version now,
                    # in a session of its own
                    version = await run_in_threadpool(_current_version, sessions)
                if isinstance(version, int):
                    headers.append((DATASET_VERSION.lower().encode(), str(version).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            dataset.REQUEST.reset(token)


#: Route endpoints that read the dataset version in their own statement and note it
#: themselves (``app.db.dataset.note_version``), also when they fail: for them the query of
#: :func:`note_dataset_version` would be a second round trip for the same number.
SELF_NOTING: set[Callable[..., Any]] = set()


def notes_own_version(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a route endpoint as noting the dataset version itself (see ``SELF_NOTING``)."""
    SELF_NOTING.add(endpoint)
    return endpoint


async def note_dataset_version(
    request: Request, session: ReadSessionDep, open_session: SessionFactoryDep
) -> None:
    """Every route: the dataset version at the start of the request, for the header (routes
    that read or write data replace it with the version they read or wrote). A database
    that cannot answer is the route's to report, not this header's. Async, so routes in
    ``SELF_NOTING`` skip it without a hop to the thread pool."""
    if request.scope.get("endpoint") in SELF_NOTING:
        box = dataset.REQUEST.get()
        if box is not None:  # for an answer that comes before the route reads anything
            # A factory, not this request's session: an error answer starts after the
            # dependency closed that one, and reading through it then took a connection
            # nobody gave back (and raced the close): about 100 tiles outside their matrix
            # held the whole pool, and the server never answered again (found by a helper).
            box["sessions"] = open_session
        return
    await run_in_threadpool(_read_version, session)
    release_connection(session)


def _current_version(sessions: Callable[[], AbstractContextManager[Session]]) -> int | None:
    try:
        with sessions() as session:
            return dataset.dataset_version(session)
    except SQLAlchemyError:
        return None


def _read_version(session: Session) -> None:
    try:
        dataset.dataset_version(session)
    except SQLAlchemyError:
        return
