"""The delivery worker's SQL over the outbox: lock the due events, record what became of
each try. The events are written by :mod:`app.db.outbox`.

First tries are taken from the groups (``alert_event_groups``: a change's events for one
subscription, in order): a group is locked and its next events are sent, and its ``sent``
moves past them. An event whose try failed gets a row of its own (``alert_events``), where its
retries come due. A worker locks groups and rows ``FOR NO KEY UPDATE SKIP LOCKED`` in the
transaction that sends them and records the outcome, so several workers never send one event
at the same time, and a worker that dies releases them with its connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Engine,
    Integer,
    Select,
    Text,
    any_,
    case,
    event,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from app.db.alert_events import Reader, event_bodies, reader_of
from app.db.alert_models import GROUP_SPAN, SUBSCRIPTION_DELETED
from app.db.subscriptions import events, groups, keys, subscriptions


# Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, six times
# the cost of a plain one (2.4 us against 0.4 us for these eleven fields, measured), and a
# worker makes one for each event it sends (24 000 for one upload with the alerts
# benchmark's subscriptions). Only ``payload`` changes after it is made: it is empty until
# :func:`fill_payloads` reads the body.
@dataclass(slots=True)
class Delivery:
    """One locked event to send: ``payload`` is its body as JSON text (sent as it is), read
    by :func:`fill_payloads` after :func:`lock_due`."""

    id: int
    public_id: str
    attempts: int
    # the body and the secret are not in its repr, which may reach a log: the body may
    # hold restricted attributes, the secret signs the subscriber's messages
    payload: bytes = field(repr=False)
    created_at: dt.datetime
    subscription_id: int
    subscription: str
    webhook_url: str
    secret: str = field(repr=False)
    batch_max_events: int
    # Taken from its group for its first try (None: an event with its own row, retried).
    group_id: int | None = None
    # Who reads it (the subscriber's key): the view its body is built for.
    reader: Reader | None = field(default=None, repr=False)

    @property
    def ordinal(self) -> int:
        """Its place in its group (from 0)."""
        return self.id % GROUP_SPAN


@dataclass(frozen=True)
class _Locked:
    """Locked events before their bodies are read: ``count`` consecutive events of one group
    from the id ``id`` (taken from the group ``group_id`` for their first try), or one event
    with its own row (``group_id`` None, ``count`` 1). A group's events are one of these,
    not one each: an object per event cost more of a worker's time than sending them."""

    row: Any
    reader: Reader
    id: int
    group_id: int | None = None
    count: int = 1


#: What sending an event needs of its subscription and of the subscriber's key (the view of
#: restricted attributes its body is built for).
_SUBSCRIBER = (
    subscriptions.c.public_id.label("subscription"),
    subscriptions.c.webhook_url,
    subscriptions.c.secret,
    subscriptions.c.batch_max_events,
    keys.c.id.label("key_id"),
    keys.c.role,
    keys.c.countries,
)


def _lock(session: Session, where: Sequence[ColumnElement[bool]], limit: int) -> list[_Locked]:
    """Lock up to ``limit`` due events among ``where`` (oldest due first) in one statement.

    Locked and read in one statement, as groups are (:func:`_next_groups`): locked in a
    subquery, an event another worker had just tried and released was read by the outer
    query as the statement's snapshot saw it, its tries one short, so its last try was
    taken for a retry and it was tried once more than the limit (a flaky 4 of 3 tries)."""
    statement = (
        select(
            events.c.id,
            events.c.public_id,
            events.c.attempts,
            events.c.created_at,
            events.c.subscription_id,
            *_SUBSCRIBER,
        )
        .join(subscriptions, subscriptions.c.id == events.c.subscription_id)
        .join(keys, keys.c.id == subscriptions.c.api_key_id)
        .where(
            events.c.status == "pending",
            events.c.next_attempt_at <= func.now(),
            # a lease of an older worker (which wrote ``leased_until``) is still honoured
            or_(events.c.leased_until.is_(None), events.c.leased_until < func.now()),
            # a deleted subscription's events wait for their removal, unsent
            subscriptions.c.status != SUBSCRIPTION_DELETED,
            *where,
        )
        .order_by(events.c.next_attempt_at, events.c.id)
        .limit(limit)
        # a row lock of the event alone, not a new row version: held until the outcome is
        # written (a subscription's lock would make pausing or deleting it wait)
        .with_for_update(skip_locked=True, key_share=True, of=events)
    )
    rows = session.execute(statement).mappings().all()
    return [_Locked(r, reader_of(r), int(r["id"])) for r in rows if r["webhook_url"]]


