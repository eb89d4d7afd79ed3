"""The Server-Sent Events stream of a key's alerts (``GET /events``).

Each event's SSE ``id`` is its outbox sequence number; a client that reconnects with
``Last-Event-ID: N`` gets every event after N, in order (the outbox keeps them), so nothing
is missed while it was away. Without it, the stream starts at the newest event. The caller
sees the events of its own subscriptions (an admin: all), whose payloads already carry only
what the subscribing key may read.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager

import orjson
from sqlalchemy.orm import Session
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from app.db import alert_events
from app.errors import TooManyRequests
from app.queries import Caller
from app.roles import ADMIN

POLL_S = 0.5
BATCH = 500

SessionFactory = Callable[[], AbstractContextManager[Session]]
#: How long a client refused a stream is asked to wait (``Retry-After``, seconds).
RETRY_STREAM_S = 5


class StreamSlots:
    """The streams each key holds open in this server process. Each polls the outbox every
    ``POLL_S``: without a bound, one key opening hundreds of them would load the database
    with hundreds of queries a second."""

    def __init__(self) -> None:
        self._open: Counter[int | None] = Counter()
        self._lock = threading.Lock()

    def take(self, key_id: int | None, limit: int) -> Callable[[], None]:
        """One more stream for ``key_id``; returns its release (safe to call more than once).
        ``TooManyRequests`` (429 ``too_many_streams``, ``Retry-After``) at ``limit``."""
        with self._lock:
            if self._open[key_id] >= limit:
                raise TooManyRequests(
                    f"this key already holds {limit} open event streams, the most one key "
                    "may (BORDERLENS_EVENT_STREAMS_PER_KEY); close one first (a stream "
                    "resumed with Last-Event-ID misses nothing)",
                    code="too_many_streams",
                    headers={"Retry-After": str(RETRY_STREAM_S)},
                )
            self._open[key_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._open[key_id] -= 1
                if self._open[key_id] <= 0:
                    del self._open[key_id]

        return release

    def open_streams(self, key_id: int | None) -> int:
        with self._lock:
            return self._open[key_id]


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
    sessions: SessionFactory,
    caller: Caller,
    last_event_id: int | None,
    on_end: Callable[[], None] = lambda: None,
) -> AsyncIterator[ServerSentEvent]:
    """Events after ``last_event_id`` (none given: from now), then new ones as they come.
    Ends when the client goes (the server cancels the generator), then calls ``on_end``."""
    try:
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
    finally:
        on_end()
