"""The Server-Sent Events stream of a key's alerts (``GET /events``).

Each event's SSE ``id`` is its outbox sequence number; a client that reconnects with
``Last-Event-ID: N`` gets every event after N, in order (the outbox keeps them), so nothing
is missed while it was away. Without it, the stream starts at the newest event. The caller
sees the events of its own subscriptions (an admin: all), whose payloads already carry only
what the subscribing key may read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager

import orjson
from sqlalchemy.orm import Session
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from app.db import alert_events
from app.queries import Caller
from app.roles import ADMIN

POLL_S = 0.5
BATCH = 500

SessionFactory = Callable[[], AbstractContextManager[Session]]


def _owner(caller: Caller) -> int | None:
    return None if caller.role == ADMIN else caller.key_id


def _fetch(
    sessions: SessionFactory, owner: int | None, after: int
) -> list[alert_events.EventRecord]:
    with sessions() as session:
        return alert_events.events_after(session, owner, after, BATCH)


def _start(sessions: SessionFactory) -> int:
    with sessions() as session:
        return alert_events.last_event_id(session)


async def follow(
    sessions: SessionFactory, caller: Caller, last_event_id: int | None
) -> AsyncIterator[ServerSentEvent]:
    """Events after ``last_event_id`` (none given: from now), then new ones as they come.
    Ends when the client goes (the server cancels the generator)."""
    if last_event_id is None:
        after = await run_in_threadpool(_start, sessions)
    else:
        after = last_event_id
    owner = _owner(caller)
    while True:
        found = await run_in_threadpool(_fetch, sessions, owner, after)
        for event in found:
            after = event.id
            yield ServerSentEvent(
                data=orjson.dumps({"id": event.public_id, **event.payload}).decode(),
                event=event.type,
                id=str(event.id),
            )
        if len(found) < BATCH:
            await asyncio.sleep(POLL_S)
