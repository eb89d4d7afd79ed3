"""Subscriptions to alerts: create (the signing secret is shown once), list, pause, resume,
delete; their events and dead letters (re-sendable).

Who: authority and admin keys. A key sees and manages its own subscriptions; an admin sees
every one. Events carry restricted attributes only where the subscribing key may read them.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db import alert_events, alert_models
from app.db import subscriptions as subscription_repo
from app.db.sites import new_public_ids
from app.errors import Forbidden, InvalidBody, NotAuthenticated, NotFound
from app.queries import Caller
from app.roles import ADMIN, RESTRICTED_READERS
from app.services import subscription_criteria, webhook_targets, zones
from app.settings import Settings

EVENT_TYPES = subscription_repo.EVENT_TYPES
BATCH_MAX_EVENTS = alert_models.BATCH_MAX_EVENTS
#: The states of an event (the events list's status filter)
EventStatus = alert_models.EventStatus
EVENT_STATUSES = alert_models.EVENT_STATUSES
MAX_NAME_CHARS = 200
MAX_SUBSCRIPTIONS_PER_KEY = 100


@dataclass(frozen=True)
class NewSubscription:
    name: str
    criteria: Mapping[str, Any]
    events: Sequence[str]
    webhook_url: str | None
    #: How many due events one webhook message may carry (1: a message per event).
    batch_max_events: int = 1


def require_subscriber(caller: Caller) -> Caller:
    """Authority and admin keys subscribe (they are who acts on alerts)."""
    if caller.is_anonymous:
        raise NotAuthenticated("subscriptions need an API key (authority or admin)")
    if caller.role not in RESTRICTED_READERS:
        raise Forbidden(
            f"a {caller.role} key cannot subscribe; authority or admin keys can",
            code="wrong_role",
        )
    return caller


def _owner(caller: Caller) -> int | None:
    return None if caller.role == ADMIN else caller.key_id


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _check_events(events: Sequence[str]) -> list[str]:
    choose = "choose from " + ", ".join(EVENT_TYPES)
    if not events:
        raise InvalidBody(f"events: none given; {choose}", code="invalid_events")
    for event in events:
        if event not in EVENT_TYPES:
            raise InvalidBody(
                f"events: {event[:40]!r} is not an event; {choose}", code="invalid_events"
            )
    return sorted(set(events), key=EVENT_TYPES.index)


def create(
    session: Session, settings: Settings, caller: Caller, new: NewSubscription
) -> tuple[subscription_repo.SubscriptionRecord, int]:
    """Store a subscription (its secret is in the record: show it this once) and remember
    the sites its criteria match already, so only what changes from now on is news.
    Returns the record and how many sites match now."""
    require_subscriber(caller)
    assert caller.key_id is not None
    name = new.name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidBody(f"name: 1 to {MAX_NAME_CHARS} characters", code="invalid_name")
    events = _check_events(new.events)
    if not 1 <= new.batch_max_events <= BATCH_MAX_EVENTS:
        raise InvalidBody(
            f"batch_max_events: 1 to {BATCH_MAX_EVENTS}", code="invalid_batch_max_events"
        )
    if new.batch_max_events > 1 and new.webhook_url is None:
        # batches are a webhook's; the SSE stream sends every event alone
        raise InvalidBody(
            "batch_max_events: batches need a webhook_url (the /events stream sends events "
            "one by one)",
            code="invalid_batch_max_events",
        )
    subscription_criteria.parse(session, new.criteria)
    url = new.webhook_url
    if url is not None:
        url = webhook_targets.check(url, settings.webhook_allowed_hosts, settings.database_url)
    if (
        len(subscription_repo.list_subscriptions(session, caller.key_id))
        >= MAX_SUBSCRIPTIONS_PER_KEY
    ):
        raise InvalidBody(
            f"a key may hold at most {MAX_SUBSCRIPTIONS_PER_KEY} subscriptions",
            code="too_many_subscriptions",
        )
    public_id = new_public_ids(1, prefix="SUB-")[0]
    subscription_repo.insert_subscription(
        session,
        {
            "public_id": public_id,
            "api_key_id": caller.key_id,
            "name": name,
            "criteria": dict(new.criteria),
            "events": events,
            "webhook_url": url,
            "secret": new_secret(),
            "batch_max_events": new.batch_max_events,
        },
    )
    record = subscription_repo.get_subscription(session, public_id, None)
    assert record is not None
    matching = _seed(session, record)
    session.commit()
    return record, matching


def _seed(session: Session, record: subscription_repo.SubscriptionRecord) -> int:
    """Remember the sites the criteria match now; zone criteria read the stored zone
    classification, so sites new or moved since are classified first."""
    if "zone" in record.criteria or "in_zone" in record.criteria:
        zones.refresh(session)
    return subscription_repo.seed_matches(session, subscription_criteria.matcher(session, record))


def list_for(session: Session, caller: Caller) -> list[subscription_repo.SubscriptionRecord]:
    require_subscriber(caller)
    return subscription_repo.list_subscriptions(session, _owner(caller))


def get(session: Session, caller: Caller, public_id: str) -> subscription_repo.SubscriptionRecord:
    require_subscriber(caller)
    found = subscription_repo.get_subscription(session, public_id[:64], _owner(caller))
    if found is None:
        raise NotFound(f"no subscription {public_id[:64]!r}", code="unknown_subscription")
    return found


def set_status(
    session: Session, caller: Caller, public_id: str, status: str
) -> subscription_repo.SubscriptionRecord:
    """Pause (no events are written while paused) or resume. Resuming re-learns which sites
    match, so what happened during the pause is not replayed as news."""
    found = get(session, caller, public_id)
    if status not in ("active", "paused"):
        raise InvalidBody("status: active or paused", code="invalid_status")
    subscription_repo.set_status(session, found.id, status)
    if status == "active" and found.status != "active":
        _seed(session, found)
    session.commit()
    return get(session, caller, public_id)


def delete(session: Session, caller: Caller, public_id: str) -> None:
    found = get(session, caller, public_id)
    subscription_repo.delete_subscription(session, found.id)
    session.commit()


def events(
    session: Session,
    caller: Caller,
    public_id: str,
    status: str | None,
    after: int,
    limit: int,
) -> list[alert_events.EventRecord]:
    """A subscription's events, oldest first after event ``after``; ``status=dead`` is the
    dead-letter list."""
    found = get(session, caller, public_id)
    return alert_events.list_events(session, found.id, status, after, limit)


def redeliver(session: Session, caller: Caller, public_id: str, event_id: str | None) -> int:
    """Send dead letters again (one, or all): back in the queue with their tries reset and
    the same id. Returns how many."""
    found = get(session, caller, public_id)
    count = alert_events.redeliver(session, found.id, event_id)
    if event_id is not None and count == 0:
        raise NotFound(
            f"no dead letter {event_id[:64]!r} in subscription {found.public_id}",
            code="unknown_event",
        )
    session.commit()
    return count


def counts(session: Session, subscription: subscription_repo.SubscriptionRecord) -> dict[str, int]:
    return alert_events.delivery_counts(session, subscription.id)


def as_document(
    subscription: subscription_repo.SubscriptionRecord, with_secret: bool = False
) -> dict[str, Any]:
    """The JSON of a subscription (the secret only at creation)."""
    document: dict[str, Any] = {
        "id": subscription.public_id,
        "name": subscription.name,
        "criteria": subscription.criteria,
        "events": subscription.events,
        "webhook_url": subscription.webhook_url,
        "batch_max_events": subscription.batch_max_events,
        "status": subscription.status,
        "created_at": subscription.created_at.isoformat().replace("+00:00", "Z"),
    }
    if with_secret:
        document["secret"] = subscription.secret
    return document


def event_document(event: alert_events.EventRecord) -> dict[str, Any]:
    return {
        "id": event.public_id,
        "sequence": event.id,
        "subscription": event.subscription,
        "type": event.type,
        "status": event.status,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "delivered_at": event.delivered_at.isoformat().replace("+00:00", "Z")
        if event.delivered_at
        else None,
        "payload": event.payload,
    }
