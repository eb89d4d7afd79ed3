"""Tables of alerts (subscriptions, their outbox of events) and of federation (peer nodes,
the features shared by them). Migration 0013; imported by ``app.db.models`` so that
``Base.metadata`` (and the migrations test comparing it) sees them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal, get_args

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _in, _now

#: A subscription's state: ``deleted`` is gone for every reader and the delivery, its rows
#: removed once no worker holds any of its events (a DELETE would wait for those locks).
SUBSCRIPTION_STATUSES = ("active", "paused", "deleted")
SUBSCRIPTION_DELETED = "deleted"
#: The NOTIFY channel a deleted subscription's id is sent on, at the commit of its deletion:
#: a worker sending its events stops before its next messages (``app.services.delivery``).
DELETED_CHANNEL: Final = "borderlens_subscription_deleted"
#: An event row's delivery state: ``pending`` (to send, maybe retried), ``delivered``,
#: ``dead`` (tries exhausted: the dead-letter list), ``stream`` (no webhook: SSE only).
EventStatus = Literal["pending", "delivered", "dead", "stream"]
EVENT_STATUSES: tuple[EventStatus, ...] = get_args(EventStatus)
REVIEW_STATUSES = ("open", "same_place", "different")
#: Most events one webhook message may carry (a subscription's ``batch_max_events``).
BATCH_MAX_EVENTS = 1000


class Subscription(Base):
    """An authority's (or admin's) standing question on sites, and where answers go."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # The Standard Webhooks signing secret (``whsec_`` + base64): kept as is, it signs.
    secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    # How many due events one webhook message may carry: 1 is a message per event.
    batch_max_events: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),
        CheckConstraint(
            f"batch_max_events BETWEEN 1 AND {BATCH_MAX_EVENTS}", name="batch_max_events"
        ),
        Index("ix_subscriptions_api_key_id", "api_key_id"),
    )


class SubscriptionSite(Base):
    """The sites a subscription's criteria matched when last looked at: a site entering the
    criteria (created, moved, edited) is one not yet listed here."""

    __tablename__ = "subscription_sites"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_subscription_sites_site_id", "site_id"),)


#: Events one group may hold, and the span of event ids a group owns: event ``n`` (from 0)
#: of group ``g`` is event id ``g * GROUP_SPAN + n``, in the order they were written.
GROUP_MAX_EVENTS = 10_000
GROUP_SPAN = 16_384
#: A group's delivery state: ``pending`` (events left for their first try), ``delivered``
#: (every event had its first try: taken, or moved to ``alert_events``), ``stream``.
GROUP_STATUSES = ("pending", "delivered", "stream")