def _deliveries(locked: Sequence[_Locked]) -> list[Delivery]:
    """The locked events, oldest first, each with an empty ``payload`` (read by
    :func:`fill_payloads`)."""
    found: list[Delivery] = []
    for lock in sorted(locked, key=lambda lock: lock.id):
        r = lock.row
        # a group's fields read once for all its events (a row's item costs as much as
        # making a Delivery)
        public_id, created_at = r["public_id"], r["created_at"]
        attempts = 0 if lock.group_id else r["attempts"]  # a group's row has none
        subscription_id, subscription = r["subscription_id"], r["subscription"]
        webhook_url, secret, batch_max = r["webhook_url"], r["secret"], r["batch_max_events"]
        for event_id in range(lock.id, lock.id + lock.count):
            found.append(
                Delivery(
                    event_id,
                    f"{public_id}{event_id % GROUP_SPAN:04x}" if lock.group_id else public_id,
                    attempts,
                    b"",
                    created_at,
                    subscription_id,
                    subscription,
                    webhook_url,
                    secret,
                    batch_max,
                    lock.group_id,
                    lock.reader,
                )
            )
    return found


def fill_payloads(session: Session, locked: Sequence[Delivery]) -> bool:
    """Read the bodies of events :func:`lock_due` locked into their ``payload``, one
    statement per reader; False if any has none (its subscription went, which its locks
    should prevent: those events are to stay due, unsent)."""
    wanted: list[tuple[Reader, int]] = []
    for delivery in locked:
        assert delivery.reader is not None, "locked by lock_due"
        wanted.append((delivery.reader, delivery.id))
    bodies = event_bodies(session, wanted)
    for delivery in locked:
        body = bodies.get(delivery.id)
        if body is None:
            return False
        delivery.payload = body.encode()
    return True


def hold_for(engine: Engine, seconds: float) -> None:
    """End each session of ``engine`` (releasing its locks) that idles in a transaction
    longer than ``seconds``: a worker that hangs while sending cannot keep events from the
    others. Set once for each new connection of the worker's own engine, not at the start of
    each round's transaction (a round trip per round, on every sender woken)."""
    timeout = f"{max(1, round(seconds * 1000))}ms"

    @event.listens_for(engine, "connect")
    def hold(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, false)", (timeout,)
        )
        dbapi_connection.commit()  # a setting made in a transaction rolled back is undone


def _next_groups(blocked: set[int], held: Sequence[int], limit: int) -> Select[Any]:
    """Lock the oldest ``limit`` groups with events left for a first try, not ``held`` by
    this round already, not of a ``blocked`` or deleted subscription, nor of one with an
    older group pending that this round does not hold (another worker is sending it, and the
    groups of a subscription go in the order they were written: an upload's completion after
    its sites); with their subscription and key, oldest first. So one statement takes at most
    one group of each subscription: the next statement, with those held, takes the groups
    after them.

    Locked and read in one statement: a lock taken in a subquery would let the outer query
    read the group as the statement's snapshot saw it, before another worker's commit moved
    its ``sent`` (the events it had just sent were sent again)."""
    where = [
        groups.c.status == "pending",
        subscriptions.c.status != SUBSCRIPTION_DELETED,
    ]
    if held:
        where.append(groups.c.id.not_in(list(held)))
    if blocked:
        where.append(groups.c.subscription_id.not_in(sorted(blocked)))
    older = groups.alias("older")
    where.append(
        ~exists().where(
            older.c.subscription_id == groups.c.subscription_id,
            older.c.status == "pending",
            older.c.id < groups.c.id,
            older.c.id.not_in(list(held)) if held else true(),
        )
    )
    return (
        select(
            groups.c.id,
            groups.c.public_id,
            groups.c.sent,
            groups.c.size,
            groups.c.created_at,
            groups.c.subscription_id,
            *_SUBSCRIBER,
        )
        .join(subscriptions, subscriptions.c.id == groups.c.subscription_id)
        .join(keys, keys.c.id == subscriptions.c.api_key_id)
        .where(*where)
        .order_by(groups.c.id)
        .limit(limit)
        # the group's row only: a subscription or key row lock would make pausing or
        # deleting a subscription wait for a round of sends
        .with_for_update(skip_locked=True, key_share=True, of=groups)
    )


