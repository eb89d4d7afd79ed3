"""Reading the alerts outbox: events as a subscriber lists them, streams them (SSE) and
receives them (their bodies, built for the subscriber's view when read or sent), their
counts, and dead letters sent again. How events are written is ``app.db.outbox``; how the
worker takes and marks them is ``app.db.deliveries``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.db import features
from app.db.alert_models import GROUP_SPAN, SUBSCRIPTION_DELETED
from app.db.outbox import envelope_text
from app.db.site_history import HISTORY_SPEC, history
from app.db.subscriptions import events, groups, keys, subscriptions
from app.queries import Caller


@dataclass(frozen=True)
class EventRecord:
    id: int
    public_id: str
    subscription: str
    type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


def _versions() -> Any:
    """A group's events, one row each (``version``: its site's history entry, None for the
    event of an ``upload.completed``; ``n``: from 1), to join LATERAL after ``groups``."""
    listed = func.coalesce(groups.c.site_version_ids, literal_column("ARRAY[NULL::bigint]"))
    unnested = func.unnest(listed).table_valued("version", with_ordinality="n")
    return unnested.render_derived().lateral("o")


def _event_columns(o: Any, own: Any) -> list[ColumnElement[Any]]:
    """An event's state from its group (``o`` the row of :func:`_versions`), or from its own
    row (``own``, outer-joined ``alert_events``) once it has one."""
    taken = o.c.n <= groups.c.sent
    derived_status = case(
        (groups.c.status == "stream", literal("stream")),
        (taken, literal("delivered")),
        else_=literal("pending"),
    )
    first_try = and_(taken, groups.c.status != "stream")
    ordinal = o.c.n - 1
    return [
        (groups.c.id * GROUP_SPAN + ordinal).label("id"),
        func.coalesce(
            own.c.public_id, groups.c.public_id + func.lpad(func.to_hex(ordinal), 4, "0")
        ).label("public_id"),
        groups.c.subscription_id.label("subscription_id"),
        groups.c.type.label("type"),
        func.coalesce(own.c.status, derived_status).label("status"),
        func.coalesce(own.c.attempts, case((first_try, 1), else_=0)).label("attempts"),
        own.c.last_error.label("last_error"),
        groups.c.created_at.label("created_at"),
        case(
            (own.c.id.is_not(None), own.c.delivered_at),
            (first_try, _taken_at(o.c.n)),
        ).label("delivered_at"),
        # (groups.c.id, o.c.n): the events' order, which the indexes give
        groups.c.id.label("group_id"),
        o.c.n.label("n"),
    ]


def _taken_at(n: ColumnElement[Any]) -> ColumnElement[Any]:
    """When the group's ``n``-th event (from 1) had its first try: the time of the first
    take that moved ``sent`` to ``n`` or past it (a group taken before migration 0022 has
    one mark, its last take)."""
    mark = (
        func.unnest(groups.c.sent_marks, groups.c.sent_times)
        .table_valued("upto", "at")
        .render_derived()
        .alias("mark")
    )
    return (
        select(mark.c.at).where(mark.c.upto >= n).order_by(mark.c.upto).limit(1).scalar_subquery()
    )


def _event_rows(*where: ColumnElement[bool]) -> Select[Any]:
    """Events of the groups ``where`` selects, with their subscription and its key, in order
    of (``group_id``, ``n``), which is their ``id`` order."""
    o = _versions()
    own = events.alias("own")
    return (
        select(
            *_event_columns(o, own),
            subscriptions.c.public_id.label("subscription"),
            keys.c.id.label("key_id"),
            keys.c.role,
            keys.c.countries,
        )
        .select_from(
            groups.join(o, true())
            .join(own, own.c.id == groups.c.id * GROUP_SPAN + o.c.n - 1, isouter=True)
            .join(subscriptions, subscriptions.c.id == groups.c.subscription_id)
            .join(keys, keys.c.id == subscriptions.c.api_key_id)
        )
        .where(subscriptions.c.status != SUBSCRIPTION_DELETED, *where)
    )


def _body_text(
    caller: Caller,
    kind: ColumnElement[Any],
    payload: ColumnElement[Any],
    at: ColumnElement[Any],
) -> ColumnElement[str]:
    """An event's body as JSON text, as a subscriber seeing what ``caller`` may see reads
    it: the stored text (``payload``), or for a site event the envelope around its history
    entry's feature (``data`` null if that entry is gone), stamped with the event's time
    ``at``. Needs ``subscriptions`` joined and ``history`` outer-joined on the event's entry."""
    feature = case(
        (history.c.id.is_(None), literal("null", Text)),
        else_=features.feature_json(HISTORY_SPEC, caller),
    )
    built = envelope_text(kind, subscriptions.c.public_id, feature, at)
    return func.coalesce(cast(payload, Text), built)


