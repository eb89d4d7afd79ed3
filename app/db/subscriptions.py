"""Subscriptions: the SQL of alerts' subscribers (create, list, pause, delete, the sites a
subscription already knows) and the vocabulary of event types. The events themselves are
written by ``app.db.outbox``, read by ``app.db.alert_events`` and sent by
``app.db.deliveries``.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Select, Table, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db.alert_models import (
    DELETED_CHANNEL,
    SUBSCRIPTION_DELETED,
    AlertEvent,
    AlertEventGroup,
    Subscription,
    SubscriptionSite,
)
from app.db.models import ApiKey, Site
from app.queries import Caller

subscriptions = typing.cast(Table, Subscription.__table__)
subscription_sites = typing.cast(Table, SubscriptionSite.__table__)
events = typing.cast(Table, AlertEvent.__table__)
groups = typing.cast(Table, AlertEventGroup.__table__)
sites = typing.cast(Table, Site.__table__)
keys = typing.cast(Table, ApiKey.__table__)

SITE_CREATED = "site.created"
SITE_ENTERED = "site.entered"
CLUSTER_JOINED = "cluster.joined"
UPLOAD_COMPLETED = "upload.completed"
#: The event types a subscription may ask for (the one place they are spelled).
EVENT_TYPES = (SITE_CREATED, SITE_ENTERED, CLUSTER_JOINED, UPLOAD_COMPLETED)


@dataclass(frozen=True)
class SubscriptionRecord:
    id: int
    public_id: str
    api_key_id: int
    name: str
    criteria: dict[str, Any]
    events: list[str]
    webhook_url: str | None
    secret: str
    status: str
    created_at: dt.datetime
    key_role: str
    batch_max_events: int
    key_countries: tuple[str, ...]

    @property
    def caller(self) -> Caller:
        """Who the events are written for: the subscriber's key (what it may see)."""
        return Caller(role=self.key_role, key_id=self.api_key_id, countries=self.key_countries)


@dataclass(frozen=True)
class Matcher:
    """One active subscription's criteria as conditions on one ``sites`` row."""

    subscription: SubscriptionRecord
    where: Sequence[ColumnElement[bool]]


def _records(statement: Select[Any], session: Session) -> list[SubscriptionRecord]:
    rows = session.execute(statement).mappings()
    return [
        SubscriptionRecord(
            id=row["id"],
            public_id=row["public_id"],
            api_key_id=row["api_key_id"],
            name=row["name"],
            criteria=row["criteria"],
            events=list(row["events"]),
            webhook_url=row["webhook_url"],
            secret=row["secret"],
            status=row["status"],
            created_at=row["created_at"],
            key_role=row["role"],
            batch_max_events=row["batch_max_events"],
            key_countries=tuple(row["countries"] or ()),
        )
        for row in rows
    ]


def _subscription_select() -> Select[Any]:
    return (
        select(subscriptions, keys.c.role, keys.c.countries)
        .join(keys, keys.c.id == subscriptions.c.api_key_id)
        .where(subscriptions.c.status != SUBSCRIPTION_DELETED)
    )


def insert_subscription(session: Session, values: dict[str, Any]) -> int:
    return int(
        session.execute(
            insert(subscriptions).values(**values).returning(subscriptions.c.id)
        ).scalar_one()
    )


def list_subscriptions(session: Session, owner: int | None) -> list[SubscriptionRecord]:
    """Subscriptions of one key (``owner``), or every one (None: an admin)."""
    statement = _subscription_select().order_by(subscriptions.c.id)
    if owner is not None:
        statement = statement.where(subscriptions.c.api_key_id == owner)
    return _records(statement, session)


def get_subscription(
    session: Session, public_id: str, owner: int | None
) -> SubscriptionRecord | None:
    statement = _subscription_select().where(subscriptions.c.public_id == public_id)
    if owner is not None:
        statement = statement.where(subscriptions.c.api_key_id == owner)
    found = _records(statement, session)
    return found[0] if found else None