#: A round takes this many times ``limit`` messages of first tries from groups: one worker
#: sends a group (its lock), up to ``PARALLEL_SENDS`` messages side by side, so a receiver
#: answering in 100 ms still gets about 100 events a second from a subscription's group.
GROUP_ROUND_FACTOR = 5

#: Groups one round locks at most: a round of many small groups (sites edited one by one)
#: costs a statement per group of a subscription taking a message per event (one a
#: subscription, for those taking batches).
ROUND_GROUPS = 20


#: Batches a subscription taking them gets in one round at most, sent one after the other:
#: an upload's 2 400 events for it go in two rounds (four messages of 500, then one), where
#: one message a round took five rounds (each a lock, a read of the bodies, a commit).
BATCHES_PER_ROUND = 4


def _batches(events: int, batch_max: int) -> int:
    """Messages ``events`` events of one subscription make in batches of ``batch_max``."""
    return -(-events // batch_max)


def _take_groups(session: Session, messages: int, counted: dict[int, int]) -> list[_Locked]:
    """Lock groups, oldest first, and take their next events for a first try: up to about
    ``messages`` messages, a message per event, or for a subscription taking batches up to
    ``BATCHES_PER_ROUND`` messages of its ``batch_max_events`` (``counted``: how many of its
    events this round holds already). A subscription whose group is not taken whole gets none of
    its later groups this round: its groups go in the order they were written (a group's
    messages may go side by side)."""
    taken: list[_Locked] = []
    counted = dict(counted)
    blocked, held = set[int](), list[int]()
    # Groups a statement locks: one until the groups seen are all of subscriptions taking
    # batches (a message each: as many as messages are left), as a group of a subscription
    # taking one message per event may use up the round alone, and the groups locked after
    # it, unsent, would wait for the round's end, skipped by the other workers.
    wanted = 1
    while messages > 0 and len(held) < ROUND_GROUPS:
        statement = _next_groups(blocked, held, min(wanted, ROUND_GROUPS - len(held)))
        found = session.execute(statement).mappings().all()
        if not found:
            break
        for row in found:
            held.append(int(row["id"]))  # locked, taken from or not: released at the end
            subscription_id = int(row["subscription_id"])
            if messages <= 0 or subscription_id in blocked:
                continue
            batch_max = int(row["batch_max_events"])
            left = int(row["size"]) - int(row["sent"])
            if batch_max > 1:
                have = counted.get(subscription_id, 0)
                count = min(left, max(0, BATCHES_PER_ROUND * batch_max - have))
                messages -= _batches(have + count, batch_max) - _batches(have, batch_max)
            else:
                count = min(left, messages)
                messages -= count
            counted[subscription_id] = counted.get(subscription_id, 0) + count
            if count < left:
                blocked.add(subscription_id)
            if not row["webhook_url"] or count <= 0:
                continue
            group_id = int(row["id"])
            first = group_id * GROUP_SPAN + int(row["sent"])
            taken.append(_Locked(row, reader_of(row), first, group_id, count))
        batched = all(int(row["batch_max_events"]) > 1 for row in found)
        wanted = messages if batched else 1
    return taken


def lock_due(session: Session, limit: int) -> list[Delivery]:
    """Lock due events for the caller's transaction: up to ``limit`` of those with their own
    row that came due for a retry (for each subscription among them that takes batches, more
    of its due ones up to its ``batch_max_events``), and the next events of the oldest groups
    for a first try (:func:`_take_groups`, about ``limit`` messages). Rows and groups another
    worker holds are skipped, not waited for. The locks last until the transaction ends: the
    outcome is written and committed in it, and a worker that dies (its connection closes, or
    ``idle_in_transaction_session_timeout`` ends it) releases them at once, to be sent again
    by another. Each event's ``payload`` is empty until :func:`fill_payloads` reads it (the
    worker reads a subscription's while it sends another's)."""
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
    batched: dict[int, int] = {}
    for lock in locked:
        if lock.row["batch_max_events"] > 1:
            subscription_id = int(lock.row["subscription_id"])
            batched[subscription_id] = batched.get(subscription_id, 0) + 1
    locked += _take_groups(session, limit * GROUP_ROUND_FACTOR, batched)
    # oldest first, as a batch lists them: a retry comes due late, after newer first tries
    return _deliveries(locked)


def mark_delivered(session: Session, delivered: Sequence[Delivery]) -> None:
    """Sent and taken: an event with its own row is delivered, its try counted (one taken
    from its group is counted by :func:`advance_groups`)."""
    own = [d.id for d in delivered if d.group_id is None]
    if own:
        session.execute(
            update(events)
            # no status test: the rows are this transaction's since lock_due, so pending
            # (with one, the planner took the partial queue index and read all of it)
            .where(events.c.id == any_(literal(own, ARRAY(BigInteger))))
            .values(
                status="delivered",
                delivered_at=func.now(),
                attempts=events.c.attempts + 1,
                leased_until=None,
                last_error=None,
            )
        )


def _retry_at(retry_in_s: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, retry_in_s)


def mark_failed(
    session: Session, outcomes: Sequence[tuple[Delivery, float | None]], error: str
) -> None:
    """Failed tries (each counted), one error for all: each ``(event, retry_in_s)`` is
    retried in that many seconds or (None) moved to the dead letters. An event taken from
    its group gets its own row so (same id and ``webhook-id``). A statement for each kind."""
    first = [(d, delay) for d, delay in outcomes if d.group_id is not None]
    if first:
        _leave_groups(session, first, error)
    own = [(d.id, delay) for d, delay in outcomes if d.group_id is None]
    if not own:
        return
    failed = (
        select(
            func.unnest(literal([i for i, _ in own], ARRAY(BigInteger))).label("id"),
            func.unnest(literal([d for _, d in own], ARRAY(Double))).label("retry_in_s"),
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
                (failed.c.retry_in_s.is_not(None), _retry_at(failed.c.retry_in_s)),
                else_=events.c.next_attempt_at,
            ),
        )
    )


