"""The delivery worker's SQL over the outbox (``alert_events``): lock the due events, record
what became of each try. The events are written by :mod:`app.db.outbox`.

A worker locks due rows ``FOR NO KEY UPDATE SKIP LOCKED`` in the transaction that sends them
and records the outcome, so several workers never send one event at the same time, and a
worker that dies releases its rows with its connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    any_,
    case,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.db.alert_models import SUBSCRIPTION_DELETED
from app.db.outbox import Reader, event_bodies, events, keys, reader_of, subscriptions


@dataclass(frozen=True)
class Delivery:
    """One locked event to send: ``payload`` is its body as JSON text (sent as it is)."""

    id: int
    public_id: str
    attempts: int
    payload: bytes
    created_at: dt.datetime
    subscription_id: int
    subscription: str
    webhook_url: str
    secret: str
    batch_max_events: int


@dataclass(frozen=True)
class _Locked:
    """A locked event before its body is read."""

    row: Any
    reader: Reader

    @property
    def id(self) -> int:
        return int(self.row["id"])


def _lock(session: Session, where: Sequence[ColumnElement[bool]], limit: int) -> list[_Locked]:
    """Lock up to ``limit`` due events among ``where`` (oldest first) in one statement."""
    due = (
        select(events.c.id)
        .where(
            events.c.status == "pending",
            events.c.next_attempt_at <= func.now(),
            # a lease of an older worker (which wrote ``leased_until``) is still honoured
            or_(events.c.leased_until.is_(None), events.c.leased_until < func.now()),
            # a deleted subscription's events wait for their removal, unsent
            events.c.subscription_id.not_in(
                select(subscriptions.c.id).where(subscriptions.c.status == SUBSCRIPTION_DELETED)
            ),
            *where,
        )
        .order_by(events.c.next_attempt_at, events.c.id)
        .limit(limit)
        # a row lock, not a new row version per event: held until the outcome is written
        .with_for_update(skip_locked=True, key_share=True)
        .scalar_subquery()
    )
    statement = (
        select(
            events.c.id,
            events.c.public_id,
            events.c.attempts,
            events.c.created_at,
            events.c.subscription_id,
            subscriptions.c.public_id.label("subscription"),
            subscriptions.c.webhook_url,
            subscriptions.c.secret,
            subscriptions.c.batch_max_events,
            keys.c.id.label("key_id"),
            keys.c.role,
            keys.c.countries,
        )
        .join(subscriptions, subscriptions.c.id == events.c.subscription_id)
        .join(keys, keys.c.id == subscriptions.c.api_key_id)
        .where(events.c.id.in_(due))
        .order_by(events.c.id)
    )
    rows = session.execute(statement).mappings().all()
    return [_Locked(r, reader_of(r)) for r in rows if r["webhook_url"]]


def _deliveries(session: Session, locked: Sequence[_Locked]) -> list[Delivery]:
    """The locked events with their bodies (read for each subscriber's view), oldest first."""
    bodies = event_bodies(session, [(lock.reader, lock.id) for lock in locked])
    return [
        Delivery(
            lock.id,
            r["public_id"],
            r["attempts"],
            bodies[lock.id].encode(),
            r["created_at"],
            r["subscription_id"],
            r["subscription"],
            r["webhook_url"],
            r["secret"],
            r["batch_max_events"],
        )
        for lock in sorted(locked, key=lambda lock: lock.id)
        for r in (lock.row,)
        # a locked event's subscription cannot be removed (its removal takes the events'
        # locks NOWAIT); were a body missing all the same, the event stays due, unsent
        if lock.id in bodies
    ]


def hold_for(session: Session, seconds: float) -> None:
    """End this session (releasing its locks) if it idles in its transaction longer than
    ``seconds``: a worker that hangs while sending cannot keep events from the others."""
    session.execute(
        text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
        {"ms": str(max(1, round(seconds * 1000)))},
    )


def lock_due(session: Session, limit: int) -> list[Delivery]:
    """Lock up to ``limit`` due events for the caller's transaction, and for each
    subscription among them that takes batches, more of its due events up to its
    ``batch_max_events``. Rows another worker holds are skipped, not waited for. The locks
    last until the transaction ends: the outcome is written and committed in it, and a
    worker that dies (its connection closes, or ``idle_in_transaction_session_timeout``
    ends it) releases them at once, to be sent again by another."""
    locked = _lock(session, (), limit)
    room: dict[int, int] = {}
    for lock in locked:
        batch_max, subscription_id = lock.row["batch_max_events"], lock.row["subscription_id"]
        if batch_max > 1:
            room[subscription_id] = room.get(subscription_id, batch_max) - 1
    # SKIP LOCKED skips other transactions' locks only: what this one holds is left out here
    held = [lock.id for lock in locked]
    for subscription_id, free in room.items():
        if free > 0:
            mine = (events.c.subscription_id == subscription_id, events.c.id.not_in(held))
            locked += _lock(session, mine, free)
    # oldest first, as a batch lists them: the first statement takes the earliest due, which
    # need not be the oldest (a retried event comes due late)
    return _deliveries(session, locked)


def mark_delivered(session: Session, event_ids: Sequence[int]) -> None:
    """Sent and taken: delivered, the try counted."""
    if event_ids:
        session.execute(
            update(events)
            # no status test: the rows are this transaction's since lock_due, so pending
            # (with one, the planner took the partial queue index and read all of it)
            .where(events.c.id == any_(literal(list(event_ids), ARRAY(BigInteger))))
            .values(
                status="delivered",
                delivered_at=func.now(),
                attempts=events.c.attempts + 1,
                leased_until=None,
                last_error=None,
            )
        )


def mark_failed(session: Session, outcomes: Sequence[tuple[int, float | None]], error: str) -> None:
    """Failed tries (each counted), one error for all: each ``(event id, retry_in_s)`` is
    retried in that many seconds or (None) moved to the dead letters. One statement."""
    if not outcomes:
        return
    failed = (
        select(
            func.unnest(literal([i for i, _ in outcomes], ARRAY(BigInteger))).label("id"),
            func.unnest(literal([d for _, d in outcomes], ARRAY(Double))).label("retry_in_s"),
        )
    ).subquery("failed")
    session.execute(
        update(events)
        # no status test, as in mark_delivered: the rows are this transaction's
        .where(events.c.id == failed.c.id)
        .values(
            attempts=events.c.attempts + 1,
            leased_until=None,
            last_error=error[:1000],
            status=case((failed.c.retry_in_s.is_(None), "dead"), else_=events.c.status),
            next_attempt_at=case(
                (
                    failed.c.retry_in_s.is_not(None),
                    func.now() + func.make_interval(0, 0, 0, 0, 0, 0, failed.c.retry_in_s),
                ),
                else_=events.c.next_attempt_at,
            ),
        )
    )
