"""The delivery worker's SQL (``app.db.deliveries``) and its messages: what a lease locks, in
which order a batch lists its events, and how a batch is signed as one Standard Webhooks
message whose events keep their ids and bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import alert_events
from app.queries import Caller
from app.services import subscriptions
from app.services.boundary_state import BoundarySet
from app.services.sites import create_sites
from app.settings import Settings
from tests.support.alerts import key_caller as _caller
from tests.support.alerts import site_draft as _draft


def _webhook_subscription(
    session: Session, allowed: Settings, caller: Caller, name: str, batch_max_events: int = 1
) -> Any:
    """A subscription to site.created in CMR, posting to a (closed) local port."""
    record, _ = subscriptions.create(
        session,
        allowed,
        caller,
        subscriptions.NewSubscription(
            name, {"country": "CMR"}, ["site.created"], "http://127.0.0.1:9/h", batch_max_events
        ),
    )
    return record


def test_a_batch_lists_its_events_oldest_first_even_when_the_oldest_came_due_last(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    """Retries are locked by when they come due, but a batch lists them by age: the oldest
    five, due after the others, come first in the message all the same, and first tries of
    newer events come after them."""
    from app.db import deliveries
    from app.services import delivery

    allowed = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})
    caller = _caller(session, "admin")
    batched = _webhook_subscription(session, allowed, caller, "batched", 50)
    drafts = [_draft(14.0 + i * 0.01, 4.0, name=f"O{i}") for i in range(40)]
    create_sites(session, boundaries, drafts[:30], caller)
    first_tries = deliveries.lock_due(session, 20)
    assert len(first_tries) == 30 and {d.attempts for d in first_tries} == {0}
    deliveries.mark_failed(session, [(d, 0.0) for d in first_tries], "HTTP 503")
    deliveries.advance_groups(session, first_tries)
    ids = [
        int(i)
        for i in session.scalars(
            text("SELECT id FROM alert_events WHERE subscription_id = :s ORDER BY id"),
            {"s": batched.id},
        )
    ]
    assert ids == [d.id for d in first_tries]
    create_sites(session, boundaries, drafts[30:], caller)  # ten newer, for a first try
    session.execute(
        text(
            "UPDATE alert_events SET next_attempt_at = now() - CASE WHEN id = ANY(:late) "
            "THEN interval '1 second' ELSE interval '10 seconds' END WHERE subscription_id = :s"
        ),
        {"late": ids[:5], "s": batched.id},
    )
    locked = deliveries.lock_due(session, 20)
    assert deliveries.fill_payloads(session, locked)
    assert [d.id for d in locked[:30]] == ids and len(locked) == 40
    assert [d.attempts for d in locked] == [1] * 30 + [0] * 10
    [batch] = delivery.messages(locked)
    body, _ = delivery.signed_request(batch, dt.datetime.now(dt.UTC))
    public = [d.public_id for d in locked]
    assert [e["id"] for e in orjson.loads(body)["data"]["events"]] == public


def test_a_lease_fills_the_batch_of_a_subscription_that_takes_batches(
    session: Session, settings: Settings, boundaries: BoundarySet
) -> None:
    """The oldest due events are locked, and for a subscription with ``batch_max_events``
    more of its own, up to ``BATCHES_PER_ROUND`` messages of that many; the worker's messages
    group them so, each batch signed as one Standard Webhooks message whose events keep their
    ids and stored payloads."""
    from standardwebhooks.webhooks import Webhook

    from app.db import deliveries
    from app.services import delivery

    allowed = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})
    caller = _caller(session, "admin")
    batched = _webhook_subscription(session, allowed, caller, "batched", 50)
    single = _webhook_subscription(session, allowed, caller, "single")
    drafts = [
        _draft(14.0 + (i % 20) * 0.01, 4.0 + (i // 20) * 0.01, name=f"B{i}") for i in range(120)
    ]
    create_sites(session, boundaries, drafts[:10], caller)  # the 20 oldest events
    create_sites(session, boundaries, drafts[10:], caller)
    leased = deliveries.lock_due(session, 20)
    assert deliveries.fill_payloads(session, leased)
    mine = [d for d in leased if d.subscription_id == batched.id]
    # in order of writing: the batch's first 10 (one message), the single's first 10 (ten
    # messages), the batch's other 110 (two messages more: 50, 50, 20), 87 more singles (100
    # messages in all: five times the limit of 20 for first tries)
    assert len(mine) == 120 <= deliveries.BATCHES_PER_ROUND * 50
    assert len([d for d in leased if d.subscription_id == single.id]) == 97
    assert len({d.id for d in leased}) == len(leased)

    found = delivery.messages(leased)
    assert sorted(len(m.events) for m in found) == [1] * 97 + [20, 50, 50]
    batch = next(m for m in found if m.batched)
    assert [len(m.events) for m in found if m.batched] == [50, 50, 20]
    now = dt.datetime.now(dt.UTC)
    body, headers = delivery.signed_request(batch, now)
    payload = Webhook(batched.secret).verify(body, headers)
    assert headers["webhook-id"].startswith("batch_")
    assert payload["type"] == "batch" and payload["subscription"] == batched.public_id
    assert payload["data"]["count"] == 50
    stored = {
        e.public_id: e.payload for e in alert_events.list_events(session, batched.id, None, 0, 1000)
    }
    for event in payload["data"]["events"]:
        event_id = event.pop("id")
        assert stored[event_id] == event  # the event as it is alone, plus its id
    in_batches = [d.public_id for m in found if m.batched for d in m.events]
    assert in_batches == [d.public_id for d in sorted(mine, key=lambda d: d.id)]
    assert set(in_batches) == set(stored) & {d.public_id for d in mine}
    # The same batch sent again is the same message, byte for byte, with the same id.
    again, again_headers = delivery.signed_request(
        delivery.Message(batch.events), now + dt.timedelta(seconds=5)
    )
    assert again == body and again_headers["webhook-id"] == headers["webhook-id"]
    # A single event goes as it always did: its own id, its stored payload.
    lone = next(m for m in found if not m.batched)
    lone_body, lone_headers = delivery.signed_request(lone, now)
    assert lone_headers["webhook-id"] == lone.first.public_id
    # the text as the outbox wrote it: the envelope's members in Standard Webhooks' order
    assert lone_body.startswith(b'{"type":"site.created","timestamp":"')
    assert Webhook(single.secret).verify(lone_body, lone_headers) == stored_single(
        session, lone.first.subscription_id, lone.first.public_id
    )

    # A failed batch: each event's try counted, then retried or (tries exhausted) dead, in
    # one statement.
    deliveries.mark_failed(
        session, [(d, None if i < 5 else 60.0) for i, d in enumerate(mine)], "HTTP 503"
    )
    statuses = session.execute(
        text(
            "SELECT status, last_error, attempts, "
            "next_attempt_at > now() AS later, count(*) FROM alert_events "
            "WHERE id = ANY(:ids) GROUP BY 1, 2, 3, 4 ORDER BY 1"
        ),
        {"ids": [d.id for d in mine]},
    ).all()
    assert [tuple(r) for r in statuses] == [
        ("dead", "HTTP 503", 1, False, 5),
        ("pending", "HTTP 503", 1, True, 115),
    ]


def stored_single(session: Session, subscription_id: int, public_id: str) -> Any:
    """The event's body as its subscriber reads it from the API."""
    [found] = [
        e.payload
        for e in alert_events.list_events(session, subscription_id, None, 0, 10_000)
        if e.public_id == public_id
    ]
    return found
