"""Removing a subscription while its events are in flight: a worker holding them, a change
writing them. DELETE answers at once; the rows go when no one holds them (the purge), and no
event is ever left without its subscription."""

from __future__ import annotations

import subprocess
import time

import pytest
from sqlalchemy import text

from app.services import subscriptions
from app.services.sites import SiteDraft, create_sites
from tests.support.alerts import Node
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.slow


def test_a_subscription_is_deleted_at_once_while_a_worker_holds_its_events(
    node: Node, receiver: Receiver
) -> None:
    """A worker holds a subscription's events (locked as its round does, here by another
    connection, committed data). DELETE answers at once: the subscription is gone for its
    owner and the delivery; its rows go when the worker lets go (the purge). A plain DELETE
    waited for the worker's round: up to a silent receiver's timeout."""
    from app.db import subscriptions as subscription_repo
    from app.errors import NotFound

    caller = node.caller()
    subscription, _ = node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as session:
        drafts = [
            SiteDraft(kind="mine", name=f"X{i}", lon=14.0 + i * 0.01, lat=4.2) for i in range(5)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
    with node.sessions() as worker:
        held = worker.execute(
            text(
                "SELECT g.id FROM alert_event_groups g "
                "JOIN subscriptions s ON s.id = g.subscription_id "
                "WHERE s.public_id = :p FOR NO KEY UPDATE OF g"
            ),
            {"p": subscription},
        ).all()
        assert len(held) == 1  # the change's five events, one group
        with node.sessions() as session:
            # a DELETE that waits for the worker fails here instead of hanging the test
            session.execute(text("SET lock_timeout = '3s'"))
            subscriptions.delete(session, caller, subscription)
            with pytest.raises(NotFound):
                subscriptions.get(session, caller, subscription)
            assert all(s.public_id != subscription for s in subscriptions.list_for(session, caller))
        assert node.statuses(subscription) == {"pending": 5}, "kept while held"
        with node.sessions() as session:
            assert subscription_repo.purge_deleted(session) == 0, "still held: left for later"
        worker.rollback()  # the worker lets go
    with node.sessions() as session:
        assert subscription_repo.purge_deleted(session) == 1
        session.commit()
    assert node.statuses(subscription) == {}
    with node.sessions() as session:
        left = session.execute(
            text("SELECT count(*) FROM subscriptions WHERE public_id = :p"), {"p": subscription}
        ).scalar_one()
        assert left == 0


def test_a_subscription_a_change_is_writing_events_for_is_removed_after_it(
    node: Node, receiver: Receiver
) -> None:
    """Events check no foreign key: a change holds the subscriptions it writes events for
    (``FOR KEY SHARE``, as ``outbox.matchers`` takes them) to its commit. A DELETE meanwhile
    answers at once and removes nothing; the change's events go in, and the purge then
    removes the subscription with every event, leaving no event without its subscription."""
    from app.db import outbox as outbox_repo
    from app.db import subscriptions as subscription_repo
    from app.services import outbox

    caller = node.caller()
    with node.sessions() as session:
        drafts = [
            SiteDraft(kind="mine", name=f"H{i}", lon=14.0 + i * 0.01, lat=4.2) for i in range(3)
        ]
        create_sites(session, node.boundaries(session), drafts, caller)
        site_ids = list(session.execute(text("SELECT id FROM sites")).scalars())
    subscription, _ = node.subscribe(caller, {"country": "CMR"}, ["site.created"], receiver.url)
    with node.sessions() as change:
        held = outbox.matchers(change)
        assert [m.subscription.public_id for m in held] == [subscription]
        with node.sessions() as session:
            session.execute(text("SET lock_timeout = '3s'"))  # a wait fails instead
            subscriptions.delete(session, caller, subscription)
            session.commit()
        assert node.statuses(subscription) == {}, "gone for every reader at once"
        outbox_repo.record_matches(change, held, outbox_repo.created_sites(site_ids))
        change.commit()
    written = sum(node.statuses(subscription).values())
    assert written == 3, "the change's events went in: the subscription was still there"
    with node.sessions() as session:
        assert subscription_repo.purge_deleted(session) == 1
        session.commit()
    with node.sessions() as session:
        orphans = session.execute(
            text(
                "SELECT count(*) FROM (SELECT subscription_id FROM alert_events "
                "UNION ALL SELECT subscription_id FROM alert_event_groups) e WHERE NOT EXISTS "
                "(SELECT 1 FROM subscriptions s WHERE s.id = e.subscription_id)"
            )
        ).scalar_one()
        assert orphans == 0
        left = session.execute(
            text("SELECT count(*) FROM subscriptions WHERE public_id = :p"), {"p": subscription}
        ).scalar_one()
        assert left == 0


def test_a_worker_sends_nothing_more_of_a_subscription_deleted_while_it_sends(
    node: Node, workers: list[subprocess.Popen[bytes]]
) -> None:
    """A round holding a subscription's events sends them a wave at a time (up to
    ``PARALLEL_SENDS`` messages side by side); deleted meanwhile, its next waves are not sent:
    the deletion's NOTIFY reaches the worker at its commit. Before, the whole round went out
    (a helper saw eleven messages start after the 204, with a receiver taking a second each)."""
    from app.services import delivery

    slow = Receiver(delay_s=1.0).start()
    try:
        caller = node.caller()
        subscription, _ = node.subscribe(caller, {"kind": "mine"}, ["site.created"], slow.url)
        events = 3 * delivery.PARALLEL_SENDS  # three waves, one round
        with node.sessions() as session:
            drafts = [
                SiteDraft(
                    kind="mine", name=f"W{i}", lon=13.0 + (i % 8) * 0.05, lat=4.0 + (i // 8) * 0.05
                )
                for i in range(events)
            ]
            create_sites(session, node.boundaries(session), drafts, caller)
            session.commit()
        # each message answered within its try, the round's waves all within its lease
        workers.append(
            node.worker(BORDERLENS_WEBHOOK_TIMEOUT_S="5", BORDERLENS_WEBHOOK_LEASE_S="60")
        )
        slow.wait_for(1, timeout_s=60)  # the first wave is in; the second is being sent
        with node.sessions() as session:
            subscriptions.delete(session, caller, subscription)
            session.commit()
        time.sleep(4 * slow.delay_s)  # a third wave would be in by now
        received = len(slow.snapshot())
        assert delivery.PARALLEL_SENDS <= received <= 2 * delivery.PARALLEL_SENDS, received
    finally:
        slow.stop()