class AlertEventGroup(Base):
    """The transactional outbox: the events ONE change wrote for ONE subscription (up to
    ``GROUP_MAX_EVENTS`` of one type), written in the change's transaction, delivered at
    least once by the worker (migration 0021).

    A row per group, not per event: an upload of 10 000 sites with 10 subscriptions wrote
    ~23 600 event rows in its transaction, and the worker locked, read and updated each one.
    The events of a group are taken in order (``sent``: how many had their first try); an
    event whose try fails leaves the group for a row of its own in ``alert_events``, which
    holds its retries, its dead letter and its state from then on."""

    __tablename__ = "alert_event_groups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Its events' ids (``webhook-id``) are this and ``n`` in four hex digits (``msg_`` and
    # 32 hex digits, as before groups): random, so that no receiver sees two nodes' events
    # under one id.
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        server_default=text("'msg_' || left(replace(gen_random_uuid()::text, '-', ''), 28)"),
    )
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    # Site events: the n-th event's site as its change left it (``site_versions.id``).
    site_version_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    # An event whose body is not one site (``upload.completed``): the group's one event.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    sent: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When its events were last taken.
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Each take of its events (a round of a worker): ``sent`` after it and when it was
    # recorded, in order; an event's delivery time is that of the first take reaching it
    # (migration 0022: each event of a group read the group's last take time).
    sent_marks: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{}'::integer[]")
    )
    sent_times: Mapped[list[dt.datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), server_default=text("'{}'::timestamptz[]")
    )
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("status", GROUP_STATUSES), name="status"),
        CheckConstraint(
            "(payload IS NOT NULL AND size = 1) OR "
            "(site_version_ids IS NOT NULL AND size = cardinality(site_version_ids))",
            name="body",
        ),
        CheckConstraint(f"size BETWEEN 1 AND {GROUP_MAX_EVENTS}", name="size"),
        CheckConstraint("sent BETWEEN 0 AND size", name="sent"),
        Index("ix_alert_event_groups_subscription_id", "subscription_id", "id"),
        # The worker's queue of first tries, in the order they were written.
        Index("ix_alert_event_groups_due", "id", postgresql_where=text("status = 'pending'")),
        # A subscription's groups still pending (a later one waits for the earlier ones).
        Index(
            "ix_alert_event_groups_due_subscription",
            "subscription_id",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class AlertEvent(Base):
    """An event of a group that left it when its first try failed (or that was written
    before groups, migration 0021): its own row holds its tries, retries and dead letter.
    ``id`` is the event id in its group (``group * GROUP_SPAN + n``)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The idempotency id (``webhook-id``, SSE ``id`` is the row id): a retry resends it.
    public_id: Mapped[str] = mapped_column(
        String(40),
        unique=True,
        server_default=text("'msg_' || replace(gen_random_uuid()::text, '-', '')"),
    )
    # No foreign key (0020): its check per row was more than half of an upload's events
    # statement. Events go with their subscription (``outbox.remove_subscription``); those
    # a change wrote for a subscription removed meanwhile are read by no one and purged.
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    # json, not jsonb: the text as written is the body sent (see ``outbox._envelope``);
    # NULL for a site event, whose body is built from its history entry when read (0020)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A site event's site as its change left it (``site_versions.id``; no foreign key: a
    # check per event row would cost the change's transaction)
    site_version_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime] = _now()
    leased_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        CheckConstraint(_in("status", EVENT_STATUSES), name="status"),
        CheckConstraint("payload IS NOT NULL OR site_version_id IS NOT NULL", name="body"),
        Index("ix_alert_events_subscription_id", "subscription_id", "id"),
        # The worker's queue: only rows still to deliver are in this index, in the order
        # they are taken (an upload's events share one next_attempt_at: by that alone, each
        # take sorted all of them again).
        Index(
            "ix_alert_events_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # A subscription taking batches fills its batch from its own due events, in order.
        Index(
            "ix_alert_events_due_subscription",
            "subscription_id",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class Peer(Base):
    """Another node (borderlens or any OGC API - Features server) whose changes are pulled."""

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    # The key this node presents to the peer (a credential of the peer, not of this node).
    api_key: Mapped[str | None] = mapped_column(Text)
    collections: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[dt.datetime] = _now()
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class PeerCursor(Base):
    """Where the pull of one collection of one peer stands: the peer's change token of the
    last complete sync, and the page being read when a sync stopped half-way."""

    __tablename__ = "peer_cursors"

    peer_id: Mapped[int] = mapped_column(
        ForeignKey("peers.id", ondelete="CASCADE"), primary_key=True
    )
    collection: Mapped[str] = mapped_column(Text, primary_key=True)
    since: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    next_url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = _now()


class SharedSite(Base):
    """A site of another node, with its origin; never mixed with (or overwriting) local sites."""

    __tablename__ = "shared_sites"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id", ondelete="CASCADE"))
    collection: Mapped[str] = mapped_column(Text)
    origin_node: Mapped[str] = mapped_column(Text)
    origin_id: Mapped[str] = mapped_column(Text)
    origin_version: Mapped[int | None] = mapped_column(BigInteger)
    fetched_at: Mapped[dt.datetime] = _now()
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What the peer showed this node's key beyond public attributes: served on to local
    # callers only as local restricted attributes are (app.db.features.restricted_for).
    restricted: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (UniqueConstraint("peer_id", "collection", "origin_id"),)


class SharedSiteReview(Base):
    """A local site and a shared one that look like the same place: for people to decide."""

    __tablename__ = "shared_site_reviews"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shared_site_id: Mapped[int] = mapped_column(ForeignKey("shared_sites.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    distance_m: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        UniqueConstraint("shared_site_id", "site_id"),
        CheckConstraint(_in("status", REVIEW_STATUSES), name="status"),
    )