def _leave_groups(
    session: Session, outcomes: Sequence[tuple[Delivery, float | None]], error: str
) -> None:
    """Events whose first try failed get their own row: their id, ``webhook-id``, type,
    body (entry or payload) and time from the group, one try counted."""
    failed = (
        select(
            func.unnest(literal([d.id for d, _ in outcomes], ARRAY(BigInteger))).label("id"),
            func.unnest(literal([d.public_id for d, _ in outcomes], ARRAY(Text))).label(
                "public_id"
            ),
            func.unnest(literal([r for _, r in outcomes], ARRAY(Double))).label("retry_in_s"),
        )
    ).subquery("failed")
    ordinal = failed.c.id.op("%")(GROUP_SPAN)
    rows = select(
        failed.c.id,
        failed.c.public_id,
        groups.c.subscription_id,
        groups.c.type,
        groups.c.payload,
        groups.c.site_version_ids[ordinal + 1],
        case((failed.c.retry_in_s.is_(None), "dead"), else_="pending"),
        literal(1),
        func.coalesce(_retry_at(failed.c.retry_in_s), func.now()),
        literal(error[:1000], Text),
        groups.c.created_at,
    ).select_from(
        failed.join(groups, groups.c.id == failed.c.id.op("/")(literal(GROUP_SPAN, BigInteger)))
    )
    columns = [
        "id",
        "public_id",
        "subscription_id",
        "type",
        "payload",
        "site_version_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    ]
    session.execute(insert(events).from_select(columns, rows))


def advance_groups(session: Session, tried: Sequence[Delivery]) -> None:
    """The groups move past their events that had their first try (delivered, or given
    their own row by :func:`mark_failed`); a group whose every event was tried is
    delivered. Tries go in order within a group: those tried are the first ones taken."""
    ends: dict[int, int] = {}
    for delivery in tried:
        if delivery.group_id is not None:
            ends[delivery.group_id] = max(ends.get(delivery.group_id, 0), delivery.ordinal + 1)
    if not ends:
        return
    moved = (
        select(
            func.unnest(literal(list(ends), ARRAY(BigInteger))).label("id"),
            func.unnest(literal(list(ends.values()), ARRAY(Integer))).label("sent"),
        )
    ).subquery("moved")
    session.execute(
        update(groups)
        .where(groups.c.id == moved.c.id)
        .values(
            sent=moved.c.sent,
            delivered_at=func.now(),
            sent_marks=func.array_append(groups.c.sent_marks, moved.c.sent),
            sent_times=func.array_append(groups.c.sent_times, func.now()),
            status=case((moved.c.sent >= groups.c.size, "delivered"), else_=groups.c.status),
        )
    )