def active_subscriptions(session: Session, hold: bool = False) -> list[SubscriptionRecord]:
    """Active subscriptions of keys not revoked: the ones events are written for.

    ``hold``: for a change about to write their events, each subscription row is share-locked
    (``FOR KEY SHARE``) to the end of the transaction, so that none is removed before its
    events are in (events check no foreign key: that took a lock per event row). Pausing,
    marking deleted and the delivery's updates take no conflicting lock."""
    statement = _subscription_select().where(
        subscriptions.c.status == "active", keys.c.revoked_at.is_(None)
    )
    if hold:
        statement = statement.with_for_update(read=True, key_share=True, of=subscriptions)
    return _records(statement.order_by(subscriptions.c.id), session)


def set_status(session: Session, subscription_id: int, status: str) -> None:
    session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(status=status, updated_at=func.now())
    )


def delete_subscription(session: Session, subscription_id: int) -> None:
    """Gone at once for every reader and for the delivery (marked ``deleted``, which takes
    no lock a worker holds); its rows are removed now when no worker holds any of its
    events, else later by :func:`purge_deleted`. A plain DELETE waited for a worker's round
    to end: up to a silent receiver's timeout."""
    session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(status=SUBSCRIPTION_DELETED, updated_at=func.now())
    )
    # sent at commit: a worker holding its events sends none of the messages it has not begun
    session.execute(select(func.pg_notify(DELETED_CHANNEL, str(subscription_id))))
    _remove_unless_held(session, subscription_id)


def _remove_unless_held(session: Session, subscription_id: int) -> bool:
    """Delete the subscription with its events, unless a worker holds one of them or a change
    is writing its events (then nothing is removed and False is returned). In a savepoint:
    the caller's transaction goes on either way."""
    try:
        with session.begin_nested():
            # NOWAIT: a row a worker has locked, or the subscription held by a change writing
            # its events (``active_subscriptions(hold=True)``), raises at once instead of
            # waiting for it
            session.execute(
                select(subscriptions.c.id)
                .where(subscriptions.c.id == subscription_id)
                .with_for_update(nowait=True)
            ).all()
            for table in (groups, events):
                session.execute(
                    select(table.c.id)
                    .where(table.c.subscription_id == subscription_id)
                    .with_for_update(nowait=True)
                ).all()
            # no foreign key removes them with the subscription (0020)
            session.execute(delete(events).where(events.c.subscription_id == subscription_id))
            session.execute(delete(groups).where(groups.c.subscription_id == subscription_id))
            session.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id))
    except OperationalError as error:
        if isinstance(error.orig, psycopg.errors.LockNotAvailable):
            return False
        raise
    return True


def purge_deleted(session: Session) -> int:
    """Remove the rows of subscriptions marked ``deleted`` whose events no worker holds now
    (the others on a later call). Returns how many were removed."""
    marked = session.scalars(
        select(subscriptions.c.id).where(subscriptions.c.status == SUBSCRIPTION_DELETED)
    ).all()
    return sum(_remove_unless_held(session, int(found)) for found in marked)


def seed_matches(session: Session, matcher: Matcher) -> int:
    """Remember every site the criteria match now (they are not news to the subscriber).
    Only a subscription to ``site.entered`` keeps that list; for the others this counts.
    Returns how many sites match."""
    chosen = select(literal(matcher.subscription.id), sites.c.id).where(*matcher.where)
    if SITE_ENTERED not in matcher.subscription.events:
        counted = select(func.count()).select_from(chosen.subquery())
        return int(session.execute(counted).scalar_one())
    # counted from what was written: the driver's rowcount of an INSERT ... SELECT read -1
    listed = (
        insert(subscription_sites)
        .from_select(["subscription_id", "site_id"], chosen)
        .on_conflict_do_nothing()
        .returning(subscription_sites.c.site_id)
        .cte("listed")
    )
    return int(session.execute(select(func.count()).select_from(listed)).scalar_one())