@dataclass(frozen=True)
class Reader:
    """Who reads a subscription's events: its key (what it may see)."""

    key_id: int
    role: str
    countries: tuple[str, ...]

    @property
    def caller(self) -> Caller:
        return Caller(role=self.role, key_id=self.key_id, countries=self.countries)


def _runs(ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """Event ids as runs of one group's consecutive events: ``(group id, first n, count)``."""
    runs: list[list[int]] = []
    for event_id in sorted(set(ids)):
        group_id, n = divmod(event_id, GROUP_SPAN)
        last = runs[-1] if runs else None
        if last is not None and last[0] == group_id and last[1] + last[2] == n:
            last[2] += 1
        else:
            runs.append([group_id, n, 1])
    return [(g, n, count) for g, n, count in runs]


def event_bodies(session: Session, wanted: Sequence[tuple[Reader, int]]) -> dict[int, str]:
    """The bodies of events (``(reader, event id)`` pairs), by event id: one statement per
    distinct reader (:func:`run_bodies`)."""
    by_reader: dict[Reader, list[int]] = {}
    for reader, event_id in wanted:
        by_reader.setdefault(reader, []).append(event_id)
    return run_bodies(
        session,
        [
            (reader, group_id * GROUP_SPAN + n, count)
            for reader, ids in by_reader.items()
            for group_id, n, count in _runs(ids)
        ],
    )


def run_bodies(session: Session, wanted: Sequence[tuple[Reader, int, int]]) -> dict[int, str]:
    """The bodies of runs of a group's consecutive events (``(reader, first event id,
    count)``), by event id: one statement per distinct reader. An event is found from its
    group (its own row, where it has one, names the same entry or body).

    Each run is one slice of the group's array: an element read by subscript, event by
    event, detoasted the whole array each time (a group of 2 400 events took 50 us an event
    instead of 20)."""
    by_reader: dict[Reader, list[tuple[int, int, int]]] = {}
    for reader, first_id, count in wanted:
        group_id, n = divmod(first_id, GROUP_SPAN)
        by_reader.setdefault(reader, []).append((group_id, n, count))
    found: dict[int, str] = {}
    for reader, runs in by_reader.items():
        run = (
            select(
                func.unnest(literal([r[0] for r in runs], ARRAY(BigInteger))).label("group_id"),
                func.unnest(literal([r[1] for r in runs], ARRAY(Integer))).label("first"),
                func.unnest(literal([r[2] for r in runs], ARRAY(Integer))).label("count"),
            )
        ).subquery("run")
        sliced = groups.c.site_version_ids[run.c.first + 1 : run.c.first + run.c.count]
        listed = func.coalesce(sliced, literal_column("ARRAY[NULL::bigint]"))
        o = (
            func.unnest(listed)
            .table_valued("version", with_ordinality="n")
            .render_derived()
            .lateral("o")
        )
        statement = select(
            groups.c.id * GROUP_SPAN + run.c.first + o.c.n - 1,
            _body_text(reader.caller, groups.c.type, groups.c.payload, groups.c.created_at),
        ).select_from(
            run.join(groups, groups.c.id == run.c.group_id)
            .join(o, true())
            .join(subscriptions, subscriptions.c.id == groups.c.subscription_id)
            .join(history, history.c.id == o.c.version, isouter=True)
        )
        found.update((int(i), str(body)) for i, body in session.execute(statement))
    return found


def reader_of(row: Any) -> Reader:
    """The reader of a row carrying the subscription's key (``key_id``, ``role``,
    ``countries``)."""
    return Reader(int(row["key_id"]), str(row["role"]), tuple(row["countries"] or ()))


def _event_records(session: Session, statement: Select[Any]) -> list[EventRecord]:
    """The events of ``statement`` with their bodies. An event without a body at the second
    read went with its subscription, deleted by a transaction that committed between the
    two: it is left out, as it would be from a read a moment later."""
    rows = session.execute(statement).mappings().all()
    bodies = event_bodies(session, [(reader_of(r), int(r["id"])) for r in rows])
    return [
        EventRecord(
            r["id"],
            r["public_id"],
            r["subscription"],
            r["type"],
            orjson.loads(bodies[int(r["id"])]),
            r["status"],
            r["attempts"],
            r["last_error"],
            r["created_at"],
            r["delivered_at"],
        )
        for r in rows
        if int(r["id"]) in bodies
    ]


def list_events(
    session: Session,
    subscription_id: int,
    status: str | None,
    after_id: int,
    limit: int,
) -> list[EventRecord]:
    """A subscription's events after ``after_id``, oldest first; ``status`` filters
    (``dead``: the dead letters, which all have their own row)."""
    if status == "dead":
        return _own_records(session, subscription_id, status, after_id, limit)
    return _records_after(
        session, [groups.c.subscription_id == subscription_id], after_id, limit, status
    )


def _records_after(
    session: Session,
    where: list[ColumnElement[bool]],
    after_id: int,
    limit: int,
    status: str | None = None,
) -> list[EventRecord]:
    """Up to ``limit`` events of the groups ``where`` selects after ``after_id`` (in
    ``status`` if given), oldest first."""
    found = _event_rows(*where, *_after_groups(after_id)).subquery("found")
    chosen = select(found).where(found.c.id > after_id)
    if status is not None:
        chosen = chosen.where(found.c.status == status)
    return _event_records(session, chosen.order_by(found.c.group_id, found.c.n).limit(limit))


def _own_records(
    session: Session, subscription_id: int, status: str, after_id: int, limit: int
) -> list[EventRecord]:
    """Events with their own row in a status (the dead letters), oldest first."""
    own = events
    statement = (
        select(
            own.c.id,
            own.c.public_id,
            own.c.type,
            own.c.status,
            own.c.attempts,
            own.c.last_error,
            own.c.created_at,
            own.c.delivered_at,
            subscriptions.c.public_id.label("subscription"),
            keys.c.id.label("key_id"),
            keys.c.role,
            keys.c.countries,
        )
        .join(subscriptions, subscriptions.c.id == own.c.subscription_id)
        .join(keys, keys.c.id == subscriptions.c.api_key_id)
        .where(
            subscriptions.c.status != SUBSCRIPTION_DELETED,
            own.c.subscription_id == subscription_id,
            own.c.status == status,
            own.c.id > after_id,
        )
        .order_by(own.c.id)
        .limit(limit)
    )
    return _event_records(session, statement)


def _after_groups(after_id: int) -> list[ColumnElement[bool]]:
    """The groups holding events after ``after_id`` (an index range)."""
    return [groups.c.id >= after_id // GROUP_SPAN]


def events_after(
    session: Session, owner: int | None, after_id: int, limit: int
) -> list[EventRecord]:
    """Events of the key's subscriptions (every one for None) after ``after_id``: SSE."""
    where = [] if owner is None else [subscriptions.c.api_key_id == owner]
    return _records_after(session, where, after_id, limit)


def last_event_id(session: Session) -> int:
    """The id of the newest event (0: none yet)."""
    newest = session.execute(
        select(groups.c.id * GROUP_SPAN + groups.c.size - 1).order_by(groups.c.id.desc()).limit(1)
    ).scalar()
    return int(newest or 0)


def redeliver(session: Session, subscription_id: int, event_public_id: str | None) -> int:
    """Put dead letters (one, or all of the subscription's) back in the queue, tries reset."""
    statement = update(events).where(
        events.c.subscription_id == subscription_id, events.c.status == "dead"
    )
    if event_public_id is not None:
        statement = statement.where(events.c.public_id == event_public_id)
    result = session.execute(
        statement.values(
            status="pending", attempts=0, next_attempt_at=func.now(), leased_until=None
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delivery_counts(session: Session, subscription_id: int) -> dict[str, int]:
    """How many of the subscription's events are in each state (states with none left out).

    Counted from its groups, not event by event: a group's events before ``sent`` had their
    first try (delivered, unless they have a row of their own), the others are pending; an
    event's own row says its state from then on."""
    totals = session.execute(
        select(
            func.coalesce(func.sum(case((groups.c.status == "stream", groups.c.size))), 0),
            func.coalesce(func.sum(case((groups.c.status != "stream", groups.c.sent))), 0),
            func.coalesce(
                func.sum(case((groups.c.status == "pending", groups.c.size - groups.c.sent))), 0
            ),
        ).where(groups.c.subscription_id == subscription_id)
    ).one()
    own = {
        str(status): int(n)
        for status, n in session.execute(
            select(events.c.status, func.count())
            .where(events.c.subscription_id == subscription_id)
            .group_by(events.c.status)
        )
    }
    moved = sum(n for status, n in own.items() if status != "stream")
    counts = {
        "stream": int(totals[0]),
        "delivered": int(totals[1]) - moved + own.get("delivered", 0),
        "pending": int(totals[2]) + own.get("pending", 0),
        "dead": own.get("dead", 0),
    }
    return {status: n for status, n in counts.items() if n}
